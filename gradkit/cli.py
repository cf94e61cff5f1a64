"""The ``gradkit`` command line: ``train``, ``sample``, ``eval``, ``info``, ``moons``.

A thin layer (argparse) over the library, in the spirit of makemore's command line. Bad input gets one line
on stderr naming the problem and the fix, exit status 2, and no file touched.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import backends

from . import __version__
from .checkpoint import CheckpointError, OutputError
from .data import DataError, load_words
from .models import sample
from .train import RECIPES, ConfigError, Run, Splits, TrainConfig, fit, losses, new_run, prepare
from .workdir import MODEL_FILE, load_run, save_run, write_log, write_plots, write_samples

USER_ERRORS = (DataError, CheckpointError, OutputError, ConfigError, backends.UnknownBackendError,
               backends.BackendUnavailableError)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``gradkit`` and its subcommands."""
    parser = argparse.ArgumentParser(prog="gradkit", description="Train the makemore models with gradkit, "
                                     "on numpy (CPU) or CuPy (CUDA).")
    parser.add_argument("--version", action="version", version=f"gradkit {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train a language model on a file of words (default: names)")
    _common(train, sample_flags=False)
    train.add_argument("--type", choices=sorted(RECIPES), default=None, help="model type (default: mlp)")
    train.add_argument("-i", "--input-file", default=None, help="one word per line (default: the names list "
                       "that ships with gradkit)")
    train.add_argument("--dtype", choices=["float32", "float64"], default=None, help="default: float32")
    train.add_argument("--max-steps", type=int, default=None, help="total optimizer steps")
    train.add_argument("--batch-size", type=int, default=None, help="rows per step; 0 = the whole split")
    train.add_argument("--learning-rate", type=float, default=None)
    train.add_argument("--lr-decay-step", type=int, default=None, help="step from which lr is 10x smaller")
    train.add_argument("--block-size", type=int, default=None, help="context length (mlp; default 3)")
    train.add_argument("--n-embd", type=int, default=None, help="embedding size (mlp; default 10)")
    train.add_argument("--n-hidden", type=int, default=None, help="hidden units (mlp; default 200)")
    train.add_argument("--smoothing", type=float, default=None, help="add-k smoothing (counts; default 1)")
    train.add_argument("--log-every", type=int, default=None, help="steps between logged losses (100)")
    train.add_argument("--resume", action="store_true", help="continue from DIR/model.npz")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.add_argument("-n", "--num-samples", type=int, default=20, help="words to sample at the end")

    smp = sub.add_parser("sample", help="generate words from a trained model")
    _common(smp, sample_flags=True)
    smp.add_argument("-n", "--num-samples", type=int, default=20)

    ev = sub.add_parser("eval", help="train/dev/test loss of a trained model")
    _common(ev, sample_flags=False)
    ev.add_argument("-i", "--input-file", default=None, help="default: the file the model was trained on")

    sub.add_parser("info", help="which backends this machine has, and why not")

    moons = sub.add_parser("moons", help="micrograd's demo: an MLP classifier on two moons")
    moons.add_argument("--engine", choices=["value", "tensor"], default="tensor")
    moons.add_argument("--backend", default=None, help="for --engine tensor (default: auto)")
    moons.add_argument("--steps", type=int, default=100)
    moons.add_argument("-o", "--work-dir", default=None, help="write moons.png here (needs gradkit[plot])")
    return parser


def _common(p: argparse.ArgumentParser, sample_flags: bool) -> None:
    p.add_argument("-o", "--work-dir", default="out", help="directory of model.npz and outputs (default: out)")
    p.add_argument("--backend", default=None, help="numpy, cupy, strict, cpu, cuda, gpu, auto "
                   "(default: $GRADKIT_BACKEND, then auto)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default 42 to train, 0 to sample)")
    if sample_flags:
        p.add_argument("--temperature", type=float, default=1.0)
        p.add_argument("--top-k", type=int, default=None)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``gradkit`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except USER_ERRORS as exc:
        print(f"gradkit {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gradkit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `gradkit sample | head`: the reader left, nothing is wrong
        sys.stderr.close()
        return 0


def _info(args: argparse.Namespace) -> int:
    print(backends.format_probe())
    return 0


def _writable(workdir: Path) -> None:
    """Fail early, before any work, when ``workdir`` cannot hold our files."""
    try:
        workdir.mkdir(parents=True, exist_ok=True)
        probe = workdir / f".gradkit-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise OutputError(f"cannot write to the output directory {workdir} ({exc.strerror or exc}); choose "
                          "another -o DIR or fix its permissions", workdir) from None


def _train_config(args: argparse.Namespace, base: TrainConfig | None) -> TrainConfig:
    if base is not None:
        if args.type is not None and args.type != base.type:
            path = Path(args.work_dir) / MODEL_FILE
            raise CheckpointError(f"{path} holds a {base.type} model, not {args.type}; drop --type, or train a new "
                                  "model in another -o DIR", path)
        if args.max_steps is not None:
            base.max_steps = args.max_steps
        return base.resolved()
    if args.seed is not None and args.seed < 0:  # numpy's seeding would fail only after the output dir exists
        raise ConfigError(f"--seed must be an integer >= 0, got {args.seed}")
    settings = {k: getattr(args, k) for k in ("block_size", "n_embd", "n_hidden", "batch_size", "max_steps",
                                              "learning_rate", "lr_decay_step", "seed", "dtype", "smoothing",
                                              "log_every") if getattr(args, k) is not None}
    return TrainConfig(type=args.type or "mlp", **settings).resolved()


def _train(args: argparse.Namespace) -> int:
    if args.num_samples < 1:  # sampling comes last: checked here, before any work or any file is written
        raise ConfigError(f"-n/--num-samples must be an integer >= 1, got {args.num_samples}")
    backend = backends.get_backend(args.backend)
    workdir = Path(args.work_dir)
    run = vocab = None
    source = args.input_file
    if args.resume:
        run, vocab, meta = load_run(workdir, backend)
        source = source if source is not None else meta.get("input")
    config = _train_config(args, run.config if run else None)
    words = load_words(source)
    splits = prepare(words, config, backend, vocab)
    _writable(workdir)
    if run is None:
        run = new_run(config, splits.vocab, backend)
    run.config = config
    source_name = str(Path(source).resolve()) if source else None
    what = f"{config.type} on {len(words)} words ({source or 'the embedded names list'}), backend {backend.name}"
    print(f"training {what}: {sum(p.size for p in run.model.parameters())} parameters, steps {run.step} -> "
          f"{config.max_steps}", file=sys.stderr)
    _fit_with_progress(run, splits, quiet=args.quiet)
    save_run(workdir, run, splits.vocab, backend, source_name)
    write_log(workdir, run.history)
    result = losses(run.model, splits)
    print(" ".join(f"{k} loss {v:.4f}" for k, v in result.items()))
    words_out = sample(run.model, splits.vocab, args.num_samples, seed=config.seed)
    train_set = set(splits.words["train"])
    for w in words_out:
        print(f"{w} (in train)" if w in train_set else w)
    write_samples(workdir, words_out)
    plots = write_plots(workdir, run, splits.vocab)
    names = [MODEL_FILE, "log.csv", "samples.txt", *(p.name for p in plots)]
    print(f"wrote {', '.join(names)} to {workdir}", file=sys.stderr)
    return 0


def _fit_with_progress(run: Run, splits: Splits, quiet: bool) -> None:
    """``fit`` with a tqdm bar showing the running loss, on a terminal only and unless ``quiet``."""
    from tqdm import tqdm

    total = run.config.max_steps or 0
    show = not quiet and sys.stderr.isatty() and total > run.step
    with tqdm(total=total, initial=run.step, disable=not show, unit="step", dynamic_ncols=True) as bar:
        last = [run.step]

        def on_log(step: int, loss: float, lr: float) -> None:
            bar.update(step + 1 - last[0])
            last[0] = step + 1
            bar.set_postfix(loss=f"{loss:.4f}", lr=f"{lr:g}")

        fit(run, splits, on_log=on_log)


def _sample(args: argparse.Namespace) -> int:
    if args.seed is not None and args.seed < 0:
        raise ConfigError(f"--seed must be an integer >= 0, got {args.seed}")
    backend = backends.get_backend(args.backend)
    run, vocab, _ = load_run(Path(args.work_dir), backend)
    try:
        words = sample(run.model, vocab, args.num_samples, seed=0 if args.seed is None else args.seed,
                       temperature=args.temperature, top_k=args.top_k)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    print("\n".join(words))
    return 0


def _eval(args: argparse.Namespace) -> int:
    backend = backends.get_backend(args.backend)
    run, vocab, meta = load_run(Path(args.work_dir), backend)
    source = args.input_file if args.input_file is not None else meta.get("input")
    # Scoring needs no minibatch: a training batch size larger than this file's training split is no error.
    splits = prepare(load_words(source), dataclasses.replace(run.config, batch_size=0), backend, vocab)
    print(" ".join(f"{k} loss {v:.4f}" for k, v in losses(run.model, splits).items()))
    return 0


def _moons(args: argparse.Namespace) -> int:
    if args.steps < 1:
        raise ConfigError(f"--steps must be >= 1, got {args.steps}")
    start = time.perf_counter()
    if args.engine == "value":
        from .nn_scalar import train_moons as train_value

        result = train_value(steps=args.steps)
        accuracy, predict = result.final_accuracy, _value_predictor(result.model)
    else:
        from .models.classifier import train_moons

        backend = backends.get_backend(args.backend)
        model, accuracies = train_moons(backend, steps=args.steps)
        accuracy, predict = accuracies[-1], _tensor_predictor(model, backend)
    seconds = time.perf_counter() - start
    print(f"engine {args.engine}: training accuracy {accuracy:.1%} after {args.steps} steps, "
          f"{seconds:.2f} s ({seconds / args.steps * 1e3:.1f} ms per step)")
    if args.work_dir:
        _writable(Path(args.work_dir))
        from .plots import decision_boundary

        path = decision_boundary(predict, Path(args.work_dir) / "moons.png")
        print(f"wrote {path}" if path else "no plot: pip install \"gradkit[plot]\"", file=sys.stderr)
    return 0


def _value_predictor(model: Any) -> Callable[[Any], list[bool]]:
    return lambda points: [model(list(p)).data > 0 for p in points]


def _tensor_predictor(model: Any, backend: backends.Backend) -> Callable[[Any], list[bool]]:
    from .tensor import Tensor

    return lambda points: (model(Tensor(points, backend=backend, dtype="float64")).numpy()[:, 0] > 0).tolist()


COMMANDS = {"train": _train, "sample": _sample, "eval": _eval, "info": _info, "moons": _moons}

if __name__ == "__main__":
    sys.exit(main())
