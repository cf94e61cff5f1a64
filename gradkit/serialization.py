"""``gradkit.save`` and ``gradkit.load``: ``torch.save`` and ``torch.load``'s names, in the safetensors format.

A file is a safetensors file (https://huggingface.co/docs/safetensors): the tensors in its tensor section, and
in its metadata strings ``"format": "gradkit.save/1"`` and ``"structure"``, the saved object as JSON whose
tensors are references into the tensor section. So ``safetensors.torch.load_file``, ``safetensors.numpy``, JAX
and the Hugging Face tools read the tensors of any gradkit file, and ``gradkit.load`` reads any safetensors
file (one without gradkit's metadata as a dict ``{name: Tensor}``).

What can be saved is what ``torch.load(..., weights_only=True)`` accepts: dicts (str and int keys), lists,
tuples, Tensors (and Parameters, ``requires_grad`` kept), numpy arrays and scalars, Python numbers, bools,
None and strings, nested to ``MAX_DEPTH`` levels. Anything else (an object, a function, a module) is refused
with the reason before the file is touched: a file never holds code, so loading one never runs any.

The tensors' generated names are the paths of keys that lead to them, joined by dots: a ``state_dict``'s
tensors keep their own names (``"C.weight"``), so ``torch_model.load_state_dict(load_file(path))`` works on a
file written by ``gradkit.save(model.state_dict(), path)``; ``{"model": sd}`` gives ``"model.C.weight"``.

The reader (``read``) treats the file as untrusted input: a regular file only, at most ``max_bytes`` of tensor
data and ``MAX_HEADER`` bytes of header, checked before either is read; safetensors checks every tensor's
declared dtype, shape and offsets against the bytes the file holds; the structure is checked node by node.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import struct
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np

from gradkit import backends

from .files import CheckpointError, atomic_write_bytes, excerpt, read_regular

__all__ = ["FORMAT", "MAX_BYTES", "MAX_DEPTH", "MAX_HEADER", "decode", "encode", "load", "make_tensor", "read", "save",
           "write"]

FORMAT = "gradkit.save/1"
MAX_BYTES = 2**31
"""The most tensor bytes a file may hold (``load``'s and ``read``'s default ``max_bytes``)."""
MAX_HEADER = 64 * 2**20
"""The most bytes of safetensors header (tensor table and metadata strings)."""
MAX_DEPTH = 64
"""The deepest nesting of containers that ``save`` writes and ``load`` reads."""
# safetensors' dtype names and numpy's: plain numbers only (never objects, which would need pickle).
DTYPES = {"BOOL": "bool", "U8": "uint8", "I8": "int8", "U16": "uint16", "I16": "int16", "U32": "uint32",
          "I32": "int32", "U64": "uint64", "I64": "int64", "F16": "float16", "F32": "float32", "F64": "float64"}
_NUMPY = {v: k for k, v in DTYPES.items()}
_FIX = "pass a file written by gradkit.save (or any safetensors file)"
Source = str | os.PathLike[str] | IO[bytes]


# --- the file: tensors and metadata strings ----------------------------------------------------------------


def host_array(name: str, value: Any) -> np.ndarray:
    """``value`` (a numpy array or scalar) as a C-contiguous host array safetensors can store.

    Raises:
        TypeError: a device array (bring it to the host with ``.numpy()``), or a dtype other than bool, int,
            uint and float of 1 to 8 bytes (objects, strings, complex numbers).
    """
    if not isinstance(value, (np.ndarray, np.generic)) and hasattr(value, "__array_namespace__"):
        raise TypeError(f"array {name!r} is a {type(value).__module__}.{type(value).__name__} (a device array); "
                        "bring it to the host first with backend.to_numpy(...) or .numpy()")
    array = np.asarray(value)
    if array.dtype.name not in _NUMPY or array.dtype.hasobject:
        raise TypeError(f"array {name!r} has dtype {array.dtype}; a safetensors file holds bool, int, uint and "
                        "float arrays only (never objects, which would need pickle)")
    return np.asarray(array, dtype=array.dtype.newbyteorder("<"), order="C")


def digest(arrays: Mapping[str, np.ndarray]) -> str:
    """The SHA-256 of the tensors (names, dtypes, shapes and bytes, in name order) that ``write`` records as
    ``"sha256"`` and ``read`` checks: safetensors itself has no checksum, so a flipped bit would load."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = arrays[name]
        h.update(json.dumps([name, a.dtype.name, list(a.shape)]).encode())
        h.update(a.reshape(-1).view(np.uint8).data)
    return h.hexdigest()


def write(target: Source, tensors: Mapping[str, Any], metadata: Mapping[str, str]) -> None:
    """Write ``tensors`` (names -> numpy arrays) and ``metadata`` (str -> str, plus ``"sha256"``: their
    ``digest``) as one safetensors file: atomically to a path (``files.atomic_write``), or into an open binary
    file.

    Raises:
        TypeError: an array safetensors cannot hold (see ``host_array``).
        OutputError: the path cannot be written.
    """
    from safetensors.numpy import save as to_bytes

    arrays = {name: host_array(name, value) for name, value in tensors.items()}
    data = to_bytes(arrays, metadata={**metadata, "sha256": digest(arrays)})
    if hasattr(target, "write"):
        target.write(data)
    else:
        atomic_write_bytes(target, data)


def read(source: Source, *, max_bytes: int = MAX_BYTES, what: str = "file", fix: str = _FIX
         ) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The tensors (names -> writable numpy arrays, dtypes and shapes as stored) and the metadata strings of a
    safetensors file, read as untrusted input.

    A path must be a regular file of at most ``max_bytes + MAX_HEADER`` bytes (``files.read_regular``); its
    header must declare at most ``MAX_HEADER`` bytes and lie inside the file; safetensors then checks that the
    tensors' dtypes, shapes and offsets cover the data exactly; a file gradkit wrote must match its checksum
    (``digest``). Memory stays within a small multiple of the file's size. ``what`` and ``fix`` word the messages.

    Raises:
        CheckpointError: the file is missing, not regular, too large, not a safetensors file (an old ``.npz``
            checkpoint says how to convert it), damaged, truncated or bit-flipped, or holds a dtype numpy has no
            name for.
    """
    if hasattr(source, "read"):
        p = Path(getattr(source, "name", "<file object>"))
        data = source.read(max_bytes + MAX_HEADER + 1)
    else:
        p = Path(source)
        data = read_regular(p, max_bytes + MAX_HEADER, what)
    _check_header(p, data, what, fix)
    from safetensors import deserialize

    try:
        items = deserialize(data)
    except Exception as exc:  # safetensors' own checks: offsets, shapes, dtypes, JSON
        raise CheckpointError(f"{what} {p} is damaged or truncated ({excerpt(str(exc))}); {fix}", p) from None
    header_size = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + header_size])
    del data
    tensors = {}
    for name, info in items:
        if info["dtype"] not in DTYPES:
            raise CheckpointError(f"{what} {p} holds tensor {excerpt(name, 60)!r} of dtype {info['dtype']}, which "
                                  "gradkit does not hold (bool, int, uint and float of 1 to 8 bytes only); convert "
                                  "it where it was made", p)
        tensors[name] = np.frombuffer(info["data"], DTYPES[info["dtype"]]).reshape(info["shape"])
    metadata = header.get("__metadata__") or {}
    if "sha256" in metadata and metadata["sha256"] != digest(tensors):
        raise CheckpointError(f"{what} {p} is damaged: its tensors do not match the checksum (SHA-256) recorded when "
                              f"it was written; {fix}", p)
    return tensors, metadata


def _check_header(p: Path, data: bytes, what: str, fix: str) -> None:
    """Refuse what is not a safetensors file before safetensors reads it: the header's length against the
    limit and the file, and an old ``.npz`` checkpoint or a ``.npy`` array by their magic bytes."""
    if data[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        raise CheckpointError(f"{p} is a .npz (zip) file, not a safetensors file: if it is a checkpoint of an older "
                              f"gradkit, convert it with `gradkit convert-checkpoint {p} "
                              f"{p.with_suffix('.safetensors')}`; otherwise {fix}", p)
    if len(data) < 10:
        kind = "empty" if not data else f"only {len(data)} bytes long"
        raise CheckpointError(f"{what} {p} is not a safetensors file: the file is {kind}; {fix}", p)
    size = struct.unpack("<Q", data[:8])[0]
    if data[:6] == b"\x93NUMPY":
        kind = "a .npy array"
    elif size > MAX_HEADER:
        raise CheckpointError(f"{what} {p} is damaged or not a safetensors file: it declares a header of {size} "
                              f"bytes (at most {MAX_HEADER}); {fix}", p)
    elif 8 + size > len(data):
        kind = f"shorter ({len(data)} bytes) than the header it declares ({size} bytes)"
    elif data[8:9] != b"{":
        kind = "not a safetensors file (its header is not JSON)"
    else:
        return
    raise CheckpointError(f"{what} {p} is not a safetensors file: the file is {kind}; {fix}", p)


# --- the structure: any nesting of containers, numbers and tensors, as JSON with type tags ---------------------


def encode(obj: Any) -> tuple[dict[str, np.ndarray], str]:
    """``(tensors, structure)``: the tensors and arrays in ``obj`` as host arrays under generated names, and
    ``obj`` as JSON text in which each of them is a reference ``{"tensor": NAME}`` (``{"ndarray": NAME}``).

    A Fortran-ordered array (an ``nn.Linear`` weight stored transposed) is stored in its logical (C) order and
    tagged ``"order": "F"``, so that it loads in the memory layout it had (matmuls give the same bits). Numbers,
    bools, None and strings are JSON values; a non-finite float is ``{"float": "nan"}``; containers
    are tagged (``{"dict": [[key, value], ...]}``, ``{"list": [...]}``, ``{"tuple": [...]}``).

    Raises:
        TypeError: anything else (the message names its path in ``obj`` and its type), a dict key other than
            str and int, or an array safetensors cannot hold.
        ValueError: nesting deeper than ``MAX_DEPTH``.
    """
    from .nn import Parameter
    from .tensor import Tensor

    tensors: dict[str, np.ndarray] = {}

    def store(path: tuple[str, ...], array: Any, tag: str) -> dict[str, Any]:
        base = ".".join(path) or "tensor"
        name, n = base, 1
        while name in tensors:
            name, n = f"{base}#{n}", n + 1
        tensors[name] = host_array(name, array)
        fortran = np.ndim(array) > 1 and array.flags.f_contiguous and not array.flags.c_contiguous
        return {tag: name, "order": "F"} if fortran else {tag: name}

    def walk(x: Any, path: tuple[str, ...]) -> Any:
        if len(path) > MAX_DEPTH:
            raise ValueError(f"gradkit.save: the object nests deeper than {MAX_DEPTH} levels at {_where(path)}")
        if x is None or type(x) in (bool, int, str):
            return x
        if type(x) is float:
            return x if math.isfinite(x) else {"float": repr(x)}
        if isinstance(x, Tensor):
            node = {**store(path, x.numpy(), "tensor"), "device": x.backend.name}
            if x.requires_grad:
                node["requires_grad"] = True
            if isinstance(x, Parameter):
                node["parameter"] = True
            return node
        if isinstance(x, np.generic):
            return {**store(path, x, "ndarray"), "scalar": True}
        if isinstance(x, np.ndarray) or hasattr(x, "__array_namespace__"):
            return store(path, x, "ndarray")
        if type(x) in (list, tuple):
            return {type(x).__name__: [walk(v, (*path, str(i))) for i, v in enumerate(x)]}
        if isinstance(x, dict):
            bad = next((k for k in x if not isinstance(k, (str, int)) or isinstance(k, bool)), None)
            if bad is not None:
                raise TypeError(f"gradkit.save: a dict key at {_where(path)} is {type(bad).__name__} {bad!r:.40}; "
                                "keys must be str or int")
            return {"dict": [[k, walk(v, (*path, str(k)))] for k, v in x.items()]}
        raise TypeError(f"gradkit.save cannot store the {type(x).__module__}.{type(x).__qualname__} at {_where(path)}:"
                        " a file holds tensors, arrays, numbers, bools, None, strings and dicts, lists and tuples of "
                        "them, never other objects (which would need pickle, and loading pickle runs code); save "
                        "its state_dict() instead")

    structure = walk(obj, ())
    return tensors, json.dumps(structure, ensure_ascii=False, allow_nan=False)


def _where(path: tuple[str, ...]) -> str:
    return "the top level" if not path else "[" + "][".join(repr(p) for p in path) + "]"


MakeTensor = Callable[[np.ndarray, dict[str, Any]], Any]


def decode(text: str, tensors: dict[str, np.ndarray], make_tensor: MakeTensor) -> Any:
    """The object ``encode`` wrote as ``text``, its references resolved in ``tensors``; ``make_tensor(array,
    node)`` turns a ``{"tensor": ...}`` reference (``node``: its tags) into a Tensor. Each tensor is referred to
    once at most.

    Raises:
        ValueError: ``text`` is not valid JSON, nests deeper than ``MAX_DEPTH``, holds an unknown or malformed
            node, or refers to a missing tensor or to one twice (the message names the node's path).
    """
    try:
        structure = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"its structure is not valid JSON ({excerpt(str(exc))})") from None
    used: set[str] = set()

    def array(node: dict[str, Any], tag: str, path: tuple[str, ...]) -> np.ndarray:
        name = node[tag]
        if not isinstance(name, str) or name not in tensors:
            raise ValueError(f"{_where(path)} refers to tensor {excerpt(repr(name), 60)}, which the file does not hold")
        if name in used:
            raise ValueError(f"{_where(path)} refers to tensor {excerpt(name, 60)!r} a second time")
        used.add(name)
        return np.asfortranarray(tensors[name]) if node.get("order") == "F" else tensors[name]

    def walk(node: Any, path: tuple[str, ...]) -> Any:
        if len(path) > MAX_DEPTH:
            raise ValueError(f"it nests deeper than {MAX_DEPTH} levels at {_where(path)}")
        if node is None or isinstance(node, (bool, str, int, float)):
            return node
        tag = next(iter(node), None) if isinstance(node, dict) else None
        value = node.get(tag) if isinstance(node, dict) else None
        if tag in ("list", "tuple") and len(node) == 1 and isinstance(value, list):
            items = [walk(v, (*path, str(i))) for i, v in enumerate(value)]
            return items if tag == "list" else tuple(items)
        if tag == "dict" and len(node) == 1 and isinstance(value, list):
            return _dict(value, path, walk)
        if tag == "float" and len(node) == 1 and value in ("nan", "inf", "-inf"):
            return float(value)
        if tag == "ndarray" and set(node) <= {"ndarray", "scalar", "order"}:
            out = array(node, tag, path)
            return out[()] if node.get("scalar") is True and out.ndim == 0 else out
        if tag == "tensor" and set(node) <= {"tensor", "device", "requires_grad", "parameter", "order"}:
            return make_tensor(array(node, tag, path), node)
        raise ValueError(f"{_where(path)} is a node gradkit does not read: {excerpt(json.dumps(node), 80)}")

    return walk(structure, ())


def _dict(pairs: list[Any], path: tuple[str, ...], walk: Callable[[Any, tuple[str, ...]], Any]) -> dict[Any, Any]:
    out: dict[Any, Any] = {}
    for pair in pairs:
        ok = isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], (str, int)) \
            and not isinstance(pair[0], bool) and pair[0] not in out
        if not ok:
            raise ValueError(f"{_where(path)} has an entry that is not a [key, value] pair with a new str or int key: "
                             f"{excerpt(json.dumps(pair), 60)}")
        out[pair[0]] = walk(pair[1], (*path, str(pair[0])))
    return out


# --- torch.save and torch.load ------------------------------------------------------------------------------


def save(obj: Any, f: Source) -> None:
    """Save ``obj`` to ``f`` (a path, written atomically, or a binary file object), as ``torch.save``: a
    state_dict, an optimizer's state_dict, or any nesting of dicts (str and int keys), lists and tuples of
    Tensors, numpy arrays and scalars, Python numbers, bools, None and strings. The file is a safetensors file
    (see the module's docstring); Tensors come back from ``load`` on the backend they were saved from, with
    their dtype, shape, ``requires_grad`` and Parameter-ness.

    Raises:
        TypeError: ``obj`` holds anything else (an object, a function, a module: save its ``state_dict()``),
            naming where; nothing is written.
        ValueError: nesting deeper than ``MAX_DEPTH``.
        OutputError: the path cannot be written (its previous content is kept).
    """
    tensors, structure = encode(obj)
    write(f, tensors, {"format": FORMAT, "structure": structure})


def load(f: Source, map_location: Any = None, *, weights_only: bool | None = None, max_bytes: int = MAX_BYTES
         ) -> Any:
    """The object ``save`` wrote to ``f`` (a path or a binary file object), as ``torch.load``.

    A safetensors file without gradkit's structure (one from ``safetensors.torch.save_file``, a Hugging Face
    model) loads as a dict ``{name: Tensor}`` (on the host unless ``map_location`` says otherwise). The file is
    untrusted input (see ``read``); a gradkit file never holds code, so ``weights_only`` (torch's keyword)
    changes nothing: every load is a weights-only load.

    Args:
        map_location: where the Tensors go: None (the backend each was saved from, as torch's default), a
            device or backend name (``"cpu"``, ``"cuda"``, ``"numpy"``, ``"strict"``, ``"cupy"``) or a
            ``Backend``.
        weights_only: accepted for torch's signature.
        max_bytes: the most tensor bytes the file may hold.

    Raises:
        CheckpointError: the file is missing, not a regular file, too large, damaged, or not a safetensors
            file; its structure is malformed (naming the node).
        TypeError: a ``map_location`` other than the above (torch's dicts and functions are not supported).
        UnknownBackendError: ``map_location`` names no backend.
        BackendUnavailableError: ``map_location``, or a Tensor's backend, is not usable here (the message says
            which ``map_location`` to pass).
    """
    if map_location is not None and not isinstance(map_location, (str, backends.Backend)):
        raise TypeError(f"gradkit.load: map_location must be a device or backend name ('cpu', 'cuda', 'numpy', "
                        f"...) or a Backend, got {type(map_location).__name__}")
    if isinstance(map_location, str):
        map_location = backends.get_backend(map_location)
    tensors, metadata = read(f, max_bytes=max_bytes)
    p = Path(f if not hasattr(f, "read") else getattr(f, "name", "<file object>"))
    if "structure" not in metadata:
        return {name: make_tensor(array, {"device": "cpu"}, map_location) for name, array in tensors.items()}
    try:
        return decode(metadata["structure"], tensors, lambda array, node: make_tensor(array, node, map_location))
    except ValueError as exc:
        raise CheckpointError(f"file {p} is damaged or not gradkit's: {exc}; {_FIX}", p) from None


def make_tensor(array: np.ndarray, node: dict[str, Any], map_location: Any) -> Any:
    """A Tensor of ``array`` on ``map_location`` (else the backend ``node`` names, else the default)."""
    from .nn import Parameter
    from .tensor import Tensor

    where = map_location if map_location is not None else node.get("device")
    if where is not None and not isinstance(where, (str, backends.Backend)):
        raise ValueError(f"a tensor's device is {excerpt(repr(where), 40)}, not a backend name")
    try:
        backend = where if isinstance(where, backends.Backend) else backends.get_backend(where)
    except backends.BackendUnavailableError as exc:
        raise backends.BackendUnavailableError(f"{exc}; pass map_location='cpu' to gradkit.load to load the "
                                               "tensors onto the host") from None
    kind = Parameter if node.get("parameter") is True else Tensor
    requires_grad = node.get("requires_grad") is True or kind is Parameter
    if requires_grad and array.dtype.kind != "f":
        raise ValueError(f"a {array.dtype} tensor cannot require grad")
    if kind is Parameter:
        return Parameter(array, backend=backend)
    return Tensor(array, backend=backend, requires_grad=requires_grad)

