"""valuegrad's scalar automatic differentiation engine: Value, backward, and friends."""

from .animate import animate_backward
from .anomaly import detect_anomaly
from .batched import BatchedGraph, compile_batched
from .compile import CompiledGraph, compile_graph
from .engine import (
    backward,
    grad,
    gradients,
    is_grad_enabled,
    no_grad,
    set_grad_mode,
    topological_order,
    value_and_grad,
)
from .explore import Explorer, explore
from .forward import Dual, jacobian, jvp
from .gradcheck import GradcheckError, gradcheck, numerical_grad
from .ops import abs as abs  # noqa: A004 - shadows the builtin: kept out of __all__
from .ops import defop, exp, log, relu, sigmoid, softplus, sqrt, tanh
from .render import draw, draw_dot, to_dot
from .value import Value, dot, logsumexp
from .value import sum as sum  # noqa: A004 - shadows the builtin: kept out of __all__

__version__ = "0.1.0"

__all__ = [
    "BatchedGraph",
    "CompiledGraph",
    "Dual",
    "Explorer",
    "GradcheckError",
    "Value",
    "animate_backward",
    "backward",
    "compile_batched",
    "compile_graph",
    "detect_anomaly",
    "defop",
    "dot",
    "draw",
    "draw_dot",
    "exp",
    "explore",
    "grad",
    "is_grad_enabled",
    "gradcheck",
    "gradients",
    "jacobian",
    "jvp",
    "log",
    "logsumexp",
    "no_grad",
    "numerical_grad",
    "relu",
    "set_grad_mode",
    "sigmoid",
    "softplus",
    "sqrt",
    "tanh",
    "to_dot",
    "topological_order",
    "value_and_grad",
]
