"""Shared pytest setup: hypothesis profiles `ci` (default) and `intense`, picked by VALUEGRAD_HYPOTHESIS_PROFILE."""

from __future__ import annotations

import builtins
import os
from typing import Callable

import pytest
from hypothesis import HealthCheck, settings

# `ci`: quick and reproducible (derandomized, so a red run is red again on rerun); failing
# examples are printed with a reproduction blob.  `intense`: many more random examples.
settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "intense",
    max_examples=2000,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("VALUEGRAD_HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def torch():
    """PyTorch, imported when a test first asks for it (importing it at collection takes seconds); skips if absent."""
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch==2.13.0)")
    # The tests' tensors are tiny: torch's thread pool only spins against the other work on the
    # machine (the docs' 300-step moons loop: 13 s with the default threads on a busy 2-core
    # machine, 3.7 s with one).  Later in-process users (the docs pages, bench) inherit this.
    torch.set_num_threads(1)
    return torch


@pytest.fixture
def hide_numpy(monkeypatch) -> Callable[[], None]:
    """Call it to make every later `import numpy` fail as on a machine without numpy (undone after the test)."""
    real_import = builtins.__import__

    def no_numpy(name, *args, **kwargs):
        if name == "numpy" or name.startswith("numpy."):
            raise ImportError("No module named 'numpy'")
        return real_import(name, *args, **kwargs)

    return lambda: monkeypatch.setattr(builtins, "__import__", no_numpy)
