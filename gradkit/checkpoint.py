"""Checkpoints (``.npz`` files of host arrays plus JSON metadata) and atomic writes for every output file.

``save(path, arrays, meta)`` writes a zip of ``.npy`` members, which ``numpy.load`` also reads, plus one
reserved member ``__meta__``: the UTF-8 JSON text ``{"format": "gradkit.checkpoint/2", "meta": meta}`` as a
1-D uint8 array. ``load(path)`` returns ``(arrays, meta)`` and turns every way a file can be wrong (missing,
a directory, truncated, bit-flipped, someone else's ``.npz``, a newer format, bad JSON) into one
``CheckpointError`` whose message names the file, what is wrong and the fix.

Every write goes through ``atomic_write``: the bytes go to a temporary file with a unique name in the target's
directory, are flushed and fsync'ed, and only then ``os.replace`` puts the file in place. So a crash, a full
disk or an exception mid-write leaves the previous file byte for byte as it was, and no temporary file
behind. ``atomic_write_text`` and ``atomic_write_bytes`` serve the other outputs (``log.csv``,
``samples.txt``, PNGs). A place that cannot be written raises ``OutputError``.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np

__all__ = ["FORMAT", "META_KEY", "CheckpointError", "OutputError", "atomic_write", "atomic_write_bytes",
           "atomic_write_text", "load", "save"]

# /2: nn.Linear weights in PyTorch's (out_features, in_features) layout; /1 held (in, out) and is refused rather
# than loaded transposed (a square layer would load without a shape error).
FORMAT = "gradkit.checkpoint/2"
META_KEY = "__meta__"
_FIX = "retrain with `gradkit train -o DIR`, or restore the file from a backup"
_OUT_FIX = "choose another -o DIR or fix its permissions"
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


class CheckpointError(ValueError):
    """A checkpoint that cannot be read: missing, a directory, damaged or truncated, not a gradkit checkpoint,
    a format this version does not read, or metadata that is not valid JSON.

    A ``ValueError``, so generic callers can catch it as one; the message names the file, what is wrong and
    the fix, and is all a command line needs to print (the underlying zipfile/numpy error is in the message,
    not in a chained traceback).

    Attributes:
        path: the checkpoint's path.
    """

    def __init__(self, message: str, path: str | os.PathLike[str]) -> None:
        super().__init__(message)
        self.path = Path(path)


class OutputError(RuntimeError):
    """An output file that cannot be written: its directory is missing, is a file, is read-only, or the disk
    is full. The message names the file, the directory and the fix.

    Attributes:
        path: the file that was being written.
        directory: its directory.
    """

    def __init__(self, message: str, path: str | os.PathLike[str]) -> None:
        super().__init__(message)
        self.path = Path(path)
        self.directory = self.path.parent


# --- atomic writes ----------------------------------------------------------------------------------------


def atomic_write(path: str | os.PathLike[str], write_fn: Callable[[IO[bytes]], Any]) -> Path:
    """Write ``path`` atomically: ``write_fn(f)`` writes the content to ``f`` (a binary file opened on a
    temporary file in the same directory), which is then flushed, fsync'ed and renamed over ``path``.

    The temporary file is created with mode 0o666 less the umask (as ``open`` would) and a unique name
    (``.NAME.PID.RANDOM.tmp``), so concurrent writers never share one. On any failure, including an exception
    from ``write_fn`` or KeyboardInterrupt, the temporary file is removed and an existing ``path`` is left
    untouched. The parent directory is not created.

    Returns:
        ``path`` as a ``Path``.

    Raises:
        OutputError: the directory does not exist, is not a directory, is not writable, the disk is full,
            or ``path`` is a directory. Exceptions other than ``OSError`` raised by ``write_fn`` propagate
            unchanged (after the clean-up).
    """
    target = Path(path)
    directory = target.parent
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = directory / f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        try:
            fd = os.open(tmp, flags, 0o666)
            break
        except FileExistsError:
            continue
        except OSError as exc:
            raise OutputError(_write_problem(target, exc), target) from None
    try:
        with os.fdopen(fd, "wb") as f:
            write_fn(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise OutputError(_write_problem(target, exc), target) from None
        raise
    _fsync_directory(directory)
    return target


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see ``atomic_write``). Raises ``OutputError``."""
    return atomic_write(path, lambda f: f.write(data))


def atomic_write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically in ``encoding`` (see ``atomic_write``), newlines as given (no
    platform translation). Raises ``OutputError``."""
    return atomic_write_bytes(path, text.encode(encoding))


def _write_problem(target: Path, exc: OSError) -> str:
    directory = target.parent
    reason = exc.strerror or str(exc)
    if isinstance(exc, FileNotFoundError):
        what = f"the directory {directory} does not exist; create it (mkdir -p {directory}) or choose another -o DIR"
    elif isinstance(exc, NotADirectoryError):
        what = f"{directory} is not a directory (a file is in the way); choose another -o DIR"
    elif isinstance(exc, IsADirectoryError) or target.is_dir():
        what = f"{target} is a directory; remove it or choose another file name"
    elif isinstance(exc, PermissionError) or exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        what = f"the directory {directory} is not writable; {_OUT_FIX}"
    elif exc.errno in (errno.ENOSPC, errno.EDQUOT):
        what = f"the disk holding {directory} is full; free some space or choose another -o DIR"
    else:
        what = f"writing into {directory} failed; {_OUT_FIX}"
    return f"cannot write {target}: {what} ({reason})"


def _fsync_directory(directory: Path) -> None:
    """Make the rename durable (POSIX); a best effort that never raises."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# --- checkpoints --------------------------------------------------------------------------------------------


def save(path: str | os.PathLike[str], arrays: Mapping[str, Any], meta: Mapping[str, Any] | None = None,
         *, compress: bool = False) -> Path:
    """Write a checkpoint atomically (see ``atomic_write``).

    Args:
        path: the file to write, used as given (no ``.npz`` is appended).
        arrays: names -> host arrays (numpy arrays or numpy/Python scalars); dtypes and shapes are kept.
            Names are non-empty strings other than ``"__meta__"``. Bring device arrays to the host first
            (``backend.to_numpy(a)``, ``tensor.numpy()``).
        meta: a JSON-able dict (nested dicts, lists, str, numbers, bools, None; numpy scalars are converted
            with ``.item()``); ``load`` returns it as JSON gives it back (tuples become lists).
        compress: deflate the members (smaller, slower); numpy reads both.

    Returns:
        ``path`` as a ``Path``.

    Raises:
        TypeError: an array that is not on the host or has object dtype; ``meta`` not a dict or not JSON-able.
        ValueError: a reserved or empty name.
        OutputError: the file cannot be written (see ``atomic_write``).
    """
    target = Path(path)
    items = [(name, _host_array(name, value)) for name, value in arrays.items()]
    meta = {} if meta is None else meta
    if not isinstance(meta, Mapping):
        raise TypeError(f"checkpoint meta must be a dict, got {type(meta).__name__}")
    try:
        text = json.dumps({"format": FORMAT, "meta": dict(meta)}, default=_json_default, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"checkpoint meta for {target} is not JSON-able: {exc}; store only dicts, lists, str, "
                        "numbers, bools and None in meta, and arrays in arrays") from None
    items.append((META_KEY, np.frombuffer(text.encode("utf-8"), dtype=np.uint8)))
    compression = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED

    def write(f: IO[bytes]) -> None:
        with zipfile.ZipFile(f, "w", compression=compression, allowZip64=True) as zf:
            for name, array in items:
                _write_member(zf, name, array)

    return atomic_write(target, write)


def _write_member(zf: zipfile.ZipFile, name: str, array: np.ndarray) -> None:
    """One ``NAME.npy`` member, as ``numpy.savez`` writes it (but without pickles)."""
    with zf.open(name + ".npy", "w", force_zip64=True) as out:
        np.lib.format.write_array(out, array, allow_pickle=False)


def _host_array(name: Any, value: Any) -> np.ndarray:
    if not isinstance(name, str) or not name:
        raise ValueError(f"checkpoint array names must be non-empty strings, got {name!r}")
    if name == META_KEY:
        raise ValueError(f"{META_KEY!r} is reserved for the checkpoint's metadata; rename that array")
    if not isinstance(value, (np.ndarray, np.generic)) and hasattr(value, "__array_namespace__"):
        raise TypeError(f"checkpoint array {name!r} is a {type(value).__module__}.{type(value).__name__} "
                        "(a device array); bring it to the host first with backend.to_numpy(...) or .numpy()")
    array = np.asarray(value)
    if array.dtype.hasobject:
        raise TypeError(f"checkpoint array {name!r} has object dtype, which needs pickle; store numbers only")
    return array


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"{type(obj).__name__} {obj!r:.60} is not JSON-able")


def load(path: str | os.PathLike[str]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read a checkpoint written by ``save``.

    Returns:
        ``(arrays, meta)``: names -> numpy arrays (dtypes and shapes as saved, fully read into memory), and the
        metadata dict.

    Raises:
        CheckpointError: the path does not exist or is a directory; the file cannot be read; it is not a zip
            (truncated, or not an ``.npz`` at all); a member is damaged (bad CRC, cut short); it is an ``.npz``
            without gradkit metadata (e.g. from ``numpy.savez``) or of another format; its metadata is not
            valid JSON. The message names the path, the problem and the fix. Nothing else escapes.
    """
    p = Path(path)
    if not p.exists():
        raise CheckpointError(f"checkpoint {p} does not exist; check the path, or train a model first with "
                              "`gradkit train -o DIR`", p)
    if p.is_dir():
        raise CheckpointError(f"checkpoint {p} is a directory, not a checkpoint file; pass the .npz file inside "
                              f"it (e.g. {p / 'model.npz'})", p)
    try:
        with open(p, "rb") as f:
            head = f.read(4)
    except OSError as exc:
        raise CheckpointError(f"cannot read checkpoint {p}: {exc.strerror or exc}; fix its permissions or "
                              "choose another file", p) from None
    if head not in _ZIP_MAGIC:
        kind = "empty" if not head else ("a .npy array, not an .npz checkpoint" if head == b"\x93NUM"
                                          else "not an .npz (zip) file")
        raise CheckpointError(f"{p} is not a gradkit checkpoint: the file is {kind}; pass a checkpoint written by "
                              f"gradkit, or {_FIX}", p)
    try:
        return _read(p)
    except CheckpointError:
        raise
    except Exception as exc:  # zipfile, zlib, numpy's format parser, MemoryError from a bogus header, ...
        raise CheckpointError(f"checkpoint {p} is damaged or truncated ({type(exc).__name__}: {exc}); "
                              f"{_FIX}", p) from None


def _read(p: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    # np.load is given an open file: when it fails on a truncated zip, it leaves a path it opened itself unclosed
    with open(p, "rb") as f, np.load(f, allow_pickle=False) as z:
        names = list(z.files)
        if META_KEY not in names:
            raise CheckpointError(f"{p} is an .npz file but not a gradkit checkpoint (it has no {META_KEY!r} entry; "
                                  "numpy.savez and other tools write such files); read it with numpy.load, or "
                                  f"{_FIX}", p)
        raw = z[META_KEY]
        if raw.dtype != np.uint8 or raw.ndim != 1:
            raise CheckpointError(f"checkpoint {p} has a {META_KEY!r} entry of dtype {raw.dtype} and shape "
                                  f"{raw.shape}, not gradkit's JSON bytes; {_FIX}", p)
        try:
            envelope = json.loads(raw.tobytes().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CheckpointError(f"checkpoint {p} has metadata that is not valid JSON ({exc}); the file is "
                                  f"damaged: {_FIX}", p) from None
        fmt = envelope.get("format") if isinstance(envelope, dict) else None
        if fmt != FORMAT:
            if fmt == "gradkit.checkpoint/1":
                raise CheckpointError(f"checkpoint {p} was written by an older gradkit whose nn.Linear weights were "
                                      "(in_features, out_features); this one stores PyTorch's (out_features, "
                                      "in_features): load its arrays yourself and transpose every Linear weight, or "
                                      f"{_FIX}", p)
            if isinstance(fmt, str) and fmt.startswith("gradkit.checkpoint/"):
                raise CheckpointError(f"checkpoint {p} has format {fmt!r}; this gradkit reads {FORMAT!r}: upgrade "
                                      f"gradkit (pip install -U gradkit), or {_FIX}", p)
            raise CheckpointError(f"{p} is not a gradkit checkpoint (its metadata has format {fmt!r}, expected "
                                  f"{FORMAT!r}); {_FIX}", p)
        meta = envelope.get("meta")
        if not isinstance(meta, dict):
            raise CheckpointError(f"checkpoint {p} has no metadata dict (found {type(meta).__name__}); {_FIX}", p)
        arrays = {name: z[name] for name in names if name != META_KEY}
    return arrays, meta
