"""makemore's bag-of-words model: each position averages the embeddings of the positions up to it."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from gradkit.backends import Generator

from .. import nn, ops
from ..tensor import Tensor
from .base import LanguageModel, check_positive
from .config import option
from .sequence import N_EMBD2_HELP, SequenceModel, WordsConfig, torch_linear


@dataclasses.dataclass
class BoWConfig(WordsConfig):
    """bag of words: a causal average of the embeddings, then an MLP (makemore)"""

    n_embd2: int = option(64, N_EMBD2_HELP, low=1)

    def build(self, vocab_size: int, generator: Generator, dtype: str) -> LanguageModel:
        return BoW(vocab_size, self.context_size(), self.n_embd, self.n_embd2, generator=generator, dtype=dtype)


class BoW(SequenceModel):
    """``x = wte[X] + wpe[t]``; ``x = x + A @ x`` with ``A (T, T)`` the causal average (row ``t``: ``1/(t+1)``
    on positions ``<= t``, what makemore's softmax of a masked zero matrix gives); ``x = x + c_proj(tanh(
    c_fc(x)))``; ``logits = lm_head(x)``. Shapes: ``X (B, T)`` -> ``(B, T, vocab_size)``, ``T <= block_size``.
    Source: makemore (Karpathy), ``BoW``."""

    def __init__(self, vocab_size: int, block_size: int, n_embd: int = 64, n_embd2: int = 64, *,
                 generator: Generator, dtype: Any = "float32") -> None:
        check_positive(vocab_size=vocab_size, block_size=block_size, n_embd=n_embd, n_embd2=n_embd2)
        self.vocab_size, self.block_size = vocab_size, block_size
        be = generator.backend
        self.wte = nn.Embedding(vocab_size, n_embd, generator=generator, dtype=dtype)
        self.wpe = nn.Embedding(block_size, n_embd, generator=generator, dtype=dtype)
        self.c_fc = torch_linear(n_embd, n_embd2, generator=generator, dtype=dtype)
        self.c_proj = torch_linear(n_embd2, n_embd, generator=generator, dtype=dtype)
        self.lm_head = torch_linear(n_embd, vocab_size, generator=generator, dtype=dtype)
        average = np.tril(np.ones((block_size, block_size))) / np.arange(1, block_size + 1)[:, None]
        self.average = Tensor._wrap(be.asarray(average, dtype), be)  # a buffer, as makemore's registered "bias"

    def forward(self, X: Tensor) -> Tensor:
        T = X.shape[1]
        x = self.wte(X) + self.wpe.weight[:T]
        x = x + self.average[:T, :T] @ x
        return self.lm_head(x + self.c_proj(ops.tanh(self.c_fc(x))))
