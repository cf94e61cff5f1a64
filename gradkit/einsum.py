"""``einsum``: Einstein summation, as ``torch.einsum``, written as a composition of gradkit's differentiable ops
(``diagonal`` for a label repeated in one operand, ``sum`` for a label no one else needs, ``permute``/``reshape``
and one batched ``matmul`` per pair of operands, left to right), so its gradient is theirs.

The array API standard has no ``einsum``; this is the classic pairwise reduction (as ``numpy.einsum`` without
``optimize``), with the contraction of each pair done as a matrix product.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from . import ops
from .shapes import diagonal
from .tensor import Tensor

__all__ = ["einsum"]

_ELLIPSIS = [chr(0x2460 + i) for i in range(32)]  # private labels for the dimensions of "..."


def _parse(equation: str, ndims: Sequence[int]) -> tuple[list[list[str]], list[str]]:
    """Each operand's labels (``...`` expanded to private labels, aligned from the right) and the output's."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(ndims):
        raise ValueError(f"einsum: the equation {equation!r} has {len(terms)} operands, {len(ndims)} were given")
    width = 0
    for term, n in zip(terms, ndims):
        if "..." in term:
            width = max(width, n - len(term.replace("...", "")))
    labels = [_expand(term, n, width, equation) for term, n in zip(terms, ndims)]
    if arrow:
        out = _expand(rhs, None, width, equation)
    else:  # implicit: "..." first, then the labels seen once, alphabetically (torch's rule)
        flat = [c for ls in labels for c in ls]
        out = [c for c in _ELLIPSIS[:width] if c in flat] + sorted(c for c in set(flat) if c.isalpha()
                                                                    and flat.count(c) == 1)
    if len(set(out)) != len(out) or any(c not in {x for ls in labels for x in ls} for c in out):
        raise ValueError(f"einsum: output labels of {equation!r} must be distinct and appear in an operand")
    return labels, out


def _expand(term: str, ndim: int | None, width: int, equation: str) -> list[str]:
    head, dots, tail = term.partition("...")
    if any(not c.isalpha() for c in head + tail) or "..." in tail:
        raise ValueError(f"einsum: {equation!r}: subscripts are letters, with at most one '...' per operand")
    k = width if ndim is None else ndim - len(head) - len(tail) if dots else 0
    if ndim is not None and (k < 0 or (not dots and len(head) != ndim)):
        raise ValueError(f"einsum: {equation!r}: the subscripts {term!r} do not match an operand with {ndim} "
                         "dimensions")
    return [*head, *_ELLIPSIS[width - k:width], *tail]


def _unique(x: Tensor, labels: list[str]) -> tuple[Tensor, list[str]]:
    """``x`` with each label repeated within it reduced to its diagonal (moved last, as ``diagonal`` does)."""
    while len(set(labels)) != len(labels):
        c = next(c for c in labels if labels.count(c) > 1)
        i = labels.index(c)
        j = labels.index(c, i + 1)
        if x.shape[i] != x.shape[j]:
            raise ValueError(f"einsum: label {c!r} repeats in one operand with sizes {x.shape[i]} and {x.shape[j]}")
        x = diagonal(x, 0, i, j)
        labels = [lab for k, lab in enumerate(labels) if k not in (i, j)] + [c]
    return x, labels


def _sum_out(x: Tensor, labels: list[str], keep: set[str]) -> tuple[Tensor, list[str]]:
    """``x`` summed over the labels not in ``keep``."""
    axes = [i for i, c in enumerate(labels) if c not in keep]
    if not axes:
        return x, labels
    return ops.sum(x, axes), [c for c in labels if c in keep]


def _contract(a: Tensor, la: list[str], b: Tensor, lb: list[str], keep: set[str]) -> tuple[Tensor, list[str]]:
    """``a`` and ``b`` multiplied and summed over their shared labels not in ``keep``, as one matmul."""
    shared = [c for c in la if c in lb]
    for c in shared:  # a size-1 side of a contracted label broadcasts: sum the other side first
        i, j = la.index(c), lb.index(c)
        if c not in keep and a.shape[i] != b.shape[j]:
            if a.shape[i] == 1:
                b = ops.sum(b, j, keepdims=True)
            elif b.shape[j] == 1:
                a = ops.sum(a, i, keepdims=True)
    batch = [c for c in shared if c in keep]
    summed = [c for c in shared if c not in keep]
    left = [c for c in la if c not in lb]
    right = [c for c in lb if c not in la]
    a = ops.permute(a, [la.index(c) for c in (*batch, *left, *summed)])
    b = ops.permute(b, [lb.index(c) for c in (*batch, *summed, *right)])
    nb = len(batch)
    lsizes, rsizes = a.shape[nb:nb + len(left)], b.shape[len(b.shape) - len(right):]
    k = math.prod(a.shape[nb + len(left):])
    out = ops.matmul(ops.reshape(a, (*a.shape[:nb], math.prod(lsizes), k)),
                     ops.reshape(b, (*b.shape[:nb], k, math.prod(rsizes))))
    return ops.reshape(out, (*out.shape[:-2], *lsizes, *rsizes)), [*batch, *left, *right]


def einsum(equation: str, *operands: Any) -> Tensor:
    """Einstein summation over the operands' labelled dimensions, as ``torch.einsum``: ``"ij,jk->ik"`` (a matrix
    product), ``"bij,bjk->bik"``, ``"ii->i"`` (a diagonal), ``"i,i->"``, ``"...ij->...ji"``; without ``->`` the
    output is ``...`` then the labels seen once, alphabetically. Size-1 dimensions broadcast. The operands may
    come as one list. Differentiable in every operand.

    Raises:
        ValueError: an equation that does not match the operands (count, dimensions, labels, sizes).
        TypeError: operands of different dtypes (as torch); an equation that is not a string (torch's sublist
            form, ``einsum(a, [0, 1], b, [1, 2])``, is not supported: write the labels as a string).
    """
    if not isinstance(equation, str):
        raise TypeError(f"einsum: the first argument is the equation string, as 'ij,jk->ik', got "
                        f"{type(equation).__name__}; the sublist form einsum(a, [0, 1], b, [1, 2]) is not supported: "
                        f"write einsum('ij,jk->ik', a, b)")
    tensors = list(operands[0]) if len(operands) == 1 and isinstance(operands[0], (list, tuple)) else list(operands)
    if not tensors:
        raise ValueError("einsum needs at least one operand")
    first = tensors[0]
    tensors = [ops._as_tensor(first, t) for t in tensors]
    if len({t.dtype for t in tensors}) > 1:
        raise TypeError(f"einsum: operands of one dtype (as torch), got {[t.dtype for t in tensors]}")
    labels, out = _parse(equation, [t.ndim for t in tensors])
    sizes: dict[str, int] = {}
    for t, ls in zip(tensors, labels):
        for c, n in zip(ls, t.shape):
            if n != 1 and sizes.setdefault(c, n) != n:
                raise ValueError(f"einsum: {equation!r}: label {c!r} has sizes {sizes[c]} and {n} (they must be equal, "
                                 "or 1 to broadcast)")
    pairs = [_unique(t, ls) for t, ls in zip(tensors, labels)]
    for i, (t, ls) in enumerate(pairs):  # labels nobody else needs are summed at once
        others = set(out).union(*(set(l2) for j, (_, l2) in enumerate(pairs) if j != i))
        pairs[i] = _sum_out(t, ls, others)
    x, lx = pairs[0]
    for i in range(1, len(pairs)):
        keep = set(out).union(*(set(ls) for _, ls in pairs[i + 1:]))
        x, lx = _contract(x, lx, *pairs[i], keep)
        x, lx = _sum_out(x, lx, keep)
    x, lx = _sum_out(x, lx, set(out))
    return ops.permute(x, [lx.index(c) for c in out]) if x.ndim else x
