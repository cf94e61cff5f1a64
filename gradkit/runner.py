"""A training run in its work directory: ``fit`` in segments between evaluations, with the dev loss, the
checkpoints, divergence and stop signals around it (what ``gradkit train`` runs, usable from a script too).

Checkpoints: ``model.safetensors`` (the last state) is written once before the first step (an unwritable or full
``-o`` fails before any training), after every evaluation, at least every ``CHECKPOINT_SECONDS`` and when a
stop signal ends the run; ``best.safetensors`` whenever the dev loss is the lowest so far. Each is written atomically
inside ``StopSignals.critical()``, so a signal never leaves the directory without a complete checkpoint.
Splitting ``fit`` at these points does not change the run: N straight steps give the same bits as the same
steps stopped, saved and resumed.
"""

from __future__ import annotations

import math
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .models import uniform_loss
from .stopping import StopSignals
from .train import Run, Splits, fit, losses
from .workdir import BEST_FILE, MODEL_FILE

CHECKPOINT_SECONDS = 300.0
"""The longest a run trains between two checkpoints."""
EVAL_SHARE = 0.05
"""The share of the run's work the default ``--eval-every`` spends on the dev loss, at most (short runs spend
more: they are evaluated at least ``MIN_EVALS`` times)."""
MIN_EVALS = 10
"""The fewest dev-loss evaluations a run gets by default, besides the one before the first step."""
BLOWUP = 10.0
"""A loss above ``BLOWUP`` times ln(vocab_size), the loss of uniform guessing, is a blow-up: the model puts
less than ``vocab_size ** -BLOWUP`` on the right character (``e ** -33`` for 27 symbols)."""
BLOWUP_STEPS = 3
"""Consecutive logged training losses above the blow-up line that make a diverged run."""


class Diverged(RuntimeError):
    """The loss or a parameter became NaN or infinite, or the loss blew up (finite but far above uniform
    guessing, ``BLOWUP``). The message names the step, the likely fix (a lower learning rate) and the checkpoint
    that was kept. ``step``: the step at which it was seen; ``found``: what was seen there; ``lr``: the learning
    rate of that step (None for a closed-form model)."""

    def __init__(self, message: str, step: int, found: str = "", lr: float | None = None) -> None:
        super().__init__(message)
        self.step, self.found, self.lr = step, found, lr


def default_eval_every(run: Run, splits: Splits) -> int:
    """Steps between two evaluations of the dev loss such that they cost at most ``EVAL_SHARE`` of the run:
    one evaluation is a forward pass over the dev rows, one step a forward and backward pass (about three
    forwards) over a batch; at most about 50 evaluations a run, and at least ``MIN_EVALS`` (a short run spends
    a larger share on them, so that its dev curve has points all along). A round number of steps."""
    batch = run.config.batch_size or splits.tensors["train"][0].shape[0]
    dev_rows = splits.tensors["dev"][0].shape[0]
    by_cost = math.ceil(dev_rows / (3 * batch * EVAL_SHARE))
    every = max(by_cost, run.config.max_steps // 50, 1)
    scale = 10 ** max(0, len(str(every)) - 1)  # a round number: 4750 -> 5000
    every = math.ceil(every / scale) * scale
    most = max(1, run.config.max_steps // MIN_EVALS)  # short runs: at least MIN_EVALS points all the same
    if every > most:
        scale = 10 ** max(0, len(str(most)) - 1)
        every = max(1, most // scale * scale)  # a round number again, rounded down: 25 -> 20
    return every


def check_finite(run: Run, what: str, value: float | None, workdir: Path) -> None:
    """Raise ``Diverged`` when ``value`` (a loss) or, for ``value=None``, a parameter is not finite."""
    if value is None:
        bad = [name for name, p in run.model.named_parameters() if not _all_finite(p._data, p.backend.xp)]
        if not bad:
            return
        found = f"parameter {bad[0]} holds NaN or infinite values"
    elif math.isfinite(value):
        return
    else:
        found = f"the {what} is {value}"
    raise _diverged(run, found, workdir)


def check_blowup(run: Run, what: str, value: float, workdir: Path, times: int = 1) -> None:
    """Raise ``Diverged`` when ``value`` (a loss, the last of ``times`` in a row) is above the blow-up line."""
    uniform = uniform_loss(run.model.vocab_size)
    if value > BLOWUP * uniform:
        row = f" for {times} logged steps in a row" if times > 1 else ""
        raise _diverged(run, f"the {what} is {value:.4g}{row}, far above {uniform:.2f}, the loss of uniform guessing "
                        f"(ln {run.model.vocab_size})", workdir)


def _diverged(run: Run, found: str, workdir: Path) -> Diverged:
    lr = run.config.spec.lr_at(max(run.step - 1, 0)) if run.optimizer is not None else None
    fix = f"lower --learning-rate (it was {lr:g} at that step) and train again" if lr is not None else \
        "check the input words"
    return Diverged(f"the run diverged at step {run.step}: {found}; {fix} (the last good checkpoint in {workdir} "
                    "is kept)", run.step, found, lr)


def _all_finite(array: Any, xp: Any) -> bool:
    return bool(xp.all(xp.isfinite(array))) if xp.isdtype(array.dtype, "real floating") else True


class Session:
    """One run's training in ``workdir``: ``save(name)`` writes a checkpoint, ``report(line)`` prints progress
    (both given by the caller), ``signals`` stops it; ``compiled`` runs the step through ``gradkit.compile``
    (``gradkit train --no-compile`` turns it off)."""

    def __init__(self, run: Run, splits: Splits, workdir: Path, save: Callable[[str], Any],
                 signals: StopSignals, eval_every: int, report: Callable[[str], None], compiled: bool = True) -> None:
        self.run, self.splits, self.workdir, self.save, self.signals = run, splits, workdir, save, signals
        self.eval_every, self.report, self.compiled = eval_every, report, compiled
        self.last_save = time.monotonic()
        self.saved_step = run.step
        """The step of the last checkpoint written (a resumed run's starts as the one it was resumed from)."""

    def checkpoint(self, best: bool = False) -> None:
        """``model.safetensors`` (and ``best.safetensors``), written inside the critical block, once the
        parameters are checked finite and the last logged loss below the blow-up line (a wreck never replaces
        the last good checkpoint)."""
        check_finite(self.run, "parameters", None, self.workdir)
        if self.run.history:
            check_blowup(self.run, "training loss", self.run.history[-1][1], self.workdir)
        with self.signals.critical():
            self.save(MODEL_FILE)
            if best:
                self.save(BEST_FILE)
        self.last_save = time.monotonic()
        self.saved_step = self.run.step

    def evaluate(self) -> bool:
        """The dev loss, appended to ``run.dev``; True when it is the best so far."""
        run = self.run
        value = losses(run.model, self.splits, names=("dev",))["dev"]
        check_finite(run, "dev loss", value, self.workdir)
        check_blowup(run, "dev loss", value, self.workdir)
        best = all(value < v for _, v in run.dev)
        run.dev.append((run.step, value))
        self.report(f"step {run.step}/{run.config.max_steps} dev loss {value:.4f}{' (best)' if best else ''}")
        return best

    def train(self, on_log: Callable[[int, float, float], None]) -> int | None:
        """Train to ``max_steps``; returns the stop signal's number, or None when the run completed."""
        run, every = self.run, self.eval_every
        high = [0]  # consecutive logged losses above the blow-up line

        def logged(step: int, loss: float, lr: float) -> None:
            high[0] = high[0] + 1 if not loss <= BLOWUP * uniform_loss(run.model.vocab_size) else 0
            if not math.isfinite(loss) or high[0] >= BLOWUP_STEPS:
                run.step = step
                check_finite(run, "training loss", loss, self.workdir)
                check_blowup(run, "training loss", loss, self.workdir, high[0])
            on_log(step, loss, lr)

        def stop() -> bool:
            return self.signals.requested or time.monotonic() - self.last_save > CHECKPOINT_SECONDS

        def steps(**kw: Any) -> None:
            with warnings.catch_warnings(), np.errstate(all="ignore"):  # overflow: check_finite names it
                warnings.simplefilter("ignore", RuntimeWarning)
                fit(run, self.splits, compiled=self.compiled, **kw)

        self.checkpoint()  # before the first step: an unwritable or full -o fails now
        if run.optimizer is None:  # closed form: one fit, then its dev loss
            steps()
            self.checkpoint(best=self.evaluate())
            return self.signals.signum
        if run.step == 0 and not run.dev:
            self.checkpoint(best=self.evaluate())
        end = run.config.max_steps
        while run.step < end and not self.signals.requested:
            boundary = min(end, (run.step // every + 1) * every)
            steps(max_steps=boundary, on_log=logged, stop=stop)
            best = self.evaluate() if run.step == boundary else False
            self.checkpoint(best=best)
        return self.signals.signum


def progress(run: Run, quiet: bool) -> tuple[Callable[[int, float, float], None], Callable[[str], None], Any]:
    """``(on_log, report, bar)``: a tqdm bar with the running loss on a terminal, elsewhere (a log file, CI)
    a plain line at logged steps, about ten in all; dev losses as lines in both. ``quiet`` silences all.

    Steps count as in log.csv: ``step s`` is the model after ``s`` updates (a training loss is that model's
    loss on the minibatch of update ``s + 1``, nanoGPT's ``iter s``; a dev loss is measured after ``s``
    updates), so the last training line of a run of N steps is ``step N-1/N`` and its last dev line
    ``step N/N``."""
    from tqdm import tqdm

    total = run.config.max_steps
    bar_on = not quiet and sys.stderr.isatty() and total > run.step
    every = max(1, math.ceil((total - run.step) / 10))
    bar = tqdm(total=total, initial=run.step, disable=not bar_on, unit="step", dynamic_ncols=True)
    last = [run.step, run.step]

    def on_log(step: int, loss: float, lr: float) -> None:
        bar.update(step + 1 - last[0])
        last[0] = step + 1
        bar.set_postfix(loss=f"{loss:.4f}", lr=f"{lr:g}")
        if not quiet and not bar_on and (step - last[1] >= every or step + 1 == total):
            last[1] = step
            print(f"step {step}/{total} loss {loss:.4f} lr {lr:g}", file=sys.stderr)

    def report(line: str) -> None:
        if not quiet:
            (bar.write if bar_on else lambda s: print(s, file=sys.stderr))(line)

    return on_log, report, bar
