"""What every character-level language model of gradkit shares: config, logits, loss, evaluation."""

from __future__ import annotations

import math
from typing import Any, ClassVar

from .. import functional
from ..autograd import no_grad
from ..nn import Module
from ..tensor import Tensor


class LanguageModel(Module):
    """A model of ``P(next character | previous block_size characters)``.

    ``forward(X)`` maps integer contexts ``X (B, block_size)`` on the model's backend to ``logits
    (B, vocab_size)``. Subclasses set ``kind`` and keep their constructor arguments in ``config``, so that a
    checkpoint can rebuild them.
    """

    kind: ClassVar[str] = ""
    config: dict[str, Any]

    @property
    def block_size(self) -> int:
        """How many previous characters the model reads."""
        return int(self.config["block_size"])

    @property
    def vocab_size(self) -> int:
        """How many symbols (27 for names: '.' and a-z)."""
        return int(self.config["vocab_size"])

    def loss(self, X: Tensor, Y: Tensor) -> Tensor:
        """Mean cross-entropy (nats per character) of targets ``Y (B,)`` given contexts ``X (B, block_size)``."""
        return functional.cross_entropy(self(X), Y)

    @no_grad()
    def evaluate(self, X: Tensor, Y: Tensor, chunk: int = 65536) -> float:
        """Mean negative log-likelihood over all of ``(X, Y)`` in eval mode, in chunks of ``chunk`` rows
        (one host transfer per chunk). Raises ValueError for an empty split."""
        n = X.shape[0]
        if n == 0:
            raise ValueError("evaluate() got an empty split: there is nothing to score")
        was_training = self.training
        self.eval()
        total = 0.0
        for lo in range(0, n, chunk):
            hi = min(lo + chunk, n)
            total += functional.cross_entropy(self(X[lo:hi]), Y[lo:hi], reduction="sum").item()
        self.train(was_training)
        return total / n


def check_positive(**values: Any) -> None:
    """Raise ValueError naming each argument that is not a positive integer."""
    for name, value in values.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


def uniform_loss(vocab_size: int) -> float:
    """The loss of a model that knows nothing: ``ln(vocab_size)`` (3.2958 for 27 symbols)."""
    return math.log(vocab_size)
