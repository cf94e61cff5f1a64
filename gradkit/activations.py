"""Activation functions with PyTorch's names, arguments and gradients (``torch.nn.functional``): ``relu`` (with
``inplace``), ``silu``, ``elu``, ``leaky_relu``, ``softplus``, ``hardtanh``, ``relu6``, ``mish``, ``logsigmoid`` and
the exact (erf) GELU.

Each is one node. The kinks take torch's one-sided gradients (``leaky_relu`` at 0: ``negative_slope``; ``elu`` at
0: ``alpha``; ``hardtanh`` and ``relu6`` at their bounds: 0). ``inplace=True`` writes the result into the input
through ``Tensor._assign`` and returns the input, as torch does. Like torch, the smooth ones refuse integer
tensors; ``hardtanh`` and ``relu6`` keep them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from . import ops
from ._opmaking import ieee, named
from .special import normal_cdf
from .tensor import Tensor

__all__ = ["elu", "gelu_erf", "hardtanh", "leaky_relu", "logsigmoid", "mish", "relu", "relu6", "silu", "softplus"]


def _floats(a: Tensor, name: str) -> Any:
    if ops._category(a.backend, a._data.dtype) < 2:
        raise TypeError(f"{name} of a {a.dtype} tensor is not defined (as in torch); convert it first, e.g. t.float()")
    return a._data


def _result(input: Tensor, out: Tensor, inplace: bool) -> Tensor:
    """``out``, or with ``inplace`` the input overwritten with it (through the door) and returned."""
    return input._assign(out) if inplace else out


def _smooth(name: str, forward: Callable[[Any, Any], tuple[Any, Any]], doc: str) -> Callable[..., Tensor]:
    """The op ``name`` whose ``forward(xp, x)`` returns ``(out, slope)``: its value and local derivative."""

    @ieee
    def op(input: Tensor, inplace: bool = False) -> Tensor:
        xp = input.backend.xp
        out, slope = forward(xp, _floats(input, name))
        return _result(input, Tensor._node(out, (input,), lambda g: (g * slope,), name), inplace)

    return named(op, name, f"``{name}(input)`` elementwise, as ``torch.nn.functional.{name}``: {doc}. Float tensors "
                 "only.")


def _softplus_unit(xp: Any, x: Any) -> Any:
    """``log(1 + exp(x))`` without overflow: ``max(x, 0) + log1p(exp(-|x|))``."""
    return xp.maximum(x, 0.0) + xp.log1p(xp.exp(-xp.abs(x)))


def _sigmoid(xp: Any, x: Any) -> Any:
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _silu(xp: Any, x: Any) -> tuple[Any, Any]:
    s = _sigmoid(xp, x)
    return x * s, s * (1.0 + x * (1.0 - s))


def _mish(xp: Any, x: Any) -> tuple[Any, Any]:
    t = xp.tanh(_softplus_unit(xp, x))
    return x * t, t + x * _sigmoid(xp, x) * (1.0 - t * t)


def _logsigmoid(xp: Any, x: Any) -> tuple[Any, Any]:
    return xp.minimum(x, 0.0) - xp.log1p(xp.exp(-xp.abs(x))), _sigmoid(xp, -x)


silu = _smooth("silu", _silu, "``x sigmoid(x)`` (swish; Ramachandran et al. 2017)")
mish = _smooth("mish", _mish, "``x tanh(softplus(x))`` (Misra 2019)")
_logsigmoid_op = _smooth("logsigmoid", _logsigmoid, "``log(sigmoid(x)) = -softplus(-x)``, stable for any x")


def logsigmoid(input: Tensor) -> Tensor:
    """``log(sigmoid(x)) = -softplus(-x)``, stable for any x, as ``torch.nn.functional.logsigmoid``; d/dx =
    ``sigmoid(-x)``. Float tensors only."""
    return _logsigmoid_op(input)


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """``max(x, 0)`` (see ``ops.relu``), as ``torch.nn.functional.relu``, with ``inplace``."""
    return _result(input, ops.relu(input), inplace)


@ieee
def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``x`` above 0, ``alpha (exp(x) - 1)`` at and below, as ``torch.nn.functional.elu`` (Clevert et al. 2015);
    d/dx = 1 above 0, ``alpha exp(x)`` at and below. Float tensors only."""
    xp = input.backend.xp
    x = _floats(input, "elu")
    negative = x <= 0  # nan takes the linear side, as torch
    below = alpha * xp.exp(xp.minimum(x, 0.0))
    out = xp.where(negative, below - alpha, x)
    slope = xp.where(negative, below, xp.ones_like(x))
    return _result(input, Tensor._node(out, (input,), lambda g: (g * slope,), "elu"), inplace)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """``x`` above 0, ``negative_slope * x`` at and below, as ``torch.nn.functional.leaky_relu``; d/dx = 1 above
    0, ``negative_slope`` at and below. Float tensors only."""
    xp = input.backend.xp
    x = _floats(input, "leaky_relu")
    positive = x > 0
    out = xp.where(positive, x, x * negative_slope)
    slope = xp.where(positive, xp.ones_like(x), xp.full_like(x, negative_slope))
    return _result(input, Tensor._node(out, (input,), lambda g: (g * slope,), "leaky_relu"), inplace)


@ieee
def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """``log(1 + exp(beta x)) / beta``, and ``x`` itself where ``beta x > threshold``, as
    ``torch.nn.functional.softplus``; d/dx = ``sigmoid(beta x)`` (1 above the threshold). Float tensors only."""
    xp = input.backend.xp
    x = _floats(input, "softplus")
    bx = x * beta
    linear = bx > threshold
    out = xp.where(linear, x, _softplus_unit(xp, bx) / beta)
    slope = xp.where(linear, xp.ones_like(x), _sigmoid(xp, bx))
    return Tensor._node(out, (input,), lambda g: (g * slope,), "softplus")


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    """``x`` limited to ``[min_val, max_val]``, as ``torch.nn.functional.hardtanh`` (nan stays nan; an integer
    tensor stays an integer tensor); d/dx = 1 strictly inside, 0 at the bounds and beyond (torch's).

    Raises:
        ValueError: ``min_val > max_val``.
    """
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) must not be greater than max_val ({max_val})")
    xp = input.backend.xp
    x = input._data
    if ops._category(input.backend, x.dtype) < 2:  # an integer tensor takes the bounds truncated, as torch
        min_val, max_val = int(min_val), int(max_val)
    out = xp.where(x < min_val, xp.full_like(x, min_val), xp.where(x > max_val, xp.full_like(x, max_val), x))
    inside = xp.logical_not((x <= min_val) | (x >= max_val))  # nan passes the gradient, as torch
    return _result(input, Tensor._node(out, (input,), lambda g: (g * xp.astype(inside, g.dtype),), "hardtanh"),
                   inplace)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """``min(max(x, 0), 6)``, as ``torch.nn.functional.relu6`` (``hardtanh(x, 0, 6)``)."""
    return hardtanh(input, 0.0, 6.0, inplace)


_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


@ieee
def gelu_erf(input: Tensor) -> Tensor:
    """The exact GELU, ``x Phi(x) = x (1 + erf(x / sqrt 2)) / 2``, torch's ``gelu(x)`` (``approximate="none"``);
    d/dx = ``Phi(x) + x phi(x)``. ``Phi`` is ``special.normal_cdf`` (in float32 a one-piece logistic form, as
    accurate as torch's and 1.7x fewer passes than through erf). Source: Hendrycks & Gimpel, "Gaussian Error
    Linear Units", 2016."""
    xp = input.backend.xp
    x = _floats(input, "gelu")
    cdf = normal_cdf(xp, x)
    out = x * cdf

    def backward(g: Any) -> tuple[Any]:
        d = xp.exp(x * x * -0.5)
        d *= x
        d *= _INV_SQRT_2PI
        d += cdf
        d *= g
        return (d,)

    return Tensor._node(out, (input,), backward, "gelu", (input,))
