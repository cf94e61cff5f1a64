"""makemore's Transformer: GPT-2's decoder blocks (causal self-attention, LayerNorm, GELU) at a tiny size."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from gradkit.backends import Generator

from .. import functional, nn
from ..tensor import Tensor
from .base import LanguageModel, check_positive
from .config import ConfigError, option
from .sequence import SequenceModel, WordsConfig, torch_linear


@dataclasses.dataclass
class TransformerConfig(WordsConfig):
    """GPT-2-style Transformer: causal self-attention, LayerNorm, GELU (makemore's default)"""

    n_layer: int = option(4, "Transformer blocks", low=1)
    n_head: int = option(4, "attention heads per block (a divisor of --n-embd)", low=1)

    def check(self) -> None:
        super().check()
        if self.n_embd % self.n_head:
            raise ConfigError(f"--n-embd ({self.n_embd}) must be a multiple of --n-head ({self.n_head})")

    def build(self, vocab_size: int, generator: Generator, dtype: str) -> LanguageModel:
        return Transformer(vocab_size, self.context_size(), self.n_layer, self.n_head, self.n_embd,
                           generator=generator, dtype=dtype)


class CausalSelfAttention(nn.Module):
    """Multi-head masked self-attention: ``q, k, v = c_attn(x)`` split in ``n_head`` heads of ``C / n_head``,
    ``softmax(q k^T / sqrt(hs) + mask) v`` with ``mask`` -inf above the diagonal (a position sees itself and
    the past), heads side by side, then ``c_proj``. Shapes: ``(B, T, C)`` -> ``(B, T, C)``."""

    def __init__(self, n_embd: int, n_head: int, block_size: int, *, generator: Generator, dtype: Any) -> None:
        self.n_head = n_head
        self.c_attn = torch_linear(n_embd, 3 * n_embd, generator=generator, dtype=dtype)
        self.c_proj = torch_linear(n_embd, n_embd, generator=generator, dtype=dtype)
        mask = np.triu(np.full((block_size, block_size), -np.inf), k=1)
        be = generator.backend
        self.mask = Tensor._wrap(be.asarray(mask, dtype), be)  # a buffer, as makemore's registered "bias"

    def forward(self, x: Tensor) -> Tensor:
        B, T, C = x.shape
        hs = C // self.n_head
        qkv = self.c_attn(x).reshape(B, T, 3, self.n_head, hs).permute(2, 0, 3, 1, 4)  # (3, B, nh, T, hs)
        q, k, v = qkv[0], qkv[1], qkv[2]
        att = (q @ k.permute(0, 1, 3, 2)) * (1.0 / math.sqrt(hs)) + self.mask[:T, :T]  # (B, nh, T, T)
        y = functional.softmax(att, -1) @ v  # (B, nh, T, hs)
        return self.c_proj(y.permute(0, 2, 1, 3).reshape(B, T, C))


class Block(nn.Module):
    """``x + attn(ln_1(x))``, then ``x + c_proj(gelu(c_fc(ln_2(x))))`` (the MLP 4x wide)."""

    def __init__(self, n_embd: int, n_head: int, block_size: int, *, generator: Generator, dtype: Any) -> None:
        be = generator.backend
        self.ln_1 = nn.LayerNorm(n_embd, backend=be, dtype=dtype)
        self.attn = CausalSelfAttention(n_embd, n_head, block_size, generator=generator, dtype=dtype)
        self.ln_2 = nn.LayerNorm(n_embd, backend=be, dtype=dtype)
        self.mlp = nn.ModuleDict({"c_fc": torch_linear(n_embd, 4 * n_embd, generator=generator, dtype=dtype),
                                  "c_proj": torch_linear(4 * n_embd, n_embd, generator=generator, dtype=dtype),
                                  "act": nn.GELU(approximate="tanh")})  # makemore's NewGELU

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.ln_1(x))
        m = self.mlp
        return x + m.c_proj(m.act(m.c_fc(self.ln_2(x))))


class Transformer(SequenceModel):
    """``wte[X] + wpe[t]``, ``n_layer`` blocks, ``ln_f``, ``lm_head`` (no bias). Shapes: ``X (B, T)`` ->
    ``(B, T, vocab_size)``, ``T <= block_size``. PyTorch's default init, as makemore's (which has no
    ``_init_weights``). Source: makemore (Karpathy), ``Transformer``; Radford et al. 2019 (GPT-2), Vaswani et
    al. 2017."""

    def __init__(self, vocab_size: int, block_size: int, n_layer: int = 4, n_head: int = 4, n_embd: int = 64, *,
                 generator: Generator, dtype: Any = "float32") -> None:
        check_positive(vocab_size=vocab_size, block_size=block_size, n_layer=n_layer, n_head=n_head, n_embd=n_embd)
        if n_embd % n_head:
            raise ValueError(f"n_embd ({n_embd}) must be a multiple of n_head ({n_head})")
        self.vocab_size, self.block_size = vocab_size, block_size
        self.wte = nn.Embedding(vocab_size, n_embd, generator=generator, dtype=dtype)
        self.wpe = nn.Embedding(block_size, n_embd, generator=generator, dtype=dtype)
        self.h = nn.ModuleList(Block(n_embd, n_head, block_size, generator=generator, dtype=dtype)
                               for _ in range(n_layer))
        self.ln_f = nn.LayerNorm(n_embd, backend=generator.backend, dtype=dtype)
        self.lm_head = torch_linear(n_embd, vocab_size, bias=False, generator=generator, dtype=dtype)

    def forward(self, X: Tensor) -> Tensor:
        T = X.shape[1]
        x = self.wte(X) + self.wpe.weight[:T]
        for block in self.h:
            x = block(x)
        return self.lm_head(self.ln_f(x))
