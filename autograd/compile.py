"""compile_graph: turn a built graph into straight-line Python for fast repeated forward/backward."""

from __future__ import annotations

import math
from operator import attrgetter
from typing import Any, Callable, Iterable, cast

from . import ops
from .engine import topological_order
from .ops import Op, to_float
from .value import Value

MAX_NODES = 200_000
"""Largest graph (leaves + interior nodes) compile_graph accepts.  CPython's compiler needs
about 50 µs and 8 KB of peak memory per node (a 300k-node chain: 15 s and 2.3 GB), so
beyond this a ValueError says to use eager ``root.backward()``, which has no such limit."""

_INLINE_MAX_ARGS = 200  # longer fused ops call the row instead: a + b + ... nests too deep for compile()

# Operator precedence of the emitted text, so parentheses appear only where Python needs them.
_ADD, _MUL, _UNARY, _ATOM = 1, 2, 3, 4


_MAX_PATHS = 8  # a row with more branch outcomes than this is called, not inlined
_MAX_DECISIONS = 16


class _Untraceable(BaseException):
    """A row needs a concrete float (``math.*``, ``float()``) or branches too much to inline.

    A BaseException so that no ``except Exception`` inside a row can swallow it.
    """


class _Sym:
    """A symbolic float: arithmetic on it builds the Python source that computes it.

    Its ``/`` and ``**`` mean the rule table's IEEE-safe division and power (what ``ops.div``
    and ``ops.power`` do to floats), so the generated code never raises.  A comparison gives
    a :class:`_Condition`, whose truth the tracer decides, running the row once per path
    (see :meth:`_Codegen.trace`).  Anything that needs a concrete value (``math.*``,
    ``float()``) raises ``_Untraceable``, and the caller calls the row's function from the
    generated code instead.
    """

    __slots__ = ("text", "prec", "gen", "plain")

    def __init__(self, text: str, prec: int, gen: _Codegen, plain: bool = False) -> None:
        self.text = text
        self.prec = prec
        self.gen = gen
        self.plain = plain  # a variable or a constant: nothing to compute

    def _binary(self, symbol: str, prec: int, left: Any, right: Any) -> _Sym:
        left = self.gen.sym(left)
        right = self.gen.sym(right)
        lt = left.text if left.prec >= prec else f"({left.text})"
        rt = right.text if right.prec > prec else f"({right.text})"
        return _Sym(f"{lt} {symbol} {rt}", prec, self.gen)

    def __add__(self, other: Any) -> _Sym:
        return self._binary("+", _ADD, self, other)

    def __radd__(self, other: Any) -> _Sym:
        return self._binary("+", _ADD, other, self)

    def __sub__(self, other: Any) -> _Sym:
        return self._binary("-", _ADD, self, other)

    def __rsub__(self, other: Any) -> _Sym:
        return self._binary("-", _ADD, other, self)

    def __mul__(self, other: Any) -> _Sym:
        return self._binary("*", _MUL, self, other)

    def __rmul__(self, other: Any) -> _Sym:
        return self._binary("*", _MUL, other, self)

    def __truediv__(self, other: Any) -> _Sym:
        return self.gen.call(ops._fdiv, (self, other))

    def __rtruediv__(self, other: Any) -> _Sym:
        return self.gen.call(ops._fdiv, (other, self))

    def __pow__(self, other: Any) -> _Sym:
        return self.gen.call(ops._fpow, (self, other))

    def __rpow__(self, other: Any) -> _Sym:
        return self.gen.call(ops._fpow, (other, self))

    def __neg__(self) -> _Sym:
        text = self.text if self.prec >= _UNARY else f"({self.text})"
        return _Sym(f"-{text}", _UNARY, self.gen)

    def __pos__(self) -> _Sym:
        return self

    def _concrete(self, *args: Any) -> Any:
        raise _Untraceable(self.text)

    __bool__ = __float__ = __int__ = __index__ = _concrete

    def _compare(self, symbol: str, other: Any) -> _Condition:
        # Arithmetic binds tighter than comparisons: operands need no parentheses.
        return _Condition(f"{self.text} {symbol} {self.gen.sym(other).text}", self.gen)

    def __lt__(self, other: Any) -> _Condition:
        return self._compare("<", other)

    def __le__(self, other: Any) -> _Condition:
        return self._compare("<=", other)

    def __gt__(self, other: Any) -> _Condition:
        return self._compare(">", other)

    def __ge__(self, other: Any) -> _Condition:
        return self._compare(">=", other)

    def __eq__(self, other: Any) -> _Condition:  # type: ignore[override]
        return self._compare("==", other)

    def __ne__(self, other: Any) -> _Condition:  # type: ignore[override]
        return self._compare("!=", other)

    __hash__ = None  # type: ignore[assignment]

    @classmethod
    def _apply_rule(cls, rule: Op, *args: Any) -> _Sym:
        gen = next(a.gen for a in args if isinstance(a, _Sym))
        return gen.forward_of(rule, args)


class _Condition:
    """A traced comparison.  Its truth value is the tracer's decision for the current path
    (asked once: ``a > 0 or ...`` followed by ``if`` tests the same object twice)."""

    __slots__ = ("text", "gen", "decision")

    def __init__(self, text: str, gen: _Codegen) -> None:
        self.text = text
        self.gen = gen
        self.decision: bool | None = None

    def __bool__(self) -> bool:
        if self.decision is None:
            self.decision = self.gen.decide(self.text)
        return self.decision


def conditional_expression(condition: str, yes: str, no: str) -> str:
    """How plain Python chooses between two traced branches (compile_graph's dialect)."""
    return f"({yes} if {condition} else {no})"


class _Codegen:
    """Names the objects generated code refers to and traces rows into expressions.

    ``branch(condition, yes, no)`` renders a traced branch: a conditional expression for
    floats, ``numpy.where`` for arrays (:mod:`autograd.batched`).
    """

    def __init__(self, branch: Callable[[str, str, str], str] = conditional_expression) -> None:
        self.branch = branch
        self.namespace: dict[str, Any] = {"inf": math.inf, "nan": math.nan}
        self._names: dict[int, str] = {}
        self._prefix: list[bool] = []  # decisions to replay on the current run
        self._taken: list[tuple[str, bool]] = []  # (condition, decision) so far on this run
        self._pending: list[list[bool]] = []  # prefixes still to explore
        self._tracing = 0  # nesting depth of trace(): rows apply other rows (relu -> step)

    def decide(self, condition: str) -> bool:
        if not self._tracing:
            raise _Untraceable(condition)
        taken = self._taken
        i = len(taken)
        if i >= _MAX_DECISIONS:
            raise _Untraceable(condition)
        if i < len(self._prefix):
            decision = self._prefix[i]
        else:  # a new branch point: take it now, explore the other side later
            decision = True
            self._pending.append([d for _, d in taken] + [False])
        taken.append((condition, decision))
        return decision

    def trace(self, function: Any, args: tuple) -> Any:
        """``function(*args)`` as an expression (or a tuple of them): run once per branch
        path, then nest the results in conditional expressions that test the same
        comparisons in the same order, so the generated code computes exactly what the
        function computes on floats."""
        saved = self._prefix, self._taken, self._pending
        self._pending = [[]]
        self._tracing += 1
        paths: list[tuple[list[tuple[str, bool]], Any]] = []
        try:
            while self._pending:
                if len(paths) == _MAX_PATHS:
                    raise _Untraceable(getattr(function, "__name__", "row"))
                self._prefix = self._pending.pop()
                self._taken = []
                result = function(*args)
                result = tuple(map(self.sym, result)) if result.__class__ is tuple else self.sym(result)
                paths.append((self._taken, result))
        finally:
            self._prefix, self._taken, self._pending = saved
            self._tracing -= 1
        first = paths[0][1]
        if len(paths) == 1:  # no branches
            return first
        if first.__class__ is not tuple:
            return _Sym(_nest(paths, 0, self.branch), _ATOM, self)
        if any(len(result) != len(first) for _, result in paths):
            raise _Untraceable(getattr(function, "__name__", "row"))
        return tuple(
            _Sym(_nest([(taken, result[j]) for taken, result in paths], 0, self.branch), _ATOM, self)
            for j in range(len(first))
        )

    def name_of(self, obj: Any) -> str:
        name = self._names.get(id(obj))
        if name is None:
            base = getattr(obj, "__name__", "f").strip("_<>") or "f"
            base = "".join(c if c.isalnum() else "_" for c in base)
            name = f"_{base}_{len(self._names)}"
            self._names[id(obj)] = name
            self.namespace[name] = obj
        return name

    def sym(self, x: Any) -> _Sym:
        if isinstance(x, _Sym):
            return x
        if x.__class__ is int:  # e.g. builtin sum()'s start value: int 0 + float == 0.0 + float
            x = float(x)
        value = to_float(x, "constant in a rule")
        if value != value:
            return _Sym("nan", _ATOM, self, True)
        if math.isinf(value):
            return _Sym("inf" if value > 0 else "-inf", _ATOM if value > 0 else _UNARY, self, True)
        text = repr(value)
        return _Sym(text, _UNARY if text.startswith("-") else _ATOM, self, True)

    def call(self, function: Any, args: tuple) -> _Sym:
        texts = ", ".join(self.sym(a).text for a in args)
        return _Sym(f"{self.name_of(function)}({texts})", _ATOM, self)

    def forward_of(self, rule: Op, args: tuple) -> _Sym:
        """The expression for ``rule.forward(*args)``: traced if possible, else a call."""
        if len(args) <= _INLINE_MAX_ARGS:
            try:
                return self.trace(rule.forward, args)
            except (_Untraceable, TypeError, AttributeError, ValueError):
                pass
        return self.call(rule.forward, args)

    def locals_of(
        self, rule: Op, args: tuple, out: _Sym, *, max_args: int = _INLINE_MAX_ARGS
    ) -> list[_Sym] | None:
        """The expressions of ``rule.local(*args, out)``, or None when the row must be called.

        ``max_args``: longer rows are called (their traced text may nest too deep for compile()).
        """
        if len(args) > max_args:
            return None
        try:
            result = self.trace(rule.local, args + (out,))
        except (_Untraceable, TypeError, AttributeError, ValueError):
            return None
        return list(result) if result.__class__ is tuple else None


def _nest(
    paths: list[tuple[list[tuple[str, bool]], _Sym]], depth: int, branch: Callable[[str, str, str], str]
) -> str:
    """``branch(cond, A, B)`` for paths that agree on their first ``depth`` decisions.

    Recursive over the few (at most _MAX_PATHS) paths of one row, never over the graph.
    """
    if len(paths) == 1 and len(paths[0][0]) == depth:
        result = paths[0][1]
        return result.text if result.prec == _ATOM else f"({result.text})"
    conditions = {taken[depth][0] for taken, _ in paths if len(taken) > depth}
    if len(conditions) != 1 or any(len(taken) <= depth for taken, _ in paths):
        raise _Untraceable("a row whose branches are not a function of its comparisons")
    (condition,) = conditions
    yes = [path for path in paths if path[0][depth][1]]
    no = [path for path in paths if not path[0][depth][1]]
    if not yes or not no:
        raise _Untraceable(condition)
    return branch(condition, _nest(yes, depth + 1, branch), _nest(no, depth + 1, branch))


def trace_row(
    gen: _Codegen, rule: Op, arity: int, *, max_args: int = _INLINE_MAX_ARGS
) -> tuple[str, list[tuple[str, bool]] | None]:
    """One row as text templates with holes ``{0}..{arity-1}`` for its inputs and ``{arity}`` for
    its output: ``(forward, [(local, plain), ...])``, locals None when the row must be called.

    ``plain`` marks a local that is a hole or a constant (nothing to compute).  Tracing once
    per (row, arity) and filling the holes per node is much cheaper than tracing per node.
    """
    holes = tuple(_Sym(f"{{{i}}}", _ATOM, gen, True) for i in range(arity + 1))
    traced = gen.locals_of(rule, holes[:-1], holes[-1], max_args=max_args)
    forward = gen.forward_of(rule, holes[:-1]).text
    return forward, None if traced is None else [(d.text, d.plain) for d in traced]


def _forward_lines(gen: _Codegen, order: list[Value], names: dict[int, str]) -> tuple[list[str], list[list[str]]]:
    """The forward pass, one assignment per node (plus its computed local derivatives), and
    for each node the names or constants of its local derivatives."""
    fwd: list[str] = []
    locals_per_node: list[list[str]] = []
    templates: dict[tuple[Op, int], tuple[str, list[tuple[str, bool]] | None]] = {}
    for k, node in enumerate(order):
        rule = cast(Op, node._rule)  # interior nodes have a row
        ops.require_row(rule, "compile_graph()")
        parents = node.parents
        arity = len(parents)
        template = templates.get((rule, arity))
        if template is None:
            template = templates[(rule, arity)] = trace_row(gen, rule, arity)
        out_name = f"v{k}"
        fill = [names[id(p)] for p in parents]
        fill.append(out_name)
        forward_text, local_templates = template
        fwd.append(f"    {out_name} = {forward_text.format(*fill)}")
        names[id(node)] = out_name
        if local_templates is None:  # call the row; unpack its tuple into named derivatives
            local_names = [f"d{k}_{j}" for j in range(arity)]
            target = ", ".join(local_names) + ("," if arity == 1 else "")
            fwd.append(f"    {target} = {gen.name_of(rule.local)}({', '.join(fill)})")
            locals_per_node.append(local_names)
            continue
        local_texts = []
        for j, (text, plain) in enumerate(local_templates):
            if plain:
                local_texts.append(text.format(*fill))  # a variable or a constant: use it directly
            else:
                fwd.append(f"    d{k}_{j} = {text.format(*fill)}")
                local_texts.append(f"d{k}_{j}")
        locals_per_node.append(local_texts)
    return fwd, locals_per_node


def _backward_lines(
    order: list[Value], names: dict[int, str], locals_per_node: list[list[str]]
) -> tuple[list[str], list[str]]:
    """The eager backward loop unrolled, and the forward variables it reads (its state).

    Same order, same operations: interior grads start at 0.0 and every contribution is
    g * local added to the parent's grad.
    """
    bwd: list[str] = []
    needed: dict[str, None] = {}
    grad_name = {id(node): f"g{k}" for k, node in enumerate(order)}
    started: set[str] = set()
    last = len(order) - 1
    for k in range(last, -1, -1):
        node = order[k]
        g = "seed" if k == last else f"g{k}"  # every interior node feeds the root: g{k} is set
        for p, local in zip(node.parents, locals_per_node[k]):
            if local == "1.0":
                term = g
            elif local == "-1.0":
                term = f"-{g}"
            else:
                term = f"{g} * {local}"
                if _is_variable(local):
                    needed[local] = None
            if p._rule is None:
                bwd.append(f"    g{names[id(p)]} += {term}")
            else:
                target = grad_name[id(p)]
                if target in started:
                    bwd.append(f"    {target} += {term}")
                else:
                    started.add(target)
                    bwd.append(f"    {target} = 0.0 + {term}")  # 0.0 + x: eager's zeroed grad, -0.0 included
    return bwd, list(needed)


def _assemble(
    fwd: list[str], bwd: list[str], state: list[str], names: dict[int, str], num_leaves: int, last: int,
    watch: tuple[Value, ...],
) -> str:
    """The module text: ``_forward(L)`` returning (root, state, watched) and ``_backward(S, seed, G)``."""
    leaf_names = [f"a{i}" for i in range(num_leaves)]
    lines = ["def _forward(L):"]
    if leaf_names:
        lines.append(f"    {', '.join(leaf_names)}, = L")
    lines += fwd
    watched = "".join(f"{names[id(node)]}, " for node in watch)
    lines.append(f"    return v{last}, ({', '.join(state)}{',' if state else ''}), ({watched})")
    lines.append("")
    lines.append("def _backward(S, seed, G):")
    if state:
        lines.append(f"    {', '.join(state)}, = S")
    grads = [f"g{name}" for name in leaf_names]
    lines.append(f"    {', '.join(grads)}, = G")
    lines += bwd
    lines.append(f"    return ({', '.join(grads)},)")
    return "\n".join(lines) + "\n"


def _is_variable(plain_text: str) -> bool:
    """Whether a plain operand is one of our variables (a0, v3, d3_0) rather than a constant."""
    return plain_text[0] in "avd"


class CompiledGraph:
    """A traced graph whose forward and backward run as generated straight-line Python.

    ``forward()`` recomputes every node's value and local derivatives from the leaves' current
    ``.data`` (data-dependent derivatives such as relu's and abs's follow the new values) and
    returns the root's value, also stored in ``root.data``.  ``backward(grad=1.0)`` then adds
    d(root)/d(leaf) to each leaf's ``.grad`` exactly as ``root.backward()`` would (the same
    float operations in the same order).  Other interior nodes' ``.data`` and ``.grad`` are
    left untouched (the generated code keeps them in local variables, which is where the
    speed is), except the ``watch``-ed nodes, whose ``.data`` each ``forward()`` updates.
    """

    def __init__(self, root: Value, *, watch: Iterable[Value] = ()) -> None:
        if not isinstance(root, Value):
            raise TypeError(f"compile_graph() root must be a Value, got {type(root).__name__}")
        self.root = root
        watch = tuple(watch)
        for node in watch:
            if not isinstance(node, Value):
                raise TypeError(f"compile_graph() watch must hold Values, got {type(node).__name__}: {node!r:.60}")
        order = topological_order(root)
        leaves: list[Value] = []
        names: dict[int, str] = {}  # id(node) -> variable holding its value
        if not order:
            leaves.append(root)
        for node in order:
            for p in node.parents:
                if p._rule is None and id(p) not in names:
                    names[id(p)] = f"a{len(leaves)}"
                    leaves.append(p)
        total = len(order) + len(leaves)
        if total > MAX_NODES:
            raise ValueError(
                f"compile_graph(): the graph has {total} nodes, more than autograd.compile.MAX_NODES "
                f"= {MAX_NODES}; use root.backward() (eager) for graphs this large"
            )
        self.leaves: tuple[Value, ...] = tuple(leaves)
        self.num_nodes = total
        in_graph = {id(node) for node in order}
        for node in watch:
            if node._rule is not None and id(node) not in in_graph:
                raise ValueError(f"compile_graph(): watched node {node!r} is not part of the graph under root")
        # Leaves already hold their values; only interior nodes need writing back.
        self.watch: tuple[Value, ...] = tuple(node for node in watch if node._rule is not None)
        self._state: tuple | None = None
        if not order:
            self.source = ""
            self._forward_code = self._backward_code = None
            return
        self.source, namespace = self._generate(order, names, len(leaves), self.watch)
        code = compile(self.source, "<autograd.compile_graph>", "exec")
        exec(code, namespace)
        self._forward_code = namespace["_forward"]
        self._backward_code = namespace["_backward"]
        self.forward()

    @staticmethod
    def _generate(
        order: list[Value], names: dict[int, str], num_leaves: int, watch: tuple[Value, ...]
    ) -> tuple[str, dict[str, Any]]:
        gen = _Codegen()
        forward_lines, locals_per_node = _forward_lines(gen, order, names)
        backward_lines, state = _backward_lines(order, names, locals_per_node)
        source = _assemble(forward_lines, backward_lines, state, names, num_leaves, len(order) - 1, watch)
        return source, gen.namespace

    def forward(self) -> float:
        """Recompute the graph from the leaves' current ``.data``; return (and set) the root's value."""
        if self._forward_code is None:
            return self.root.data
        out, self._state, watched = self._forward_code(list(map(_get_data, self.leaves)))
        self.root.data = out
        for node, data in zip(self.watch, watched):
            node.data = data
        return out

    def backward(self, grad: Any = 1.0) -> None:
        """Add d(root)/d(leaf) * grad to every leaf's ``.grad``, as ``root.backward(grad)`` does."""
        seed = to_float(grad, "CompiledGraph.backward() grad")
        if self._backward_code is None:
            self.root.grad += seed
            return
        # Each leaf's contributions are summed from 0.0 and added once, as eager backward does.
        new = self._backward_code(self._state, seed, [0.0] * len(self.leaves))
        for leaf, g in zip(self.leaves, new):
            leaf.grad = leaf.grad + g

    def __repr__(self) -> str:
        return f"CompiledGraph(nodes={self.num_nodes}, leaves={len(self.leaves)}, lines={self.source.count(chr(10))})"


_get_data = attrgetter("data")


def compile_graph(root: Value, *, watch: Iterable[Value] = ()) -> CompiledGraph:
    """Trace the graph under ``root`` once and generate fast code for its forward and backward.

    For fixed-structure work (a training step on a fixed batch size): change leaves' ``.data``,
    call ``.forward()`` then ``.backward()``, repeat.  ``watch``: interior nodes (say, a
    model's predictions) whose ``.data`` every ``forward()`` should update.  Compiling runs
    ``forward()`` once.  See :class:`CompiledGraph`.
    """
    return CompiledGraph(root, watch=watch)
