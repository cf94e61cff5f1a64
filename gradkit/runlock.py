"""One run at a time in a work directory: an OS lock (``fcntl.flock``) on ``DIR/.gradkit.lock``.

The lock is held by an open file descriptor, so the operating system releases it when the process ends in any
way (a crash or ``kill -9`` included): a stale lock never blocks a later run. The file names its holder (pid,
host, start time) for the error message of a second run, and is removed on release.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

from .files import OutputError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

LOCK_FILE = ".gradkit.lock"
NO_LOCK_NOTE = ("note: this platform has no fcntl, so the work directory is not locked; do not run two trainings "
                "on one -o DIR at once")


class RunLockedError(OutputError):
    """The work directory is in use by another run (the message names its pid, host and start time)."""


@contextlib.contextmanager
def run_lock(workdir: Path) -> Iterator[str | None]:
    """Hold the exclusive lock of ``workdir`` (which must exist) for the ``with`` block.

    Yields None, or ``NO_LOCK_NOTE`` on a platform without ``fcntl`` (nothing is locked there: the caller
    prints the note). Raises ``RunLockedError`` at once, without waiting, when another process holds it, and
    ``OutputError`` when the lock file cannot be created.
    """
    if fcntl is None:
        yield NO_LOCK_NOTE
        return
    path = workdir / LOCK_FILE
    fd = _acquire(path)
    try:
        yield None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)  # while still locked: a waiting opener re-checks the inode (see _acquire)
        os.close(fd)


def _acquire(path: Path) -> int:
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise OutputError(f"cannot create the lock file {path} ({exc.strerror or exc}); choose another -o DIR "
                              "or fix its permissions", path) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = _holder(fd)
            os.close(fd)
            raise RunLockedError(f"{path.parent} is in use by another gradkit run ({holder}); wait for it to end, "
                                 "or choose another -o DIR", path) from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:  # not a file the previous holder unlinked between our open and our flock
            break
        os.close(fd)
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    info = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": started}).encode()
    os.ftruncate(fd, 0)
    os.write(fd, info)
    return fd


def _holder(fd: int) -> str:
    """'pid P on host H, started T' from the lock file (read as untrusted text, at most 1 KB)."""
    try:
        info = json.loads(os.pread(fd, 1024, 0).decode("utf-8", "replace"))
        return f"pid {int(info['pid'])} on host {str(info['host'])[:64]}, started {str(info['started'])[:32]}"
    except (OSError, ValueError, KeyError, TypeError):
        return "its pid is not recorded yet"
