"""load_idx(): the IDX files MNIST, Fashion-MNIST and EMNIST ship as (raw or .gz), read into a numpy array."""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from typing import Any

# The type byte of the magic number -> big-endian numpy dtype (http://yann.lecun.com/exdb/mnist/).
IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
GZIP_MAGIC = b"\x1f\x8b"
GZIP_MAX_RATIO = 1032  # deflate expands at most ~1032:1, so a .gz of n bytes holds at most this many times n


def load_idx(path: str | os.PathLike[str]) -> Any:
    """The array stored in the IDX file at ``path`` (gzip-compressed or not), with the file's
    shape and element type (native byte order): ``(60000, 28, 28)`` uint8 for MNIST's
    training images, ``(60000,)`` uint8 for its labels.

    A file that is not IDX, is truncated, has bytes after its data, or whose header claims
    more data than the file can hold raises ``ValueError`` naming the file; the check on the
    header comes before the data is read.
    """
    np = _numpy()
    name = os.fspath(path)
    where = f"load_idx(): {name!r}"
    try:
        size = os.stat(name).st_size
        with open(name, "rb") as probe:
            compressed = probe.read(2) == GZIP_MAGIC
        with (gzip.open(name, "rb") if compressed else open(name, "rb")) as stream:
            shape, dtype = _header(stream, where)
            header = 4 + 4 * len(shape)
            nbytes = math.prod(shape) * dtype.itemsize
            room = size * GZIP_MAX_RATIO if compressed else size - header
            if nbytes > room:
                held = f"a gzip file of {size} bytes holds at most {room}" if compressed else f"only {room} follow it"
                raise ValueError(f"{where}: the header claims shape {shape}, {nbytes} bytes of {dtype.str[1:]} "
                                 f"data, but {held}")
            data = stream.read(nbytes)
            if len(data) < nbytes:
                raise ValueError(f"{where} is truncated: {len(data)} of the {nbytes} data bytes its header "
                                 f"(shape {shape}) promises")
            if stream.read(1):
                raise ValueError(f"{where} has bytes after the {nbytes} data bytes of shape {shape}: not one IDX array")
    except (OSError, EOFError, zlib.error) as error:  # includes gzip.BadGzipFile; FileNotFoundError stays itself
        if isinstance(error, FileNotFoundError):
            raise
        raise ValueError(f"{where} cannot be read as IDX: {error}") from None
    return np.frombuffer(data, dtype=dtype).astype(dtype.newbyteorder("="), copy=True).reshape(shape)


def _header(stream: Any, where: str) -> tuple[tuple[int, ...], Any]:
    """The shape and big-endian dtype from the magic number and the dimension sizes."""
    np = _numpy()
    magic = stream.read(4)
    if len(magic) < 4:
        raise ValueError(f"{where} is truncated: {len(magic)} bytes, an IDX header starts with 4")
    if magic[0] or magic[1]:
        raise ValueError(f"{where} is not an IDX file: it starts with bytes {magic[:2].hex()}, not 0000")
    code, ndim = magic[2], magic[3]
    if code not in IDX_TYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_TYPES)
        raise ValueError(f"{where} is not an IDX file: type byte 0x{code:02X} is none of {known}")
    if ndim == 0:
        raise ValueError(f"{where}: the header gives 0 dimensions; an IDX array has at least 1")
    sizes = stream.read(4 * ndim)
    if len(sizes) < 4 * ndim:
        raise ValueError(f"{where} is truncated: the header announces {ndim} dimensions but ends after "
                         f"{len(sizes) // 4}")
    return struct.unpack(f">{ndim}I", sizes), np.dtype(IDX_TYPES[code])


def _numpy() -> Any:
    try:
        import numpy
    except ImportError:
        raise ImportError("load_idx() needs numpy: pip install 'valuegrad[fast]' (or pip install numpy)") from None
    return numpy
