"""save / load any Module's parameters as JSON (nn's MLP, Layer, Neuron rebuilt; yours loaded into); no pickle."""

from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path
from typing import Any, TypeVar, overload

from autograd import Value
from autograd.files import write_atomic
from autograd.ops import to_float

from .module import ACTIVATIONS, MLP, Layer, Neuron

FORMAT = "valuegrad-mlp"
# Every other model: its parameters by name, its class, and (for nn's Layer and Neuron) what rebuilds it.
MODULE_FORMAT = "valuegrad-module"
MODULE_VERSION = 1
# The classes `load` rebuilds from a module file, by the name stored in it; a file never names code to import.
_REBUILDABLE = {"nn.Layer": ("nin", "nout", "activation"), "nn.Neuron": ("nin", "activation")}
_Model = TypeVar("_Model")
VERSION = 2  # 2: weights in PyTorch's layout (layers.<i>.weight rows); 1: one entry per parameter
READABLE_VERSIONS = (1, 2)
# JSON has no nan/inf: such weights are stored as these strings.
_SPECIAL = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
# Any integer of up to 308 digits converts to a finite float; longer ones are refused while
# parsing, before Python's own digit limit (4300, a ValueError without the path) is reached.
_MAX_INT_DIGITS = 308


# Each layer's weight rows (nout x nin) and biases, as read from a file.
_Layers = tuple[list[list[list[float]]], list[list[float]]]


class _Refused(Exception):
    """Raised inside the JSON parser to stop it; turned into the ValueError naming the file."""


def _encode(x: object, name: str) -> float | str:
    value = x if x.__class__ is float else to_float(x, f"save(): parameter {name}")  # numpy float32, Fraction
    if math.isfinite(value):
        return value  # json writes repr(float), which round-trips exactly
    if math.isnan(value):
        return "nan"
    return "inf" if value > 0 else "-inf"


def _row_json(row: list[float], name: str) -> str:
    if all(x.__class__ is float for x in row):
        try:
            return json.dumps(row, allow_nan=False)  # the common case, in C
        except ValueError:
            pass  # nan or inf: spelled as strings below
    return json.dumps([_encode(x, f"{name}[{k}]") for k, x in enumerate(row)], allow_nan=False)


def save(model: Any, path: str | os.PathLike[str]) -> Path:
    """Write ``model``'s parameters to ``path`` as JSON and return the path.

    ``model`` is any :class:`nn.Module` (``MLP``, ``Layer``, ``Neuron`` or your own subclass) or
    any object with a ``parameters()`` method (micrograd style). An MLP is stored with its
    architecture (format ``valuegrad-mlp``); anything else as its parameters by name
    (``named_parameters()``, else ``"0"``, ``"1"``, ... in ``parameters()`` order) with its class
    name and, for ``Layer`` and ``Neuron``, what :func:`load` needs to rebuild it
    (format ``valuegrad-module``). Written with :func:`autograd.files.write_atomic`: an existing
    file is either fully replaced or left as it was. Weights that are numpy scalars or Fractions
    are stored as floats.
    """
    path = Path(path)
    if type(model) is not MLP:  # a subclass may compute something else: stored by its parameters
        write_atomic(path, _module_text(model))
        return path
    entries = []
    for i, layer in enumerate(model.layers):
        rows = [_row_json([w.data for w in n.w], f"layers.{i}.weight[{j}]") for j, n in enumerate(layer.neurons)]
        bias = _row_json([n.b.data for n in layer.neurons], f"layers.{i}.bias")
        entries.append(f'  "layers.{i}.weight": [\n   ' + ",\n   ".join(rows) + "]")
        entries.append(f'  "layers.{i}.bias": {bias}')
    # One weight row per line: readable, and json.dumps of each row runs in C (indent= would not).
    text = (
        f'{{"format": {json.dumps(FORMAT)}, "version": {VERSION},\n'
        f' "architecture": {json.dumps(model.architecture())},\n'
        ' "weights": {\n' + ",\n".join(entries) + "\n }\n}\n"
    )
    write_atomic(path, text)
    return path


def _named_parameters(model: Any, where: str) -> list[tuple[str, Value]]:
    """``model``'s (name, Value) pairs: ``named_parameters()``, else ``parameters()`` numbered; checked."""
    named, plain = getattr(model, "named_parameters", None), getattr(model, "parameters", None)
    if callable(named):
        pairs = list(named())
    elif callable(plain):
        pairs = [(str(i), p) for i, p in enumerate(plain())]
    else:
        raise TypeError(
            f"{where}: model must be an nn.Module (MLP, Layer, Neuron or your own subclass) or an object "
            f"with a parameters() method, got {type(model).__name__}"
        )
    seen: set[str] = set()
    for name, p in pairs:
        if not isinstance(name, str) or not isinstance(p, Value):
            kind = type(p)
            raise TypeError(f"{where}: {type(model).__name__}'s parameters must be (str name, autograd.Value) "
                            f"pairs, got {type(name).__name__} {name!r:.40} -> {kind.__module__}.{kind.__qualname__}")
        if name in seen:
            raise ValueError(f"{where}: {type(model).__name__} has two parameters named {name!r}; names must be unique")
        seen.add(name)
    return pairs


def _class_name(model: Any) -> str:
    cls = type(model)
    return f"nn.{cls.__name__}" if cls in (Layer, Neuron, MLP) else f"{cls.__module__}.{cls.__qualname__}"


def _architecture_of(model: Any) -> dict[str, Any] | None:
    """What rebuilds ``model`` when it is exactly an nn class (a subclass may compute something else)."""
    cls = type(model)
    if cls is MLP:
        return model.architecture()  # type: ignore[no-any-return]
    if cls in (Layer, Neuron):
        return {key: getattr(model, key) for key in _REBUILDABLE[f"nn.{cls.__name__}"]}
    return None


def _module_text(model: Any) -> str:
    entries = [
        f"  {json.dumps(name)}: {json.dumps(_encode(p.data, name), allow_nan=False)}"
        for name, p in _named_parameters(model, "save()")
    ]
    return (
        f'{{"format": {json.dumps(MODULE_FORMAT)}, "version": {MODULE_VERSION},\n'
        f' "class": {json.dumps(_class_name(model))},\n'
        f' "architecture": {json.dumps(_architecture_of(model))},\n'
        ' "parameters": {\n' + ",\n".join(entries) + "\n }\n}\n"
    )


def _shape(sizes: list[int]) -> str:
    """``nin -> [widths]`` for messages, shortened for very deep architectures."""
    widths = sizes[1:]
    shown = str(widths) if len(widths) <= 8 else f"[{', '.join(map(str, widths[:4]))}, ...] ({len(widths)} layers)"
    return f"{sizes[0]} -> {shown}"


def _fail(path: Path, problem: str) -> ValueError:
    return ValueError(f"load(): {path}: {problem}")


def _read(path: Path) -> bytes:
    """The file's bytes; a FIFO, device or directory is refused without blocking on it."""
    # O_NONBLOCK: opening a FIFO with no writer would otherwise wait forever; checking the
    # type on the open descriptor (not the name) leaves no window for a swap.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = "a directory" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode) else "not a regular file"
            raise _fail(path, f"is {kind}; a model file must be a regular file")
        handle = open(fd, "rb")  # owns fd from here on
    except BaseException:
        os.close(fd)
        raise
    with handle:
        return handle.read()


def _parse_int(digits: str) -> int:
    if len(digits.lstrip("-")) > _MAX_INT_DIGITS:
        raise _Refused(f"an integer with {len(digits.lstrip('-'))} digits is out of range (at most {_MAX_INT_DIGITS})")
    return int(digits)


def _parse(path: Path) -> Any:
    try:
        text = _read(path).decode("utf-8")
    except UnicodeDecodeError as e:
        raise _fail(path, f"not a UTF-8 text file (corrupt?): {e}") from None
    try:
        return json.loads(text, parse_int=_parse_int)
    except json.JSONDecodeError as e:
        raise _fail(path, f"not valid JSON (truncated or corrupt?): {e}") from None
    except _Refused as e:
        raise _fail(path, str(e)) from None
    except RecursionError:
        raise _fail(path, "JSON nested too deeply (a model file is at most 4 levels deep)") from None


def _architecture(arch: Any, path: Path) -> tuple[int, list[int], str, str]:
    if not isinstance(arch, dict):
        raise _fail(path, f"'architecture' must be an object, got {type(arch).__name__}")
    expected = {"nin", "nouts", "activation", "out_activation"}
    if set(arch) != expected:
        raise _fail(path, f"'architecture' must have exactly the keys {sorted(expected)}, got {sorted(arch)}")
    nin, nouts = arch["nin"], arch["nouts"]
    if isinstance(nin, bool) or not isinstance(nin, int) or nin < 1:
        raise _fail(path, f"architecture 'nin' must be a positive int, got {nin!r:.60}")
    if (
        not isinstance(nouts, list)
        or not nouts
        or any(isinstance(w, bool) or not isinstance(w, int) or w < 1 for w in nouts)
    ):
        raise _fail(path, f"architecture 'nouts' must be a non-empty list of positive ints, got {nouts!r:.60}")
    for key in ("activation", "out_activation"):
        if arch[key] not in ACTIVATIONS:
            raise _fail(path, f"architecture {key!r} must be one of {list(ACTIVATIONS)}, got {arch[key]!r:.60}")
    return nin, nouts, arch["activation"], arch["out_activation"]


def _number(value: Any, name: str, path: Path) -> float:
    cls = value.__class__
    if cls is float:
        return value  # type: ignore[no-any-return]
    if cls is int:
        return float(value)  # at most _MAX_INT_DIGITS digits: finite
    if cls is str and value in _SPECIAL:
        return _SPECIAL[value]
    raise _fail(path, f"weight {name!r} must be a number, got {type(value).__name__}: {value!r:.60}")


def _numbers(values: Any, n: int, name: str, path: Path) -> list[float]:
    if not isinstance(values, list) or len(values) != n:
        got = f"{len(values)} entries" if isinstance(values, list) else type(values).__name__
        raise _fail(path, f"weight {name!r} must be a list of {n} numbers, got {got}")
    if all(v.__class__ is float for v in values):
        return values
    return [_number(v, f"{name}[{k}]", path) for k, v in enumerate(values)]


def _layers_v2(weights: dict[str, Any], sizes: list[int], path: Path) -> _Layers:
    """Weight rows and biases from ``layers.<i>.weight`` / ``layers.<i>.bias`` entries."""
    depth = len(sizes) - 1
    if len(weights) != 2 * depth:
        raise _fail(
            path,
            f"weights do not match the architecture {_shape(sizes)}: it has {depth} layers "
            f"({2 * depth} entries layers.<i>.weight/bias), the file holds {len(weights)} entries",
        )
    matrices, biases = [], []
    for i in range(depth):
        weight_key, bias_key = f"layers.{i}.weight", f"layers.{i}.bias"
        for key in (weight_key, bias_key):
            if key not in weights:
                raise _fail(path, f"weights do not match the architecture: missing {key!r}")
        rows = weights[weight_key]
        if not isinstance(rows, list) or len(rows) != sizes[i + 1]:
            got = f"{len(rows)} rows" if isinstance(rows, list) else type(rows).__name__
            raise _fail(path, f"weight {weight_key!r} must have shape ({sizes[i + 1]}, {sizes[i]}), got {got}")
        matrices.append([_numbers(row, sizes[i], f"{weight_key}[{j}]", path) for j, row in enumerate(rows)])
        biases.append(_numbers(weights[bias_key], sizes[i + 1], bias_key, path))
    return matrices, biases


def _layers_v1(weights: dict[str, Any], sizes: list[int], path: Path) -> _Layers:
    """Weight rows and biases from one entry per parameter (``layer0.neuron3.w2``)."""
    count = sum((sizes[i] + 1) * sizes[i + 1] for i in range(len(sizes) - 1))
    if count != len(weights):  # before generating any name: bounded by what the file holds
        raise _fail(
            path,
            f"weights do not match the architecture {_shape(sizes)}: it has {count} parameters, "
            f"the file holds {len(weights)} weights",
        )
    matrices, biases, missing = [], [], []
    for i in range(len(sizes) - 1):
        rows, layer_biases = [], []
        for j in range(sizes[i + 1]):
            prefix = f"layer{i}.neuron{j}."
            row = []
            for name in [f"{prefix}w{k}" for k in range(sizes[i])] + [f"{prefix}b"]:
                if name in weights:
                    row.append(_number(weights[name], name, path))
                else:
                    missing.append(name)
                    row.append(0.0)
            layer_biases.append(row.pop())
            rows.append(row)
        matrices.append(rows)
        biases.append(layer_biases)
    if missing:
        names = {f"layer{i}.neuron{j}.{p}" for i in range(len(sizes) - 1) for j in range(sizes[i + 1])
                 for p in [f"w{k}" for k in range(sizes[i])] + ["b"]}  # as many as the file holds
        extra = sorted(key for key in weights if key not in names)
        raise _fail(
            path,
            f"weights do not match the architecture {_shape(sizes)}: {len(missing)} missing "
            f"(e.g. {missing[:3]}), {len(extra)} unexpected (e.g. {extra[:3]})",
        )
    return matrices, biases


def _mlp(document: dict[str, Any], path: Path) -> MLP:
    version = document.get("version")
    if isinstance(version, bool) or version not in READABLE_VERSIONS:
        raise _fail(path, f"unsupported version {version!r:.60}; this valuegrad reads versions {READABLE_VERSIONS}")
    nin, nouts, activation, out_activation = _architecture(document.get("architecture"), path)
    weights = document.get("weights")
    if not isinstance(weights, dict):
        raise _fail(path, f"'weights' must be an object of name -> number, got {type(weights).__name__}")
    read = _layers_v1 if version == 1 else _layers_v2
    matrices, biases = read(weights, [nin, *nouts], path)
    return MLP._from_weights(nin, nouts, activation, out_activation, matrices, biases)


def _module_parameters(document: dict[str, Any], path: Path) -> tuple[str, Any, dict[str, float]]:
    """The class name, architecture and parameters of a ``valuegrad-module`` file, checked."""
    version = document.get("version")
    if isinstance(version, bool) or version != MODULE_VERSION:
        raise _fail(path, f"unsupported version {version!r:.60} of {MODULE_FORMAT}; this valuegrad reads "
                          f"version {MODULE_VERSION}")
    cls = document.get("class")
    if not isinstance(cls, str):
        raise _fail(path, f"'class' must be a string, got {type(cls).__name__}")
    parameters = document.get("parameters")
    if not isinstance(parameters, dict):
        raise _fail(path, f"'parameters' must be an object of name -> number, got {type(parameters).__name__}")
    values = {name: _number(value, name, path) for name, value in parameters.items()}
    return cls, document.get("architecture"), values


def _rebuild(cls: str, arch: Any, count: int, path: Path) -> Layer | Neuron:
    """An nn.Layer or nn.Neuron of the stored architecture, all weights 0.0 until assigned; checked first."""
    keys = _REBUILDABLE[cls]
    if not isinstance(arch, dict) or set(arch) != set(keys):
        raise _fail(path, f"'architecture' of an {cls} must be an object with exactly the keys {sorted(keys)}, "
                          f"got {arch!r:.80}")
    for key in keys[:-1]:
        if isinstance(arch[key], bool) or not isinstance(arch[key], int) or arch[key] < 1:
            raise _fail(path, f"architecture {key!r} must be a positive int, got {arch[key]!r:.60}")
    if arch["activation"] not in ACTIVATIONS:
        got = arch["activation"]
        raise _fail(path, f"architecture 'activation' must be one of {list(ACTIVATIONS)}, got {got!r:.60}")
    nin, nout = arch["nin"], arch.get("nout", 1)
    if (nin + 1) * nout != count:  # before building anything: bounded by what the file holds
        raise _fail(path, f"the architecture {arch} has {(nin + 1) * nout} parameters, the file holds {count}")
    if cls == "nn.Neuron":
        neuron = Neuron.__new__(Neuron)
        neuron._set(nin, arch["activation"], [0.0] * nin, 0.0, "")
        return neuron
    layer = Layer.__new__(Layer)
    layer._set(nin, nout, arch["activation"], [[0.0] * nin] * nout, [0.0] * nout, "")
    return layer


def _assign(model: Any, values: dict[str, float], held: str, path: Path) -> None:
    """Set ``model``'s parameters from ``values`` by name, all or nothing; ValueError naming the file."""
    pairs = _named_parameters(model, "load()")
    names = {name for name, _ in pairs}
    missing = [name for name, _ in pairs if name not in values]
    extra = [name for name in values if name not in names]
    if missing or extra:
        raise _fail(path, f"its parameters do not match those of the {type(model).__name__} to load into: "
                          f"{len(missing)} missing (e.g. {missing[:3]}), {len(extra)} unexpected (e.g. {extra[:3]}); "
                          f"the file holds {held}")
    for name, p in pairs:
        p.data = values[name]


@overload
def load(path: str | os.PathLike[str], *, into: None = None) -> Any: ...
@overload
def load(path: str | os.PathLike[str], *, into: _Model) -> _Model: ...
def load(path: str | os.PathLike[str], *, into: Any = None) -> Any:
    """Read a file written by :func:`save`; return the model rebuilt, or ``into`` with the file's weights.

    Without ``into``: an MLP file (format version 1 or 2) gives the MLP, a saved ``Layer`` or
    ``Neuron`` that module, exactly. The weights of your own Module class cannot be rebuilt from
    a file (a file never names code to run): build the model, then ``load(path, into=model)``
    sets its parameters by name (any file kind, any Module or object with ``parameters()``) and
    returns it; names must match exactly, and an MLP, Layer or Neuron must have the file's
    architecture. Nothing is assigned unless everything matches. The whole file is checked
    before any Value is built. A truncated, corrupt, wrong-format, wrong-version or mismatched
    file, or a path that is not a regular file, raises a ``ValueError`` naming the file and the problem.
    """
    path = Path(path)
    document = _parse(path)
    if not isinstance(document, dict):
        raise _fail(path, f"expected a JSON object, got {type(document).__name__}")
    kind = document.get("format")
    if kind == FORMAT:
        model = _mlp(document, path)
        if into is None:
            return model
        cls, arch, values = "nn.MLP", model.architecture(), {n: p.data for n, p in model.named_parameters()}
    elif kind == MODULE_FORMAT:
        cls, arch, values = _module_parameters(document, path)
        if into is None:
            if cls not in _REBUILDABLE:
                raise _fail(path, f"holds the parameters of a {cls}, which load() cannot rebuild (it rebuilds "
                                  "nn's MLP, Layer and Neuron); build the model and load into it: "
                                  "load(path, into=model)")
            into = _rebuild(cls, arch, len(values), path)
    else:
        raise _fail(path, f"not a {FORMAT} file (format is {kind!r:.60}); nor a {MODULE_FORMAT} file")
    own = _architecture_of(into)
    if own is not None and (_class_name(into), own) != (cls, arch):
        raise _fail(path, f"holds a {cls} {arch}, which does not fit the {_class_name(into)} {own} to load into")
    _assign(into, values, f"a {cls} with {len(values)} parameters", path)
    return into
