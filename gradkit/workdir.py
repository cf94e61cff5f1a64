"""A training run's work directory: ``model.npz``, ``log.csv``, ``samples.txt`` and the plots, each written
atomically (temporary file, then rename), and the checkpoint read back onto any backend."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from backends import Backend

from . import __version__, checkpoint, plots
from .checkpoint import CheckpointError
from .data import Vocab
from .train import ConfigError, Run, TrainConfig, new_run

MODEL_FILE = "model.npz"


def save_run(workdir: Path, run: Run, vocab: Vocab, backend: Backend, source: str | None) -> Path:
    """Write ``run`` to ``workdir/model.npz``: parameters and optimizer state as host arrays, and as metadata
    the type, config (``TrainConfig.to_dict``), vocabulary, dtype, backend trained on, seed, step, minibatch
    random state, loss history, input file (None for the embedded names) and gradkit version. The learning
    rate is a function of the step, so no schedule state is needed. Returns the path."""
    arrays = {f"model/{k}": v for k, v in run.model.state_dict().items()}
    meta: dict[str, Any] = {
        "type": run.config.type, "config": run.config.to_dict(), "vocab": vocab.to_dict(),
        "dtype": run.config.dtype, "backend": backend.name, "seed": run.config.seed, "step": run.step,
        "rng_state": run.rng.bit_generator.state, "history": run.history, "input": source,
        "gradkit_version": __version__,
    }
    if run.optimizer is not None:
        state = run.optimizer.state_dict()
        arrays.update({f"optim/{k}": v for k, v in state.items() if isinstance(v, np.ndarray)})
        meta["optimizer"] = {k: v for k, v in state.items() if not isinstance(v, np.ndarray)}
    path = workdir / MODEL_FILE
    checkpoint.save(path, arrays, meta)
    return path


def load_run(workdir: Path, backend: Backend) -> tuple[Run, Vocab, dict[str, Any]]:
    """Read ``workdir/model.npz`` onto ``backend`` (any backend, whatever it was trained on).

    Returns ``(run, vocab, meta)``. Raises ``CheckpointError`` (naming the file and the fix) for a missing,
    damaged or foreign file, or one whose arrays do not fit the model it describes.
    """
    path = workdir / MODEL_FILE
    if not path.is_file():
        raise CheckpointError(f"no model in {workdir}: {path} does not exist; train one first with "
                              f"gradkit train -o {workdir}", path)
    arrays, meta = checkpoint.load(path)
    try:
        config = TrainConfig.from_dict(meta["config"])
        vocab = Vocab.from_dict(meta["vocab"])
        run = new_run(config, vocab, backend)
        run.model.load_state_dict({k[6:]: v for k, v in arrays.items() if k.startswith("model/")})
        if run.optimizer is not None:
            optim_arrays = {k[6:]: v for k, v in arrays.items() if k.startswith("optim/")}
            run.optimizer.load_state_dict({**meta["optimizer"], **optim_arrays})
        run.rng.bit_generator.state = meta["rng_state"]
        run.step = int(meta["step"])
        run.history = [(int(s), float(v), float(lr)) for s, v, lr in meta.get("history", [])]
    except (KeyError, TypeError, ValueError, ConfigError) as exc:
        raise CheckpointError(f"{path} does not hold a model gradkit can rebuild ({type(exc).__name__}: {exc}); "
                              f"retrain with gradkit train -o {workdir}", path) from None
    return run, vocab, meta


def write_log(workdir: Path, history: list[tuple[int, float, float]]) -> Path:
    """``log.csv``: one row ``step,loss,lr`` per logged step."""
    lines = ["step,loss,lr"] + [f"{s},{loss:.6f},{lr:g}" for s, loss, lr in history]
    path = workdir / "log.csv"
    checkpoint.atomic_write_text(path, "\n".join(lines) + "\n")
    return path


def write_samples(workdir: Path, samples: list[str]) -> Path:
    """``samples.txt``: one generated word per line."""
    path = workdir / "samples.txt"
    checkpoint.atomic_write_text(path, "".join(f"{s}\n" for s in samples))
    return path


def write_plots(workdir: Path, run: Run, vocab: Vocab) -> list[Path]:
    """``loss.png`` (the loss curve) and the model's own pictures (``model.pictures``: the counting bigram's
    27x27 count heatmap of makemore part 1). Needs matplotlib (the ``plot`` extra); without it, returns [] and
    writes nothing."""
    curve = plots.loss_curve(run.history, workdir / "loss.png", f"gradkit {run.config.type}")
    return [p for p in [curve, *run.model.pictures(workdir, vocab)] if p is not None]
