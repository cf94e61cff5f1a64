"""``repr(tensor)`` as PyTorch prints it: ``tensor([0.1235, 2.0000], requires_grad=True)``.

The rules are PyTorch's printing defaults (``torch/_tensor_str.py``: precision 4, threshold 1,000 elements,
3 edge items, line width 80): floats whose finite nonzero values are all integers print as ``1.``; otherwise
fixed point with 4 decimals, or scientific notation when the largest magnitude is over 1e8 or over 1,000 times
the smallest (or the smallest is under 1e-4); every element right-aligned to the widest. Suffixes: the device
when it is not the CPU, the size of an empty tensor, a dtype other than float32, int64 and bool, then
``grad_fn=<MulBackward0>`` or ``requires_grad=True``. The dtype prints as gradkit's (``gradkit.float64``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

PRECISION, THRESHOLD, EDGEITEMS, LINEWIDTH = 4, 1000, 3, 80
_DEFAULT_DTYPES = ("float32", "int64", "bool")


def tensor_repr(t: Any) -> str:
    """``t`` (a gradkit Tensor) as PyTorch prints a tensor of the same values (see the module docstring)."""
    host = t.backend.to_numpy(t._data)
    prefix = "tensor("
    indent = len(prefix)
    suffixes = []
    if str(t.device) != "cpu":
        suffixes.append(f"device='{t.device}'")
    if host.size == 0 and host.shape != (0,):
        suffixes.append(f"size={tuple(host.shape)}")
    if t.dtype.name not in _DEFAULT_DTYPES:
        suffixes.append(f"dtype={t.dtype!r}")
    if t._grad_fn is not None:
        suffixes.append(f"grad_fn=<{t._grad_fn.name()}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    summarize = host.size > THRESHOLD
    body = "[]" if host.size == 0 else _nested(host, indent, summarize, _formatter(_summarized(host) if summarize
                                                                                   else host))
    return prefix + _add_suffixes(body, suffixes, indent)


def _summarized(a: np.ndarray) -> np.ndarray:
    """The edge items of every axis (what a summarized print shows), for the column width."""
    for axis, n in enumerate(a.shape):
        if n > 2 * EDGEITEMS:
            a = np.concatenate([a.take(range(EDGEITEMS), axis), a.take(range(n - EDGEITEMS, n), axis)], axis)
    return a


def _formatter(values: np.ndarray) -> tuple[Callable[[Any], str], int]:
    """The element format and the common width (at least 1)."""
    if values.dtype.kind in "biu":  # bools and integers as Python prints them
        fmt: Callable[[Any], str] = str
    else:
        finite = values[np.isfinite(values) & (values != 0)].astype(np.float64)
        magnitudes = np.abs(finite)
        int_mode = bool(np.all(finite == np.ceil(finite)))
        big = magnitudes.size and (magnitudes.max() > 1e8 or magnitudes.max() / magnitudes.min() > 1000)
        small = magnitudes.size and magnitudes.min() < 1e-4
        if big or (small and not int_mode):
            fmt = f"{{:.{PRECISION}e}}".format
        elif int_mode:
            fmt = _int_float
        else:
            fmt = f"{{:.{PRECISION}f}}".format
        values = finite  # the width comes from the finite nonzero values only, as torch's
    flat = values.reshape(-1).tolist()
    return fmt, max((len(fmt(v)) for v in flat), default=1)


def _int_float(v: float) -> str:
    return f"{v:.0f}." if math.isfinite(v) else str(v)


def _nested(a: np.ndarray, indent: int, summarize: bool, formatter: tuple[Callable[[Any], str], int]) -> str:
    fmt, width = formatter
    if a.ndim == 0:
        return fmt(a.item())
    if a.ndim == 1:
        cells = [fmt(v).rjust(width) for v in a.tolist()]
        if summarize and len(cells) > 2 * EDGEITEMS:
            cells = [*cells[:EDGEITEMS], " ...", *cells[-EDGEITEMS:]]
        per_line = max(1, (LINEWIDTH - indent) // (width + 2))
        lines = [", ".join(cells[i:i + per_line]) for i in range(0, len(cells), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
    rows = range(a.shape[0])
    if summarize and a.shape[0] > 2 * EDGEITEMS:
        parts = [_nested(a[i], indent + 1, summarize, formatter) for i in rows[:EDGEITEMS]] + ["..."] + \
                [_nested(a[i], indent + 1, summarize, formatter) for i in rows[-EDGEITEMS:]]
    else:
        parts = [_nested(a[i], indent + 1, summarize, formatter) for i in rows]
    return "[" + ("," + "\n" * (a.ndim - 1) + " " * (indent + 1)).join(parts) + "]"


def _add_suffixes(body: str, suffixes: list[str], indent: int) -> str:
    out, last = [body], len(body) - body.rfind("\n") + 1
    for suffix in suffixes:
        if last + len(suffix) + 2 > LINEWIDTH:
            out.append(",\n" + " " * indent + suffix)
            last = indent + len(suffix)
        else:
            out.append(", " + suffix)
            last += len(suffix) + 2
    return "".join(out) + ")"
