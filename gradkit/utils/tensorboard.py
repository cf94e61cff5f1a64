"""``gradkit.utils.tensorboard``: ``SummaryWriter`` writing TensorBoard event files, as
``torch.utils.tensorboard``. It needs the ``tensorboard`` package (as torch's does); without it, importing this
module raises ImportError naming the package and how to install it.

Implemented: ``add_scalar``, ``flush``, ``close`` and ``with SummaryWriter(...)``. The event files are
TensorBoard's own (``tensorboard.summary.writer.event_file_writer``), read by ``tensorboard --logdir``.
"""

from __future__ import annotations

import os
import socket
import time
from datetime import datetime
from typing import Any

try:
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.summary.writer.event_file_writer import EventFileWriter
except ImportError as exc:  # pragma: no cover (the message is tested with the package hidden)
    raise ImportError("gradkit.utils.tensorboard (torch.utils.tensorboard) needs the tensorboard package, as "
                      f"torch's does: pip install tensorboard ({exc})") from exc

__all__ = ["SummaryWriter"]


class SummaryWriter:
    """Scalars logged to a TensorBoard event file in ``log_dir``, as ``torch.utils.tensorboard.SummaryWriter``.

    Args:
        log_dir: the directory (made if missing); default ``runs/<Mon DD_HH-MM-SS>_<hostname><comment>``.
        comment: appended to the default ``log_dir``. purge_step: accepted (TensorBoard hides later steps of a
            crashed run). max_queue, flush_secs: events held before a write, and seconds between writes.
        filename_suffix: added to the event file's name.
    """

    def __init__(self, log_dir: str | os.PathLike | None = None, comment: str = "", purge_step: int | None = None,
                 max_queue: int = 10, flush_secs: int = 120, filename_suffix: str = "") -> None:
        if not log_dir:
            stamp = datetime.now().strftime("%b%d_%H-%M-%S")
            log_dir = os.path.join("runs", f"{stamp}_{socket.gethostname()}{comment}")
        self.log_dir = str(log_dir)
        self.purge_step, self.max_queue, self.flush_secs = purge_step, max_queue, flush_secs
        self.filename_suffix = filename_suffix
        self._writer: Any = None
        self._open()

    def _open(self) -> Any:
        if self._writer is None:
            self._writer = EventFileWriter(self.log_dir, self.max_queue, self.flush_secs, self.filename_suffix)
        return self._writer

    def get_logdir(self) -> str:
        """The directory of the event files."""
        return self.log_dir

    def add_scalar(self, tag: str, scalar_value: Any, global_step: int | None = None, walltime: float | None = None,
                   new_style: bool = False, double_precision: bool = False) -> None:
        """Record ``scalar_value`` (a number or a one-element Tensor, read to the host) under ``tag`` at
        ``global_step`` (TensorBoard's ``simple_value``, float32, as torch's default style).

        Raises:
            ValueError: a Tensor with more than one element (as torch)."""
        if hasattr(scalar_value, "numel") and scalar_value.numel() != 1:
            raise ValueError(f"add_scalar: the value must be a scalar, got a tensor of shape {scalar_value.shape}")
        value = float(scalar_value)
        summary = Summary(value=[Summary.Value(tag=tag, simple_value=value)])
        event = Event(summary=summary, wall_time=time.time() if walltime is None else walltime)
        if global_step is not None:
            event.step = int(global_step)
        self._open().add_event(event)

    def flush(self) -> None:
        """Write the pending events to disk."""
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        """Write the pending events and close the file (a later ``add_scalar`` opens a new one)."""
        if self._writer is not None:
            self._writer.flush()
            self._writer.close()
            self._writer = None

    def __enter__(self) -> SummaryWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
