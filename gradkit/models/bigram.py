"""The neural bigram of makemore part 1: one 27x27 weight matrix trained by gradient descent."""

from __future__ import annotations

import dataclasses
from typing import Any

from gradkit.backends import Generator

from .. import functional, ops
from ..nn import Parameter
from ..tensor import Tensor
from .base import LanguageModel, Trained, check_positive


@dataclasses.dataclass
class BigramConfig(Trained):
    """neural bigram, one weight matrix, full-batch gradient descent (makemore part 1)"""

    max_steps: int = 200
    batch_size: int = 0
    learning_rate: float = 50.0

    def build(self, vocab_size: int, generator: Generator, dtype: str) -> LanguageModel:
        return NeuralBigram(vocab_size, generator=generator, dtype=dtype)


class NeuralBigram(LanguageModel):
    """``logits = onehot(x) @ W`` with ``W (vocab_size, vocab_size)`` ~ N(0, 1).

    ``one_hot=True`` computes it as the course writes it (a one-hot matrix times W); the default picks the row
    ``W[x]``, which is the same number with far less work. Trained to the counting bigram's optimum by
    full-batch gradient descent (learning rate 50). Source: makemore part 1.
    """

    def __init__(self, vocab_size: int, *, generator: Generator, dtype: Any = "float32",
                 one_hot: bool = False, block_size: int = 1) -> None:
        check_positive(vocab_size=vocab_size, block_size=block_size)
        self.vocab_size, self.block_size, self.one_hot = vocab_size, block_size, bool(one_hot)
        self.W = Parameter.of(generator.normal(0.0, 1.0, (vocab_size, vocab_size), dtype), generator.backend)

    def forward(self, X: Tensor) -> Tensor:
        last = X[:, -1]
        if self.one_hot:
            return functional.one_hot(last, self.vocab_size).astype(self.W.dtype) @ self.W
        return ops.getitem(self.W, last)
