"""The one named-tensor walker behind ``Module.state_dict``/``load_state_dict`` and the optimizers' own.

A state dict is a nesting of dicts and lists whose leaves are Tensors (or host arrays, after a round trip through
a file) and plain values. ``flatten`` names each tensor leaf by its dotted path (``state.0.exp_avg``);
``copy_in`` checks a whole set of incoming values against the tensors they load into, then copies each one
through the door (``Tensor._assign``), so a load is all or nothing and every alias of a loaded tensor (a
compiled step's input included) sees the new values.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from .autograd import no_grad
from .tensor import Tensor

__all__ = ["copy_in", "flatten", "is_array"]


def is_array(value: Any) -> bool:
    """True for a tensor leaf: a Tensor or a numpy array."""
    return isinstance(value, (Tensor, np.ndarray))


def flatten(obj: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """``(dotted path, leaf)`` for every tensor leaf of a nesting of dicts, lists and tuples, in order."""
    if is_array(obj):
        yield prefix[:-1], obj
    elif isinstance(obj, dict):
        for key, value in obj.items():
            yield from flatten(value, f"{prefix}{key}.")
    elif isinstance(obj, (list, tuple)):
        for i, value in enumerate(obj):
            yield from flatten(value, f"{prefix}{i}.")


def copy_in(targets: dict[str, Tensor], values: dict[str, Any], owner: str) -> None:
    """Copy ``values[name]`` into ``targets[name]`` for every name of ``values``, on the target's backend, in its
    dtype. Every entry is checked before anything changes.

    Raises:
        ValueError: a value whose shape differs from its target's, or that is not an array (the message names the
            entry and ``owner``); KeyError: a name without a target.
    """
    host: dict[str, np.ndarray] = {}
    for name, value in values.items():
        if name not in targets:
            raise KeyError(f"{owner}: unexpected entry {name!r}")
        target = targets[name]
        if isinstance(value, Tensor):
            array = value.numpy()
        elif isinstance(value, (np.ndarray, np.generic)):
            array = np.array(value)  # a copy: on numpy, asarray would alias the caller's array
        else:
            raise ValueError(f"{owner}: entry {name!r} is a {type(value).__name__}; a state dict holds Tensors or "
                             "numpy arrays")
        if array.dtype.kind not in "biuf":
            raise ValueError(f"{owner}: entry {name!r} holds {array.dtype} data, not numbers")
        if array.shape != target.shape:
            raise ValueError(f"{owner}: entry {name!r} has shape {array.shape}, the tensor it loads into has shape "
                             f"{target.shape}")
        host[name] = array
    with no_grad():
        for name, array in host.items():
            target = targets[name]
            target._assign(target.backend.asarray(array, target.dtype))
