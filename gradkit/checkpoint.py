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
import io
import json
import math
import os
import re
import secrets
import stat
import time
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np

__all__ = ["FORMAT", "MAX_BYTES", "MAX_MEMBERS", "MAX_META_BYTES", "MAX_RATIO", "META_KEY", "CheckpointError",
           "OutputError", "atomic_write", "atomic_write_bytes", "atomic_write_text", "load", "remove_stale_temporaries",
           "save"]

# /2: nn.Linear weights in PyTorch's (out_features, in_features) layout; /1 held (in, out) and is refused rather
# than loaded transposed (a square layer would load without a shape error).
FORMAT = "gradkit.checkpoint/2"
META_KEY = "__meta__"
_FIX = "retrain with `gradkit train --overwrite -o DIR`, or restore the file from a backup"
_OUT_FIX = "choose another -o DIR or fix its permissions"
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
MAX_BYTES = 2**31
"""The most array bytes a checkpoint may declare in all (``load``'s default ``max_bytes``)."""
MAX_MEMBERS = 4096
"""The most arrays a checkpoint may hold."""
MAX_META_BYTES = 64 * 2**20
"""The most bytes of JSON metadata."""
MAX_RATIO = 100
"""The most a deflated member over 1 MiB may inflate (``save`` writes stored members by default)."""
MAX_HEADER = 10_000
_SAVE_DELAY = os.environ.get("GRADKIT_TEST_SAVE_DELAY")
_CHUNK = 2**20


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


_TEMPORARY = re.compile(r"^\..+\.(\d+)\.[0-9a-f]{8}\.tmp$")


def remove_stale_temporaries(directory: str | os.PathLike[str]) -> list[Path]:
    """Delete the temporary files that ``atomic_write`` calls of other processes left in ``directory`` when
    they were killed mid-write (``.NAME.PID.RANDOM.tmp``). Call it only while no other process writes there
    (the run lock). Returns the files removed; a file that cannot be removed is skipped."""
    removed = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(directory):
            match = _TEMPORARY.match(entry.name)
            if match and int(match.group(1)) != os.getpid() and entry.is_file(follow_symlinks=False):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
    return removed


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
        if _SAVE_DELAY:  # tests: widen the window between writing and renaming, to signal a run inside it
            time.sleep(float(_SAVE_DELAY))

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


def load(path: str | os.PathLike[str], *, max_bytes: int = MAX_BYTES) -> tuple[dict[str, np.ndarray],
                                                                            dict[str, Any]]:
    """Read a checkpoint written by ``save``, treating the file as untrusted input.

    Nothing is allocated before it is checked against the file's own headers: only a regular file is opened
    (a FIFO, a device such as /dev/zero, or a link to one is refused without reading it); the zip directory
    must list at most ``MAX_MEMBERS`` ``NAME.npy`` members, stored or deflated, not encrypted, each lying
    inside the file; the sizes they declare must sum to at most ``max_bytes``, and a deflated member larger
    than 1 MiB must not claim more than ``MAX_RATIO`` times its compressed size (a deflate bomb); each
    ``.npy`` header must describe a plain number dtype (bool, int, uint, float: never object, so never a
    pickle) whose shape times item size is exactly the member's declared size. Only then is the array
    allocated and filled (its CRC is checked). The metadata member is at most ``MAX_META_BYTES`` of UTF-8
    JSON. ``load`` never opens any other file, whatever the metadata names.

    Args:
        path: the checkpoint.
        max_bytes: the most array bytes the checkpoint may declare in all (default ``MAX_BYTES``, 2 GiB).

    Returns:
        ``(arrays, meta)``: names -> numpy arrays (dtypes and shapes as saved, fully read into memory), and the
        metadata dict.

    Raises:
        CheckpointError: the path does not exist, is a directory or not a regular file; the file cannot be
            read; it is not a zip (truncated, or not an ``.npz`` at all); a member is damaged (bad CRC, cut
            short), claims more than the file holds or than the limits allow, or holds a dtype other than plain
            numbers; it is an ``.npz`` without gradkit metadata (e.g. from ``numpy.savez``) or of another
            format; its metadata is not valid JSON. The message names the path, the problem and the fix.
            Nothing else escapes.
    """
    p = Path(path)
    with _open_regular(p) as f:
        head = f.read(4)
        if head not in _ZIP_MAGIC:
            kind = "empty" if not head else ("a .npy array, not an .npz checkpoint" if head == b"\x93NUM"
                                              else "not an .npz (zip) file")
            raise CheckpointError(f"{p} is not a gradkit checkpoint: the file is {kind}; pass a checkpoint "
                                  f"written by gradkit, or {_FIX}", p)
        try:
            return _read(p, f, max_bytes)
        except CheckpointError:
            raise
        except Exception as exc:  # zipfile, zlib, numpy's header parser, a bogus size, ...
            raise CheckpointError(f"checkpoint {p} is damaged or truncated ({type(exc).__name__}: "
                                  f"{_excerpt(str(exc))}); {_FIX}", p) from None


def _open_regular(p: Path) -> IO[bytes]:
    """``p`` opened for reading if it is a regular file (after following links); never blocks on a FIFO."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(p, flags)
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {p} does not exist; check the path, or train a model first with "
                              "`gradkit train -o DIR`", p) from None
    except IsADirectoryError:
        raise CheckpointError(f"checkpoint {p} is a directory, not a checkpoint file; pass the .npz file inside "
                              f"it (e.g. {p / 'model.npz'})", p) from None
    except OSError as exc:
        raise CheckpointError(f"cannot read checkpoint {p}: {exc.strerror or exc}; fix its permissions or "
                              "choose another file", p) from None
    mode = os.fstat(fd).st_mode
    if stat.S_ISDIR(mode) or not stat.S_ISREG(mode):
        os.close(fd)
        what = "a directory" if stat.S_ISDIR(mode) else _file_kind(mode)
        raise CheckpointError(f"checkpoint {p} is {what}, not a regular file; pass the model.npz file that "
                              f"gradkit train wrote{' inside it' if stat.S_ISDIR(mode) else ''}", p)
    if hasattr(os, "set_blocking"):
        os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def _file_kind(mode: int) -> str:
    kinds = [(stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")]
    return next((what for test, what in kinds if test(mode)), "not a regular file")


def _excerpt(text: str, limit: int = 120) -> str:
    """At most ``limit`` characters of ``text`` (untrusted input is quoted short)."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _read(p: Path, f: IO[bytes], max_bytes: int) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    size = os.fstat(f.fileno()).st_size
    with zipfile.ZipFile(f) as zf:
        infos = _check_directory(p, zf.infolist(), size, max_bytes)
        if META_KEY not in infos:
            raise CheckpointError(f"{p} is an .npz file but not a gradkit checkpoint (it has no {META_KEY!r} entry; "
                                  "numpy.savez and other tools write such files); read it with numpy.load, or "
                                  f"{_FIX}", p)
        meta = _read_meta(p, zf, infos.pop(META_KEY))
        arrays = {name: _read_member(p, zf, info) for name, info in infos.items()}
    return arrays, meta


def _check_directory(p: Path, infos: list[zipfile.ZipInfo], size: int, max_bytes: int) -> dict[str, zipfile.ZipInfo]:
    """The members by array name, once each is checked against the file's size and the limits."""
    if len(infos) > MAX_MEMBERS:
        raise _bad(p, f"it lists {len(infos)} members, more than the {MAX_MEMBERS} a checkpoint may have")
    members: dict[str, zipfile.ZipInfo] = {}
    total = 0
    for info in infos:
        name = info.filename.removesuffix(".npy")
        if not info.filename.endswith(".npy") or not name or name in members:
            raise _bad(p, f"member {_excerpt(info.filename, 60)!r} is not a uniquely named NAME.npy array")
        if info.flag_bits & 0x1 or info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise _bad(p, f"member {name!r} is encrypted or uses a compression gradkit does not read")
        if info.header_offset + info.compress_size > size:
            raise _bad(p, f"member {name!r} claims {info.compress_size} bytes beyond the file's {size}")
        if info.compress_type == zipfile.ZIP_DEFLATED and info.file_size > max(2**20, MAX_RATIO * info.compress_size):
            raise _bad(p, f"member {name!r} claims to inflate {info.compress_size} bytes into {info.file_size} "
                       f"(more than {MAX_RATIO}x: a deflate bomb)")
        total += info.file_size
        members[name] = info
    if total > max_bytes:
        raise _bad(p, f"its arrays claim {total} bytes, more than the limit of {max_bytes} (checkpoint.load's "
                   "max_bytes)")
    return members


def _bad(p: Path, what: str) -> CheckpointError:
    return CheckpointError(f"checkpoint {p} is damaged or not gradkit's: {what}; {_FIX}", p)


def _read_member(p: Path, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> np.ndarray:
    """One ``.npy`` member: header checked against the zip's declared size, then read in chunks."""
    name = info.filename.removesuffix(".npy")
    with zf.open(info) as fp:
        shape, fortran, dtype, offset = _npy_header(p, name, fp)
        if dtype.hasobject or dtype.kind not in "biuf" or dtype.fields is not None or dtype.subdtype is not None:
            raise _bad(p, f"array {name!r} has dtype {_excerpt(str(dtype), 40)}; gradkit stores plain numbers only "
                       "(never objects, which would need pickle)")
        count = math.prod(shape)
        if offset + count * dtype.itemsize != info.file_size:
            raise _bad(p, f"array {name!r} claims shape {_excerpt(str(shape), 60)} of {dtype}, which does not "
                       f"match its {info.file_size} bytes in the file")
        flat = np.empty(count, dtype)
        raw = flat.view(np.uint8)
        for lo in range(0, raw.size, _CHUNK):
            chunk = fp.read(min(_CHUNK, raw.size - lo))
            if len(chunk) != min(_CHUNK, raw.size - lo):
                raise _bad(p, f"array {name!r} is cut short")
            raw[lo:lo + len(chunk)] = np.frombuffer(chunk, np.uint8)
        fp.read(1)  # reaching the end checks the CRC
    return flat.reshape(shape, order="F" if fortran else "C")


def _npy_header(p: Path, name: str, fp: IO[bytes]) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    """The ``.npy`` header's (shape, fortran_order, dtype, offset of the data), its length checked before it
    is read."""
    prefix = fp.read(8)
    if len(prefix) != 8 or prefix[:6] != b"\x93NUMPY" or prefix[6:] not in (b"\x01\x00", b"\x02\x00", b"\x03\x00"):
        raise _bad(p, f"array {name!r} is not a .npy array of format version 1, 2 or 3")
    width = 2 if prefix[6] == 1 else 4
    length_bytes = fp.read(width)
    length = int.from_bytes(length_bytes, "little")
    if len(length_bytes) != width or length > MAX_HEADER:
        raise _bad(p, f"array {name!r} has a header of {length} bytes (at most {MAX_HEADER})")
    reader = np.lib.format.read_array_header_1_0 if width == 2 else np.lib.format.read_array_header_2_0
    shape, fortran, dtype = reader(io.BytesIO(length_bytes + fp.read(length)), max_header_size=MAX_HEADER)
    return shape, fortran, dtype, 8 + width + length


def _read_meta(p: Path, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> dict[str, Any]:
    if info.file_size > MAX_META_BYTES:
        raise _bad(p, f"its metadata claims {info.file_size} bytes, more than the limit of {MAX_META_BYTES}")
    raw = _read_member(p, zf, info)
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise CheckpointError(f"checkpoint {p} has a {META_KEY!r} entry of dtype {raw.dtype} and shape "
                              f"{raw.shape}, not gradkit's JSON bytes; {_FIX}", p)
    try:
        envelope = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise CheckpointError(f"checkpoint {p} has metadata that is not valid JSON ({_excerpt(str(exc))}); the "
                              f"file is damaged: {_FIX}", p) from None
    fmt = envelope.get("format") if isinstance(envelope, dict) else None
    if fmt != FORMAT:
        shown = _excerpt(repr(fmt), 60)
        if fmt == "gradkit.checkpoint/1":
            raise CheckpointError(f"checkpoint {p} was written by an older gradkit whose nn.Linear weights were "
                                  "(in_features, out_features); this one stores PyTorch's (out_features, "
                                  "in_features): load its arrays yourself and transpose every Linear weight, or "
                                  f"{_FIX}", p)
        if isinstance(fmt, str) and fmt.startswith("gradkit.checkpoint/"):
            raise CheckpointError(f"checkpoint {p} has format {shown}; this gradkit reads {FORMAT!r}: upgrade "
                                  f"gradkit (pip install -U gradkit), or {_FIX}", p)
        raise CheckpointError(f"{p} is not a gradkit checkpoint (its metadata has format {shown}, expected "
                              f"{FORMAT!r}); {_FIX}", p)
    meta = envelope.get("meta")
    if not isinstance(meta, dict):
        raise CheckpointError(f"checkpoint {p} has no metadata dict (found {type(meta).__name__}); {_FIX}", p)
    return meta
