"""What each ``gradkit`` subcommand does, given its parsed arguments (``cli`` parses them)."""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import math
import os
import shlex
import shutil
import signal
import sys
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from gradkit import backends

from . import files, plots
from .data import load_words
from .files import CheckpointError, OutputError, excerpt
from .models import DEFAULT_TYPE, TYPES, iter_samples, sample
from .models.config import flag, options
from .models.sampling import BATCH
from .runlock import run_lock
from .runner import Diverged, Session, default_eval_every, progress
from .stopping import StopSignals
from .train import ConfigError, Run, Splits, TrainConfig, losses, new_run, prepare
from .workdir import BEST_FILE, MODEL_FILE, load_run, remove_outputs, save_run, write_log, write_plots, write_samples


def info(args: argparse.Namespace) -> int:
    """``gradkit info``: the backend report."""
    print(backends.format_probe())
    return 0


def _not_a_file(workdir: Path) -> None:
    """Refuse an ``-o`` that is (or lies inside) a file rather than a directory."""
    for path in (workdir, *workdir.parents):
        if path.exists() and not path.is_dir():
            raise OutputError(f"{path} is a file, not a directory; choose another -o DIR", workdir)


def _writable(workdir: Path) -> bool:
    """Fail early, before any work, when ``workdir`` cannot hold our files; True when this call created it."""
    _not_a_file(workdir)
    created = not workdir.exists()
    try:
        workdir.mkdir(parents=True, exist_ok=True)
        probe = workdir / f".gradkit-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise OutputError(f"cannot write to the output directory {workdir} ({exc.strerror or exc}); choose "
                          "another -o DIR or fix its permissions", workdir) from None
    return created


def _check_seed(seed: int | None) -> None:
    if seed is not None and seed < 0:  # numpy's seeding would fail only after the output dir exists
        raise ConfigError(f"--seed must be an integer >= 0, got {seed}")


def _check_num_samples(args: argparse.Namespace) -> None:
    if args.num_samples < 1:
        raise ConfigError(f"-n/--num-samples must be an integer >= 1, got {args.num_samples}")


def _scoring_splits(source: str | None, run: Run, backend: backends.Backend, vocab: Any) -> Splits:
    """The run's splits of ``source`` for scoring and marking: no minibatch, so a training batch larger than
    this file's training split is no error."""
    return prepare(load_words(source), run.config, backend, vocab, for_training=False)


def _given_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The config flags given on the command line (``None``: not given, the recipe decides)."""
    classes: list[type] = [TrainConfig, *TYPES.values()]
    names = {k for cls in classes for k in options(cls)}
    return {k: getattr(args, k) for k in sorted(names) if getattr(args, k, None) is not None}


def _train_config(args: argparse.Namespace, base: TrainConfig | None) -> TrainConfig:
    given = _given_settings(args)
    if base is None:
        return TrainConfig.of(args.type or DEFAULT_TYPE, **given).resolved()
    path = Path(args.work_dir) / MODEL_FILE
    if args.type is not None and args.type != base.type:
        raise CheckpointError(f"{path} holds a model of type {base.type}, not {args.type}; drop --type, or train a "
                              "new model in another -o DIR", path)
    current = base.settings()
    TrainConfig.of(base.type, **given)  # a flag this type does not have: the same error as a new run
    fixed = [flag(k) for k, v in given.items() if base.fixed(k) and v != current[k]]
    if fixed:
        raise ConfigError(f"{', '.join(fixed)} cannot change when resuming (fixed by {path}); drop "
                          f"{'it' if len(fixed) == 1 else 'them'}, or train a new model in another -o DIR")
    return base.replace(**given).resolved()


def _source(args: argparse.Namespace, meta: dict[str, Any] | None, path: Path, resuming: bool = False
            ) -> str | None:
    """The words file: ``-i``, else the embedded names when the checkpoint was trained on them. A file named in
    a checkpoint is never opened (the checkpoint is untrusted input); the user passes it again with ``-i``,
    and a recorded SHA-256 must match it. ``resuming``: the words must be the ones the run was trained on,
    whatever their source (a file, or the embedded names)."""
    recorded = None if meta is None else meta.get("input")
    if args.input_file is None and recorded is not None:
        raise ConfigError(f"{path} was trained on the words file {excerpt(recorded)!r}; pass it again with -i FILE "
                          "(gradkit never opens a file named inside a checkpoint)")
    if meta is None or not (resuming or (args.input_file is not None and recorded is not None)):
        return args.input_file
    digest = meta.get("input_sha256")
    given = f"-i {args.input_file}" if args.input_file is not None else "the embedded names list"
    trained = "the embedded names list" if recorded is None else "the words file"
    if digest is not None and _sha256(args.input_file) != digest:
        raise ConfigError(f"{given} is not {trained} {path} was trained on (its SHA-256 differs); pass "
                          f"{'that file with -i' if recorded is not None else 'no -i'}, or train a new model in "
                          "another -o DIR")
    if resuming and digest is None and recorded is None and args.input_file is not None:
        raise ConfigError(f"{path} was trained on the embedded names list, not on -i {args.input_file}; drop -i to "
                          "resume it, or train a new model in another -o DIR")
    return args.input_file


def _sha256(source: str | None) -> str | None:
    """The SHA-256 of a words file, or of the embedded names list for None (None: a file that cannot be
    read)."""
    digest = hashlib.sha256()
    try:
        if source is None:
            digest.update((resources.files("gradkit.data") / "names.txt").read_bytes())
            return digest.hexdigest()
        with open(source, "rb") as f:
            for block in iter(lambda: f.read(2**20), b""):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


def train(args: argparse.Namespace) -> int:
    """``gradkit train``: train (or resume) a model in its own locked work directory, evaluating and saving
    as it goes, then report losses and samples and write the outputs. Returns 0, or 128 + the signal's
    number when a stop signal ended it (after saving)."""
    _check_num_samples(args)  # sampling comes last: checked here, before any work or any file is written
    backend = backends.get_backend(args.backend)
    workdir = Path(args.work_dir)
    _not_a_file(workdir)
    with contextlib.ExitStack() as stack:
        signals = stack.enter_context(StopSignals(exiting=True))
        locked = workdir.is_dir() and _lock(stack, workdir, args.quiet)
        result = _train_locked(args, backend, workdir, stack, signals, locked)
    return result


def _lock(stack: contextlib.ExitStack, workdir: Path, quiet: bool) -> bool:
    note = stack.enter_context(run_lock(workdir))
    if note and not quiet:
        print(note, file=sys.stderr)
    return True


def _train_locked(args: argparse.Namespace, backend: backends.Backend, workdir: Path, stack: contextlib.ExitStack,
                  signals: StopSignals, locked: bool) -> int:
    last = workdir / MODEL_FILE
    if last.exists() and not args.resume and not args.overwrite:
        raise ConfigError(f"{workdir} holds a trained model ({last}); continue it with --resume, replace it "
                          "with --overwrite, or choose another -o DIR")
    run = vocab = meta = None
    if args.resume:
        run, vocab, meta = load_run(workdir, backend)
    config = _train_config(args, run.config if run else None)
    if run is not None and config.max_steps < run.step:
        raise ConfigError(f"--max-steps {config.max_steps} is behind the checkpoint, which is at step {run.step}; "
                          "give a larger --max-steps to continue")
    if getattr(config.spec, "plot_stats", False) and plots._pyplot() is None:
        raise ConfigError('--plot-stats draws its pictures with matplotlib: pip install ".[plot]" in the gradkit '
                          "checkout (or pip install matplotlib), or drop --plot-stats")
    source = _source(args, meta, last, resuming=args.resume)
    words = load_words(source)
    if run is None:
        config = config.fit_to(words)  # e.g. a whole-word model's block size: the longest word + 1
    splits = prepare(words, config, backend, vocab)
    del words
    if run is None:
        run = new_run(config, splits.vocab, backend)  # before the directory exists: a model too big fails here
    else:
        run.config = config  # the learning rate is a function of the step: a new schedule needs no state
    created = _writable(workdir)
    if not locked:
        _lock(stack, workdir, args.quiet)
    files.remove_stale_temporaries(workdir)
    if not args.resume:  # --overwrite: the old run's best, log, samples and pictures are not this run's
        remove_outputs(workdir)
    source_name = str(Path(source).resolve()) if source else None
    digest = _sha256(source)
    every = config.eval_every or default_eval_every(run, splits)
    steps = "closed form" if run.optimizer is None else f"steps {run.step} -> {config.max_steps}, dev loss every " \
        f"{every}"
    if not args.quiet:
        print(f"training {config.type} on {sum(len(w) for w in splits.words.values())} words "
              f"({source or 'the embedded names list'}), backend {backend.name}: "
              f"{sum(p.size for p in run.model.parameters())} parameters, {steps}", file=sys.stderr)
    on_log, report, bar = progress(run, args.quiet)

    def save(name: str) -> None:
        save_run(workdir, run, splits.vocab, backend, source_name, name, digest)

    session = Session(run, splits, workdir, save, signals, every, report, compiled=args.compile)
    try:
        with bar:
            stopped = session.train(on_log)
    except Diverged as exc:  # the losses up to the blow-up stay inspectable beside the last good checkpoint
        write_log(workdir, run.history, run.dev)
        raise Diverged(_diverged_advice(exc, args, config, workdir, session.saved_step), exc.step, exc.found,
                       exc.lr) from None
    except BaseException:
        if created and run.step == 0:  # a run that failed before its first step leaves no directory behind
            stack.close()  # the lock released (its file removed) first
            shutil.rmtree(workdir, ignore_errors=True)
        raise
    write_log(workdir, run.history, run.dev)
    if stopped is not None:
        _say(f"interrupted at step {run.step} by {signal.Signals(stopped).name}: saved {last}; continue with "
             f"gradkit train --resume -o {workdir}")
        return 128 + stopped
    print(" ".join(f"{k} loss {v:.4f}" for k, v in losses(run.model, splits).items()))
    samples = sample(run.model, splits.vocab, args.num_samples, seed=config.seed)
    _print_marked(samples, set(splits.words["train"]))
    write_samples(workdir, samples)
    pictures = write_plots(workdir, run, splits.vocab)
    names = [MODEL_FILE, BEST_FILE, "log.csv", "samples.txt", *(p.name for p in pictures)]
    if not args.quiet:
        print(f"wrote {', '.join(names)} to {workdir}", file=sys.stderr)
    return 0


def _diverged_advice(exc: Diverged, args: argparse.Namespace, config: TrainConfig, workdir: Path,
                     saved: int) -> str:
    """The one line of a diverged run: what was seen, the command that continues from the last good
    checkpoint with a lower learning rate (the type's recipe rate when the run's was above it, else a tenth of
    it), and the way to start over."""
    head = f"the run diverged at step {exc.step}: {exc.found}"
    logged = f"{workdir / 'log.csv'} has the losses up to it"
    if exc.lr is None:
        return f"{head}; check the input words ({logged})"
    rate = float(getattr(config.spec, "learning_rate", exc.lr))
    recipe = float(getattr(type(config.spec)(), "learning_rate", rate))
    lower = recipe if rate > recipe else rate / 10
    words = f" -i {shlex.quote(args.input_file)}" if args.input_file is not None else ""
    return (f"{head}; lower --learning-rate (it was {exc.lr:g} at that step) and continue from the last good "
            f"checkpoint (step {saved}, kept in {workdir / MODEL_FILE}): gradkit train --resume --learning-rate "
            f"{lower:g}{words} -o {shlex.quote(str(workdir))}; or start over: gradkit train --overwrite with the "
            f"run's flags and a lower --learning-rate ({logged})")


def _say(line: str) -> None:
    """A line on stderr that a closed terminal (SIGHUP) cannot turn into an error."""
    with contextlib.suppress(OSError):
        print(line, file=sys.stderr)


def _print_marked(words: list[str], train_words: set[str]) -> None:
    for w in words:
        print(f"{w} (in train)" if w in train_words else w)


def _chosen(args: argparse.Namespace, backend: backends.Backend) -> tuple[Run, Any, dict[str, Any], Path]:
    """The checkpoint ``sample`` and ``eval`` use: ``--checkpoint best`` (default when ``best.safetensors``
    exists: the lowest dev loss) or ``last`` (``model.safetensors``); ``_using`` says which. A damaged best
    checkpoint that was not asked for by name falls back to the last one, with a note on stderr; one asked for
    by name is an error that names ``--checkpoint last``."""
    workdir = Path(args.work_dir)
    choice = args.checkpoint or ("best" if (workdir / BEST_FILE).exists() else "last")
    if choice == "last":
        return (*load_run(workdir, backend, MODEL_FILE), workdir / MODEL_FILE)
    try:
        return (*load_run(workdir, backend, BEST_FILE), workdir / BEST_FILE)
    except CheckpointError as exc:
        if args.checkpoint == "best":
            raise CheckpointError(f"{exc}; or use the last step's model with --checkpoint last", exc.path) from None
        try:
            found = load_run(workdir, backend, MODEL_FILE)
        except CheckpointError as last:
            raise CheckpointError(f"{exc} (and the last step's {MODEL_FILE} does not load either: {last})",
                                  exc.path) from None
        print(f"note: {exc}; using the last step's {workdir / MODEL_FILE} instead (--checkpoint last)",
              file=sys.stderr)
    return (*found, workdir / MODEL_FILE)


def _using(run: Run, path: Path) -> None:
    """The last line on stderr of ``sample`` and ``eval``: which checkpoint answered."""
    dev = f", dev loss {run.dev[-1][1]:.4f}" if run.dev else ""
    which = "best dev loss" if path.name == BEST_FILE else "last step"
    print(f"used {path} ({which}: step {run.step}{dev}; --checkpoint best|last chooses)", file=sys.stderr)


def sample_words(args: argparse.Namespace) -> int:
    """``gradkit sample``: words from a trained model, marked when they are in its training split."""
    _check_seed(args.seed)
    _check_num_samples(args)
    if not args.temperature > 0 or math.isinf(args.temperature):
        raise ConfigError(f"--temperature must be a finite number > 0, got {args.temperature}")
    backend = backends.get_backend(args.backend)
    run, vocab, meta, path = _chosen(args, backend)
    if args.top_k is not None and not 1 <= args.top_k <= vocab.vocab_size:
        raise ConfigError(f"--top-k must be between 1 and {vocab.vocab_size} (the vocabulary), got {args.top_k}")
    seed = run.config.seed if args.seed is None else args.seed
    train_words: set[str] | None = None
    if args.input_file is None and meta.get("input") is not None:
        print("note: pass the training words with -i FILE to mark samples '(in train)'", file=sys.stderr)
    else:
        train_words = set(_scoring_splits(_source(args, meta, path), run, backend, vocab).words["train"])
    words = iter_samples(run.model, vocab, args.num_samples, seed=seed, temperature=args.temperature,
                         top_k=args.top_k)
    for i, word in enumerate(words, start=1):  # streamed: the first words appear at once, memory flat in -n
        print(f"{word} (in train)" if train_words is not None and word in train_words else word,
              flush=i % BATCH == 0)
    _using(run, path)
    return 0


def evaluate(args: argparse.Namespace) -> int:
    """``gradkit eval``: the train/dev/test losses of a trained model."""
    backend = backends.get_backend(args.backend)
    run, vocab, meta, path = _chosen(args, backend)
    splits = _scoring_splits(_source(args, meta, path), run, backend, vocab)
    print(" ".join(f"{k} loss {v:.4f}" for k, v in losses(run.model, splits).items()))
    _using(run, path)
    return 0


def moons(args: argparse.Namespace) -> int:
    """``gradkit moons``: micrograd's demo on either engine, with its decision-boundary picture."""
    if args.steps < 1:
        raise ConfigError(f"--steps must be >= 1, got {args.steps}")
    if args.engine == "value" and args.backend is not None:
        raise ConfigError("--backend applies to --engine tensor; the value engine runs on Python floats")
    backend = backends.get_backend(args.backend) if args.engine == "tensor" else None
    if args.work_dir:
        _not_a_file(Path(args.work_dir))
        from .plots import _pyplot

        if _pyplot() is None:
            raise ConfigError('-o needs matplotlib for moons.png: pip install ".[plot]" in the gradkit checkout (or '
                              "pip install matplotlib), or drop -o")
        _writable(Path(args.work_dir))
    start = time.perf_counter()
    if backend is None:
        from .nn_scalar import train_moons as train_value

        result = train_value(steps=args.steps)
        accuracy, predict = result.final_accuracy, _value_predictor(result.model)
    else:
        from .models.classifier import train_moons

        model, accuracies = train_moons(backend, steps=args.steps)
        accuracy, predict = accuracies[-1], _tensor_predictor(model, backend)
    seconds = time.perf_counter() - start
    print(f"engine {args.engine}: training accuracy {accuracy:.1%} after {args.steps} steps, "
          f"{seconds:.2f} s ({seconds / args.steps * 1e3:.1f} ms per step)")
    if args.work_dir:
        from .plots import decision_boundary

        print(f"wrote {decision_boundary(predict, Path(args.work_dir) / 'moons.png')}", file=sys.stderr)
    return 0


def _value_predictor(model: Any) -> Callable[[Any], list[bool]]:
    return lambda points: [model(list(p)).data > 0 for p in points]


def _tensor_predictor(model: Any, backend: backends.Backend) -> Callable[[Any], list[bool]]:
    from .tensor import Tensor

    return lambda points: (model(Tensor(points, backend=backend, dtype="float64")).numpy()[:, 0] > 0).tolist()


def convert_checkpoint(args: argparse.Namespace) -> int:
    """``gradkit convert-checkpoint OLD NEW``: an older gradkit's ``.npz`` checkpoint as a safetensors one
    (``legacy.convert``); NEW is written atomically, OLD is left as it is."""
    from .legacy import convert

    if Path(args.new).resolve() == Path(args.old).resolve():
        raise ConfigError(f"NEW ({args.new}) is OLD; choose another name, e.g. "
                          f"{Path(args.old).with_suffix('.safetensors')}")
    print(f"wrote {convert(args.old, args.new)}", file=sys.stderr)
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "train": train, "sample": sample_words, "eval": evaluate, "info": info, "moons": moons,
    "convert-checkpoint": convert_checkpoint}
