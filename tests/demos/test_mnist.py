"""`valuegrad demo mnist --data DIR` on small MNIST-format files the test writes (the machines cannot download)."""

from __future__ import annotations

import gzip
import re
import struct

import pytest

np = pytest.importorskip("numpy", reason="the mnist demo trains batched with numpy (the 'fast' extra)")

from valuegrad.__main__ import main  # noqa: E402


def idx(array) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def fake_mnist(directory, *, train=300, test=100, compress=True):
    """Digits as a bright 7x7 square whose place on a 4x4 grid of 28x28 is the class (10 classes), plus noise."""
    rng = np.random.default_rng(0)
    for prefix, n in (("train", train), ("t10k", test)):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = rng.integers(0, 60, (n, 28, 28)).astype(np.uint8)
        for image, label in zip(images, labels):
            row, col = divmod(int(label), 4)
            image[row * 7 : row * 7 + 7, col * 7 : col * 7 + 7] = 255
        for kind, array in (("images-idx3", images), ("labels-idx1", labels)):
            name = f"{prefix}-{kind}-ubyte"
            payload = idx(array)
            if compress:
                (directory / f"{name}.gz").write_bytes(gzip.compress(payload))
            else:
                (directory / name).write_bytes(payload)


@pytest.mark.slow  # runs the CLI and trains a 100k-parameter model
@pytest.mark.parametrize("compress", [True, False], ids=["gz", "raw"])
def test_demo_mnist_trains_on_the_four_files_and_reports_held_out_accuracy(tmp_path, capsys, compress):
    fake_mnist(tmp_path, compress=compress)
    assert main(["demo", "mnist", "--data", str(tmp_path), "--epochs", "3", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    match = re.search(r"mnist: MLP\(784, \[128, 10\]\), 3 epochs on 300 images, backend='batched': "
                      r"training [\d.]+ s \(evaluation included\), held-out accuracy ([\d.]+)% \(100 images\)", printed)
    assert match, printed
    assert float(match.group(1)) >= 90.0  # the classes are easy: a square's place


def test_demo_mnist_names_what_the_directory_lacks(tmp_path, capsys):
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx(np.zeros((1, 28, 28)))))
    assert main(["demo", "mnist", "--data", str(tmp_path), "--no-progress"]) == 1
    error = capsys.readouterr().err
    assert "valuegrad demo mnist: error: --data" in error
    for name in ("train-labels-idx1-ubyte[.gz]", "t10k-images-idx3-ubyte[.gz]", "t10k-labels-idx1-ubyte[.gz]"):
        assert name in error
    assert "train-images" not in error.split("lacks")[1]
    assert main(["demo", "mnist", "--data", str(tmp_path / "nowhere"), "--no-progress"]) == 1
    assert "is not a directory" in capsys.readouterr().err


def test_demo_mnist_reports_a_broken_file(tmp_path, capsys):
    fake_mnist(tmp_path, train=20, test=10, compress=False)
    labels = tmp_path / "t10k-labels-idx1-ubyte"
    labels.write_bytes(labels.read_bytes()[:-3])  # truncated
    assert main(["demo", "mnist", "--data", str(tmp_path), "--no-progress"]) == 1
    error = capsys.readouterr().err
    assert re.search(r"valuegrad demo mnist: error: load_idx\(\): '.*t10k-labels-idx1-ubyte'", error), error
