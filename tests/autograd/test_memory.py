"""Graphs hold no reference cycles: dropping the root frees every node by refcounting alone."""

from __future__ import annotations

import gc
import weakref
from contextlib import contextmanager

from hypothesis import given

import autograd
from autograd import Value, no_grad
from tests.strategies import expressions_with_inputs


@contextmanager
def gc_disabled():
    """Only refcounting may free objects inside: a cycle would keep its nodes alive."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _every_node(root: Value) -> list[Value]:
    """Root and everything it reaches (leaves included), found without recursion."""
    seen, stack, nodes = set(), [root], []
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            nodes.append(node)
            stack.extend(node.parents)
    return nodes


def _graph(x: Value, y: Value) -> Value:
    a = x * y
    b = a.tanh() + 2.0
    c = autograd.sum([a, b, x])
    d = autograd.dot([a, b], [c, y], bias=1.0)
    return (d / (c * c + 1.0)).relu() + 3**b - (-a).exp().log() + abs(y) ** 0.5 + x**y


def _weakrefs_to_all_but(root: Value, keep: tuple[Value, ...]) -> list[weakref.ref]:
    return [weakref.ref(node) for node in _every_node(root) if all(node is not k for k in keep)]


def test_memory_dropping_the_root_frees_the_graph_by_refcounting():
    with gc_disabled():
        x, y = Value(0.5), Value(1.5)
        root = _graph(x, y)
        refs = _weakrefs_to_all_but(root, (x, y))
        assert len(refs) > 20
        del root
        assert [r for r in refs if r() is not None] == []
        assert x.data == 0.5 and y.data == 1.5  # the inputs themselves stay alive


def test_memory_graph_is_freed_after_backward_too():
    with gc_disabled():
        x, y = Value(0.5), Value(1.5)
        root = _graph(x, y)
        root.backward()
        root.backward()
        refs = _weakrefs_to_all_but(root, (x, y))
        del root
        assert [r for r in refs if r() is not None] == []
        assert x.grad != 0.0


def test_memory_dropping_the_inputs_too_frees_everything():
    with gc_disabled():
        root = _graph(Value(0.5), Value(1.5))
        root.backward()
        refs = [weakref.ref(node) for node in _every_node(root)]
        del root
        assert [r for r in refs if r() is not None] == []


def test_memory_interior_node_kept_alive_keeps_only_its_ancestors():
    with gc_disabled():
        x = Value(2.0)
        kept = x * 3.0
        root = (kept.tanh() + 1.0) * kept
        downstream = [weakref.ref(node) for node in _every_node(root) if node not in set(_every_node(kept))]
        del root
        assert [r for r in downstream if r() is not None] == []
        assert kept.parents[0] is x  # the kept node's own graph is intact
        kept.backward()
        assert x.grad == 3.0


def test_memory_no_grad_results_hold_no_parents():
    with gc_disabled():
        x = Value(2.0)
        with no_grad():
            y = (x * 3.0).tanh() + autograd.sum([x, x])
        assert y.parents == ()
        temporary = weakref.ref(y)
        del y
        assert temporary() is None


@given(expressions_with_inputs(max_nodes=25))
def test_memory_random_graphs_are_freed_by_refcounting(case):
    expr, xs = case
    with gc_disabled():
        leaves = [Value(x) for x in xs]
        root = expr(*leaves)
        root.backward()
        refs = _weakrefs_to_all_but(root, tuple(leaves))
        del root
        assert [r for r in refs if r() is not None] == []
