"""valuegrad's scalar automatic differentiation engine: Value, backward, and friends."""

import builtins
from typing import Any, Callable

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
from .gradcheck import GradcheckError, check_grads, gradcheck, numerical_grad
from .ops import FUNCTIONS as _FUNCTIONS
from .ops import defop
from .render import draw, draw_dot, to_dot
from .value import Value

# One function per public row of the rule table (exp, log, tanh, ..., sum, dot, logsumexp):
# made from the rows, so an op added to autograd/ops.py appears here without another edit.
globals().update(_FUNCTIONS)

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
    "check_grads",
    "compile_batched",
    "compile_graph",
    "detect_anomaly",
    "defop",
    "draw",
    "draw_dot",
    "explore",
    "grad",
    "is_grad_enabled",
    "gradcheck",
    "gradients",
    "jacobian",
    "jvp",
    "no_grad",
    "numerical_grad",
    "set_grad_mode",
    "to_dot",
    "topological_order",
    "value_and_grad",
]
# And the rows' functions; those that shadow builtins (sum, abs) are importable by name but kept
# out of __all__.
__all__ += sorted(name for name in _FUNCTIONS if not hasattr(builtins, name))


def __getattr__(name: str) -> Callable[..., Any]:
    """A function of a row registered after import (``autograd.defop``): ``autograd.softsign``."""
    function = _FUNCTIONS.get(name)
    if function is None:
        raise AttributeError(f"module 'autograd' has no attribute {name!r}")
    return function
