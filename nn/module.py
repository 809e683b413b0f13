"""Module, Neuron, Layer and MLP: micrograd-compatible layers built on the fused dot op."""

from __future__ import annotations

import math
import random
import re
from typing import Any, Callable, Mapping, Sequence, Union

from autograd import Value, dot
from autograd.files import positive_int
from autograd.ops import to_float

ACTIVATIONS = ("relu", "tanh", "sigmoid", "linear")
# The Value method applying each activation (made from the rule table's rows, so looked up by
# name); linear is the identity.
_APPLY: dict[str, Callable[[Value], Value] | None] = {
    name: (None if name == "linear" else getattr(Value, name)) for name in ACTIVATIONS
}

# One entry of a state dict: a parameter's float (Module, Neuron), a bias vector or a
# (out, in) weight matrix as nested lists (Layer, MLP: PyTorch's ``Linear`` layout).
StateValue = Union[float, list[float], list[list[float]]]
StateDict = dict[str, StateValue]

# Keys of the per-parameter layout MLP.state_dict() used before the PyTorch layout.
_LEGACY_MLP_KEY = re.compile(r"layer\d+\.neuron\d+\.(?:w\d+|b)")
_LEGACY_LAYER_KEY = re.compile(r"neuron\d+\.(?:w\d+|b)")
# layers.<i>.weight (ours) or <i>.weight (a torch.nn.Sequential's state_dict()).
_TORCH_KEY = re.compile(r"(layers\.)?(\d+)\.(weight|bias)")


def _check_activation(activation: Any, where: str) -> str:
    if not isinstance(activation, str) or activation not in _APPLY:
        raise ValueError(f"{where}: activation must be one of {', '.join(map(repr, ACTIVATIONS))}, got {activation!r}")
    return activation


def _resolve_activation(activation: Any, nonlin: Any, where: str) -> str:
    """Accept micrograd's ``nonlin=True|False`` (and a bool in the activation slot) as aliases."""
    if nonlin is not None:
        if not isinstance(nonlin, bool):
            raise TypeError(f"{where}: nonlin must be True or False, got {type(nonlin).__name__}: {nonlin!r}")
        return "relu" if nonlin else "linear"
    if isinstance(activation, bool):  # micrograd's positional Neuron(nin, False)
        return "relu" if activation else "linear"
    return _check_activation(activation, where)


def init_bound(nin: int, activation: str) -> float:
    """Half-width of the uniform initialisation: He for relu, LeCun for tanh/sigmoid/linear.

    He-uniform keeps the variance of relu pre-activations constant through depth
    (Var w = 2/nin); LeCun-uniform does the same for odd, unit-slope activations (Var w = 1/nin).
    """
    return math.sqrt((6.0 if activation == "relu" else 3.0) / nin)


def _draw(nin: int, nout: int, activation: str, rng: random.Random | None) -> list[list[float]]:
    """``nout`` rows of ``nin`` initial weights, drawn neuron by neuron (micrograd's order)."""
    uniform = (rng if rng is not None else random).uniform
    bound = init_bound(nin, activation)
    return [[uniform(-bound, bound) for _ in range(nin)] for _ in range(nout)]


def _inputs(x: Any, nin: int, owner: Any) -> list[Value]:
    """Validate one input row: a sequence of ``nin`` numbers or Values (numpy rows included).

    ``owner._where()`` names the module in error messages; it is only called on error.
    """
    try:
        n = len(x)
    except TypeError:
        n = None
    if n is None or isinstance(x, (str, bytes)):
        raise TypeError(
            f"{owner._where()}: input must be a sequence of {nin} numbers or Values, "
            f"got {type(x).__name__}: {x!r:.60}"
        )
    if n != nin:
        raise ValueError(f"{owner._where()}: expected {nin} input features, got {n}")
    # Numbers become leaves once here, so every neuron of the layer shares the same input nodes.
    row = []
    for i, v in enumerate(x):
        cls = v.__class__
        if cls is Value or isinstance(v, Value):
            row.append(v)
            continue
        try:
            row.append(Value(v if cls is float else to_float(v, "")))
        except TypeError:
            raise TypeError(
                f"{owner._where()}: input feature {i} must be a real number or a Value, "
                f"got {type(v).__name__}: {v!r:.60}"
            ) from None
    return row


def _real(value: object, what: str, where: str) -> float:
    if value.__class__ is float:
        return value  # type: ignore[return-value]  # the exact-class check is the fast path
    try:
        return to_float(value, "")
    except TypeError:
        raise ValueError(
            f"{where}: value for {what} must be a real number, got {type(value).__name__}: {value!r:.60}"
        ) from None


def _as_list(value: object) -> object:
    """Tensors and numpy arrays as nested lists (``tolist``); anything else as it is."""
    if not isinstance(value, (list, tuple)) and hasattr(value, "tolist") and hasattr(value, "shape"):
        return value.tolist()
    return value


def _vector(value: object, n: int, key: str, where: str) -> list[float]:
    value = _as_list(value)
    if not isinstance(value, (list, tuple)) or len(value) != n:
        got = f"length {len(value)}" if isinstance(value, (list, tuple)) else f"{type(value).__name__}"
        raise ValueError(f"{where}: {key!r} must be a list of {n} numbers, got {got}")
    return [_real(v, f"{key}[{i}]", where) for i, v in enumerate(value)]


def _matrix(value: object, rows: int, cols: int, key: str, where: str) -> list[list[float]]:
    value = _as_list(value)
    if not isinstance(value, (list, tuple)) or len(value) != rows:
        got = f"{len(value)} rows" if isinstance(value, (list, tuple)) else f"{type(value).__name__}"
        raise ValueError(f"{where}: {key!r} must be a nested list of shape ({rows}, {cols}), got {got}")
    out = []
    for j, row in enumerate(value):
        if not isinstance(row, (list, tuple)) or len(row) != cols:
            got = f"length {len(row)}" if isinstance(row, (list, tuple)) else f"{type(row).__name__}"
            raise ValueError(
                f"{where}: {key}[{j}] must be a list of {cols} numbers (shape ({rows}, {cols})), got {got}"
            )
        out.append([_real(v, f"{key}[{j}][{k}]", where) for k, v in enumerate(row)])
    return out


def _check_state(state: object, where: str) -> Mapping[str, object]:
    if not isinstance(state, Mapping):
        raise TypeError(f"{where}: state must be a dict of name -> value, got {type(state).__name__}")
    return state


def _key_mismatch(where: str, missing: list[str], extra: list[str]) -> ValueError:
    parts = []
    if missing:
        parts.append(f"missing keys {_preview(missing)}")
    if extra:
        parts.append(f"unexpected keys {_preview(extra)}")
    return ValueError(f"{where}: {' and '.join(parts)}")


class Module:
    """Base class: anything with parameters.

    Subclasses override :meth:`named_parameters` (preferred) or, micrograd style, only
    :meth:`parameters`; every other method is derived from whichever exists.
    """

    def named_parameters(self) -> list[tuple[str, Value]]:
        """``(name, parameter)`` pairs in a fixed order; names are dotted paths."""
        if type(self).parameters is Module.parameters:
            return []
        return [(str(i), p) for i, p in enumerate(self.parameters())]

    def parameters(self) -> list[Value]:
        return [p for _, p in self.named_parameters()]

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = 0.0

    def state_dict(self) -> StateDict:
        """Parameter name -> current value (a plain float)."""
        return {name: p.data for name, p in self.named_parameters()}

    def load_state_dict(self, state: Mapping[str, object]) -> None:
        """Set every parameter from ``state`` (strict: exactly the names of :meth:`named_parameters`)."""
        self._load_named(_check_state(state, self._load_where()), self._load_where())

    def _load_where(self) -> str:
        return f"{type(self).__name__}.load_state_dict()"

    def _load_named(self, state: Mapping[str, object], where: str) -> None:
        """The per-parameter layout: name -> number, all or nothing."""
        named = self.named_parameters()
        names = {name for name, _ in named}  # built once: membership tests stay O(1) per key
        missing = [name for name, _ in named if name not in state]
        extra = [key for key in state if key not in names]
        if missing or extra:
            raise _key_mismatch(where, missing, extra)
        values = [_real(state[name], repr(name), where) for name, _ in named]
        for (_, p), value in zip(named, values):  # assign only after everything validated
            p.data = value

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward() or __call__()")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(): {len(self.parameters())} parameters"


def _preview(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(map(repr, names[:limit]))
    return f"[{shown}{', ...' if len(names) > limit else ''}] ({len(names)})"


class Neuron(Module):
    """One unit: ``activation(w . x + b)`` as a single fused ``dot`` node plus the activation.

    ``nonlin=True|False`` is accepted as micrograd's alias for ``"relu"`` / ``"linear"``.
    Weights are uniform in ±:func:`init_bound`; the bias starts at 0.  ``rng`` is a
    ``random.Random``; without one the global ``random`` module is used (so
    ``random.seed(...)`` makes it reproducible, as in micrograd).
    """

    nin: int
    activation: str
    w: list[Value]
    b: Value

    def __init__(
        self, nin: int, activation: str = "relu", *, rng: random.Random | None = None, nonlin: bool | None = None
    ) -> None:
        nin = positive_int(nin, "nin", "Neuron()")
        activation = _resolve_activation(activation, nonlin, "Neuron()")
        self._set(nin, activation, _draw(nin, 1, activation, rng)[0], 0.0, "")

    def _set(
        self, nin: int, activation: str, weights: Sequence[float], bias: float, prefix: str, names: Sequence[str] = ()
    ) -> None:
        """Fill in a neuron from validated numbers; ``prefix`` starts every parameter's label.

        ``names`` (``w0``, ``w1``, ...) may be passed in, built once per layer: loading a large
        model spends a good part of its time making labels.
        """
        self.nin = nin
        self.activation = activation
        self._apply = _APPLY[activation]
        names = names or [f"w{i}" for i in range(nin)]
        self.w = [Value(w, label=prefix + name) for w, name in zip(weights, names)]
        self.b = Value(bias, label=prefix + "b")

    @property
    def nonlin(self) -> bool:
        """micrograd's flag: True unless the neuron is linear."""
        return self.activation != "linear"

    def _forward(self, row: Sequence[Value]) -> Value:
        act = dot(self.w, row, self.b)
        apply = self._apply
        return act if apply is None else apply(act)

    def __call__(self, x: Any) -> Value:
        return self._forward(_inputs(x, self.nin, self))

    def _where(self) -> str:
        return repr(self)

    def named_parameters(self) -> list[tuple[str, Value]]:
        return [(f"w{i}", w) for i, w in enumerate(self.w)] + [("b", self.b)]

    def __repr__(self) -> str:
        return f"Neuron({self.nin}, activation={self.activation!r})"


def _neurons(
    nin: int, activation: str, rows: Sequence[Sequence[float]], biases: Sequence[float], prefix: str
) -> list[Neuron]:
    neurons = []
    names = [f"w{i}" for i in range(nin)]
    for j, (row, bias) in enumerate(zip(rows, biases)):
        neuron = Neuron.__new__(Neuron)  # the weights are given: skip __init__'s random draw
        neuron._set(nin, activation, row, bias, f"{prefix}neuron{j}.", names)
        neurons.append(neuron)
    return neurons


class Layer(Module):
    """``nout`` neurons reading the same input; calling it always returns a list of Values.

    :meth:`state_dict` uses ``torch.nn.Linear``'s layout: ``weight`` of shape (nout, nin)
    and ``bias`` of length nout, as nested lists.
    """

    nin: int
    nout: int
    activation: str
    neurons: list[Neuron]
    name: str

    def __init__(
        self,
        nin: int,
        nout: int,
        activation: str = "relu",
        *,
        rng: random.Random | None = None,
        nonlin: bool | None = None,
    ) -> None:
        nin = positive_int(nin, "nin", "Layer()")
        nout = positive_int(nout, "nout", "Layer()")
        activation = _resolve_activation(activation, nonlin, "Layer()")
        self._set(nin, nout, activation, _draw(nin, nout, activation, rng), [0.0] * nout, "")

    def _set(
        self,
        nin: int,
        nout: int,
        activation: str,
        rows: Sequence[Sequence[float]],
        biases: Sequence[float],
        prefix: str,
    ) -> None:
        self.nin, self.nout, self.activation = nin, nout, activation
        self.neurons = _neurons(nin, activation, rows, biases, prefix)
        self.name = ""  # set by MLP ("layer0", ...) so errors say which layer

    def _forward(self, row: Sequence[Value]) -> list[Value]:
        return [n._forward(row) for n in self.neurons]

    def __call__(self, x: Any) -> list[Value]:
        return self._forward(_inputs(x, self.nin, self))

    def _where(self) -> str:
        return f"{self.name} ({self!r})" if self.name else repr(self)

    def named_parameters(self) -> list[tuple[str, Value]]:
        return [(f"neuron{j}.{name}", p) for j, n in enumerate(self.neurons) for name, p in n.named_parameters()]

    def state_dict(self) -> StateDict:
        """``{"weight": [[w, ...], ...] (nout x nin), "bias": [b, ...]}``, PyTorch's Linear layout."""
        return {"weight": [[w.data for w in n.w] for n in self.neurons], "bias": [n.b.data for n in self.neurons]}

    def load_state_dict(self, state: Mapping[str, object]) -> None:
        """Accept :meth:`state_dict`'s layout (lists, tensors or arrays) or per-parameter names."""
        where = self._load_where()
        state = _check_state(state, where)
        if state and all(isinstance(k, str) and _LEGACY_LAYER_KEY.fullmatch(k) for k in state):
            self._load_named(state, where)
            return
        extra = [key for key in state if key not in ("weight", "bias")]
        missing = [key for key in ("weight", "bias") if key not in state]
        if missing or extra:
            raise _key_mismatch(where, missing, extra)
        rows = _matrix(state["weight"], self.nout, self.nin, "weight", where)
        biases = _vector(state["bias"], self.nout, "bias", where)
        _assign(self, rows, biases)

    def __repr__(self) -> str:
        return f"Layer({self.nin}, {self.nout}, activation={self.activation!r})"


def _assign(layer: Layer, rows: list[list[float]], biases: list[float]) -> None:
    for neuron, row, bias in zip(layer.neurons, rows, biases):
        for w, value in zip(neuron.w, row):
            w.data = value
        neuron.b.data = bias


class MLP(Module):
    """A stack of fully connected layers: ``activation`` between layers, ``out_activation`` last.

    ``MLP(2, [16, 16, 1])`` is micrograd's network (relu hidden layers, linear output).
    Calling it returns a single Value when the last layer has width 1, else a list.
    ``seed`` makes the initialisation reproducible; ``seed=None`` draws from the global
    ``random`` module.  :meth:`state_dict` uses PyTorch's names and shapes:
    ``layers.<i>.weight`` (nout x nin nested lists) and ``layers.<i>.bias``.
    """

    nin: int
    nouts: list[int]
    activation: str
    out_activation: str
    seed: int | None
    layers: list[Layer]

    def __init__(
        self,
        nin: int,
        nouts: Sequence[int],
        activation: str = "relu",
        *,
        out_activation: str = "linear",
        seed: int | None = None,
    ) -> None:
        nin, widths, activation, out_activation = _check_architecture(nin, nouts, activation, out_activation)
        rng = random.Random(seed) if seed is not None else None
        sizes = [nin] + widths
        last = len(widths) - 1
        weights = [
            _draw(sizes[i], widths[i], out_activation if i == last else activation, rng) for i in range(len(widths))
        ]
        self._set(nin, widths, activation, out_activation, weights, [[0.0] * n for n in widths])
        self.seed = seed

    @classmethod
    def _from_weights(
        cls,
        nin: int,
        nouts: Sequence[int],
        activation: str,
        out_activation: str,
        weights: Sequence[Sequence[Sequence[float]]],
        biases: Sequence[Sequence[float]],
    ) -> MLP:
        """An MLP with exactly these (validated, correctly shaped) weights; no random draw."""
        model = cls.__new__(cls)
        model._set(nin, list(nouts), activation, out_activation, weights, biases)
        model.seed = None
        return model

    def _set(
        self,
        nin: int,
        nouts: list[int],
        activation: str,
        out_activation: str,
        weights: Sequence[Sequence[Sequence[float]]],
        biases: Sequence[Sequence[float]],
    ) -> None:
        self.nin, self.nouts, self.activation, self.out_activation = nin, nouts, activation, out_activation
        sizes = [nin] + nouts
        last = len(nouts) - 1
        self.layers = []
        for i in range(len(nouts)):
            layer = Layer.__new__(Layer)
            act = out_activation if i == last else activation
            layer._set(sizes[i], nouts[i], act, weights[i], biases[i], f"layer{i}.")
            layer.name = f"layer{i}"
            self.layers.append(layer)

    def __call__(self, x: Any) -> Value | list[Value]:
        row = _inputs(x, self.nin, self)
        for layer in self.layers:
            row = layer._forward(row)
        return row[0] if len(row) == 1 else row

    def _where(self) -> str:
        return f"MLP layer0 ({self.layers[0]!r})"

    def named_parameters(self) -> list[tuple[str, Value]]:
        return [(f"layer{i}.{name}", p) for i, layer in enumerate(self.layers) for name, p in layer.named_parameters()]

    def state_dict(self) -> StateDict:
        """``layers.<i>.weight`` (nested list, shape (out, in)) and ``layers.<i>.bias`` for each layer.

        The names and shapes of ``torch.nn.Linear`` layers held in a ``layers`` attribute;
        :func:`nn.to_torch` gives the PyTorch model itself.
        """
        state: StateDict = {}
        for i, layer in enumerate(self.layers):
            neurons = layer.neurons
            state[f"layers.{i}.weight"] = [[w.data for w in n.w] for n in neurons]
            state[f"layers.{i}.bias"] = [n.b.data for n in neurons]
        return state

    def load_state_dict(self, state: Mapping[str, object]) -> None:
        """Set every weight from ``state``, all or nothing. Three layouts are accepted:

        - :meth:`state_dict`'s: ``layers.<i>.weight`` / ``layers.<i>.bias`` (nested lists,
          torch tensors or numpy arrays);
        - a ``torch.nn.Sequential``'s ``state_dict()`` such as ``nn.to_torch(model).state_dict()``:
          ``<k>.weight`` / ``<k>.bias``, the Linear layers in increasing ``k``;
        - the per-parameter names of :meth:`named_parameters` (``layer0.neuron3.w2``), the
          layout of earlier versions.
        """
        where = self._load_where()
        state = _check_state(state, where)
        if state and all(isinstance(k, str) and _LEGACY_MLP_KEY.fullmatch(k) for k in state):
            self._load_named(state, where)
            return
        layers = self._torch_layout(state, where)
        converted = []
        for layer, (weight_key, bias_key) in zip(self.layers, layers):
            rows = _matrix(state[weight_key], layer.nout, layer.nin, weight_key, where)
            converted.append((rows, _vector(state[bias_key], layer.nout, bias_key, where)))
        for layer, (rows, biases) in zip(self.layers, converted):
            _assign(layer, rows, biases)

    def _torch_layout(self, state: Mapping[str, object], where: str) -> list[tuple[str, str]]:
        """The (weight key, bias key) of each layer, or a ValueError naming missing and unexpected keys."""
        prefixed: set[int] = set()
        bare: set[int] = set()
        extra = []
        for key in state:
            match = _TORCH_KEY.fullmatch(key) if isinstance(key, str) else None
            if match is None:
                extra.append(str(key))
            else:
                (prefixed if match.group(1) else bare).add(int(match.group(2)))
        if bare and not prefixed:  # a torch Sequential: its Linear layers sit at increasing positions
            prefix, indices = "", sorted(bare)
            if len(indices) != len(self.layers):
                raise ValueError(
                    f"{where}: the state holds {len(indices)} Linear layers (at positions {indices[:8]}) "
                    f"but this MLP has {len(self.layers)}"
                )
        else:
            prefix, indices = "layers.", list(range(len(self.layers)))
        keys = [(f"{prefix}{k}.weight", f"{prefix}{k}.bias") for k in indices]
        wanted = {key for pair in keys for key in pair}
        missing = [key for pair in keys for key in pair if key not in state]
        extra += [key for key in state if isinstance(key, str) and key not in wanted and key not in extra]
        if missing or extra:
            raise _key_mismatch(where, missing, extra)
        return keys

    def architecture(self) -> dict[str, Any]:
        """What :func:`nn.io.save` stores to rebuild this network."""
        return {
            "nin": self.nin,
            "nouts": list(self.nouts),
            "activation": self.activation,
            "out_activation": self.out_activation,
        }

    def __repr__(self) -> str:
        return (
            f"MLP({self.nin}, {self.nouts}, activation={self.activation!r}, "
            f"out_activation={self.out_activation!r}): {len(self.parameters())} parameters"
        )


def _check_architecture(nin: Any, nouts: Any, activation: Any, out_activation: Any) -> tuple[int, list[int], str, str]:
    nin = positive_int(nin, "nin", "MLP()")
    if isinstance(nouts, (str, bytes)) or not hasattr(nouts, "__len__") or len(nouts) == 0:
        raise ValueError(f"MLP(): nouts must be a non-empty list of layer widths, got {nouts!r:.60}")
    widths = [positive_int(n, f"nouts[{i}]", "MLP()") for i, n in enumerate(nouts)]
    return (
        nin,
        widths,
        _check_activation(activation, "MLP()"),
        _check_activation(out_activation, "MLP() out_activation"),
    )
