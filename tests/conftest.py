"""Shared pytest setup: hypothesis profiles `ci` (default) and `intense`, picked by VALUEGRAD_HYPOTHESIS_PROFILE."""

from __future__ import annotations

import builtins
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
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

ROOT = Path(__file__).resolve().parents[1]

# The fixtures that run something expensive once and share the result between tests (in one
# process), and the modules whose tests use them.  Under pytest-xdist (`make test` runs
# `pytest -n auto`) each worker is a process of its own: SharedRunScheduling sends each group
# of modules to one worker as one unit, so each shared run still happens once.  (pytest-xdist's
# own `--dist loadgroup` marks do not group on pytest 9.2: pytest-xdist issue 1386.)
SHARED_FIXTURES = ("shell_command", "quick_bench")
SHARED_RUN_MODULES = {
    "tests/test_docs.py": "shell_command",
    "tests/demos/test_cli_demos.py": "shell_command",
    "tests/demos/test_digits.py": "shell_command",
    "tests/demos/test_matrix_demo.py": "shell_command",
    "tests/valuegrad/test_bench.py": "quick_bench",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that uses a shared fixture from a module not in SHARED_RUN_MODULES would, under
    pytest-xdist, repeat the run on another worker: say so at collection, in every run."""
    for item in items:
        module = item.nodeid.split("::")[0]
        for fixture in SHARED_FIXTURES:
            if fixture in getattr(item, "fixturenames", ()) and module not in SHARED_RUN_MODULES:
                raise pytest.UsageError(
                    f"{item.nodeid} uses the shared fixture {fixture!r}: add {module!r} to SHARED_RUN_MODULES"
                    " in tests/conftest.py, so that under pytest-xdist it runs on the worker that has that run"
                )


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: absent without it
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """`-n N` (--dist load, the default): like xdist's load scheduling, one test at a time to
    whichever worker is free, except the modules of one SHARED_RUN_MODULES group, which go
    to one worker as one unit (the largest units first).  Other --dist modes are xdist's."""
    if config.getvalue("dist") not in ("load", "loadgroup"):
        return None
    from xdist.scheduler import LoadScopeScheduling

    class SharedRunScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return SHARED_RUN_MODULES.get(nodeid.split("::")[0], nodeid)

    return SharedRunScheduling(config, log)


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


@dataclass(frozen=True)
class CommandRun:
    """What one shell command, run as the docs write it, returned and printed, and where it ran."""

    command: str
    returncode: int
    stdout: str
    stderr: str
    directory: Path  # its working directory; the command's /tmp/ paths were pointed inside it


def _sandbox(directory: Path) -> dict[str, str]:
    """Make ``directory`` look like a checkout (demos/, benchmarks/); return an environment whose
    `python`, `python3` and `valuegrad` run this interpreter on this tree."""
    for folder in ("demos", "benchmarks"):
        (directory / folder).mkdir()
        for script in (ROOT / folder).glob("*.py"):
            shutil.copy(script, directory / folder / script.name)
    bin_dir = directory / ".bin"
    bin_dir.mkdir()
    for name, command in (("python", ""), ("python3", ""), ("valuegrad", " -m valuegrad")):
        wrapper = bin_dir / name
        wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}"{command} "$@"\n')
        wrapper.chmod(0o755)
    return dict(
        os.environ,
        PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        PYTHONPATH=f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}".rstrip(os.pathsep),
        MPLBACKEND="Agg",
        COLUMNS="200",
    )


@pytest.fixture(scope="session")
def shell_command(tmp_path_factory) -> Callable[[str], CommandRun]:
    """Call it with a command as the docs write it: it runs under bash in a fresh sandbox (see
    _sandbox; /tmp/ in the command becomes the sandbox) ONCE per test run.  tests/test_docs.py
    runs every command of the docs with it, and the demo tests that check the same command (a
    demo takes seconds) read the same run instead of running it again."""
    runs: dict[str, CommandRun] = {}

    def run(command: str) -> CommandRun:
        if command not in runs:
            directory = tmp_path_factory.mktemp("command")
            result = subprocess.run(
                ["bash", "-c", command.replace("/tmp/", f"{directory}/")],
                cwd=directory, env=_sandbox(directory), capture_output=True, text=True, timeout=600,
            )
            runs[command] = CommandRun(command, result.returncode, result.stdout, result.stderr, directory)
        return runs[command]

    return run
