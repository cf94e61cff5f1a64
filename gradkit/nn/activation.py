"""Activation modules, as ``torch.nn``'s: each holds its arguments and calls the function of the same name in
``gradkit.activations`` / ``gradkit.functional`` (``nn.GELU``, ``nn.ReLU``, ``nn.Tanh`` and ``nn.Sigmoid`` live in
``nn.modules``)."""

from __future__ import annotations

from .. import activations, functional
from ..tensor import Tensor
from .modules import Module

__all__ = ["ELU", "Hardtanh", "LeakyReLU", "LogSigmoid", "LogSoftmax", "Mish", "ReLU6", "SiLU", "Softmax", "Softplus"]


class SiLU(Module):
    """``x * sigmoid(x)``, as ``torch.nn.SiLU`` (``inplace`` writes into the input)."""

    def __init__(self, inplace: bool = False) -> None:
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return activations.silu(input, self.inplace)


class Mish(Module):
    """``x * tanh(softplus(x))``, as ``torch.nn.Mish``."""

    def __init__(self, inplace: bool = False) -> None:
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return activations.mish(input, self.inplace)


class ELU(Module):
    """``x`` above 0, ``alpha (exp(x) - 1)`` below, as ``torch.nn.ELU``."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        self.alpha, self.inplace = alpha, inplace

    def forward(self, input: Tensor) -> Tensor:
        return activations.elu(input, self.alpha, self.inplace)


class LeakyReLU(Module):
    """``x`` above 0, ``negative_slope * x`` below, as ``torch.nn.LeakyReLU``."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, input: Tensor) -> Tensor:
        return activations.leaky_relu(input, self.negative_slope, self.inplace)


class Softplus(Module):
    """``log(1 + exp(beta x)) / beta`` (linear above ``threshold``), as ``torch.nn.Softplus``."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        self.beta, self.threshold = beta, threshold

    def forward(self, input: Tensor) -> Tensor:
        return activations.softplus(input, self.beta, self.threshold)


class Hardtanh(Module):
    """``x`` limited to ``[min_val, max_val]``, as ``torch.nn.Hardtanh``."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> None:
        self.min_val, self.max_val, self.inplace = min_val, max_val, inplace

    def forward(self, input: Tensor) -> Tensor:
        return activations.hardtanh(input, self.min_val, self.max_val, self.inplace)


class ReLU6(Hardtanh):
    """``min(max(x, 0), 6)``, as ``torch.nn.ReLU6``."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__(0.0, 6.0, inplace)


class LogSigmoid(Module):
    """``log(sigmoid(x))``, as ``torch.nn.LogSigmoid``."""

    def forward(self, input: Tensor) -> Tensor:
        return activations.logsigmoid(input)


class Softmax(Module):
    """Softmax along ``dim``, as ``torch.nn.Softmax`` (``dim=None``: the last axis, see ``functional.softmax``)."""

    def __init__(self, dim: int | None = None) -> None:
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return functional.softmax(input, self.dim)


class LogSoftmax(Module):
    """Log-softmax along ``dim``, as ``torch.nn.LogSoftmax`` (``dim=None``: the last axis)."""

    def __init__(self, dim: int | None = None) -> None:
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return functional.log_softmax(input, self.dim)
