"""Elementwise math with PyTorch's names, signatures, dtypes and gradients: trigonometric and hyperbolic functions
and their inverses, ``rsqrt``, ``log2``, ``log1p``, ``exp2``, ``expm1``, ``erf``; the roundings ``floor``,
``ceil``, ``trunc``, ``round`` (half to even, ``decimals=``), ``sign``, ``frac``; and ``atan2``, ``lerp``,
``floor_divide`` (``//``) and ``remainder`` (``%``); ``addcmul`` and ``addcdiv``.

Each is one node. Integer and bool inputs of the float functions are computed in the default float dtype
(float32), as torch's; the roundings keep an integer tensor as it is and refuse bools (as torch). IEEE specials
are results, never numpy warnings: ``asin(2)`` is nan, ``atanh(1)`` inf, ``log2(0)`` -inf.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from . import _trace, ops
from ._opmaking import ieee, named
from .special import TWO_OVER_SQRT_PI, erf_array
from .tensor import DEFAULT_DTYPE, Scalar, Tensor

__all__ = ["acos", "acosh", "addcdiv", "addcmul", "arccos", "arccosh", "arcsin", "arcsinh", "arctan", "arctan2",
           "arctanh", "asin", "asinh", "atan", "atan2", "ceil", "cos", "cosh", "erf", "exp2", "expm1", "fix", "floor",
           "floor_divide", "frac", "lerp", "log1p", "log2", "remainder", "round", "rsqrt", "sign", "sin", "sinh",
           "square", "tan", "trunc"]

Fn = Callable[[Any, Any], Any]


def _float_op(name: str, forward: Fn, slope: Callable[[Any, Any, Any], Any], reads_input: bool = True,
              doc: str = "") -> Callable[[Tensor], Tensor]:
    """The op ``name``: ``forward(xp, x)`` of the input's data (integers and bools as the default float), with
    the local derivative ``slope(xp, x, out)`` multiplying the upstream gradient."""

    @ieee
    def op(input: Tensor) -> Tensor:
        x = ops._float_data(input)
        xp = input.backend.xp
        out = forward(xp, x)
        return Tensor._node(out, (input,), lambda g: (g * slope(xp, x, out),), name, (input,) if reads_input else ())

    return named(op, name, f"``{name}(input)`` elementwise, as ``torch.{name}``: {doc}. Integer and bool tensors "
                 "give float32 (the default float dtype).")


def _rsqrt(xp: Any, x: Any) -> Any:
    return 1.0 / xp.sqrt(x)


sin = _float_op("sin", lambda xp, x: xp.sin(x), lambda xp, x, out: xp.cos(x), doc="d/dx = cos(x)")
cos = _float_op("cos", lambda xp, x: xp.cos(x), lambda xp, x, out: -xp.sin(x), doc="d/dx = -sin(x)")
tan = _float_op("tan", lambda xp, x: xp.tan(x), lambda xp, x, out: 1.0 + out * out, False, "d/dx = 1 + tan(x)^2")
asin = _float_op("asin", lambda xp, x: xp.asin(x), lambda xp, x, out: _rsqrt(xp, 1.0 - x * x),
                 doc="nan outside [-1, 1]; d/dx = 1 / sqrt(1 - x^2)")
acos = _float_op("acos", lambda xp, x: xp.acos(x), lambda xp, x, out: -_rsqrt(xp, 1.0 - x * x),
                 doc="nan outside [-1, 1]; d/dx = -1 / sqrt(1 - x^2)")
atan = _float_op("atan", lambda xp, x: xp.atan(x), lambda xp, x, out: 1.0 / (x * x + 1.0), doc="d/dx = 1 / (1 + x^2)")
sinh = _float_op("sinh", lambda xp, x: xp.sinh(x), lambda xp, x, out: xp.cosh(x), doc="d/dx = cosh(x)")
cosh = _float_op("cosh", lambda xp, x: xp.cosh(x), lambda xp, x, out: xp.sinh(x), doc="d/dx = sinh(x)")
asinh = _float_op("asinh", lambda xp, x: xp.asinh(x), lambda xp, x, out: _rsqrt(xp, x * x + 1.0),
                  doc="d/dx = 1 / sqrt(x^2 + 1)")
acosh = _float_op("acosh", lambda xp, x: xp.acosh(x), lambda xp, x, out: _rsqrt(xp, x * x - 1.0),
                  doc="nan below 1; d/dx = 1 / sqrt(x^2 - 1)")
atanh = _float_op("atanh", lambda xp, x: xp.atanh(x), lambda xp, x, out: 1.0 / (1.0 - x * x),
                  doc="+-inf at +-1, nan beyond; d/dx = 1 / (1 - x^2)")
rsqrt = _float_op("rsqrt", _rsqrt, lambda xp, x, out: -0.5 * out * out * out, False,
                  "1 / sqrt(x): inf at 0, nan below; d/dx = -rsqrt(x)^3 / 2")
log2 = _float_op("log2", lambda xp, x: xp.log2(x), lambda xp, x, out: 1.0 / (x * math.log(2.0)),
                 doc="-inf at 0, nan below; d/dx = 1 / (x ln 2)")
log1p = _float_op("log1p", lambda xp, x: xp.log1p(x), lambda xp, x, out: 1.0 / (x + 1.0),
                  doc="log(1 + x), exact for tiny x; d/dx = 1 / (1 + x)")
exp2 = _float_op("exp2", lambda xp, x: 2.0**x, lambda xp, x, out: out * math.log(2.0), False,
                 "2 ** x; d/dx = 2^x ln 2")
expm1 = _float_op("expm1", lambda xp, x: xp.expm1(x), lambda xp, x, out: out + 1.0, False,
                  "exp(x) - 1, exact for tiny x; d/dx = exp(x)")
erf = _float_op("erf", erf_array, lambda xp, x, out: TWO_OVER_SQRT_PI * xp.exp(-x * x),
                doc="the error function (``gradkit.special``); d/dx = 2 exp(-x^2) / sqrt(pi)")
arcsin, arccos, arctan, arcsinh, arccosh, arctanh = asin, acos, atan, asinh, acosh, atanh  # torch's aliases


def _rounding(name: str, fn: Fn) -> Callable[[Tensor], Tensor]:
    def op(input: Tensor) -> Tensor:
        return _rounded(input, name, fn)

    return named(op, name, f"``{name}(input)`` elementwise, as ``torch.{name}``: an integer tensor is returned as it "
                 "is (a copy), a float one rounded in its dtype; the gradient is 0. TypeError for a bool tensor.")


def _rounded(a: Tensor, name: str, fn: Fn) -> Tensor:
    xp = a.backend.xp
    category = ops._category(a.backend, a._data.dtype)
    if category == 0:
        raise TypeError(f"{name}() of a bool tensor is not defined (as in torch); convert it first, e.g. t.float()")
    if category == 1:
        return Tensor._wrap(xp.asarray(a._data, copy=True), a.backend)
    return Tensor._node(fn(xp, a._data), (a,), lambda g: (xp.zeros_like(g),), name)


floor = _rounding("floor", lambda xp, x: xp.floor(x))
ceil = _rounding("ceil", lambda xp, x: xp.ceil(x))
trunc = _rounding("trunc", lambda xp, x: xp.trunc(x))
fix = trunc  # torch's alias


@ieee
def round(input: Tensor, *, decimals: int = 0) -> Tensor:  # noqa: A001 (torch's name)
    """Round half to even (``round(2.5) == 2``, ``round(-0.5) == -0.0``), as ``torch.round``; ``decimals``
    rounds to that many decimal places (negative: to tens, hundreds, ...), computed as torch does, ``round(x *
    10^d) / 10^d``. An integer tensor is returned as it is; the gradient is 0.

    Raises:
        TypeError: a bool tensor, or ``decimals`` with an integer tensor (as torch).
    """
    if decimals == 0:
        return _rounded(input, "round", lambda xp, x: xp.round(x))
    if ops._category(input.backend, input._data.dtype) < 2:
        raise TypeError(f"round(decimals={decimals}) of a {input.dtype} tensor is not defined (as in torch): decimals "
                        "round a float tensor")
    scale = 10.0 ** abs(decimals)
    if decimals > 0:
        return _rounded(input, "round", lambda xp, x: xp.round(x * scale) / scale)
    return _rounded(input, "round", lambda xp, x: xp.round(x / scale) * scale)


def sign(input: Tensor) -> Tensor:
    """-1, 0 or 1 by the sign of each element, in the input's dtype, as ``torch.sign`` (0 at nan, as torch; a
    bool tensor is returned as it is). The gradient is 0."""
    xp = input.backend.xp
    x = input._data
    if ops._category(input.backend, x.dtype) == 0:
        return Tensor._wrap(xp.asarray(x, copy=True), input.backend)
    out = xp.sign(x)
    if ops._category(input.backend, x.dtype) == 2:
        out = xp.where(xp.isnan(x), xp.zeros_like(out), out)
    return Tensor._node(out, (input,), lambda g: (xp.zeros_like(g),), "sign")


@ieee
def frac(input: Tensor) -> Tensor:
    """``input - trunc(input)`` (the fractional part, with the input's sign), as ``torch.frac``; d/dx = 1.

    Raises:
        TypeError: an integer or bool tensor (as torch).
    """
    if ops._category(input.backend, input._data.dtype) < 2:
        raise TypeError(f"frac() of a {input.dtype} tensor is not defined (as in torch); it takes a float tensor")
    xp = input.backend.xp
    return Tensor._node(input._data - xp.trunc(input._data), (input,), lambda g: (g,), "frac")


@ieee
def atan2(input: Tensor, other: Tensor) -> Tensor:
    """The angle of the point ``(other, input)``, in ``(-pi, pi]``, elementwise with broadcasting, as
    ``torch.atan2(input, other)`` (integers give float32). Gradients, torch's formula: ``d/dinput = other /
    r^2``, ``d/dother = -input / r^2`` with ``r^2 = input^2 + other^2`` (nan at the origin).

    Raises:
        TypeError: ``other`` is not a Tensor (as torch).
    """
    if not isinstance(other, Tensor):
        raise TypeError(f"atan2(input, other) takes two tensors, got other={type(other).__name__} (as torch); wrap "
                        "a number with gradkit.tensor")
    b = ops._as_tensor(input, other)
    yd, xd = ops._promote(input, b)
    if ops._category(input.backend, yd.dtype) < 2:  # integers meet the default float, as torch
        yd, xd = input.backend.astype(yd, DEFAULT_DTYPE), input.backend.astype(xd, DEFAULT_DTYPE)
    xp = input.backend.xp

    def backward(g: Any) -> tuple[Any, Any]:
        scale = g / (xd * xd + yd * yd)
        return ops._unbroadcast(scale * xd, input), ops._unbroadcast(-scale * yd, b)

    return Tensor._node(xp.atan2(yd, xd), (input, b), backward, "atan2", (input, b))


arctan2 = atan2


@ieee
def lerp(input: Tensor, end: Tensor, weight: Any) -> Tensor:
    """``input + weight * (end - input)`` with broadcasting, as ``torch.lerp`` (computed as torch does: from the
    nearer end, so ``weight == 1`` gives ``end`` exactly). ``weight`` is a number or a Tensor. Gradients:
    ``1 - weight``, ``weight`` and ``end - input``.

    Raises:
        TypeError: ``input`` and ``end`` of different dtypes, or not floats (as torch).
    """
    b = ops._as_tensor(input, end)
    if input._data.dtype != b._data.dtype or ops._category(input.backend, input._data.dtype) < 2:
        raise TypeError(f"lerp: input ({input.dtype}) and end ({b.dtype}) must be float tensors of one dtype (as "
                        "torch)")
    xp = input.backend.xp
    w = ops._as_tensor(input, weight) if isinstance(weight, Tensor) else None
    wd = weight if w is None else input.backend.astype(w._data, input._data.dtype)
    sd, ed = input._data, b._data
    diff = ed - sd
    if w is None:
        out = sd + wd * diff if wd < 0.5 else ed - diff * (1.0 - wd)
    else:
        out = xp.where(wd < 0.5, sd + wd * diff, ed - diff * (1.0 - wd))
    parents = (input, b) if w is None else (input, b, w)

    def backward(g: Any) -> tuple[Any, ...]:
        grads = (ops._unbroadcast(g * (1.0 - wd), input), ops._unbroadcast(g * wd, b))
        return grads if w is None else (*grads, ops._unbroadcast(g * diff, w))

    return Tensor._node(out, parents, backward, "lerp", parents)


def _int_division_check(a: Tensor, divisor: Any, name: str) -> None:
    """Raise torch's ZeroDivisionError (a RuntimeError) for an integer division by zero (one host read)."""
    xp = a.backend.xp
    if isinstance(divisor, Scalar):
        if divisor == 0:
            raise RuntimeError(f"ZeroDivisionError: integer {name} by zero (as torch)")
        return
    if divisor.shape and not math.prod(divisor.shape):
        return
    _trace.raise_if(xp.any(divisor == 0), lambda: RuntimeError(f"ZeroDivisionError: integer {name} by zero (as torch)"))


def _division_operands(a: Tensor, b: Any, name: str, reflected: bool) -> tuple[Any, Any, Tensor | None]:
    """``(numerator, denominator, b as a Tensor or None)`` after torch's promotion, with torch's refusals."""
    xp = a.backend.xp
    other = None if isinstance(b, Scalar) else ops._as_tensor(a, b)
    if other is None:
        ad, bd = ops._with_number(a, b)
    else:
        ad, bd = ops._promote(a, other)
    dtype = ad.dtype
    if dtype == xp.bool:
        raise TypeError(f"{name} of bool tensors is not defined (as in torch); convert them first, e.g. t.long()")
    num, den = (bd, ad) if reflected else (ad, bd)
    if ops._category(a.backend, dtype) == 1:
        _int_division_check(a, den, name)
    return num, den, other


@ieee
def floor_divide(input: Tensor, other: Any, *, _reflected: bool = False) -> Tensor:
    """``input // other`` rounded toward minus infinity (``-7 // 2 == -4``), as ``torch.floor_divide`` and Python
    (numbers on either side, broadcasting, torch's promotion; a float by 0 gives +-inf or nan). Like torch's, the
    result is recorded but has no derivative: ``backward`` through it raises RuntimeError.

    Raises:
        RuntimeError: an integer division by zero (ZeroDivisionError, as torch).
        TypeError: bool operands.
    """
    if _reflected and not isinstance(other, Scalar):
        return floor_divide(ops._as_tensor(input, other), input)
    num, den, other_t = _division_operands(input, other, "floor_divide", _reflected)
    parents = (input,) if other_t is None else (input, other_t)

    def backward(g: Any) -> tuple[Any, ...]:
        raise RuntimeError("the derivative for floor_divide is not implemented (as in torch): a floor has no useful "
                           "gradient; detach its operands, or use x / y")

    return Tensor._node(input.backend.xp.floor_divide(num, den), parents, backward, "floor_divide")


@ieee
def remainder(input: Tensor, other: Any, *, _reflected: bool = False) -> Tensor:
    """``input % other`` with the sign of the divisor (``-7 % 2 == 1``, ``7 % -2 == -1``), as ``torch.remainder``
    and Python (numbers on either side, broadcasting; a float by 0 gives nan). Gradients, torch's: 1 for the
    dividend, ``-floor(input / other)`` for the divisor.

    Raises:
        RuntimeError: an integer division by zero (ZeroDivisionError, as torch).
        TypeError: bool operands.
    """
    if _reflected and not isinstance(other, Scalar):
        return remainder(ops._as_tensor(input, other), input)
    num, den, other_t = _division_operands(input, other, "remainder", _reflected)
    xp = input.backend.xp
    out = xp.remainder(num, den)
    if other_t is None:
        if _reflected:  # number % tensor: d/dtensor = -floor(number / tensor)
            return Tensor._node(out, (input,), lambda g: (-g * xp.floor_divide(num, den),), "remainder", (input,))
        return Tensor._node(out, (input,), lambda g: (g,), "remainder")

    def backward(g: Any) -> tuple[Any, Any]:
        return ops._unbroadcast(g, input), ops._unbroadcast(-g * xp.floor_divide(num, den), other_t)

    return Tensor._node(out, (input, other_t), backward, "remainder", (input, other_t))


def square(input: Tensor) -> Tensor:  # noqa: A002 (torch's name)
    """``input * input``, as ``torch.square``: same shape and dtype (an integer tensor stays integer; a bool one
    gives int64, as torch); the gradient is ``2 input``."""
    if input._data.dtype == input.backend.xp.bool:
        input = input.long()
    return ops.mul(input, input)


_ADDCDIV_INTEGERS = ("Integer division with addcdiv is no longer supported, and in a future  release addcdiv will "
                     "perform a true division of tensor1 and tensor2. The historic addcdiv behavior can be "
                     "implemented as (input + value * torch.trunc(tensor1 / tensor2)).to(input.dtype) for integer "
                     "inputs and as (input + value * tensor1 / tensor2) for float inputs. The future addcdiv "
                     "behavior is just the latter implementation: (input + value * tensor1 / tensor2), for all "
                     "dtypes.")


def _addc(input: Tensor, tensor1: Any, tensor2: Any, value: Any, divides: bool) -> Tensor:  # noqa: A002
    """``input + value * tensor1 (*|/) tensor2`` in the three tensors' promoted dtype, ``value`` cast to it."""
    t1, t2 = ops._as_tensor(input, tensor1), ops._as_tensor(input, tensor2)
    be = input.backend
    if divides and ops._category(be, t1._data.dtype) < 2 and ops._category(be, t2._data.dtype) < 2:
        raise RuntimeError(_ADDCDIV_INTEGERS)
    target = ops.result_dtype(be, [input._data, t1._data, t2._data])
    if ops._category(be, target) < 2:
        value = int(value)  # torch casts the scalar to the result's dtype: 0.5 is 0 for integers
    ins, t1, t2 = (t if t._data.dtype == target else t.astype(target) for t in (input, t1, t2))
    scaled = t1 if value == 1 else ops.mul(t1, value)
    return ops.add(ins, ops.div(scaled, t2) if divides else ops.mul(scaled, t2))


def addcmul(input: Tensor, tensor1: Any, tensor2: Any, *, value: Any = 1) -> Tensor:  # noqa: A002
    """``input + value * tensor1 * tensor2``, as ``torch.addcmul``: the three tensors broadcast together and
    promote to one dtype (``value`` does not promote: it is cast to that dtype, so ``0.5`` is ``0`` for integers),
    computed as torch's kernel, ``(value * tensor1) * tensor2`` then ``input +``. Differentiable in all three
    tensors (gradients ``1``, ``value * tensor2``, ``value * tensor1``, summed over broadcast axes).

    Raises:
        DeviceMismatchError: a tensor on another backend.
    """
    return _addc(input, tensor1, tensor2, value, divides=False)


def addcdiv(input: Tensor, tensor1: Any, tensor2: Any, *, value: Any = 1) -> Tensor:  # noqa: A002
    """``input + value * tensor1 / tensor2``, as ``torch.addcdiv`` (Adam's update): the three tensors broadcast
    together and promote to one dtype, ``value`` cast to it; computed as torch's kernel, ``(value * tensor1) /
    tensor2`` then ``input +``. Division by 0 gives inf or nan (IEEE), without warnings. Differentiable in all
    three tensors.

    Raises:
        RuntimeError: ``tensor1`` and ``tensor2`` both integer or bool (torch's words: integer division with
            addcdiv is no longer supported).
        DeviceMismatchError: a tensor on another backend.
    """
    return _addc(input, tensor1, tensor2, value, divides=True)
