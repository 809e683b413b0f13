"""Small shared utilities: atomic file writes and argument checks used across the packages."""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from typing import Any

from .ops import to_float


def write_atomic(path: str | os.PathLike[str], data: bytes | str) -> str:
    """Write ``data`` to ``path`` so that the file is either fully replaced or left as it was.

    The bytes go to a temporary file in the same directory (on Linux one with no name until it
    is complete, so even a SIGKILL leaves nothing behind), flushed and fsynced, with the mode
    ``open()`` would give a new file (``0o666`` less the umask; an existing file keeps its
    mode), then renamed over ``path``; the directory is fsynced so the rename survives a crash.
    A symlink at ``path`` is followed: its target is replaced, the link stays.
    Only a regular file is ever renamed over: an existing character device or FIFO (``/dev/null``,
    ``/dev/stdout``, a named pipe), directly or through a symlink, is written into as ``open()``
    would; a directory, socket or block device is refused with an OSError naming ``path``.
    Returns the path written, as a string.
    """
    name = os.fspath(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    if _is_special(name):
        _write_into(name, payload)
        return name
    target = os.path.realpath(name)
    directory = os.path.dirname(target)
    mode = _new_file_mode(target)
    if not _write_unnamed(directory, target, payload, mode):
        _write_named(directory, target, payload, mode)
    _fsync_directory(directory)
    return name


def _is_special(name: str) -> bool:
    """True when ``name`` (symlinks followed) is a character device or FIFO; OSError for other non-files."""
    try:
        mode = os.stat(name).st_mode
    except FileNotFoundError:
        return False  # a new file (or a dangling symlink, whose target is created)
    if stat.S_ISREG(mode):
        return False
    if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
        return True
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, f"cannot write {name}: it is a directory; give the path of a file")
    kind = "a socket" if stat.S_ISSOCK(mode) else "a block device" if stat.S_ISBLK(mode) else "not a regular file"
    raise OSError(errno.EINVAL, f"cannot write {name}: it is {kind}; give the path of a regular file")


def _write_into(name: str, payload: bytes) -> None:
    """Write into an existing character device or FIFO as ``open(name, "wb")`` would, never replacing it.

    No O_CREAT and no O_TRUNC; a FIFO's open waits for a reader, as a shell redirection does.
    The type is checked again on the open descriptor, so a file swapped in meanwhile is not truncated.
    """
    fd = os.open(name, os.O_WRONLY | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "wb") as handle:
        mode = os.fstat(fd).st_mode
        if not (stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)):
            raise OSError(errno.EINVAL, f"cannot write {name}: it changed while being opened; nothing written")
        handle.write(payload)


def _write_unnamed(directory: str, target: str, payload: bytes, mode: int) -> bool:
    """Linux: write into a file with no name (O_TMPFILE), give it a name only once it is complete.

    A process killed while writing (even by SIGKILL, which no cleanup code survives) then
    leaves nothing behind; only the instant between link and rename has a visible temp name.
    False where O_TMPFILE or /proc linking is not available: the caller falls back.
    """
    flag = getattr(os, "O_TMPFILE", None)
    if flag is None or not os.path.isdir("/proc/self/fd"):
        return False
    try:
        fd = os.open(directory, flag | os.O_WRONLY, mode)
    except OSError:  # a file system without O_TMPFILE support
        return False
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
            os.chmod(f"/proc/self/fd/{handle.fileno()}", mode)
            temporary = _temporary_name(directory, target)
            _link_open_file(handle.fileno(), temporary)
    except OSError:  # e.g. linking not permitted here: the caller writes a named temporary instead
        return False
    try:
        os.replace(temporary, target)
    except BaseException:
        _remove(temporary)
        raise
    return True


def _link_open_file(fileno: int, name: str) -> None:
    # linkat(AT_SYMLINK_FOLLOW) on /proc/self/fd/N names the open file itself; os.link uses
    # linkat only when given a directory fd, so hand it /proc/self/fd as one.
    proc = os.open("/proc/self/fd", os.O_RDONLY)
    try:
        os.link(str(fileno), name, src_dir_fd=proc, follow_symlinks=True)
    finally:
        os.close(proc)


def _write_named(directory: str, target: str, payload: bytes, mode: int) -> None:
    try:
        fd, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise OSError(exc.errno, f"cannot write {target}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)  # mkstemp makes 0600; give the usual mode
        os.replace(temporary, target)
    except BaseException:
        _remove(temporary)
        raise


def _temporary_name(directory: str, target: str) -> str:
    return os.path.join(directory, f".{os.path.basename(target)}.{os.getpid()}.{os.urandom(4).hex()}.tmp")


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


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


def real_number(x: Any, what: str, expected: str = "a real number") -> float:
    """``x`` as a float; otherwise TypeError "``what`` must be ``expected``, got TYPE: VALUE"."""
    try:
        return to_float(x, "")
    except TypeError:
        raise TypeError(f"{what} must be {expected}, got {type(x).__name__}: {x!r:.60}") from None
