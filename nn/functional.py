"""Activations, softmax and losses (PyTorch names) built from engine ops, so the rule table differentiates them."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import autograd
from autograd import Value
from autograd.files import real_number
from autograd.value import is_constant

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "hinge_loss",
    "log_softmax",
    "mse_loss",
    "relu",
    "sigmoid",
    "softmax",
    "tanh",
]


def _value(x: Any, where: str) -> Value:
    if isinstance(x, Value):
        return x
    try:
        return Value(x)
    except TypeError:
        raise TypeError(f"{where} must be a Value or a real number, got {type(x).__name__}: {x!r:.60}") from None


def _value_or_float(x: Any, what: str) -> Value | float:
    """``x`` itself when a Value (a target may carry gradient), else as a float (a constant's too:
    a number wrapped in a Value, as fit passes targets, counts as that number); TypeError naming ``what``."""
    if isinstance(x, Value):
        return x.data if is_constant(x) else x
    return real_number(x, what, "a Value or a real number")


def _is_sequence(x: Any) -> bool:
    if isinstance(x, (Value, str, bytes)):
        return False
    try:
        len(x)
    except TypeError:
        return False
    return hasattr(x, "__getitem__") or hasattr(x, "__iter__")


def _flat(x: Any, where: str) -> list[Any]:
    """A scalar, a sequence, or a sequence of sequences (multi-output) as one flat list."""
    if not _is_sequence(x):
        return [x]
    out: list[Any] = []
    for item in x:
        if _is_sequence(item):
            out.extend(item)
        else:
            out.append(item)
    return out


def _pairs(preds: Any, targets: Any, where: str) -> tuple[list[Value], list[Any]]:
    """Flatten predictions and targets and check they line up."""
    ps = _flat(preds, where)
    ts = _flat(targets, where)
    if len(ps) != len(ts):
        raise ValueError(f"{where}: got {len(ps)} predictions but {len(ts)} targets; they must match")
    if not ps:
        raise ValueError(f"{where}: predictions are empty; the mean of nothing is undefined")
    values = [_value(p, f"{where}: prediction {i}") for i, p in enumerate(ps)]
    return values, [_value_or_float(t, f"{where}: target {i}") for i, t in enumerate(ts)]


def _mean(terms: list[Value]) -> Value:
    if len(terms) == 1:
        return terms[0]
    return autograd.sum(terms) * (1.0 / len(terms))


# -- activations ------------------------------------------------------------------------------

def _method(name: str) -> Callable[[Value], Value]:
    """Value's method for a row of the rule table (made from the rows, so looked up by name)."""
    return getattr(Value, name)  # type: ignore[no-any-return]


def _elementwise(method: Any, x: Any, where: str) -> Value | list[Value]:
    if _is_sequence(x):
        return [method(_value(v, f"{where}() item {i}")) for i, v in enumerate(x)]
    return method(_value(x, f"{where}() argument"))


def relu(x: Any) -> Value | list[Value]:
    """max(0, x) for a Value/number (returns a Value) or a sequence (returns a list); relu'(0) = 0."""
    return _elementwise(_method("relu"), x, "relu")


def tanh(x: Any) -> Value | list[Value]:
    """tanh for a Value/number (returns a Value) or a sequence (returns a list)."""
    return _elementwise(_method("tanh"), x, "tanh")


def sigmoid(x: Any) -> Value | list[Value]:
    """1 / (1 + exp(-x)), stable for any x, for a Value/number or a sequence."""
    return _elementwise(_method("sigmoid"), x, "sigmoid")


def _logits(logits: Any, where: str) -> list[Value]:
    if not _is_sequence(logits):
        raise TypeError(f"{where}: logits must be a sequence of Values or numbers, got {type(logits).__name__}")
    zs = [_value(z, f"{where}: logit {i}") for i, z in enumerate(logits)]
    if not zs:
        raise ValueError(f"{where}: logits are empty")
    return zs


def softmax(logits: Sequence[Any]) -> list[Value]:
    """exp(z_i) / sum_j exp(z_j), computed as exp(z_i - logsumexp(z)) so no exp overflows."""
    zs = _logits(logits, "softmax()")
    lse = autograd.logsumexp(zs)
    return [autograd.exp(z - lse) for z in zs]


def log_softmax(logits: Sequence[Any]) -> list[Value]:
    """z_i - logsumexp(z): one logsumexp node, finite for logits of ±1000 (the max is subtracted inside)."""
    zs = _logits(logits, "log_softmax()")
    lse = autograd.logsumexp(zs)
    return [z - lse for z in zs]


# -- losses -----------------------------------------------------------------------------------

def mse_loss(preds: Any, targets: Any) -> Value:
    """Mean of (pred - target)**2 over all elements (scalars, sequences or lists of outputs)."""
    ps, ts = _pairs(preds, targets, "mse_loss()")
    return _mean([(p - t) ** 2 for p, t in zip(ps, ts)])


def binary_cross_entropy(probs: Any, targets: Any) -> Value:
    """Mean of -(y log p + (1 - y) log(1 - p)) for probabilities p and targets y in [0, 1].

    No clamping: p = 0 with y = 1 (or p = 1 with y = 0) gives loss inf, as IEEE log(0) says.
    A target of exactly 0 or 1 uses only the term it weights, so p = 0 with y = 0 gives
    loss 0 (not 0 * -inf = nan).  For confident predictions prefer
    :func:`binary_cross_entropy_with_logits`, which never forms p.
    """
    where = "binary_cross_entropy()"
    ps, ts = _pairs(probs, targets, where)
    terms = []
    for p, y in zip(ps, ts):
        if y.__class__ is float:
            if not 0.0 <= y <= 1.0:
                raise ValueError(f"{where}: targets must be in [0, 1], got {y!r}")
            if y == 1.0:
                terms.append(-autograd.log(p))
                continue
            if y == 0.0:
                terms.append(-autograd.log(1.0 - p))
                continue
        terms.append(-(y * autograd.log(p) + (1.0 - y) * autograd.log(1.0 - p)))
    return _mean(terms)


def binary_cross_entropy_with_logits(logits: Any, targets: Any) -> Value:
    """Mean of BCE(sigmoid(z), y) for logits z, computed stably as softplus(z) - z*y
    (softplus is one rule-table row: finite for any z, and its derivative is exactly
    sigmoid(z), so the gradient is sigmoid(z) - y everywhere, also at z = 0).  The graph
    has no branch on the data, so ``fit(..., compiled=True)`` accepts this loss."""
    zs, ts = _pairs(logits, targets, "binary_cross_entropy_with_logits()")
    return _mean([autograd.softplus(z) - z * y for z, y in zip(zs, ts)])


def hinge_loss(scores: Any, targets: Any) -> Value:
    """Mean of relu(1 - y * s) for targets y in {-1, +1} (the SVM max-margin loss)."""
    where = "hinge_loss()"
    ss, ts = _pairs(scores, targets, where)
    for y in ts:
        if y.__class__ is float and y not in (-1.0, 1.0):
            raise ValueError(f"{where}: targets must be -1 or +1, got {y!r} (map 0/1 labels with 2*y - 1)")
    return _mean([(1.0 - y * s).relu() for s, y in zip(ss, ts)])


def cross_entropy(logits: Any, target: Any) -> Value:
    """-log softmax(logits)[target], stable for logits of any size.

    One sample: a list of k logits and either a class index (``logsumexp(z) - z[t]``) or a
    sequence of k class probabilities p, as PyTorch accepts (``-sum_i p_i log softmax(z)_i``,
    computed as ``logsumexp(z) * sum(p) - dot(p, z)``; the p are not checked to sum to 1).
    A batch: a list of logit lists and a list of targets (indices or probability vectors);
    the result is the mean over samples.  The graph never branches on the data.
    """
    where = "cross_entropy()"
    if _is_sequence(logits) and len(logits) and _is_sequence(logits[0]):
        if not _is_sequence(target):
            raise TypeError(f"{where}: a batch of logits needs a sequence of target indices, got {target!r:.60}")
        if len(logits) != len(target):
            raise ValueError(f"{where}: got {len(logits)} samples but {len(target)} target indices")
        return _mean([_cross_entropy_one(z, t, where) for z, t in zip(logits, target)])
    return _cross_entropy_one(logits, target, where)


def _class_index(target: Any, k: int, where: str) -> int:
    if isinstance(target, bool) or not hasattr(target, "__index__"):
        raise TypeError(
            f"{where}: target index must be an int, got {type(target).__name__}: {target!r:.60} "
            "(or give the target as a sequence of class probabilities)"
        )
    t = target.__index__()
    if not 0 <= t < k:
        raise ValueError(f"{where}: target index {t} is out of range for {k} classes")
    return t


def _class_probabilities(target: Any, k: int, where: str) -> list[Any]:
    if len(target) != k:
        raise ValueError(f"{where}: target has {len(target)} class probabilities but there are {k} logits")
    return [_value_or_float(p, f"{where}: class probability {i}") for i, p in enumerate(target)]


def _cross_entropy_one(logits: Any, target: Any, where: str) -> Value:
    zs = _logits(logits, where)
    lse = autograd.logsumexp(zs)
    if _is_sequence(target):
        ps = _class_probabilities(target, len(zs), where)
        # -sum_i p_i (z_i - lse): lse * sum(p) keeps PyTorch's value when the p do not sum to 1
        # exactly; for a one-hot p, sum(p) is exactly 1.0 and the result equals lse - z[t].
        return lse * autograd.sum(ps) - autograd.dot(ps, zs)
    return lse - zs[_class_index(target, len(zs), where)]
