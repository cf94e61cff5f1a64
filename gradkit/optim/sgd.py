"""``SGD``: PyTorch's ``torch.optim.SGD`` (momentum, dampening, Nesterov, L2 weight decay, maximize).

Per parameter ``p`` with gradient ``g``, at each step (torch's update, step for step)::

    g = -g                                     (maximize)
    g = g + weight_decay * p                   (weight_decay)
    b = g                  (first step)        (momentum)
    b = momentum * b + (1 - dampening) * g     (later steps)
    g = g + momentum * b   (nesterov)  else  g = b
    p = p - lr * g

Plain SGD is one in-place op per parameter, ``p -= lr * g``, as hand-written numpy does. ``lr`` is read from
the group's 0-d learning-rate tensor in the parameter's dtype (see ``Optimizer``), as torch casts its scalar.
"""

from __future__ import annotations

import operator
from typing import Any

from ..tensor import Tensor
from .optimizer import Optimizer, ParamGroup, check_range

__all__ = ["SGD"]


class SGD(Optimizer):
    """Stochastic gradient descent, as ``torch.optim.SGD`` (see the module docstring).

    Args:
        params: parameters or parameter groups (see ``Optimizer``).
        lr: learning rate >= 0 (default 1e-3, as torch's).
        momentum, dampening, weight_decay: >= 0. nesterov: needs momentum > 0 and dampening 0.
        maximize: ascend the objective instead.

    Raises:
        ValueError: torch's messages for a hyper-parameter out of range; Nesterov without momentum.
    """

    state_names = ("momentum_buffer",)

    def __init__(self, params: Any, lr: Any = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, *, maximize: bool = False) -> None:
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening, "weight_decay": weight_decay,
                    "nesterov": nesterov, "maximize": maximize}
        super().__init__(params, defaults)

    def _check_hyper(self, group: dict[str, Any]) -> None:
        super()._check_hyper(group)
        check_range("momentum value", group["momentum"])
        check_range("weight_decay value", group["weight_decay"])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")

    def _update(self, group: ParamGroup, p: Tensor, grad: Tensor) -> None:
        xp = p.backend.xp
        lr = group.lr_tensor(p.backend, p.dtype)._data
        mu, wd = group["momentum"], group["weight_decay"]
        g: Any = -grad._data if group["maximize"] else grad._data
        if wd:
            g = g + wd * p._data
        if mu:
            st = self.state.get(p)
            if st is None:  # the first step: the buffer is a copy of the gradient
                st = self.state[p] = {"momentum_buffer": Tensor(xp.asarray(g, copy=True), backend=p.backend)}
            else:
                buf = self._follow(p, st)["momentum_buffer"]
                buf._assign(mu, op=operator.imul)
                buf._assign(g if group["dampening"] == 0 else (1 - group["dampening"]) * g, op=operator.iadd)
            buf_data = st["momentum_buffer"]._data
            g = g + mu * buf_data if group["nesterov"] else buf_data
        p._assign(lr * g, op=operator.isub)
