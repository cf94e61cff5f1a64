"""The ``gradkit`` command line: ``train``, ``sample``, ``eval``, ``info``, ``moons``.

A thin layer (argparse) over the library, in the spirit of makemore's command line; ``commands`` does the
work. Bad input gets one line on stderr naming the problem and the fix, exit status 2, and no file touched.
"""

from __future__ import annotations

import argparse
import sys

import backends

from . import __version__, commands
from .checkpoint import CheckpointError, OutputError
from .data import DataError
from .train import RECIPES, ConfigError

USER_ERRORS = (DataError, CheckpointError, OutputError, ConfigError, backends.UnknownBackendError,
               backends.BackendUnavailableError)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``gradkit`` and its subcommands."""
    parser = argparse.ArgumentParser(prog="gradkit", description="Train the makemore models with gradkit, "
                                     "on numpy (CPU) or CuPy (CUDA).")
    parser.add_argument("--version", action="version", version=f"gradkit {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train a language model on a file of words (default: names)")
    _common(train)
    train.add_argument("--seed", type=int, default=None, help="seed of the split, weights and batches (42)")
    train.add_argument("--type", choices=sorted(RECIPES), default=None, help="model type (default: mlp)")
    train.add_argument("-i", "--input-file", default=None, help="one word per line (default: the names list "
                       "that ships with gradkit)")
    train.add_argument("--dtype", choices=["float32", "float64"], default=None, help="default: float32")
    train.add_argument("--max-steps", type=int, default=None, help="total optimizer steps of the run")
    train.add_argument("--batch-size", type=int, default=None, help="rows per step; 0 = the whole split")
    train.add_argument("--learning-rate", type=float, default=None)
    train.add_argument("--lr-decay-step", type=int, default=None, help="step from which lr is 10x smaller "
                       "(default: half of --max-steps for the mlp)")
    train.add_argument("--block-size", type=int, default=None, help="context length (mlp; default 3)")
    train.add_argument("--n-embd", type=int, default=None, help="embedding size (mlp; default 10)")
    train.add_argument("--n-hidden", type=int, default=None, help="hidden units (mlp; default 200)")
    train.add_argument("--smoothing", type=float, default=None, help="add-k smoothing (counts; default 1)")
    train.add_argument("--log-every", type=int, default=None, help="steps between logged losses (100)")
    train.add_argument("--resume", action="store_true", help="continue the run in DIR/model.npz")
    train.add_argument("--quiet", action="store_true", help="no progress bar or progress lines")
    train.add_argument("-n", "--num-samples", type=int, default=20, help="words to sample at the end (20)")

    smp = sub.add_parser("sample", help="generate words from a trained model")
    _common(smp)
    smp.add_argument("--seed", type=int, default=None, help="default: the seed the model was trained with")
    smp.add_argument("-n", "--num-samples", type=int, default=20)
    smp.add_argument("--temperature", type=float, default=1.0, help="> 0; below 1 gives likelier words")
    smp.add_argument("--top-k", type=int, default=None, help="sample among the k likeliest characters only")

    ev = sub.add_parser("eval", help="train/dev/test loss of a trained model")
    _common(ev)
    ev.add_argument("-i", "--input-file", default=None, help="default: the file the model was trained on")

    sub.add_parser("info", help="which backends this machine has, and why not")

    moons = sub.add_parser("moons", help="micrograd's demo: an MLP classifier on two moons")
    moons.add_argument("--engine", choices=["value", "tensor"], default="tensor")
    moons.add_argument("--backend", default=None, help="for --engine tensor (default: auto)")
    moons.add_argument("--steps", type=int, default=100)
    moons.add_argument("-o", "--work-dir", default=None, help="write moons.png here (needs gradkit[plot])")
    return parser


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--work-dir", default="out", help="directory of model.npz and outputs (default: out)")
    p.add_argument("--backend", default=None, help="numpy, cupy, strict, cpu, cuda, gpu, auto "
                   "(default: $GRADKIT_BACKEND, then auto)")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``gradkit`` console script; returns the exit status (0, 2 for bad input, 130 when
    interrupted)."""
    args = build_parser().parse_args(argv)
    try:
        return commands.COMMANDS[args.command](args)
    except USER_ERRORS as exc:
        print(f"gradkit {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except MemoryError:
        print(f"gradkit {args.command}: error: out of memory; choose smaller sizes or counts", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gradkit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `gradkit sample | head`: the reader left, nothing is wrong
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
