"""The counting bigram of makemore part 1: a 27x27 table of counts, normalised (the exact optimum)."""

from __future__ import annotations

import warnings
from typing import Any

from backends import Backend

from .. import functional, ops
from ..tensor import Tensor, _resolve_backend
from .base import LanguageModel, check_positive


class CountingBigram(LanguageModel):
    """``P(next | previous) = (N[prev, next] + k) / sum_j (N[prev, j] + k)`` with add-``k`` smoothing.

    ``counts`` is a ``(vocab_size, vocab_size)`` float64 buffer on the backend; ``fit(X, Y)`` fills it in
    closed form (no gradient descent). ``forward(X)`` returns ``log P[X[:, -1]]`` as logits ``(B, V)``, so it
    trains, scores and samples like the other models. Source: "The spelled-out intro to language modeling:
    building makemore" (Karpathy), part 1.
    """

    kind = "counts"

    def __init__(self, vocab_size: int, smoothing: float = 1.0, *, backend: Backend | str | None = None,
                 dtype: Any = "float64", block_size: int = 1) -> None:
        check_positive(vocab_size=vocab_size, block_size=block_size)
        if smoothing < 0:
            raise ValueError(f"smoothing must be >= 0, got {smoothing}")
        be = _resolve_backend(backend)
        self.config = {"vocab_size": vocab_size, "smoothing": float(smoothing), "block_size": block_size}
        self.counts = Tensor._wrap(be.zeros((vocab_size, vocab_size), dtype), be)

    def fit(self, X: Tensor, Y: Tensor) -> CountingBigram:
        """Add the bigrams ``(X[:, -1], Y)`` of integer tensors ``X (N, block_size)``, ``Y (N,)`` to the counts."""
        be, v = self.counts.backend, self.vocab_size
        # Row X[i, -1] of the table gets onehot(Y[i]) added: O(N * V) work and memory on every backend. (Adding
        # ones into V * V flat bins costs the strict backend, whose scatter_add is a one-hot matmul, an
        # (N, V * V) matrix: 1.3 GB for the 228,146 bigrams of names.txt.)
        nexts = functional.one_hot(Y, v).astype(self.counts.dtype)._data
        self.counts._data = be.scatter_add(self.counts._data, X._data[:, -1], nexts)
        self.counts._version += 1
        return self

    def log_probs(self) -> Tensor:
        """``log P`` as a ``(V, V)`` tensor (rows: previous character). Rows never seen give -inf without
        smoothing."""
        k = self.config["smoothing"]
        smoothed = self.counts + k
        with warnings.catch_warnings():  # log(0) = -inf is the unsmoothed model's answer, not a fault
            warnings.simplefilter("ignore", RuntimeWarning)
            return ops.log(smoothed / ops.sum(smoothed, axis=1, keepdims=True))

    def forward(self, X: Tensor) -> Tensor:
        return ops.getitem(self.log_probs(), X[:, -1])
