"""Tests for nn.io: JSON save/load round trips, atomic writes, and clear errors for bad files."""

from __future__ import annotations

import json
import math
import os
import random
import re
import stat
import threading
import tracemalloc
from fractions import Fraction

import pytest

import nn
import nn.io
from autograd import Value
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
    assert [math.copysign(1, p.data) for p in loaded.parameters()] == [
        math.copysign(1, p.data) for p in model.parameters()]
    assert [p.data.hex() for p in loaded.parameters()] == [p.data.hex() for p in model.parameters()]
    assert _predictions(loaded, X) == _predictions(model, X)


def test_save_load_accepts_str_paths_and_writes_documented_format(tmp_path):
    model = MLP(3, [2, 1], seed=0)
    save(model, str(tmp_path / "m.json"))
    document = json.loads((tmp_path / "m.json").read_text())
    assert document["format"] == "valuegrad-mlp" and document["version"] == 2
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


def test_save_rejects_what_has_no_parameters_saying_what_is_supported(tmp_path):
    with pytest.raises(TypeError, match=r"save\(\): model must be an nn.Module \(MLP, Layer, Neuron or your own "
                                        r"subclass\) or an object with a parameters\(\) method, got list"):
        save([], tmp_path / "x.json")
    assert list(tmp_path.iterdir()) == []


# -- any Module: Layer and Neuron rebuilt, your own loaded into (issue 24.5) -------------------------

def _outputs(model, rows):
    outs = [model(row) for row in rows]
    return [[o.data] if hasattr(o, "data") else [v.data for v in o] for o in outs]


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "linear"])
@pytest.mark.parametrize("kind", ["Layer", "Neuron"])
def test_save_load_layer_and_neuron_round_trip_exactly(tmp_path, kind, activation):
    """Issue 24.5: save() refused a Layer or Neuron ("model must be an nn.MLP")."""
    rng = random.Random(3)
    model = nn.Layer(3, 4, activation, rng=rng) if kind == "Layer" else nn.Neuron(3, activation, rng=rng)
    for p in model.parameters():
        p.data = rng.uniform(-2.0, 2.0)  # biases too
    model.parameters()[0].data = math.inf  # specials survive
    path = save(model, tmp_path / "m.json")
    document = json.loads(path.read_text())
    assert document["format"] == "valuegrad-module" and document["class"] == f"nn.{kind}"
    back = load(path)
    assert type(back) is type(model) and repr(back) == repr(model)
    assert [(n, p.data.hex(), p.label) for n, p in back.named_parameters()] == [
        (n, p.data.hex(), p.label) for n, p in model.named_parameters()]
    rows = [[0.5, -1.0, 0.25], [1.5, 0.0, -0.75]]
    assert _outputs(back, rows) == _outputs(model, rows)


class TwoNeurons(nn.Module):
    """A user's own Module: its layout is its code, which a file cannot rebuild."""

    def __init__(self, seed):
        rng = random.Random(seed)
        self.first, self.second = nn.Neuron(2, "tanh", rng=rng), nn.Neuron(1, "linear", rng=rng)
        self.scale = Value(rng.uniform(0.5, 1.5))

    def named_parameters(self):
        return ([("first." + n, p) for n, p in self.first.named_parameters()]
                + [("second." + n, p) for n, p in self.second.named_parameters()] + [("scale", self.scale)])

    def __call__(self, x):
        return self.second([self.first(x)]) * self.scale


class MicrogradStyle:
    """Not even an nn.Module: only parameters(), as micrograd programs write them."""

    def __init__(self, seed):
        rng = random.Random(seed)
        self.w, self.b = [Value(rng.uniform(-1, 1)) for _ in range(3)], Value(rng.uniform(-1, 1))

    def parameters(self):
        return [*self.w, self.b]


@pytest.mark.parametrize("cls", [TwoNeurons, MicrogradStyle])
def test_save_your_own_module_and_load_it_into_a_fresh_instance(tmp_path, cls):
    model = cls(seed=1)
    path = save(model, tmp_path / "own.json")
    document = json.loads(path.read_text())
    assert document["class"] == f"{__name__}.{cls.__qualname__}" and document["architecture"] is None
    with pytest.raises(ValueError, match=rf"load\(\): .*own.json: holds the parameters of a {__name__}\."
                                         rf"{cls.__qualname__}, which load\(\) cannot rebuild .* "
                                         r"load\(path, into=model\)"):
        load(path)
    fresh = cls(seed=2)
    assert [p.data for p in fresh.parameters()] != [p.data for p in model.parameters()]
    assert load(path, into=fresh) is fresh
    assert [p.data.hex() for p in fresh.parameters()] == [p.data.hex() for p in model.parameters()]
    if cls is TwoNeurons:
        assert fresh([0.3, -0.6]).data == model([0.3, -0.6]).data


def test_save_refuses_parameters_that_are_not_valuegrad_values(tmp_path):
    class Foreign:
        def parameters(self):
            return [Value(1.0), Fraction(1, 3)]  # e.g. another engine's Value

    with pytest.raises(TypeError, match=r"save\(\): Foreign's parameters must be \(str name, autograd.Value\) "
                                        r"pairs, got str '1' -> fractions.Fraction"):
        save(Foreign(), tmp_path / "f.json")
    assert list(tmp_path.iterdir()) == []


def test_load_into_an_mlp_checks_the_architecture_and_names(tmp_path):
    model = MLP(2, [3, 1], "tanh", seed=4)
    path = save(model, tmp_path / "mlp.json")
    target = MLP(2, [3, 1], "tanh", seed=5)
    assert load(path, into=target) is target and target.state_dict() == model.state_dict()
    relu = MLP(2, [3, 1], "relu", seed=5)
    before = relu.state_dict()
    with pytest.raises(ValueError, match=r"holds a nn.MLP .*'activation': 'tanh'.* which does not fit the nn.MLP "
                                         r".*'activation': 'relu'"):
        load(path, into=relu)
    assert relu.state_dict() == before  # nothing assigned
    layer_path = save(nn.Layer(2, 3, rng=random.Random(0)), tmp_path / "layer.json")
    with pytest.raises(ValueError, match=r"holds a nn.Layer .* which does not fit the nn.Neuron"):
        load(layer_path, into=nn.Neuron(2))
    own = TwoNeurons(seed=0)
    with pytest.raises(ValueError, match=r"its parameters do not match those of the TwoNeurons to load into: "
                                         r"6 missing \(e.g. \['first.w0'.*13 unexpected \(e.g. \['layer0.neuron0.w0'"):
        load(path, into=own)


MODULE_BAD_FILES = {
    "wrong version": (lambda d: {**d, "version": 2}, "unsupported version 2 of valuegrad-module"),
    "class not a string": (lambda d: {**d, "class": 7}, "'class' must be a string, got int"),
    "parameters not an object": (lambda d: {**d, "parameters": [1.0]}, "'parameters' must be an object"),
    "string parameter": (lambda d: {**d, "parameters": {**d["parameters"], "b": "x"}},
                         "weight 'b' must be a number, got str"),
    "huge architecture": (lambda d: {**d, "architecture": {"nin": 10**6, "activation": "relu"}},
                          r"the architecture .* has 1000001 parameters, the file holds 3"),
    "bad activation": (lambda d: {**d, "architecture": {"nin": 2, "activation": "gelu"}},
                       "architecture 'activation' must be one of"),
    "missing key": (lambda d: {**d, "architecture": {"nin": 2}},
                    r"'architecture' of an nn.Neuron must be an object with exactly the keys \['activation', 'nin'\]"),
    "renamed parameter": (lambda d: {**d, "parameters": {"w0": 1.0, "w1": 2.0, "bias": 0.0}},
                          r"its parameters do not match those of the Neuron to load into: "
                          r"1 missing \(e.g. \['b'\]\), 1 unexpected \(e.g. \['bias'\]\)"),
}


@pytest.mark.parametrize("case", sorted(MODULE_BAD_FILES))
def test_load_bad_module_file_names_file_and_problem(tmp_path, case):
    good = json.loads(save(nn.Neuron(2, rng=random.Random(0)), tmp_path / "good.json").read_text())
    corrupt, message = MODULE_BAD_FILES[case]
    assert_load_names_file_and_problem(_write(tmp_path / "bad.json", corrupt(good)), message)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="os.mkfifo is POSIX only")
def test_save_into_a_fifo_writes_through_it(tmp_path):
    """Issue 22.1 through nn.save: the FIFO stays a FIFO and its reader gets the whole file."""
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    model = MLP(2, [1], seed=0)
    save(model, fifo)
    reader.join(10)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    copy = _write(tmp_path / "copy.json", received[0].decode())
    assert load(copy).state_dict() == model.state_dict()


def _write(path, document):
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return path


def assert_load_names_file_and_problem(path, message):
    """load(path) raises ValueError "load(): ...<file name>: <message>" (message a regex)."""
    with pytest.raises(ValueError, match=f"load\\(\\): .*{path.name}: {message}"):
        load(path)


def _good_document():
    model = MLP(2, [2, 1], seed=1)
    return {"format": "valuegrad-mlp", "version": 2, "architecture": model.architecture(),
            "weights": model.state_dict()}


BAD_FILES = {
    "truncated": (lambda d: json.dumps(d)[:40], "not valid JSON \\(truncated or corrupt\\?\\)"),
    "garbage": (lambda d: "\x00\x01 not json", "not valid JSON"),
    "not an object": (lambda d: [1, 2], "expected a JSON object, got list"),
    "wrong format": (lambda d: {**d, "format": "keras"}, "not a valuegrad-mlp file \\(format is 'keras'\\)"),
    "wrong version": (lambda d: {**d, "version": 3}, "unsupported version 3"),
    "bad nouts": (lambda d: {**d, "architecture": {**d["architecture"], "nouts": [2, 0]}},
                  "architecture 'nouts' must be a non-empty list of positive ints, got \\[2, 0\\]"),
    "bad activation": (lambda d: {**d, "architecture": {**d["architecture"], "activation": "gelu"}},
                       "architecture 'activation' must be one of .*got 'gelu'"),
    "shape mismatch": (lambda d: {**d, "architecture": {**d["architecture"], "nouts": [3, 1]}},
                       "weight 'layers.0.weight' must have shape \\(3, 2\\), got 2 rows"),
    "extra weight": (lambda d: {**d, "weights": {**d["weights"], "layers.2.bias": [0.0]}},
                     "weights do not match the architecture 2 -> \\[2, 1\\]: it has 2 layers .* holds 5 entries"),
    "renamed weight": (lambda d: {**d, "weights": {("layers.9.bias" if k == "layers.1.bias" else k): v
                                                   for k, v in d["weights"].items()}},
                       "weights do not match the architecture: missing 'layers.1.bias'"),
    "short row": (lambda d: {**d, "weights": {**d["weights"], "layers.0.weight": [[0.5], [0.5, 0.5]]}},
                  "weight 'layers.0.weight\\[0\\]' must be a list of 2 numbers, got 1 entries"),
    "string weight": (lambda d: {**d, "weights": {**d["weights"], "layers.0.weight": [["0.1", 0.0], [0.0, 0.0]]}},
                      "weight 'layers.0.weight\\[0\\]\\[0\\]' must be a number, got str"),
    "missing weights": (lambda d: {k: v for k, v in d.items() if k != "weights"}, "'weights' must be an object"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_load_bad_file_raises_value_error_naming_file_and_problem(tmp_path, case):
    corrupt, message = BAD_FILES[case]
    assert_load_names_file_and_problem(_write(tmp_path / "bad.json", corrupt(_good_document())), message)


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


# -- files written by earlier versions -------------------------------------------------------------

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")


def test_load_reads_a_version_1_file_written_by_the_old_save():
    """mlp_format_v1.json was written by save() at commit 6d0315a (one JSON entry per parameter)."""
    path = os.path.join(FIXTURES, "mlp_format_v1.json")
    with open(path) as f:
        document = json.load(f)
    assert document["version"] == 1
    model = load(path)
    assert model.architecture() == document["architecture"]
    stored = {name: (float(v) if not isinstance(v, str) else float(v.replace("inf", "Infinity")))
              for name, v in document["weights"].items()}
    assert {name: p.data for name, p in model.named_parameters()} == stored
    # The output by hand from the stored numbers: tanh hidden layer, sigmoid output.
    x = [0.5, -0.25]
    hidden = [math.tanh(stored[f"layer0.neuron{j}.w0"] * x[0] + stored[f"layer0.neuron{j}.w1"] * x[1]
                        + stored[f"layer0.neuron{j}.b"]) for j in range(3)]
    logits = [sum(stored[f"layer1.neuron{j}.w{k}"] * hidden[k] for k in range(3)) + stored[f"layer1.neuron{j}.b"]
              for j in range(2)]
    out = [v.data for v in model(x)]
    assert out[0] == pytest.approx(1 / (1 + math.exp(-logits[0])), rel=1e-15)
    assert out[1] == 0.0  # bias -inf: sigmoid(-inf)


def _v1_document():
    model = MLP(2, [2, 1], seed=1)
    return {"format": "valuegrad-mlp", "version": 1, "architecture": model.architecture(),
            "weights": {name: p.data for name, p in model.named_parameters()}}


BAD_V1_FILES = {
    "shape mismatch": (lambda d: {**d, "architecture": {**d["architecture"], "nouts": [3, 1]}},
                       "weights do not match the architecture 2 -> \\[3, 1\\]: it has 13 parameters, "
                       "the file holds 9 weights"),
    "renamed weight": (lambda d: {**d, "weights": {("layer9.neuron0.b" if k == "layer1.neuron0.b" else k): v
                                                   for k, v in d["weights"].items()}},
                       ".*1 missing \\(e.g. \\['layer1.neuron0.b'\\]\\), "
                       "1 unexpected \\(e.g. \\['layer9.neuron0.b'\\]\\)"),
    "string weight": (lambda d: {**d, "weights": {**d["weights"], "layer0.neuron0.w0": "0.1"}},
                      "weight 'layer0.neuron0.w0' must be a number, got str"),
}


@pytest.mark.parametrize("case", sorted(BAD_V1_FILES))
def test_load_bad_version_1_file(tmp_path, case):
    corrupt, message = BAD_V1_FILES[case]
    assert_load_names_file_and_problem(_write(tmp_path / "old.json", corrupt(_v1_document())), message)


def test_version_1_and_2_files_of_one_model_load_identically(tmp_path):
    v1 = _write(tmp_path / "v1.json", _v1_document())
    v2 = save(MLP(2, [2, 1], seed=1), tmp_path / "v2.json")
    assert load(v1).state_dict() == load(v2).state_dict() == MLP(2, [2, 1], seed=1).state_dict()


# -- hostile files (issue 13): each a ValueError naming the file, cheaply ---------------------------

def _arch(nin, nouts):
    return {"nin": nin, "nouts": nouts, "activation": "relu", "out_activation": "linear"}


HOSTILE = {
    # 154 bytes that used to build a 9-million-parameter MLP before looking at the weights.
    "v1 memory bomb": (json.dumps({"format": "valuegrad-mlp", "version": 1, "architecture": _arch(3000, [3000]),
                                   "weights": {}}), "it has 9003000 parameters, the file holds 0 weights"),
    "v2 memory bomb": (json.dumps({"format": "valuegrad-mlp", "version": 2, "architecture": _arch(3000, [3000]),
                                   "weights": {}}), "it has 1 layers .*the file holds 0 entries"),
    "200000 layers": (json.dumps({"format": "valuegrad-mlp", "version": 1, "architecture": _arch(1, [1] * 200000),
                                  "weights": {}}), "it has 400000 parameters, the file holds 0 weights"),
    "401-digit weight": (json.dumps({**_good_document()}).replace("0.0", "1" + "0" * 400, 1),
                         "an integer with 401 digits is out of range"),
    "huge nin": (json.dumps({"format": "valuegrad-mlp", "version": 2, "architecture": _arch(10**400, [1]),
                             "weights": {}}), "an integer with 401 digits is out of range"),
    "5000-digit integer": ('{"format": "valuegrad-mlp", "version": ' + "9" * 5000 + "}",
                           "an integer with 5000 digits is out of range"),
    "deep nesting": ("[" * 100_000 + "]" * 100_000, "JSON nested too deeply"),
    "deep nesting in weights": ('{"format": "valuegrad-mlp", "version": 2, "weights": ' + "[" * 100_000,
                                "JSON nested too deeply"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_load_hostile_file_is_a_value_error_naming_the_file_using_little_memory(tmp_path, case):
    text, message = HOSTILE[case]
    path = tmp_path / "hostile.json"
    path.write_text(text)
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=f"load\\(\\): .*hostile.json: .*{message}"):
            load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50 * 2**20, f"load() allocated {peak / 2**20:.0f} MB before refusing {case}"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="os.mkfifo is POSIX only")
def test_load_refuses_a_fifo_without_blocking(tmp_path):
    path = tmp_path / "model.json"
    os.mkfifo(path)
    outcome = []

    def attempt():
        try:
            load(path)
        except ValueError as e:
            outcome.append(e)

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(60)  # generous: a correct load returns at once; a blocking one never does
    if worker.is_alive():
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))  # release the reader
        pytest.fail("load() blocked on a FIFO")
    assert len(outcome) == 1
    assert re.search("model.json: is a FIFO; a model file must be a regular file", str(outcome[0]))


def test_load_refuses_a_directory(tmp_path):
    with pytest.raises(ValueError, match=f"{re.escape(str(tmp_path))}: is a directory"):
        load(tmp_path)


def test_load_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "absent.json")


# -- save ---------------------------------------------------------------------------------------------

def test_save_stores_numpy_and_fraction_weights_as_floats(tmp_path):
    numpy = pytest.importorskip("numpy", reason="numpy scalars need numpy")
    model = MLP(2, [2, 1], seed=3)
    model.layers[0].neurons[0].w[1].data = numpy.float32(0.1)
    model.layers[0].neurons[1].b.data = numpy.float32("inf")
    model.layers[1].neurons[0].b.data = Fraction(1, 3)
    loaded = load(save(model, tmp_path / "np.json"))
    assert loaded.layers[0].neurons[0].w[1].data == float(numpy.float32(0.1))
    assert loaded.layers[0].neurons[1].b.data == math.inf
    assert loaded.layers[1].neurons[0].b.data == 1 / 3
    assert all(type(p.data) is float for p in loaded.parameters())


def test_save_refuses_a_non_number_weight_naming_it(tmp_path):
    model = MLP(2, [2, 1], seed=3)
    model.layers[1].neurons[0].w[1].data = "0.5"
    with pytest.raises(TypeError, match=r"save\(\): parameter layers.1.weight\[0\]\[1\] must be a real number"):
        save(model, tmp_path / "bad.json")
    assert os.listdir(tmp_path) == []


@pytest.mark.skipif(os.name != "posix", reason="file modes and umask are POSIX")
def test_saved_model_gets_mode_0644_under_umask_022(tmp_path):
    old = os.umask(0o022)
    try:
        path = save(MLP(2, [1], seed=0), tmp_path / "m.json")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
