"""The counting bigram of makemore part 1: a 27x27 table of counts, normalised (the exact optimum)."""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gradkit.backends import Backend, Generator

from .. import functional, ops
from ..tensor import Tensor, _resolve_backend
from .base import LanguageModel, ModelConfig, check_positive
from .config import option

if TYPE_CHECKING:
    from ..data import Vocab


@dataclasses.dataclass
class CountsConfig(ModelConfig):
    """counting bigram, normalised counts in closed form (makemore part 1)"""

    smoothing: float = option(1.0, "add-k smoothing of the counts", low=0)

    def build(self, vocab_size: int, generator: Generator, dtype: str) -> LanguageModel:
        return CountingBigram(vocab_size, self.smoothing, backend=generator.backend)


class CountingBigram(LanguageModel):
    """``P(next | previous) = (N[prev, next] + k) / sum_j (N[prev, j] + k)`` with add-``k`` smoothing.

    ``counts`` is a ``(vocab_size, vocab_size)`` float64 buffer on the backend; ``fit(X, Y)`` fills it in
    closed form (no gradient descent). ``forward(X)`` returns ``log P[X[:, -1]]`` as logits ``(B, V)``, so it
    trains, scores and samples like the other models. Source: "The spelled-out intro to language modeling:
    building makemore" (Karpathy), part 1.
    """

    def __init__(self, vocab_size: int, smoothing: float = 1.0, *, backend: Backend | str | None = None,
                 dtype: Any = "float64", block_size: int = 1) -> None:
        check_positive(vocab_size=vocab_size, block_size=block_size)
        if smoothing < 0:
            raise ValueError(f"smoothing must be >= 0, got {smoothing}")
        be = _resolve_backend(backend)
        self.vocab_size, self.block_size, self.smoothing = vocab_size, block_size, float(smoothing)
        self.counts = Tensor._wrap(be.zeros((vocab_size, vocab_size), dtype), be)

    def fit(self, X: Tensor, Y: Tensor, chunk: int = 2**16) -> CountingBigram:
        """Add the bigrams ``(X[:, -1], Y)`` of integer tensors ``X (N, block_size)``, ``Y (N,)`` to the counts,
        ``chunk`` rows at a time: memory ``O(chunk * V)`` whatever ``N`` (14 MiB for 27 symbols)."""
        be, v = self.counts.backend, self.vocab_size
        # Row X[i, -1] of the table gets onehot(Y[i]) added: O(N * V) work on every backend. (Adding ones into
        # V * V flat bins costs the strict backend, whose scatter_add is a one-hot matmul, an (N, V * V)
        # matrix: 1.3 GB for the 228,146 bigrams of names.txt.)
        n = X.shape[0]
        for lo in range(0, n, chunk):
            hi = min(lo + chunk, n)  # (the array API does not allow a slice past the end)
            nexts = functional.one_hot(Y[lo:hi].long(), v).astype(self.counts.dtype)._data
            prev = X[lo:hi].long()._data[:, -1]
            self.counts._assign(be.scatter_add(self.counts._data, prev, nexts))  # through the one door
        return self

    def log_probs(self) -> Tensor:
        """``log P`` as a ``(V, V)`` tensor (rows: previous character). Rows never seen give -inf without
        smoothing."""
        smoothed = self.counts + self.smoothing
        with warnings.catch_warnings():  # log(0) = -inf is the unsmoothed model's answer, not a fault
            warnings.simplefilter("ignore", RuntimeWarning)
            return ops.log(smoothed / ops.sum(smoothed, axis=1, keepdims=True))

    def forward(self, X: Tensor) -> Tensor:
        return ops.getitem(self.log_probs(), X[:, -1])

    def pictures(self, workdir: Path, vocab: Vocab) -> list[Path]:
        """``bigram.png``: the count table as makemore part 1 draws it."""
        from .. import plots

        path = plots.bigram_heatmap(self.counts.numpy(), vocab.itos, workdir / "bigram.png")
        return [] if path is None else [path]
