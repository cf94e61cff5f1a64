"""The hierarchical, WaveNet-style model of makemore part 5: consecutive pairs of characters fused layer by
layer, BatchNorm1d over ``(B, T, C)``."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from gradkit.backends import Generator

from .. import nn
from ..autograd import no_grad
from ..tensor import Tensor
from .base import LanguageModel, StepDecay, check_positive
from .config import ConfigError, option


@dataclasses.dataclass
class WaveNetConfig(StepDecay):
    """WaveNet-style tree: pairs fused layer by layer (makemore part 5)"""

    block_size: int = option(8, "context length, a power of 2 (one fusing layer per doubling)", low=2)
    n_embd: int = option(24, "embedding size per character", low=1)
    n_hidden: int = option(128, "hidden units per layer", low=1)
    decay_at: ClassVar[float] = 0.75  # the notebook: lr = 0.1 if i < 150000 else 0.01, of 200,000 steps

    def check(self) -> None:
        if self.block_size & (self.block_size - 1):
            raise ConfigError(f"--block-size must be a power of 2 for the wavenet (pairs are fused until one "
                              f"vector is left), got {self.block_size}")

    def build(self, vocab_size: int, generator: Generator, dtype: str) -> LanguageModel:
        return WaveNet(vocab_size, self.block_size, self.n_embd, self.n_hidden, generator=generator, dtype=dtype)


class WaveNet(LanguageModel):
    """``Embedding``, then ``log2(block_size)`` x (FlattenConsecutive(2), Linear without bias, BatchNorm1d,
    tanh), then Linear to ``vocab_size`` (weights scaled by 0.1).

    Shapes for block size 8: ``X (B, 8)`` -> ``(B, 8, n_embd)`` -> ``(B, 4, 2 n_embd)`` -> ``(B, 4, n_hidden)``
    -> ``(B, 2, n_hidden)`` -> ``(B, n_hidden)`` -> ``logits (B, vocab_size)``; BatchNorm1d normalises over
    axes 0 and 1 of the 3-D activations. Source: makemore part 5, "Building a WaveNet" (Karpathy); van den
    Oord et al., "WaveNet", 2016.
    """

    def __init__(self, vocab_size: int, block_size: int = 8, n_embd: int = 24, n_hidden: int = 128, *,
                 generator: Generator, dtype: Any = "float32") -> None:
        check_positive(vocab_size=vocab_size, block_size=block_size, n_embd=n_embd, n_hidden=n_hidden)
        if block_size < 2 or block_size & (block_size - 1):
            raise ValueError(f"block_size must be a power of 2 (>= 2), got {block_size}")
        self.vocab_size, self.block_size = vocab_size, block_size
        be = generator.backend
        layers: list[nn.Module] = [nn.Embedding(vocab_size, n_embd, generator=generator, dtype=dtype)]
        width = n_embd
        for _ in range(block_size.bit_length() - 1):
            layers += [nn.FlattenConsecutive(2), nn.Linear(2 * width, n_hidden, bias=False, generator=generator,
                                                           gain=1.0, dtype=dtype),
                       nn.BatchNorm1d(n_hidden, backend=be, dtype=dtype), nn.Tanh()]
            width = n_hidden
        out = nn.Linear(n_hidden, vocab_size, generator=generator, gain=1.0, dtype=dtype)
        with no_grad():
            out.weight.mul_(0.1)
        self.layers = nn.Sequential(*layers, out)

    def forward(self, X: Tensor) -> Tensor:
        return self.layers(X)
