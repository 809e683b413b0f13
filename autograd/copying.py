"""Pickling and deep-copying graphs of Values without recursion, rows stored by name."""

from __future__ import annotations

from typing import Any

from . import ops
from .value import Value, _leaf, assemble


def flatten(root: Value) -> tuple[Any, ...]:
    """``root``'s graph as records, parents first.

    A leaf is the Value itself (pickled as a leaf: data, grad, label, attributes), so leaves
    shared with other pickled objects stay shared; an interior node is (row name, row params,
    parent indices, local derivatives, data, grad, label, attributes).  Rows are stored by name:
    their functions may be lambdas.  Nodes built micrograd-style are refused: their
    ``_backward`` closures refer to the original nodes, so a copy would update the original.
    """
    from .engine import topological_order

    nodes = topological_order(root, include_leaves=True)
    index = {node: i for i, node in enumerate(nodes)}
    records: list[Any] = []
    for node in nodes:
        rule = node._rule
        if rule is None:
            records.append(node if node is not root else _leaf_record(node))
            continue
        if rule.forward is None:
            raise TypeError(
                f"cannot pickle or copy a graph with a node built micrograd-style (op {rule.name!r}): its "
                f"_backward closure refers to the original nodes; register the op with "
                f"autograd.defop({rule.name!r}, forward, local) and build the graph with it"
            )
        records.append((
            rule.name, rule.params, tuple(index[p] for p in node.parents), node.local_grads,
            node.data, node.grad, node.label, _attributes(node),
        ))
    return tuple(records)


def _attributes(node: Value) -> dict[str, Any] | None:
    """The node's own attributes besides its label (stored apart in the record), None when it has none."""
    attributes = {k: v for k, v in vars(node).items() if k != "_label"}
    return attributes or None


def _leaf_record(node: Value) -> tuple[Any, ...]:
    return ("", (), (), (), node.data, node.grad, node.label, _attributes(node))


def _row(name: str, params: tuple[float, ...]) -> ops.Op:
    rule = ops.row_for(name, params)
    if rule.forward is None:
        raise ValueError(
            f"the pickled graph uses the op {name!r}, which is not registered in this process: "
            f"run its autograd.defop({name!r}, ...) before unpickling"
        )
    return rule


def rebuild(records: tuple[Any, ...]) -> Value:
    """The graph :func:`flatten` recorded (the last record is the root)."""
    nodes: list[Value] = []
    for record in records:
        if isinstance(record, Value):
            nodes.append(record)
            continue
        name, params, parent_indices, local_grads, data, grad, label, attributes = record
        if parent_indices:
            parents = tuple(nodes[i] for i in parent_indices)
            node = assemble(_row(name, params), parents, tuple(local_grads), data)
        else:
            node = _leaf(data)
        node.grad = grad
        node.label = label
        if attributes:
            vars(node).update(attributes)
        nodes.append(node)
    return nodes[-1]
