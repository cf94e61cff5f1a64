"""Reductions with PyTorch's signatures: ``sum``, ``mean``, ``prod``, ``logsumexp``, ``max``/``min``
(``(values, indices)`` along a ``dim``), ``amax``/``amin``, ``argmax``/``argmin``, ``var``/``std`` (and
``var_mean``/``std_mean``), ``topk``, ``all``/``any``.

Every function takes PyTorch's ``dim=``/``keepdim=`` or numpy's ``axis=``/``keepdims=`` (one of each pair).
The arithmetic of ``sum``, ``mean`` and the full ``max`` is ``gradkit.ops``'s; this module adds the names.
"""

from __future__ import annotations

import builtins
import math
from typing import Any, NamedTuple

import numpy as np

from . import ops
from ._opmaking import ieee
from .tensor import Tensor, pick_dim, pick_keepdim

__all__ = ["Histogram", "ValuesIndices", "all", "allclose", "amax", "amin", "any", "argmax", "argmin", "histogram",
           "logsumexp", "max", "mean", "min", "prod", "std", "std_mean", "sum", "topk", "var", "var_mean"]


class ValuesIndices(NamedTuple):
    """``(values, indices)``, as ``torch.return_types.max``/``min``/``topk``: unpackable, or ``.values`` and
    ``.indices`` (int64)."""

    values: Tensor
    indices: Tensor


def sum(input: Tensor, dim: Any = None, keepdim: bool | None = None, *, axis: Any = None,  # noqa: A001
        keepdims: bool | None = None, dtype: Any = None) -> Tensor:
    """Sum over ``dim`` (an int, a tuple, or None for all), as ``torch.sum``; ``dtype`` casts the input first."""
    x = input if dtype is None else input.astype(dtype)
    return ops.sum(x, pick_dim("sum", dim, axis), pick_keepdim("sum", keepdim, keepdims))


def mean(input: Tensor, dim: Any = None, keepdim: bool | None = None, *, axis: Any = None,
         keepdims: bool | None = None, dtype: Any = None) -> Tensor:
    """Mean over ``dim`` (an int, a tuple, or None for all), as ``torch.mean``."""
    x = input if dtype is None else input.astype(dtype)
    return ops.mean(x, pick_dim("mean", dim, axis), pick_keepdim("mean", keepdim, keepdims))


def amax(input: Tensor, dim: Any = None, keepdim: bool | None = None, *, axis: Any = None,
         keepdims: bool | None = None) -> Tensor:
    """Maximum over ``dim`` (int, tuple or None for all), as ``torch.amax``: ties share the gradient equally."""
    return ops.max(input, pick_dim("amax", dim, axis), pick_keepdim("amax", keepdim, keepdims))


def amin(input: Tensor, dim: Any = None, keepdim: bool | None = None, *, axis: Any = None,
         keepdims: bool | None = None) -> Tensor:
    """Minimum over ``dim``, as ``torch.amin``: ties share the gradient equally; exact at an integer type's
    minimum; a bool tensor's minimum is ``all``."""
    return ops.min(input, pick_dim("amin", dim, axis), pick_keepdim("amin", keepdim, keepdims))


def max(input: Tensor, dim: Any = None, keepdim: bool | None = None, *, axis: Any = None,  # noqa: A001
        keepdims: bool | None = None) -> Any:
    """As ``torch.max``: without ``dim`` the maximum of all elements (a 0-d tensor; tied maxima share the
    gradient); with an int ``dim`` a ``ValuesIndices`` named tuple ``(values, indices)`` along it (the first
    maximum's index; the gradient goes to that element, as torch's). ``max(a, b)`` of two tensors is
    ``gradkit.maximum``.

    Raises:
        TypeError: a tuple ``dim`` (use ``amax``), or both ``dim`` and ``axis``.
    """
    return _extreme("max", input, dim, keepdim, axis, keepdims)


def min(input: Tensor, dim: Any = None, keepdim: bool | None = None, *, axis: Any = None,  # noqa: A001
        keepdims: bool | None = None) -> Any:
    """As ``torch.min``: see ``max``."""
    return _extreme("min", input, dim, keepdim, axis, keepdims)


def _extreme(name: str, x: Tensor, dim: Any, keepdim: Any, axis: Any, keepdims: Any) -> Any:
    if isinstance(dim, Tensor):
        from .pointwise import maximum, minimum

        return (maximum if name == "max" else minimum)(x, dim)
    d = pick_dim(name, dim, axis)
    keep = pick_keepdim(name, keepdim, keepdims)
    if d is None:
        if keep:
            raise TypeError(f"{name}() without dim reduces every axis; keepdim needs a dim (or use a{name})")
        return amax(x) if name == "max" else amin(x)
    if not isinstance(d, int):
        raise TypeError(f"{name}(dim) takes one int dim, got {d!r}; for several dims use gradkit.a{name}")
    return _values_indices(x, d, keep, name == "max")


def _values_indices(x: Tensor, dim: int, keepdim: bool, largest: bool) -> ValuesIndices:
    """Values and first indices of the extreme along ``dim``; the gradient flows to those indices only."""
    xp, backend = x.backend.xp, x.backend
    if x.ndim == 0:  # dim 0 or -1 (checked by _axes), as torch
        ops._axes(dim, 0)
        return ValuesIndices(ops.reshape(x, ()), Tensor._wrap(backend.zeros((), "int64"), backend))
    (d,) = ops._axes(dim, x.ndim)
    if x.shape[d] == 0:
        raise IndexError(f"{'max' if largest else 'min'}(dim={dim}): the dimension has length 0")
    data = x._data if x._data.dtype != xp.bool else xp.astype(x._data, xp.int8)  # the standard orders no bools
    idx = (xp.argmax if largest else xp.argmin)(data, axis=d, keepdims=True)
    values = xp.take_along_axis(x._data, idx, axis=d)
    return _picked(x, d, idx, values, keepdim)


def _picked(x: Tensor, d: int, idx: Any, values: Any, keepdim: bool) -> ValuesIndices:
    """``values`` taken from ``x`` at ``idx`` (keepdims layout along ``d``) as a node whose gradient is scattered
    back to those positions, and the int64 indices."""
    xp, backend = x.backend.xp, x.backend
    n = x.shape[d]
    where = tuple(n if i == d else 1 for i in range(x.ndim))
    positions = xp.reshape(backend.arange(n, dtype=idx.dtype), where)
    k = idx.shape[d]
    out_shape = values.shape if keepdim else tuple(s for i, s in enumerate(values.shape) if i != d)

    def backward(g: Any) -> tuple[Any]:
        g = xp.reshape(g, values.shape)
        if k == 1:
            return (xp.astype(positions == idx, g.dtype) * g,)
        # several picks along d (topk): one-hot over a new trailing axis, summed over the picks
        moved_idx = xp.expand_dims(xp.moveaxis(idx, d, -1), axis=-1)
        moved_g = xp.expand_dims(xp.moveaxis(g, d, -1), axis=-1)
        hits = xp.astype(moved_idx == backend.arange(n, dtype=idx.dtype), g.dtype)
        return (xp.moveaxis(xp.sum(hits * moved_g, axis=-2), -1, d),)

    out = Tensor._node(values if keepdim else xp.reshape(values, out_shape), (x,), backward, "pick")
    indices = backend.astype(idx if keepdim else xp.reshape(idx, out_shape), "int64")
    return ValuesIndices(out, Tensor._wrap(indices, backend))


def argmax(input: Tensor, dim: int | None = None, keepdim: bool | None = None, *, axis: int | None = None,
           keepdims: bool | None = None) -> Tensor:
    """Index of the first maximum along ``dim`` (of the flattened tensor for None), int64, as ``torch.argmax``."""
    return _arg("argmax", input, dim, keepdim, axis, keepdims)


def argmin(input: Tensor, dim: int | None = None, keepdim: bool | None = None, *, axis: int | None = None,
           keepdims: bool | None = None) -> Tensor:
    """Index of the first minimum along ``dim``, int64, as ``torch.argmin``."""
    return _arg("argmin", input, dim, keepdim, axis, keepdims)


def _arg(name: str, x: Tensor, dim: Any, keepdim: Any, axis: Any, keepdims: Any) -> Tensor:
    d, keep = pick_dim(name, dim, axis), pick_keepdim(name, keepdim, keepdims)
    xp, be = x.backend.xp, x.backend
    data = x._data if d is not None else xp.reshape(x._data, (-1,))
    out = getattr(xp, name)(data, axis=0 if d is None else d, keepdims=keep and d is not None)
    if keep and d is None:
        out = xp.reshape(out, (1,) * x.ndim)
    return Tensor._wrap(be.astype(out, "int64"), be)


def var(input: Tensor, dim: Any = None, unbiased: bool | None = None, keepdim: bool | None = None, *,
        correction: float | None = None, axis: Any = None, keepdims: bool | None = None) -> Tensor:
    """Variance over ``dim`` (int, tuple or None for all), as ``torch.var``: ``sum((x - mean)**2) / (n -
    correction)``. ``correction`` defaults to 1 (Bessel's, unbiased); ``unbiased=False`` is ``correction=0``.
    Where ``n - correction <= 0`` the result is nan (torch's value). One node with an analytic backward,
    ``2 (x - mean) / (n - correction)``. Source: makemore part 3 (BatchNorm by hand).

    Raises:
        TypeError: both ``unbiased`` and ``correction``, or both spellings of an argument.
    """
    return _quiet_moment("var", input, dim, unbiased, keepdim, correction, axis, keepdims)


def std(input: Tensor, dim: Any = None, unbiased: bool | None = None, keepdim: bool | None = None, *,
        correction: float | None = None, axis: Any = None, keepdims: bool | None = None) -> Tensor:
    """Standard deviation, ``sqrt(var(...))`` with ``var``'s arguments, as ``torch.std``; one node with the
    backward ``(x - mean) / ((n - correction) std)``, 0 where std is 0 (a constant input), as torch's."""
    return _quiet_moment("std", input, dim, unbiased, keepdim, correction, axis, keepdims)


def _moment(name: str, x: Tensor, dim: Any, unbiased: Any, keepdim: Any, correction: Any, axis: Any,
            keepdims: Any) -> Tensor:
    if unbiased is not None and correction is not None:
        raise TypeError(f"{name}() got both unbiased= and correction=; pass one (unbiased=False is correction=0)")
    corr = correction if correction is not None else 1 if unbiased is None else int(bool(unbiased))
    axes = ops._axes(pick_dim(name, dim, axis), x.ndim)
    keep = pick_keepdim(name, keepdim, keepdims)
    if not x.backend.xp.isdtype(x._data.dtype, "real floating"):
        x = x.astype("float32")  # torch refuses integer input; the default float is the friendlier answer
    xp = x.backend.xp
    n = math.prod(x.shape[i] for i in axes)
    dof = n - corr
    scale = 1 / dof if dof > 0 else math.inf  # torch divides by max(0, dof): inf (nan where the sum is 0)
    centred = x._data - xp.mean(x._data, axis=axes, keepdims=True) if n else x._data
    variance = xp.sum(centred * centred, axis=axes, keepdims=True) * scale
    result = variance if name == "var" else xp.sqrt(variance)
    shape = ops._keepdims_shape(x.shape, axes)
    out = result if keep else xp.reshape(result, tuple(s for i, s in enumerate(x.shape) if i not in axes))

    def backward(g: Any) -> tuple[Any]:
        g = xp.reshape(g, shape)
        if name == "var":
            return (g * centred * (2 * scale),)
        if dof <= 0:  # torch: g / (2 std) * (2 / 0) * (x - mean): nan
            return (g * centred * math.nan,)
        denom = result / scale  # (n - correction) * std
        zero = denom == 0  # torch's std_backward masks the gradient to 0 where std is 0 (a constant input)
        safe = xp.where(zero, xp.ones_like(denom), denom)
        return (xp.where(zero, xp.zeros_like(denom), g / safe) * centred,)

    return Tensor._node(out, (x,), backward, name)


def topk(input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> ValuesIndices:  # noqa: A002
    """The ``k`` largest (or smallest) elements along ``dim`` and their int64 indices, as ``torch.topk``; the
    values are always sorted (``sorted=False`` allows any order in torch). Equal values keep index order.

    Raises:
        ValueError: ``k`` larger than the dimension (or negative).
    """
    xp = input.backend.xp
    (d,) = ops._axes(dim, builtins.max(input.ndim, 1))
    n = input.shape[d] if input.ndim else 1
    if not 0 <= k <= n:
        raise ValueError(f"topk: k={k} is out of range for a dimension of length {n}")
    data = input._data if input.ndim else xp.reshape(input._data, (1,))
    key = -data if largest else data
    order = xp.argsort(key, axis=d, stable=True)
    idx = order[(slice(None),) * d + (slice(0, k), ...)]
    values = xp.take_along_axis(data, idx, axis=d)
    source = input if input.ndim else ops.reshape(input, (1,))
    return _picked(source, d, idx, values, True)


def allclose(input: Tensor, other: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:
    """True when ``|input - other| <= atol + rtol * |other|`` everywhere (broadcast), as ``torch.allclose`` (a
    Python bool: one value read from the device)."""
    xp = input.backend.xp
    a, b = ops._promote(input, ops._as_tensor(input, other))
    finite = xp.isfinite(a) & xp.isfinite(b)
    zero = xp.zeros_like(a)
    af, bf = xp.where(finite, a, zero), xp.where(finite, b, zero)  # no inf - inf (nan, and a numpy warning)
    close = xp.where(finite, xp.abs(af - bf) <= atol + rtol * xp.abs(bf), a == b)
    if equal_nan:
        close = close | (xp.isnan(a) & xp.isnan(b))
    return bool(xp.all(close))


def histogram(input: Tensor, bins: int = 100, *, density: bool = False) -> Histogram:
    """``(hist, bin_edges)`` of the values, ``bins`` equal bins over their range, as ``torch.histogram`` (float
    tensors on ``input``'s backend; counted on the host, for plots such as makemore part 3's activation
    histograms)."""
    hist, edges = np.histogram(input.numpy(), bins=bins, density=density)
    be = input.backend
    dtype = input._data.dtype
    return Histogram(Tensor._wrap(be.asarray(hist, dtype), be), Tensor._wrap(be.asarray(edges, dtype), be))


class Histogram(NamedTuple):
    """``(hist, bin_edges)``, as ``torch.return_types.histogram``."""

    hist: Tensor
    bin_edges: Tensor


def all(input: Tensor, dim: Any = None, keepdim: bool | None = None, *, axis: Any = None,  # noqa: A001
        keepdims: bool | None = None) -> Tensor:
    """True where every element over ``dim`` is nonzero (a bool tensor), as ``torch.all``."""
    return _logical("all", input, dim, keepdim, axis, keepdims)


def any(input: Tensor, dim: Any = None, keepdim: bool | None = None, *, axis: Any = None,  # noqa: A001
        keepdims: bool | None = None) -> Tensor:
    """True where some element over ``dim`` is nonzero (a bool tensor), as ``torch.any``."""
    return _logical("any", input, dim, keepdim, axis, keepdims)


def _logical(name: str, x: Tensor, dim: Any, keepdim: Any, axis: Any, keepdims: Any) -> Tensor:
    xp = x.backend.xp
    axes = ops._axes(pick_dim(name, dim, axis), x.ndim)
    truth = x._data if x._data.dtype == xp.bool else x._data != 0
    return Tensor._wrap(getattr(xp, name)(truth, axis=axes, keepdims=pick_keepdim(name, keepdim, keepdims)),
                        x.backend)


_quiet_moment = ieee(_moment)  # IEEE specials silent: inf - inf in a centred inf is nan, without a warning


@ieee
def prod(input: Tensor, dim: int | None = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """The product of all elements, or along one int ``dim``, as ``torch.prod``: integers and bools multiply in
    int64 (``dtype`` casts first). The gradient is torch's: ``g * prod / x`` when the input holds no zero, else
    the product of the other elements (exclusive running products from both ends), exact with zeros.

    Raises:
        TypeError: a tuple ``dim`` (as torch).
    """
    if dim is not None and not isinstance(dim, int):
        raise TypeError(f"prod(dim) takes one int dim, got {dim!r} (as torch); reduce one dim at a time")
    x = input if dtype is None else input.astype(dtype)
    if ops._category(x.backend, x._data.dtype) < 2 and dtype is None:
        x = x.astype("int64")
    flat = ops.reshape(x, (-1,)) if dim is None else x if x.ndim else ops.reshape(x, (1,))
    d = 0 if dim is None else ops._axes(dim, builtins.max(x.ndim, 1))[0]
    out = _product(flat, d, keepdim)
    if dim is None:
        return ops.reshape(out, (1,) * x.ndim if keepdim else ())
    return out if x.ndim else ops.reshape(out, ())


def _product(x: Tensor, d: int, keepdim: bool) -> Tensor:
    xp = x.backend.xp
    xd = x._data
    n = x.shape[d]
    lead = (slice(None),) * d
    result = xp.prod(xd, axis=d, keepdims=True)

    def backward(g: Any) -> tuple[Any]:
        if n == 0:
            return (xp.zeros_like(xd),)
        g = xp.reshape(g, result.shape)
        head = lead + (slice(0, n - 1), ...)

        def exclusive(v: Any) -> Any:  # prod_{j < i} v_j along d
            return xp.concat([xp.ones_like(result), xp.cumulative_prod(v, axis=d)[head]], axis=d)

        left, right = exclusive(xd), xp.flip(exclusive(xp.flip(xd, axis=d)), axis=d)
        plain = result / xd  # torch's formula, used when the input holds no zero at all
        return (g * xp.where(xp.any(xd == 0), left * right, plain),)

    out = result if keepdim else xp.reshape(result, tuple(s for i, s in enumerate(x.shape) if i != d))
    return Tensor._node(out, (x,), backward, "prod", (x,))


@ieee
def logsumexp(input: Tensor, dim: Any, keepdim: bool = False) -> Tensor:
    """``log(sum(exp(input)))`` over ``dim`` (an int or a tuple; required, as torch's), stable, as
    ``torch.logsumexp``: shifted by the maximum (by 0 where that is infinite, so ``[inf, inf]`` gives inf and all
    ``-inf`` gives -inf); an empty dim gives -inf; integers give float32. The gradient is ``g * exp(input -
    out)`` (nan where all are -inf, as torch)."""
    if dim is None:
        raise TypeError("logsumexp() needs dim (an int or a tuple of ints), as torch")
    x = input if ops._category(input.backend, input._data.dtype) == 2 else input.astype("float32")
    xp = x.backend.xp
    axes = ops._axes(dim, x.ndim)
    xd = x._data
    if x.size == 0:  # an empty sum: log(0) = -inf
        top = x.backend.zeros(ops._keepdims_shape(x.shape, axes), xd.dtype)
    else:
        top = xp.max(xd, axis=axes, keepdims=True)
        top = xp.where(xp.isinf(top), xp.zeros_like(top), top)
    result = xp.log(xp.sum(xp.exp(xd - top), axis=axes, keepdims=True)) + top
    out = result if keepdim else xp.reshape(result, tuple(s for i, s in enumerate(x.shape) if i not in axes))
    return Tensor._node(out, (x,), lambda g: (xp.reshape(g, result.shape) * xp.exp(xd - result),), "logsumexp",
                        (x,))


def var_mean(input: Tensor, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False, *,
             correction: float | None = None) -> tuple[Tensor, Tensor]:
    """``(var(input, ...), mean(input, ...))`` over ``dim``, as ``torch.var_mean`` (``correction`` default 1;
    a bool in ``dim``'s place is ``unbiased``, as torch reads ``var_mean(x, False)``)."""
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    v = var(input, dim, unbiased, keepdim, correction=correction)
    x = input if ops._category(input.backend, input._data.dtype) == 2 else input.astype("float32")
    return v, mean(x, dim, keepdim)


def std_mean(input: Tensor, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False, *,
             correction: float | None = None) -> tuple[Tensor, Tensor]:
    """``(std(input, ...), mean(input, ...))`` over ``dim``, as ``torch.std_mean`` (see ``var_mean``)."""
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    s = std(input, dim, unbiased, keepdim, correction=correction)
    x = input if ops._category(input.backend, input._data.dtype) == 2 else input.astype("float32")
    return s, mean(x, dim, keepdim)
