"""makemore's GRU: the recurrent model with a gated cell (reset and update gates)."""

from __future__ import annotations

import dataclasses
from typing import Any

from gradkit.backends import Generator

from .. import nn, ops
from ..tensor import Tensor
from .base import LanguageModel
from .rnn import RNN, RNNConfig
from .sequence import torch_linear


@dataclasses.dataclass
class GRUConfig(RNNConfig):
    """recurrent net, gated recurrent unit cell (makemore)"""

    def build(self, vocab_size: int, generator: Generator, dtype: str) -> LanguageModel:
        return RNN(vocab_size, self.context_size(), self.n_embd, self.n_embd2, GRUCell, generator=generator,
                   dtype=dtype)


class GRUCell(nn.Module):
    """``r = sigmoid(W_r [x, h])``, ``hbar = tanh(W_hbar [x, r * h])``, ``z = sigmoid(W_z [x, h])``,
    ``h' = (1 - z) h + z hbar``. Shapes: ``x (B, n_embd)``, ``h (B, n_embd2)`` -> ``(B, n_embd2)``. Source:
    makemore (Karpathy), ``GRUCell``; Cho et al. 2014."""

    def __init__(self, n_embd: int, n_embd2: int, *, generator: Generator, dtype: Any) -> None:
        self.xh_to_z = torch_linear(n_embd + n_embd2, n_embd2, generator=generator, dtype=dtype)
        self.xh_to_r = torch_linear(n_embd + n_embd2, n_embd2, generator=generator, dtype=dtype)
        self.xh_to_hbar = torch_linear(n_embd + n_embd2, n_embd2, generator=generator, dtype=dtype)

    def forward(self, xt: Tensor, hprev: Tensor) -> Tensor:
        xh = ops.concat([xt, hprev], axis=1)
        r = ops.sigmoid(self.xh_to_r(xh))
        hbar = ops.tanh(self.xh_to_hbar(ops.concat([xt, r * hprev], axis=1)))
        z = ops.sigmoid(self.xh_to_z(xh))
        return (1 - z) * hprev + z * hbar
