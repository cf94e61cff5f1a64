"""What every character-level language model of gradkit shares: its config (the recipe), logits, loss,
evaluation and the next-character logits that sampling asks for."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import numpy as np

from gradkit.backends import Generator

from .. import functional, optim
from ..autograd import no_grad
from ..nn import Module
from ..tensor import Tensor
from .config import check_fields, option

if TYPE_CHECKING:
    from ..data import Vocab

C = TypeVar("C", bound="ModelConfig")


class LanguageModel(Module):
    """A model of ``P(next character | previous characters)``.

    ``forward(X)`` maps integer contexts ``X (B, block_size)`` on the model's backend to ``logits
    (B, vocab_size)`` (models of whole words, ``layout = "words"``, map ``(B, T)`` to ``(B, T, vocab_size)``).
    Subclasses set ``vocab_size`` and ``block_size`` (how many previous characters the model reads).
    """

    vocab_size: int
    block_size: int

    def nll(self, X: Tensor, Y: Tensor, reduction: str = "mean") -> Tensor:
        """Cross-entropy of targets ``Y (B,)`` given contexts ``X (B, block_size)`` (models of whole words:
        ``Y (B, T)``, targets -1 ignored), reduced as ``functional.cross_entropy`` reduces."""
        return functional.cross_entropy(self(X), Y, reduction=reduction)

    def loss(self, X: Tensor, Y: Tensor) -> Tensor:
        """Mean cross-entropy (nats per character) of the targets ``Y`` given ``X``: the training loss."""
        return self.nll(X, Y)

    @no_grad()
    def evaluate(self, X: Tensor, Y: Tensor, chunk: int = 65536) -> float:
        """Mean negative log-likelihood per target character over all of ``(X, Y)`` in eval mode, in chunks
        of ``chunk`` rows (one host transfer per chunk). Raises ValueError for an empty split."""
        n, xp = X.shape[0], Y.backend.xp
        count = int(Tensor._wrap(xp.sum(xp.astype(Y._data >= 0, xp.int64)), Y.backend).item())
        if n == 0 or count == 0:
            raise ValueError("evaluate() got an empty split: there is nothing to score")
        was_training = self.training
        self.eval()
        total = 0.0
        for lo in range(0, n, chunk):
            hi = min(lo + chunk, n)
            total += self.nll(X[lo:hi].long(), Y[lo:hi].long(), reduction="sum").item()  # compact rows widened
        self.train(was_training)
        return total / count

    def next_logits(self, prefix: np.ndarray) -> Tensor:
        """Logits ``(n, vocab_size)`` of the character after each row of ``prefix``, a host int64 array
        ``(n, t)`` of the characters generated so far (``t`` may be 0). Windows models read the last
        ``block_size`` of them, with '.' (0) before the word's start."""
        n, t = prefix.shape
        context = np.zeros((n, self.block_size), dtype=np.int64)
        k = min(t, self.block_size)
        if k:
            context[:, self.block_size - k:] = prefix[:, t - k:]
        return self(Tensor._wrap(self.backend.asarray(context), self.backend))

    def fit(self, X: Tensor, Y: Tensor) -> LanguageModel:
        """Closed-form training, for models that have it (the counting bigram); the others train by gradient
        descent and raise NotImplementedError."""
        raise NotImplementedError(f"{type(self).__name__} is trained by gradient descent, not fit()")

    def after_step(self, X: Tensor, Y: Tensor, lr: float) -> None:
        """Called by ``fit`` after each optimizer step on the minibatch ``(X, Y)`` at ``lr`` (gradients still
        in place): a hook for diagnostics; nothing by default."""

    def pictures(self, workdir: Path, vocab: Vocab) -> list[Path]:
        """Pictures of the trained model beside ``loss.png`` (``bigram.png`` for the counts); returns the paths
        written (none without matplotlib)."""
        return []


@dataclasses.dataclass
class ModelConfig:
    """A model type's settings and recipe: subclass it as a dataclass whose fields are ``option(...)``s with
    the published defaults, and define ``build`` (and, for gradient descent, derive from ``Trained``).

    Class attributes: ``layout`` is ``"windows"`` (rows of ``block_size`` previous characters and the next
    one, makemore part 2) or ``"words"`` (whole words padded, targets -1 where nothing is predicted, as
    makemore's CharDataset).
    """

    layout: ClassVar[str] = "windows"

    def resolved(self: C) -> C:
        """A checked copy with every ``None`` filled in (``fill``).

        Raises:
            ConfigError: a value out of range (the message names the flag).
        """
        c = dataclasses.replace(self)
        c.fill()
        check_fields(c)
        c.check()
        return c

    def fill(self) -> None:
        """Replace defaults that depend on other settings (``None``), in place."""

    def check(self) -> None:
        """Checks across fields (raise ConfigError); ``resolved`` calls it after the per-field checks."""

    def context_size(self) -> int:
        """How many previous characters a training row holds (``block_size``; 1 for the bigrams)."""
        return int(getattr(self, "block_size", 1) or 1)

    def fit_to(self: C, words: list[str]) -> C:
        """This config with what depends on the training words filled in (a whole-word model's
        ``block_size``: the longest word + 1); ``gradkit train`` calls it once, before the first step."""
        return self

    def rows(self, words: list[str], vocab: Vocab, dtype: Any = np.int64) -> tuple[np.ndarray, np.ndarray]:
        """The training rows of ``words`` as host integer arrays ``(X, Y)`` of ``dtype``: context windows of
        ``context_size()`` (makemore part 2's ``build_dataset``)."""
        from ..data import build_dataset

        return build_dataset(words, vocab, self.context_size(), dtype)

    def build(self, vocab_size: int, generator: Generator, dtype: str) -> LanguageModel:
        """A new model for ``vocab_size`` symbols, its weights drawn from ``generator`` (whose backend it lives
        on) in ``dtype``."""
        raise NotImplementedError

    def optimizer(self, model: LanguageModel) -> optim.Optimizer | None:
        """The optimizer over ``model``'s parameters; None for a closed-form model (``model.fit``)."""
        return None

    def lr_at(self, step: int) -> float:
        """The learning rate of update ``step`` (0-based): a pure function of the step (as nanoGPT's
        ``get_lr``), so a resumed run needs no schedule state."""
        return 0.0

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-able dict (the checkpoint's ``config.model``)."""
        return dataclasses.asdict(self)


@dataclasses.dataclass
class Trained(ModelConfig):
    """A model trained by minibatch gradient descent: ``max_steps`` updates of ``batch_size`` rows drawn
    uniformly with replacement; plain SGD at a constant ``learning_rate`` unless a subclass says otherwise."""

    max_steps: int = option(200_000, "total optimizer steps of the run", low=0, resume=True)
    batch_size: int = option(32, "rows per step; 0 = the whole training split", low=0, resume=True)
    learning_rate: float = option(0.1, "the optimizer's learning rate", low=0, resume=True)

    def optimizer(self, model: LanguageModel) -> optim.Optimizer | None:
        return optim.SGD(model.named_parameters(), lr=self.learning_rate)

    def lr_at(self, step: int) -> float:
        return self.learning_rate


@dataclasses.dataclass
class StepDecay(Trained):
    """SGD whose learning rate drops 10x at ``lr_decay_step``: the course's ``lr = 0.1 if i < 100000 else
    0.01`` (``decay_at``: that step as a fraction of ``max_steps``, when not given)."""

    lr_decay_step: int | None = option(None, "step from which the lr is 10x smaller (default: a fixed fraction "
                                       "of --max-steps: 1/2 for the mlp, 3/4 for bnmlp and wavenet)", low=0,
                                       resume=True)
    decay_at: ClassVar[float] = 0.5

    def fill(self) -> None:
        if self.lr_decay_step is None and isinstance(self.max_steps, int):
            self.lr_decay_step = int(self.max_steps * self.decay_at)

    def lr_at(self, step: int) -> float:
        assert self.lr_decay_step is not None, "resolved() fills lr_decay_step"
        return self.learning_rate if step < max(self.lr_decay_step, 1) else self.learning_rate / 10


def check_positive(**values: Any) -> None:
    """Raise ValueError naming each argument that is not a positive integer."""
    for name, value in values.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


def uniform_loss(vocab_size: int) -> float:
    """The loss of a model that knows nothing: ``ln(vocab_size)`` (3.2958 for 27 symbols)."""
    return math.log(vocab_size)
