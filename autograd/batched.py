"""compile_batched: one sample's graph run over a whole batch with numpy, identical rows grouped into array ops."""

from __future__ import annotations

import re
from collections import deque
from functools import partial
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence, cast

from . import ops
from .compile import _INLINE_MAX_ARGS, _Codegen, trace_row
from .engine import topological_order
from .ops import Op
from .value import Value

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import ArrayLike, NDArray

INSTALL_NUMPY = "compile_batched() needs numpy: pip install 'valuegrad[fast]' (or pip install numpy)"

def _numpy() -> Any:
    """numpy, imported on first use: the engine itself needs only the standard library."""
    try:
        import numpy
    except ImportError as error:
        raise ImportError(INSTALL_NUMPY) from error
    return numpy


def _where(condition: str, yes: str, no: str) -> str:
    # Both sides are computed for every sample (warnings silenced) and the condition picks,
    # which is what the scalar row's `if` does per sample.
    return f"_where({condition}, {yes}, {no})"


def _array_primitives(np: Any, rows: Iterable[Op] = ()) -> dict[Any, Callable[..., Any]]:
    """The array twins (``Op.array``: a row's forward on numpy arrays, with the same IEEE
    semantics) of the table's rows and of ``rows``, keyed by the float forward they stand for
    (traced derivatives call ``/`` and ``**`` as those forwards directly).  Derivatives stay
    in the rows."""
    return {rule.forward: partial(rule.array, np) for rule in (*ops.RULES.values(), *rows) if rule.array is not None}


class _ArrayCodegen(_Codegen):
    """compile_graph's tracer in numpy's dialect: a traced branch is ``numpy.where`` over both
    sides, and a row whose forward has an array twin is a call of the twin (relu's one
    ``maximum`` instead of two nested ``where`` over the batch)."""

    def __init__(self) -> None:
        super().__init__(branch=_where)
        self.rows_with_twins: list[Op] = []  # the x ** c rows are made on first use, not in the table

    def forward_of(self, rule: Op, args: tuple) -> Any:
        if rule.array is not None:
            self.rows_with_twins.append(rule)
            return self.call(rule.forward, args)
        return super().forward_of(rule, args)


def _elementwise(np: Any, function: Callable[..., Any], outputs: int | None) -> Callable[..., Any]:
    """``function`` (floats in, a float or a tuple out) applied sample by sample: exact, slow;
    for rows (say, from ``defop``) whose functions tracing cannot see into."""

    def run(*arrays: Any) -> Any:
        arrays = np.broadcast_arrays(*[np.asarray(a, dtype=np.float64) for a in arrays])
        shape = arrays[0].shape
        results = [function(*xs) for xs in zip(*[a.ravel().tolist() for a in arrays])]
        if outputs is None:
            return np.array([ops.to_float(r, "row result") for r in results], dtype=np.float64).reshape(shape)
        return tuple(np.array([r[j] for r in results], dtype=np.float64).reshape(shape) for j in range(outputs))

    return run


def _array_namespace(np: Any, gen: _ArrayCodegen) -> dict[str, Any]:
    primitives = _array_primitives(np, gen.rows_with_twins)
    namespace: dict[str, Any] = {
        "_where": np.where,
        "_add_at": np.add.at,
        "_matmul": np.dot,  # every product here is 2-D: dot is matmul with less overhead per call
        "_np_broadcast": np.broadcast_to,
        "_stack": lambda arrays: np.stack(np.broadcast_arrays(*arrays)),
    }
    for name, obj in gen.namespace.items():
        if callable(obj) and not isinstance(obj, (_LocalCall, _StackedForward)):
            obj = primitives.get(obj) or _elementwise(np, obj, None)
        namespace[name] = obj
    return namespace


# ---------------------------------------------------------------------------------------
# The plan: node rows in two buffers, groups of nodes computed together.
#
# V has one row of B samples per node that depends on an input ("varying"); C has one row
# of width 1 per node that does not (shared leaves, and interior nodes computed from them
# alone, such as an L2 penalty): numpy broadcasting mixes the two.  Gradients live in GV
# (per sample) and GC (summed over the batch: a shared node's gradient is only ever needed
# summed, and sum_b g_b * local = (sum_b g_b) * local because its local does not vary).


class _Group:
    """Nodes with the same row, arity, depth and per-input buffer computed by one array op."""

    __slots__ = ("rule", "nodes", "varying", "spaces", "matmul", "start")

    def __init__(self, rule: Op, varying: bool, spaces: tuple[bool, ...], matmul: int | None) -> None:
        self.rule = rule
        self.nodes: list[Value] = []
        self.varying = varying
        self.spaces = spaces  # per input position: True if the parent lives in V
        self.matmul = matmul  # dot as a matrix product: None, or the offset of the shared varying side
        self.start = 0  # first row of the group's outputs in its buffer


def _matmul_side(node: Value, varying: set[int]) -> int | None:
    """For a dot node: the offset (0 or n) of the side that varies, if the other side and the
    bias are shared (a layer's weights); such dots with the same varying side form a product."""
    parents = node.parents
    n = len(parents) // 2
    if n == 0:
        return None
    left, right = parents[:n], parents[n : 2 * n]
    shared_bias = len(parents) % 2 == 0 or id(parents[-1]) not in varying
    if not shared_bias:
        return None
    if all(id(p) in varying for p in right) and not any(id(p) in varying for p in left):
        return n
    if all(id(p) in varying for p in left) and not any(id(p) in varying for p in right):
        return 0
    return None


class BatchedGraph:
    """One sample's graph, executed for a whole batch of samples at once with numpy.

    ``forward(batch)`` runs every node for each row of ``batch`` (one column per input leaf)
    and returns the root per sample; ``backward(reduction)`` adds the batch mean (or sum) of
    d(root)/d(leaf) to every shared leaf's ``.grad`` and returns the per-sample gradients
    with respect to the inputs.  Shared leaves' ``.data`` is read at every ``forward()``.
    """

    def __init__(self, root: Value, inputs: Sequence[Value]) -> None:
        np = _numpy()
        self._np = np
        where = "compile_batched()"
        if not isinstance(root, Value):
            raise TypeError(f"{where} root must be a Value, got {type(root).__name__}: {root!r:.60}")
        inputs = list(inputs) if not isinstance(inputs, Value) else [inputs]
        seen: set[int] = set()
        for i, leaf in enumerate(inputs):
            if not isinstance(leaf, Value):
                raise TypeError(f"{where} inputs[{i}] must be a Value, got {type(leaf).__name__}: {leaf!r:.60}")
            if leaf._rule is not None:
                raise ValueError(f"{where} inputs[{i}] must be a leaf (a Value with no parents), got op {leaf.op!r}")
            if id(leaf) in seen:
                raise ValueError(f"{where} inputs[{i}] appears twice in inputs")
            seen.add(id(leaf))
        self.root = root
        self.inputs: tuple[Value, ...] = tuple(inputs)
        order = topological_order(root)
        for node in order:
            ops.require_row(cast(Op, node._rule), where)
        everything = topological_order(root, include_leaves=True)
        self.params: tuple[Value, ...] = tuple(n for n in everything if n._rule is None and id(n) not in seen)
        self._plan(order)
        self._batch = 0
        self._buffers: tuple[Any, Any] | None = None

    # -- compile time ----------------------------------------------------------------
    def _plan(self, order: list[Value]) -> None:
        varying: set[int] = {id(x) for x in self.inputs}
        depth: dict[int, int] = {id(leaf): 0 for leaf in self.inputs + self.params}  # leaves: depth 0
        groups: dict[tuple, _Group] = {}
        for node in order:
            parents = node.parents
            d = 1 + max(depth[id(p)] for p in parents)
            depth[id(node)] = d
            spaces = tuple(id(p) in varying for p in parents)
            is_varying = any(spaces)
            if is_varying:
                varying.add(id(node))
            matmul = _matmul_side(node, varying) if node._rule is ops.DOT and is_varying else None
            shared = tuple(id(p) for p in parents[matmul : matmul + len(parents) // 2]) if matmul is not None else ()
            key = (node._rule, len(parents), d, spaces, matmul, shared)
            group = groups.get(key)
            if group is None:
                group = groups[key] = _Group(cast(Op, node._rule), is_varying, spaces, matmul)
            group.nodes.append(node)
        rank = _discovery_rank(self.root)
        for group in groups.values():
            group.nodes.sort(key=lambda node: rank[id(node)])
        ordered = sorted(groups.values(), key=lambda g: (depth[id(g.nodes[0])], rank[id(g.nodes[0])]))
        self.params = _shared_leaves_in_use_order(ordered, self.params)
        rows: dict[int, int] = {id(x): i for i, x in enumerate(self.inputs)}
        rows.update({id(p): i for i, p in enumerate(self.params)})
        counts = [len(self.inputs), len(self.params)]  # next free row of V, of C
        for group in ordered:
            space = 0 if group.varying else 1
            group.start = counts[space]
            for node in group.nodes:
                rows[id(node)] = counts[space]
                counts[space] += 1
        self._rows = rows
        self._varying = varying
        self._shape = tuple(counts)
        self.groups: tuple[_Group, ...] = tuple(ordered)
        self.num_nodes = len(order) + len(self.inputs) + len(self.params)
        self._generate()

    def _generate(self) -> None:
        np = self._np
        gen = _ArrayCodegen()
        self._constants: dict[str, Any] = {}
        fwd: list[str] = []
        bwd: list[str] = []
        templates: dict[tuple[Op, int], tuple[str, list[tuple[str, bool]] | None]] = {}
        for k, group in enumerate(self.groups):
            if group.matmul is not None:
                f, b = self._matmul_lines(k, group)
            else:
                f, b = self._group_lines(k, group, gen, templates)
            fwd += f
            bwd = b + bwd  # backward visits the groups in reverse
        namespace = _array_namespace(np, gen)
        namespace.update(self._constants)
        source = ["def _forward(V, C):"] + (fwd or ["    pass"]) + ["", "def _backward(V, C, GV, GC):"]
        source += bwd or ["    pass"]
        self.source = "\n".join(source) + "\n"
        exec(compile(self.source, "<autograd.compile_batched>", "exec"), namespace)
        self._forward_code = namespace["_forward"]
        self._backward_code = namespace["_backward"]

    def _index(self, rows: list[int], prefix: str, *, broadcast: bool = True) -> str:
        """Text that selects ``rows`` of a buffer: a slice (a view) when they are consecutive.

        With ``broadcast``, rows that are all one row select it once (numpy broadcasts it over
        the group); a matrix product's contraction side needs every row (``broadcast=False``).
        """
        first = rows[0]
        if rows == list(range(first, first + len(rows))):
            return f"{first}:{first + len(rows)}"
        if broadcast and all(r == first for r in rows):
            return f"{first}:{first + 1}"  # one parent shared by the whole group: broadcast it
        name = f"_{prefix}{len(self._constants)}"
        self._constants[name] = self._np.array(rows, dtype=self._np.intp)
        return name

    def _gather(self, parents: list[Value], varying: bool, prefix: str) -> str:
        return f"{'V' if varying else 'C'}[{self._index([self._rows[id(p)] for p in parents], prefix)}]"

    def _scatter(self, parents: list[Value], parent_varying: bool, group_varying: bool, term: str) -> str:
        """A statement adding ``term`` (one row per group member) into the parents' gradients."""
        if group_varying and not parent_varying:
            term = f"({term}).sum(axis=1, keepdims=True)"  # shared parent: sum over the batch
        buffer = "GV" if parent_varying else "GC"
        rows = [self._rows[id(p)] for p in parents]
        first = rows[0]
        if len(rows) > 1 and all(r == first for r in rows):
            return f"    {buffer}[{first}] += ({term}).sum(axis=0)"
        if len(set(rows)) < len(rows):
            name = f"_I{len(self._constants)}"
            self._constants[name] = self._np.array(rows, dtype=self._np.intp)
            return f"    _add_at({buffer}, {name}, {term})"
        return f"    {buffer}[{self._index(rows, 'I')}] += {term}"

    def _group_lines(
        self, k: int, group: _Group, gen: _Codegen, templates: dict
    ) -> tuple[list[str], list[str]]:
        rule, nodes = group.rule, group.nodes
        arity = len(group.spaces)
        out_buffer = "V" if group.varying else "C"
        out = f"{out_buffer}[{group.start}:{group.start + len(nodes)}]"
        columns = [[node.parents[j] for node in nodes] for j in range(arity)]
        names = [f"a{j}" for j in range(arity)]
        gathers = [f"    a{j} = {self._gather(columns[j], group.spaces[j], 'X')}" for j in range(arity)]
        if len(nodes) == 1 and rule in (ops.SUM, ops.DOT) and arity > 2 and len(set(group.spaces)) == 1:
            sliced = self._sliced_lines(k, group, out, gen)
            if sliced is not None:
                return sliced
        if arity > _INLINE_MAX_ARGS:
            return self._stacked_lines(k, group, columns, out, gen)
        template = templates.get((rule, arity))
        if template is None:
            template = templates[(rule, arity)] = _trace(gen, rule, arity)
        forward_text, local_templates = template
        fwd = [f"    # group {k}: {len(nodes)} x {rule.name} (arity {arity})", *gathers]
        fwd.append(f"    {out} = {forward_text.format(*names)}")
        fill = names + ["o"]
        if local_templates is None:  # the row is called sample by sample
            local_name = gen.name_of(_LocalCall(rule, arity))
            computed = [f"    L = {local_name}({', '.join(fill)})"]
            local_texts = [f"L[{j}]" for j in range(arity)]
        else:
            computed = []
            local_texts = [text.format(*fill) for text, _ in local_templates]
        used = set(re.findall(r"\b[ao]\d*\b", " ".join(local_texts + computed)))
        bwd = [f"    # group {k}: {len(nodes)} x {rule.name}"]
        bwd += [line for j, line in enumerate(gathers) if f"a{j}" in used]
        if "o" in used:
            bwd.append(f"    o = {out}")
        bwd += computed
        bwd.append(f"    g = G{out}")
        for j, local in enumerate(local_texts):
            term = "g" if local == "1.0" else "-g" if local == "-1.0" else f"g * ({local})"
            bwd.append(self._scatter(columns[j], group.spaces[j], group.varying, term))
        return fwd, bwd

    def _stacked_lines(
        self, k: int, group: _Group, columns: list[list[Value]], out: str, gen: _Codegen
    ) -> tuple[list[str], list[str]]:
        """A long fused row whose inputs lie in many runs of rows (an L2 penalty over weights in
        another order than the layers keep them), or a group of such nodes: inputs stacked in one array,
        forward with the array version of the row, backward by one scatter-add when the
        row's locals are its inputs or constants (sum, dot)."""
        np = self._np
        rule, arity, nodes = group.rule, len(columns), group.nodes
        if len(set(group.spaces)) != 1:
            return self._per_input_lines(k, group, columns, out, gen)
        buffer = "V" if group.spaces[0] else "C"
        rows = np.array([[self._rows[id(p)] for p in column] for column in columns], dtype=np.intp)
        name = f"_S{len(self._constants)}"
        self._constants[name] = rows
        plain = _plain_locals(gen, rule, arity)
        picks = [j for j in plain if isinstance(j, int)] if plain else []
        constant = plain[0] if plain and all(c == plain[0] for c in plain) and isinstance(plain[0], str) else None
        if len(picks) != arity and constant is None:  # not all inputs, not all one constant
            return self._per_input_lines(k, group, columns, out, gen)
        forward = gen.name_of(_StackedForward(rule))
        fwd = [f"    # group {k}: {len(nodes)} x {rule.name} (arity {arity}, stacked)", f"    S = {buffer}[{name}]"]
        fwd.append(f"    {out} = {forward}(S)")
        bwd = [f"    # group {k}: {len(nodes)} x {rule.name} (stacked)", f"    g = G{out}"]
        if picks:
            perm = f"_P{len(self._constants)}"
            self._constants[perm] = np.array(picks, dtype=np.intp)
            bwd.append(f"    T = g * {buffer}[{name}][{perm}]")
        else:
            bwd.append(f"    T = _np_broadcast(g * {constant}, ({arity},) + g.shape)")
        if group.varying and not group.spaces[0]:
            bwd.append("    T = T.sum(axis=2, keepdims=True)")
        bwd.append(f"    _add_at(G{buffer}, {name}, T)")
        return fwd, bwd

    def _sliced_lines(self, k: int, group: _Group, out: str, gen: _Codegen) -> tuple[list[str], list[str]] | None:
        """One long sum or dot (an L2 penalty over every weight, a sum over the inputs) whose
        inputs lie in a few runs of consecutive rows of one buffer: the forward reads views,
        and the backward adds g times each run of local derivatives (inputs of the node, or
        one constant, as the traced row says) into a run of rows.  None if it does not fit."""
        rule, (node,) = group.rule, group.nodes
        arity = len(group.spaces)
        plain = _plain_locals(gen, rule, arity)
        if plain is None:
            return None
        rows = [self._rows[id(p)] for p in node.parents]
        runs = _runs(rows, plain, rows)
        if len(runs) > _MAX_RUNS:
            return None
        buffer = "V" if group.spaces[0] else "C"
        if rule is ops.DOT:  # the reductions _StackedForward knows: sum and dot (+ a bias)
            n = arity // 2
            left = self._index(rows[:n], "S", broadcast=False)
            right = self._index(rows[n : 2 * n], "S", broadcast=False)
            value = f"({buffer}[{left}] * {buffer}[{right}]).sum(axis=0)"
            if arity % 2:
                value += f" + {buffer}[{rows[-1]}]"
        else:
            value = f"{buffer}[{self._index(rows, 'S', broadcast=False)}].sum(axis=0)"
        fwd = [f"    # group {k}: 1 x {rule.name} (arity {arity}, {len(runs)} runs of rows)", f"    {out} = {value}"]
        bwd = [f"    # group {k}: 1 x {rule.name} ({len(runs)} runs of rows)", f"    g = G{out}"]
        for target, source, length in runs:
            if isinstance(source, str):  # a constant
                term = "g" if source == "1.0" else f"g * {source}"
            else:
                term = f"g * {buffer}[{source}:{source + length}]"
            bwd.append(f"    G{buffer}[{target}:{target + length}] += {term}")
        return fwd, bwd

    def _per_input_lines(
        self, k: int, group: _Group, columns: list[list[Value]], out: str, gen: _Codegen
    ) -> tuple[list[str], list[str]]:
        """A long fused row that cannot be stacked: the row's functions called sample by sample."""
        arity = len(columns)
        gathers = [f"    a{j} = {self._gather(columns[j], group.spaces[j], 'X')}" for j in range(arity)]
        names = [f"a{j}" for j in range(arity)]
        forward = gen.name_of(_StackedForward(group.rule))
        fwd = [f"    # group {k}: {len(group.nodes)} x {group.rule.name} (per input)", *gathers]
        fwd.append(f"    {out} = {forward}(_stack(({', '.join(names)},)))")
        local_name = gen.name_of(_LocalCall(group.rule, arity))
        bwd = [f"    # group {k}: {group.rule.name} (per input)", *gathers, f"    o = {out}", f"    g = G{out}"]
        bwd.append(f"    L = {local_name}({', '.join(names + ['o'])})")
        for j in range(arity):
            bwd.append(self._scatter(columns[j], group.spaces[j], group.varying, f"g * L[{j}]"))
        return fwd, bwd

    def _matmul_lines(self, k: int, group: _Group) -> tuple[list[str], list[str]]:
        """A layer of dot nodes sharing their varying side x: Z = W @ X (+ b) forward; backward
        dX = W.T @ G and dW = G @ X.T (the batch sum done by the product)."""
        np = self._np
        nodes = group.nodes
        arity = len(group.spaces)
        n = arity // 2
        side = group.matmul
        assert side is not None
        other = n - side  # offset of the shared (weights) side: 0 or n
        xs = list(nodes[0].parents[side : side + n])
        x_rows = [self._rows[id(p)] for p in xs]
        w_rows = np.array([[self._rows[id(p)] for p in node.parents[other : other + n]] for node in nodes], np.intp)
        m = len(nodes)
        bias = arity % 2 == 1
        out = f"V[{group.start}:{group.start + m}]"
        x_text = f"V[{self._index(x_rows, 'X', broadcast=False)}]"
        flat = w_rows.ravel()
        width = n + 1 if bias else n
        block = np.arange(flat[0], flat[0] + m * width).reshape(m, width)
        b_rows = [self._rows[id(node.parents[-1])] for node in nodes] if bias else []
        if bias and np.array_equal(block[:, :n], w_rows) and b_rows == block[:, n].tolist():
            # each neuron's weights, then its bias: one (m, n + 1) block of C, read as views
            whole = f"C[{flat[0]}:{flat[0] + m * width}, 0].reshape({m}, {width})"
            w_text, b_text = f"A[:, :{n}]", f"A[:, {n}:]"
            fwd = [f"    # group {k}: {m} x dot (matrix product, {n} inputs)", f"    A = {whole}"]
            fwd.append(f"    {out} = _matmul({w_text}, {x_text}) + {b_text}")
            bwd = [f"    # group {k}: {m} x dot (matrix product)", f"    g = G{out}", f"    A = {whole}"]
            bwd.append(self._scatter(xs, True, True, f"_matmul({w_text}.T, g)"))
            bwd.append(f"    A = G{whole}")
            bwd.append(f"    {w_text} += _matmul(g, {x_text}.T)")
            bwd.append(f"    {b_text} += g.sum(axis=1, keepdims=True)")
            return fwd, bwd
        if np.array_equal(flat, np.arange(flat[0], flat[0] + flat.size)):
            w_text = f"C[{flat[0]}:{flat[0] + flat.size}, 0].reshape({m}, {n})"
        else:
            name = f"_W{len(self._constants)}"
            self._constants[name] = w_rows
            w_text = f"C[{name}, 0]"
        fwd = [f"    # group {k}: {m} x dot (matrix product, {n} inputs)", f"    W = {w_text}"]
        product = f"_matmul(W, {x_text})"
        if bias:
            product += f" + {self._gather([node.parents[-1] for node in nodes], False, 'B')}"
        fwd.append(f"    {out} = {product}")
        bwd = [f"    # group {k}: {m} x dot (matrix product)", f"    g = G{out}", f"    W = {w_text}"]
        bwd.append(self._scatter(xs, True, True, "_matmul(W.T, g)"))
        weight_grad = f"_matmul(g, {x_text}.T)"
        if len(set(flat.tolist())) == flat.size:
            if w_text.startswith("C[") and ":" in w_text.split(",")[0]:
                bwd.append(f"    GC[{flat[0]}:{flat[0] + flat.size}, 0] += {weight_grad}.ravel()")
            else:
                bwd.append(f"    GC[{w_text[2:-4]}, 0] += {weight_grad}")
        else:
            name = f"_W{len(self._constants)}"
            self._constants[name] = w_rows
            bwd.append(f"    _add_at(GC[:, 0], {name}, {weight_grad})")
        if bias:
            bwd.append(self._scatter([node.parents[-1] for node in nodes], False, True, "g"))
        return fwd, bwd

    # -- run time --------------------------------------------------------------------
    def _buffers_for(self, batch: int) -> tuple[Any, Any]:
        if self._buffers is None or self._batch != batch:
            np = self._np
            self._buffers = (np.empty((self._shape[0], batch)), np.empty((self._shape[1], 1)))
            self._batch = batch
        return self._buffers

    def forward(self, batch: ArrayLike) -> NDArray[np.float64]:
        """Run the graph for every row of ``batch`` (shape (B, len(inputs))); the root per sample, shape (B,)."""
        np = self._np
        data = self._as_batch(batch)
        size = data.shape[0]
        V, C = self._buffers_for(size)
        V[: len(self.inputs)] = data.T
        C[: len(self.params), 0] = [p.data for p in self.params]
        with np.errstate(all="ignore"):
            self._forward_code(V, C)
        return self.values(self.root)

    def values(self, node: Value) -> NDArray[np.float64]:
        """``node``'s value for each sample of the last ``forward()`` batch, shape (B,)."""
        np = self._np
        if self._buffers is None:
            raise RuntimeError("BatchedGraph.values(): call forward(batch) first")
        row = self._rows.get(id(node))
        if row is None:
            raise ValueError(f"BatchedGraph.values(): {node!r:.60} is not a node of this graph")
        V, C = self._buffers
        if id(node) in self._varying:
            return V[row].copy()
        return np.full(self._batch, C[row, 0])

    def backward(self, reduction: str = "mean") -> NDArray[np.float64]:
        """Add the batch ``"mean"`` (or ``"sum"``) of d(root)/d(leaf) to every shared leaf's
        ``.grad``; return d(root_i)/d(inputs), shape (B, len(inputs)), for each sample i."""
        if reduction not in ("mean", "sum"):
            raise ValueError(f"BatchedGraph.backward(): reduction must be 'mean' or 'sum', got {reduction!r}")
        return self._backward(1.0 / self._batch if reduction == "mean" and self._batch else 1.0)

    def _backward(self, scale: float) -> NDArray[np.float64]:
        """backward() with the shared leaves' batch sums multiplied by ``scale``."""
        np = self._np
        if self._buffers is None:
            raise RuntimeError("BatchedGraph.backward(): call forward(batch) first")
        V, C = self._buffers
        GV = np.zeros_like(V)
        GC = np.zeros_like(C)
        root = self._rows.get(id(self.root))
        if root is not None and id(self.root) in self._varying:
            GV[root] = 1.0
        elif root is not None:
            GC[root, 0] = float(self._batch)  # the root is the same for every sample
        with np.errstate(all="ignore"):
            self._backward_code(V, C, GV, GC)
            shared = GC[: len(self.params), 0] * scale if scale != 1.0 else GC[: len(self.params), 0]
        for p, g in zip(self.params, shared.tolist()):
            p.grad += g
        return GV[: len(self.inputs)].T.copy()

    def _as_batch(self, batch: ArrayLike) -> NDArray[np.float64]:
        np = self._np
        try:
            data = np.asarray(batch, dtype=np.float64)
        except (TypeError, ValueError) as error:
            raise TypeError(
                f"BatchedGraph.forward(): batch must be an array of real numbers, got {type(batch).__name__}: {error}"
            ) from None
        width = len(self.inputs)
        if data.ndim != 2 or data.shape[1] != width or data.shape[0] < 1:
            raise ValueError(
                f"BatchedGraph.forward(): batch must have shape (B, {width}) with B >= 1 "
                f"(one column per input), got shape {data.shape}"
            )
        return data

    def __repr__(self) -> str:
        return (
            f"BatchedGraph(nodes={self.num_nodes}, inputs={len(self.inputs)}, shared={len(self.params)}, "
            f"groups={len(self.groups)})"
        )


_MAX_RUNS = 8  # a long fused node whose inputs need more runs of rows is gathered and scattered


def _plain_locals(gen: _Codegen, rule: Op, arity: int) -> list[int | str] | None:
    """A row's local derivatives when each is one of its inputs (its index: dot's d/dw_i is
    x_i) or a constant (its text: sum's 1.0), read off the traced row; else None."""
    holes = tuple(_hole(gen, f"{{{i}}}") for i in range(arity + 1))
    try:
        locals_ = gen.trace(rule.local, holes)
    except Exception:
        return None
    plain: list[int | str] = []
    for x in locals_ if isinstance(locals_, tuple) else (locals_,):
        sym = gen.sym(x)
        text = sym.text
        if text.startswith("{") and text.endswith("}") and text[1:-1].isdigit() and int(text[1:-1]) < arity:
            plain.append(int(text[1:-1]))
        elif sym.plain and not text.startswith("{"):
            plain.append(text)
        else:
            return None
    return plain


def _runs(targets: list[int], plain: list[int | str], rows: list[int]) -> list[tuple[int, int | str, int]]:
    """``(target, source, length)``: runs of positions whose target rows go up by one and whose
    local derivatives are inputs in rows going up by one (``source``: the first such row) or
    one constant (``source``: its text)."""
    runs: list[tuple[int, int | str, int]] = []
    for target, local in zip(targets, plain):
        source = rows[local] if isinstance(local, int) else local
        if runs:
            t, src, length = runs[-1]
            if target == t + length and (
                source == src if isinstance(source, str) else isinstance(src, int) and source == src + length
            ):
                runs[-1] = (t, src, length + 1)
                continue
        runs.append((target, source, 1))
    return runs


def _shared_leaves_in_use_order(groups: list[_Group], params: tuple[Value, ...]) -> tuple[Value, ...]:
    """The shared leaves in the order the groups read them, so that a layer's weights and
    biases sit in consecutive rows: each neuron's weights, then its bias (the order of
    ``Neuron.parameters()``).  A layer is then one (neurons, inputs + 1) block that the
    matrix product reads as views, and an L2 penalty over the parameters reads one run."""
    shared = {id(p): p for p in params}
    ordered: dict[int, Value] = {}
    for group in sorted(groups, key=lambda g: g.matmul is None):  # layers first
        for node in group.nodes:
            parents = node.parents
            if group.matmul is not None:  # the node's weights, then its bias
                n = len(parents) // 2
                other = n - group.matmul
                parents = parents[other : other + n] + parents[2 * n :]
            for p in parents:
                if id(p) in shared and id(p) not in ordered:
                    ordered[id(p)] = p
    for p in params:  # the root itself, when it is a shared leaf
        ordered.setdefault(id(p), p)
    return tuple(ordered.values())


def _discovery_rank(root: Value) -> dict[int, int]:
    """Breadth-first rank from the root, parents in argument order: the members of a group
    sorted by it sit in the order their consumers list them (h0..h15 of a layer), so a
    consumer gathers them as one slice."""
    rank = {id(root): 0}
    queue = deque([root])
    while queue:
        node = queue.popleft()
        for p in node.parents:
            if id(p) not in rank:
                rank[id(p)] = len(rank)
                queue.append(p)
    return rank


def _hole(gen: _Codegen, text: str) -> Any:
    from .compile import _ATOM, _Sym

    return _Sym(text, _ATOM, gen, True)


def _trace(gen: _Codegen, rule: Op, arity: int) -> tuple[str, list[tuple[str, bool]] | None]:
    """compile_graph's row templates in numpy's dialect (rows with an array twin are calls of it)."""
    return trace_row(gen, rule, arity)


class _LocalCall:
    """A row's ``local`` applied sample by sample (rows tracing cannot see into)."""

    def __init__(self, rule: Op, arity: int) -> None:
        self.rule = rule
        self.arity = arity
        self.__name__ = f"{rule.name}_local"

    def __call__(self, *args: Any) -> Any:
        import numpy as np

        return _elementwise(np, self.rule.local, self.arity)(*args)


class _StackedForward:
    """A row's forward over inputs stacked on axis 0: sum and dot as array reductions, others
    through their array primitive or sample by sample."""

    def __init__(self, rule: Op) -> None:
        self.rule = rule
        self.__name__ = f"{rule.name}_forward"

    def __call__(self, stacked: Any) -> Any:
        import numpy as np

        rule = self.rule
        if rule is ops.SUM:
            return stacked.sum(axis=0)
        if rule is ops.DOT:
            n = len(stacked) // 2
            total = (stacked[:n] * stacked[n : 2 * n]).sum(axis=0)
            return total + stacked[-1] if len(stacked) % 2 else total
        function = partial(rule.array, np) if rule.array is not None else _elementwise(np, rule.forward, None)
        return function(*stacked)


def compile_batched(root: Value, inputs: Sequence[Value]) -> BatchedGraph:
    """Trace one sample's graph under ``root`` for batched execution with numpy.

    ``inputs``: the leaves that change per sample (features, targets), in the column order of
    the batches ``forward`` will get; every other leaf is a shared parameter.  Nodes with the
    same row at the same depth are computed together (a layer of ``dot`` nodes is one matrix
    product).  Needs numpy (``pip install 'valuegrad[fast]'``).  See :class:`BatchedGraph`.
    """
    return BatchedGraph(root, inputs)
