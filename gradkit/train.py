"""The training loop as a library function: what ``gradkit train`` does, for notebooks and scripts too.

>>> from gradkit.train import TrainConfig, prepare, new_run, fit
>>> config = TrainConfig(type="mlp", max_steps=1000).resolved()
>>> splits = prepare(load_words(), config, get_backend("numpy"))
>>> run = fit(new_run(config, splits.vocab, get_backend("numpy")), splits)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from backends import Backend

from . import optim
from .data import Vocab, build_dataset, split_words
from .models import MODEL_TYPES, LanguageModel, build_model
from .tensor import Tensor

# Each type's recipe from the course: (max_steps, batch_size (0 = the whole training split), learning_rate).
RECIPES = {
    "counts": (0, 0, 0.0),       # closed form: no steps (makemore part 1)
    "bigram": (200, 0, 50.0),    # full-batch gradient descent (makemore part 1)
    "mlp": (200_000, 32, 0.1),   # minibatch SGD, lr 0.1 then 0.01 after half (makemore part 2)
}


class ConfigError(ValueError):
    """A training setting that cannot work (the message names it and the fix)."""


@dataclass
class TrainConfig:
    """The settings of one training run; ``None`` means the type's recipe (see ``RECIPES``).

    Attributes:
        type: ``"counts"``, ``"bigram"`` or ``"mlp"``.
        block_size: context length in characters (the bigrams use 1).
        n_embd, n_hidden: the MLP's embedding size and hidden width.
        batch_size: rows per step; 0 means the whole training split (full-batch gradient descent).
        max_steps: total optimizer steps of the run.
        learning_rate: SGD's learning rate; it drops 10x at ``lr_decay_step``.
        lr_decay_step: the step from which the lr is ``learning_rate / 10`` (default: ``max_steps // 2``
            for the MLP, never for the bigram).
        seed: one seed for the split, the initial weights and the minibatches.
        dtype: ``"float32"`` or ``"float64"`` (the counting bigram always counts in float64).
        smoothing: add-k smoothing of the counting bigram.
        log_every: steps between the loss values written to ``log.csv`` (each one a device -> host read).
    """

    type: str = "mlp"
    block_size: int | None = None
    n_embd: int = 10
    n_hidden: int = 200
    batch_size: int | None = None
    max_steps: int | None = None
    learning_rate: float | None = None
    lr_decay_step: int | None = None
    seed: int = 42
    dtype: str = "float32"
    smoothing: float = 1.0
    log_every: int = 100

    def resolved(self) -> TrainConfig:
        """A copy with every ``None`` filled from the type's recipe, checked.

        Raises:
            ConfigError: an unknown type or dtype, or a size, count or rate out of range.
        """
        if self.type not in RECIPES:
            raise ConfigError(f"unknown model type {self.type!r}; choose one of: {', '.join(RECIPES)}")
        steps, batch, lr = RECIPES[self.type]
        c = dataclasses.replace(self)
        c.block_size = (3 if c.type == "mlp" else 1) if c.block_size is None else c.block_size
        c.max_steps = steps if c.max_steps is None else c.max_steps
        c.batch_size = batch if c.batch_size is None else c.batch_size
        c.learning_rate = lr if c.learning_rate is None else c.learning_rate
        if c.lr_decay_step is None:
            c.lr_decay_step = c.max_steps // 2 if c.type == "mlp" else c.max_steps
        c._check()
        return c

    def _check(self) -> None:
        checks = [("block_size", self.block_size, 1), ("n_embd", self.n_embd, 1), ("n_hidden", self.n_hidden, 1),
                  ("batch_size", self.batch_size, 0), ("max_steps", self.max_steps, 0),
                  ("lr_decay_step", self.lr_decay_step, 0), ("log_every", self.log_every, 1)]
        for name, value, low in checks:
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ConfigError(f"--{name.replace('_', '-')} must be an integer >= {low}, got {value!r}")
        if self.type != "mlp" and self.block_size != 1:
            raise ConfigError(f"--block-size applies to the mlp; a {self.type} model reads one character")
        if self.dtype not in ("float32", "float64"):
            raise ConfigError(f"--dtype must be float32 or float64, got {self.dtype!r}")
        assert self.learning_rate is not None
        if not math.isfinite(self.learning_rate) or self.learning_rate < 0:
            raise ConfigError(f"--learning-rate must be a finite number >= 0, got {self.learning_rate}")
        if not math.isfinite(self.smoothing) or self.smoothing < 0:
            raise ConfigError(f"--smoothing must be a finite number >= 0, got {self.smoothing}")

    def model_config(self, vocab_size: int) -> dict[str, Any]:
        """The model constructor's keyword arguments for this config."""
        if self.type == "counts":
            return {"vocab_size": vocab_size, "smoothing": self.smoothing}
        if self.type == "bigram":
            return {"vocab_size": vocab_size}
        return {"vocab_size": vocab_size, "block_size": self.block_size, "n_embd": self.n_embd,
                "n_hidden": self.n_hidden}


@dataclass
class Splits:
    """The words split 80/10/10 and their context windows on the backend.

    ``tensors[name] = (X (N, block_size) int64, Y (N,) int64)`` for ``name`` in train, dev, test; ``words``
    keeps the word lists (samples are marked when they are in ``words["train"]``).
    """

    vocab: Vocab
    words: dict[str, list[str]]
    tensors: dict[str, tuple[Tensor, Tensor]]


def prepare(words: list[str], config: TrainConfig, backend: Backend, vocab: Vocab | None = None) -> Splits:
    """Split ``words`` with ``config.seed``, build context windows of ``config.block_size`` and move them to
    ``backend`` once. ``vocab`` defaults to the words' own characters.

    Raises:
        DataError: too few words to split, or a character outside ``vocab``.
        ConfigError: a ``batch_size`` larger than the training split.
    """
    vocab = Vocab(words) if vocab is None else vocab
    names = ("train", "dev", "test")
    parts = dict(zip(names, split_words(words, seed=config.seed)))
    tensors = {}
    for name, part in parts.items():
        X, Y = build_dataset(part, vocab, config.block_size or 1)
        tensors[name] = (Tensor(X, backend=backend), Tensor(Y, backend=backend))
    n_train = tensors["train"][0].shape[0]
    if config.batch_size and config.batch_size > n_train:
        raise ConfigError(f"--batch-size {config.batch_size} is larger than the training split ({n_train} "
                          "examples); choose a smaller batch, or 0 for the whole split")
    return Splits(vocab, parts, tensors)


@dataclass
class Run:
    """A training run's state: enough to continue it exactly (``step``, the minibatch generator, the
    optimizer and its schedule) and its loss history ``(step, loss, lr)``."""

    config: TrainConfig
    model: LanguageModel
    optimizer: optim.SGD | None
    schedule: optim.StepLR | None
    rng: np.random.Generator
    step: int = 0
    history: list[tuple[int, float, float]] = field(default_factory=list)


def new_run(config: TrainConfig, vocab: Vocab, backend: Backend) -> Run:
    """A fresh model for ``vocab`` on ``backend`` (initial weights from ``config.seed``, the same on every
    backend), with SGD and its step schedule."""
    generator = backend.random(config.seed)
    model = build_model(config.type, config.model_config(vocab.vocab_size), generator=generator, dtype=config.dtype)
    rng = np.random.default_rng([config.seed, 1])  # the minibatch stream, independent of the init stream
    if config.type == "counts":
        return Run(config, model, None, None, rng)
    assert config.learning_rate is not None and config.lr_decay_step is not None
    optimizer = optim.SGD(model.named_parameters(), lr=config.learning_rate)
    boundary = max(config.lr_decay_step, 1)
    schedule = optim.StepLR(optimizer, boundaries=[boundary], values=[config.learning_rate,
                                                                     config.learning_rate / 10])
    return Run(config, model, optimizer, schedule, rng)


def fit(run: Run, splits: Splits, *, max_steps: int | None = None,
        on_log: Callable[[int, float, float], None] | None = None,
        stop: Callable[[], bool] | None = None) -> Run:
    """Train ``run`` from ``run.step`` up to ``max_steps`` (default ``run.config.max_steps``) in place.

    Each step draws a minibatch (``batch_size`` rows, uniform with replacement, from ``run.rng`` on the
    host), computes the mean cross-entropy, backpropagates and takes an SGD step. Every ``log_every`` steps
    (and at the last) one loss value comes to the host: it is appended to ``run.history`` and passed to
    ``on_log(step, loss, lr)``. ``stop()``, when given, is asked before each step; True ends the run there,
    on a step boundary, so that ``run`` saves and resumes exactly (the command line's Ctrl-C). The counting
    bigram is fitted in closed form instead. Returns ``run``.
    """
    config, model = run.config, run.model
    X, Y = splits.tensors["train"]
    if config.type == "counts":
        if run.step == 0:
            model.fit(X, Y)  # type: ignore[attr-defined]
            run.step = 1
        return run
    assert run.optimizer is not None and run.schedule is not None
    end = config.max_steps if max_steps is None else max_steps
    assert end is not None
    n, batch, backend, xp = X.shape[0], config.batch_size, X.backend, X.backend.xp
    while run.step < end and not (stop is not None and stop()):
        if batch:
            ix = backend.asarray(run.rng.integers(0, n, batch))
            Xb, Yb = Tensor._wrap(xp.take(X._data, ix, axis=0), backend), Tensor._wrap(xp.take(Y._data, ix), backend)
        else:
            Xb, Yb = X, Y
        lr = run.optimizer.lr
        loss = model.loss(Xb, Yb)
        run.optimizer.zero_grad()
        loss.backward()
        run.optimizer.step()
        run.schedule.step()
        if run.step % config.log_every == 0 or run.step == end - 1:
            value = loss.item()
            run.history.append((run.step, value, lr))
            if on_log is not None:
                on_log(run.step, value, lr)
        run.step += 1
    return run


def losses(model: LanguageModel, splits: Splits) -> dict[str, float]:
    """Mean negative log-likelihood (nats per character) on each split, in eval mode, in chunks of at most
    about 2**24 hidden activations (64 MiB in float32), however wide the model."""
    width = max(int(model.config.get("n_hidden", 0)), model.vocab_size)
    chunk = max(256, min(65536, 2**24 // width))
    return {name: model.evaluate(X, Y, chunk) for name, (X, Y) in splits.tensors.items()}


__all__ = ["RECIPES", "ConfigError", "MODEL_TYPES", "Run", "Splits", "TrainConfig", "fit", "losses", "new_run",
           "prepare"]
