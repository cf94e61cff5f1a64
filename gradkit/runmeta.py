"""The metadata of a run's checkpoint, checked field by field as untrusted input, and a model built only
within the size of the arrays the checkpoint holds.

``check`` turns each bad field (step, loss history, dev losses, random state, dtype, input name and hash)
into one ``CheckpointError`` line naming the field; ``model_state`` checks the model's part of the state;
``check_sizes`` refuses a vocabulary or a size setting
larger than the stored arrays can back; ``budget`` is a random generator that refuses to draw more numbers
than the stored parameters hold, so that a config claiming a huge model fails before allocating it.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from gradkit.backends import Backend, Generator

from . import checkpoint
from .files import CheckpointError, excerpt
from .models.config import options

MAX_SETTING = 4096
"""The largest size setting a checkpoint may give beyond its arrays' largest dimension (block sizes of
whole-word models are not array dimensions)."""


def _bad(path: Path, field: str, why: str) -> CheckpointError:
    return CheckpointError(f"checkpoint {path} has a bad {field!r} field: {why}; {checkpoint.fix(path)}", path)


def _is_int(value: Any, low: int = 0, high: int = 2**63) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value < high


def _is_float(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check(path: Path, meta: dict[str, Any]) -> dict[str, Any]:
    """Check the run's fields of ``meta``; returns ``step``, ``history``, ``dev`` and ``rng_state`` converted.

    Raises:
        CheckpointError: one line naming the first bad field and what is wrong with it.
    """
    for field in ("config", "vocab"):
        if not isinstance(meta.get(field), dict):
            raise _bad(path, field, f"expected a dict, got {type(meta.get(field)).__name__}")
    if not _is_int(meta.get("step")):
        raise _bad(path, "step", f"expected an integer >= 0, got {excerpt(repr(meta.get('step')), 40)}")
    if meta.get("dtype") not in ("float32", "float64"):
        raise _bad(path, "dtype", f"expected 'float32' or 'float64', got {excerpt(repr(meta.get('dtype')), 40)}")
    history, dev = meta.get("history", []), meta.get("dev", [])
    if not isinstance(history, list) or not all(
            isinstance(r, list) and len(r) == 3 and _is_int(r[0]) and _is_float(r[1]) and _is_float(r[2])
            for r in history):
        raise _bad(path, "history", "expected rows [step >= 0, finite loss, finite learning rate]")
    if not isinstance(dev, list) or not all(isinstance(r, list) and len(r) == 2 and _is_int(r[0]) and _is_float(r[1])
                                            for r in dev):
        raise _bad(path, "dev", "expected rows [step >= 0, finite loss]")
    source, digest = meta.get("input"), meta.get("input_sha256")
    if source is not None and not (isinstance(source, str) and len(source) <= 4096):
        raise _bad(path, "input", "expected the words file's name as text, or null")
    if digest is not None and not (isinstance(digest, str) and re.fullmatch(r"[0-9a-f]{64}", digest)):
        raise _bad(path, "input_sha256", "expected 64 hexadecimal digits, or null")
    return {"step": meta["step"], "history": [(s, float(v), float(lr)) for s, v, lr in history],
            "dev": [(s, float(v)) for s, v in dev], "rng_state": _rng_state(path, meta.get("rng_state"))}


def _rng_state(path: Path, state: Any) -> dict[str, Any]:
    """numpy's PCG64 state dict, each number in its range."""
    inner = state.get("state") if isinstance(state, dict) else None
    ok = (isinstance(state, dict) and state.get("bit_generator") == "PCG64" and isinstance(inner, dict)
          and _is_int(inner.get("state"), 0, 2**128) and _is_int(inner.get("inc"), 0, 2**128)
          and state.get("has_uint32") in (0, 1) and _is_int(state.get("uinteger"), 0, 2**32))
    if not ok:
        raise _bad(path, "rng_state", "expected numpy's PCG64 state {bit_generator, state: {state, inc}, "
                   "has_uint32, uinteger}")
    return state


def model_state(path: Path, state: Any) -> dict[str, Any]:
    """``state["model"]``, checked to be a dict of names to arrays (numpy arrays or Tensors)."""
    weights = state.get("model") if isinstance(state, dict) else None
    if not isinstance(weights, dict) or not all(isinstance(k, str) and isinstance(getattr(v, "shape", None), tuple)
                                                for k, v in weights.items()):
        raise _bad(path, "model", "expected the state's 'model' to be a dict of names to arrays")
    return weights


def check_sizes(path: Path, config: Any, vocab: Any, weights: dict[str, Any]) -> None:
    """Refuse a vocabulary larger than every dimension of the model's stored arrays ``weights`` (every language
    model has a ``vocab_size`` dimension) and a size setting larger than ``max(largest dimension,
    MAX_SETTING)``."""
    dims = [d for a in weights.values() for d in a.shape]
    largest = max(dims, default=0)
    if vocab.vocab_size > largest:
        raise _bad(path, "vocab", f"{vocab.vocab_size} symbols, but no stored array has a dimension that large")
    spec = config.spec
    for name in options(type(spec)):
        value = getattr(spec, name)
        if _is_int(value, 0) and value > max(largest, MAX_SETTING) and name not in ("max_steps", "lr_decay_step"):
            raise _bad(path, "config", f"{name} = {value} is larger than any stored array can back")


class _BudgetHost:
    """A ``numpy.random.Generator`` stand-in that refuses draws beyond ``limit`` numbers in all."""

    def __init__(self, rng: np.random.Generator, limit: int, path: Path) -> None:
        self._rng, self.left, self.path = rng, limit, path

    def __getattr__(self, name: str) -> Any:
        return getattr(self._rng, name)

    def _take(self, size: Any) -> None:
        count = math.prod(size) if isinstance(size, (tuple, list)) else (1 if size is None else int(size))
        self.left -= count
        if self.left < 0:
            raise _bad(self.path, "config", "it describes a model larger than the arrays the file holds")

    def normal(self, loc: float = 0.0, scale: float = 1.0, size: Any = None) -> Any:
        self._take(size)
        return self._rng.normal(loc, scale, size)

    def uniform(self, low: float = 0.0, high: float = 1.0, size: Any = None) -> Any:
        self._take(size)
        return self._rng.uniform(low, high, size)

    def integers(self, low: int, high: int | None = None, size: Any = None, **kwargs: Any) -> Any:
        self._take(size)
        return self._rng.integers(low, high, size, **kwargs)

    def random(self, size: Any = None) -> Any:
        self._take(size)
        return self._rng.random(size)

    def permutation(self, n: int) -> Any:
        self._take(n)
        return self._rng.permutation(n)


def budget(path: Path, backend: Backend, seed: int, weights: dict[str, Any]) -> Generator:
    """``backend.random(seed)`` that draws at most about as many numbers as the checkpoint's model arrays
    ``weights`` hold (four times as many, plus 2**20: some models draw numbers they do not keep)."""
    limit = 4 * sum(math.prod(a.shape) for a in weights.values()) + 2**20
    generator = backend.random(seed)
    generator.host = _BudgetHost(generator.host, limit, path)  # type: ignore[assignment]
    return generator
