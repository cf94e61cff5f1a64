"""``sort`` and ``argsort`` with PyTorch's signatures and order: stable (always: torch leaves the order of ties
unspecified unless ``stable=True``, so a stable sort is one of its valid answers), nan after every number in
ascending order and before them in descending order, ``-0.0`` equal to ``0.0``.

Descending order is an ascending sort of an order-reversing key (``-x`` for floats, ``~x`` for integers, which
cannot overflow), since numpy's ``argsort`` has no ``descending=``; the nans are then moved to the front by a
second stable sort on ``isnan``.
"""

from __future__ import annotations

from typing import Any

from . import ops
from .reductions import ValuesIndices
from .shapes import _axis
from .tensor import Tensor

__all__ = ["argsort", "msort", "sort"]


def _order(a: Tensor, d: int, descending: bool) -> Any:
    """The int64 indices that sort ``a``'s data (at least 1-D) along ``d``, stably, in torch's order."""
    xp, be = a.backend.xp, a.backend
    x = a._data
    category = ops._category(be, x.dtype)
    if category == 0:
        x = xp.astype(x, xp.int8)  # the standard sorts no bools
    if not descending:
        return be.astype(xp.argsort(x, axis=d, stable=True), "int64")
    order = xp.argsort(-x if category == 2 else xp.bitwise_invert(x), axis=d, stable=True)
    if category == 2:  # nans first: a stable sort of "is a number" over the order found
        number = xp.astype(xp.logical_not(xp.isnan(xp.take_along_axis(x, order, axis=d))), xp.int8)
        order = xp.take_along_axis(order, xp.argsort(number, axis=d, stable=True), axis=d)
    return be.astype(order, "int64")


def sort(input: Tensor, dim: int = -1, descending: bool = False, *, stable: bool = False) -> ValuesIndices:
    """The elements sorted along ``dim`` and the int64 indices they came from, as ``torch.sort``: always stable
    (``stable`` is accepted for torch's signature), nans last (first when ``descending``). The gradient goes back
    to where each value came from.

    Raises:
        IndexError: ``dim`` out of range.
    """
    d = _axis(dim, input.ndim, "sort")
    if not input.ndim:
        return ValuesIndices(ops.reshape(input, ()), Tensor._wrap(input.backend.zeros((), "int64"), input.backend))
    xp, be = input.backend.xp, input.backend
    idx = _order(input, d, descending)
    shape = input.shape
    values = Tensor._node(xp.take_along_axis(input._data, idx, axis=d), (input,),
                          lambda g: (ops._scatter_along(be, shape, d, idx, g),), "sort")
    return ValuesIndices(values, Tensor._wrap(idx, be))


def argsort(input: Tensor, dim: int = -1, descending: bool = False, *, stable: bool = False) -> Tensor:
    """The int64 indices that sort ``input`` along ``dim``, as ``torch.argsort`` (``sort``'s order: stable, nans
    last, or first when ``descending``)."""
    d = _axis(dim, input.ndim, "argsort")
    if not input.ndim:
        return Tensor._wrap(input.backend.zeros((), "int64"), input.backend)
    return Tensor._wrap(_order(input, d, descending), input.backend)


def msort(input: Tensor) -> Tensor:
    """``sort(input, dim=0).values``, as ``torch.msort``."""
    return sort(input, 0).values
