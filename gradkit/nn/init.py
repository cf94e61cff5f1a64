"""``gradkit.nn.init``: PyTorch's parameter initialisers (``torch.nn.init``), each filling a tensor in place.

Every function writes through the one door ``Tensor._assign`` inside ``no_grad()`` and returns the tensor.
Draws come from ``generator`` (default: ``gradkit.default_generator``), on the host, landing on the tensor's
backend in its dtype (so one seed gives the same numbers on every backend; not torch's numbers, see
``backends.random``). Sources: X. Glorot and Y. Bengio, "Understanding the difficulty of training deep
feedforward neural networks", AISTATS 2010 (xavier); K. He et al., "Delving Deep into Rectifiers", ICCV 2015
(kaiming); PyTorch's documentation of ``torch.nn.init`` (the gains and fan modes).
"""

from __future__ import annotations

import math
from typing import Any

from gradkit.backends import Generator
from gradkit.backends.random import default_generator

from ..autograd import no_grad
from ..tensor import Tensor

__all__ = ["calculate_gain", "constant_", "kaiming_normal_", "kaiming_uniform_", "normal_", "ones_", "uniform_",
           "xavier_normal_", "xavier_uniform_", "zeros_"]

_LINEAR = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
           "sigmoid")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for ``nonlinearity``, as ``torch.nn.init.calculate_gain``: 1 for linear layers and
    sigmoid, 5/3 for tanh, sqrt(2) for relu, sqrt(2 / (1 + slope**2)) for leaky_relu (slope ``param``, default
    0.01), 3/4 for selu.

    Raises:
        ValueError: an unknown nonlinearity, or a slope that is not a number."""
    if nonlinearity in _LINEAR:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def _fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight ``(out, in, *kernel)``: ``in * prod(kernel)``, ``out * prod(kernel)``.
    Raises ValueError for fewer than 2 dimensions (as torch)."""
    if tensor.ndim < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 dimensions")
    receptive = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _fan(tensor: Tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = _fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _fill(tensor: Tensor, array: Any) -> Tensor:
    with no_grad():
        return tensor._assign(array)


def _gen(generator: Generator | None) -> Generator:
    return default_generator if generator is None else generator


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator: Generator | None = None) -> Tensor:
    """Fill ``tensor`` with draws from U(a, b); returns it."""
    return _fill(tensor, _gen(generator).uniform(a, b, tensor.shape, tensor._data.dtype, tensor.backend))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator: Generator | None = None) -> Tensor:
    """Fill ``tensor`` with draws from N(mean, std**2); returns it."""
    return _fill(tensor, _gen(generator).normal(mean, std, tensor.shape, tensor._data.dtype, tensor.backend))


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill ``tensor`` with ``val``; returns it."""
    return _fill(tensor, val)


def zeros_(tensor: Tensor) -> Tensor:
    """Fill ``tensor`` with zeros; returns it."""
    return _fill(tensor, 0)


def ones_(tensor: Tensor) -> Tensor:
    """Fill ``tensor`` with ones; returns it."""
    return _fill(tensor, 1)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator: Generator | None = None) -> Tensor:
    """Glorot's uniform init: U(-a, a) with ``a = gain * sqrt(6 / (fan_in + fan_out))``; returns ``tensor``."""
    fan_in, fan_out = _fan_in_and_fan_out(tensor)
    bound = math.sqrt(3.0) * gain * math.sqrt(2.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator: Generator | None = None) -> Tensor:
    """Glorot's normal init: N(0, std**2) with ``std = gain * sqrt(2 / (fan_in + fan_out))``; returns
    ``tensor``."""
    fan_in, fan_out = _fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


def kaiming_uniform_(tensor: Tensor, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                     generator: Generator | None = None) -> Tensor:
    """He's uniform init: U(-b, b) with ``b = gain * sqrt(3 / fan)``, ``gain = calculate_gain(nonlinearity, a)``
    and ``fan`` the ``mode``'s (``fan_in`` or ``fan_out``); returns ``tensor``. Raises ValueError for an
    unknown mode or nonlinearity."""
    bound = math.sqrt(3.0) * calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor: Tensor, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                    generator: Generator | None = None) -> Tensor:
    """He's normal init: N(0, std**2) with ``std = gain / sqrt(fan)`` (see ``kaiming_uniform_``); returns
    ``tensor``."""
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))
    return normal_(tensor, 0.0, std, generator)
