"""Module, Neuron, Layer and MLP: micrograd-compatible layers built on the fused dot op."""

from __future__ import annotations

import math
import random
from typing import Any, Sequence

from autograd import Value, dot
from autograd.ops import to_float

ACTIVATIONS = ("relu", "tanh", "sigmoid", "linear")
# The Value method applying each activation; linear is the identity.
_APPLY = {"relu": Value.relu, "tanh": Value.tanh, "sigmoid": Value.sigmoid, "linear": None}


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


def _check_count(n: Any, what: str, where: str) -> int:
    if isinstance(n, bool) or not hasattr(n, "__index__") or n.__index__() < 1:  # numpy ints welcome
        raise ValueError(f"{where}: {what} must be a positive int, got {type(n).__name__}: {n!r}")
    return n.__index__()


def init_bound(nin: int, activation: str) -> float:
    """Half-width of the uniform initialisation: He for relu, LeCun for tanh/sigmoid/linear.

    He-uniform keeps the variance of relu pre-activations constant through depth
    (Var w = 2/nin); LeCun-uniform does the same for odd, unit-slope activations (Var w = 1/nin).
    """
    return math.sqrt((6.0 if activation == "relu" else 3.0) / nin)


def _inputs(x: Any, nin: int, owner: Any) -> list:
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

    def state_dict(self) -> dict[str, float]:
        """Parameter name -> current value (a plain float)."""
        return {name: p.data for name, p in self.named_parameters()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Set every parameter from ``state`` (strict: exactly the names of :meth:`state_dict`)."""
        where = f"{type(self).__name__}.load_state_dict()"
        if not isinstance(state, dict):
            raise TypeError(f"{where}: state must be a dict of name -> number, got {type(state).__name__}")
        named = self.named_parameters()
        names = [name for name, _ in named]
        missing = [name for name in names if name not in state]
        extra = [key for key in state if key not in set(names)]
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"missing keys {_preview(missing)}")
            if extra:
                parts.append(f"unexpected keys {_preview(extra)}")
            raise ValueError(f"{where}: {' and '.join(parts)}")
        values = {}
        for name in names:
            try:
                values[name] = to_float(state[name], name)
            except TypeError:
                v = state[name]
                raise ValueError(
                    f"{where}: value for {name!r} must be a real number, got {type(v).__name__}: {v!r:.60}"
                ) from None
        for name, p in named:  # assign only after everything validated: all or nothing
            p.data = values[name]

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

    def __init__(
        self, nin: int, activation: str = "relu", *, rng: random.Random | None = None, nonlin: bool | None = None
    ) -> None:
        self.nin = _check_count(nin, "nin", "Neuron()")
        self.activation = _resolve_activation(activation, nonlin, "Neuron()")
        self._apply = _APPLY[self.activation]
        uniform = (rng if rng is not None else random).uniform
        bound = init_bound(self.nin, self.activation)
        self.w = [Value(uniform(-bound, bound), label=f"w{i}") for i in range(self.nin)]
        self.b = Value(0.0, label="b")

    @property
    def nonlin(self) -> bool:
        """micrograd's flag: True unless the neuron is linear."""
        return self.activation != "linear"

    def _forward(self, row: Sequence[Any]) -> Value:
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


class Layer(Module):
    """``nout`` neurons reading the same input; calling it always returns a list of Values."""

    def __init__(
        self,
        nin: int,
        nout: int,
        activation: str = "relu",
        *,
        rng: random.Random | None = None,
        nonlin: bool | None = None,
    ) -> None:
        self.nin = _check_count(nin, "nin", "Layer()")
        self.nout = _check_count(nout, "nout", "Layer()")
        self.activation = _resolve_activation(activation, nonlin, "Layer()")
        self.neurons = [Neuron(self.nin, self.activation, rng=rng) for _ in range(self.nout)]
        self.name = ""  # set by MLP ("layer0", ...) so errors say which layer
        for name, p in self.named_parameters():
            p.label = name

    def _forward(self, row: Sequence[Any]) -> list[Value]:
        return [n._forward(row) for n in self.neurons]

    def __call__(self, x: Any) -> list[Value]:
        return self._forward(_inputs(x, self.nin, self))

    def _where(self) -> str:
        return f"{self.name} ({self!r})" if self.name else repr(self)

    def named_parameters(self) -> list[tuple[str, Value]]:
        return [(f"neuron{j}.{name}", p) for j, n in enumerate(self.neurons) for name, p in n.named_parameters()]

    def __repr__(self) -> str:
        return f"Layer({self.nin}, {self.nout}, activation={self.activation!r})"


class MLP(Module):
    """A stack of fully connected layers: ``activation`` between layers, ``out_activation`` last.

    ``MLP(2, [16, 16, 1])`` is micrograd's network (relu hidden layers, linear output).
    Calling it returns a single Value when the last layer has width 1, else a list.
    ``seed`` makes the initialisation reproducible; ``seed=None`` draws from the global
    ``random`` module.
    """

    def __init__(
        self,
        nin: int,
        nouts: Sequence[int],
        activation: str = "relu",
        *,
        out_activation: str = "linear",
        seed: int | None = None,
    ) -> None:
        self.nin = _check_count(nin, "nin", "MLP()")
        if isinstance(nouts, (str, bytes)) or not hasattr(nouts, "__len__") or len(nouts) == 0:
            raise ValueError(f"MLP(): nouts must be a non-empty list of layer widths, got {nouts!r:.60}")
        self.nouts = [_check_count(n, f"nouts[{i}]", "MLP()") for i, n in enumerate(nouts)]
        self.activation = _check_activation(activation, "MLP()")
        self.out_activation = _check_activation(out_activation, "MLP() out_activation")
        self.seed = seed
        rng = random.Random(seed) if seed is not None else None
        sizes = [self.nin] + self.nouts
        last = len(self.nouts) - 1
        self.layers = [
            Layer(sizes[i], sizes[i + 1], self.out_activation if i == last else self.activation, rng=rng)
            for i in range(len(self.nouts))
        ]
        for i, layer in enumerate(self.layers):
            layer.name = f"layer{i}"
        for name, p in self.named_parameters():
            p.label = name

    def __call__(self, x: Any) -> Value | list[Value]:
        row = _inputs(x, self.nin, self)
        for layer in self.layers:
            row = layer._forward(row)
        return row[0] if len(row) == 1 else row

    def _where(self) -> str:
        return f"MLP layer0 ({self.layers[0]!r})"

    def named_parameters(self) -> list[tuple[str, Value]]:
        return [(f"layer{i}.{name}", p) for i, layer in enumerate(self.layers) for name, p in layer.named_parameters()]

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
