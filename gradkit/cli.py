"""The ``gradkit`` command line: ``train``, ``sample``, ``eval``, ``info``, ``moons``, ``convert-checkpoint``,
``run``.

A thin layer (argparse) over the library, in the spirit of makemore's command line; ``commands`` does the
work. Bad input gets one line on stderr naming the problem and the fix, exit status 2, and no file touched.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import NoReturn

from gradkit import backends

from . import __version__, commands, torch_alias
from .data import DataError
from .files import CheckpointError, OutputError
from .models import DEFAULT_TYPE, TYPES
from .models.config import flag, meta, options, value_type
from .runner import Diverged
from .stopping import Interrupted
from .train import ConfigError, TrainConfig

USER_ERRORS = (DataError, CheckpointError, OutputError, ConfigError, backends.UnknownBackendError,
               backends.BackendUnavailableError)


class Parser(argparse.ArgumentParser):
    """argparse's parser whose errors are one line on stderr, as every other bad input's: ``PROG: error:
    MESSAGE (see PROG --help)``, exit status 2 (argparse would print the whole usage first). Its subcommands'
    parsers are of this class too."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``gradkit`` and its subcommands."""
    parser = Parser(prog="gradkit", description="Train the makemore models with gradkit, "
                                     "on numpy (CPU) or CuPy (CUDA).")
    parser.add_argument("--version", action="version", version=f"gradkit {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train a language model on a file of words (default: names)")
    _common(train)
    kinds = "; ".join(f"{name}: {(cls.__doc__ or '').strip()}" for name, cls in TYPES.items())
    train.add_argument("--type", choices=list(TYPES), default=None, help=f"model type (default: {DEFAULT_TYPE}). "
                       f"{kinds}")
    train.add_argument("-i", "--input-file", default=None, help="one word per line (default: the names list "
                       "that ships with gradkit)")
    _config_flags(train)
    train.add_argument("--resume", action="store_true", help="continue the run in DIR/model.safetensors")
    train.add_argument("--overwrite", action="store_true", help="replace the trained model in DIR (without it, "
                       "a new run refuses a DIR that holds one)")
    train.add_argument("--quiet", action="store_true", help="no progress bar or progress lines")
    train.add_argument("--no-compile", dest="compile", action="store_false", help="run the training step eagerly "
                       "instead of tracing it once and replaying it (gradkit.compile; the same numbers either way)")
    train.add_argument("-n", "--num-samples", type=int, default=20, help="words to sample at the end (20)")

    smp = sub.add_parser("sample", help="generate words from a trained model")
    _common(smp)
    smp.add_argument("--seed", type=int, default=None, help="default: the seed the model was trained with")
    smp.add_argument("-n", "--num-samples", type=int, default=20)
    smp.add_argument("--temperature", type=float, default=1.0, help="> 0; below 1 gives likelier words")
    smp.add_argument("--top-k", type=int, default=None, help="sample among the k likeliest characters only")
    smp.add_argument("-i", "--input-file", default=None, help="the training words, to mark samples '(in train)' "
                     "(default: the embedded names, when the model was trained on them)")

    ev = sub.add_parser("eval", help="train/dev/test loss of a trained model")
    _common(ev)
    ev.add_argument("-i", "--input-file", default=None, help="the words the model was trained on (needed "
                    "unless they were the embedded names; the split is the training run's)")

    sub.add_parser("info", help="which backends this machine has, and why not")
    torch_alias.add_parser(sub)

    conv = sub.add_parser("convert-checkpoint", help="rewrite an older gradkit's model.npz as a .safetensors "
                          "checkpoint")
    conv.add_argument("old", help="the old checkpoint (model.npz or best.npz)")
    conv.add_argument("new", help="the checkpoint to write (e.g. model.safetensors beside it)")

    moons = sub.add_parser("moons", help="micrograd's demo: an MLP classifier on two moons")
    moons.add_argument("--engine", choices=["value", "tensor"], default="tensor")
    moons.add_argument("--backend", default=None, help="for --engine tensor (default: auto)")
    moons.add_argument("--steps", type=int, default=100)
    moons.add_argument("-o", "--work-dir", default=None, help="write moons.png here (needs matplotlib: the plot extra)")
    return parser


def _config_flags(p: argparse.ArgumentParser) -> None:
    """One flag per ``option`` field of ``TrainConfig`` and of every type's config, each with its help and
    its default (per type where the types differ); unset flags are None, so the recipe decides."""
    owners: dict[str, list[tuple[str, type]]] = {}
    for name, cls in [("", TrainConfig), *TYPES.items()]:
        for field in options(cls):
            owners.setdefault(field, []).append((name, cls))
    group = p.add_argument_group("settings", "defaults are each type's published recipe")
    for field, where in owners.items():
        cls = where[0][1]
        info, kind = meta(cls, field), value_type(cls, field)
        defaults = [(name, c.__dataclass_fields__[field].default) for name, c in where]  # type: ignore[attr-defined]
        shown = [f"{name or 'all'}: {value}" for name, value in defaults if value is not None]
        if len({str(v) for _, v in defaults}) == 1 and shown:
            shown = [str(defaults[0][1])]
        helps: dict[str, list[str]] = {}  # one help text, or one per group of types that word it alike
        for name, c in where:
            helps.setdefault(meta(c, field)["help"], []).append(name)
        if len(helps) == 1:
            names = "" if not where[0][0] else f" [{', '.join(name for name, _ in where)}]"
            text = f"{info['help']}{names}"
        else:
            text = "; ".join(f"{', '.join(names)}: {h}" for h, names in helps.items())
        help_text = (text + (f" (default {'; '.join(shown)})" if shown else "")).replace("%", "%%")  # argparse
        if kind is bool:
            group.add_argument(flag(field), action=argparse.BooleanOptionalAction, default=None, help=help_text)
        else:
            group.add_argument(flag(field), type=kind, default=None, choices=info["choices"], help=help_text)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--work-dir", default="out", help="directory of model.safetensors and outputs (default: out)")
    if p.prog.split()[-1] in ("sample", "eval"):
        p.add_argument("--checkpoint", choices=["best", "last"], default=None, help="best.safetensors (the "
                       "lowest dev loss) or model.safetensors (the last step) (default: best when DIR has it)")
    p.add_argument("--backend", default=None, help="numpy, cupy, strict, cpu, cuda, gpu, auto "
                   "(default: $GRADKIT_BACKEND, then auto)")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``gradkit`` console script; returns the exit status: 0, 2 for bad input, 3 when the
    run diverged, 128 + the signal's number when SIGINT (130), SIGTERM (143) or SIGHUP (129) stopped it."""
    args = build_parser().parse_args(argv)
    if args.command == "run":  # the script's own errors and exit status are its own
        return torch_alias.main(args)
    try:
        return commands.COMMANDS[args.command](args)
    except USER_ERRORS as exc:
        print(f"gradkit {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except MemoryError:
        print(f"gradkit {args.command}: error: out of memory; choose smaller sizes or counts", file=sys.stderr)
        return 2
    except Diverged as exc:
        print(f"gradkit {args.command}: error: {exc}", file=sys.stderr)
        return 3
    except Interrupted as exc:  # a second stop signal: at once (never inside a checkpoint write)
        with contextlib.suppress(OSError):
            print(f"gradkit: interrupted by {exc}", file=sys.stderr)
        return 128 + exc.signum
    except KeyboardInterrupt:
        print("gradkit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `gradkit sample | head`: the reader left, nothing is wrong
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
