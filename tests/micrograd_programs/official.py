"""micrograd's official test file (test/test_engine.py) as functions of the Value class, plus its torch side."""

from __future__ import annotations

from typing import Any


def sanity_check(Value: Any) -> tuple[Any, Any]:
    """test_sanity_check, micrograd side: returns (x, y) after y.backward()."""
    x = Value(-4.0)
    z = 2 * x + 2 + x
    q = z.relu() + z * x
    h = (z * z).relu()
    y = h + q + q * x
    y.backward()
    return x, y


def more_ops(Value: Any) -> tuple[Any, Any, Any]:
    """test_more_ops, micrograd side (in-place += included): returns (a, b, g) after g.backward()."""
    a = Value(-4.0)
    b = Value(2.0)
    c = a + b
    d = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g += 10.0 / f
    g.backward()
    return a, b, g


def sanity_check_torch(torch: Any) -> tuple[float, float]:
    """test_sanity_check, torch side in float64: returns (y, dy/dx)."""
    x = torch.tensor([-4.0], dtype=torch.float64, requires_grad=True)
    z = 2 * x + 2 + x
    q = z.relu() + z * x
    h = (z * z).relu()
    y = h + q + q * x
    y.backward()
    return y.item(), x.grad.item()


def more_ops_torch(torch: Any) -> tuple[float, float, float]:
    """test_more_ops, torch side in float64: returns (g, dg/da, dg/db)."""
    a = torch.tensor([-4.0], dtype=torch.float64, requires_grad=True)
    b = torch.tensor([2.0], dtype=torch.float64, requires_grad=True)
    c = a + b
    d = a * b + b**3
    c = c + c + 1
    c = c + 1 + c + (-a)
    d = d + d * 2 + (b + a).relu()
    d = d + 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g = g + 10.0 / f
    g.backward()
    return g.item(), a.grad.item(), b.grad.item()
