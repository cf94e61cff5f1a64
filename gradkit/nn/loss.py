"""Loss modules, as ``torch.nn``'s: each holds its arguments (``weight`` and ``pos_weight`` as buffers, so they
are in the state dict and move with ``to()``) and calls the function of the same name in ``gradkit.losses``.
Called as ``loss_fn(input, target)``."""

from __future__ import annotations

from typing import Any

from .. import losses
from ..tensor import Tensor
from .modules import Module

__all__ = ["BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "L1Loss", "MSELoss", "NLLLoss"]


class _Loss(Module):
    def __init__(self, size_average: Any = None, reduce: Any = None, reduction: str = "mean") -> None:
        self.reduction = losses._reduction(type(self).__name__, size_average, reduce, reduction)


class CrossEntropyLoss(_Loss):
    """``losses.cross_entropy`` (class indices or probabilities; ``weight``, ``ignore_index``,
    ``label_smoothing``), as ``torch.nn.CrossEntropyLoss``."""

    def __init__(self, weight: Tensor | None = None, size_average: Any = None, ignore_index: int = -100,
                 reduce: Any = None, reduction: str = "mean", label_smoothing: float = 0.0) -> None:
        super().__init__(size_average, reduce, reduction)
        self.weight, self.ignore_index, self.label_smoothing = weight, ignore_index, label_smoothing

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return losses.cross_entropy(input, target, self.weight, ignore_index=self.ignore_index,
                                    reduction=self.reduction, label_smoothing=self.label_smoothing)


class NLLLoss(_Loss):
    """``losses.nll_loss`` of log-probabilities, as ``torch.nn.NLLLoss``."""

    def __init__(self, weight: Tensor | None = None, size_average: Any = None, ignore_index: int = -100,
                 reduce: Any = None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.weight, self.ignore_index = weight, ignore_index

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return losses.nll_loss(input, target, self.weight, ignore_index=self.ignore_index, reduction=self.reduction)


class MSELoss(_Loss):
    """``losses.mse_loss``, as ``torch.nn.MSELoss``."""

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return losses.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """``losses.l1_loss``, as ``torch.nn.L1Loss``."""

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return losses.l1_loss(input, target, reduction=self.reduction)


class BCELoss(_Loss):
    """``losses.binary_cross_entropy`` of probabilities, as ``torch.nn.BCELoss``."""

    def __init__(self, weight: Tensor | None = None, size_average: Any = None, reduce: Any = None,
                 reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.weight = weight

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return losses.binary_cross_entropy(input, target, self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """``losses.binary_cross_entropy_with_logits``, as ``torch.nn.BCEWithLogitsLoss``."""

    def __init__(self, weight: Tensor | None = None, size_average: Any = None, reduce: Any = None,
                 reduction: str = "mean", pos_weight: Tensor | None = None) -> None:
        super().__init__(size_average, reduce, reduction)
        self.weight, self.pos_weight = weight, pos_weight

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return losses.binary_cross_entropy_with_logits(input, target, self.weight, reduction=self.reduction,
                                                       pos_weight=self.pos_weight)
