"""``gradkit.amp``: PyTorch's automatic mixed precision names, ``autocast`` and ``GradScaler`` (``torch.amp``).

gradkit computes every op in its operands' dtype (float32 by default), so ``autocast`` changes nothing: it is a
context manager and decorator that scripts written for torch can keep, and a documented no-op on every device.
``GradScaler`` is torch's loss scaler, step for step (scale, unscale_, skip the step on inf/nan, grow or back
off the scale); with float32 gradients it has nothing to rescue, but it runs as torch's does.
Source: PyTorch's documentation of ``torch.amp`` ("Automatic Mixed Precision"), and ``torch/amp/grad_scaler.py``.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from . import dtypes
from .autograd import no_grad
from .tensor import Tensor

__all__ = ["GradScaler", "autocast", "bfloat16", "float16", "is_autocast_available"]

F = TypeVar("F", bound=Callable[..., Any])

float16 = dtypes.of("float16")
# torch.bfloat16: numpy and the array API have no bfloat16, so no tensor holds it; it exists so that scripts
# can name it (nanoGPT's dtype table) and autocast can take it.
bfloat16 = dtypes.DType.__new__(dtypes.DType)
bfloat16.name, bfloat16.dtype = "bfloat16", dtypes.float32.dtype  # compares by name only

DEVICE_TYPES = ("cpu", "cuda", "mps", "xpu")


def is_autocast_available(device_type: str) -> bool:
    """True for the device types torch's autocast takes (``"cpu"``, ``"cuda"``, ...); in gradkit it changes
    nothing on any of them (see ``autocast``)."""
    return device_type in DEVICE_TYPES


class autocast:  # noqa: N801 (torch's name)
    """``torch.autocast(device_type, dtype=None, enabled=True, cache_enabled=None)``: a context manager and
    decorator that, in torch, runs matmuls in a lower precision. In gradkit it is a no-op on every device: ops
    run in their operands' dtype (float32 by default), so the numbers are float32's. It exists so that
    scripts written for torch run unchanged.

    Raises:
        RuntimeError: an unknown ``device_type`` (as torch).
    """

    def __init__(self, device_type: str, dtype: Any = None, enabled: bool = True,
                 cache_enabled: bool | None = None) -> None:
        if not isinstance(device_type, str) or device_type.partition(":")[0] not in DEVICE_TYPES:
            raise RuntimeError(f"User specified an unsupported autocast device_type {device_type!r}; use one of "
                               f"{', '.join(DEVICE_TYPES)}")
        self.device_type, self.fast_dtype, self.enabled = device_type, dtype, bool(enabled)

    def __enter__(self) -> autocast:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def __call__(self, fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self:
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


def _params(optimizer: Any) -> Iterator[Tensor]:
    """The parameters of ``optimizer``: those of its ``param_groups`` (torch's layout), else its ``params``."""
    groups = getattr(optimizer, "param_groups", None)
    if groups is not None:
        for group in groups:
            yield from group["params"]
    else:
        yield from optimizer.params


class GradScaler:
    """Loss scaling for mixed-precision training, as ``torch.amp.GradScaler(device, init_scale=2.**16,
    growth_factor=2.0, backoff_factor=0.5, growth_interval=2000, enabled=True)``.

    ``scale(loss)`` multiplies by the scale; ``unscale_(optimizer)`` divides the gradients by it in place and
    notes whether any is inf or nan; ``step(optimizer)`` unscales if not done yet and skips the step when one
    was; ``update()`` halves the scale after a skipped step (``backoff_factor``) and doubles it after
    ``growth_interval`` clean steps in a row (``growth_factor``). Disabled (``enabled=False``, or device
    ``"cuda"`` where CUDA is not available, with torch's warning), every method passes through: ``scale``
    returns its argument and ``step`` calls ``optimizer.step()``. The scale is a Python float (a power of two
    with the defaults), so the one device read per step is the inf/nan check.

    Raises:
        RuntimeError: ``unscale_`` twice before ``update``, or after ``step``; ``step`` with a ``closure``;
            ``load_state_dict`` of an empty state (saved from a disabled scaler), as torch.
    """

    def __init__(self, device: str = "cuda", init_scale: float = 2.0**16, growth_factor: float = 2.0,
                 backoff_factor: float = 0.5, growth_interval: int = 2000, enabled: bool = True) -> None:
        from . import cuda

        self._device = str(device)
        if enabled and self._device.startswith("cuda") and not cuda.is_available():
            warnings.warn(f"{type(self).__module__}.GradScaler is enabled, but CUDA is not available.  Disabling.",
                          UserWarning, stacklevel=2 if type(self) is GradScaler else 3)  # the caller's line
            enabled = False
        if growth_factor <= 1.0 or not 0.0 < backoff_factor < 1.0:
            raise ValueError(f"GradScaler: growth_factor must be > 1 and backoff_factor in (0, 1), got "
                             f"{growth_factor} and {backoff_factor}")
        self._enabled = bool(enabled)
        self._scale = float(init_scale)
        self._growth_factor, self._backoff_factor = float(growth_factor), float(backoff_factor)
        self._growth_interval, self._growth_tracker = int(growth_interval), 0
        self._stages: dict[int, dict[str, Any]] = {}  # per optimizer: "unscaled"/"stepped", found_inf

    def is_enabled(self) -> bool:
        """Whether the scaler scales (False where it was disabled)."""
        return self._enabled

    def scale(self, outputs: Any) -> Any:
        """``outputs`` (a Tensor, or lists/tuples of them) multiplied by the scale; unchanged when disabled."""
        if not self._enabled:
            return outputs
        if isinstance(outputs, Tensor):
            return outputs * self._scale
        if isinstance(outputs, (list, tuple)):
            return type(outputs)(self.scale(o) for o in outputs)
        raise ValueError("outputs must be a Tensor or an iterable of Tensors")

    def unscale_(self, optimizer: Any) -> None:
        """Divide ``optimizer``'s gradients by the scale in place (through ``Tensor._assign``), noting whether
        any is inf or nan. Raises RuntimeError when called twice before ``update()``, or after ``step()``."""
        if not self._enabled:
            return
        stage = self._stages.setdefault(id(optimizer), {"stage": "ready", "found_inf": False})
        if stage["stage"] == "unscaled":
            raise RuntimeError("unscale_() has already been called on this optimizer since the last update().")
        if stage["stage"] == "stepped":
            raise RuntimeError("unscale_() is being called after step().")
        inv = 1.0 / self._scale
        bad: dict[Any, Any] = {}  # per backend: whether a gradient holds an inf or nan (read once each)
        with no_grad():
            for p in _params(optimizer):
                if p.grad is None:
                    continue
                p.grad._assign(p.grad * inv)
                xp = p.grad.backend.xp
                here = xp.any(~xp.isfinite(p.grad._data))
                bad[p.grad.backend] = here if p.grad.backend not in bad else bad[p.grad.backend] | here
        stage["found_inf"] = any(bool(flag) for flag in bad.values())
        stage["stage"] = "unscaled"

    def step(self, optimizer: Any, *args: Any, **kwargs: Any) -> Any:
        """``optimizer.step()`` unless the unscaled gradients hold an inf or nan (then skipped; returns None).
        Unscales first if ``unscale_`` was not called. Disabled: just ``optimizer.step(*args, **kwargs)``."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("Closure use is not currently supported if GradScaler is enabled.")
        stage = self._stages.setdefault(id(optimizer), {"stage": "ready", "found_inf": False})
        if stage["stage"] == "stepped":
            raise RuntimeError("step() has already been called since the last update().")
        if stage["stage"] == "ready":
            self.unscale_(optimizer)
        result = None if stage["found_inf"] else optimizer.step(*args, **kwargs)
        stage["stage"] = "stepped"
        return result

    def update(self, new_scale: float | Tensor | None = None) -> None:
        """Adjust the scale: ``new_scale`` if given; else back off after a skipped step (any optimizer saw an
        inf or nan) and grow after ``growth_interval`` clean steps in a row. Forgets this iteration's state."""
        if not self._enabled:
            return
        if new_scale is not None:
            self._scale = float(new_scale)
        elif self._stages:
            if any(s["found_inf"] for s in self._stages.values()):
                self._scale *= self._backoff_factor
                self._growth_tracker = 0
            else:
                self._growth_tracker += 1
                if self._growth_tracker == self._growth_interval:
                    self._scale *= self._growth_factor
                    self._growth_tracker = 0
        self._stages = {}

    def get_scale(self) -> float:
        """The current scale (1.0 when disabled)."""
        return self._scale if self._enabled else 1.0

    def get_growth_factor(self) -> float:
        """The factor the scale grows by."""
        return self._growth_factor

    def get_backoff_factor(self) -> float:
        """The factor the scale backs off by."""
        return self._backoff_factor

    def get_growth_interval(self) -> int:
        """How many clean steps in a row grow the scale."""
        return self._growth_interval

    def state_dict(self) -> dict[str, Any]:
        """``{"scale", "growth_factor", "backoff_factor", "growth_interval", "_growth_tracker"}`` (numbers), as
        torch's; ``{}`` when disabled."""
        if not self._enabled:
            return {}
        return {"scale": self._scale, "growth_factor": self._growth_factor, "backoff_factor": self._backoff_factor,
                "growth_interval": self._growth_interval, "_growth_tracker": self._growth_tracker}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore ``state_dict()``'s numbers. Raises RuntimeError for an empty one (from a disabled scaler)."""
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise RuntimeError("The source state dict is empty, possibly because it was saved from a disabled "
                               "instance of GradScaler.")
        scale = float(state_dict["scale"])
        if not math.isfinite(scale) or scale <= 0:
            raise ValueError(f"GradScaler.load_state_dict: scale must be a positive number, got {scale}")
        self._scale = scale
        self._growth_factor = float(state_dict["growth_factor"])
        self._backoff_factor = float(state_dict["backoff_factor"])
        self._growth_interval = int(state_dict["growth_interval"])
        self._growth_tracker = int(state_dict["_growth_tracker"])
