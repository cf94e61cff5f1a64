"""A training run's work directory: ``model.npz``, ``log.csv``, ``samples.txt`` and the plots, each written
atomically (temporary file, then rename), and the checkpoint read back onto any backend."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from backends import Backend

from . import __version__, _statedict, checkpoint, plots, runmeta
from .checkpoint import CheckpointError
from .data import Vocab
from .train import ConfigError, Run, TrainConfig, new_run

MODEL_FILE = "model.npz"
"""The last state of the run (what --resume continues)."""
BEST_FILE = "best.npz"
"""The state with the lowest dev loss so far."""


def save_run(workdir: Path, run: Run, vocab: Vocab, backend: Backend, source: str | None,
             name: str = MODEL_FILE, source_sha256: str | None = None) -> Path:
    """Write ``run`` to ``workdir/name``: parameters and optimizer state as host arrays, and as metadata
    the type, config (``TrainConfig.to_dict``), vocabulary, dtype, backend trained on, seed, step, minibatch
    random state, loss and dev-loss history, input file (None for the embedded names; text for the user's
    eyes, never opened again) and its SHA-256, and gradkit version. The learning rate is a function of the
    step, so no schedule state is needed. Returns the path."""
    arrays = {f"model/{k}": v.numpy() for k, v in run.model.state_dict().items()}
    meta: dict[str, Any] = {
        "type": run.config.type, "config": run.config.to_dict(), "vocab": vocab.to_dict(),
        "dtype": run.config.dtype, "backend": backend.name, "seed": run.config.seed, "step": run.step,
        "rng_state": run.rng.bit_generator.state, "history": run.history, "dev": run.dev, "input": source,
        "input_sha256": source_sha256, "gradkit_version": __version__,
    }
    if run.optimizer is not None:
        state = run.optimizer.state_dict()
        arrays.update({f"optim/{k}": v.numpy() for k, v in _statedict.flatten(state["state"])})
        meta["optimizer"] = {"param_groups": [{k: list(v) if isinstance(v, tuple) else v for k, v in g.items()}
                                              for g in state["param_groups"]]}
    path = workdir / name
    checkpoint.save(path, arrays, meta)
    return path


def load_run(workdir: Path, backend: Backend, name: str = MODEL_FILE) -> tuple[Run, Vocab, dict[str, Any]]:
    """Read ``workdir/name`` onto ``backend`` (any backend, whatever it was trained on), as untrusted input:
    ``checkpoint.load`` checks the file, ``runmeta.check`` every metadata field, and the model is built
    only within the size of the arrays the file holds (``runmeta.budget``). No path named in the metadata
    is opened.

    Returns ``(run, vocab, meta)``. Raises ``CheckpointError`` (naming the file, the field and the fix) for a
    missing, damaged or foreign file, a bad field, or arrays that do not fit the model it describes.
    """
    path = workdir / name
    if not path.exists():
        raise CheckpointError(f"no model in {workdir}: {path} does not exist; train one first with "
                              f"gradkit train -o {workdir}", path)
    arrays, meta = checkpoint.load(path)
    try:
        config = TrainConfig.from_dict(meta["config"])
        fields = runmeta.check(path, meta, arrays)
        vocab = Vocab.from_dict(meta["vocab"])
        runmeta.check_sizes(path, config, vocab, arrays)
        run = new_run(config, vocab, backend, runmeta.budget(path, backend, config.seed, arrays))
        run.model.load_state_dict({k[6:]: v for k, v in arrays.items() if k.startswith("model/")})
        if run.optimizer is not None:
            state: dict[str, dict[str, Any]] = {}
            for k, v in arrays.items():
                if k.startswith("optim/"):
                    index, _, name = k[6:].partition(".")
                    state.setdefault(index, {})[name] = v
            run.optimizer.load_state_dict({"state": state, "param_groups": meta["optimizer"]["param_groups"]})
        run.rng.bit_generator.state = fields["rng_state"]
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, OverflowError, ConfigError) as exc:
        raise CheckpointError(f"{path} does not hold a model gradkit can rebuild ({type(exc).__name__}: "
                              f"{runmeta.excerpt(str(exc))}); retrain with gradkit train -o {workdir}", path) from None
    run.step, run.history, run.dev = fields["step"], fields["history"], fields["dev"]
    return run, vocab, meta


def write_log(workdir: Path, history: list[tuple[int, float, float]],
              dev: Sequence[tuple[int, float]] = ()) -> Path:
    """``log.csv``: one row ``step,loss,lr,dev_loss`` per logged step (``loss`` is the minibatch loss of step
    ``step``, counting from 0) and per evaluation (``dev_loss`` after ``step`` steps); empty cells where a row
    has no such value. Rows in step order, evaluations after the logged step of the same number."""
    rows = [(s, 0, f"{s},{loss:.6f},{lr:g},") for s, loss, lr in history]
    rows += [(s, 1, f"{s},,,{loss:.6f}") for s, loss in dev]
    lines = ["step,loss,lr,dev_loss"] + [text for _, _, text in sorted(rows)]
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
    curve = plots.loss_curve(run.history, workdir / "loss.png", f"gradkit {run.config.type}", run.dev)
    return [p for p in [curve, *run.model.pictures(workdir, vocab)] if p is not None]
