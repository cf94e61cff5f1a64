"""PyTorch's dtype objects: ``gradkit.float32``, ``float64``, ``int32``, ``int64``, ``bool``.

``Tensor.dtype`` is one of these on every backend, so ``t.dtype == gradkit.float32`` holds on numpy, CuPy and
array_api_strict alike (the backends' own dtype objects do not compare equal across libraries). A ``DType``
is accepted wherever a dtype is (``dtype=gradkit.int64``), and compares equal to its namesakes: the same name
as a string, numpy's, CuPy's and array_api_strict's dtype objects.
"""

from __future__ import annotations

import builtins
import math
from typing import Any

import numpy as np

from gradkit.backends.random import dtype_name

__all__ = ["DType", "bool", "check_fill", "double", "float32", "float64", "get_default_dtype", "int32", "int64", "long",
           "of"]


class DType:
    """A dtype by name (``"float32"``, ...), as ``torch.float32``; ``repr`` is ``gradkit.float32``.

    Attributes: ``name``; ``dtype`` (numpy's, so numpy accepts a ``DType`` wherever it takes a dtype);
    ``is_floating_point`` (as torch's).
    """

    __slots__ = ("name", "dtype")

    def __init__(self, name: str) -> None:
        self.name = name
        self.dtype = np.dtype(name)

    @property
    def is_floating_point(self) -> builtins.bool:
        """True for float32 and float64."""
        return self.dtype.kind == "f"

    def __eq__(self, other: object) -> builtins.bool:
        if isinstance(other, DType):
            return self.name == other.name
        try:
            return dtype_name(other) == self.name
        except TypeError:
            return False

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        return f"gradkit.{self.name}"

    __str__ = __repr__


float32 = DType("float32")
float64 = DType("float64")
int32 = DType("int32")
int64 = DType("int64")
bool = DType("bool")  # noqa: A001 (PyTorch's name: torch.bool)
double, long = float64, int64  # torch.double, torch.long
_BY_NAME = {d.name: d for d in (float32, float64, int32, int64, bool)}


def get_default_dtype() -> DType:
    """The dtype of a float tensor made without ``dtype=``: ``gradkit.float32``, as ``torch.get_default_dtype()``
    (gradkit has no ``set_default_dtype``)."""
    return float32


_BY_OBJECT: dict[tuple[type, Any], DType] = {}  # every backend's dtype objects met so far (``t.dtype`` is hot)


def of(dtype: Any) -> DType:
    """The ``DType`` for any backend's dtype object or name (new ones, e.g. ``uint8``, made on first use)."""
    key = (type(dtype), dtype)  # the type first: a strict dtype never compares with a numpy one
    try:
        return _BY_OBJECT[key]
    except (KeyError, TypeError):  # not met yet, or unhashable
        pass
    name = dtype_name(dtype)
    found = _BY_NAME.get(name)
    if found is None:
        found = _BY_NAME[name] = DType(name)
    try:
        _BY_OBJECT[key] = found
    except TypeError:
        pass
    return found


def check_fill(value: Any, dtype: Any) -> None:
    """Raise RuntimeError, as torch does, when the number ``value`` cannot be stored in ``dtype`` without overflow:
    a nan, an infinity or an out-of-range number for an integer dtype (``full((2,), float("-inf"),
    dtype=int64)`` would otherwise give INT64_MIN), a finite number beyond a float dtype's range."""
    target = np.dtype(dtype_name(dtype))
    if target.kind == "b" or isinstance(value, (builtins.bool, np.bool_)):
        return
    number = float(value) if target.kind == "f" or not isinstance(value, (int, np.integer)) else int(value)
    if target.kind in "iu":
        info = np.iinfo(target)
        fits = number == number and info.min <= number <= info.max  # nan != nan
    else:
        fits = not math.isfinite(number) or abs(number) <= float(np.finfo(target).max)
    if not fits:
        raise RuntimeError(f"value cannot be converted to type {target.name} without overflow: {value!r} (as torch); "
                           "use a float dtype for infinities and nans")
