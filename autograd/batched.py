"""compile_batched: one sample's graph run over a whole batch with numpy, identical rows grouped into array ops."""

from __future__ import annotations

import math
import re
from collections import deque
from functools import partial
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Literal, Sequence, cast, overload

from . import ops
from .compile import _ATOM, _INLINE_MAX_ARGS, _Codegen, _Sym, trace_row
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


def _signed_zero_products(Z: Any, W: Any, X: Any, B: Any) -> None:
    """Z = W @ X (+ B) with numpy's products, whose sums start at +0.0: make -0.0 each exact
    zero that eager's dot (a sum from -0.0, then + bias) gives as -0.0, i.e. where every
    product and the bias are -0.0.  Called only when Z has a zero."""
    import numpy as np

    rows, cols = np.nonzero(Z == 0.0)
    if B is not None:
        bias = np.broadcast_to(B, Z.shape)[rows, cols]
        keep = np.signbit(bias) & (bias == 0.0)
        rows, cols = rows[keep], cols[keep]
    if rows.size:
        products = W[rows] * X[:, cols].T  # (zeros, n): the products of each zero's sum
        negative = ((products == 0.0) & np.signbit(products)).all(axis=1)
        Z[rows[negative], cols[negative]] = -0.0


def _product(a: Any, b: Any, out: Any = None) -> Any:
    """The 2-D matrix product a @ b as eager computes it: each product formed, then summed in
    order from -0.0 (BLAS may skip a zero factor, so 0 x inf there would be 0, not nan)."""
    exact = (a[:, :, None] * b[None, :, :]).sum(axis=1, initial=-0.0)
    if out is None:
        return exact
    out[...] = exact
    return out


def _batch_sum_products(g: Any, local: Any) -> Any:
    """sum_b g[:, b] x local for a shared local (rows of width 1, or a number): as eager sums
    each sample's product, but as (sum_b g_b) x local, one product per row, when every number
    is finite and nothing can overflow (then the two differ only by rounding)."""
    import numpy as np

    total = g.sum(axis=1, keepdims=True)
    if np.abs(g).max() * np.abs(local).max() * g.shape[1] < 1e300:  # False for inf and nan too
        return total * local
    return (g * local).sum(axis=1, keepdims=True)


def _logsumexp_rows(block: Any) -> Any:
    """logsumexp down the rows of ``block`` (one row per input): the array primitive's result
    without stacking the rows again; fewer calls when every maximum is finite."""
    import numpy as np

    m = block.max(axis=0)  # nan if any is nan
    if np.isfinite(m).all():
        return m + np.log(np.exp(block - m).sum(axis=0))
    finite = np.isfinite(m)
    shift = np.where(finite, m, 0.0)
    return np.where(finite, m + np.log(np.exp(block - shift).sum(axis=0)), m)


def _array_namespace(np: Any, gen: _ArrayCodegen) -> dict[str, Any]:
    primitives = _array_primitives(np, gen.rows_with_twins)
    namespace: dict[str, Any] = {
        "_where": np.where,
        "_add_at": np.add.at,
        "_sum": np.add.reduce,  # np.sum's reduction without its Python wrapper
        "_sign": np.sign,
        "_exp": np.exp,
        "_multiply": np.multiply,
        "_add": np.add,
        "_subtract": np.subtract,
        "_negative": np.negative,
        "_logsumexp_rows": _logsumexp_rows,
        "_batch_sum_products": _batch_sum_products,
        "_signed_zero_products": _signed_zero_products,
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
# V has one row of B samples per interior node and per input ("varying"); C has one row of
# width 1 per shared leaf (the parameters): numpy broadcasting mixes the two.  An interior
# node computed from shared leaves alone (an L2 penalty) is the same in every row of V, but
# its gradient is per sample, as eager's: sum_b (g_b x local) is not (sum_b g_b) x local
# when the local is infinite (0 x inf).  Gradients live in GV (per sample) and GC (the
# shared leaves', summed over the batch).


class _Group:
    """Nodes with the same row, arity, depth and per-input buffer computed by one array op."""

    __slots__ = ("rule", "nodes", "varying", "spaces", "matmul", "start", "reached")

    def __init__(self, rule: Op, varying: bool, spaces: tuple[bool, ...], matmul: int | None) -> None:
        self.rule = rule
        self.nodes: list[Value] = []
        self.varying = varying
        self.spaces = spaces  # per input position: True if the parent lives in V
        self.matmul = matmul  # dot as a matrix product: None, or the offset of the shared varying side
        self.start = 0  # first row of the group's outputs in its buffer
        self.reached = True  # on the root's graph (else only watched: no backward)


class _Scatter:
    """A backward statement writing ``term`` into rows of a gradient buffer, settled when the
    code is generated: the first contribution to rows nothing has written yet is assigned
    (no buffer is ever zeroed in full), later ones are added."""

    __slots__ = ("buffer", "rows", "assign", "add")

    def __init__(self, buffer: str, rows: list[int], assign: str | None, add: str) -> None:
        self.buffer = buffer  # "GV" or "GC"
        self.rows = rows  # the distinct rows written
        self.assign = assign  # the statement that writes them, or None when it must add (repeated rows)
        self.add = add



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
    with respect to the inputs.

    The shared leaves (``params``) live in one float64 vector the graph owns,
    ``parameters`` (in the order of ``params``; a layer's weights and bias are one block of
    it, see ``layer_views()``).  ``forward()`` copies every ``Value.data`` into it first
    unless ``read_params=False``; ``write_params()`` copies it back.  Training on the vector
    (``backward(accumulate=False)`` leaves ``.grad`` alone and puts the gradient in
    ``param_grads``) costs no Python work per parameter.
    """

    def __init__(self, root: Value, inputs: Sequence[Value], *, watch: Sequence[Value] = ()) -> None:
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
        for i, node in enumerate(watch):
            if not isinstance(node, Value):
                raise TypeError(f"{where} watch[{i}] must be a Value, got {type(node).__name__}: {node!r:.60}")
        self.root = root
        self.inputs: tuple[Value, ...] = tuple(inputs)
        self.watch: tuple[Value, ...] = tuple(watch)
        everything = topological_order(root, include_leaves=True)
        reached = {id(n) for n in everything}  # the root's graph: the part backward walks
        everything += _joint_order(self.watch, set(reached))
        order = [n for n in everything if n._rule is not None]
        for node in order:
            ops.require_row(cast(Op, node._rule), where)
        self.params: tuple[Value, ...] = tuple(n for n in everything if n._rule is None and id(n) not in seen)
        self._plan(order, reached)
        self.param_grads = np.zeros(len(self.params))
        """d(root)/d(params) of the last ``backward()`` (batch mean or sum), in the order of ``params``."""
        self._per_batch: dict[int, tuple[Any, Any]] = {}  # batch size -> (V, GV)
        self._V: Any = None
        self._GV: Any = None
        self._batch = 0
        self._finite = True  # the last forward met no inf or nan
        self.read_params()

    @property
    def parameters(self) -> NDArray[np.float64]:
        """The shared leaves' values as one float64 vector (a view: writing it changes what the
        graph computes), in the order of ``params``."""
        return self._C[: len(self.params), 0]

    def layer_views(self) -> list[NDArray[np.float64]]:
        """For each layer the planner runs as one matrix product: its (neurons, inputs + 1)
        block of ``parameters`` (each row a neuron's weights, then its bias), as a view."""
        vector = self._C[:, 0]
        return [vector[start : start + m * width].reshape(m, width) for start, m, width in self._blocks]

    def read_params(self) -> None:
        """Copy every shared leaf's ``Value.data`` into ``parameters``."""
        self._C[: len(self.params), 0] = [p.data for p in self.params]

    def write_params(self) -> None:
        """Copy ``parameters`` back into every shared leaf's ``Value.data``."""
        for p, value in zip(self.params, self._C[: len(self.params), 0].tolist()):
            p.data = value

    # -- compile time ----------------------------------------------------------------
    def _plan(self, order: list[Value], reached: set[int]) -> None:
        varying: set[int] = {id(x) for x in self.inputs}
        depth: dict[int, int] = {id(leaf): 0 for leaf in self.inputs + self.params}  # leaves: depth 0
        groups: dict[tuple, _Group] = {}
        for node in order:
            parents = node.parents
            d = 1 + max(depth[id(p)] for p in parents)
            depth[id(node)] = d
            spaces = tuple(id(p) in varying for p in parents)
            is_varying = True  # every interior node is a row of V (see the buffers above)
            varying.add(id(node))
            matmul = _matmul_side(node, varying) if node._rule is ops.DOT and any(spaces) else None
            shared = tuple(id(p) for p in parents[matmul : matmul + len(parents) // 2]) if matmul is not None else ()
            key = (node._rule, len(parents), d, spaces, matmul, shared, id(node) in reached)
            group = groups.get(key)
            if group is None:
                group = groups[key] = _Group(cast(Op, node._rule), is_varying, spaces, matmul)
                group.reached = id(node) in reached
            group.nodes.append(node)
        rank = _discovery_rank((self.root, *self.watch))
        for group in groups.values():
            group.nodes.sort(key=lambda node: rank[id(node)])
        ordered = sorted(groups.values(), key=lambda g: (depth[id(g.nodes[0])], rank[id(g.nodes[0])]))
        self.params = _shared_leaves_in_use_order(ordered, self.params)
        gap = _input_gap(ordered, self.inputs)  # a row of ones after the inputs a layer reads
        self._gap = gap
        self._input_rows = [i if gap is None or i < gap else i + 1 for i in range(len(self.inputs))]
        rows: dict[int, int] = {id(x): r for x, r in zip(self.inputs, self._input_rows)}
        rows.update({id(p): i for i, p in enumerate(self.params)})
        counts = [len(self.inputs) + (gap is not None), len(self.params)]  # next free row of V, of C
        followed = _layer_inputs(ordered)
        # rows of V that hold 1.0: a layer's biases enter its product as one more column of weights
        self._ones_rows: list[int] = [] if gap is None else [gap]
        for group in ordered:
            space = 0 if group.varying else 1
            group.start = counts[space]
            for node in group.nodes:
                rows[id(node)] = counts[space]
                counts[space] += 1
            if id(group) in followed:
                self._ones_rows.append(counts[0])
                counts[0] += 1
        self._rows = rows
        self._varying = varying
        self._shape = tuple(counts)
        # The shared buffers are made once, so the generated code reads their views as constants.
        self._C = self._np.empty((self._shape[1], 1))
        self._GC = self._np.empty_like(self._C)
        self._reciprocals = self._np.empty_like(self._C)  # scratch for _negative_zero
        self._param_dependent = _dependent_on(order, {id(p) for p in self.params})
        self.groups: tuple[_Group, ...] = tuple(ordered)
        self.num_nodes = len(order) + len(self.inputs) + len(self.params)
        self._generate()

    def _generate(self) -> None:
        np = self._np
        gen = _ArrayCodegen()
        self._constants: dict[str, Any] = {}
        self._blocks: list[tuple[int, int, int]] = []  # (first row, neurons, inputs + 1) per layer block
        self._blocks_with_bias = False  # a layer W @ X + b: its -0.0 sums are checked only on the exact run
        fwd: list[str] = []
        bwd: list[tuple[_Group, list]] = []
        templates: dict[tuple[Op, int], tuple[str, list[tuple[str, bool]] | None]] = {}
        for k, group in enumerate(self.groups):
            if group.matmul is not None:
                f, b = self._matmul_lines(k, group)
            else:
                f, b = self._group_lines(k, group, gen, templates)
            fwd += f
            if group.reached:
                bwd.append((group, b))
        bwd.reverse()  # backward visits the groups in reverse
        namespace = _array_namespace(np, gen)
        namespace["_CHECK_ZEROS"] = False
        namespace.update(self._constants)
        source = ["def _forward(V, C):", *(fwd or ["    pass"]), "", "def _backward(V, C, GV, GC):"]
        source += self._settle(bwd, None)
        source += ["", "def _backward_params(V, C, GV, GC):"]
        source += self._settle(bwd, self._param_dependent)
        namespace.update(self._constants)  # settling adds index constants
        self.source = "\n".join(source) + "\n"
        code = compile(self.source, "<autograd.compile_batched>", "exec")
        exec(code, namespace)
        self._forward_code = namespace["_forward"]
        self._backward_code = namespace["_backward"]
        self._backward_params_code = namespace["_backward_params"]
        # The same code with every matrix product summed one product at a time, for batches
        # where a buffer holds inf or nan: BLAS may skip a zero factor, so 0 x inf would be 0.
        exact = {**namespace, "_matmul": _product, "_CHECK_ZEROS": True}
        exec(code, exact)
        self._exact = (exact["_forward"], exact["_backward"], exact["_backward_params"])

    def _settle(self, groups: list[tuple[_Group, list]], needed: set[int] | None) -> list[str]:
        """The backward body: scatters resolved to assignments or additions in visiting order.

        ``needed``: the nodes whose gradients matter (None: all); groups and scatters that
        only feed the others (d loss / d inputs when nobody asked for it) are left out.
        """
        written: dict[str, set[int]] = {"GV": set(), "GC": set()}
        root_buffer = "GV" if id(self.root) in self._varying else "GC"
        written[root_buffer].add(self._rows[id(self.root)])
        wanted = None
        if needed is not None:
            wanted = {("GV" if i in self._varying else "GC", self._rows[i]) for i in needed if i in self._rows}
        lines: list[str] = []
        for group, body in groups:
            if wanted is not None and not any(
                ("GV" if group.varying else "GC", self._rows[id(n)]) in wanted for n in group.nodes
            ):
                continue
            for line in body:
                if isinstance(line, str):
                    lines.append(line)
                elif wanted is None or any((line.buffer, r) in wanted for r in line.rows):
                    lines += self._resolve(line, written[line.buffer])
        # rows no statement reached (an unused input; a parameter only a watched node reads)
        idle_params = [r for r in range(len(self.params)) if r not in written["GC"]]
        if idle_params:
            lines.append(f"    GC[{self._index(idle_params, 'Z', broadcast=False)}] = 0.0")
        idle_inputs = [r for r in self._input_rows if r not in written["GV"]]
        if needed is None and idle_inputs:
            lines.append(f"    GV[{self._index(idle_inputs, 'Z', broadcast=False)}] = 0.0")
        return lines or ["    pass"]

    def _resolve(self, scatter: _Scatter, written: set[int]) -> list[str]:
        fresh = [r for r in scatter.rows if r not in written]
        written.update(fresh)
        if scatter.assign is not None and len(fresh) == len(scatter.rows):
            return [scatter.assign]
        zero = [f"    {scatter.buffer}[{self._index(fresh, 'Z', broadcast=False)}] = 0.0"] if fresh else []
        return zero + [scatter.add]

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

    def _scatter(self, parents: list[Value], parent_varying: bool, group_varying: bool, term: str) -> _Scatter:
        """The statement putting ``term`` (one row per group member) into the parents' gradients."""
        buffer = "GV" if parent_varying else "GC"
        rows = [self._rows[id(p)] for p in parents]
        batch_sum = group_varying and not parent_varying  # a shared parent: sum over the batch
        first = rows[0]
        if len(rows) > 1 and all(r == first for r in rows):  # one parent for the whole group
            total = f"({term}).sum(axis=1, keepdims=True).sum(axis=0)" if batch_sum else f"({term}).sum(axis=0)"
            target = f"{buffer}[{first}]"
            return _Scatter(buffer, [first], f"    {target} = {total}", f"    {target} += {total}")
        if len(set(rows)) < len(rows):
            name = f"_I{len(self._constants)}"
            self._constants[name] = self._np.array(rows, dtype=self._np.intp)
            total = f"({term}).sum(axis=1, keepdims=True)" if batch_sum else term
            return _Scatter(buffer, list(dict.fromkeys(rows)), None, f"    _add_at({buffer}, {name}, {total})")
        index = self._index(rows, "I")
        target = f"{buffer}[{index}]"
        total = f"({term}).sum(axis=1, keepdims=True)" if batch_sum else term
        assign = f"    {target} = {total}"
        if ":" in index:  # a view: write into it directly
            if batch_sum:
                assign = f"    _sum({term}, axis=1, keepdims=True, out={target})"
            elif term.startswith("_matmul(") and term.endswith(")"):
                assign = f"    {term[:-1]}, out={target})"
            elif term.startswith("g * (") and term.endswith(")"):
                assign = f"    _multiply(g, {term[5:-1]}, out={target})"
            elif term == "-g":
                assign = f"    _negative(g, out={target})"
        return _Scatter(buffer, rows, assign, f"    {target} += {total}")

    def _group_lines(
        self, k: int, group: _Group, gen: _Codegen, templates: dict
    ) -> tuple[list[str], list]:
        rule, nodes = group.rule, group.nodes
        arity = len(group.spaces)
        out_buffer = "V" if group.varying else "C"
        out = f"{out_buffer}[{group.start}:{group.start + len(nodes)}]"
        if len(nodes) == 1 and rule in (ops.SUM, ops.DOT) and arity > 2 and len(set(group.spaces)) == 1:
            sliced = self._sliced_lines(k, group, out, gen)
            if sliced is not None:
                return sliced
        if len(nodes) == 1 and rule.forward is ops._flogsumexp and arity > 1 and all(group.spaces):
            softmax = self._logsumexp_lines(k, group, out)
            if softmax is not None:
                return softmax
        columns = [[node.parents[j] for node in nodes] for j in range(arity)]
        if arity > _INLINE_MAX_ARGS:
            return self._stacked_lines(k, group, columns, out, gen)
        names = [f"a{j}" for j in range(arity)]
        sources = [self._gather(columns[j], group.spaces[j], "X") for j in range(arity)]
        gathers = [f"    a{j} = {source}" for j, source in enumerate(sources)]
        template = templates.get((rule, arity))
        if template is None:
            template = templates[(rule, arity)] = _trace(gen, rule, arity)
        forward_text, local_templates = template
        fwd = [f"    # group {k}: {len(nodes)} x {rule.name} (arity {arity})"]
        fwd.append(_written_into(out, forward_text, sources))
        fill = names + ["o"]
        if local_templates is None:  # the row is called sample by sample
            local_name = gen.name_of(_LocalCall(rule, arity))
            computed = [f"    L = {local_name}({', '.join(fill)})"]
            local_texts = [f"L[{j}]" for j in range(arity)]
        else:
            computed = []
            local_texts = [text.format(*fill) for text, _ in local_templates]
        if rule.forward is ops._frelu and arity == 1:
            local_texts = ["_sign(o)"]  # step(x) as the sign of relu's output: 0, 1 or nan, one cheap call
        used = set(re.findall(r"\b[ao]\d*\b", " ".join(local_texts + computed)))
        bwd: list = [f"    # group {k}: {len(nodes)} x {rule.name}"]
        bwd += [line for j, line in enumerate(gathers) if f"a{j}" in used]
        if "o" in used:
            bwd.append(f"    o = {out}")
        bwd += computed
        bwd.append(f"    g = G{out}")
        for j, local in enumerate(local_texts):
            term = "g" if local == "1.0" else "-g" if local == "-1.0" else f"g * ({local})"
            bwd.append(self._scatter(columns[j], group.spaces[j], group.varying, term))
        return fwd, bwd

    def _logsumexp_lines(self, k: int, group: _Group, out: str) -> tuple[list[str], list] | None:
        """One logsumexp over consecutive rows (a layer's outputs): forward on the block, and
        the local derivatives exp(x_i - out) (the row's softmax) in one call; None if the
        inputs are not one run of rows."""
        (node,) = group.nodes
        rows = [self._rows[id(p)] for p in node.parents]
        first = rows[0]
        if rows != list(range(first, first + len(rows))):
            return None
        buffer = "V" if group.spaces[0] else "C"
        block = f"{buffer}[{first}:{first + len(rows)}]"
        fwd = [f"    # group {k}: 1 x logsumexp (arity {len(rows)}, one block)"]
        fwd.append(f"    {out} = _logsumexp_rows({block})")
        bwd: list = [f"    # group {k}: 1 x logsumexp (one block)", f"    g = G{out}", f"    E = _exp({block} - {out})"]
        bwd.append(_Scatter(f"G{buffer}", rows, f"    _multiply(g, E, out=G{block})", f"    G{block} += g * E"))
        return fwd, bwd

    def _stacked_lines(
        self, k: int, group: _Group, columns: list[list[Value]], out: str, gen: _Codegen
    ) -> tuple[list[str], list]:
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
        bwd: list = [f"    # group {k}: {len(nodes)} x {rule.name} (stacked)", f"    g = G{out}"]
        if picks:
            perm = f"_P{len(self._constants)}"
            self._constants[perm] = np.array(picks, dtype=np.intp)
            bwd.append(f"    T = g * {buffer}[{name}][{perm}]")
        else:
            bwd.append(f"    T = _np_broadcast(g * {constant}, ({arity},) + g.shape)")
        if group.varying and not group.spaces[0]:
            bwd.append("    T = T.sum(axis=2, keepdims=True)")
        targets = list(dict.fromkeys(rows.ravel().tolist()))
        bwd.append(_Scatter(f"G{buffer}", targets, None, f"    _add_at(G{buffer}, {name}, T)"))
        return fwd, bwd

    def _sliced_lines(self, k: int, group: _Group, out: str, gen: _Codegen) -> tuple[list[str], list] | None:
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
            value = f"({buffer}[{left}] * {buffer}[{right}]).sum(axis=0, initial=-0.0)"
            if arity % 2:
                value += f" + {buffer}[{rows[-1]}]"
        else:
            value = f"{buffer}[{self._index(rows, 'S', broadcast=False)}].sum(axis=0, initial=-0.0)"
        fwd = [f"    # group {k}: 1 x {rule.name} (arity {arity}, {len(runs)} runs of rows)", f"    {out} = {value}"]
        bwd: list = [f"    # group {k}: 1 x {rule.name} ({len(runs)} runs of rows)", f"    g = G{out}"]
        terms: dict[str, str] = {}  # a run's term by its text: dot(w, w)'s two sides give the same one
        for target, source, length in runs:
            local = source if isinstance(source, str) else f"{buffer}[{source}:{source + length}]"
            if buffer == "C":  # shared leaves: the batch sum of each sample's g x local
                term = "g.sum(axis=1, keepdims=True)" if local == "1.0" else f"_batch_sum_products(g, {local})"
            else:
                term = "g" if local == "1.0" else f"g * {local}"
            if [r for r in runs if r[1:] == (source, length)][1:] and term != "g":  # used again: compute once
                if term not in terms:
                    terms[term] = f"T{len(terms)}"
                    bwd.append(f"    {terms[term]} = {term}")
                term = terms[term]
            view = f"G{buffer}[{target}:{target + length}]"
            bwd.append(_Scatter(f"G{buffer}", list(range(target, target + length)), f"    {view} = {term}",
                                f"    {view} += {term}"))
        return fwd, bwd

    def _per_input_lines(
        self, k: int, group: _Group, columns: list[list[Value]], out: str, gen: _Codegen
    ) -> tuple[list[str], list]:
        """A long fused row that cannot be stacked: the row's functions called sample by sample."""
        arity = len(columns)
        gathers = [f"    a{j} = {self._gather(columns[j], group.spaces[j], 'X')}" for j in range(arity)]
        names = [f"a{j}" for j in range(arity)]
        forward = gen.name_of(_StackedForward(group.rule))
        fwd = [f"    # group {k}: {len(group.nodes)} x {group.rule.name} (per input)", *gathers]
        fwd.append(f"    {out} = {forward}(_stack(({', '.join(names)},)))")
        local_name = gen.name_of(_LocalCall(group.rule, arity))
        bwd: list = [f"    # group {k}: {group.rule.name} (per input)", *gathers, f"    o = {out}", f"    g = G{out}"]
        bwd.append(f"    L = {local_name}({', '.join(names + ['o'])})")
        for j in range(arity):
            bwd.append(self._scatter(columns[j], group.spaces[j], group.varying, f"g * L[{j}]"))
        return fwd, bwd

    def _matmul_lines(self, k: int, group: _Group) -> tuple[list[str], list]:
        """A layer of dot nodes sharing their varying side x: Z = W @ X (+ b) forward; backward
        dX = W.T @ G and dW = G @ X.T (the batch sum done by the product)."""
        np = self._np
        nodes = group.nodes
        arity = len(group.spaces)
        n = arity // 2
        assert group.matmul is not None
        other = n - group.matmul  # offset of the shared (weights) side: 0 or n
        xs = list(nodes[0].parents[group.matmul : group.matmul + n])
        w_rows = np.array([[self._rows[id(p)] for p in node.parents[other : other + n]] for node in nodes], np.intp)
        m = len(nodes)
        bias = arity % 2 == 1
        out = f"V[{group.start}:{group.start + m}]"
        x_text = f"V[{self._index([self._rows[id(p)] for p in xs], 'X', broadcast=False)}]"
        flat = w_rows.ravel()
        width = n + 1 if bias else n
        block = np.arange(flat[0], flat[0] + m * width).reshape(m, width)
        b_rows = [self._rows[id(node.parents[-1])] for node in nodes] if bias else []
        if bias and np.array_equal(block[:, :n], w_rows) and b_rows == block[:, n].tolist():
            return self._block_lines(k, group, xs, x_text, int(flat[0]), n)
        if np.array_equal(flat, np.arange(flat[0], flat[0] + flat.size)):
            w_text = f"C[{flat[0]}:{flat[0] + flat.size}, 0].reshape({m}, {n})"
        else:
            name = f"_W{len(self._constants)}"
            self._constants[name] = w_rows
            w_text = f"C[{name}, 0]"
        fwd = [f"    # group {k}: {m} x dot (matrix product, {n} inputs)", f"    W = {w_text}"]
        fwd.append(f"    _matmul(W, {x_text}, out={out})")
        b_text = "None"
        check = ""
        if bias:
            b_text = self._gather([node.parents[-1] for node in nodes], False, "B")
            fwd.append(f"    {out} += {b_text}")
            check = "_CHECK_ZEROS and "  # see _run_forward: only a -0.0 bias can give -0.0
            self._blocks_with_bias = True
        fwd.append(f"    if {check}not {out}.all(): _signed_zero_products({out}, W, {x_text}, {b_text})")
        bwd: list = [f"    # group {k}: {m} x dot (matrix product)", f"    g = G{out}", f"    W = {w_text}"]
        bwd.append(self._scatter(xs, True, True, "_matmul(W.T, g)"))
        weight_grad = f"_matmul(g, {x_text}.T)"
        rows = flat.tolist()
        if len(set(rows)) == len(rows):
            if w_text.startswith("C[") and ":" in w_text.split(",")[0]:
                target = f"GC[{flat[0]}:{flat[0] + flat.size}, 0]"
                bwd.append(_Scatter("GC", rows, f"    {target} = {weight_grad}.ravel()",
                                    f"    {target} += {weight_grad}.ravel()"))
            else:
                target = f"GC[{w_text[2:-4]}, 0]"
                bwd.append(_Scatter("GC", rows, f"    {target} = {weight_grad}", f"    {target} += {weight_grad}"))
        else:
            name = f"_W{len(self._constants)}"
            self._constants[name] = w_rows
            add = f"    _add_at(GC[:, 0], {name}, {weight_grad})"
            bwd.append(_Scatter("GC", list(dict.fromkeys(rows)), None, add))
        if bias:
            bwd.append(self._scatter([node.parents[-1] for node in nodes], False, True, "g"))
        return fwd, bwd

    def _block_lines(
        self, k: int, group: _Group, xs: list[Value], x_text: str, first: int, n: int
    ) -> tuple[list[str], list]:
        """A layer whose neurons' weights and biases are one (m, n + 1) block of C (each
        neuron's weights, then its bias: ``Neuron.parameters()`` order), read as views."""
        m = len(group.nodes)
        width = n + 1
        self._blocks.append((first, m, width))
        self._blocks_with_bias = True
        block = self._C[first : first + m * width, 0].reshape(m, width)
        grad_block = self._GC[first : first + m * width, 0].reshape(m, width)
        x_rows = [self._rows[id(p)] for p in xs]
        if x_rows == list(range(x_rows[0], x_rows[0] + n)) and x_rows[0] + n in self._ones_rows:
            return self._with_ones_lines(k, group, xs, x_rows[0], first, block, grad_block)
        w_text = self._constant("W", block[:, :n])
        b_text = self._constant("B", block[:, n:])
        wt_text = self._constant("WT", block[:, :n].T)
        gw_text = self._constant("GW", grad_block[:, :n])
        gb_text = self._constant("GB", grad_block[:, n:])
        out = f"V[{group.start}:{group.start + m}]"
        fwd = [f"    # group {k}: {m} x dot (matrix product, {n} inputs)"]
        fwd.append(f"    _matmul({w_text}, {x_text}, out={out})")
        fwd.append(f"    {out} += {b_text}")
        fix = f"_signed_zero_products({out}, {w_text}, {x_text}, {b_text})"
        fwd.append(f"    if _CHECK_ZEROS and not {out}.all(): {fix}")
        bwd: list = [f"    # group {k}: {m} x dot (matrix product)", f"    g = G{out}"]
        bwd.append(self._scatter(xs, True, True, f"_matmul({wt_text}, g)"))
        weights = [first + i * width + j for i in range(m) for j in range(n)]
        gradient = f"_matmul(g, {x_text}.T)"
        bwd.append(_Scatter("GC", weights, f"    {gw_text}[...] = {gradient}", f"    {gw_text} += {gradient}"))
        biases = [first + i * width + n for i in range(m)]
        bwd.append(_Scatter("GC", biases, f"    _sum(g, axis=1, keepdims=True, out={gb_text})",
                            f"    {gb_text} += g.sum(axis=1, keepdims=True)"))
        return fwd, bwd

    def _with_ones_lines(
        self, k: int, group: _Group, xs: list[Value], x_first: int, first: int, block: Any, grad_block: Any
    ) -> tuple[list[str], list]:
        """A layer whose inputs are followed by a row of ones: Z = [W b] @ [X; 1] forward, and
        the weights' and biases' gradients G @ [X; 1].T in one product written in place."""
        m, n = block.shape[0], block.shape[1] - 1
        out = f"V[{group.start}:{group.start + m}]"
        x_ones = f"V[{x_first}:{x_first + n + 1}]"
        whole, grad_whole = self._constant("A", block), self._constant("GA", grad_block)
        # No -0.0 check: the exact run (entered for a -0.0 parameter) sums each product, the bias last, from -0.0.
        fwd = [f"    # group {k}: {m} x dot (matrix product, {n} inputs and a row of ones)"]
        fwd.append(f"    _matmul({whole}, {x_ones}, out={out})")
        bwd: list = [f"    # group {k}: {m} x dot (matrix product)", f"    g = G{out}"]
        bwd.append(self._scatter(xs, True, True, f"_matmul({self._constant('WT', block[:, :n].T)}, g)"))
        product = f"_matmul(g, {x_ones}.T)"
        rows = list(range(first, first + m * (n + 1)))
        bwd.append(_Scatter("GC", rows, f"    {product[:-1]}, out={grad_whole})", f"    {grad_whole} += {product}"))
        return fwd, bwd

    def _constant(self, prefix: str, value: Any) -> str:
        """A name for ``value`` (a view of a shared buffer, made once) in the generated code."""
        name = f"_{prefix}{len(self._constants)}"
        self._constants[name] = value
        return name

    # -- run time --------------------------------------------------------------------
    def _use_batch(self, batch: int) -> Any:
        """The per-sample buffers (V, GV) for ``batch`` samples, kept for a few batch sizes (a
        ragged last batch must not reallocate the full-size ones)."""
        buffers = self._per_batch.get(batch)
        if buffers is None:
            if len(self._per_batch) >= 4:
                self._per_batch.clear()
            np = self._np
            # zeros: rows a backward leaves alone stay finite for its check of the whole buffer
            buffers = self._per_batch[batch] = (np.zeros((self._shape[0], batch)), np.zeros((self._shape[0], batch)))
            buffers[0][self._ones_rows] = 1.0
        self._V, self._GV = buffers
        self._batch = batch
        return self._V

    def forward(self, batch: ArrayLike, *, read_params: bool = True) -> NDArray[np.float64]:
        """Run the graph for every row of ``batch`` (shape (B, len(inputs))); the root per sample, shape (B,).

        ``read_params``: copy every shared leaf's ``Value.data`` into ``parameters`` first
        (False: compute with ``parameters`` as they are, as a trainer that updates them does).
        """
        data = self._as_batch(batch)
        V = self._use_batch(data.shape[0])
        self._write_columns(V, data, 0)
        if read_params:
            self.read_params()
        self._run_forward(V)
        return self.values(self.root)

    def _run(self, blocks: Sequence[Any], *, read_params: bool) -> Any:
        """forward() on the input columns given as blocks side by side ((B, n_j) arrays of
        real numbers, already validated), each written straight into the buffer."""
        V = self._use_batch(blocks[0].shape[0])
        offset = 0
        for block in blocks:
            self._write_columns(V, block, offset)
            offset += block.shape[1]
        if offset != len(self.inputs):
            raise ValueError(f"BatchedGraph: {offset} input columns given for {len(self.inputs)} inputs")
        if read_params:
            self.read_params()
        self._run_forward(V)
        return self.values(self.root)

    def _write_columns(self, V: Any, block: Any, offset: int) -> None:
        """Input columns ``offset``.. (a (B, w) block) into their rows of V: the rows of the
        inputs, which skip the row of ones when there is one among them."""
        gap, width = self._gap, block.shape[1]
        if gap is None or offset + width <= gap:
            V[offset : offset + width] = block.T
        elif offset >= gap:
            V[offset + 1 : offset + width + 1] = block.T
        else:  # the block straddles the row of ones
            V[offset:gap] = block[:, : gap - offset].T
            V[gap + 1 : offset + width + 1] = block[:, gap - offset :].T

    def _run_forward(self, V: Any) -> None:
        np, C = self._np, self._C
        with np.errstate(all="ignore"):
            self._forward_code(V, C)
            # one check of every buffer instead of one per matrix product: all finite, or again exactly
            self._finite = math.isfinite(V.sum()) and math.isfinite(C.sum())
            if not self._finite or (self._blocks_with_bias and self._negative_zero(C)):
                self._exact[0](V, C)

    def _negative_zero(self, C: Any) -> bool:
        """Whether a parameter may be -0.0 (1 / -0.0 is -inf; so is 1 / x for a negative x too
        small to invert: a false alarm costs only the exact run).  A layer's sum W @ X + b, which
        numpy starts from +0.0, can be -0.0 in eager (a sum from -0.0) only with a -0.0 bias;
        the exact run checks the layers that had an exact zero."""
        return bool(self._np.divide(1.0, C, out=self._reciprocals).min() == -math.inf)

    def _row_block(self, nodes: Sequence[Value]) -> Any:
        """An index of V selecting ``nodes``' rows (a slice when consecutive), or None if one
        of them is shared (not a row of V)."""
        if not all(id(n) in self._varying for n in nodes):
            return None
        rows = [self._rows[id(n)] for n in nodes]
        if rows == list(range(rows[0], rows[0] + len(rows))):
            return slice(rows[0], rows[0] + len(rows))
        return self._np.array(rows, dtype=self._np.intp)

    def _outputs(self, index: Any, nodes: Sequence[Value]) -> Any:
        """The values of ``nodes`` (rows selected by ``_row_block``) for the last batch, shape (len(nodes), B)."""
        if index is None:
            return self._np.array([self.values(n) for n in nodes])
        return self._V[index]

    def values(self, node: Value) -> NDArray[np.float64]:
        """``node``'s value for each sample of the last ``forward()`` batch, shape (B,)."""
        np = self._np
        if self._V is None:
            raise RuntimeError("BatchedGraph.values(): call forward(batch) first")
        row = self._rows.get(id(node))
        if row is None:
            raise ValueError(f"BatchedGraph.values(): {node!r:.60} is not a node of this graph")
        if id(node) in self._varying:
            return self._V[row].copy()
        return np.full(self._batch, self._C[row, 0])

    @overload
    def backward(
        self, reduction: str = ..., *, accumulate: bool = ..., input_grads: Literal[True] = ...
    ) -> NDArray[np.float64]: ...

    @overload
    def backward(self, reduction: str = ..., *, accumulate: bool = ..., input_grads: Literal[False]) -> None: ...

    def backward(
        self, reduction: str = "mean", *, accumulate: bool = True, input_grads: bool = True
    ) -> NDArray[np.float64] | None:
        """The batch ``"mean"`` (or ``"sum"``) of d(root)/d(leaf) for every shared leaf, into
        ``param_grads`` and, with ``accumulate`` (the default), added to each leaf's ``.grad``.

        Returns d(root_i)/d(inputs), shape (B, len(inputs)), for each sample i; with
        ``input_grads=False`` returns None and skips the work that only they need.
        """
        if reduction not in ("mean", "sum"):
            raise ValueError(f"BatchedGraph.backward(): reduction must be 'mean' or 'sum', got {reduction!r}")
        scale = 1.0 / self._batch if reduction == "mean" and self._batch else 1.0
        return self._backward(scale, accumulate=accumulate, input_grads=input_grads)

    def _backward(self, scale: float, *, accumulate: bool = True, input_grads: bool = True) -> Any:
        """backward() with the shared leaves' batch sums multiplied by ``scale``."""
        np = self._np
        if self._V is None:
            raise RuntimeError("BatchedGraph.backward(): call forward(batch) first")
        V, C, GV, GC = self._V, self._C, self._GV, self._GC
        self._seed_root(GV, GC)
        code = self._backward_code if input_grads else self._backward_params_code
        grads = self.param_grads
        with np.errstate(all="ignore"):
            code(V, C, GV, GC)
            if not (self._finite and math.isfinite(GV.sum())):  # a product may have met inf or nan
                self._seed_root(GV, GC)
                self._exact[1 if input_grads else 2](V, C, GV, GC)
            np.multiply(GC[: len(self.params), 0], scale, out=grads)
            np.add(grads, 0.0, out=grads)  # eager's sums start from +0.0: a zero gradient is +0.0
        if accumulate:
            for p, g in zip(self.params, grads.tolist()):
                p.grad += g
        if not input_grads:
            return None
        rows = slice(0, len(self.inputs)) if self._gap is None else self._input_rows
        return np.add(GV[rows].T, 0.0)  # a fresh (B, inputs) array; -0.0 as eager's +0.0

    def _seed_root(self, GV: Any, GC: Any) -> None:
        root = self._rows[id(self.root)]
        if id(self.root) in self._varying:
            GV[root] = 1.0
        else:
            GC[root, 0] = float(self._batch)  # the root is the same for every sample

    def _as_batch(self, batch: ArrayLike) -> NDArray[np.float64]:
        """``batch`` as float64, accepting what ``Value()`` accepts (real numbers: ints, floats,
        Fractions, numpy reals; an int beyond float range is ±inf) and refusing the rest."""
        np = self._np
        where = "BatchedGraph.forward()"
        if isinstance(batch, np.ma.MaskedArray):
            raise TypeError(f"{where}: batch is a masked array; its mask would be ignored (fill or drop the "
                            "masked entries first)")
        if isinstance(batch, np.ndarray) and batch.dtype.kind in "fiu":
            data = batch.astype(np.float64, copy=False)
        elif isinstance(batch, np.ndarray) and batch.dtype.kind != "O":
            raise TypeError(f"{where}: batch must be an array of real numbers, got an array of dtype {batch.dtype}")
        else:
            data = self._from_objects(batch, where)
        width = len(self.inputs)
        if data.ndim != 2 or data.shape[1] != width or data.shape[0] < 1:
            raise ValueError(
                f"{where}: batch must have shape (B, {width}) with B >= 1 "
                f"(one column per input), got shape {data.shape}"
            )
        return data

    def _from_objects(self, batch: Any, where: str) -> NDArray[np.float64]:
        """A list (or object array) of numbers, each converted as ``Value()`` converts it."""
        np = self._np
        try:
            cells = np.array(batch, dtype=object)
        except ValueError:  # rows numpy cannot even line up
            cells = None
        if cells is None or (cells.ndim == 1 and any(isinstance(c, (list, tuple)) for c in cells.tolist())):
            raise ValueError(f"{where}: batch must have shape (B, {len(self.inputs)}) with B >= 1 (one column "
                             "per input), got rows of different lengths")
        flat = cells.ravel().tolist()
        try:
            numbers = [ops.to_float(v, "") for v in flat]
        except TypeError:
            bad = next(v for v in flat if not ops.is_real(v))
            message = f"{where}: batch must be an array of real numbers, got {type(bad).__name__}: {bad!r:.60}"
            raise TypeError(message) from None
        return np.array(numbers, dtype=np.float64).reshape(cells.shape)

    def __repr__(self) -> str:
        return (
            f"BatchedGraph(nodes={self.num_nodes}, inputs={len(self.inputs)}, shared={len(self.params)}, "
            f"groups={len(self.groups)})"
        )


_MAX_RUNS = 8  # a long fused node whose inputs need more runs of rows is gathered and scattered


_INTO = {"{0} + {1}": "_add", "{0} - {1}": "_subtract", "{0} * {1}": "_multiply", "-{0}": "_negative"}


def _written_into(out: str, template: str, args: list[str]) -> str:
    """The forward statement for a group: the ufunc writing straight into the group's rows
    where the row is one (no temporary array, no copy), else an assignment of the template."""
    ufunc = _INTO.get(template)
    if ufunc is not None:
        return f"    {ufunc}({', '.join(args)}, out={out})"
    return f"    {out} = {template.format(*args)}"


def _plain_locals(gen: _Codegen, rule: Op, arity: int) -> list[int | str] | None:
    """A row's local derivatives when each is one of its inputs (its index: dot's d/dw_i is
    x_i) or a constant (its text: sum's 1.0), read off the traced row; else None."""
    holes = tuple(_Sym(f"{{{i}}}", _ATOM, gen, True) for i in range(arity + 1))
    position = {id(hole): i for i, hole in enumerate(holes[:arity])}
    try:
        locals_ = gen.trace(rule.local, holes)
    except Exception:
        return None
    plain: list[int | str] = []
    for x in locals_ if isinstance(locals_, tuple) else (locals_,):
        i = position.get(id(x))  # an input passed through untouched (dot's d/dw_i = x_i)
        if i is not None:
            plain.append(i)
            continue
        sym = gen.sym(x)
        if sym.plain and not sym.text.startswith("{"):
            plain.append(sym.text)
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


def _biased_layer_inputs(groups: list[_Group]) -> Iterator[Sequence[Value]]:
    """The inputs x of each layer with biases (a matrix product over them), in order."""
    for group in groups:
        arity = len(group.spaces)
        if group.matmul is not None and arity % 2 == 1:
            yield group.nodes[0].parents[group.matmul : group.matmul + arity // 2]


def _layer_inputs(groups: list[_Group]) -> set[int]:
    """The ids of the groups that are, node for node, the inputs of a layer with biases: a row
    of ones after such a group lets the product add the biases, and give their gradients, as
    one more column of the weights."""
    by_nodes = {tuple(id(n) for n in group.nodes): group for group in groups}
    found = (by_nodes.get(tuple(id(x) for x in xs)) for xs in _biased_layer_inputs(groups))
    return {id(group) for group in found if group is not None}


def _input_gap(groups: list[_Group], inputs: tuple[Value, ...]) -> int | None:
    """Where a row of ones goes among the input rows (the inputs from there on move down one
    row): after a run of inputs that a layer with biases reads, in order; None if none does."""
    position = {id(x): i for i, x in enumerate(inputs)}
    for xs in _biased_layer_inputs(groups):
        first = position.get(id(xs[0]))
        if first is not None and [position.get(id(x)) for x in xs] == list(range(first, first + len(xs))):
            return first + len(xs)
    return None


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


def _discovery_rank(roots: Sequence[Value]) -> dict[int, int]:
    """Breadth-first rank from the roots, parents in argument order: the members of a group
    sorted by it sit in the order their consumers list them (h0..h15 of a layer), so a
    consumer gathers them as one slice."""
    rank: dict[int, int] = {}
    for root in roots:
        if id(root) in rank:
            continue
        rank[id(root)] = len(rank)
        queue = deque([root])
        while queue:
            node = queue.popleft()
            for p in node.parents:
                if id(p) not in rank:
                    rank[id(p)] = len(rank)
                    queue.append(p)
    return rank


def _joint_order(roots: Sequence[Value], seen: set[int]) -> list[Value]:
    """The nodes (leaves too) under any of ``roots`` and not in ``seen``, parents before
    children: each root's own order, skipping what is seen (``seen`` grows)."""
    order: list[Value] = []
    for root in roots:
        if id(root) in seen:
            continue
        for node in topological_order(root, include_leaves=True):
            if id(node) not in seen:
                seen.add(id(node))
                order.append(node)
    return order


def _dependent_on(order: list[Value], sources: set[int]) -> set[int]:
    """The ids of ``sources`` and of every node in ``order`` computed from one of them."""
    dependent = set(sources)
    for node in order:
        if any(id(p) in dependent for p in node.parents):
            dependent.add(id(node))
    return dependent


def _hole(gen: _Codegen, text: str) -> Any:
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
            return stacked.sum(axis=0, initial=-0.0)  # eager's sum starts at -0.0: -0.0 survives
        if rule is ops.DOT:
            n = len(stacked) // 2
            total = (stacked[:n] * stacked[n : 2 * n]).sum(axis=0, initial=-0.0)
            return total + stacked[-1] if len(stacked) % 2 else total
        function = partial(rule.array, np) if rule.array is not None else _elementwise(np, rule.forward, None)
        return function(*stacked)


def compile_batched(root: Value, inputs: Sequence[Value], *, watch: Sequence[Value] = ()) -> BatchedGraph:
    """Trace one sample's graph under ``root`` for batched execution with numpy.

    ``inputs``: the leaves that change per sample (features, targets), in the column order of
    the batches ``forward`` will get; every other leaf is a shared parameter.  Nodes with the
    same row at the same depth are computed together (a layer of ``dot`` nodes is one matrix
    product).  ``watch``: more nodes to compute in ``forward`` (read them with ``values()``),
    such as a model's outputs when the loss reads only some.  Needs numpy
    (``pip install 'valuegrad[fast]'``).  See :class:`BatchedGraph`.
    """
    return BatchedGraph(root, inputs, watch=watch)
