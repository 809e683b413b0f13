"""Value: one node of the computation graph; its operators apply rows of the rule table."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterable

from . import mode as _mode
from . import ops
from .ops import Op, is_real, to_float

_new = object.__new__


# Method factories: Value's operators and named methods are made from the rows (see _install
# at the end), each applying its row through the current node makers of autograd.mode.

def _operator(rule: Op) -> Callable[..., Any]:
    """``self <op> other``; numbers on the right become constant leaves, or pick the row's
    ``right_constant`` row (``x ** 2`` is the ``**2`` row)."""
    with_constant = rule.right_constant

    if with_constant is None:
        def method(self: Value, other: Any) -> Any:  # a Value, or NotImplemented
            if other.__class__ is not Value:
                other = _operand(other)
                if other is NotImplemented:
                    return NotImplemented
            return _mode.make2(rule, self, other)

        return method

    def method_with_constant(self: Value, other: Any, modulo: None = None) -> Any:
        if modulo is not None:
            raise TypeError(f"{rule.name} of a Value does not take a modulo argument")
        cls = other.__class__
        if cls is float or cls is int:  # x**2 in every squared loss: skip the generic checks
            return _mode.make1(with_constant(to_float(other, f"{rule.name} operand")), self)
        if isinstance(other, Value):
            return _mode.make2(rule, self, other)
        if is_real(other):
            return _mode.make1(with_constant(to_float(other, f"{rule.name} operand")), self)
        return NotImplemented

    return method_with_constant


def _reflected(rule: Op) -> Callable[[Value, Any], Any]:
    """``other <op> self`` for a number ``other`` on the left."""

    def method(self: Value, other: Any) -> Any:  # a Value, or NotImplemented
        other = _operand(other)
        if other is NotImplemented:
            return NotImplemented
        return _mode.make2(rule, other, self)

    return method


def _unary_method(rule: Op) -> Callable[[Value], Value]:
    def method(self: Value) -> Value:
        return _mode.make1(rule, self)

    return method


def _named_method(rule: Op) -> Callable[..., Value]:
    """``Value.<name>(*others)`` for a public row: this Value is the first input."""
    if rule.arity == 1:
        return _unary_method(rule)
    if rule.arity == 2:
        def method(self: Value, other: Any) -> Value:
            return _mode.make2(rule, self, _as_value(other, rule.name))

        return method

    def method_n(self: Value, *others: Any) -> Value:
        if rule.arity >= 0 and len(others) != rule.arity - 1:
            raise TypeError(f"Value.{rule.name}() takes {rule.arity - 1} other operands, got {len(others)}")
        return _mode.make(rule, (self, *[_as_value(o, rule.name) for o in others]))

    return method_n


if TYPE_CHECKING:  # what type checkers see of the generated operators and methods
    from ._operators import ValueOperators as _Generated
else:
    _Generated = object


class Value(_Generated):
    """A scalar that remembers how it was computed, so gradients can flow back to its inputs.

    Read a node through ``.op``, ``.parents`` and ``.local_grads``.  Stored, one object per node:
    ``_rule``, the row that made it (None for leaves); ``_x`` and ``_y``, its inputs as the row
    names them (``local(x, y, out)``); ``_dx`` and ``_dy``, its local derivatives d out/dx and
    d out/dy (floats computed in the forward pass).  A fused n-ary op (``sum``, ``dot``,
    ``logsumexp``) keeps the tuple of its inputs in ``_x`` and of its derivatives in ``_dx``.
    Two slots per input instead of two tuples per node: measured in docs/performance.md, the
    tuples cost 50-100% in eager build and backward.  Only the makers below and the walk and
    chain loop of autograd/engine.py read these slots.  A constant (a number wrapped by an
    operator) is a leaf with ``_dx is CONSTANT``.
    """

    # ``__dict__``: any attribute can be set on a Value, as in micrograd (``p.m = 0.0``, a
    # micrograd-style ``out._backward = closure``); it is allocated only when one is.  The label
    # lives there too (most nodes have none), which keeps a node within budget on CPython 3.12+.
    __slots__ = ("data", "grad", "_rule", "_x", "_y", "_dx", "_dy", "__weakref__", "__dict__")
    data: float
    grad: Any  # a float; a Value under backward(create_graph=True)
    # See the class docstring: a Value or a tuple of them, floats or a tuple of local
    # derivatives (Values never), None where unused.
    _rule: Any
    _x: Any
    _y: Any
    _dx: Any
    _dy: Any
    __array_ufunc__ = None  # numpy scalars defer to our reflected operators

    def __init__(self, data: Any, _children: Iterable[Value] = (), _op: str = "", label: str = "") -> None:
        self.data = to_float(data, "Value() data")
        self.grad = 0.0
        if label:
            self.label = label  # checked by the property: a str
        elif label.__class__ is not str:
            raise TypeError(f"Value() label must be a str, got {type(label).__name__}: {label!r:.60}")
        self._rule = None
        self._x = self._y = self._dx = self._dy = None
        if _children == ():
            return
        # micrograd's constructor: an op computed by the caller, whose derivative is the
        # ``_backward`` closure the caller assigns next.  It records parents like any op
        # (none under no_grad()) and carries a placeholder row, so modes that need a real
        # row (create_graph, jvp, compile_graph) can say so by name.
        children = tuple(_children)
        for child in children:
            if not isinstance(child, Value):
                if hasattr(child.__class__, "_apply_rule"):  # forward mode's Dual: a closure has no row
                    ops.require_row(ops.closure_row(_op), "forward mode (jvp, Dual)")
                raise TypeError(f"Value() _children must hold Values, got {type(child).__name__}: {child!r:.60}")
        if _op.__class__ is not str:
            raise TypeError(f"Value() _op must be a str, got {type(_op).__name__}: {_op!r:.60}")
        if children and grad_enabled():
            self._rule = ops.closure_row(_op)
            self._x = children

    # -- structure -------------------------------------------------------------------
    @property
    def label(self) -> str:
        """A name for pictures and reprs ("" unless set)."""
        return getattr(self, "_label", "")

    @label.setter
    def label(self, value: str) -> None:
        if value.__class__ is not str:
            raise TypeError(f"Value label must be a str, got {type(value).__name__}: {value!r:.60}")
        if value:
            self._label = value
        elif "_label" in getattr(self, "__dict__", ()):
            del self._label

    @property
    def op(self) -> str:
        """The op that produced this Value as users write it (``+``, ``tanh``, ``**2``); "" for leaves."""
        rule = self._rule
        return "" if rule is None else rule.name

    @property
    def parents(self) -> tuple[Value, ...]:
        a = self._x
        if a is None:
            return ()
        if self._y is not None:
            return (a, self._y)
        return a if a.__class__ is tuple else (a,)

    @property
    def local_grads(self) -> tuple[Any, ...]:
        """d(self)/d(parent) for each parent, as computed in the forward pass.

        Empty for leaves and for micrograd-style nodes, whose derivative is their closure.
        """
        a = self._x
        if a is None or self._dx is None:
            return ()
        if self._y is not None:
            return (self._dx, self._dy)
        return self._dx if a.__class__ is tuple else (self._dx,)

    # micrograd / lecture compatibility: `_prev` (set of parents) and `_op` (op string)
    @property
    def _prev(self) -> set[Value]:
        return set(self.parents)

    @property
    def _op(self) -> str:
        return self.op

    def _backward(self) -> None:
        """One step of the chain rule, as the micrograd lecture calls it by hand: add this
        node's grad times each local derivative into its parents (a no-op on leaves).

        A node built micrograd-style gets its own ``_backward`` closure assigned instead;
        until then this does nothing for it, as micrograd's default does.
        """
        g = self.grad
        for parent, local in zip(self.parents, self.local_grads):
            parent.grad += g * local

    def item(self) -> float:
        """The value as a float (PyTorch's spelling of ``.data``)."""
        return self.data

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        # Pickle and deepcopy without recursing along the graph (a 10**4-deep chain would
        # overflow the stack): the node's ancestry is flattened into records that name
        # rows, not functions, and leaves are stored as Values so that sharing is kept.
        from .copying import flatten, rebuild

        return (rebuild, (flatten(self),))

    def __repr__(self) -> str:
        label = f", label={self.label!r}" if self.label else ""
        return f"Value(data={self.data}, grad={self.grad}{label})"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        """Notebook display: the graph as SVG when small and `dot` exists, else the repr text."""
        from .render import repr_mimebundle

        return repr_mimebundle(self, include=include, exclude=exclude)

    # Operators (``__add__``/``__radd__`` ... from each row's ``operator``) and named methods
    # (``relu()``, ``tanh()``, ... one per public row) are made from the rows: see _install below.

    # -- gradients -----------------------------------------------------------------------
    def backward(self, grad: Any = 1.0, *, create_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into every reachable leaf's ``.grad``.

        Leaves accumulate across calls; interior nodes get exactly this call's gradient.
        With ``create_graph=True`` the gradients are Values that can be differentiated again.
        """
        from .engine import backward

        backward(self, grad, create_graph=create_graph)

    def detach(self) -> Value:
        """A new leaf with the same data, cut off from this graph."""
        return _leaf(self.data)

    @classmethod
    def _apply_rule(cls, rule: Op, *args: Any) -> Value:
        """Apply a row of the rule table to Values (numbers become constant leaves)."""
        return make(rule, tuple(_as_value(a, rule.name) for a in args))


def _leaf(data: float) -> Value:
    node = _new(Value)
    node.data = data
    node.grad = 0.0
    node._rule = node._x = node._y = node._dx = node._dy = None
    return node


def assemble(rule: Op, parents: tuple[Value, ...], local_grads: tuple[Any, ...], data: float) -> Value:
    """A node of ``rule`` over ``parents`` with the given local derivatives and data, laid out as
    the makers lay it out (for code that rebuilds graphs: unpickling)."""
    node = _leaf(data)
    node._rule = rule
    if rule.arity in (1, 2) and rule.forward is not None and len(parents) == rule.arity:
        node._x = parents[0]
        node._dx = local_grads[0]
        if rule.arity == 2:
            node._y = parents[1]
            node._dy = local_grads[1]
    else:
        node._x = parents
        node._dx = local_grads
    return node


# The mark of a constant: a number the user wrote into an expression (the 1.01 in y * 1.01),
# which an operator wraps in a leaf the user never holds.  backward(create_graph=True) gives a
# constant its gradient as a plain float: a gradient Value there would refer back to the
# constant through its own graph, a reference cycle nobody could break.
CONSTANT = object()


def _constant(data: float) -> Value:
    node = _new(Value)
    node.data = data
    node.grad = 0.0
    node._rule = node._x = node._y = node._dy = None
    node._dx = CONSTANT
    return node


def constant(data: float) -> Value:
    """``data`` as the leaf an operator makes of a number (``is_constant`` is true): how fit hands
    a callable loss its number targets, so the loss sees a Value and the graph is the one the
    number itself would give."""
    return _constant(float(data))


def is_constant(node: Value) -> bool:
    """Whether ``node`` is a number an operator wrapped (``y * 1.01``), not a leaf the user made."""
    return node._dx is CONSTANT


def _as_value(x: Any, where: str) -> Value:
    if isinstance(x, Value):
        return x
    return _constant(to_float(x, f"{where}() argument"))


def _operand(x: Any) -> Value | Any:
    """The other side of a binary operator as a (constant) Value, or NotImplemented."""
    if x.__class__ is float:  # the common case (1.0 - y * s): no isinstance, no conversion
        return _constant(x)
    if isinstance(x, Value):
        return x
    try:
        return _constant(to_float(x, "operand"))
    except TypeError:
        return NotImplemented


# -- node makers: the only code that builds interior nodes ---------------------------------
# autograd.mode decides which of them (recording or constant, wrapped by detect_anomaly's
# checks or not) the operators call: see its docstring.

def _record1(rule: Op, a: Value) -> Value:
    x = a.data
    out = rule.forward(x)
    (da,) = rule.local(x, out)
    node = _new(Value)
    node.data = out
    node.grad = 0.0
    node._rule = rule
    node._x = a
    node._y = None
    node._dx = da
    node._dy = None
    return node


def _record2(rule: Op, a: Value, b: Value) -> Value:
    x = a.data
    y = b.data
    out = rule.forward(x, y)
    da, db = rule.local(x, y, out)
    node = _new(Value)
    node.data = out
    node.grad = 0.0
    node._rule = rule
    node._x = a
    node._y = b
    node._dx = da
    node._dy = db
    return node


def _recordn(rule: Op, parents: tuple[Value, ...]) -> Value:
    xs = [p.data for p in parents]
    out = rule.forward(*xs)
    node = _new(Value)
    node.data = out
    node.grad = 0.0
    node._rule = rule
    node._x = parents
    node._y = None
    node._dx = rule.local(*xs, out)
    node._dy = None
    return node


def _constant1(rule: Op, a: Value) -> Value:
    return _leaf(rule.forward(a.data))


def _constant2(rule: Op, a: Value, b: Value) -> Value:
    return _leaf(rule.forward(a.data, b.data))


def _constantn(rule: Op, parents: tuple[Value, ...]) -> Value:
    return _leaf(rule.forward(*[p.data for p in parents]))


_mode.install_makers((_record1, _record2, _recordn), (_constant1, _constant2, _constantn))
grad_enabled = _mode.grad_enabled
make = _mode.make


# -- fused n-ary ops ----------------------------------------------------------------------------

def sum(values: Any) -> Any:  # noqa: A001 - autograd.sum, kept out of __all__
    """Sum of many Values (or numbers) as ONE node with many parents."""
    return _fused(ops.SUM, values, 0.0)


def dot(ws: Any, xs: Any, bias: Any = None) -> Any:
    """w . x (+ bias) as ONE node: a neuron's pre-activation without 2n intermediate nodes."""
    ws = ws if ws.__class__ is tuple else tuple(ws)
    xs = xs if xs.__class__ is tuple else tuple(xs)
    if len(ws) != len(xs):
        raise ValueError(f"dot(): ws has {len(ws)} items but xs has {len(xs)}; they must match")
    parents = ws + xs if bias is None else ws + xs + (bias,)
    if not _all_values(parents):
        if not any(isinstance(v, Value) for v in parents):
            return _constant_of(ops.DOT, parents, 0.0)
        try:
            parents = tuple([_as_value(v, "dot") for v in parents])
        except TypeError as error:
            return _apply_other_type(ops.DOT, parents, error)
    if not parents:
        return _leaf(0.0)
    return _mode.maken(ops.DOT, parents)


def logsumexp(values: Any) -> Any:
    """log(sum of exp(v)) as ONE node, stable for any inputs (the max is subtracted inside).

    Its local derivatives are the softmax of ``values``.  Of nothing it is -inf (log 0).
    """
    return _fused(ops.LOGSUMEXP, values, -ops.inf)


def _fused(rule: Op, values: Any, empty: float) -> Any:
    """One ``rule`` node over all of ``values``; a constant leaf ``empty`` when there are none."""
    values = values if values.__class__ in (tuple, list) else tuple(values)
    if not _all_values(values):
        if not any(isinstance(v, Value) for v in values):
            return _constant_of(rule, values, empty)
        try:
            values = [_as_value(v, rule.name) for v in values]
        except TypeError as error:
            return _apply_other_type(rule, values, error)
    if not values:
        return _leaf(empty)
    return _mode.maken(rule, values if values.__class__ is tuple else tuple(values))


def _constant_of(rule: Op, items: tuple[Any, ...] | list[Any], empty: float) -> Any:
    """A fused op over no Values: a constant leaf (forward mode and other number types apply the row)."""
    if any(hasattr(item.__class__, "_apply_rule") for item in items):
        return ops.apply(rule, *items)
    if not items:
        return _constant(empty)
    return _constant(rule.forward(*[to_float(item, f"{rule.name}() argument") for item in items]))


def _all_values(items: tuple[Any, ...] | list[Any]) -> bool:
    # An exact class check per item: much cheaper than converting each one (nn's hot path).
    for item in items:
        if item.__class__ is not Value:
            return False
    return True


def _apply_other_type(rule: Op, args: tuple[Any, ...], error: TypeError) -> Any:
    """sum/dot/logsumexp of another number type that knows the rule table (forward mode's Dual),
    which applies the row itself (constant leaf Values among its operands included)."""
    for a in args:
        if not isinstance(a, Value) and hasattr(a.__class__, "_apply_rule"):
            return a.__class__._apply_rule(rule, *args)
    raise error


# -- operators and methods from the rows ------------------------------------------------------

def _install(rule: Op) -> None:
    """Value's operator and method for ``rule``; the sequence-taking function of a built-in n-ary row."""
    ops.install_methods(Value, rule, {"operator": _operator, "reflected": _reflected, "named": _named_method})
    if rule.public and rule.arity == -1 and not rule.method:
        # The built-in fused rows' functions take a sequence and make one node: this module's
        # sum(values), dot(ws, xs, bias) and logsumexp(values).
        ops.FUNCTIONS[rule.name] = globals()[rule.name]


ops.on_register(_install)
ops._name_checks.append(lambda name: hasattr(Value, name))
