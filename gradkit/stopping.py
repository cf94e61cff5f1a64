"""Stopping a run cleanly on SIGINT (Ctrl-C), SIGTERM (``kill``, ``timeout``, a batch scheduler) and SIGHUP (a
closed terminal). A signal the parent process set to be ignored stays ignored: ``nohup gradkit train ... &``
ignores SIGHUP, and a shell's background job SIGINT, so gradkit leaves those alone.

The first signal only sets a flag: the training loop sees it at the next step boundary, saves and exits, so
the run resumes exactly. A second signal means "stop now": it raises ``Interrupted`` at once, except inside
``critical()`` (a checkpoint being written and renamed into place), where it is held until the block ends, so
that a complete checkpoint (the previous or the new one) is always on disk.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


class Interrupted(KeyboardInterrupt):
    """A second stop signal ended the run at once. ``signum``: the signal; the exit status is 128 + signum."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class StopSignals:
    """While entered (``with StopSignals() as stop:``), SIGINT, SIGTERM and SIGHUP set ``stop.signum``
    instead of killing the process, except those that are ignored on entry (``SIG_IGN``: ``nohup``, a
    background job), which stay ignored; leaving restores the previous handlers, or, with ``exiting=True`` once a
    signal came, ignores further ones (the process is saving and leaving: a late second signal must not
    turn a clean stop into a crash). Outside the main thread it installs nothing (Python delivers signals to
    the main thread only).

    Attributes:
        signum: the first signal received, or None.
    """

    def __init__(self, exiting: bool = False) -> None:
        self.exiting = exiting
        self.signum: int | None = None
        self._pending: int | None = None
        self._depth = 0
        self._previous: dict[int, Any] = {}

    @property
    def requested(self) -> bool:
        """True once a stop signal has arrived."""
        return self.signum is not None

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            ignored = {s for s in SIGNALS if signal.getsignal(s) is signal.SIG_IGN}
            self._previous = {s: signal.signal(s, self._handle) for s in SIGNALS if s not in ignored}
        return self

    def __exit__(self, *exc: object) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, signal.SIG_IGN if self.exiting and self.signum is not None else handler)
        self._previous = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is None:
            self.signum = signum
        elif self._depth:
            self._pending = signum
        else:
            raise Interrupted(signum)

    @contextlib.contextmanager
    def critical(self) -> Iterator[None]:
        """A block that a second signal does not interrupt; it raises ``Interrupted`` when the block ends."""
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
        if not self._depth and self._pending is not None:
            raise Interrupted(self._pending)
