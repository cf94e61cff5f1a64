"""What makemore's whole-word models (bow, rnn, gru, transformer) share: the recipe (AdamW, lr 5e-4, weight
decay 0.01, batch 32), padded words with ignored targets, PyTorch's default initialisation, and sampling by
feeding the growing word back."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from gradkit.backends import Generator

from .. import functional, nn, optim
from ..autograd import no_grad
from ..tensor import Tensor
from .base import LanguageModel, Trained
from .config import ConfigError, option

if TYPE_CHECKING:
    from ..data import Vocab

W = TypeVar("W", bound="WordsConfig")
N_EMBD2_HELP = "hidden size: the BoW's MLP, the RNN's and GRU's state (makemore's --n-embd2)"


@dataclasses.dataclass
class WordsConfig(Trained):
    """makemore's recipe for its models of whole words: AdamW (betas 0.9, 0.99, eps 1e-8) at a constant
    learning rate, whole words padded to ``block_size`` (the longest word + 1 unless given)."""

    layout = "words"
    block_size: int | None = option(None, "positions per word row (default: the longest training word + 1, "
                                    "as makemore)", low=2)
    n_embd: int = option(64, "embedding size per character", low=1)
    max_steps: int = 50_000
    learning_rate: float = 5e-4
    weight_decay: float = option(0.01, "AdamW's decoupled weight decay", low=0, resume=True)

    def fit_to(self: W, words: list[str]) -> W:
        if self.block_size is not None:
            return self
        return dataclasses.replace(self, block_size=max(len(w) for w in words) + 1)

    def check(self) -> None:
        if self.block_size is None:
            return  # fit_to fills it from the words
        if self.block_size < 2:
            raise ConfigError(f"--block-size must be at least 2 (the start and one character), got {self.block_size}")

    def context_size(self) -> int:
        if self.block_size is None:
            raise ConfigError("the block size of a whole-word model comes from the words: call config.fit_to(words)")
        return self.block_size

    def rows(self, words: list[str], vocab: Vocab, dtype: Any = np.int64) -> tuple[np.ndarray, np.ndarray]:
        from ..data import padded_words

        return padded_words(words, vocab, self.context_size(), dtype)

    def optimizer(self, model: LanguageModel) -> optim.Optimizer | None:
        return optim.AdamW(model.named_parameters(), lr=self.learning_rate, betas=(0.9, 0.99), eps=1e-8,
                           weight_decay=self.weight_decay)


class SequenceModel(LanguageModel):
    """A model of whole words: ``forward(X (B, T))`` -> ``logits (B, T, vocab_size)``, position ``t`` reading
    ``X[:, :t + 1]`` only; ``T <= block_size``."""

    def nll(self, X: Tensor, Y: Tensor, reduction: str = "mean") -> Tensor:
        logits = self(X)
        flat = logits.reshape(-1, logits.shape[-1])
        return functional.cross_entropy(flat, Y.reshape(-1), reduction=reduction, ignore_index=-1)

    def next_logits(self, prefix: np.ndarray) -> Tensor:
        """``(n, vocab_size)``: the last position's logits for ``[0, *prefix]``, cropped to the last
        ``block_size`` positions (makemore's ``generate``)."""
        idx = np.concatenate([np.zeros((prefix.shape[0], 1), np.int64), prefix], axis=1)[:, -self.block_size:]
        logits = self(Tensor._wrap(self.backend.asarray(idx), self.backend))
        return logits[:, -1, :]


def torch_linear(fan_in: int, fan_out: int, *, generator: Generator, dtype: Any, bias: bool = True) -> nn.Linear:
    """``nn.Linear(fan_in, fan_out)`` initialised as PyTorch's default (which makemore keeps): weight and
    bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    layer = nn.Linear(fan_in, fan_out, bias, generator=generator, gain=1.0, dtype=dtype)  # the draws it always made
    bound = fan_in ** -0.5
    with no_grad():
        for p in (layer.weight, layer.bias):
            if p is not None:
                p.copy_(Tensor._wrap(generator.uniform(-bound, bound, p.shape, dtype), generator.backend))
    return layer
