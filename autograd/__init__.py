"""valuegrad's scalar automatic differentiation engine: Value, backward, and friends."""

from .engine import backward, grad, gradients, no_grad, topological_order, value_and_grad
from .gradcheck import GradcheckError, gradcheck, numerical_grad
from .ops import abs, exp, log, relu, sigmoid, sqrt, tanh  # noqa: A004 - abs is kept out of __all__
from .value import Value, dot, sum  # noqa: A004 - sum is kept out of __all__

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
