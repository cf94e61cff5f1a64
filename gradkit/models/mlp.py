"""The MLP language model of Bengio et al. (2003), as makemore parts 2 and 3 build it."""

from __future__ import annotations

import dataclasses
from typing import Any

from gradkit.backends import Generator

from .. import nn
from ..tensor import Tensor
from .base import LanguageModel, StepDecay, check_positive
from .config import option


@dataclasses.dataclass
class MLPConfig(StepDecay):
    """MLP of Bengio et al. 2003: embeddings, one tanh layer (makemore part 2)"""

    block_size: int = option(3, "context length: how many previous characters the model reads", low=1)
    n_embd: int = option(10, "embedding size per character", low=1)
    n_hidden: int = option(200, "hidden units per layer", low=1)

    def build(self, vocab_size: int, generator: Generator, dtype: str) -> LanguageModel:
        return MLPLanguageModel(vocab_size, self.block_size, self.n_embd, self.n_hidden, generator=generator,
                                dtype=dtype)


class MLPLanguageModel(LanguageModel):
    """Embed each of the ``block_size`` previous characters in ``n_embd`` dimensions, concatenate, one tanh
    hidden layer of ``n_hidden`` units, then logits over ``vocab_size`` characters.

    Shapes: ``X (B, block_size)`` int -> ``C[X] (B, block_size, n_embd)`` -> ``(B, block_size * n_embd)`` ->
    ``(B, n_hidden)`` -> ``logits (B, vocab_size)``. Init as makemore part 3 fixes it: ``W1`` Kaiming with
    gain 5/3, ``W2`` scaled by 0.01 and zero biases, so the first loss is about ln(27) = 3.30.
    Source: Bengio, Ducharme, Vincent, Jauvin, "A Neural Probabilistic Language Model", JMLR 2003.
    """

    def __init__(self, vocab_size: int, block_size: int = 3, n_embd: int = 10, n_hidden: int = 200, *,
                 generator: Generator, dtype: Any = "float32") -> None:
        check_positive(vocab_size=vocab_size, block_size=block_size, n_embd=n_embd, n_hidden=n_hidden)
        self.vocab_size, self.block_size = vocab_size, block_size
        self.C = nn.Embedding(vocab_size, n_embd, generator=generator, dtype=dtype)
        self.flatten = nn.Flatten()
        self.hidden = nn.Linear(block_size * n_embd, n_hidden, generator=generator, gain=5 / 3, dtype=dtype)
        self.act = nn.Tanh()
        self.out = nn.Linear(n_hidden, vocab_size, generator=generator, std=0.01, dtype=dtype)

    def forward(self, X: Tensor) -> Tensor:
        return self.out(self.act(self.hidden(self.flatten(self.C(X)))))
