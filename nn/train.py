"""fit(): mini-batch training with History, callbacks, EarlyStopping, an optional tqdm bar; evaluate()."""

from __future__ import annotations

import math
import random
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Literal, Sequence

from autograd import Value, compile_graph, no_grad
from autograd.files import positive_int
from autograd.ops import to_float
from autograd.value import constant

from . import functional as F
from .data import as_rows
from .module import Module
from .optim import Adam, Optimizer

if TYPE_CHECKING:
    from autograd.batched import BatchedGraph

DEFAULT_LR = 0.01
"""Learning rate of the default optimizer, ``Adam(model.parameters(), lr=0.01)``."""

Backend = Literal["eager", "compiled", "batched"]
BACKENDS: tuple[str, ...] = ("eager", "compiled", "batched")
LossFunction = Callable[[Any, Any], Value]
Callback = Callable[[int, "History", Any], "bool | None"]


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

    @property
    def history(self) -> dict[str, list[Any]]:
        """The per-epoch lists by name, as Keras spells it (``history.history["loss"]``): the same lists."""
        return {"loss": self.loss, "accuracy": self.accuracy, "val_loss": self.val_loss,
                "val_accuracy": self.val_accuracy}


# -- the losses fit knows by name -----------------------------------------------------------------

def _one_hot(labels: Sequence[Any], k: int) -> list[Any]:
    """Class indices as one-hot float lists (lists, e.g. compiled fit's target leaves, pass through)."""
    return [t if isinstance(t, list) else [1.0 if i == t else 0.0 for i in range(k)] for t in labels]


def _cross_entropy_one_hot(preds: list[Any], targets: list[Any]) -> Value:
    """fit's cross_entropy: the class-probability form with one-hot targets.

    The same value and gradients as ``F.cross_entropy(preds, indices)`` (a one-hot dot adds
    exact zeros), but the graph does not depend on which class is the target, so eager,
    compiled and batched fit build the identical graph.
    """
    k = len(preds[0]) if isinstance(preds[0], list) else 1
    return F.cross_entropy(preds, _one_hot(targets, k))


@dataclass(frozen=True)
class LossSpec:
    """One named loss: its function, the kind of targets it reads, how accuracy decides, and
    what the compiled and batched backends need.

    ``kind``: "regression", "binary" (targets in [0, 1]), "signed" (hinge: -1/+1),
    "multiclass" (class indices) or "classification" (a callable loss: argmax, or label > 0).
    ``compiled``: None if compile_graph can replay it, else why not.  ``constant_targets``:
    target values that change the graph's shape (bce keeps only the log term a target of
    exactly 0 or 1 weights); the batched backend traces one graph per such value.
    """

    name: str
    function: LossFunction
    kind: str
    threshold: float = 0.0
    compiled: str | None = None
    constant_targets: tuple[float, ...] = ()
    one_hot: bool = False

    @property
    def classifies(self) -> bool:
        return self.kind != "regression"


LOSS_TABLE: dict[str, LossSpec] = {
    spec.name: spec
    for spec in (
        LossSpec("mse", F.mse_loss, "regression"),
        LossSpec(
            "bce", F.binary_cross_entropy, "binary", 0.5,
            compiled="'bce' picks its terms by each target's value; train a linear output with "
            "'bce_with_logits' instead",
            constant_targets=(0.0, 1.0),
        ),
        LossSpec("bce_with_logits", F.binary_cross_entropy_with_logits, "binary", 0.0),
        LossSpec("hinge", F.hinge_loss, "signed", 0.0),
        LossSpec("cross_entropy", _cross_entropy_one_hot, "multiclass", one_hot=True),
    )
}
LOSSES = tuple(LOSS_TABLE)


class _Task:
    """What fit/evaluate need to know about a loss: the batch loss, and how to score accuracy."""

    def __init__(self, spec: LossSpec, named: bool) -> None:
        self.spec = spec
        self.named = named  # a loss from LOSS_TABLE (not a callable)
        self.name = spec.name
        self.loss = spec.function if named else _targets_as_values(spec.function)
        self.kind = spec.kind
        self.threshold = spec.threshold

    @property
    def classifies(self) -> bool:
        return self.spec.classifies

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

    def check_width(self, width: int, targets: Sequence[Any], where: str) -> None:
        """The model's output width suits the loss, and every class label has an output."""
        if self.kind == "multiclass" and width < 2:
            raise ValueError(f"loss {self.name!r} needs a model with one output per class (>= 2), got {width}")
        if self.kind in ("binary", "signed") and width != 1:
            raise ValueError(f"loss {self.name!r} needs a model with a single output, got {width} outputs")
        if self.kind == "multiclass":
            for i, t in enumerate(targets):
                if not 0 <= t < width:
                    raise ValueError(
                        f"{where}: label {t} (y[{i}]) is out of range for a model with {width} outputs "
                        f"(classes 0..{width - 1})"
                    )

    def correct(self, scores: Sequence[Any], targets: Sequence[Any]) -> int:
        """How many predictions are right (binary: score > threshold; multiclass: argmax).

        ``scores``: one float per sample, or a list of floats for a multi-output model.
        """
        count = 0
        # multiclass, or a callable classification loss on a multi-output model: argmax
        if self.kind == "multiclass" or isinstance(scores[0], list):
            for row, t in zip(scores, targets):
                count += row.index(max(row)) == t
            return count
        # The positive class: target > 0.5 for probabilities, > 0 for -1/+1 (or 0/1) labels.
        cut = 0.5 if self.kind == "binary" else 0.0
        for score, t in zip(scores, targets):
            count += (score > self.threshold) == (t > cut)
        return count


def _scores(preds: Sequence[Any]) -> list[Any]:
    """Predictions (Values, or lists of Values) as floats (or lists of floats)."""
    return [[v.data for v in p] if isinstance(p, list) else p.data for p in preds]


def _targets_as_values(loss: Callable[[list[Any], list[Any]], Any]) -> Callable[[list[Any], list[Any]], Any]:
    """A callable loss as every backend calls it: each number target as a Value (the batched
    and compiled backends trace one graph with target leaves, so eager passes Values too),
    class indices (ints) as they are, one-hot or multi-output targets as lists of Values.

    Eager's Values are constants, the leaves an operator makes of a number: the graph is the
    one the float gave, and nn's losses read them as numbers (``binary_cross_entropy`` keeps
    only the term a target of exactly 0 or 1 weights)."""

    def as_value(t: Any) -> Any:
        if isinstance(t, list):
            return [as_value(v) for v in t]
        if isinstance(t, (Value, int)):  # a traced leaf, or a class index (ints only reach here then)
            return t
        return constant(t)

    def call(preds: list[Any], targets: list[Any]) -> Any:
        return loss(preds, [as_value(t) for t in targets])

    return call


def _width(pred: Any) -> int:
    return len(pred) if isinstance(pred, list) else 1


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
        spec = LOSS_TABLE.get(loss)
        if spec is None:
            raise ValueError(
                f"{where}: unknown loss {loss!r}; use one of {', '.join(map(repr, LOSSES))} or a callable"
            )
        return _Task(spec, named=True)
    if not callable(loss):
        raise TypeError(f"{where}: loss must be a name ({', '.join(LOSSES)}) or a callable, got {type(loss).__name__}")
    name = getattr(loss, "__name__", "callable")
    if task is None or task == "regression":
        return _Task(LossSpec(name, loss, "regression", compiled="a callable loss may branch on the data"), False)
    if task == "classification":
        # A sigmoid output is a probability (decide at 0.5); anything else is a score (decide at 0).
        threshold = 0.5 if getattr(model, "out_activation", None) == "sigmoid" else 0.0
        spec = LossSpec(name, loss, "classification", threshold, compiled="a callable loss may branch on the data")
        return _Task(spec, False)
    raise ValueError(f"{where}: task must be 'classification', 'regression' or None, got {task!r}")


def _check_features(rows: list[list[float]], model: Any, where: str) -> None:
    nin = getattr(model, "nin", None)
    if isinstance(nin, int) and len(rows[0]) != nin:
        raise ValueError(f"{where}: X has {len(rows[0])} features but the model takes {nin}")


def _run_loss(task: _Task, preds: list[Any], targets: list[Any]) -> Value:
    out = task.loss(preds, targets)
    if not isinstance(out, Value):
        raise TypeError(f"loss {task.name!r} must return a Value, got {type(out).__name__}: {out!r:.60}")
    return out


# -- the training steps, one per backend -------------------------------------------------------------
# Each takes a batch (rows, targets) and the optimizer, updates the model and returns the
# batch loss and the predictions as floats (computed before the update).

StepResult = tuple[float, list[Any]]


def train_step(
    model: Module,
    batch_loss: Callable[[list[Any], list[Any]], Value],
    xs: Sequence[Any],
    ys: Sequence[Any],
    optimizer: Optimizer,
) -> tuple[float, list[Any]]:
    """One mini-batch: forward every sample, mean loss, ONE backward, optimizer step, zero grads.

    Returns the batch loss and the predictions (their ``.data`` is from before the update).
    """
    preds = [model(x) for x in xs]
    loss = batch_loss(preds, list(ys))
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    return loss.data, preds


class _EagerSteps:
    """backend="eager": every sample's graph built and back-propagated as Values."""

    def __init__(self, model: Module, task: _Task) -> None:
        self.model = model
        self.task = task

    def __call__(self, xs: Sequence[Any], ys: Sequence[Any], optimizer: Optimizer) -> StepResult:
        loss, preds = train_step(self.model, lambda p, t: _run_loss(self.task, p, t), xs, ys, optimizer)
        return loss, _scores(preds)


class _CompiledSteps:
    """backend="compiled": one compiled graph per batch size, replayed with each batch's data.

    Inputs and targets become leaves whose ``.data`` is swapped per batch, so only losses
    whose graph never depends on the data qualify (``LossSpec.compiled``).  cross_entropy's
    class indices become one-hot target leaves (the class-probability form, which eager fit
    uses too).  Results equal eager's bit for bit: the same operations in the same order.
    """

    def __init__(self, model: Module, task: _Task, where: str) -> None:
        why = task.spec.compiled
        if why is not None:
            allowed = ", ".join(repr(name) for name, spec in LOSS_TABLE.items() if spec.compiled is None)
            raise ValueError(
                f"{where}: compiled=True needs a loss whose graph does not depend on the data "
                f"({allowed}), got {task.name!r} ({why}); use backend='batched' or 'eager'"
            )
        self.model = model
        self.task = task
        self.graphs: dict[int, tuple] = {}  # batch size -> (graph, input leaves, target leaves, preds, classes)

    def __call__(self, xs: Sequence[Any], ys: Sequence[Any], optimizer: Optimizer) -> StepResult:
        one_hot = self.task.spec.one_hot
        entry = self.graphs.get(len(xs))
        if entry is None:
            inputs = [[Value(v) for v in x] for x in xs]
            preds = [self.model(x) for x in inputs]
            classes = _width(preds[0])
            if one_hot:
                ys = _one_hot(ys, classes)
            targets = [[Value(v) for v in t] if isinstance(t, list) else Value(t) for t in ys]
            loss = _run_loss(self.task, preds, targets)
            graph = compile_graph(loss, watch=_flatten(preds))  # runs forward()
            self.graphs[len(xs)] = (graph, _flatten(inputs), _flatten(targets), preds, classes)
        else:
            graph, input_leaves, target_leaves, preds, classes = entry
            for leaf, v in zip(input_leaves, _flatten(xs)):
                leaf.data = v
            for leaf, v in zip(target_leaves, _flatten(_one_hot(ys, classes) if one_hot else ys)):
                leaf.data = v
            graph.forward()
        scores = _scores(preds)
        graph.backward()
        optimizer.step()
        optimizer.zero_grad()
        return graph.root.data, scores


INSTALL_NUMPY = "backend='batched' needs numpy: pip install 'valuegrad[fast]' (or pip install numpy)"


def _numpy(where: str) -> Any:
    try:
        import numpy
    except ImportError:
        raise ImportError(f"{where}: {INSTALL_NUMPY}") from None
    return numpy


class _BatchedSteps:
    """backend="batched": ONE sample's loss graph (features and targets as input leaves)
    executed for each whole batch with ``autograd.compile_batched``, on numpy arrays.

    The batch loss is the mean of the per-sample losses, which is what every named loss
    computes.  Targets that shape the graph (bce's exact 0 and 1, a callable classification
    loss's class labels) are baked in as constants: one graph per such value, each run on its
    samples.  A callable loss gets its targets as Value leaves (one graph serves every
    sample), so every batch is checked against the loss computed the eager way.

    The parameters live in one float64 vector (the graph's own when its shared leaves are
    the optimizer's parameters in order) trained by the optimizer's array twin; ``publish()``
    writes it to the Values, ``refresh()`` reads them back (fit calls both around callbacks).
    """

    def __init__(self, model: Module, task: _Task, where: str, optimizer: Optimizer, data: _ArrayData) -> None:
        from autograd.batched import compile_batched

        from .optim import array_optimizer

        self.np = np = _numpy(where)
        self.compile = compile_batched
        self.model, self.task, self.where, self.optimizer, self.data = model, task, where, optimizer, data
        self.graphs: dict[Any, _Graph] = {}  # target key -> graph
        self.classes = data.width
        self.vector = np.array([p.data for p in optimizer.params], dtype=np.float64)
        self.grad = np.zeros_like(self.vector)
        self.positions = {id(p): i for i, p in enumerate(optimizer.params)}
        for key in dict.fromkeys(data.keys):
            self._graph(key)
        self.array = array_optimizer(optimizer, self.vector)

    def _key(self, target: Any) -> Any:
        """The constant a target bakes into the graph, or None if it is an input leaf."""
        return _graph_key(self.task, target)

    def _graph(self, key: Any) -> _Graph:
        entry = self.graphs.get(key)
        if entry is None:
            entry = self.graphs[key] = self._trace(key)
            if len(self.graphs) == 1 and entry.identity:  # train the graph's own vector
                entry.graph.parameters[:] = self.vector
                self.vector = entry.graph.parameters
            else:
                entry.identity = False  # its own copy, loaded from the vector before each run
        return entry

    def _trace(self, key: Any) -> _Graph:
        features = [Value(0.0) for _ in range(self.data.X.shape[1])]
        out = self.model(features)
        preds = out if isinstance(out, list) else [out]
        target_leaves: list[Value] = []
        target_value: Any = key
        if key is None:
            target_leaves = [Value(0.0) for _ in range(self.data.target_width)]
            target_value = target_leaves if self.data.target_list else target_leaves[0]
        try:
            loss = _run_loss(self.task, [out], [target_value])
        except (TypeError, AttributeError) as error:
            if self.task.named:
                raise
            raise TypeError(
                f"{self.where}: fit passes each target to a callable loss as a Value, on every backend "
                f"(batched traces one graph for every sample), and loss {self.task.name!r} raised "
                f"{type(error).__name__}: {error}; compute with the target Values' arithmetic (on "
                f"backend='eager' a target's number is t.data)"
            ) from error
        graph = self.compile(loss, features + target_leaves, watch=preds)
        return _Graph(graph, preds, [self.positions.get(id(p)) for p in graph.params], len(self.vector))

    def epoch(self, order: list[int], batch_size: int) -> tuple[float, int]:
        """One pass over the data in ``order``: (sum of batch losses x batch sizes, correct predictions)."""
        np = self.np
        indices = np.array(order, dtype=np.intp)
        total, correct = 0.0, 0
        for start in range(0, len(indices), batch_size):
            batch = indices[start : start + batch_size]
            loss, scores = self._forward(batch, check=not self.task.named)
            self._step(batch)
            total += loss * len(batch)
            if self.task.classifies:
                correct += self._correct(scores, batch)
        return total, correct

    def _forward(self, batch: Any, *, check: bool) -> tuple[float, Any]:
        """Every graph on its samples of ``batch``: the batch mean loss and the outputs (B, k)."""
        np = self.np
        size = len(batch)
        losses = np.empty(size)
        scores = np.empty((size, self.classes))
        for key, where, members in self.data.split(batch):
            entry = self._graph(key)
            entry.load(self.vector)
            losses[where] = entry.graph._run(self.data.columns(members, key is None), read_params=False)
            scores[where] = entry.outputs()
        loss = float(losses.sum()) * (1.0 / size) if size > 1 else float(losses[0])
        if check:
            self._check(scores, batch, loss)
        return loss, scores

    def _step(self, batch: Any) -> None:
        size = len(batch)
        runs = [self.graphs[key] for key in self.data.keys_in(batch)]
        if len(runs) == 1 and runs[0].identity:
            runs[0].graph._backward(1.0 / size, accumulate=self.array is None, input_grads=False)
            grad = runs[0].graph.param_grads
        else:
            grad = self.grad
            grad.fill(0.0)
            for entry in runs:
                entry.graph._backward(1.0 / size, accumulate=self.array is None, input_grads=False)
                entry.gather(grad)
        if self.array is not None:
            self.array.step(grad)
            return
        self.optimizer.step()  # an optimizer without an array twin: on the Values, as eager
        self.optimizer.zero_grad()
        self.refresh()

    def _check(self, scores: Any, batch: Any, loss: float) -> None:
        """The callable loss on this batch's outputs, computed the eager way, must equal the
        batched mean: a loss that is not a mean, or branches on the data, is refused."""
        preds = [[Value(v) for v in row] if len(row) > 1 else Value(row[0]) for row in scores.tolist()]
        with no_grad():
            eager = _run_loss(self.task, preds, [self.data.targets[i] for i in batch.tolist()]).data
        if not math.isclose(eager, loss, rel_tol=1e-9, abs_tol=1e-12) and not (eager != eager and loss != loss):
            raise ValueError(
                f"{self.where}: backend='batched' needs a loss that is the mean of per-sample losses, the same "
                f"computation for every sample; loss {self.task.name!r} gives {eager!r} on a batch where the graph "
                f"traced from one sample gives {loss!r} (a sum, or a branch on the data such as on a target's "
                f"value?); use backend='eager'"
            )

    def _correct(self, scores: Any, batch: Any) -> int:
        task, data = self.task, self.data
        if task.kind == "multiclass":
            return int((scores.argmax(axis=1) == data.labels[batch]).sum())
        if task.kind in ("binary", "signed"):
            cut = 0.5 if task.kind == "binary" else 0.0
            return int(((scores[:, 0] > task.threshold) == (data.labels[batch] > cut)).sum())
        rows = scores.tolist() if scores.shape[1] > 1 else scores[:, 0].tolist()
        return task.correct(rows, [data.targets[i] for i in batch.tolist()])

    def evaluate(self, data: _ArrayData, chunk: int = 4096) -> tuple[float, float | None]:
        """(mean loss, accuracy) on ``data`` with the current parameters, batched."""
        total, correct = 0.0, 0
        n = len(data.targets)
        train, self.data = self.data, data
        try:
            for start in range(0, n, chunk):
                batch = self.np.arange(start, min(n, start + chunk))
                loss, scores = self._forward(batch, check=False)
                total += loss * len(batch)
                if self.task.classifies:
                    correct += self._correct(scores, batch)
        finally:
            self.data = train
        return total / n, (correct / n if self.task.classifies else None)

    def publish(self) -> None:
        """Write the trained vector (and the optimizer's state) into the Values and the optimizer."""
        if self.array is None:
            return
        for p, value in zip(self.optimizer.params, self.vector.tolist()):
            p.data = value
        self.array.store(self.optimizer)  # type: ignore[arg-type]

    def refresh(self) -> None:
        """Read the Values (a callback may have edited the model or the optimizer) into the vector."""
        from .optim import array_optimizer

        self.vector[:] = [p.data for p in self.optimizer.params]
        for entry in self.graphs.values():
            entry.graph.read_params()
        if self.array is not None:
            self.array = array_optimizer(self.optimizer, self.vector)


class _ArrayData:
    """fit's data for the batched backend: X stays the caller's array (batches are X[idx]),
    targets become arrays (one-hot rows by indexing an identity matrix)."""

    def __init__(self, np: Any, X: Any, targets: list[Any], task: _Task, width: int) -> None:
        self.np = np
        self.X = X
        self.targets = targets
        self.width = width
        codes = [_graph_key(task, t) for t in targets]
        self.keys = list(dict.fromkeys(codes))
        self.codes = np.array([self.keys.index(c) for c in codes], dtype=np.intp) if len(self.keys) > 1 else None
        self.one_hot = task.spec.one_hot
        self.target_list = self.one_hot or isinstance(targets[0], list)
        if self.one_hot:
            self.labels = np.array(targets, dtype=np.intp)
            self.eye = np.eye(width)
            self.target_width = width
        else:
            free = [t for t, c in zip(targets, codes) if c is None]
            self.T = np.array([t if isinstance(t, list) else [t] for t in targets] if free else [[0.0]] * len(targets),
                              dtype=np.float64)
            self.target_width = self.T.shape[1]
            if task.kind in ("binary", "signed"):  # one float per sample
                self.labels = np.array(targets, dtype=np.float64)

    def split(self, batch: Any) -> list[tuple[Any, Any, Any]]:
        """(key, positions in the batch, sample indices) for each graph the batch needs."""
        if self.codes is None:
            return [(self.keys[0], slice(None), batch)]
        codes = self.codes[batch]
        out = []
        for code in self.np.unique(codes).tolist():
            where = codes == code
            out.append((self.keys[code], where, batch[where]))
        return out

    def keys_in(self, batch: Any) -> list[Any]:
        if self.codes is None:
            return self.keys
        return [self.keys[code] for code in self.np.unique(self.codes[batch]).tolist()]

    def columns(self, members: Any, with_targets: bool) -> list[Any]:
        """The input blocks of these samples: features, then the target columns (if leaves)."""
        blocks = [self.X[members]]
        if with_targets:
            blocks.append(self.eye[self.labels[members]] if self.one_hot else self.T[members])
        return blocks


def _feature_array(np: Any, X: Any, model: Any, where: str) -> Any:
    """X for the batched backend: a 2-D array of real numbers kept as it is, or rows made one."""
    if isinstance(X, np.ndarray) and X.dtype.kind in "fiu":
        if X.ndim != 2:
            raise ValueError(f"{where}: X must be 2-D (samples x features), got an array with shape {X.shape}")
        if X.shape[0] == 0 or X.shape[1] == 0:
            raise ValueError(f"{where}: X is empty (shape {X.shape})")
        if isinstance(X, np.ma.MaskedArray):
            raise TypeError(f"{where}: X is a masked array; its mask would be ignored (fill or drop the entries first)")
    else:
        X = np.array(as_rows(X, where), dtype=np.float64)
    _check_features([X[0]], model, where)
    return X


class _Graph:
    """One traced graph of the batched backend and where its shared leaves sit in the optimizer's vector."""

    def __init__(self, graph: BatchedGraph, preds: list[Value], positions: list[int | None], size: int) -> None:
        import numpy as np

        self.graph = graph
        self.preds = preds
        self.identity = positions == list(range(size))  # its vector can be the optimizer's (then it is)
        mine = [i for i, pos in enumerate(positions) if pos is not None]
        self.mine = np.array(mine, dtype=np.intp)  # its rows that the optimizer trains
        self.theirs = np.array([positions[i] for i in mine], dtype=np.intp)  # and where they sit there
        self.pred_rows = graph._row_block(preds)

    def load(self, vector: Any) -> None:
        if not self.identity:
            self.graph.parameters[self.mine] = vector[self.theirs]

    def gather(self, grad: Any) -> None:
        grad[self.theirs] += self.graph.param_grads[self.mine]

    def outputs(self) -> Any:
        return self.graph._outputs(self.pred_rows, self.preds).T


def _graph_key(task: _Task, target: Any) -> Any:
    """The constant a target bakes into the batched graph, or None if it is an input leaf."""
    if isinstance(target, list):
        return None
    if target in task.spec.constant_targets:
        return float(target)
    if task.kind == "classification" and isinstance(target, int):
        return target  # a callable loss may index or branch on the class label
    return None


def _flatten(items: Sequence[Any]) -> list[Any]:
    return [v for item in items for v in (item if isinstance(item, list) else (item,))]


def _progress_bar(total: int, enabled: bool) -> Any:
    """A tqdm bar (``tqdm.auto``: a widget in Jupyter) when asked for, when stderr is a terminal
    or a notebook is running, and tqdm is installed; else None."""
    stderr = sys.stderr
    if not enabled or stderr is None:
        return None
    notebook = "ipykernel" in sys.modules
    if not notebook and not getattr(stderr, "isatty", lambda: False)():
        return None
    try:
        import tqdm as _package  # type: ignore[import-untyped,unused-ignore]  # noqa: F401 - fail here if tqdm is absent
        from tqdm.auto import tqdm  # type: ignore[import-untyped,unused-ignore]
    except ImportError:  # tqdm is optional (the `demo` extra): train without a bar
        return None
    return tqdm(total=total, desc="fit", unit="epoch", leave=False)


# -- fit: the named steps -----------------------------------------------------------------------------

@dataclass
class _Training:
    """Everything fit() validated and prepared before the first epoch."""

    task: _Task
    rows: Any  # lists of floats, or (batched backend) the caller's 2-D array
    targets: list[Any]
    validation: tuple[Any, list[Any]] | None
    callbacks: list[Callback]
    optimizer: Optimizer
    step: Callable[[Sequence[Any], Sequence[Any], Optimizer], StepResult] | None
    batched: _BatchedSteps | None = None
    validation_arrays: _ArrayData | None = None


def _choose_backend(backend: str, compiled: bool, where: str) -> str:
    if backend not in BACKENDS:
        raise ValueError(f"{where}: backend must be one of {', '.join(map(repr, BACKENDS))}, got {backend!r}")
    if compiled:  # the older spelling
        if backend not in ("eager", "compiled"):
            raise ValueError(f"{where}: compiled=True contradicts backend={backend!r}; pass only backend=")
        return "compiled"
    if backend == "batched":
        _numpy(where)  # here, with the install line, not from inside the first epoch
    return backend


def _data(X: Any, y: Any, spec: _Task, model: Any, backend: str, where: str) -> tuple[Any, list[Any]]:
    """The features (rows of floats; an array on the batched backend) and the checked targets."""
    if backend == "batched":
        features = _feature_array(_numpy(where), X, model, where)
    else:
        features = as_rows(X, where)
        _check_features(features, model, where)
    return features, spec.labels(y, len(features), where)


def _prepare(
    model: Module, X: Any, y: Any, loss: Any, task: str | None, optimizer: Optimizer | None,
    validation_data: Any, callbacks: Any, backend: str, where: str,
) -> _Training:
    """Validate the arguments, normalise the data and targets, pick the step function."""
    spec = _make_task(loss, task, model, where)
    rows, targets = _data(X, y, spec, model, backend, where)
    validation = None
    if validation_data is not None:
        try:
            Xv, yv = validation_data
        except (TypeError, ValueError):
            raise ValueError(f"{where}: validation_data must be a pair (X_val, y_val)") from None
        validation = _data(Xv, yv, spec, model, backend, f"{where} validation_data")
    callbacks = list(callbacks or ())
    for cb in callbacks:
        if not callable(cb):
            raise TypeError(f"{where}: every callback must be callable, got {type(cb).__name__}: {cb!r:.60}")
    with no_grad():  # the output width, once: the loss must suit it, and every label needs an output
        width = _width(model(list(rows[0]) if backend != "batched" else rows[0].tolist()))
    spec.check_width(width, targets, where)
    if validation is not None:
        spec.check_width(width, validation[1], f"{where} validation_data")
    if optimizer is None:
        optimizer = Adam(model.parameters(), lr=DEFAULT_LR)
    if backend == "batched":
        np = _numpy(where)
        batched = _BatchedSteps(model, spec, where, optimizer, _ArrayData(np, rows, targets, spec, width))
        arrays = _ArrayData(np, *validation, spec, width) if validation is not None and spec.named else None
        return _Training(spec, rows, targets, validation, callbacks, optimizer, None, batched, arrays)
    step: Callable[[Sequence[Any], Sequence[Any], Optimizer], StepResult]
    step = _CompiledSteps(model, spec, where) if backend == "compiled" else _EagerSteps(model, spec)
    return _Training(spec, rows, targets, validation, callbacks, optimizer, step)


def _run_epoch(training: _Training, order: list[int], batch_size: int, history: History) -> None:
    """One pass over the data in ``order``; appends the epoch's mean loss and accuracy."""
    task, rows, targets = training.task, training.rows, training.targets
    n = len(rows)
    total = 0.0
    correct = 0
    if training.batched is not None:
        total, correct = training.batched.epoch(order, batch_size)
    for start in range(0, n if training.step is not None else 0, batch_size):
        batch = order[start : start + batch_size]
        ys = [targets[i] for i in batch]
        loss_value, scores = training.step([rows[i] for i in batch], ys, training.optimizer)  # type: ignore[misc]
        total += loss_value * len(batch)
        if task.classifies:
            correct += task.correct(scores, ys)
    history.loss.append(total / n)
    history.accuracy.append(correct / n if task.classifies else None)


def _end_epoch(training: _Training, model: Module, epoch: int, history: History, bar: Any) -> bool:
    """Validation, the progress bar and the callbacks after an epoch; True to stop."""
    if training.batched is not None:
        training.batched.publish()  # the Values are current for validation and callbacks
    if training.validation_arrays is not None and training.batched is not None:
        val_loss, val_accuracy = training.batched.evaluate(training.validation_arrays)
        history.val_loss.append(val_loss)
        history.val_accuracy.append(val_accuracy)
    elif training.validation is not None:
        Xv, yv = training.validation
        val_loss, val_accuracy = _evaluate(model, training.task, Xv.tolist() if hasattr(Xv, "tolist") else Xv, yv)
        history.val_loss.append(val_loss)
        history.val_accuracy.append(val_accuracy)
    if bar is not None:
        bar.update(1)
        bar.set_postfix(_postfix(history))
    stop = False
    for cb in training.callbacks:  # every callback sees every epoch, even after one asked to stop
        if cb(epoch, history, model):
            stop = True
    if training.batched is not None:
        training.batched.refresh()  # a callback may have changed the model or the optimizer
    return stop


def fit(
    model: Module,
    X: Any,
    y: Any,
    *,
    loss: str | LossFunction = "mse",
    optimizer: Optimizer | None = None,
    epochs: int = 100,
    batch_size: int = 32,
    shuffle: bool = True,
    seed: int | None = 0,
    progress: bool = True,
    validation_data: tuple[Any, Any] | None = None,
    callbacks: Sequence[Callback] | None = None,
    task: str | None = None,
    backend: Backend = "eager",
    compiled: bool = False,
) -> History:
    """Train ``model`` on ``(X, y)`` with mini-batches; return the :class:`History`.

    The batch loss is the mean over the batch, so gradients are averaged.  ``loss`` is one of
    ``"mse"``, ``"bce"`` (probabilities), ``"bce_with_logits"``, ``"hinge"`` (labels -1/+1,
    or 0/1 mapped to -1/+1), ``"cross_entropy"`` (class indices), or a callable
    ``loss(preds, targets) -> Value`` (then ``task="classification"`` turns on accuracy).
    The default optimizer is ``Adam(model.parameters(), lr=0.01)``.  Each callback is
    called as ``callback(epoch, history, model)`` after every epoch; a truthy return stops.

    ``backend``: ``"eager"`` builds every sample's graph; ``"compiled"`` (or the older
    ``compiled=True``) traces one batch's graph per batch size with ``autograd.compile_graph``
    and replays it: the same numbers bit for bit, several times faster (not for ``"bce"`` or a
    callable); ``"batched"`` runs one sample's graph over the whole batch with numpy
    (``autograd.compile_batched``): the same results to ~1e-12, far faster on large batches;
    every named loss, and callable losses that are a mean over samples.  There numpy ``X``
    (N, F) and ``y`` ((N,) or (N, k)) stay arrays, and the parameters train in one float64
    vector with the optimizer's array twin: ``Value.data`` is read when fit starts, written
    after every epoch (before validation and the callbacks, whose edits are read back) and
    when fit returns or raises; during an epoch it holds the last written values.
    """
    backend = _choose_backend(backend, compiled, "fit()")  # type: ignore[assignment]
    epochs = positive_int(epochs, "epochs", "fit()", minimum=0)
    batch_size = positive_int(batch_size, "batch_size", "fit()")
    training = _prepare(model, X, y, loss, task, optimizer, validation_data, callbacks, backend, "fit()")
    history, rng, order = History(), random.Random(seed), list(range(len(training.rows)))
    training.optimizer.zero_grad()  # stale gradients from before fit() must not leak into the first step
    bar = _progress_bar(epochs, progress)
    try:
        for epoch in range(epochs):
            if shuffle:
                rng.shuffle(order)
            _run_epoch(training, order, batch_size, history)
            if _end_epoch(training, model, epoch, history, bar):
                history.stopped_epoch = epoch
                break
    finally:
        if training.batched is not None:
            training.batched.publish()
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


def _evaluate(model: Module, spec: _Task, rows: list[list[float]], targets: list[Any]) -> tuple[float, float | None]:
    with no_grad():
        preds = [model(x) for x in rows]
        spec.check_width(_width(preds[0]), targets, "evaluate()")
        loss = _run_loss(spec, preds, targets).data
    accuracy = spec.correct(_scores(preds), targets) / len(rows) if spec.classifies else None
    return loss, accuracy


def evaluate(
    model: Module, X: Any, y: Any, *, loss: str | LossFunction = "mse", task: str | None = None
) -> tuple[float, float | None]:
    """``(mean loss, accuracy)`` of ``model`` on ``(X, y)`` without recording a graph.

    Accuracy uses fit()'s decision rules and is None for regression.
    """
    spec = _make_task(loss, task, model, "evaluate()")
    rows = as_rows(X, "evaluate()")
    _check_features(rows, model, "evaluate()")
    return _evaluate(model, spec, rows, spec.labels(y, len(rows), "evaluate()"))


class EarlyStopping:
    """Callback: stop when ``monitor`` has not improved by more than ``min_delta`` for
    ``patience`` epochs.  Losses must decrease, accuracies increase.  With
    ``restore_best=True`` the best epoch's weights are loaded back when it stops."""

    MONITORS = ("loss", "val_loss", "accuracy", "val_accuracy")

    def __init__(
        self, patience: int = 5, *, monitor: str = "val_loss", min_delta: float = 0.0, restore_best: bool = False
    ) -> None:
        self.patience = positive_int(patience, "patience", "EarlyStopping()", minimum=0)
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
