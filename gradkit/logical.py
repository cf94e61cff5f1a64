"""Comparisons, logical and bitwise ops and the float tests, with PyTorch's names: ``eq ne lt le gt ge`` (and
their long names), ``logical_and/or/xor/not``, ``bitwise_and/or/xor/not`` (the operators ``& | ^ ~``),
``isnan isinf isfinite``. None is differentiable: each gives a plain tensor (bool, or for bitwise ops the
promoted integer or bool dtype).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from . import ops
from ._opmaking import named
from .tensor import Scalar, Tensor

__all__ = ["bitwise_and", "bitwise_not", "bitwise_or", "bitwise_xor", "eq", "ge", "greater", "greater_equal", "gt",
           "isfinite", "isinf", "isnan", "le", "less", "less_equal", "logical_and", "logical_not", "logical_or",
           "logical_xor", "lt", "ne", "not_equal"]


def _comparison(name: str, op: Callable[[Any, Any], Any]) -> Callable[[Tensor, Any], Tensor]:
    def compare(input: Tensor, other: Any) -> Tensor:
        return ops.compare(input, other, op)

    return named(compare, name, f"``input {name} other`` elementwise (``other`` a Tensor or a number, broadcast, after "
                 f"torch's promotion) as a bool tensor, as ``torch.{name}``.")


eq = _comparison("eq", operator.eq)
ne = not_equal = _comparison("ne", operator.ne)
lt = less = _comparison("lt", operator.lt)
le = less_equal = _comparison("le", operator.le)
gt = greater = _comparison("gt", operator.gt)
ge = greater_equal = _comparison("ge", operator.ge)


def _truth(a: Tensor) -> Any:
    xp = a.backend.xp
    return a._data if a._data.dtype == xp.bool else a._data != 0


def _logical(name: str, op: Callable[[Any, Any], Any]) -> Callable[[Tensor, Tensor], Tensor]:
    def logical(input: Tensor, other: Tensor) -> Tensor:
        if not isinstance(other, Tensor):
            raise TypeError(f"{name}(input, other) takes two tensors (as torch), got other={type(other).__name__}")
        return Tensor._wrap(op(_truth(input), _truth(ops._as_tensor(input, other))), input.backend)

    return named(logical, name, f"``{name}`` of the truth of each element (nonzero is True, any dtype), broadcast, as "
                 f"``torch.{name}``: a bool tensor. Raises TypeError when ``other`` is not a Tensor.")


logical_and = _logical("logical_and", operator.and_)
logical_or = _logical("logical_or", operator.or_)
logical_xor = _logical("logical_xor", operator.ne)


def logical_not(input: Tensor) -> Tensor:
    """True where an element is zero (any dtype), as ``torch.logical_not``: a bool tensor."""
    return Tensor._wrap(input.backend.xp.logical_not(_truth(input)), input.backend)


def _integral(a: Tensor, name: str) -> None:
    if ops._category(a.backend, a._data.dtype) == 2:
        raise TypeError(f"{name} is defined on integer and bool tensors, not {a.dtype} (as in torch)")


def _bitwise(name: str, op: Callable[[Any, Any], Any]) -> Callable[[Tensor, Any], Tensor]:
    def bitwise(input: Tensor, other: Any) -> Tensor:
        _integral(input, name)
        if isinstance(other, Scalar):
            if isinstance(other, float):
                raise TypeError(f"{name} of a tensor and a float is not defined (as in torch)")
            ad, k = ops._with_number(input, other)
            return Tensor._wrap(op(ad, k), input.backend)
        b = ops._as_tensor(input, other)
        _integral(b, name)
        ad, bd = ops._promote(input, b)
        return Tensor._wrap(op(ad, bd), input.backend)

    return named(bitwise, name, f"``{name}`` of integer or bool tensors (``other`` a Tensor or an int/bool, broadcast, "
                 f"torch's promotion: bool with bool stays bool), as ``torch.{name}``. Raises TypeError for floats.")


bitwise_and = _bitwise("bitwise_and", operator.and_)
bitwise_or = _bitwise("bitwise_or", operator.or_)
bitwise_xor = _bitwise("bitwise_xor", operator.xor)


def bitwise_not(input: Tensor) -> Tensor:
    """``~input``: each bit flipped for integers (``~x == -x - 1``), logical not for bools, as
    ``torch.bitwise_not``. Raises TypeError for a float tensor."""
    _integral(input, "bitwise_not")
    xp = input.backend.xp
    x = input._data
    return Tensor._wrap(xp.logical_not(x) if x.dtype == xp.bool else xp.bitwise_invert(x), input.backend)


def _test(name: str, fn: Callable[[Any, Any], Any], integers: bool) -> Callable[[Tensor], Tensor]:
    def test(input: Tensor) -> Tensor:
        xp = input.backend.xp
        x = input._data
        if ops._category(input.backend, x.dtype) < 2:
            return Tensor._wrap(xp.full(x.shape, integers, dtype=xp.bool, device=input.backend.device), input.backend)
        return Tensor._wrap(fn(xp, x), input.backend)

    return named(test, name, f"``{name}`` of each element as a bool tensor, as ``torch.{name}`` (integers: all "
                 f"{integers}).")


isnan = _test("isnan", lambda xp, x: xp.isnan(x), False)
isinf = _test("isinf", lambda xp, x: xp.isinf(x), False)
isfinite = _test("isfinite", lambda xp, x: xp.isfinite(x), True)
