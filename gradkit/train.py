"""The training loop as a library function: what ``gradkit train`` does, for notebooks and scripts too.

>>> from gradkit.train import TrainConfig, prepare, new_run, fit
>>> config = TrainConfig.of(max_steps=1000).resolved()  # the default type, its recipe but 1000 steps
>>> splits = prepare(load_words(), config, get_backend("numpy"))
>>> run = fit(new_run(config, splits.vocab, get_backend("numpy")), splits)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gradkit.backends import Backend, Generator

from . import optim
from .compile import compile as compile_step
from .data import Vocab, index_dtype, split_words
from .models import DEFAULT_TYPE, LanguageModel, ModelConfig, Trained, config_of
from .models.config import ConfigError, check_fields, flag, meta, option, options
from .tensor import Tensor


@dataclass
class TrainConfig:
    """The settings of one training run: the model type, its config (``model``: the type's dataclass, whose
    defaults are its published recipe) and the settings every type shares.

    Build one from flat settings with ``TrainConfig.of(TYPE, n_hidden=100, seed=1)``; ``resolved()`` fills
    in and checks everything. The command line's ``train`` flags are the ``option`` fields here and in every
    type's config.

    Attributes:
        type: a name of ``gradkit.models.TYPES``.
        model: the type's config (``None``: its defaults).
        seed: one seed for the split, the initial weights and the minibatches.
        dtype: ``"float32"`` or ``"float64"`` (the counting bigram always counts in float64).
        log_every: steps between the loss values written to ``log.csv`` (each one a device -> host read).
    """

    type: str = DEFAULT_TYPE
    model: ModelConfig | None = None
    seed: int = option(42, "seed of the split, the initial weights and the minibatches", low=0)
    dtype: str = option("float32", "float type of the weights (the counts always count in float64)",
                        choices=("float32", "float64"))
    log_every: int = option(100, "steps between the losses written to log.csv", low=1, resume=True)
    eval_every: int | None = option(None, "steps between dev-loss evaluations and checkpoints (default: at most "
                                    "5 percent of the run's work, about 50 a run)", low=1, resume=True)

    @classmethod
    def of(cls, type: str = DEFAULT_TYPE, **settings: Any) -> TrainConfig:  # noqa: A002
        """A config of ``type`` from flat settings (``n_embd=4, seed=1``), the rest the type's recipe; call
        ``resolved()`` on it.

        Raises:
            ConfigError: an unknown type, or a setting this type does not have (the message lists its own).
        """
        model_cls = config_of(type)
        own, theirs = options(cls), options(model_cls)
        unknown = [flag(k) for k in settings if k not in own and k not in theirs]
        if unknown:
            raise ConfigError(f"{', '.join(unknown)} {'does' if len(unknown) == 1 else 'do'} not apply to --type "
                              f"{type}; its settings are {', '.join(flag(k) for k in theirs) or 'none'}")
        model = model_cls(**{k: v for k, v in settings.items() if k in theirs})
        return cls(type=type, model=model, **{k: v for k, v in settings.items() if k in own})

    def resolved(self) -> TrainConfig:
        """A copy with the type's recipe filled in wherever a setting is ``None``, checked.

        Raises:
            ConfigError: an unknown type or dtype, or a size, count or rate out of range (naming its flag).
        """
        model = config_of(self.type)() if self.model is None else self.model
        if type(model) is not config_of(self.type):
            raise ConfigError(f"a {type(model).__name__} is not the config of type {self.type!r}")
        c = dataclasses.replace(self, model=model.resolved())
        check_fields(c)
        return c

    @property
    def spec(self) -> ModelConfig:
        """The model's config (``resolved()`` has filled it in)."""
        assert self.model is not None, "call resolved() first"
        return self.model

    @property
    def max_steps(self) -> int:
        """Total optimizer steps of the run (0 for a closed-form model)."""
        return self.spec.max_steps if isinstance(self.spec, Trained) else 0

    @property
    def batch_size(self) -> int:
        """Rows per step (0: the whole training split, and for a closed-form model)."""
        return self.spec.batch_size if isinstance(self.spec, Trained) else 0

    def settings(self) -> dict[str, Any]:
        """Every setting by its flat name (``seed``, ``n_embd``, ...)."""
        own = {k: getattr(self, k) for k in options(type(self))}
        return {**own, **{k: getattr(self.spec, k) for k in options(type(self.spec))}}

    def fixed(self, name: str) -> bool:
        """Whether setting ``name`` is fixed by a checkpoint (a resumed run cannot change it)."""
        cls = type(self) if name in options(type(self)) else type(self.spec)
        return not meta(cls, name).get("resume", False)

    def fit_to(self, words: list[str]) -> TrainConfig:
        """This config with what depends on the training words filled in (``ModelConfig.fit_to``)."""
        return dataclasses.replace(self, model=self.spec.fit_to(words).resolved())

    def replace(self, **settings: Any) -> TrainConfig:
        """A copy with some flat settings changed (unresolved: call ``resolved()``)."""
        return TrainConfig.of(self.type, **{**self.settings(), **settings})

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: ``{"type", "model": {...}, "seed", "dtype", "log_every"}`` (the checkpoint's config)."""
        return {**dataclasses.asdict(self), "model": self.spec.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """The config ``to_dict`` wrote, resolved. Raises ConfigError, KeyError or TypeError for another
        dict."""
        data = dict(data)
        kind = data.pop("type")
        return cls(type=kind, model=config_of(kind)(**data.pop("model")), **data).resolved()


@dataclass
class Splits:
    """The words split 80/10/10 and their context windows on the backend.

    ``tensors[name] = (X (N, block_size), Y (N,))`` for ``name`` in train, dev, test, of the compact
    ``data.index_dtype`` (int8 for up to 128 symbols; ``fit`` and ``evaluate`` widen each batch); ``words``
    keeps the word lists (samples are marked when they are in ``words["train"]``).
    """

    vocab: Vocab
    words: dict[str, list[str]]
    tensors: dict[str, tuple[Tensor, Tensor]]


def prepare(words: list[str], config: TrainConfig, backend: Backend, vocab: Vocab | None = None, *,
            for_training: bool = True) -> Splits:
    """Split ``words`` with ``config.seed``, build the type's training rows (``config.spec.rows``: context
    windows, or whole padded words) and move them to ``backend`` once. ``vocab`` defaults to the words' own characters.

    Raises:
        DataError: too few words to split, or a character outside ``vocab``.
        ConfigError: (``for_training``) a ``batch_size`` larger than the training split.
    """
    vocab = Vocab(words) if vocab is None else vocab
    names = ("train", "dev", "test")
    parts = dict(zip(names, split_words(words, seed=config.seed)))
    tensors = {}
    for name, part in parts.items():
        X, Y = config.spec.rows(part, vocab, index_dtype(vocab.vocab_size))
        tensors[name] = (Tensor(X, backend=backend), Tensor(Y, backend=backend))
    n_train = tensors["train"][0].shape[0]
    if for_training and config.batch_size > n_train:
        raise ConfigError(f"--batch-size {config.batch_size} is larger than the training split ({n_train} "
                          "examples); choose a smaller batch, or 0 for the whole split")
    return Splits(vocab, parts, tensors)


@dataclass
class Run:
    """A training run's state: enough to continue it exactly (``step``, the minibatch generator and the
    optimizer; the learning rate is a function of the step), its loss history ``(step, loss, lr)`` and its
    dev losses ``(steps done, loss)``."""

    config: TrainConfig
    model: LanguageModel
    optimizer: optim.Optimizer | None
    rng: np.random.Generator
    step: int = 0
    history: list[tuple[int, float, float]] = field(default_factory=list)
    dev: list[tuple[int, float]] = field(default_factory=list)
    compiled_step: Any = field(default=None, repr=False, compare=False)  # train_step compiled, once per run


def new_run(config: TrainConfig, vocab: Vocab, backend: Backend, generator: Generator | None = None) -> Run:
    """A fresh model for ``vocab`` on ``backend`` (initial weights from ``config.seed``, the same on every
    backend; ``generator`` replaces ``backend.random(config.seed)``), with the type's optimizer (None for a
    closed-form model)."""
    generator = backend.random(config.seed) if generator is None else generator
    model = config.spec.build(vocab.vocab_size, generator, config.dtype)
    rng = np.random.default_rng([config.seed, 1])  # the minibatch stream, independent of the init stream
    return Run(config, model, config.spec.optimizer(model), rng)


def train_step(model: LanguageModel, optimizer: optim.Optimizer, X: Tensor, Y: Tensor) -> Tensor:
    """One optimizer step on the minibatch ``(X, Y)`` at the optimizer's learning rate: forward
    (``model.loss``), zero_grad, backward, update. Returns the loss (a 0-d Tensor, still on the device)."""
    loss = model.loss(X, Y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss


def set_lr(optimizer: optim.Optimizer, lr: float) -> None:
    """Every group's learning rate set to ``lr`` (outside the compiled step: it reads the rate's tensor)."""
    for group in optimizer.param_groups:
        if group["lr"] != lr:
            group["lr"] = lr


def fit(run: Run, splits: Splits, *, max_steps: int | None = None,
        on_log: Callable[[int, float, float], None] | None = None,
        stop: Callable[[], bool] | None = None, compiled: bool = True) -> Run:
    """Train ``run`` from ``run.step`` up to ``max_steps`` (default ``run.config.max_steps``) in place.

    Each step draws a minibatch (``batch_size`` rows, uniform with replacement, from ``run.rng`` on the
    host) and takes one ``train_step`` at the type's ``lr_at(step)``. Every ``log_every`` steps (and at the
    run's last step, ``max_steps - 1`` of its config, wherever ``max_steps`` cuts the run into calls) one loss
    value comes to the host: it is appended to ``run.history`` and passed to
    ``on_log(step, loss, lr)``. ``stop()``, when given, is asked before each step; True ends the run there,
    on a step boundary, so that ``run`` saves and resumes exactly (the command line's Ctrl-C). A closed-form
    model (no optimizer) is fitted once instead. Returns ``run``.

    ``compiled`` (default): the step runs through ``gradkit.compile`` (traced once per batch shape, then
    replayed; the same numbers bit for bit, see ``gradkit.compile``), kept in ``run.compiled_step``.
    """
    config, model = run.config, run.model
    X, Y = splits.tensors["train"]
    if run.optimizer is None:
        if run.step == 0:
            model.fit(X, Y)
            run.step = 1
        return run
    end = config.max_steps if max_steps is None else max_steps
    n, batch, backend, xp = X.shape[0], config.batch_size, X.backend, X.backend.xp
    step = train_step
    if compiled:
        if run.compiled_step is None:
            run.compiled_step = compile_step(train_step)
        step = run.compiled_step
    while run.step < end and not (stop is not None and stop()):
        if batch:
            ix = backend.asarray(run.rng.integers(0, n, batch))  # compact rows, widened to int64 per batch:
            Xb = Tensor._wrap(backend.astype(xp.take(X._data, ix, axis=0), "int64"), backend)
            Yb = Tensor._wrap(backend.astype(xp.take(Y._data, ix, axis=0), "int64"), backend)
        else:
            Xb, Yb = X.long(), Y.long()
        lr = config.spec.lr_at(run.step)
        set_lr(run.optimizer, lr)
        loss = step(model, run.optimizer, Xb, Yb)
        model.after_step(Xb, Yb, lr)
        if run.step % config.log_every == 0 or run.step == config.max_steps - 1:  # however the run is split
            value = loss.item()
            run.history.append((run.step, value, lr))
            if on_log is not None:
                on_log(run.step, value, lr)
        run.step += 1
    return run


EVAL_ACTIVATIONS = 2**22
"""The activations of the model's widest layer that one evaluation chunk holds (16 MiB in float32): a chunk's
forward pass keeps a few such arrays alive at once (a transformer block's MLP, its GELU's temporaries), so
this bounds the evaluation's memory at about 100 MB over the model and the data, however large the split."""


def losses(model: LanguageModel, splits: Splits,
           names: tuple[str, ...] = ("train", "dev", "test")) -> dict[str, float]:
    """Mean negative log-likelihood (nats per character) on each split of ``names``, in eval mode and under
    ``no_grad`` (``model.evaluate``: no graph is kept), in chunks of at most about ``EVAL_ACTIVATIONS``
    activations of the model's widest layer, however wide the model."""
    width = max([model.vocab_size, *(max(p.shape) for p in model.parameters())])
    targets = splits.tensors["train"][1]
    per_row = width * (targets.shape[1] if targets.ndim == 2 else 1)  # whole words: a row is T positions
    chunk = max(1, min(65536, EVAL_ACTIVATIONS // per_row))
    return {name: model.evaluate(*splits.tensors[name], chunk) for name in names}


__all__ = ["ConfigError", "Run", "Splits", "TrainConfig", "fit", "losses", "new_run", "prepare", "train_step"]
