"""autograd.files.write_atomic (every writer's) and positive_int (every count's validator)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autograd.files import positive_int, write_atomic

REPO = Path(__file__).resolve().parents[2]


def test_write_atomic_replaces_whole_file_with_umask_mode(tmp_path):
    previous = os.umask(0o022)
    try:
        target = tmp_path / "model.json"
        write_atomic(target, "first")
        assert target.read_text() == "first" and (target.stat().st_mode & 0o777) == 0o644
        target.chmod(0o600)
        write_atomic(target, b"second")  # an existing file keeps its mode
        assert target.read_bytes() == b"second" and (target.stat().st_mode & 0o777) == 0o600
    finally:
        os.umask(previous)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.json"]


def test_write_atomic_through_a_symlink_replaces_the_target_keeps_the_link(tmp_path):
    real = tmp_path / "real.txt"
    real.write_text("old")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    write_atomic(link, "new")
    assert link.is_symlink() and real.read_text() == "new"


@pytest.mark.slow  # a subprocess writing a large file
@pytest.mark.skipif(not hasattr(os, "O_TMPFILE"), reason="O_TMPFILE (Linux) lets a killed write leave nothing")
def test_write_atomic_killed_mid_write_leaves_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "big.bin"
    target.write_bytes(b"old")
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; from autograd.files import write_atomic; "
         "sys.stdout.write('go\\n'); sys.stdout.flush(); write_atomic(sys.argv[1], b'x' * (1 << 30))", str(target)],
        cwd=REPO, stdout=subprocess.PIPE, text=True,
    )
    assert child.stdout is not None and child.stdout.readline() == "go\n"
    time.sleep(0.3)  # inside the 1 GiB write
    still_writing = child.poll() is None
    child.send_signal(signal.SIGKILL)
    child.wait(30)
    assert still_writing, "the write finished before the kill; the test needs a larger payload"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.bin"] and target.read_bytes() == b"old"


def test_positive_int_accepts_integers_and_names_bad_ones():
    assert positive_int(3, "epochs", "fit()") == 3
    numpy = pytest.importorskip("numpy", reason="numpy (the `fast` extra) is not installed")
    assert positive_int(numpy.int64(2), "epochs", "fit()") == 2
    with pytest.raises(TypeError, match=r"fit\(\): epochs must be an int, got bool: True"):
        positive_int(True, "epochs", "fit()")
    with pytest.raises(ValueError, match=r"fit\(\): epochs must be >= 1, got 0"):
        positive_int(0, "epochs", "fit()")
