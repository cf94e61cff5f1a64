"""``AdamW`` and ``Adam``: PyTorch's ``torch.optim.AdamW`` and ``torch.optim.Adam`` (amsgrad off), after
Kingma & Ba, "Adam: A Method for Stochastic Optimization" (ICLR 2015) and Loshchilov & Hutter, "Decoupled Weight
Decay Regularization" (ICLR 2019).

Per parameter ``p`` with gradient ``g``, at its ``t``-th step (torch's single-tensor update, step for step)::

    p = p * (1 - lr * weight_decay)                  (AdamW: decoupled decay)
    g = g + weight_decay * p                         (Adam: L2 decay)
    m = m + (1 - beta1) * (g - m)                    (torch's lerp_; m, v start at 0)
    v = beta2 * v + (1 - beta2) * g * g
    p = p - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

The state is Tensors (``step``, 0-d float32 as torch's; ``exp_avg``; ``exp_avg_sq``), each updated through the
door; the scalar factors are computed in float64 from the step tensor and the group's learning-rate tensor, and
cast to the parameter's dtype where they meet it, as torch casts its Python scalars.
"""

from __future__ import annotations

import operator
from typing import Any

from ..tensor import Tensor
from .optimizer import Optimizer, ParamGroup, check_range

__all__ = ["Adam", "AdamW"]

class AdamW(Optimizer):
    """Adam with decoupled weight decay, as ``torch.optim.AdamW`` (see the module docstring).

    Args:
        params: parameters or parameter groups (see ``Optimizer``).
        lr: learning rate >= 0. betas: the moments' decay rates, each in [0, 1). eps: >= 0, added to the
            denominator. weight_decay: >= 0. maximize: ascend the objective instead.

    Raises:
        ValueError: torch's messages for a hyper-parameter out of range.
    """

    decoupled = True
    state_names = ("step", "exp_avg", "exp_avg_sq")

    def __init__(self, params: Any, lr: Any = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False) -> None:
        if amsgrad:
            raise NotImplementedError(f"{type(self).__name__}(amsgrad=True) is not supported; use amsgrad=False")
        defaults = {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay, "amsgrad": False,
                    "maximize": maximize}
        super().__init__(params, defaults)

    def _check_hyper(self, group: dict[str, Any]) -> None:
        super()._check_hyper(group)
        check_range("epsilon value", group["eps"])
        betas = group["betas"]
        if len(betas) != 2:
            raise ValueError(f"Invalid betas: {betas} (a pair (beta1, beta2))")
        for i, beta in enumerate(betas):
            check_range(f"beta parameter at index {i}", beta, 0.0, 1.0)
        check_range("weight_decay value", group["weight_decay"])

    def _update(self, group: ParamGroup, p: Tensor, grad: Tensor) -> None:
        xp, dtype = p.backend.xp, p._data.dtype
        beta1, beta2 = group["betas"]
        wd, eps = group["weight_decay"], group["eps"]
        lr = group.lr_tensor(p.backend)._data  # 0-d float64
        st = self._state(p)
        g: Any = -grad._data if group["maximize"] else grad._data
        if wd and self.decoupled:
            p._assign(xp.astype(1 - lr * wd, dtype), op=operator.imul)
        elif wd:
            g = g + wd * p._data
        step, m, v = st["step"], st["exp_avg"], st["exp_avg_sq"]
        step._assign(1, op=operator.iadd)
        m._assign((g - m._data) * (1 - beta1), op=operator.iadd)
        v._assign(beta2, op=operator.imul)
        v._assign((1 - beta2) * g * g, op=operator.iadd)  # torch's addcmul: (value * g) * g
        t = xp.asarray(step._data, dtype=xp.float64)  # a 0-d array (never a numpy scalar: their pow rounds otherwise)
        step_size = xp.astype(lr / (1 - beta1**t), dtype)
        denom = xp.sqrt(v._data) / xp.astype(xp.sqrt(1 - beta2**t), dtype) + eps
        p._assign(step_size * (m._data / denom), op=operator.isub)


class Adam(AdamW):
    """Adam, as ``torch.optim.Adam``: AdamW's update with L2 weight decay (added to the gradient), default 0."""

    decoupled = False

    def __init__(self, params: Any, lr: Any = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False, *, maximize: bool = False) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize)
