"""A training run's work directory: ``model.safetensors``, ``best.safetensors``, ``log.csv``, ``samples.txt`` and
the plots (``RUN_FILES``), each written atomically (temporary file, then rename), and the checkpoint read back onto any
backend."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gradkit.backends import Backend

from . import __version__, checkpoint, files, plots, runmeta
from .data import Vocab
from .files import CheckpointError
from .train import ConfigError, Run, TrainConfig, new_run

MODEL_FILE = "model.safetensors"
"""The last state of the run (what --resume continues)."""
BEST_FILE = "best.safetensors"
"""The state with the lowest dev loss so far."""
RUN_FILES = (MODEL_FILE, BEST_FILE, "log.csv", "samples.txt", "loss.png", "bigram.png", "stats.png", "ud.png")
"""Every file ``gradkit train`` writes in its work directory (``write_plots``' pictures of every type included):
what a new run there removes first (``remove_outputs``), and nothing else."""


def remove_outputs(workdir: Path, keep: Sequence[str] = (MODEL_FILE,)) -> None:
    """Remove the files an earlier run wrote in ``workdir`` (``RUN_FILES``, but ``keep``: the checkpoint, which
    the new run's first checkpoint replaces atomically), so that none outlives the run it belonged to. Files of
    other names, the user's, are never touched."""
    for name in RUN_FILES:
        path = workdir / name
        if name not in keep and (path.is_file() or path.is_symlink()):
            path.unlink(missing_ok=True)


def save_run(workdir: Path, run: Run, vocab: Vocab, backend: Backend, source: str | None,
             name: str = MODEL_FILE, source_sha256: str | None = None) -> Path:
    """Write ``run`` to ``workdir/name`` (``checkpoint.save``): the state ``{"model": model.state_dict(),
    "optimizer": optimizer.state_dict()}`` (the optimizer's as it gives it, whatever its layout), and as metadata
    the type, config (``TrainConfig.to_dict``), vocabulary, dtype, backend trained on, seed, step, minibatch
    random state, loss and dev-loss history, input file (None for the embedded names; text for the user's
    eyes, never opened again) and its SHA-256, and gradkit version. The learning rate is a function of the
    step, so no schedule state is needed. Returns the path."""
    state: dict[str, Any] = {"model": run.model.state_dict()}
    if run.optimizer is not None:
        state["optimizer"] = run.optimizer.state_dict()
    meta: dict[str, Any] = {
        "type": run.config.type, "config": run.config.to_dict(), "vocab": vocab.to_dict(),
        "dtype": run.config.dtype, "backend": backend.name, "seed": run.config.seed, "step": run.step,
        "rng_state": run.rng.bit_generator.state, "history": run.history, "dev": run.dev, "input": source,
        "input_sha256": source_sha256, "gradkit_version": __version__,
    }
    path = workdir / name
    checkpoint.save(path, state, meta)
    return path


def load_run(workdir: Path, backend: Backend, name: str = MODEL_FILE) -> tuple[Run, Vocab, dict[str, Any]]:
    """Read ``workdir/name`` onto ``backend`` (any backend, whatever it was trained on), as untrusted input:
    ``checkpoint.load`` checks the file, ``runmeta.check`` every metadata field and the model's state, and
    the model is built only within the size of the arrays the file holds (``runmeta.budget``). No path named in
    the metadata is opened.

    Returns ``(run, vocab, meta)``. Raises ``CheckpointError`` (naming the file, the field and the fix) for a
    missing, damaged or foreign file, a bad field, or arrays that do not fit the model it describes.
    """
    path = workdir / name
    if workdir.exists() and not workdir.is_dir():
        raise CheckpointError(f"{workdir} is a file, not a work directory; pass the -o DIR of a trained run", path)
    if not path.exists():
        raise CheckpointError(f"no model in {workdir}: {path} does not exist; train one first with "
                              f"gradkit train -o {workdir}", path)
    state, meta = checkpoint.load(path, backend=backend)
    try:
        config = TrainConfig.from_dict(meta["config"])
        fields = runmeta.check(path, meta)
        weights = runmeta.model_state(path, state)
        vocab = Vocab.from_dict(meta["vocab"])
        runmeta.check_sizes(path, config, vocab, weights)
        run = new_run(config, vocab, backend, runmeta.budget(path, backend, config.seed, weights))
        run.model.load_state_dict(weights)
        if run.optimizer is not None:
            run.optimizer.load_state_dict(state["optimizer"])
        run.rng.bit_generator.state = fields["rng_state"]
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, OverflowError, ConfigError) as exc:
        raise CheckpointError(f"{path} does not hold a model gradkit can rebuild ({type(exc).__name__}: "
                              f"{files.excerpt(str(exc))}); {checkpoint.fix(path)}", path) from None
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
    files.atomic_write_text(path, "\n".join(lines) + "\n")
    return path


def write_samples(workdir: Path, samples: list[str]) -> Path:
    """``samples.txt``: one generated word per line."""
    path = workdir / "samples.txt"
    files.atomic_write_text(path, "".join(f"{s}\n" for s in samples))
    return path


def write_plots(workdir: Path, run: Run, vocab: Vocab) -> list[Path]:
    """``loss.png`` (the loss curve) and the model's own pictures (``model.pictures``: the counting bigram's
    27x27 count heatmap of makemore part 1). Needs matplotlib (the ``plot`` extra); without it, returns [] and
    writes nothing."""
    curve = plots.loss_curve(run.history, workdir / "loss.png", f"gradkit {run.config.type}", run.dev)
    return [p for p in [curve, *run.model.pictures(workdir, vocab)] if p is not None]
