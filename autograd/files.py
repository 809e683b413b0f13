"""Small shared utilities: atomic file writes and argument checks used across the packages."""

from __future__ import annotations

import os
import tempfile
from typing import Any


def write_atomic(path: str | os.PathLike[str], data: bytes | str) -> str:
    """Write ``data`` to ``path`` so that the file is either fully replaced or left as it was.

    A temporary file in the same directory is written, flushed and fsynced, given the mode
    ``open()`` would give a new file (``0o666`` less the umask; an existing file keeps its
    mode), then renamed over ``path``; the directory is fsynced so the rename survives a crash.
    The temporary file is removed if anything fails (it can only survive a SIGKILL).
    A symlink at ``path`` is followed: its target is replaced, the link stays.
    Returns the path written, as a string.
    """
    target = os.path.realpath(os.fspath(path))
    directory = os.path.dirname(target)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        fd, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise OSError(exc.errno, f"cannot write {os.fspath(path)}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, _new_file_mode(target))  # mkstemp makes 0600; give the usual mode
        os.replace(temporary, target)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise
    _fsync_directory(directory)
    return os.fspath(path)


def _new_file_mode(path: str) -> int:
    try:
        return os.stat(path).st_mode & 0o777  # overwriting: keep the file's mode
    except OSError:
        umask = os.umask(0)  # reading the umask means setting it; put it straight back
        os.umask(umask)
        return 0o666 & ~umask


def _fsync_directory(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # e.g. Windows, where directories cannot be opened
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on a directory; the rename itself is done
    finally:
        os.close(fd)


def positive_int(n: Any, name: str, where: str, *, minimum: int = 1) -> int:
    """``n`` as an int >= ``minimum`` (numpy integers welcome, bools refused).

    TypeError for a non-integer, ValueError below ``minimum``; both name ``where`` and ``name``.
    """
    if isinstance(n, bool) or not hasattr(n, "__index__"):
        raise TypeError(f"{where}: {name} must be an int, got {type(n).__name__}: {n!r:.60}")
    value = n.__index__()
    if value < minimum:
        raise ValueError(f"{where}: {name} must be >= {minimum}, got {value}")
    return int(value)
