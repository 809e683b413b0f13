"""backprop_matrices: an MLP's backpropagation in layer-by-layer matrix form, checked against the scalar graph."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Sequence

import autograd
from autograd import Value

from .train import LOSS_TABLE

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    Array = NDArray[np.float64]
else:
    Array = Any

__all__ = ["MATRIX_LOSSES", "LayerBackprop", "backprop_matrices", "sigma_prime"]

INSTALL_NUMPY = "backprop_matrices() needs numpy: pip install 'valuegrad[fast]' (or pip install numpy)"
MATRIX_LOSSES = ("mse", "bce_with_logits", "cross_entropy")
RTOL = 1e-12  # how far the matrix equations and the scalar graph may differ, relative to the array's largest entry
FIELDS = ("z", "a", "delta", "dW", "db")  # the fields both computations produce and the check compares

# sigma_prime(activation, z, a) -> sigma'(z): what the recurrence multiplies by, element by element.
# A parameter of _backprop_matrices so a test can hand it a wrong one (sigma' of a) and see the check fail.
SigmaPrime = Callable[[str, Any, Any], Any]


def _numpy() -> Any:
    try:
        import numpy
    except ImportError as error:
        raise ImportError(INSTALL_NUMPY) from error
    return numpy


@dataclass(frozen=True, eq=False)
class LayerBackprop:
    """One layer l of a mini-batch of B samples, in the notation w_(j,k) = "to neuron j from neuron k".

    ``a_in`` (B, n) = a^(l-1); ``W`` (m, n), row j = the weights into neuron j; ``b`` (m,);
    ``z`` (B, m) = a_in W^T + b; ``a`` (B, m) = sigma(z); ``delta`` (B, m) = dC_s/dz, row s for
    sample s's cost C_s; ``dW`` (m, n) = delta^T a_in / B and ``db`` (m,) = the mean of delta:
    the gradients of the batch cost C = mean of the samples' C_s, as ``fit`` forms it.
    """

    a_in: Array
    W: Array
    b: Array
    z: Array
    a: Array
    delta: Array
    dW: Array
    db: Array
    activation: str


def sigma_prime(activation: str, z: Array) -> Array:
    """sigma'(z) for an activation of ``nn.MLP`` (relu'(0) = 0, as the engine's relu row)."""
    np = _numpy()
    if activation == "sigmoid":
        return _sigmoid(z) * _sigmoid(-z)  # s(z)(1 - s(z)) without the cancellation of 1 - s
    if activation == "tanh":
        t = np.exp(-2.0 * np.abs(z))
        return 4.0 * t / ((1.0 + t) * (1.0 + t))  # sech^2, exact where 1 - tanh^2 cancels
    if activation == "relu":
        return (z > 0.0).astype(np.float64)
    if activation == "linear":
        return np.ones_like(z)
    raise ValueError(f"sigma_prime(): unknown activation {activation!r}")


def _sigma_prime_of_z(activation: str, z: Array, a: Array) -> Array:
    return sigma_prime(activation, z)


def _sigmoid(z: Array) -> Array:
    np = _numpy()
    e = np.exp(-np.abs(z))  # never overflows: exp(-z) for z >= 0, exp(z) below
    return np.where(z >= 0.0, 1.0 / (1.0 + e), e / (1.0 + e))


def _activate(activation: str, z: Array) -> Array:
    np = _numpy()
    if activation == "sigmoid":
        return _sigmoid(z)
    if activation == "tanh":
        return np.tanh(z)
    if activation == "relu":
        return np.maximum(z, 0.0)
    return z


def _softmax(a: Array) -> Array:
    np = _numpy()
    shifted = np.exp(a - a.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def _cost_gradient(loss: str, a: Array, targets: Array) -> Array:
    """grad_a C_s for each sample (B, m): the derivative of the sample's own cost, not of the batch mean.

    mse and bce_with_logits average over every element of the batch, so a sample's cost is the
    mean over its m outputs (hence the 1/m); cross_entropy sums over classes, one term per sample.
    """
    m = a.shape[1]
    if loss == "mse":
        return 2.0 * (a - targets) / m
    if loss == "bce_with_logits":
        return (_sigmoid(a) - targets) / m
    return _softmax(a) - targets  # targets: one-hot rows


def _layer_weights(model: Any) -> list[tuple[Array, Array, str]]:
    """(W, b, activation) of each layer as arrays: W's row j holds neuron j's weights."""
    np = _numpy()
    return [
        (
            np.array([[w.data for w in neuron.w] for neuron in layer.neurons], dtype=np.float64),
            np.array([neuron.b.data for neuron in layer.neurons], dtype=np.float64),
            layer.activation,
        )
        for layer in model.layers
    ]


def _matrix_equations(
    model: Any, X: Array, targets: Array, loss: str, sigma_prime_of: SigmaPrime
) -> list[dict[str, Any]]:
    """The four equations with numpy: forward a^l = sigma(W^l a^(l-1) + b^l), then
    delta^L = grad_a C (.) sigma'(z^L), delta^l = ((W^(l+1))^T delta^(l+1)) (.) sigma'(z^l),
    dC/dW^l = delta^l (a^(l-1))^T and dC/db^l = delta^l, averaged over the batch.

    Samples are rows here, so W^T delta is ``delta @ W`` and delta a^T is ``delta.T @ a_in``.
    """
    layers = []
    a = X
    for W, b, activation in _layer_weights(model):
        z = a @ W.T + b
        layers.append({"a_in": a, "W": W, "b": b, "z": z, "a": _activate(activation, z), "activation": activation})
        a = layers[-1]["a"]
    last = layers[-1]
    delta = _cost_gradient(loss, last["a"], targets) * sigma_prime_of(last["activation"], last["z"], last["a"])
    batch = X.shape[0]
    for index in range(len(layers) - 1, -1, -1):
        layer = layers[index]
        if index < len(layers) - 1:
            above = layers[index + 1]
            delta = (above["delta"] @ above["W"]) * sigma_prime_of(layer["activation"], layer["z"], layer["a"])
        layer["delta"] = delta
        layer["dW"] = delta.T @ layer["a_in"] / batch
        layer["db"] = delta.mean(axis=0)
    return layers


def _scalar_forward(model: Any, row: Sequence[float]) -> tuple[list[list[Value]], list[list[Value]]]:
    """One sample through the model's own Values, keeping every neuron's pre-activation z.

    The same nodes ``Neuron`` builds (one ``autograd.dot`` per neuron, then the activation's
    Value method), so the model's forward stays untouched and pays nothing for this.
    """
    current = [Value(float(v)) for v in row]
    zs, outs = [], []
    for layer in model.layers:
        layer_z = [autograd.dot(neuron.w, current, neuron.b) for neuron in layer.neurons]
        if layer.activation == "linear":
            current = layer_z
        else:
            current = [getattr(z, layer.activation)() for z in layer_z]
        zs.append(layer_z)
        outs.append(current)
    return zs, outs


def _engine_targets(loss: str, targets: Array, labels: Array | None) -> list[Any]:
    """The targets as ``fit`` hands them to its loss: class indices for cross_entropy, else
    one float per sample (one output) or a list of floats."""
    if loss == "cross_entropy":
        assert labels is not None
        return [int(t) for t in labels]
    return [row[0] if len(row) == 1 else list(row) for row in targets.tolist()]


def _scalar_graph(model: Any, X: Array, targets: Array, labels: Array | None, loss: str) -> list[dict[str, Any]]:
    """The same numbers read off the scalar graph of the batch-mean loss, built as ``fit`` builds it:
    delta = B * dC/dz (C is the mean of the samples' costs), dW and db = dC/dW, dC/db."""
    np = _numpy()
    samples = [_scalar_forward(model, row) for row in X.tolist()]
    preds = [outs[-1][0] if len(outs[-1]) == 1 else outs[-1] for _, outs in samples]
    cost = LOSS_TABLE[loss].function(preds, _engine_targets(loss, targets, labels))
    grads = autograd.gradients(cost, 1.0)  # leaves every .grad, the model's included, as it was
    batch = X.shape[0]
    layers = []
    for index, layer in enumerate(model.layers):
        zs = [sample_zs[index] for sample_zs, _ in samples]
        outs = [sample_outs[index] for _, sample_outs in samples]
        layers.append({
            "z": np.array([[z.data for z in row] for row in zs]),
            "a": np.array([[a.data for a in row] for row in outs]),
            "delta": batch * np.array([[grads.get(z, 0.0) for z in row] for row in zs]),
            "dW": np.array([[grads.get(w, 0.0) for w in neuron.w] for neuron in layer.neurons]),
            "db": np.array([grads.get(neuron.b, 0.0) for neuron in layer.neurons]),
        })
    return layers


def _check_agreement(matrix: list[dict[str, Any]], graph: list[dict[str, Any]], where: str) -> None:
    """ValueError naming the layer, field and worst entry where the two computations differ
    by more than RTOL times the largest entry of that array.

    The forward fields are checked from the input up, the backward ones from the output
    down, so the error names the first place, in the order of computation, that went wrong.
    """
    np = _numpy()
    forward = [(index, field) for index in range(len(matrix)) for field in FIELDS[:2]]
    backward = [(index, field) for index in reversed(range(len(matrix))) for field in FIELDS[2:]]
    for index, field in forward + backward:
        left, right = matrix[index][field], graph[index][field]
        difference = np.abs(left - right)
        scale = max(float(np.abs(left).max()), float(np.abs(right).max()))
        worst = float(difference.max())
        if not worst <= RTOL * scale:  # also catches nan
            at = tuple(np.argwhere(~(difference <= RTOL * scale))[0]) if np.isnan(worst) else (
                np.unravel_index(int(difference.argmax()), difference.shape)
            )
            raise ValueError(
                f"{where}: layer {index} {field}: the matrix equations and the scalar graph disagree at "
                f"{tuple(int(i) for i in at)}: matrix {float(left[at])!r}, scalar graph {float(right[at])!r} "
                f"(max |difference| {worst:.3g}, allowed {RTOL:g} x largest entry {scale:.3g})"
            )


def _check_model(model: Any, where: str) -> None:
    layers = getattr(model, "layers", None)
    if not isinstance(getattr(model, "nin", None), int) or not layers or not all(
        hasattr(layer, "neurons") and hasattr(layer, "activation") for layer in layers
    ):
        raise TypeError(f"{where}: model must be an nn.MLP (layers of neurons), got {type(model).__name__}")


def _as_array(value: Any, name: str, where: str) -> Array:
    """``value`` as a float64 array of finite numbers, or an error naming ``name``."""
    np = _numpy()
    try:
        data = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        got = f"{type(value).__name__}: {error}"
        raise TypeError(f"{where}: {name} must be an array of real numbers, got {got}") from None
    if not np.isfinite(data).all():
        at = tuple(int(i) for i in np.argwhere(~np.isfinite(data))[0])
        raise ValueError(f"{where}: {name} holds a non-finite value at {at}: {float(data[at])!r}")
    return data


def _features(model: Any, X: Any, where: str) -> Array:
    data = _as_array(X, "X", where)
    if data.ndim != 2 or data.shape[0] < 1 or data.shape[1] != model.nin:
        raise ValueError(
            f"{where}: X must have shape (B, {model.nin}) with B >= 1 (one row per sample), got shape {data.shape}"
        )
    return data


def _targets(loss: str, Y: Any, batch: int, width: int, where: str) -> tuple[Array, Array | None]:
    """(B, m) target rows (one-hot for cross_entropy) and, for cross_entropy, the class indices."""
    np = _numpy()
    data = _as_array(Y, "Y", where)
    if loss == "cross_entropy":
        if width < 2:
            raise ValueError(f"{where}: loss 'cross_entropy' needs a model with one output per class (>= 2), got 1")
        if data.shape != (batch,) or not np.all((data >= 0) & (data < width) & (data == np.floor(data))):
            raise ValueError(
                f"{where}: loss 'cross_entropy' needs Y as {batch} class indices in 0..{width - 1}, "
                f"got shape {data.shape}: {str(data.tolist())[:60]}"
            )
        labels = data.astype(np.intp)
        return np.eye(width)[labels], labels
    if data.shape == (batch,) and width == 1:
        data = data.reshape(batch, 1)
    if data.shape != (batch, width):
        raise ValueError(f"{where}: loss {loss!r} needs Y of shape ({batch}, {width}), got shape {data.shape}")
    if loss == "bce_with_logits" and not np.all((data >= 0.0) & (data <= 1.0)):
        raise ValueError(f"{where}: loss 'bce_with_logits' needs targets in [0, 1], got {str(data.tolist())[:60]}")
    return data, None


def backprop_matrices(model: Any, X: Any, Y: Any, *, loss: str = "mse") -> list[LayerBackprop]:
    """Backpropagation through ``model`` (an ``nn.MLP``) on the mini-batch ``(X, Y)``, layer by layer.

    ``X``: (B, nin) features.  ``Y``: (B, m) targets (or (B,) for one output); for
    ``loss="cross_entropy"`` (B,) class indices, the outputs being the logits.  ``loss`` is
    one of ``"mse"``, ``"bce_with_logits"``, ``"cross_entropy"``, defined as ``fit`` defines them.

    Every number is computed twice: with the matrix equations (numpy) and from the model's
    scalar graph of the batch-mean loss (delta from the z nodes' grads, dW and db from the
    parameters' grads).  ValueError if the two differ by more than 1e-12 relative to the
    largest entry of any array.  The model's ``.grad`` values are left as they were.
    """
    return _backprop_matrices(model, X, Y, loss=loss, sigma_prime_of=_sigma_prime_of_z)


def _backprop_matrices(model: Any, X: Any, Y: Any, *, loss: str, sigma_prime_of: SigmaPrime) -> list[LayerBackprop]:
    """backprop_matrices with the sigma' of the recurrence as a parameter (a test gives a wrong one)."""
    where = "backprop_matrices()"
    if loss not in MATRIX_LOSSES:
        raise ValueError(f"{where}: loss must be one of {', '.join(map(repr, MATRIX_LOSSES))}, got {loss!r}")
    _check_model(model, where)
    features = _features(model, X, where)
    targets, labels = _targets(loss, Y, features.shape[0], model.layers[-1].nout, where)
    matrix = _matrix_equations(model, features, targets, loss, sigma_prime_of)
    _check_agreement(matrix, _scalar_graph(model, features, targets, labels, loss), where)
    return [LayerBackprop(**layer) for layer in matrix]
