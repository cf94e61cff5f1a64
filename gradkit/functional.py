"""Fused, numerically stable functions of the models: softmax, log_softmax, cross_entropy, linear, one_hot,
layer_norm, gelu, embedding (PyTorch's ``torch.nn.functional``; ``import gradkit.functional as F``).

Each is one graph node with an analytic backward, which is both faster and more accurate than composing
the primitive ops.
"""

from __future__ import annotations

import math
from typing import Any

from . import ops  # noqa: F401 (imported first: ops -> _trace -> tensor is the import order that resolves)
from ._trace import raise_if
from .ops import _as_tensor, _promote, _unbroadcast, ieee, lead_sum, row_sum
from .tensor import OUTPUT, Tensor, pick_dim


def _axis_sum(backend: Any, a: Any, axis: int) -> Any:
    """``sum(a, axis, keepdims=True)``, along the last axis as ``ops.row_sum`` (a product with ones)."""
    if axis in (-1, a.ndim - 1):
        return row_sum(backend, a)
    return backend.xp.sum(a, axis=axis, keepdims=True)


def _shifted(x: Tensor, axis: int) -> tuple[Any, Any, Any]:
    """``(x - max, exp(x - max), sum(exp(x - max)))`` along ``axis``, keepdims: the log-sum-exp trick."""
    xp = x.backend.xp
    shifted = x._data - xp.max(x._data, axis=axis, keepdims=True)
    e = xp.exp(shifted)
    return shifted, e, _axis_sum(x.backend, e, axis)


@ieee
def softmax(input: Tensor, dim: int | None = None, *, axis: int | None = None) -> Tensor:
    """``exp(x) / sum(exp(x))`` along ``dim`` (default: the last axis), stable for any finite logits, as
    ``torch.nn.functional.softmax`` (whose implicit dim is deprecated; gradkit's default is the last axis). One
    node: ``e = exp(x - max)`` scaled by ``1 / sum(e)`` (torch's kernel multiplies by the reciprocal too); the
    backward is ``out * (g - sum(g * out))``."""
    d = pick_dim("softmax", dim, axis, -1)
    be = input.backend
    _, e, total = _shifted(input, d)
    out = be.scratch(e)
    out *= 1.0 / total

    def backward(g: Any) -> tuple[Any]:
        grad = be.scratch(g - _axis_sum(be, g * out, d))
        grad *= out
        return (grad,)

    return Tensor._node(out, (input,), backward, "softmax", (OUTPUT,))


@ieee
def log_softmax(input: Tensor, dim: int | None = None, *, axis: int | None = None) -> Tensor:
    """``x - logsumexp(x)`` along ``dim`` (default: the last axis), stable for any finite logits. One node; the
    backward is ``g - softmax(x) * sum(g)``."""
    d = pick_dim("log_softmax", dim, axis, -1)
    xp, be = input.backend.xp, input.backend
    shifted, e, total = _shifted(input, d)
    out = be.scratch(shifted)
    out -= xp.log(total)

    def backward(g: Any) -> tuple[Any]:
        return (g - e * (_axis_sum(be, g, d) / total),)

    return Tensor._node(out, (input,), backward, "log_softmax")


@ieee
def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``input @ weight.T + bias`` as one node, as ``torch.nn.functional.linear``. Shapes: ``input (...,
    in_features)``, ``weight (out_features, in_features)`` (PyTorch's layout), ``bias (out_features,)``;
    returns ``(..., out_features)``. The course's own ``x @ W`` with ``W (fan_in, fan_out)`` is written with
    ``@``.

    Raises:
        ValueError: ``input``'s last axis is not ``in_features``.
    """
    x = input
    fan_out, fan_in = weight._data.shape
    if x._data.shape[-1:] != (fan_in,):
        raise ValueError(f"linear: input of shape {x.shape} does not match a weight of shape {weight.shape} "
                         f"(out_features, in_features): the input's last axis must be {fan_in}")
    xp = x.backend.xp
    weight = _as_tensor(x, weight)  # raises DeviceMismatchError for another backend
    xd, w = _promote(x, weight)  # an integer input meets the weight's float dtype
    x2 = xp.reshape(xd, (-1, fan_in)) if x.ndim != 2 else xd
    out = x2 @ xp.matrix_transpose(w)
    if bias is not None:
        out = x.backend.scratch(out)
        out += _as_tensor(x, bias)._data  # in place: out is the matmul's fresh result
    if x.ndim != 2:
        out = xp.reshape(out, (*x.shape[:-1], fan_out))
    need_x = x.requires_grad

    def backward(g: Any) -> tuple[Any, ...]:
        g2 = xp.reshape(g, (-1, fan_out)) if x.ndim != 2 else g
        gx = None if not need_x else g2 @ w if x.ndim == 2 else xp.reshape(g2 @ w, x.shape)
        grads = (None if gx is None else _unbroadcast(gx, x), _unbroadcast(xp.matrix_transpose(g2) @ x2, weight))
        return grads if bias is None else (*grads, _unbroadcast(lead_sum(x.backend, g2, 1), bias))

    parents = (x, weight) if bias is None else (x, weight, bias)
    return Tensor._node(out, parents, backward, "linear", (x, weight))


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """Integer ``tensor (...)`` -> int64 ``(..., num_classes)`` with a 1 at each id, as
    ``torch.nn.functional.one_hot`` (``num_classes=-1``: the largest id + 1, read from the device). Not
    differentiable; cast with ``.float()`` before a matmul.

    Raises:
        ValueError: a non-integer tensor, or an id outside ``[0, num_classes)``.
    """
    be = tensor.backend
    xp = be.xp
    if not xp.isdtype(tensor._data.dtype, "integral"):
        raise ValueError(f"one_hot needs an integer tensor of class ids, got {tensor._data.dtype}")
    if num_classes < 0:
        num_classes = int(xp.max(tensor._data)) + 1 if tensor.numel() else 0
    elif tensor.numel():
        raise_if(xp.any((tensor._data < 0) | (tensor._data >= num_classes)), lambda: ValueError(
            f"one_hot: a class id is outside [0, {num_classes}); pass num_classes larger than the largest id"))
    index = xp.reshape(tensor._data, (*tensor.shape, 1))
    return Tensor._wrap(xp.astype(index == be.arange(num_classes, dtype=tensor._data.dtype), xp.int64), be)


@ieee
def layer_norm(x: Tensor, normalized_shape: int | tuple[int, ...], weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Layer normalisation over the last ``len(normalized_shape)`` axes, as one node: ``(x - mean) /
    sqrt(var + eps) * weight + bias`` with the biased variance, as ``torch.nn.functional.layer_norm``.

    Shapes: ``x (..., *normalized_shape)``; ``weight``, ``bias`` ``normalized_shape`` (or None). The backward
    is analytic: ``dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))`` with ``dxhat = g * weight``.
    Source: Ba, Kiros, Hinton, "Layer Normalization", 2016; makemore's Transformer (GPT-2's blocks).

    Raises:
        ValueError: ``x``'s trailing shape is not ``normalized_shape``, or ``weight``/``bias`` have another
            shape.
    """
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(shape)
    if k == 0 or x.shape[x.ndim - k:] != shape:
        raise ValueError(f"layer_norm: input of shape {x.shape} does not end in normalized_shape {shape}")
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and p.shape != shape:
            raise ValueError(f"layer_norm: {name} has shape {p.shape}, expected normalized_shape {shape}")
    be, xp = x.backend, x.backend.xp
    n = math.prod(shape)
    rows = xp.reshape(x._data, (-1, n))  # the normalised axes as one (a view of a contiguous input)
    inv_n = 1.0 / n
    xhat = be.scratch(rows - row_sum(be, rows) * inv_n)  # centred, then scaled in place
    rstd = 1.0 / xp.sqrt(row_sum(be, xhat * xhat) * inv_n + eps)
    xhat *= rstd
    w = None if weight is None else xp.reshape(_as_tensor(x, weight)._data, (n,))
    out = be.scratch(xhat) if w is None else be.scratch(xhat * w)
    if bias is not None:
        out += xp.reshape(_as_tensor(x, bias)._data, (n,))

    def backward(g: Any) -> tuple[Any, ...]:
        g2 = xp.reshape(g, (-1, n))
        dxhat = g2 if w is None else g2 * w
        dx = be.scratch(dxhat - row_sum(be, dxhat) * inv_n)
        dx -= xhat * (row_sum(be, dxhat * xhat) * inv_n)
        dx *= rstd
        grads = [xp.reshape(dx, x.shape)]
        if weight is not None:
            grads.append(xp.reshape(lead_sum(be, g2 * xhat, 1), shape))
        if bias is not None:
            grads.append(xp.reshape(lead_sum(be, g2, 1), shape))
        return tuple(grads)

    parents = tuple(t for t in (x, weight, bias) if t is not None)
    return Tensor._node(xp.reshape(out, x.shape), parents, backward, "layer_norm")


_GELU_C = math.sqrt(2.0 / math.pi)


@ieee
def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """GELU, as ``torch.nn.functional.gelu``: with ``approximate="none"`` (the default, as torch's) the exact
    ``x Phi(x)`` (``activations.gelu_erf``); with ``"tanh"`` the approximation ``0.5 x (1 + tanh(sqrt(2/pi) (x +
    0.044715 x^3)))`` as one node (makemore's and GPT-2's ``NewGELU``). Any shape; float dtypes. Source: Hendrycks
    & Gimpel, "Gaussian Error Linear Units", 2016.

    Raises:
        ValueError: ``approximate`` other than ``"none"`` or ``"tanh"``.
    """
    if approximate == "none":
        from .activations import gelu_erf

        return gelu_erf(input)
    if approximate != "tanh":
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    x = input
    xp = x.backend.xp
    xd, be = x._data, x.backend
    x2 = xd * xd  # kept for the backward; every other temporary is updated in place
    inner = be.scratch(x2 * 0.044715)
    inner += 1.0
    inner *= xd
    inner *= _GELU_C  # sqrt(2/pi) (x + 0.044715 x^3)
    t = xp.tanh(inner)
    out = be.scratch(t + 1.0)
    out *= xd
    out *= 0.5

    def backward(g: Any) -> tuple[Any]:
        # d/dx = 0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2)
        slope = be.scratch(x2 * (3 * 0.044715))
        slope += 1.0
        slope *= _GELU_C
        slope *= xd
        sech2 = be.scratch(t * t)
        sech2 -= 1.0  # t^2 - 1 = -(1 - t^2)
        slope *= sech2
        d = be.scratch(t + 1.0)
        d -= slope
        d *= 0.5
        d *= g
        return (d,)

    return Tensor._node(out, (x,), backward, "gelu")




_EMBEDDING_RANGE = "index out of range in self"


def _embedding_padding(padding_idx: int | None, num_embeddings: int) -> int | None:
    """``padding_idx`` as a row in ``[0, num_embeddings)`` (negative counts from the end), as torch reads it.
    Raises AssertionError (torch's) for one outside ``[-num_embeddings, num_embeddings)``."""
    if padding_idx is None:
        return None
    if not -num_embeddings <= padding_idx < num_embeddings:
        raise AssertionError("Padding_idx must be within num_embeddings")
    return padding_idx % num_embeddings


def _rows(xp: Any, table: Any, ids: Any) -> Any:
    """The rows of the 2-D ``table`` at the integer array ``ids`` of any shape ``S``: ``(*S, table's width)``
    (one ``take`` of the flattened ids, which every namespace's ``take`` accepts)."""
    return xp.reshape(xp.take(table, xp.reshape(ids, (-1,)), axis=0), (*ids.shape, table.shape[1]))


def _embedding_renorm(weight: Tensor, ids: Any, max_norm: float, norm_type: float) -> None:
    """torch's ``embedding_renorm_``: the rows of ``weight`` that ``ids`` (in range) pick, whose ``norm_type``-norm
    exceeds ``max_norm``, scaled in place (outside the graph, through the door) to ``max_norm / (norm + 1e-7)``."""
    from .autograd import no_grad

    be, xp = weight.backend, weight.backend.xp
    rows = xp.unique_values(xp.reshape(ids, (-1,)))
    picked = xp.take(weight._data, rows, axis=0)
    size = xp.abs(picked)
    if norm_type == math.inf:
        norms = xp.max(size, axis=1)
    elif norm_type == 0:
        norms = xp.sum(xp.astype(size != 0, picked.dtype), axis=1)
    else:
        norms = xp.sum(size ** norm_type, axis=1) ** (1.0 / norm_type)
    scale = xp.where(norms > max_norm, max_norm / (norms + 1e-7), xp.ones_like(norms))
    with no_grad():
        weight._assign(Tensor._wrap(picked * xp.reshape(scale, (-1, 1)), be), (Tensor._wrap(rows, be),))


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None,  # noqa: A002 (torch's name)
              max_norm: float | None = None, norm_type: float = 2.0, scale_grad_by_freq: bool = False,
              sparse: bool = False) -> Tensor:
    """Rows of ``weight`` picked by the integer ids ``input``, as ``torch.nn.functional.embedding`` (and
    ``nn.Embedding``'s forward): ``input`` is an integer Tensor (int64, int32, and unlike torch the smaller ones
    gradkit's datasets use, such as int8) of any shape ``S`` with ids in ``[0, V)``,
    ``weight`` is ``(V, D)``; the result is ``(*S, D)`` of ``weight``'s dtype. The backward sums the gradient of
    repeated ids into their row (``scatter_add``).

    Args:
        padding_idx: a row (negative counts from the end) whose gradient is always zero (its values are read as
            they are; ``nn.Embedding`` fills it with zeros).
        max_norm: rows picked whose ``norm_type``-norm exceeds it are first scaled in place to norm ``max_norm``
            (torch's ``embedding_renorm_``: outside the graph, and ``weight``'s version moves).
        scale_grad_by_freq: each id's gradient divided by how often it occurs in ``input``.
        sparse: gradkit has no sparse gradients; only False.

    Raises:
        IndexError: an id outside ``[0, V)``, negative ones included: torch's words, "index out of range in self"
            (one device read per call for the negative ids; numpy's ``take`` checks the rest, and says so in
            torch's indexing words in a replay of ``gradkit.compile``).
        RuntimeError: float or bool ids, a ``weight`` that is not 2-D (torch's words).
        AssertionError: ``padding_idx`` outside ``[-V, V)`` (torch's).
        TypeError: ``input`` not a Tensor. NotImplementedError: ``sparse=True``.
        DeviceMismatchError: ``input`` on another backend than ``weight``.
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"embedding(): argument 'indices' (position 1) must be Tensor, not {type(input).__name__}")
    if sparse:
        raise NotImplementedError("embedding(sparse=True): gradkit has no sparse gradients; use sparse=False")
    be, xp = weight.backend, weight.backend.xp
    if input.backend is not be and input.backend != be:
        _as_tensor(weight, input)  # DeviceMismatchError with the fix
    ids = input._data
    if ids.dtype != xp.int64 and (ids.dtype == xp.bool or not xp.isdtype(ids.dtype, "integral")):
        from ._inplace import _torch_name

        raise RuntimeError(f"Expected tensor for argument #1 'indices' to have one of the following scalar types: "
                           f"Long, Int; but got {_torch_name(ids.dtype)} instead (while checking arguments for "
                           "embedding)")
    if weight.ndim != 2:
        raise RuntimeError("'weight' must be 2-D")
    n = weight.shape[0]
    padding = _embedding_padding(padding_idx, n)
    table = weight._data
    if not ids.size:
        out = xp.zeros((*ids.shape, weight.shape[1]), dtype=table.dtype)
    elif getattr(xp, "TAKE_RAISES", False) and max_norm is None:
        # numpy: take raises at ids >= V (a compiled program replays take itself, which says so in torch's
        # indexing words: "index 27 is out of bounds for dimension 0 with size 27")
        raise_if(xp.any(ids < 0), lambda: IndexError(_EMBEDDING_RANGE))
        try:
            out = xp.take(table, ids, axis=0)
        except IndexError:
            raise IndexError(_EMBEDDING_RANGE) from None
    else:
        if ids.dtype != xp.int64 and ids.dtype != xp.int32:  # an int8 id compared with V = 300 overflows
            ids = be.astype(ids, "int64")
        raise_if(xp.any((ids < 0) | (ids >= n)), lambda: IndexError(_EMBEDDING_RANGE))
        if max_norm is not None:
            _embedding_renorm(weight, ids, max_norm, norm_type)
            table = weight._data
        out = _rows(xp, table, ids)
    shape = weight.shape

    def backward(g: Any) -> tuple[Any]:
        if padding is not None:
            g = g * xp.reshape(xp.astype(ids != padding, g.dtype), (*ids.shape, 1))
        if scale_grad_by_freq:
            counts = be.scatter_add(be.zeros((n, 1), g.dtype), ids, be.full((*ids.shape, 1), 1, g.dtype))
            g = g / _rows(xp, counts, ids)
        return (be.scatter_add(be.zeros(shape, g.dtype), ids, g),)

    return Tensor._node(out, (weight,), backward, "embedding")


from .losses import cross_entropy  # noqa: E402, F401 (the fused loss lives in losses, which imports softmax from here)
