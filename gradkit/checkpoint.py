"""A training run's checkpoint: one safetensors file (``model.safetensors``, ``best.safetensors``) holding the
model, the optimizer's state and the run's metadata.

``save(path, state, meta)`` writes ``state`` (any nesting that ``gradkit.save`` takes; ``gradkit train``
writes ``{"model": model.state_dict(), "optimizer": optimizer.state_dict()}``) through
``serialization.encode``, and in the metadata strings ``"format": "gradkit.checkpoint/3"``, the structure and
``"meta"``: the run's metadata as JSON. The tensors are named by their path, so the model's weights are
``"model.NAME"``: a PyTorch user loads them with::

    from safetensors.torch import load_file
    state = load_file("out/model.safetensors")
    torch_model.load_state_dict({k.removeprefix("model."): v for k, v in state.items() if k.startswith("model.")})

``load(path)`` returns ``(state, meta)`` and turns every way a file can be wrong (missing, not a regular file,
truncated, bit-flipped, someone else's file, an older or newer format, bad JSON) into one ``CheckpointError``
whose message names the file, what is wrong and the fix. An older gradkit's ``.npz`` checkpoint is refused
with the command that converts it (``gradkit convert-checkpoint``, ``gradkit.legacy``).
"""

from __future__ import annotations

import json
import os
import shlex
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gradkit import backends

from . import serialization
from .files import CheckpointError, excerpt

__all__ = ["FORMAT", "MAX_BYTES", "load", "save"]

# /3: safetensors. /2 was an .npz with nn.Linear weights in PyTorch's (out_features, in_features) layout (converted
# by gradkit.legacy); /1 held (in, out) and is refused rather than loaded transposed.
FORMAT = "gradkit.checkpoint/3"
MAX_BYTES = serialization.MAX_BYTES
"""The most tensor bytes a checkpoint may hold (``load``'s default ``max_bytes``)."""


def fix(path: Path) -> str:
    """The fix for a damaged checkpoint at ``path``: retrain in its directory, or restore it."""
    return (f"retrain with `gradkit train --overwrite -o {shlex.quote(str(path.parent))}`, or restore the file from "
            "a backup")

_SAVE_DELAY = os.environ.get("GRADKIT_TEST_SAVE_DELAY")


def save(path: str | os.PathLike[str], state: Any, meta: Mapping[str, Any] | None = None) -> Path:
    """Write a checkpoint atomically (``files.atomic_write``: a crash or a full disk leaves the previous file).

    Args:
        path: the file to write, used as given.
        state: the tensors and their structure (see ``gradkit.save``): Tensors, host arrays, numbers, strings
            in dicts, lists and tuples.
        meta: a JSON-able dict (nested dicts, lists, str, numbers, bools, None; numpy scalars are converted
            with ``.item()``); ``load`` returns it as JSON gives it back (tuples become lists).

    Returns:
        ``path`` as a ``Path``.

    Raises:
        TypeError: ``state`` holds what ``gradkit.save`` refuses (an object, a device array); ``meta`` is not a
            dict or not JSON-able. Nothing is written.
        OutputError: the file cannot be written (see ``files.atomic_write``).
    """
    target = Path(path)
    meta = {} if meta is None else meta
    if not isinstance(meta, Mapping):
        raise TypeError(f"checkpoint meta must be a dict, got {type(meta).__name__}")
    try:
        text = json.dumps(dict(meta), default=_json_default, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"checkpoint meta for {target} is not JSON-able: {exc}; store only dicts, lists, str, "
                        "finite numbers, bools and None in meta, and arrays in the state") from None
    tensors, structure = serialization.encode(state)
    if _SAVE_DELAY:  # tests: widen the window in which a run is saving, to signal it there
        time.sleep(float(_SAVE_DELAY))
    serialization.write(target, tensors, {"format": FORMAT, "structure": structure, "meta": text})
    return target


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "item") and getattr(obj, "shape", None) == ():
        return obj.item()
    raise TypeError(f"{type(obj).__name__} {obj!r:.60} is not JSON-able")


def load(path: str | os.PathLike[str], *, backend: backends.Backend | str | None = "numpy",
         max_bytes: int = MAX_BYTES) -> tuple[Any, dict[str, Any]]:
    """Read a checkpoint written by ``save``, as untrusted input (``serialization.read``: a regular file only,
    its size, header, dtypes, shapes and offsets checked before anything is allocated; then every node of the
    structure). ``load`` never opens any other file, whatever the metadata names.

    Args:
        path: the checkpoint.
        backend: where the state's Tensors go (numpy arrays stay numpy arrays).
        max_bytes: the most tensor bytes the checkpoint may hold (default ``MAX_BYTES``, 2 GiB).

    Returns:
        ``(state, meta)``: the state as saved (Tensors on ``backend``), and the metadata dict.

    Raises:
        CheckpointError: the file is missing, not a regular file, too large, damaged or truncated, not a
            gradkit checkpoint (an older gradkit's ``.npz`` names its conversion command), of another format,
            or its structure or metadata is malformed. The message names the path, the problem and the fix.
    """
    p = Path(path)
    remedy = fix(p)
    tensors, metadata = serialization.read(p, max_bytes=max_bytes, what="checkpoint", fix=remedy)
    fmt = metadata.get("format")
    if fmt != FORMAT:
        shown = excerpt(repr(fmt), 60)
        if isinstance(fmt, str) and fmt.startswith("gradkit.checkpoint/"):
            raise CheckpointError(f"checkpoint {p} has format {shown}; this gradkit reads {FORMAT!r}: install the "
                                  f"gradkit that wrote it, or {remedy}", p)
        raise CheckpointError(f"{p} is not a gradkit checkpoint (its metadata has format {shown}, expected "
                              f"{FORMAT!r}; gradkit.load reads other safetensors files); {remedy}", p)
    try:
        meta = json.loads(metadata.get("meta", ""))
    except (ValueError, RecursionError) as exc:
        raise CheckpointError(f"checkpoint {p} has metadata that is not valid JSON ({excerpt(str(exc))}); the "
                              f"file is damaged: {remedy}", p) from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"checkpoint {p} has no metadata dict (found {type(meta).__name__}); {remedy}", p)
    target = backends.get_backend(backend) if not isinstance(backend, backends.Backend) else backend
    try:
        state = serialization.decode(metadata.get("structure", ""), tensors,
                                     lambda array, node: serialization.make_tensor(array, node, target))
    except ValueError as exc:
        raise CheckpointError(f"checkpoint {p} is damaged or not gradkit's: {exc}; {remedy}", p) from None
    return state, meta
