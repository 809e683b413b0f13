"""valuegrad's scalar automatic differentiation engine: Value, backward, and friends."""

from .engine import backward, grad, gradients, no_grad, topological_order, value_and_grad
from .gradcheck import GradcheckError, gradcheck, numerical_grad
from .ops import abs as abs  # noqa: A004 - shadows the builtin: kept out of __all__
from .ops import exp, log, relu, sigmoid, sqrt, tanh
from .value import Value, dot
from .value import sum as sum  # noqa: A004 - shadows the builtin: kept out of __all__

__version__ = "0.1.0"

__all__ = [
    "GradcheckError",
    "Value",
    "backward",
    "dot",
    "exp",
    "grad",
    "gradcheck",
    "gradients",
    "log",
    "no_grad",
    "numerical_grad",
    "relu",
    "sigmoid",
    "sqrt",
    "tanh",
    "topological_order",
    "value_and_grad",
]
