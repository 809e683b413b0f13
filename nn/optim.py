"""Optimizers: SGD (momentum, weight decay) and Adam on Values' .data, and their twins on a float64 vector."""

from __future__ import annotations

import math
from typing import Any, Iterable

from autograd import Value
from autograd.ops import is_real


def _params(params: Iterable[Value], where: str) -> list[Value]:
    if isinstance(params, Value):
        raise TypeError(f"{where}: params must be an iterable of Values (e.g. model.parameters()), got one Value")
    try:
        params = list(params)
    except TypeError:
        raise TypeError(f"{where}: params must be an iterable of Values, got {type(params).__name__}") from None
    if not params:
        raise ValueError(f"{where}: params is empty; there is nothing to optimise")
    seen = set()
    for i, p in enumerate(params):
        if not isinstance(p, Value):
            raise TypeError(f"{where}: params[{i}] must be a Value, got {type(p).__name__}: {p!r:.60}")
        if id(p) in seen:
            raise ValueError(f"{where}: params[{i}] ({p!r}) appears more than once; it would be updated twice")
        seen.add(id(p))
    return params


def _number(x: Any, name: str, where: str) -> float:
    """Any real number (int, float, Fraction, numpy scalar) as a finite float."""
    value = float(x) if is_real(x) else math.nan
    if not math.isfinite(value):
        raise ValueError(f"{where}: {name} must be a finite number, got {type(x).__name__}: {x!r:.60}")
    return value


class Optimizer:
    """Holds the parameters; subclasses implement :meth:`step`."""

    def __init__(self, params: Iterable[Value], lr: float) -> None:
        self.params = _params(params, f"{type(self).__name__}()")
        self.lr = lr

    @property
    def lr(self) -> float:
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        # A property so learning-rate schedules (opt.lr = ...) are validated too.
        lr = _number(value, "lr", type(self).__name__)
        if not lr > 0.0:
            raise ValueError(f"{type(self).__name__}: lr must be > 0, got {value!r}")
        self._lr = lr

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = 0.0

    def step(self) -> None:
        raise NotImplementedError(f"{type(self).__name__} must define step()")


class SGD(Optimizer):
    """Stochastic gradient descent: ``v = momentum * v + (grad + weight_decay * w)``; ``w -= lr * v``.

    With ``momentum=0`` this is plain ``w -= lr * grad`` (micrograd's update).  Weight decay
    is L2 regularisation added to the gradient, as in ``torch.optim.SGD``.
    """

    def __init__(self, params: Iterable[Value], lr: float, *, momentum: float = 0.0, weight_decay: float = 0.0) -> None:
        super().__init__(params, lr)
        self.momentum = _number(momentum, "momentum", "SGD()")
        if not 0.0 <= self.momentum < 1.0:
            raise ValueError(f"SGD(): momentum must be in [0, 1), got {momentum!r}")
        self.weight_decay = _number(weight_decay, "weight_decay", "SGD()")
        if self.weight_decay < 0.0:
            raise ValueError(f"SGD(): weight_decay must be >= 0, got {weight_decay!r}")
        self.velocity = [0.0] * len(self.params)

    def step(self) -> None:
        lr, mu, wd = self._lr, self.momentum, self.weight_decay
        if mu == 0.0 and wd == 0.0:
            for p in self.params:
                p.data -= lr * p.grad
            return
        velocity = self.velocity
        for i, p in enumerate(self.params):
            g = p.grad + wd * p.data if wd else p.grad
            if mu:
                g = velocity[i] = mu * velocity[i] + g
            p.data -= lr * g


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015) with bias correction, as ``torch.optim.Adam`` computes it:
    ``m = b1 m + (1-b1) g``, ``v = b2 v + (1-b2) g^2``,
    ``w -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)``."""

    def __init__(
        self, params: Iterable[Value], lr: float = 1e-3, *, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8
    ) -> None:
        super().__init__(params, lr)
        try:
            beta1, beta2 = betas
        except (TypeError, ValueError):
            raise ValueError(f"Adam(): betas must be a pair (beta1, beta2), got {betas!r:.60}") from None
        self.betas = (_number(beta1, "betas[0]", "Adam()"), _number(beta2, "betas[1]", "Adam()"))
        for i, b in enumerate(self.betas):
            if not 0.0 <= b < 1.0:
                raise ValueError(f"Adam(): betas[{i}] must be in [0, 1), got {b!r}")
        self.eps = _number(eps, "eps", "Adam()")
        if not self.eps > 0.0:
            raise ValueError(f"Adam(): eps must be > 0, got {eps!r}")
        self.t = 0
        self.m = [0.0] * len(self.params)
        self.v = [0.0] * len(self.params)

    def step(self) -> None:
        self.t += 1
        beta1, beta2 = self.betas
        step_size = self._lr / (1.0 - beta1**self.t)
        sqrt_correction2 = math.sqrt(1.0 - beta2**self.t)
        eps, m, v = self.eps, self.m, self.v
        sqrt = math.sqrt
        for i, p in enumerate(self.params):
            g = p.grad
            m[i] = beta1 * m[i] + (1.0 - beta1) * g
            v[i] = beta2 * v[i] + (1.0 - beta2) * g * g
            p.data -= step_size * (m[i] / (sqrt(v[i]) / sqrt_correction2 + eps))


# -- the same updates on a float64 vector (fit(backend="batched") trains the graph's own vector) ---

class ArraySGD:
    """:class:`SGD`'s update on a float64 vector ``params`` (changed in place): the same
    numbers as SGD on Values holding those floats, in a few numpy calls per step."""

    def __init__(self, params: Any, lr: float, *, momentum: float = 0.0, weight_decay: float = 0.0) -> None:
        self.params = _vector(params, "ArraySGD()")
        like = SGD([Value(0.0)], lr, momentum=momentum, weight_decay=weight_decay)  # validates as SGD does
        self.lr, self.momentum, self.weight_decay = like.lr, like.momentum, like.weight_decay
        self.velocity = _np().zeros_like(self.params)
        self._scratch = _np().empty_like(self.params)

    def step(self, grad: Any) -> None:
        """One update with the gradient ``grad`` (same shape as ``params``)."""
        np = _np()
        p, g, scratch = self.params, grad, self._scratch
        if self.weight_decay:
            np.multiply(p, self.weight_decay, out=scratch)  # p.grad + wd * p.data
            np.add(g, scratch, out=scratch)
            g = scratch
        if self.momentum:
            v = self.velocity
            np.multiply(v, self.momentum, out=v)  # mu * v + g
            np.add(v, g, out=v)
            g = v
        np.multiply(g, self.lr, out=scratch)
        np.subtract(p, scratch, out=p)

    @classmethod
    def like(cls, optimizer: SGD, params: Any) -> ArraySGD:
        """An ArraySGD with ``optimizer``'s settings and velocity, on ``params``."""
        array = cls(params, optimizer.lr, momentum=optimizer.momentum, weight_decay=optimizer.weight_decay)
        array.velocity[:] = optimizer.velocity
        return array

    def store(self, optimizer: SGD) -> None:
        """Write the velocity back into ``optimizer`` (whose params the vector mirrors)."""
        optimizer.velocity = self.velocity.tolist()


class ArrayAdam:
    """:class:`Adam`'s update on a float64 vector ``params`` (changed in place): the same
    operations in the same order as Adam on Values, so the same numbers."""

    def __init__(
        self, params: Any, lr: float = 1e-3, *, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8
    ) -> None:
        np = _np()
        self.params = _vector(params, "ArrayAdam()")
        like = Adam([Value(0.0)], lr, betas=betas, eps=eps)  # validates as Adam does
        self.lr, self.betas, self.eps = like.lr, like.betas, like.eps
        self.t = 0
        self.m = np.zeros_like(self.params)
        self.v = np.zeros_like(self.params)
        self._scratch = np.empty_like(self.params)

    def step(self, grad: Any) -> None:
        """One update with the gradient ``grad`` (same shape as ``params``)."""
        np = _np()
        self.t += 1
        beta1, beta2 = self.betas
        step_size = self.lr / (1.0 - beta1**self.t)
        sqrt_correction2 = math.sqrt(1.0 - beta2**self.t)
        m, v, s = self.m, self.v, self._scratch
        np.multiply(m, beta1, out=m)  # m = beta1 * m + (1 - beta1) * g
        np.multiply(grad, 1.0 - beta1, out=s)
        np.add(m, s, out=m)
        np.multiply(v, beta2, out=v)  # v = beta2 * v + (1 - beta2) * g * g
        np.multiply(grad, 1.0 - beta2, out=s)
        np.multiply(s, grad, out=s)
        np.add(v, s, out=v)
        np.sqrt(v, out=s)  # w -= step_size * (m / (sqrt(v) / sqrt_correction2 + eps))
        np.divide(s, sqrt_correction2, out=s)
        np.add(s, self.eps, out=s)
        np.divide(m, s, out=s)
        np.multiply(s, step_size, out=s)
        np.subtract(self.params, s, out=self.params)

    @classmethod
    def like(cls, optimizer: Adam, params: Any) -> ArrayAdam:
        """An ArrayAdam with ``optimizer``'s settings, step count and moments, on ``params``."""
        array = cls(params, optimizer.lr, betas=optimizer.betas, eps=optimizer.eps)
        array.t = optimizer.t
        array.m[:] = optimizer.m
        array.v[:] = optimizer.v
        return array

    def store(self, optimizer: Adam) -> None:
        """Write the step count and moments back into ``optimizer``."""
        optimizer.t = self.t
        optimizer.m = self.m.tolist()
        optimizer.v = self.v.tolist()


def array_optimizer(optimizer: Optimizer, params: Any) -> ArraySGD | ArrayAdam | None:
    """The array twin of ``optimizer`` on ``params`` (its parameters' values, in its order),
    or None when it has none (another optimizer, or a subclass with its own ``step``)."""
    if type(optimizer).step is SGD.step and isinstance(optimizer, SGD):
        return ArraySGD.like(optimizer, params)
    if type(optimizer).step is Adam.step and isinstance(optimizer, Adam):
        return ArrayAdam.like(optimizer, params)
    return None


def _np() -> Any:
    try:
        import numpy
    except ImportError:
        raise ImportError("array optimizers need numpy: pip install 'valuegrad[fast]' (or pip install numpy)") from None
    return numpy


def _vector(params: Any, where: str) -> Any:
    np = _np()
    if not (isinstance(params, np.ndarray) and params.dtype == np.float64 and params.ndim == 1):
        got = f"an array of shape {params.shape} and dtype {params.dtype}" if isinstance(params, np.ndarray) \
            else type(params).__name__
        raise TypeError(f"{where}: params must be a 1-D float64 numpy array (updated in place), got {got}")
    return params
