"""Files as untrusted input and as atomic output: the one place that opens a file gradkit reads
(``read_regular``) and writes one (``atomic_write``).

``read_regular`` opens only a regular file (a FIFO, a device such as /dev/zero, or a link to one is refused
without reading it), refuses one larger than the caller's limit before reading it, and turns every way the
file can be missing or unreadable into one ``CheckpointError`` naming the file and the fix.

Every write goes through ``atomic_write``: the bytes go to a temporary file with a unique name in the target's
directory, are flushed and fsync'ed, and only then ``os.replace`` puts the file in place. So a crash, a full
disk or an exception mid-write leaves the previous file byte for byte as it was, and no temporary file
behind. ``atomic_write_text`` and ``atomic_write_bytes`` serve the other outputs (``log.csv``,
``samples.txt``, PNGs). A place that cannot be written raises ``OutputError``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import shlex
import stat
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

__all__ = ["CheckpointError", "OutputError", "atomic_write", "atomic_write_bytes", "atomic_write_text", "excerpt",
           "read_regular", "remove_stale_temporaries"]

_OUT_FIX = "choose another -o DIR or fix its permissions"


class CheckpointError(ValueError):
    """A checkpoint (or a file given to ``gradkit.load``) that cannot be read: missing, a directory, not a
    regular file, damaged or truncated, not gradkit's, a format this version does not read, or metadata that
    is not valid.

    A ``ValueError``, so generic callers can catch it as one; the message names the file, what is wrong and
    the fix, and is all a command line needs to print (the underlying error is in the message, not in a
    chained traceback).

    Attributes:
        path: the file's path.
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



# --- reading ---------------------------------------------------------------------------------------------


def read_regular(path: str | os.PathLike[str], limit: int, what: str = "checkpoint") -> bytes:
    """The bytes of ``path`` if it is a regular file (after following links) of at most ``limit`` bytes.

    Nothing is read from anything else: a FIFO is opened without blocking and refused, as are devices,
    sockets and directories; the size is checked (``fstat``) before a byte is read. ``what`` names the file
    in messages (``"checkpoint"``, ``"file"``).

    Raises:
        CheckpointError: the path does not exist, is a directory or not a regular file, cannot be read, is
            larger than ``limit``, or shrank while being read.
    """
    p = Path(path)
    with _open_regular(p, what) as f:
        size = os.fstat(f.fileno()).st_size
        if size > limit:
            raise CheckpointError(f"{what} {p} holds {size} bytes, more than the limit of {limit}; pass a smaller "
                                  "file, or raise the limit (max_bytes) if you trust this one", p)
        data = f.read(size)
    if len(data) != size:
        raise CheckpointError(f"{what} {p} shrank while it was read (another program is writing it); read it "
                              "again when that program is done", p)
    return data


def _open_regular(p: Path, what: str) -> IO[bytes]:
    """``p`` opened for reading if it is a regular file (after following links); never blocks on a FIFO."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(p, flags)
    except FileNotFoundError:
        raise CheckpointError(f"{what} {p} does not exist; check the path, or train a model first with "
                              f"`gradkit train -o {shlex.quote(str(p.parent))}`", p) from None
    except IsADirectoryError:
        raise CheckpointError(f"{what} {p} is a directory, not a file; pass the .safetensors file inside it "
                              f"(e.g. {p / 'model.safetensors'})", p) from None
    except OSError as exc:
        raise CheckpointError(f"cannot read {what} {p}: {exc.strerror or exc}; fix its permissions or choose "
                              "another file", p) from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = "a directory" if stat.S_ISDIR(mode) else _file_kind(mode)
        raise CheckpointError(f"{what} {p} is {kind}, not a regular file; pass the model.safetensors file that "
                              f"gradkit train wrote{' inside it' if stat.S_ISDIR(mode) else ''}", p)
    if hasattr(os, "set_blocking"):
        os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def _file_kind(mode: int) -> str:
    kinds = [(stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")]
    return next((what for test, what in kinds if test(mode)), "not a regular file")


def excerpt(text: str, limit: int = 120) -> str:
    """At most ``limit`` characters of ``text`` (untrusted input is quoted short)."""
    return text if len(text) <= limit else text[: limit - 3] + "..."
