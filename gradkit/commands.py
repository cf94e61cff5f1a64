"""What each ``gradkit`` subcommand does, given its parsed arguments (``cli`` parses them)."""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import backends

from .checkpoint import CheckpointError, OutputError
from .data import load_words
from .models import DEFAULT_TYPE, TYPES, sample
from .models.config import flag, options
from .train import ConfigError, Run, Splits, TrainConfig, fit, losses, new_run, prepare
from .workdir import MODEL_FILE, load_run, save_run, write_log, write_plots, write_samples


def info(args: argparse.Namespace) -> int:
    """``gradkit info``: the backend report."""
    print(backends.format_probe())
    return 0


def _writable(workdir: Path) -> bool:
    """Fail early, before any work, when ``workdir`` cannot hold our files; True when this call created it."""
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


def _source(args: argparse.Namespace, meta: dict[str, Any] | None) -> str | None:
    """The words file: ``-i``, else the one the checkpoint was trained on (None: the embedded names)."""
    if args.input_file is not None or meta is None:
        return args.input_file
    source = meta.get("input")
    if source is not None and not Path(source).exists():
        raise ConfigError(f"the model was trained on {source}, which no longer exists; pass the words file "
                          "again with -i FILE")
    return source


def train(args: argparse.Namespace) -> int:
    """``gradkit train``: train (or resume) a model, then report losses and samples and write the outputs."""
    _check_num_samples(args)  # sampling comes last: checked here, before any work or any file is written
    backend = backends.get_backend(args.backend)
    workdir = Path(args.work_dir)
    run = vocab = meta = None
    if args.resume:
        run, vocab, meta = load_run(workdir, backend)
    config = _train_config(args, run.config if run else None)
    if run is not None and config.max_steps < run.step:
        raise ConfigError(f"--max-steps {config.max_steps} is behind the checkpoint, which is at step {run.step}; "
                          "give a larger --max-steps to continue")
    source = _source(args, meta)
    words = load_words(source)
    if run is None:
        config = config.fit_to(words)  # e.g. a whole-word model's block size: the longest word + 1
    splits = prepare(words, config, backend, vocab)
    if run is None:
        run = new_run(config, splits.vocab, backend)  # before the directory exists: a model too big fails here
    else:
        run.config = config  # the learning rate is a function of the step: a new schedule needs no state
    created = _writable(workdir)
    source_name = str(Path(source).resolve()) if source else None
    steps = "closed form" if run.optimizer is None else f"steps {run.step} -> {config.max_steps}"
    print(f"training {config.type} on {sum(len(w) for w in splits.words.values())} words "
          f"({source or 'the embedded names list'}), backend {backend.name}: "
          f"{sum(p.size for p in run.model.parameters())} parameters, {steps}", file=sys.stderr)
    try:
        interrupted = _fit_with_progress(run, splits, quiet=args.quiet)
    except BaseException:
        if created and not any(workdir.iterdir()):
            workdir.rmdir()  # a failed first run leaves no empty directory behind
        raise
    save_run(workdir, run, splits.vocab, backend, source_name)
    write_log(workdir, run.history)
    if interrupted:
        print(f"interrupted at step {run.step}: saved {workdir / MODEL_FILE}; continue with "
              f"gradkit train --resume -o {workdir}", file=sys.stderr)
        raise KeyboardInterrupt
    print(" ".join(f"{k} loss {v:.4f}" for k, v in losses(run.model, splits).items()))
    words = sample(run.model, splits.vocab, args.num_samples, seed=config.seed)
    _print_marked(words, set(splits.words["train"]))
    write_samples(workdir, words)
    plots = write_plots(workdir, run, splits.vocab)
    names = [MODEL_FILE, "log.csv", "samples.txt", *(p.name for p in plots)]
    print(f"wrote {', '.join(names)} to {workdir}", file=sys.stderr)
    return 0


def _print_marked(words: list[str], train_words: set[str]) -> None:
    for w in words:
        print(f"{w} (in train)" if w in train_words else w)


def _fit_with_progress(run: Run, splits: Splits, quiet: bool) -> bool:
    """``fit`` with a tqdm bar showing the running loss on a terminal; elsewhere (a log file, CI) a plain line
    at logged steps, about ten in all. ``quiet`` silences both. Ctrl-C stops the run at the next step
    boundary (so that it saves and resumes exactly; a second Ctrl-C stops at once). Returns True when
    interrupted."""
    from tqdm import tqdm

    interrupted = [False]

    def on_sigint(signum: int, frame: Any) -> None:
        if interrupted[0]:
            raise KeyboardInterrupt
        interrupted[0] = True

    try:
        previous = signal.signal(signal.SIGINT, on_sigint)
    except ValueError:  # not the main thread: Ctrl-C keeps Python's default behaviour
        previous = None

    total = run.config.max_steps
    bar_on = not quiet and sys.stderr.isatty() and total > run.step
    every = max(1, math.ceil((total - run.step) / 10))
    with tqdm(total=total, initial=run.step, disable=not bar_on, unit="step", dynamic_ncols=True) as bar:
        last = [run.step, run.step]

        def on_log(step: int, loss: float, lr: float) -> None:
            bar.update(step + 1 - last[0])
            last[0] = step + 1
            bar.set_postfix(loss=f"{loss:.4f}", lr=f"{lr:g}")
            if not quiet and not bar_on and (step + 1 - last[1] >= every or step + 1 == total):
                last[1] = step + 1
                print(f"step {step + 1}/{total} loss {loss:.4f} lr {lr:g}", file=sys.stderr)

        try:
            fit(run, splits, on_log=on_log, stop=lambda: interrupted[0])
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
    return interrupted[0]


def sample_words(args: argparse.Namespace) -> int:
    """``gradkit sample``: words from a trained model, marked when they are in its training split."""
    _check_seed(args.seed)
    _check_num_samples(args)
    if not args.temperature > 0 or math.isinf(args.temperature):
        raise ConfigError(f"--temperature must be a finite number > 0, got {args.temperature}")
    backend = backends.get_backend(args.backend)
    run, vocab, meta = load_run(Path(args.work_dir), backend)
    if args.top_k is not None and not 1 <= args.top_k <= vocab.vocab_size:
        raise ConfigError(f"--top-k must be between 1 and {vocab.vocab_size} (the vocabulary), got {args.top_k}")
    seed = run.config.seed if args.seed is None else args.seed
    words = sample(run.model, vocab, args.num_samples, seed=seed, temperature=args.temperature, top_k=args.top_k)
    source = meta.get("input")
    if source is None or Path(source).exists():
        _print_marked(words, set(_scoring_splits(source, run, backend, vocab).words["train"]))
    else:
        print(f"note: the training words ({source}) are gone, so samples are not marked '(in train)'",
              file=sys.stderr)
        print("\n".join(words))
    return 0


def evaluate(args: argparse.Namespace) -> int:
    """``gradkit eval``: the train/dev/test losses of a trained model."""
    backend = backends.get_backend(args.backend)
    run, vocab, meta = load_run(Path(args.work_dir), backend)
    splits = _scoring_splits(_source(args, meta), run, backend, vocab)
    print(" ".join(f"{k} loss {v:.4f}" for k, v in losses(run.model, splits).items()))
    return 0


def moons(args: argparse.Namespace) -> int:
    """``gradkit moons``: micrograd's demo on either engine, with its decision-boundary picture."""
    if args.steps < 1:
        raise ConfigError(f"--steps must be >= 1, got {args.steps}")
    if args.engine == "value" and args.backend is not None:
        raise ConfigError("--backend applies to --engine tensor; the value engine runs on Python floats")
    backend = backends.get_backend(args.backend) if args.engine == "tensor" else None
    if args.work_dir:
        from .plots import _pyplot

        if _pyplot() is None:
            raise ConfigError('-o needs matplotlib for moons.png: pip install "gradkit[plot]", or drop -o')
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


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "train": train, "sample": sample_words, "eval": evaluate, "info": info, "moons": moons}
