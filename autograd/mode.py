"""Grad mode and anomaly hooks: the state every op consults, and the node makers that apply it.

Every op builds its node through ``make1`` / ``make2`` / ``maken`` (or :func:`make`) of this
module: the one entry point.  Which functions those are is decided here, and only here, from
the state below, so the operators pay nothing for modes that are off:

- while every thread records (no ``no_grad()`` anywhere), they are the plain recording makers;
- while some thread has recording off, each op reads its own thread's switch (grad mode is per
  thread, as in PyTorch: ``no_grad()`` in one thread never turns recording off in another);
- while ``detect_anomaly()`` is on (process-wide, as in PyTorch), they are wrapped by its
  checks, and backward runs its checking step.

:mod:`autograd.value` supplies the recording and constant makers at import (it owns the node
layout); :mod:`autograd.anomaly` supplies its wrapper and step while it is active.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from .value import Value

Maker = Callable[..., "Value"]
Makers = tuple[Maker, Maker, Maker]

_thread = threading.local()
_lock = threading.Lock()


class _State:
    """Process-wide state behind the makers (changed only under ``_lock``)."""

    threads_without_grad = 0
    recording: Makers | None = None  # record parents and local derivatives (value.py)
    constant: Makers | None = None  # a leaf holding the result (value.py)
    anomaly_wrapper: Callable[[Makers], Makers] | None = None  # detect_anomaly's forward checks
    anomaly_step: Callable[..., Any] | None = None  # detect_anomaly's backward step


def _unset(*args: Any) -> Value:
    raise RuntimeError("autograd.mode: no node makers installed (autograd.value installs them at import)")


make1: Maker = _unset
make2: Maker = _unset
maken: Maker = _unset


def make(rule: Any, parents: tuple[Any, ...]) -> Value:
    """Apply ``rule`` to parent Values under the current mode."""
    if rule.arity == 1:
        return make1(rule, parents[0])
    if rule.arity == 2:
        return make2(rule, parents[0], parents[1])
    return maken(rule, parents)


def grad_enabled() -> bool:
    """Whether ops in this thread record their parents (False inside no_grad())."""
    return getattr(_thread, "grad_enabled", True)


def set_grad_enabled(enabled: bool) -> bool:
    """Turn recording on or off for this thread; returns the previous setting."""
    enabled = bool(enabled)
    previous = getattr(_thread, "grad_enabled", True)
    if enabled is previous:
        return previous
    with _lock:
        _thread.grad_enabled = enabled
        _State.threads_without_grad += -1 if enabled else 1
        _refresh()
    return previous


def install_makers(recording: Makers, constant: Makers) -> None:
    """The node layout's makers: ``recording`` builds a node, ``constant`` a leaf (value.py)."""
    with _lock:
        _State.recording, _State.constant = recording, constant
        _refresh()


def anomaly_step() -> Callable[..., Any] | None:
    """detect_anomaly's backward step, or None while it is off."""
    return _State.anomaly_step


def set_anomaly(wrapper: Callable[[Makers], Makers] | None, step: Callable[..., Any] | None) -> tuple[Any, Any]:
    """Install (or, with None, remove) detect_anomaly's hooks; returns the previous pair."""
    with _lock:
        previous = (_State.anomaly_wrapper, _State.anomaly_step)
        _State.anomaly_wrapper, _State.anomaly_step = wrapper, step
        _refresh()
    return previous


def _modal(recording: Makers, constant: Makers) -> Makers:
    """Makers that read this thread's switch on each op (only while some thread has it off)."""
    record1, record2, recordn = recording
    constant1, constant2, constantn = constant

    def modal1(rule: Any, a: Any) -> Value:
        return (record1 if getattr(_thread, "grad_enabled", True) else constant1)(rule, a)

    def modal2(rule: Any, a: Any, b: Any) -> Value:
        return (record2 if getattr(_thread, "grad_enabled", True) else constant2)(rule, a, b)

    def modaln(rule: Any, parents: tuple[Any, ...]) -> Value:
        return (recordn if getattr(_thread, "grad_enabled", True) else constantn)(rule, parents)

    return modal1, modal2, modaln


def _refresh() -> None:
    """Install the cheapest makers that are right for every thread (call with ``_lock`` held)."""
    global make1, make2, maken
    if _State.recording is None or _State.constant is None:
        return
    makers = _State.recording
    if _State.threads_without_grad:
        makers = _modal(_State.recording, _State.constant)
    if _State.anomaly_wrapper is not None:
        makers = _State.anomaly_wrapper(makers)
    make1, make2, maken = makers
