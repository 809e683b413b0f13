"""fit(): mini-batch training with History, callbacks, EarlyStopping, an optional tqdm bar; evaluate()."""

from __future__ import annotations

import math
import random
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from autograd import Value, compile_graph, no_grad
from autograd.ops import to_float

from . import functional as F
from .data import as_rows
from .optim import Adam

DEFAULT_LR = 0.01
"""Learning rate of the default optimizer, ``Adam(model.parameters(), lr=0.01)``."""

LOSSES = ("mse", "bce", "bce_with_logits", "hinge", "cross_entropy")


@dataclass
class History:
    """Per-epoch training record.  ``loss``/``accuracy`` are averages over the epoch's
    mini-batches (computed during training, before each step's update); ``val_loss`` /
    ``val_accuracy`` evaluate the model after the epoch and stay empty without
    ``validation_data``.  Accuracy entries are None for regression."""

    loss: list[float] = field(default_factory=list)
    accuracy: list[float | None] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float | None] = field(default_factory=list)
    stopped_epoch: int | None = None  # the epoch after which a callback stopped training

    @property
    def epochs(self) -> int:
        return len(self.loss)


# -- tasks: how a loss reads predictions and labels ------------------------------------------------

class _Task:
    """What fit/evaluate need to know about a loss: the batch loss, and how to score accuracy."""

    def __init__(self, name: str, loss: Callable[[Any, Any], Value], kind: str, threshold: float = 0.0) -> None:
        self.name = name
        self.loss = loss
        # "regression", "binary" (targets in [0, 1]), "signed" (hinge: -1/+1), "multiclass" (indices),
        # "classification" (a callable loss: any numeric labels; argmax, or positive label = class 1)
        self.kind = kind
        self.threshold = threshold

    @property
    def classifies(self) -> bool:
        return self.kind != "regression"

    def labels(self, y: Any, n: int, where: str) -> list[Any]:
        """Validate and normalise the targets for this task."""
        if hasattr(y, "tolist") and hasattr(y, "ndim"):
            y = y.tolist()
        if isinstance(y, (str, bytes)) or not hasattr(y, "__len__"):
            raise TypeError(f"{where}: y must be a list or array of targets, got {type(y).__name__}")
        if len(y) != n:
            raise ValueError(f"{where}: X has {n} samples but y has {len(y)}")
        out = [_target(t, i, where) for i, t in enumerate(y)]
        if self.kind == "regression":
            return out
        if self.kind == "classification":  # a callable loss decides what its labels mean;
            # whole numbers become ints so they can index classes (e.g. loss=nn.cross_entropy)
            return [int(t) if isinstance(t, float) and t.is_integer() else t for t in out]
        if any(isinstance(t, list) for t in out):
            raise ValueError(f"{where}: loss {self.name!r} needs one label per sample, got a sequence in y")
        if self.kind == "multiclass":
            for i, t in enumerate(out):
                if not (t >= 0 and float(t).is_integer()):
                    raise ValueError(f"{where}: loss {self.name!r} needs class indices 0..k-1, got y[{i}] = {t!r}")
            return [int(t) for t in out]
        values = set(out)
        if self.kind == "signed":  # hinge: accept -1/+1, or map 0/1 onto -1/+1
            if values <= {-1.0, 1.0}:
                return out
            if values <= {0.0, 1.0}:
                return [2.0 * t - 1.0 for t in out]
            raise ValueError(f"{where}: loss 'hinge' needs labels -1/+1 (or 0/1), got {sorted(values)[:5]}")
        for i, t in enumerate(out):
            if not 0.0 <= t <= 1.0:
                raise ValueError(f"{where}: loss {self.name!r} needs targets in [0, 1], got y[{i}] = {t!r}")
        return out

    def check_predictions(self, preds: list[Any]) -> None:
        width = len(preds[0]) if isinstance(preds[0], list) else 1
        if self.kind == "multiclass" and width < 2:
            raise ValueError(f"loss {self.name!r} needs a model with one output per class (>= 2), got {width}")
        if self.kind in ("binary", "signed") and width != 1:
            raise ValueError(f"loss {self.name!r} needs a model with a single output, got {width} outputs")

    def correct(self, preds: list[Any], targets: list[Any]) -> int:
        """How many predictions are right (binary: pred > threshold; multiclass: argmax)."""
        count = 0
        # multiclass, or a callable classification loss on a multi-output model: argmax
        if self.kind == "multiclass" or isinstance(preds[0], list):
            for pred, t in zip(preds, targets):
                scores = [v.data for v in pred]
                count += scores.index(max(scores)) == t
            return count
        # The positive class: target > 0.5 for probabilities, > 0 for -1/+1 (or 0/1) labels.
        cut = 0.5 if self.kind == "binary" else 0.0
        for pred, t in zip(preds, targets):
            count += (pred.data > self.threshold) == (t > cut)
        return count


def _target(t: Any, i: int, where: str) -> Any:
    if isinstance(t, Value):
        return t.data
    if not isinstance(t, (str, bytes)) and hasattr(t, "__len__"):
        values = [_target(v, i, where) for v in t]
        if not values:
            raise ValueError(f"{where}: y[{i}] is an empty sequence")
        return values[0] if len(values) == 1 else values
    try:
        return to_float(t, "")
    except TypeError:
        raise TypeError(f"{where}: y[{i}] must be a real number, got {type(t).__name__}: {t!r:.60}") from None


def _make_task(loss: Any, task: str | None, model: Any, where: str) -> _Task:
    if isinstance(loss, str):
        if task is not None:
            raise ValueError(f"{where}: task= is only for a callable loss; loss {loss!r} already implies it")
        if loss == "mse":
            return _Task(loss, F.mse_loss, "regression")
        if loss == "bce":
            return _Task(loss, F.binary_cross_entropy, "binary", 0.5)
        if loss == "bce_with_logits":
            return _Task(loss, F.binary_cross_entropy_with_logits, "binary", 0.0)
        if loss == "hinge":
            return _Task(loss, F.hinge_loss, "signed", 0.0)
        if loss == "cross_entropy":
            return _Task(loss, _cross_entropy_one_hot, "multiclass")
        raise ValueError(f"{where}: unknown loss {loss!r}; use one of {', '.join(map(repr, LOSSES))} or a callable")
    if not callable(loss):
        raise TypeError(f"{where}: loss must be a name ({', '.join(LOSSES)}) or a callable, got {type(loss).__name__}")
    name = getattr(loss, "__name__", "callable")
    if task is None or task == "regression":
        return _Task(name, loss, "regression")
    if task == "classification":
        # A sigmoid output is a probability (decide at 0.5); anything else is a score (decide at 0).
        threshold = 0.5 if getattr(model, "out_activation", None) == "sigmoid" else 0.0
        return _Task(name, loss, "classification", threshold)
    raise ValueError(f"{where}: task must be 'classification', 'regression' or None, got {task!r}")


def _positive_int(n: Any, name: str, where: str, minimum: int) -> int:
    if isinstance(n, bool) or not hasattr(n, "__index__"):
        raise TypeError(f"{where}: {name} must be an int, got {type(n).__name__}: {n!r:.60}")
    n = n.__index__()
    if n < minimum:
        raise ValueError(f"{where}: {name} must be >= {minimum}, got {n}")
    return n


def _check_width(rows: list[list[float]], model: Any, where: str) -> None:
    nin = getattr(model, "nin", None)
    if isinstance(nin, int) and len(rows[0]) != nin:
        raise ValueError(f"{where}: X has {len(rows[0])} features but the model takes {nin}")


def _one_hot(labels: Sequence[Any], k: int) -> list[Any]:
    """Class indices as one-hot float lists (lists, e.g. compiled fit's target leaves, pass through)."""
    return [t if isinstance(t, list) else [1.0 if i == t else 0.0 for i in range(k)] for t in labels]


def _cross_entropy_one_hot(preds: list[Any], targets: list[Any]) -> Value:
    """fit's cross_entropy: the class-probability form with one-hot targets.

    The same value and gradients as ``F.cross_entropy(preds, indices)`` (a one-hot dot adds
    exact zeros), but the graph does not depend on which class is the target, so eager and
    ``compiled=True`` fit build the identical graph and agree bit for bit.
    """
    k = len(preds[0]) if isinstance(preds[0], list) else 1
    return F.cross_entropy(preds, _one_hot(targets, k))


def _run_loss(task: _Task, preds: list[Any], targets: list[Any]) -> Value:
    out = task.loss(preds, targets)
    if not isinstance(out, Value):
        raise TypeError(f"loss {task.name!r} must return a Value, got {type(out).__name__}: {out!r:.60}")
    return out


# -- the training step --------------------------------------------------------------------------

def train_step(
    model: Any,
    batch_loss: Callable[[list[Any], list[Any]], Value],
    xs: Sequence[Any],
    ys: Sequence[Any],
    optimizer: Any,
) -> tuple[float, list[Any]]:
    """One mini-batch: forward every sample, mean loss, ONE backward, optimizer step, zero grads.

    Returns the batch loss and the predictions (their ``.data`` is from before the update).
    """
    preds = [model(x) for x in xs]
    loss = batch_loss(preds, ys)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    return loss.data, preds


class _CompiledSteps:
    """fit(compiled=True): one compiled graph per batch size, replayed with each batch's data.

    Inputs and targets become leaves whose ``.data`` is swapped per batch, so only losses
    whose graph never depends on the data qualify.  cross_entropy's class indices become
    one-hot target leaves (the class-probability form, which eager fit uses too).  "bce"
    stays out: it drops the log term a target of exactly 0 or 1 does not weight (so that
    p = 0 with y = 0 gives 0, not 0 * -inf = nan), a choice made from the target's value.
    Results equal train_step's bit for bit: the same operations in the same order.
    """

    LOSSES = ("mse", "hinge", "bce_with_logits", "cross_entropy")

    def __init__(self, model: Any, batch_loss: Callable[[list[Any], list[Any]], Value], loss: Any, where: str) -> None:
        if not (isinstance(loss, str) and loss in self.LOSSES):
            why = (
                " ('bce' picks its terms by each target's value; train a linear output with "
                "'bce_with_logits' instead)" if loss == "bce" else ""
            )
            raise ValueError(
                f"{where}: compiled=True needs a loss whose graph does not depend on the data "
                f"({', '.join(map(repr, self.LOSSES))}), got {loss!r}{why}; use compiled=False"
            )
        self.model = model
        self.batch_loss = batch_loss
        self.one_hot = loss == "cross_entropy"
        self.graphs: dict[int, tuple] = {}  # batch size -> (graph, input leaves, target leaves, preds, classes)

    def __call__(self, xs: Sequence[Any], ys: Sequence[Any], optimizer: Any) -> tuple[float, list[Any]]:
        entry = self.graphs.get(len(xs))
        if entry is None:
            inputs = [[Value(v) for v in x] for x in xs]
            preds = [self.model(x) for x in inputs]
            classes = len(preds[0]) if isinstance(preds[0], list) else 1
            if self.one_hot:
                ys = _one_hot(ys, classes)
            targets = [[Value(v) for v in t] if isinstance(t, list) else Value(t) for t in ys]
            graph = compile_graph(self.batch_loss(preds, targets), watch=_flatten(preds))  # runs forward()
            self.graphs[len(xs)] = (graph, _flatten(inputs), _flatten(targets), preds, classes)
        else:
            graph, input_leaves, target_leaves, preds, classes = entry
            for leaf, v in zip(input_leaves, _flatten(xs)):
                leaf.data = v
            for leaf, v in zip(target_leaves, _flatten(_one_hot(ys, classes) if self.one_hot else ys)):
                leaf.data = v
            graph.forward()
        graph.backward()
        optimizer.step()
        optimizer.zero_grad()
        return graph.root.data, preds


def _flatten(items: Sequence[Any]) -> list[Any]:
    return [v for item in items for v in (item if isinstance(item, list) else (item,))]


def _progress_bar(total: int, enabled: bool) -> Any:
    """A tqdm bar when asked for, stderr is a terminal and tqdm is installed; else None."""
    stderr = sys.stderr
    if not enabled or stderr is None or not getattr(stderr, "isatty", lambda: False)():
        return None
    try:
        from tqdm import tqdm
    except ImportError:  # tqdm is optional (the `demo` extra): train without a bar
        return None
    return tqdm(total=total, desc="fit", unit="epoch", leave=False)


def fit(
    model: Any,
    X: Any,
    y: Any,
    *,
    loss: str | Callable[[Any, Any], Value] = "mse",
    optimizer: Any = None,
    epochs: int = 100,
    batch_size: int = 32,
    shuffle: bool = True,
    seed: int | None = 0,
    progress: bool = True,
    validation_data: tuple[Any, Any] | None = None,
    callbacks: Sequence[Callable[[int, History, Any], bool | None]] | None = None,
    task: str | None = None,
    compiled: bool = False,
) -> History:
    """Train ``model`` on ``(X, y)`` with mini-batches; return the :class:`History`.

    The batch loss is the mean over the batch, so gradients are averaged.  ``loss`` is one of
    ``"mse"``, ``"bce"`` (probabilities), ``"bce_with_logits"``, ``"hinge"`` (labels -1/+1,
    or 0/1 mapped to -1/+1), ``"cross_entropy"`` (class indices), or a callable
    ``loss(preds, targets) -> Value`` (then ``task="classification"`` turns on accuracy).
    The default optimizer is ``Adam(model.parameters(), lr=0.01)``.  Each callback is
    called as ``callback(epoch, history, model)`` after every epoch; a truthy return stops.
    ``compiled=True`` traces one batch's graph per batch size with ``autograd.compile_graph``
    and replays it with each batch's inputs and targets: the same numbers, several times
    faster (losses ``"mse"``, ``"hinge"``, ``"bce_with_logits"`` and ``"cross_entropy"``;
    not ``"bce"`` or a callable).
    """
    where = "fit()"
    spec = _make_task(loss, task, model, where)
    rows = as_rows(X, where)
    n = len(rows)
    _check_width(rows, model, where)
    targets = spec.labels(y, n, where)
    epochs = _positive_int(epochs, "epochs", where, 0)
    batch_size = _positive_int(batch_size, "batch_size", where, 1)
    validation = None
    if validation_data is not None:
        try:
            Xv, yv = validation_data
        except (TypeError, ValueError):
            raise ValueError(f"{where}: validation_data must be a pair (X_val, y_val)") from None
        val_rows = as_rows(Xv, "fit() validation_data")
        _check_width(val_rows, model, "fit() validation_data")
        validation = (val_rows, spec.labels(yv, len(val_rows), "fit() validation_data"))
    callbacks = list(callbacks or ())
    for cb in callbacks:
        if not callable(cb):
            raise TypeError(f"{where}: every callback must be callable, got {type(cb).__name__}: {cb!r:.60}")
    if optimizer is None:
        optimizer = Adam(model.parameters(), lr=DEFAULT_LR)

    def batch_loss(preds: list[Any], ys: list[Any]) -> Value:
        return _run_loss(spec, preds, ys)

    steps = _CompiledSteps(model, batch_loss, loss, where) if compiled else None
    history = History()
    rng = random.Random(seed)
    order = list(range(n))
    optimizer.zero_grad()  # stale gradients from before fit() must not leak into the first step
    bar = _progress_bar(epochs, progress)
    checked = False
    try:
        for epoch in range(epochs):
            if shuffle:
                rng.shuffle(order)
            total = 0.0
            correct = 0
            for start in range(0, n, batch_size):
                batch = order[start : start + batch_size]
                xs = [rows[i] for i in batch]
                ys = [targets[i] for i in batch]
                if not checked:
                    with no_grad():
                        spec.check_predictions([model(xs[0])])
                    checked = True
                if steps is None:
                    loss_value, preds = train_step(model, batch_loss, xs, ys, optimizer)
                else:
                    loss_value, preds = steps(xs, ys, optimizer)
                total += loss_value * len(batch)
                if spec.classifies:
                    correct += spec.correct(preds, ys)
            history.loss.append(total / n)
            history.accuracy.append(correct / n if spec.classifies else None)
            if validation is not None:
                val_loss, val_accuracy = _evaluate(model, spec, *validation)
                history.val_loss.append(val_loss)
                history.val_accuracy.append(val_accuracy)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(_postfix(history))
            stop = False
            for cb in callbacks:
                if cb(epoch, history, model):
                    stop = True
            if stop:
                history.stopped_epoch = epoch
                break
    finally:
        if bar is not None:
            bar.close()
    return history


def _postfix(history: History) -> dict[str, str]:
    out = {"loss": f"{history.loss[-1]:.4g}"}
    if history.accuracy[-1] is not None:
        out["acc"] = f"{history.accuracy[-1]:.3f}"
    if history.val_loss:
        out["val_loss"] = f"{history.val_loss[-1]:.4g}"
    return out


def _evaluate(model: Any, spec: _Task, rows: list[list[float]], targets: list[Any]) -> tuple[float, float | None]:
    with no_grad():
        preds = [model(x) for x in rows]
        spec.check_predictions(preds)
        loss = _run_loss(spec, preds, targets).data
    accuracy = spec.correct(preds, targets) / len(rows) if spec.classifies else None
    return loss, accuracy


def evaluate(
    model: Any, X: Any, y: Any, *, loss: str | Callable[[Any, Any], Value] = "mse", task: str | None = None
) -> tuple[float, float | None]:
    """``(mean loss, accuracy)`` of ``model`` on ``(X, y)`` without recording a graph.

    Accuracy uses fit()'s decision rules and is None for regression.
    """
    spec = _make_task(loss, task, model, "evaluate()")
    rows = as_rows(X, "evaluate()")
    _check_width(rows, model, "evaluate()")
    return _evaluate(model, spec, rows, spec.labels(y, len(rows), "evaluate()"))


class EarlyStopping:
    """Callback: stop when ``monitor`` has not improved by more than ``min_delta`` for
    ``patience`` epochs.  Losses must decrease, accuracies increase.  With
    ``restore_best=True`` the best epoch's weights are loaded back when it stops."""

    MONITORS = ("loss", "val_loss", "accuracy", "val_accuracy")

    def __init__(
        self, patience: int = 5, *, monitor: str = "val_loss", min_delta: float = 0.0, restore_best: bool = False
    ) -> None:
        self.patience = _positive_int(patience, "patience", "EarlyStopping()", 0)
        if monitor not in self.MONITORS:
            allowed = ", ".join(map(repr, self.MONITORS))
            raise ValueError(f"EarlyStopping(): monitor must be one of {allowed}, got {monitor!r}")
        self.monitor = monitor
        self.min_delta = to_float(min_delta, "EarlyStopping() min_delta")
        if not (self.min_delta >= 0.0 and math.isfinite(self.min_delta)):
            raise ValueError(f"EarlyStopping(): min_delta must be a finite number >= 0, got {min_delta!r}")
        self.restore_best = restore_best
        self._reset()

    def _reset(self) -> None:
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.wait = 0
        self._best_state: dict[str, float] | None = None

    def __call__(self, epoch: int, history: History, model: Any) -> bool:
        values = getattr(history, self.monitor)
        if not values or values[-1] is None:
            need = "validation_data in fit()" if self.monitor.startswith("val_") else "a classification loss"
            raise ValueError(f"EarlyStopping(monitor={self.monitor!r}) has nothing to monitor: it needs {need}")
        if epoch == 0:
            self._reset()  # a fresh fit() reusing this callback
        current = values[-1]
        sign = -1.0 if "loss" in self.monitor else 1.0  # compare as "bigger is better"
        if self.best is None or sign * (current - self.best) > self.min_delta:
            self.best, self.best_epoch, self.wait = current, epoch, 0
            if self.restore_best:
                self._best_state = model.state_dict()
            return False
        self.wait += 1
        if self.wait >= self.patience:
            if self.restore_best and self._best_state is not None:
                model.load_state_dict(self._best_state)
            return True
        return False

    def __repr__(self) -> str:
        return f"EarlyStopping(patience={self.patience}, monitor={self.monitor!r}, min_delta={self.min_delta})"
