"""Gradient clipping, as ``torch.nn.utils.clip_grad_norm_`` and ``clip_grad_value_``: the gradients change in
place (through ``Tensor._assign``), on their device, with no host read unless ``error_if_nonfinite``."""

from __future__ import annotations

import math
from collections.abc import Iterable

from ...autograd import no_grad
from ...creation import tensor
from ...pointwise import maximum
from ...tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _grads(parameters: Tensor | Iterable[Tensor]) -> list[Tensor]:
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return [p.grad for p in params if p.grad is not None]


def clip_grad_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """Scale the gradients of ``parameters`` in place so that their total ``norm_type``-norm (of all gradients
    together, as one vector) is at most ``max_norm``, as ``torch.nn.utils.clip_grad_norm_``: each gradient is
    multiplied by ``min(1, max_norm / (total + 1e-6))``. Returns the total norm before clipping as a 0-d Tensor
    (float32 for float32 gradients; 0. when no parameter has a gradient). ``foreach`` is accepted.

    Raises:
        RuntimeError: with ``error_if_nonfinite``, a total norm that is inf or nan (reads one number).
    """
    grads = _grads(parameters)
    if not grads:
        return tensor(0.0)
    p = float(norm_type)
    with no_grad():
        if math.isinf(p):
            total = grads[0].abs().amax()
            for g in grads[1:]:
                total = maximum(total, g.abs().amax())
        else:
            total = (grads[0].abs() ** p).sum()
            for g in grads[1:]:
                total = total + (g.abs() ** p).sum()
            total = total ** (1.0 / p)
        if error_if_nonfinite and not math.isfinite(float(total)):
            raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, "
                               "so it cannot be clipped. To disable this error and scale the gradients by the "
                               "non-finite norm anyway, set `error_if_nonfinite=False`")
        coef = (max_norm / (total + 1e-6)).clamp(max=1.0)
        for g in grads:
            g._assign(g * coef)
    return total


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float, foreach: bool | None = None) -> None:
    """Clamp every gradient of ``parameters`` to ``[-clip_value, clip_value]`` in place, as
    ``torch.nn.utils.clip_grad_value_``."""
    with no_grad():
        for g in _grads(parameters):
            g._assign(g.clamp(-float(clip_value), float(clip_value)))
