"""Tests for nn.io: JSON save/load round trips, atomic writes, and clear errors for bad files."""

from __future__ import annotations

import json
import math
import os

import pytest

import nn.io
from nn import MLP, load, make_moons, save


def _predictions(model, X):
    return [model(x).data if model.nouts[-1] == 1 else [v.data for v in model(x)] for x in X]


def test_save_load_round_trip_is_bit_identical(tmp_path):
    model = MLP(2, [8, 8, 3], "tanh", out_activation="sigmoid", seed=5)
    for i, p in enumerate(model.parameters()):  # awkward floats: every bit must survive
        p.data = p.data * (1 + 1e-15 * i) + 1e-300 * (i % 3)
    X, _ = make_moons(30, seed=2)
    path = save(model, tmp_path / "model.json")
    assert path == tmp_path / "model.json"
    loaded = load(path)
    assert loaded.architecture() == model.architecture()
    assert loaded.state_dict() == model.state_dict()
    assert all(math.copysign(1, a) == math.copysign(1, b) for a, b in zip(
        loaded.state_dict().values(), model.state_dict().values()))
    assert _predictions(loaded, X) == _predictions(model, X)


def test_save_load_accepts_str_paths_and_writes_documented_format(tmp_path):
    model = MLP(3, [2, 1], seed=0)
    save(model, str(tmp_path / "m.json"))
    document = json.loads((tmp_path / "m.json").read_text())
    assert document["format"] == "valuegrad-mlp" and document["version"] == 1
    assert document["architecture"] == {"nin": 3, "nouts": [2, 1], "activation": "relu", "out_activation": "linear"}
    assert document["weights"] == model.state_dict()
    assert load(str(tmp_path / "m.json")).state_dict() == model.state_dict()


def test_nan_and_inf_weights_round_trip(tmp_path):
    model = MLP(1, [3], seed=0)
    model.layers[0].neurons[0].w[0].data = math.nan
    model.layers[0].neurons[1].w[0].data = math.inf
    model.layers[0].neurons[2].w[0].data = -math.inf
    path = save(model, tmp_path / "special.json")
    text = path.read_text()
    json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
    loaded = load(path)
    ws = [n.w[0].data for n in loaded.layers[0].neurons]
    assert math.isnan(ws[0]) and ws[1] == math.inf and ws[2] == -math.inf


def test_save_rejects_non_mlp(tmp_path):
    with pytest.raises(TypeError, match="model must be an nn.MLP, got list"):
        save([], tmp_path / "x.json")


def _write(path, document):
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return path


def _good_document():
    model = MLP(2, [2, 1], seed=1)
    return {"format": "valuegrad-mlp", "version": 1, "architecture": model.architecture(),
            "weights": model.state_dict()}


BAD_FILES = {
    "truncated": (lambda d: json.dumps(d)[:40], "not valid JSON \\(truncated or corrupt\\?\\)"),
    "garbage": (lambda d: "\x00\x01 not json", "not valid JSON"),
    "not an object": (lambda d: [1, 2], "expected a JSON object, got list"),
    "wrong format": (lambda d: {**d, "format": "keras"}, "not a valuegrad-mlp file \\(format is 'keras'\\)"),
    "wrong version": (lambda d: {**d, "version": 2}, "unsupported version 2"),
    "bad nouts": (lambda d: {**d, "architecture": {**d["architecture"], "nouts": [2, 0]}},
                  "architecture 'nouts' must be a non-empty list of positive ints, got \\[2, 0\\]"),
    "bad activation": (lambda d: {**d, "architecture": {**d["architecture"], "activation": "gelu"}},
                       "architecture 'activation' must be one of .*got 'gelu'"),
    "shape mismatch": (lambda d: {**d, "architecture": {**d["architecture"], "nouts": [3, 1]}},
                       "weights do not match the architecture 2 -> \\[3, 1\\]: 4 missing .*'layer0.neuron2.w0'"),
    "extra weight": (lambda d: {**d, "weights": {**d["weights"], "layer2.neuron0.b": 0.0}},
                     "weights do not match the architecture 2 -> \\[2, 1\\]: 1 unexpected .*'layer2.neuron0.b'"),
    "string weight": (lambda d: {**d, "weights": {**d["weights"], "layer0.neuron0.w0": "0.1"}},
                      "weight 'layer0.neuron0.w0' must be a number, got str"),
    "missing weights": (lambda d: {k: v for k, v in d.items() if k != "weights"}, "'weights' must be an object"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_load_bad_file_raises_value_error_naming_file_and_problem(tmp_path, case):
    corrupt, message = BAD_FILES[case]
    path = _write(tmp_path / "bad.json", corrupt(_good_document()))
    with pytest.raises(ValueError, match=f"load\\(\\): .*bad.json: {message}"):
        load(path)


def test_load_non_utf8_file(tmp_path):
    path = tmp_path / "binary.json"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ValueError, match="binary.json: not a UTF-8 text file"):
        load(path)


def test_failed_save_leaves_existing_file_intact_and_no_temp_files(tmp_path, monkeypatch):
    path = tmp_path / "model.json"
    original = MLP(2, [2, 1], seed=0)
    save(original, path)
    before = path.read_bytes()

    def broken_replace(src, dst):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(nn.io.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        save(MLP(2, [2, 1], seed=1), path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.json"]
    assert load(path).state_dict() == original.state_dict()


def test_failed_write_midway_leaves_existing_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "model.json"
    save(MLP(2, [2, 1], seed=0), path)
    before = path.read_bytes()
    real_fsync = os.fsync

    def failing_fsync(fd):
        real_fsync(fd)
        raise OSError("I/O error (simulated)")

    monkeypatch.setattr(nn.io.os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="I/O error"):
        save(MLP(2, [2, 1], seed=9), path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.json"]
