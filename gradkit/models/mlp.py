"""The MLP language model of Bengio et al. (2003), as makemore parts 2 and 3 build it."""

from __future__ import annotations

from typing import Any

from backends import Generator

from .. import nn
from ..tensor import Tensor
from .base import LanguageModel, check_positive


class MLPLanguageModel(LanguageModel):
    """Embed each of the ``block_size`` previous characters in ``n_embd`` dimensions, concatenate, one tanh
    hidden layer of ``n_hidden`` units, then logits over ``vocab_size`` characters.

    Shapes: ``X (B, block_size)`` int -> ``C[X] (B, block_size, n_embd)`` -> ``(B, block_size * n_embd)`` ->
    ``(B, n_hidden)`` -> ``logits (B, vocab_size)``. Init as makemore part 3 fixes it: ``W1`` Kaiming with
    gain 5/3, ``W2`` scaled by 0.01 and zero biases, so the first loss is about ln(27) = 3.30.
    Source: Bengio, Ducharme, Vincent, Jauvin, "A Neural Probabilistic Language Model", JMLR 2003.
    """

    kind = "mlp"

    def __init__(self, vocab_size: int, block_size: int = 3, n_embd: int = 10, n_hidden: int = 200, *,
                 generator: Generator, dtype: Any = "float32") -> None:
        check_positive(vocab_size=vocab_size, block_size=block_size, n_embd=n_embd, n_hidden=n_hidden)
        self.config = {"vocab_size": vocab_size, "block_size": block_size, "n_embd": n_embd, "n_hidden": n_hidden}
        self.C = nn.Embedding(vocab_size, n_embd, generator=generator, dtype=dtype)
        self.flatten = nn.Flatten()
        self.hidden = nn.Linear(block_size * n_embd, n_hidden, generator=generator, gain=5 / 3, dtype=dtype)
        self.act = nn.Tanh()
        self.out = nn.Linear(n_hidden, vocab_size, generator=generator, std=0.01, dtype=dtype)

    def forward(self, X: Tensor) -> Tensor:
        return self.out(self.act(self.hidden(self.flatten(self.C(X)))))
