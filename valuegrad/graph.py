"""`valuegrad graph`: parse a small expression safely, run backward, draw its computation graph."""

from __future__ import annotations

import argparse
import ast
import operator
import os
import sys
from typing import Any, Callable, Iterator, Mapping

from autograd import ops
from autograd.animate import animate_backward
from autograd.files import write_atomic
from autograd.render import FORMATS, RANKDIRS, draw, to_dot
from autograd.value import Value
from valuegrad import options


class _Functions(Mapping[str, Callable[..., Any]]):
    """The functions an expression may call: the rule table's named functions, read live from
    ``ops.FUNCTIONS`` (so an op registered later with ``autograd.defop`` is callable at once),
    without the fused ones that take a sequence (``sum``, ``dot``, ``logsumexp``)."""

    def _callable(self, name: str) -> bool:
        rule = ops.RULES.get(name)
        return name in ops.FUNCTIONS and (rule is None or rule.arity != -1 or rule.method)

    def __getitem__(self, name: str) -> Callable[..., Any]:
        if not self._callable(name):
            raise KeyError(name)
        return ops.FUNCTIONS[name]

    def __iter__(self) -> Iterator[str]:
        return iter([name for name in ops.FUNCTIONS if self._callable(name)])

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._callable(name)


FUNCTIONS: Mapping[str, Callable[..., Any]] = _Functions()


def _arity(name: str) -> int:
    row = ops.RULES.get(name)
    return row.arity if row is not None and row.arity > 0 else 1


# Floats in, floats out with IEEE semantics (ops.div / ops.power never raise); Values build nodes.
_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: ops.div,
    ast.Pow: ops.power,
}
_OPERATOR_SYMBOLS = {
    ast.FloorDiv: "//", ast.Mod: "%", ast.MatMult: "@", ast.LShift: "<<", ast.RShift: ">>",
    ast.BitOr: "|", ast.BitXor: "^", ast.BitAnd: "&", ast.UAdd: "unary +", ast.Not: "not", ast.Invert: "~",
}
_CONSTRUCTS = {
    ast.Attribute: "attribute access",
    ast.Subscript: "subscripts (indexing)",
    ast.Slice: "slices",
    ast.Lambda: "lambda",
    ast.ListComp: "comprehensions",
    ast.SetComp: "comprehensions",
    ast.DictComp: "comprehensions",
    ast.GeneratorExp: "comprehensions (generator expressions)",
    ast.Compare: "comparisons",
    ast.BoolOp: "and/or",
    ast.IfExp: "conditional expressions (x if c else y)",
    ast.NamedExpr: "assignment expressions (:=)",
    ast.List: "lists",
    ast.Tuple: "tuples",
    ast.Set: "sets",
    ast.Dict: "dicts",
    ast.JoinedStr: "f-strings",
    ast.FormattedValue: "f-strings",
    ast.Starred: "starred arguments (*args)",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
}
MAX_EXPRESSION_LENGTH = 10_000
MAX_OPERATORS = 2_000
"""At most this many operators and opening brackets (``+ - * / (``, counted in the source before
parsing).  Each can nest the parsed tree one level deeper, and Python's parser recurses once per
level: CPython 3.11 and 3.12 give up near 3,000 levels (3.11: fewer the deeper the caller's stack),
so the limit leaves room on every supported version."""


def allowed() -> str:
    """What an expression may contain (the function list is read from the rule table when asked)."""
    return "numbers, variable names, + - * / **, unary - and calls of " + ", ".join(sorted(FUNCTIONS))


class ExpressionError(ValueError):
    """An expression uses something `valuegrad graph` does not allow, or cannot be parsed."""


def _refuse(node: ast.AST, what: str) -> ExpressionError:
    column = getattr(node, "col_offset", None)
    where = f" (column {column + 1})" if column is not None else ""
    return ExpressionError(f"not allowed in an expression{where}: {what}; allowed: {allowed()}")


def _constant_construct(value: Any) -> str:
    if isinstance(value, bool):
        return "booleans"
    if isinstance(value, (str, bytes)):
        return "strings"
    if isinstance(value, complex):
        return "complex numbers"
    if value is None:
        return "None"
    return f"the constant {value!r:.40}"


def _parse_limited(source: str) -> ast.Expression:
    """``ast.parse(source, mode="eval")`` after the limits that keep Python's recursive parser safe."""
    if len(source) > MAX_EXPRESSION_LENGTH:
        raise ExpressionError(
            f"expression is {len(source)} characters long; the limit is {MAX_EXPRESSION_LENGTH} "
            "(valuegrad.graph.MAX_EXPRESSION_LENGTH)"
        )
    operators = sum(map(source.count, "+-*/("))
    if operators > MAX_OPERATORS:
        raise ExpressionError(
            f"expression has {operators} operators and brackets; the limit is {MAX_OPERATORS} "
            "(valuegrad.graph.MAX_OPERATORS: each may nest the expression one level deeper)"
        )
    try:
        return ast.parse(source.strip(), mode="eval")
    except SyntaxError as exc:
        column = f" at column {exc.offset}" if exc.offset else ""
        raise ExpressionError(f"cannot parse {source!r:.80}: {exc.msg}{column}") from None
    except ValueError as exc:  # null bytes
        raise ExpressionError(f"cannot parse {source!r:.80}: {exc}") from None
    except (RecursionError, MemoryError):  # within the limits only when the caller's stack is very deep
        raise ExpressionError(f"cannot parse {source!r:.80}: nested too deeply for Python's parser") from None


def _check_node(node: Any, stack: list[Any]) -> None:
    """Refuse ``node`` unless it is an allowed kind; push its children onto ``stack``."""
    kind = type(node)  # exact types: faster than isinstance, and mypy cannot narrow ast nodes anyway
    if kind is ast.Constant:
        value = node.value
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise _refuse(node, _constant_construct(value))
    elif kind is ast.Name:
        if node.id in FUNCTIONS:
            raise _refuse(node, f"{node.id} used as a value (it is a function: call it as {node.id}(...))")
    elif kind is ast.BinOp or kind is ast.UnaryOp:
        allowed_kind = type(node.op) in _BINARY if kind is ast.BinOp else type(node.op) is ast.USub
        if not allowed_kind:
            raise _refuse(node, f"the operator {_OPERATOR_SYMBOLS.get(type(node.op), type(node.op).__name__)}")
        stack.extend((node.right, node.left) if kind is ast.BinOp else (node.operand,))
    elif kind is ast.Call:
        _check_call(node)
        stack.extend(reversed(node.args))
    else:
        raise _refuse(node, _CONSTRUCTS.get(kind, kind.__name__))


def _check_call(node: Any) -> None:
    func = node.func
    if type(func) is ast.Attribute:
        raise _refuse(func, "attribute access (calling a method)")
    if type(func) is not ast.Name:
        raise _refuse(node, "calling anything but a plain function name")
    if func.id not in FUNCTIONS:
        raise _refuse(node, f"calling {func.id!r} (not a known function)")
    if node.keywords:
        raise _refuse(node, f"keyword arguments ({func.id}({node.keywords[0].arg or '**'}=...))")
    arity = _arity(func.id)
    if len(node.args) != arity:
        raise _refuse(node, f"{func.id}() with {len(node.args)} arguments (it takes exactly {arity})")


def parse_expression(source: str) -> ast.Expression:
    """Parse ``source`` with :mod:`ast` and check that it only uses what :func:`allowed` lists.

    Never evaluates anything.  Raises :class:`ExpressionError` naming the refused construct, or
    the limit (:data:`MAX_EXPRESSION_LENGTH`, :data:`MAX_OPERATORS`) an expression exceeds.
    """
    if not isinstance(source, str):
        raise TypeError(f"parse_expression(): source must be a str, got {type(source).__name__}")
    tree = _parse_limited(source)
    stack: list[Any] = [tree.body]
    while stack:
        _check_node(stack.pop(), stack)
    return tree


def variable_names(tree: ast.Expression) -> list[str]:
    """Names of the variables a parsed expression uses, in order of first appearance."""
    names: dict[str, tuple[int, int]] = {}
    for node in ast.walk(tree):
        if type(node) is ast.Name and node.id not in FUNCTIONS:
            position = (node.lineno, node.col_offset)
            if node.id not in names or position < names[node.id]:
                names[node.id] = position
    return sorted(names, key=names.__getitem__)


def evaluate_expression(expression: str | ast.Expression, variables: Mapping[str, Any]) -> Any:
    """Evaluate an expression (checked by :func:`parse_expression`) over ``variables``.

    Variables may be floats (the result is a float) or Values (the result is a Value whose
    graph records every operation).  Iterative: deeply nested expressions are fine.
    """
    tree = parse_expression(expression) if isinstance(expression, str) else expression
    missing = [name for name in variable_names(tree) if name not in variables]
    if missing:
        raise ExpressionError(f"no value given for variable(s) {', '.join(missing)}")
    results: list[Any] = []
    stack: list[tuple[Any, bool]] = [(tree.body, False)]
    while stack:
        node, children_done = stack.pop()
        kind = type(node)
        if kind is ast.Constant:
            results.append(ops.to_float(node.value, "expression constant"))
        elif kind is ast.Name:
            results.append(variables[node.id])
        elif not children_done:
            stack.append((node, True))
            if kind is ast.BinOp:
                stack.extend(((node.right, False), (node.left, False)))  # left is evaluated first
            elif kind is ast.UnaryOp:
                stack.append((node.operand, False))
            elif kind is ast.Call:
                stack.extend((argument, False) for argument in reversed(node.args))
            else:
                raise _refuse(node, kind.__name__)  # only reachable with an unchecked tree
        elif kind is ast.BinOp:
            right = results.pop()
            results.append(_BINARY[type(node.op)](results.pop(), right))
        elif kind is ast.UnaryOp:
            results.append(-results.pop())
        else:
            count = len(node.args)
            arguments = results[-count:]
            del results[-count:]
            results.append(FUNCTIONS[node.func.id](*arguments))
    return results[0]


def build_graph(expression: str | ast.Expression, values: Mapping[str, float]) -> tuple[Value, dict[str, Value]]:
    """Leaves labelled by variable name, the expression built over them, and backward run."""
    leaves = {name: Value(value, label=name) for name, value in values.items()}
    root = evaluate_expression(expression, leaves)
    if not isinstance(root, Value):  # an expression without variables is a constant
        root = Value(root)
    if root.parents and not root.label:
        root.label = "out"
    root.backward()
    return root, leaves


# -- the subcommand ---------------------------------------------------------------------------

OUTPUT_FORMATS = (*FORMATS, "dot")
_DOT_EXTENSIONS = (".dot", ".gv")

EPILOG = """\
variables: give each variable after the expression as --NAME VALUE (or --NAME=VALUE);
  every variable the expression uses needs one, and every one given must be used.

examples:
  valuegrad graph "tanh(x*w + b)" --x 0.5 --w -1 --b 0.3 -o graph.png
  valuegrad graph "tanh(x1*w1 + x2*w2 + b)" --x1 2 --w1 -3 --x2 0 --w2 1 --b 6.8813735870195432 -o neuron.svg
  valuegrad graph "log(x) * sigmoid(y) ** 2" --x 3 --y -0.5 --format dot -o graph.gv   # no `dot` needed
"""


MAX_DRAWN = 5_000  # --max-nodes: beyond this `dot` would not finish anyway (render stops it after a timeout)


def _path_text(text: str) -> str:
    """argparse type: valuegrad.options.path's checks (not empty, components that fit), kept as text."""
    return os.fspath(options.path(text))


_path_text.__name__ = "path"  # what argparse calls the type in a message, never the function's own name


def _add_output_options(parser: argparse.ArgumentParser, *, suppress: bool = False) -> None:
    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    parser.add_argument("-o", "--output", type=_path_text, default=default(None),
                        help="image file to write (default graph.png, or none with --animate); "
                             "the extension picks the format")
    parser.add_argument("--animate", metavar="FILE", type=_path_text, default=default(None),
                        help="also write backpropagation step by step: FILE.gif (needs Pillow) or FILE.html")
    parser.add_argument("--format", choices=OUTPUT_FORMATS, default=default(None),
                        help="png, svg, pdf, or dot (the DOT source; needs no Graphviz)")
    parser.add_argument("--rankdir", choices=RANKDIRS, default=default("LR"),
                        help="direction of the edges (default LR: inputs left, output right)")
    parser.add_argument("--max-nodes", type=options.integer(1, MAX_DRAWN), default=default(200),
                        help="draw at most this many Values, nearest the output first (default 200)")
    parser.add_argument("--no-local-grads", action="store_true", default=default(False),
                        help="do not label edges with local derivatives")


def add_expression_arguments(
    parser: argparse.ArgumentParser, epilog: str, add_options: Callable[[argparse.ArgumentParser], None]
) -> None:
    """`valuegrad graph`'s and `valuegrad explore`'s command line: the expression, the command's options, variables."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = epilog
    parser.add_argument("expression", help=f"e.g. \"tanh(x*w + b)\"; allowed: {allowed()}")
    add_options(parser)
    parser.add_argument("variables", nargs=argparse.REMAINDER, metavar="--NAME VALUE",
                        help="the value of each variable")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_expression_arguments(parser, EPILOG, _add_output_options)
    parser.set_defaults(_graph_parser=parser)


class UsageError(Exception):
    """A command line `valuegrad graph` or `valuegrad explore` cannot run: said in one line, exit status 2."""


def _parse_variables(tokens: list[str]) -> dict[str, float]:
    values: dict[str, float] = {}
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if not token.startswith("--") or len(token) == 2:
            raise UsageError(f"unexpected argument {token!r}: give variables as --NAME VALUE after the expression")
        name, has_equals, text = token[2:].partition("=")
        if has_equals:
            i += 1
        elif i + 1 < len(tokens):
            text = tokens[i + 1]
            i += 2
        else:
            raise UsageError(f"variable --{name} needs a value (--{name} VALUE)")
        if not name.isidentifier():
            raise UsageError(f"--{name}: a variable name must be a Python identifier")
        if name in values:
            raise UsageError(f"variable --{name} is given twice")
        try:
            values[name] = float(text)
        except ValueError:
            raise UsageError(f"variable --{name}: {text!r} is not a number") from None
    return values


def _checked_path(path: str, option: str) -> str:
    """A file path for ``option``: a directory (``out/``) gets ``graph`` inside it, never a hidden ``.png``."""
    if path.endswith(("/", os.sep)) or os.path.isdir(path):
        path = os.path.join(path, "graph")
    directory = os.path.dirname(path) or "."
    if not os.path.isdir(directory):
        raise UsageError(f"{option} {path!r}: directory {directory!r} does not exist")
    return path


def _animation_output(path: str | None) -> tuple[str, str] | None:
    if path is None:
        return None
    path = _checked_path(path, "--animate")
    extension = os.path.splitext(path)[1].lower()
    if extension in ("", ".gif"):
        return (path if extension else path + ".gif"), "gif"
    if extension in (".html", ".htm"):
        return path, "html"
    raise UsageError(f"--animate {path!r}: the file must end in .gif or .html")


def _output(args: argparse.Namespace) -> tuple[str, str] | None:
    """The output path and format, from --format or else from the extension of -o (None: no picture)."""
    if args.output is None:
        if args.animate is not None and args.format is None:
            return None
    path = _checked_path("graph.png" if args.output is None else args.output, "-o")
    root, extension = os.path.splitext(path)
    extension = extension.lower()
    if args.format is not None:
        fmt = args.format
    elif extension in _DOT_EXTENSIONS:
        fmt = "dot"
    elif extension[1:] in FORMATS:
        fmt = extension[1:]
    elif not extension:
        fmt = "png"
    else:
        raise UsageError(f"cannot tell the format from {path!r}; use --format {'|'.join(OUTPUT_FORMATS)}")
    if fmt == "dot" and extension not in _DOT_EXTENSIONS:
        path += ".gv"
    elif fmt != "dot" and extension != "." + fmt:
        path += "." + fmt
    return path, fmt


def usage_error(parser: argparse.ArgumentParser, message: str) -> int:
    """One line on stderr, as every other usage error of `valuegrad` (options.Parser); exit status 2."""
    print(f"{parser.prog}: error: {message} (see `{parser.prog} --help`)", file=sys.stderr)
    return 2


def read_expression_command(
    args: argparse.Namespace, add_late_options: Callable[[argparse.ArgumentParser], None]
) -> tuple[argparse.Namespace, ast.Expression, dict[str, float]]:
    """The options (also those after the expression), the parsed expression and its variables' values.

    ``add_late_options(parser)`` adds the command's options with ``default=argparse.SUPPRESS``:
    options after the expression arrive in the remainder together with the variables.  Raises
    ``argparse.ArgumentError``, :class:`UsageError` or :class:`ExpressionError` (see :func:`usage_error`).
    """
    late = argparse.ArgumentParser(prog="", add_help=False, allow_abbrev=False, exit_on_error=False)
    add_late_options(late)
    options, rest = late.parse_known_args(list(getattr(args, "variables", None) or []))
    merged = argparse.Namespace(**{**vars(args), **vars(options)})
    values = _parse_variables(rest)
    tree = parse_expression(merged.expression)
    used = variable_names(tree)
    missing = [name for name in used if name not in values]
    if missing:
        raise UsageError(f"no value for variable(s) {', '.join(missing)}: add " +
                         " ".join(f"--{name} VALUE" for name in missing))
    unused = [name for name in values if name not in used]
    if unused:
        raise UsageError(f"variable(s) {', '.join(unused)} given but not used in {merged.expression!r}")
    return merged, tree, values


def help_asked_after_expression(args: argparse.Namespace) -> bool:
    remainder = list(getattr(args, "variables", None) or [])
    return "-h" in remainder or "--help" in remainder


def run(args: argparse.Namespace) -> int:
    parser = getattr(args, "_graph_parser", None)
    if parser is None:
        parser = argparse.ArgumentParser(prog="valuegrad graph")
        add_arguments(parser)
    if help_asked_after_expression(args):
        parser.print_help()
        return 0
    try:
        merged, tree, values = read_expression_command(args, lambda late: _add_output_options(late, suppress=True))
        output = _output(merged)
        animation = _animation_output(merged.animate)
    except (argparse.ArgumentError, UsageError, ExpressionError) as exc:
        return usage_error(parser, str(exc))

    root, leaves = build_graph(tree, values)
    draw_options = {"rankdir": merged.rankdir, "show_local_grads": not merged.no_local_grads,
                    "max_nodes": merged.max_nodes}
    written = []
    try:
        if output is not None:
            path, fmt = output
            if fmt == "dot":
                written.append(write_atomic(path, to_dot(root, **draw_options).source))
            else:
                written.append(draw(root, path, format=fmt, **draw_options))
        if animation is not None:
            written.append(animate_backward(root, animation[0], format=animation[1], rankdir=merged.rankdir))
    except (RuntimeError, OSError, ImportError, ValueError) as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}")
    print(f"{merged.expression.strip()} = {root.data!r}")
    for name, leaf in leaves.items():
        print(f"  d/d{name} = {leaf.grad!r}")
    return 0
