"""nn.load_idx: IDX files (raw and .gz) written by the tests, good and bad."""

from __future__ import annotations

import gzip
import struct

import pytest

np = pytest.importorskip("numpy", reason="load_idx returns numpy arrays (the 'fast' extra)")

from nn import load_idx  # noqa: E402

CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D, np.float64: 0x0E}


def idx_bytes(array) -> bytes:
    header = bytes([0, 0, CODES[array.dtype.type], array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write(tmp_path, name, payload: bytes, *, compress=False):
    path = tmp_path / name
    path.write_bytes(gzip.compress(payload) if compress else payload)
    return path


@pytest.mark.parametrize("dtype", list(CODES))
@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gz"])
def test_load_idx_reads_every_type_with_its_shape(tmp_path, dtype, compress):
    rng = np.random.default_rng(1)
    array = (rng.normal(size=(3, 4, 5)) * 50).astype(dtype)
    path = write(tmp_path, "images-idx3" + (".gz" if compress else ""), idx_bytes(array), compress=compress)
    got = load_idx(path)
    assert got.dtype == np.dtype(dtype) and got.dtype.isnative and got.shape == (3, 4, 5)
    assert np.array_equal(got, array)
    got[0, 0, 0] = 1  # a writable array of its own
    labels = np.arange(7, dtype=np.uint8)
    assert load_idx(str(write(tmp_path, "labels", idx_bytes(labels), compress=compress))).tolist() == list(range(7))


def test_load_idx_mnist_shaped_file(tmp_path):
    images = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    path = write(tmp_path, "train-images-idx3-ubyte.gz", idx_bytes(images), compress=True)
    assert load_idx(path).shape == (2, 28, 28)
    assert gzip.decompress(path.read_bytes())[:4] == b"\x00\x00\x08\x03"  # the magic MNIST's files start with


GOOD = idx_bytes(np.arange(12, dtype=np.uint8).reshape(3, 4))


@pytest.mark.parametrize(
    "payload, message",
    [
        (b"", r"is truncated: 0 bytes, an IDX header starts with 4"),
        (b"\x00\x00", r"is truncated: 2 bytes"),
        (b"PK\x03\x04" + GOOD[4:], r"is not an IDX file: it starts with bytes 504b, not 0000"),
        (b"\x00\x00\x07\x02" + GOOD[4:], r"type byte 0x07 is none of 0x08"),
        (b"\x00\x00\x08\x00", r"0 dimensions"),
        (GOOD[:6], r"announces 2 dimensions but ends after 0"),
        (GOOD[:-1], r"the header claims shape \(3, 4\), 12 bytes of u1 data, but only 11 follow it"),
        (GOOD + b"\x00", r"has bytes after the 12 data bytes of shape \(3, 4\)"),
        (b"\x00\x00\x0e\x03" + struct.pack(">3I", 2**32 - 1, 2**32 - 1, 2**32 - 1) + b"\x00" * 8,
         r"claims shape \(4294967295, 4294967295, 4294967295\)"),
    ],
    ids=["empty", "short-magic", "zip", "bad-type", "no-dims", "short-dims", "truncated-data", "trailing",
         "oversized-header"],
)
def test_load_idx_refuses_bad_raw_files_naming_them(tmp_path, payload, message):
    path = write(tmp_path, "bad.idx", payload)
    with pytest.raises(ValueError, match=r"load_idx\(\): '.*bad\.idx'.*" + message):
        load_idx(path)


def test_load_idx_refuses_bad_gzip_files_without_reading_them_all(tmp_path, monkeypatch):
    truncated = write(tmp_path, "cut.gz", gzip.compress(GOOD)[:-12])
    with pytest.raises(ValueError, match=r"load_idx\(\): '.*cut\.gz'"):
        load_idx(truncated)
    huge = struct.pack(">3I", 60000, 28, 28 * 1000)  # 47 GB promised by a file of a few dozen bytes
    bomb = write(tmp_path, "claims.gz", b"\x00\x00\x08\x03" + huge, compress=True)
    reads = []
    real_open = gzip.open

    def recording_open(*args, **kwargs):
        stream = real_open(*args, **kwargs)
        real_read = stream.read
        stream.read = lambda n=-1: reads.append(n) or real_read(n)
        return stream

    monkeypatch.setattr(gzip, "open", recording_open)
    with pytest.raises(ValueError, match=r"'.*claims\.gz': the header claims shape \(60000, 28, 28000\), "
                                         r"47040000000 bytes of u1 data, but a gzip file of \d+ bytes holds at most"):
        load_idx(bomb)
    assert reads == [4, 12]  # the header only
    with pytest.raises(FileNotFoundError):
        load_idx(tmp_path / "missing.gz")
