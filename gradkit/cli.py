"""The ``gradkit`` command line (argparse): a thin layer over the library."""

from __future__ import annotations

import argparse
import sys

import backends


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``gradkit`` and its subcommands."""
    parser = argparse.ArgumentParser(prog="gradkit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="which backends this machine has, and why not")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``gradkit`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    if args.command == "info":
        print(backends.format_probe())
    return 0


if __name__ == "__main__":
    sys.exit(main())
