"""Converting an older gradkit's checkpoint (``gradkit.checkpoint/2``, an ``.npz``) into a safetensors one:
``gradkit convert-checkpoint OLD NEW``.

The old file is untrusted input, read with the standard library's ``zipfile`` and numpy's ``.npy`` header
reader, and every bound is checked before anything is inflated: a regular file only; at most ``MAX_MEMBERS``
members, each a ``NAME.npy`` of a name an old checkpoint has (``__meta__``, ``model/...``, ``optim/...``),
stored or deflated, not encrypted, lying inside the file; the sizes the members declare summing to at most
``max_bytes`` and to at most ``MAX_RATIO`` times the file's own size (a deflate bomb of many small members
included). Each member's ``.npy`` header must then describe plain numbers (never objects, so never a pickle)
whose size is exactly the member's declared size; inflation stops at that size, and the CRC is checked.
"""

from __future__ import annotations

import io
import json
import math
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from . import checkpoint
from .files import CheckpointError, excerpt, read_regular

__all__ = ["MAX_MEMBERS", "MAX_RATIO", "OLD_FORMAT", "convert", "read_npz"]

OLD_FORMAT = "gradkit.checkpoint/2"
MAX_MEMBERS = 4096
"""The most arrays an old checkpoint may hold."""
MAX_RATIO = 100
"""The most the members may inflate in all, as a multiple of the file's size (gradkit wrote stored members)."""
MAX_HEADER = 10_000
_PREFIXES = ("model/", "optim/")
_NPY: Any = np.lib.format  # (numpy's stubs lack max_header_size on some versions; the readers take it since 1.24)
_FIX = "pass a model.npz that an older gradkit train wrote"


def convert(old: str | os.PathLike[str], new: str | os.PathLike[str], *, max_bytes: int = checkpoint.MAX_BYTES
            ) -> Path:
    """Write the checkpoint ``old`` (``gradkit.checkpoint/2``, an ``.npz``) as ``new`` (a safetensors
    checkpoint, ``checkpoint.FORMAT``): the same model and optimizer arrays, the same metadata. Returns ``new``.

    Raises:
        CheckpointError: ``old`` is unreadable, not an old gradkit checkpoint, beyond a bound, or damaged (the
            message names the file and what is wrong).
        OutputError: ``new`` cannot be written.
    """
    arrays, meta = read_npz(old, max_bytes=max_bytes)
    optimizer = meta.pop("optimizer", None)
    # the bnmlp and wavenet types hold an nn.Sequential named layers, whose children were named layers.N (torch's
    # are N): layers.layers.N becomes layers.N
    state: dict[str, Any] = {"model": {k[6:].replace("layers.layers.", "layers."): v for k, v in arrays.items()
                                       if k.startswith("model/")}}
    if optimizer is not None:
        if not isinstance(optimizer, dict):
            raise CheckpointError(f"checkpoint {old} has a bad 'optimizer' field (not a dict); {_FIX}", Path(old))
        flat = {**optimizer, **{k[6:]: v for k, v in arrays.items() if k.startswith("optim/")}}
        state["optimizer"] = torch_layout(flat, Path(old))
    return checkpoint.save(new, state, meta)


def torch_layout(flat: dict[str, Any], where: Path) -> dict[str, Any]:
    """An optimizer's state as ``gradkit.checkpoint/2`` kept it (one flat dict: ``type``, ``num_params``, the
    hyper-parameters, ``state.NAME.step`` and ``state.NAME.KEY`` per parameter, in the optimizer's order) in
    torch's layout, which ``Optimizer.load_state_dict`` reads: ``{'state': {index: {...}}, 'param_groups':
    [{..., 'params': [indices], 'param_names': [names]}]}``.

    Raises:
        CheckpointError: another optimizer type, or a field missing or of the wrong kind.
    """
    kind = flat.get("type")
    try:
        if kind == "AdamW":
            group: dict[str, Any] = {"lr": float(flat["lr"]), "betas": (float(flat["beta1"]), float(flat["beta2"])),
                                     "eps": float(flat["eps"]), "weight_decay": float(flat["weight_decay"]),
                                     "amsgrad": False, "maximize": False}
        elif kind == "SGD":
            group = {"lr": float(flat["lr"]), "momentum": float(flat["momentum"]), "dampening": 0.0,
                     "weight_decay": float(flat["weight_decay"]), "nesterov": bool(flat["nesterov"]),
                     "maximize": False}
        else:
            raise KeyError("type")
    except (KeyError, TypeError, ValueError):
        raise CheckpointError(f"checkpoint {where} has a bad 'optimizer' field (an SGD or AdamW state); {_FIX}",
                              where) from None
    entries: dict[str, dict[str, Any]] = {}
    for key, value in flat.items():
        if key.startswith("state."):
            name, _, field = key[len("state."):].rpartition(".")
            entries.setdefault(name, {})[field] = value
    state: dict[int, dict[str, Any]] = {}
    for i, fields in enumerate(entries.values()):
        arrays = {k: v for k, v in fields.items() if k != "step"}
        if arrays:  # a parameter that had its first update (AdamW keeps its count, as torch's, in float32)
            step = {"step": np.float32(fields.get("step", 0))} if kind == "AdamW" else {}
            state[i] = {**step, **arrays}
    group["params"], group["param_names"] = list(range(len(entries))), list(entries)
    return {"state": state, "param_groups": [group]}


def read_npz(path: str | os.PathLike[str], *, max_bytes: int = checkpoint.MAX_BYTES
             ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """``(arrays, meta)`` of an old ``.npz`` checkpoint, within the bounds of the module's docstring.

    Raises:
        CheckpointError: as ``convert``.
    """
    p = Path(path)
    data = read_regular(p, max_bytes + 2**26)
    if _is_safetensors(data):
        raise CheckpointError(f"{p} is already a safetensors checkpoint and needs no conversion: use it as it is "
                              "(convert-checkpoint reads only an older gradkit's .npz)", p)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = _check_directory(p, zf.infolist(), len(data), max_bytes)
            if "__meta__" not in infos:
                raise _bad(p, "it has no '__meta__' member (numpy.savez and other tools write such files)")
            meta = _read_meta(p, _read_member(p, zf, infos.pop("__meta__")))
            arrays = {name: _read_member(p, zf, info) for name, info in infos.items()}
    except CheckpointError:
        raise
    except Exception as exc:  # zipfile, zlib, numpy's header parser
        raise CheckpointError(f"checkpoint {p} is damaged or truncated ({type(exc).__name__}: {excerpt(str(exc))}); "
                              f"{_FIX}", p) from None
    return arrays, meta


def _is_safetensors(data: bytes) -> bool:
    """Whether ``data`` starts as a safetensors file does: an 8-byte little-endian header length that fits the
    file, then the header's JSON object."""
    size = int.from_bytes(data[:8], "little") if len(data) >= 8 else 0
    return not data.startswith(b"PK") and 2 <= size <= len(data) - 8 and data[8:9] == b"{"


def _bad(p: Path, what: str) -> CheckpointError:
    return CheckpointError(f"{p} is not an old gradkit checkpoint gradkit can convert: {what}; {_FIX}", p)


def _check_directory(p: Path, infos: list[zipfile.ZipInfo], size: int, max_bytes: int) -> dict[str, zipfile.ZipInfo]:
    """The members by array name, once each is checked against the file and the bounds (nothing inflated)."""
    if len(infos) > MAX_MEMBERS:
        raise _bad(p, f"it lists {len(infos)} members, more than the {MAX_MEMBERS} a checkpoint may have")
    members: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        name = info.filename.removesuffix(".npy")
        known = name == "__meta__" or (name.startswith(_PREFIXES) and len(name) > 6)
        if not info.filename.endswith(".npy") or not known or name in members:
            raise _bad(p, f"member {excerpt(info.filename, 60)!r} is not a uniquely named __meta__, model/NAME or "
                       "optim/NAME array")
        if info.flag_bits & 0x1 or info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise _bad(p, f"member {name!r} is encrypted or uses a compression gradkit does not read")
        if info.header_offset + info.compress_size > size:
            raise _bad(p, f"member {name!r} claims {info.compress_size} bytes beyond the file's {size}")
        members[name] = info
    total = sum(info.file_size for info in infos)
    limit = min(max_bytes, MAX_RATIO * size)
    if total > limit:
        raise _bad(p, f"its members claim {total} bytes in all, more than the limit of {limit} (at most "
                   f"{MAX_RATIO}x the file's {size} bytes, and max_bytes {max_bytes}): a deflate bomb, or damage")
    return members


def _read_member(p: Path, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> np.ndarray:
    """One ``.npy`` member: its header checked against the declared size, then read (CRC checked)."""
    name = info.filename.removesuffix(".npy")
    with zf.open(info) as fp:
        version = _NPY.read_magic(fp)
        header = _NPY.read_array_header_1_0 if version == (1, 0) else _NPY.read_array_header_2_0
        shape, fortran, dtype = header(fp, max_header_size=MAX_HEADER)
        offset = fp.tell()
    if dtype.hasobject or dtype.kind not in "biuf" or dtype.fields is not None or dtype.subdtype is not None:
        raise _bad(p, f"array {name!r} has dtype {excerpt(str(dtype), 40)}; gradkit stored plain numbers only "
                   "(never objects, which would need pickle)")
    if offset + math.prod(shape) * dtype.itemsize != info.file_size:
        raise _bad(p, f"array {name!r} claims shape {excerpt(str(shape), 60)} of {dtype}, which does not match its "
                   f"{info.file_size} bytes")
    with zf.open(info) as fp:
        array = _NPY.read_array(fp, allow_pickle=False, max_header_size=MAX_HEADER)
        fp.read(1)  # at the end: the CRC is checked
    return array


def _read_meta(p: Path, raw: np.ndarray) -> dict[str, Any]:
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise _bad(p, f"its '__meta__' member has dtype {raw.dtype} and shape {raw.shape}, not JSON bytes")
    try:
        envelope = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise _bad(p, f"its metadata is not valid JSON ({excerpt(str(exc))})") from None
    fmt = envelope.get("format") if isinstance(envelope, dict) else None
    if fmt == "gradkit.checkpoint/1":
        raise _bad(p, "it is of format gradkit.checkpoint/1, whose nn.Linear weights were (in_features, "
                   "out_features); load its arrays with numpy.load and transpose every Linear weight")
    if fmt != OLD_FORMAT or not isinstance(envelope.get("meta"), dict):
        raise _bad(p, f"its metadata has format {excerpt(repr(fmt), 60)}, expected {OLD_FORMAT!r}")
    return envelope["meta"]
