"""``gradkit.cuda.amp``: torch's older spelling of ``torch.amp`` for CUDA, ``GradScaler`` and ``autocast``.

``GradScaler(...)`` here is ``gradkit.amp.GradScaler("cuda", ...)``: disabled, with torch's warning, where CUDA
is not available. ``autocast(...)`` is ``gradkit.amp.autocast("cuda", ...)``, a no-op (see ``gradkit.amp``).
"""

from __future__ import annotations

from typing import Any

from .. import amp as _amp

__all__ = ["GradScaler", "autocast"]


class GradScaler(_amp.GradScaler):
    """``torch.cuda.amp.GradScaler(init_scale=2.**16, growth_factor=2.0, backoff_factor=0.5,
    growth_interval=2000, enabled=True)``: ``gradkit.amp.GradScaler`` on device ``"cuda"`` (disabled, with a
    UserWarning, where CUDA is not available, as torch's)."""

    def __init__(self, init_scale: float = 2.0**16, growth_factor: float = 2.0, backoff_factor: float = 0.5,
                 growth_interval: int = 2000, enabled: bool = True) -> None:
        super().__init__("cuda", init_scale, growth_factor, backoff_factor, growth_interval, enabled)


class autocast(_amp.autocast):  # noqa: N801 (torch's name)
    """``torch.cuda.amp.autocast(enabled=True, dtype=torch.float16, cache_enabled=True)``: a no-op, as
    ``gradkit.amp.autocast``."""

    def __init__(self, enabled: bool = True, dtype: Any = _amp.float16, cache_enabled: bool = True) -> None:
        super().__init__("cuda", dtype, enabled, cache_enabled)
