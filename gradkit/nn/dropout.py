"""Dropout (Srivastava et al., "Dropout: A Simple Way to Prevent Neural Networks from Overfitting", JMLR 2014),
as ``torch.nn.functional.dropout`` and ``torch.nn.Dropout``: in training, each element is zeroed with
probability ``p`` and the survivors are scaled by ``1 / (1 - p)``; in evaluation, the input passes through."""

from __future__ import annotations

from typing import Any

from gradkit import backends
from gradkit.backends.random import default_generator

from ..tensor import Tensor
from .modules import Module

__all__ = ["Dropout", "dropout"]


def _check_p(p: float) -> float:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    return float(p)


def keep_mask(shape: tuple[int, ...], p: float, dtype: Any, backend: Any) -> Any:
    """An array of ``shape`` on ``backend`` holding ``1 / (1 - p)`` where an element is kept (probability
    ``1 - p``) and 0 where it is dropped; all zeros for ``p = 1``. The draws come from the default generator
    (on the host, moved once, as every random number in gradkit)."""
    if p == 1.0:
        return backend.zeros(shape, dtype)
    host = default_generator.uniform(0.0, 1.0, shape, "float64", backends.get_backend("numpy")) >= p
    return backend.astype(backend.asarray(host), dtype) * (1.0 / (1.0 - p))


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """``input`` with each element zeroed with probability ``p`` and the rest scaled by ``1 / (1 - p)`` when
    ``training`` (one graph node: the gradient is the same mask times the upstream gradient); ``input`` itself
    otherwise, or when ``p`` is 0. ``inplace`` writes the result into ``input`` (through ``Tensor._assign``).
    Shapes: any, kept.

    Raises:
        ValueError: ``p`` outside [0, 1] (torch's message).
    """
    p = _check_p(p)
    if not training or p == 0.0:
        return input
    mask = keep_mask(input.shape, p, input._data.dtype, input.backend)
    out = Tensor._node(input._data * mask, (input,), lambda g: (g * mask,), "dropout")
    return input._assign(out) if inplace else out


class Dropout(Module):
    """``dropout(x, p, self.training)``: drops in training mode, passes through after ``eval()``, as
    ``torch.nn.Dropout(p=0.5, inplace=False)``. Raises ValueError for ``p`` outside [0, 1]."""

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        self.p, self.inplace = _check_p(p), inplace

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"

    def forward(self, x: Tensor) -> Tensor:
        return dropout(x, self.p, self.training, self.inplace)
