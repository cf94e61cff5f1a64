"""makemore's recurrent model: a vanilla RNN cell run over the word, one position at a time."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from gradkit.backends import Generator

from .. import nn, ops
from ..nn import Parameter
from ..tensor import Tensor
from .base import LanguageModel, check_positive
from .config import option
from .sequence import N_EMBD2_HELP, SequenceModel, WordsConfig, torch_linear


@dataclasses.dataclass
class RNNConfig(WordsConfig):
    """recurrent net, tanh cell (makemore)"""

    n_embd2: int = option(64, N_EMBD2_HELP, low=1)

    def build(self, vocab_size: int, generator: Generator, dtype: str) -> LanguageModel:
        return RNN(vocab_size, self.context_size(), self.n_embd, self.n_embd2, RNNCell, generator=generator,
                   dtype=dtype)


class RNNCell(nn.Module):
    """``h_t = tanh(xh_to_h([x_t, h_{t-1}]))``: ``x (B, n_embd)``, ``h (B, n_embd2)`` -> ``(B, n_embd2)``."""

    def __init__(self, n_embd: int, n_embd2: int, *, generator: Generator, dtype: Any) -> None:
        self.xh_to_h = torch_linear(n_embd + n_embd2, n_embd2, generator=generator, dtype=dtype)

    def forward(self, xt: Tensor, hprev: Tensor) -> Tensor:
        return ops.tanh(self.xh_to_h(ops.concat([xt, hprev], axis=1)))


class RNN(SequenceModel):
    """Embed each character, run ``cell`` from a learned start state ``start (1, n_embd2)`` along the word,
    and read each hidden state with ``lm_head``. Shapes: ``X (B, T)`` -> ``(B, T, vocab_size)``. Source:
    makemore (Karpathy), ``RNN``; Mikolov et al. 2010 (the recurrent language model)."""

    def __init__(self, vocab_size: int, block_size: int, n_embd: int, n_embd2: int, cell: Callable[..., nn.Module], *,
                 generator: Generator, dtype: Any = "float32") -> None:
        check_positive(vocab_size=vocab_size, block_size=block_size, n_embd=n_embd, n_embd2=n_embd2)
        self.vocab_size, self.block_size = vocab_size, block_size
        be = generator.backend
        self.start = Parameter.of(be.zeros((1, n_embd2), dtype), be)
        self.wte = nn.Embedding(vocab_size, n_embd, generator=generator, dtype=dtype)
        self.cell = cell(n_embd, n_embd2, generator=generator, dtype=dtype)
        self.lm_head = torch_linear(n_embd2, vocab_size, generator=generator, dtype=dtype)

    def forward(self, X: Tensor) -> Tensor:
        B, T = X.shape
        emb = self.wte(X)
        h = self.start + Tensor._wrap(X.backend.zeros((B, 1), self.start.dtype), X.backend)  # (B, n_embd2)
        hiddens = []
        for t in range(T):
            h = self.cell(emb[:, t, :], h)
            hiddens.append(h)
        return self.lm_head(ops.stack(hiddens, axis=1))
