"""autograd.files.write_atomic (every writer's) and positive_int (every count's validator)."""

from __future__ import annotations

import os
import re
import signal
import socket
import stat
import subprocess
import sys
import threading
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


def _read_fifo_in_thread(fifo: Path) -> tuple[threading.Thread, list[bytes]]:
    received: list[bytes] = []

    def read() -> None:
        with open(fifo, "rb") as handle:  # waits for the writer, then reads until it closes
            received.append(handle.read())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    return reader, received


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="os.mkfifo is POSIX only")
@pytest.mark.parametrize("through_symlink", [False, True], ids=["fifo", "symlink-to-fifo"])
def test_write_atomic_writes_into_a_fifo_never_replaces_it(tmp_path, through_symlink):
    """Issue 22.1: a FIFO (or a symlink to one) is written into, not renamed over with a regular file."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    path = fifo
    if through_symlink:
        path = tmp_path / "model.json"
        path.symlink_to(fifo)
    reader, received = _read_fifo_in_thread(fifo)
    assert write_atomic(path, "payload") == str(path)
    reader.join(10)
    assert received == [b"payload"]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode), "the FIFO was replaced by a regular file"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted({"pipe", path.name})


def _private_null_device(directory: Path) -> Path:
    """A character device like /dev/null (1, 3) made in ``directory``, so a failing test clobbers only it."""
    device = directory / "null"
    try:
        os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 3))
        with open(device, "wb") as handle:  # a `nodev` mount refuses to open it
            handle.write(b"")
    except (OSError, AttributeError) as exc:
        pytest.skip(f"cannot make a character device here (needs root and a dev-enabled tmp): {exc}")
    return device


def test_write_atomic_through_a_symlink_to_a_null_device_leaves_it_a_device(tmp_path):
    """Issue 22.1: ``nn.save`` / ``draw`` into /dev/null (here a private copy, through a link) kept it a device."""
    device = _private_null_device(tmp_path)
    link = tmp_path / "out.json"
    link.symlink_to(device)
    for path in (device, link):
        assert write_atomic(path, "x" * 1000) == str(path)
        assert stat.S_ISCHR(os.lstat(device).st_mode) and link.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["null", "out.json"]


def test_write_atomic_refuses_a_directory_naming_it(tmp_path):
    directory = tmp_path / "plots"
    directory.mkdir()
    link = tmp_path / "link"
    link.symlink_to(directory)
    for path in (directory, link):
        with pytest.raises(IsADirectoryError, match=rf"cannot write {re.escape(str(path))}: it is a directory"):
            write_atomic(path, "x")
    assert directory.is_dir() and list(directory.iterdir()) == [] and link.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "plots"]


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="Unix sockets are POSIX only")
def test_write_atomic_refuses_a_socket_naming_it(tmp_path):
    path = tmp_path / "s"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        with pytest.raises(OSError, match=rf"cannot write {re.escape(str(path))}: it is a socket"):
            write_atomic(path, "x")
        assert stat.S_ISSOCK(os.lstat(path).st_mode)


def test_write_atomic_through_a_dangling_symlink_creates_its_target(tmp_path):
    link = tmp_path / "link.txt"
    link.symlink_to(tmp_path / "new.txt")
    write_atomic(link, "made")
    assert link.is_symlink() and (tmp_path / "new.txt").read_text() == "made"


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
