"""makemore part 3's diagnostics of a deep network, as pictures (the ``plot`` extra): the distribution of each
tanh layer's activations and of their gradients, and each weight's update-to-data ratio over the steps.

``UpdateRatios`` records ``log10(std(lr * grad) / std(data))`` of every 2-D parameter after each step (the
course's ``ud``; about -3 is healthy); ``layer_statistics`` runs one batch through a ``Sequential`` and keeps
each tanh layer's output and the loss's gradient with respect to it (the course's ``layer.out.retain_grad()``).
Source: "Building makemore Part 3: Activations & Gradients, BatchNorm" (Karpathy).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from . import nn
from .plots import _pyplot, _save
from .tensor import Tensor


class UpdateRatios:
    """The update-to-data ratio of each 2-D parameter of ``model``, one row per ``record`` (a host
    transfer per parameter per step: a diagnostic, not for long runs)."""

    _unguarded = frozenset({"rows"})  # a log a compiled step never reads (``gradkit.compile``)

    def __init__(self, model: nn.Module) -> None:
        self.names = [n for n, p in model.named_parameters() if p.ndim == 2]
        self.params = [p for p in model.parameters() if p.ndim == 2]
        self.rows: list[list[float]] = []

    def record(self, lr: float) -> None:
        """Append ``log10(std(lr * grad) / std(data))`` of every 2-D parameter that has a gradient."""
        row = []
        for p in self.params:
            grad = np.zeros(p.shape) if p.grad is None else p.grad.numpy()
            data = p.numpy()
            ratio = float((lr * grad).std() / data.std()) if data.std() > 0 else 0.0
            row.append(float(np.log10(ratio)) if ratio > 0 else float("nan"))
        self.rows.append(row)


def layer_statistics(layers: nn.Sequential, x: Tensor, loss: Callable[[Tensor], Tensor]) -> list[tuple[str, np.ndarray,
                                                                                                          np.ndarray]]:
    """``(label, activations, gradients)`` of each tanh layer of ``layers`` on input ``x`` (host arrays): the
    forward runs layer by layer and adds a zero leaf ``tap`` to each tanh output, so one
    ``loss(output).backward()`` leaves ``d loss / d output`` in each tap's ``grad``."""
    taps = []
    for i, layer in enumerate(layers.layers):
        x = layer(x)
        if isinstance(layer, nn.Tanh):
            tap = Tensor._wrap(x.backend.zeros(x.shape, x.dtype), x.backend, requires_grad=True)
            taps.append((f"layer {i} (Tanh)", x.numpy(), tap))
            x = x + tap
    loss(x).backward()
    return [(label, out, np.zeros(out.shape) if tap.grad is None else tap.grad.numpy()) for label, out, tap in taps]


def plot_layer_statistics(stats: list[tuple[str, np.ndarray, np.ndarray]], path: Path) -> Path | None:
    """Two panels: the activation distribution and the gradient distribution of each tanh layer (the
    course's histograms, with mean, std and saturation in the legend)."""
    plt = _pyplot()
    if plt is None or not stats:
        return None
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(12, 7))
    for label, act, grad in stats:
        hy, hx = np.histogram(act, bins=100, density=True)
        saturated = float((np.abs(act) > 0.97).mean() * 100)
        top.plot(hx[:-1], hy, label=f"{label}: mean {act.mean():+.2f}, std {act.std():.2f}, saturated {saturated:.1f}%")
        gy, gx = np.histogram(grad, bins=100, density=True)
        bottom.plot(gx[:-1], gy, label=f"{label}: std {grad.std():.2e}")
    top.set(title="activation distribution")
    bottom.set(title="gradient distribution")
    top.legend(fontsize=8)
    bottom.legend(fontsize=8)
    return _save(plt, fig, path)


def plot_update_ratios(ratios: UpdateRatios, path: Path) -> Path | None:
    """log10 of the update-to-data ratio of each weight against the step, with the course's guide line at
    -3."""
    plt = _pyplot()
    if plt is None or not ratios.rows:
        return None
    fig, ax = plt.subplots(figsize=(12, 4))
    rows = np.asarray(ratios.rows)
    for j, name in enumerate(ratios.names):
        ax.plot(rows[:, j], label=name)
    ax.plot([0, len(rows)], [-3, -3], "k")
    ax.set(xlabel="step (of this process)", ylabel="log10 update / data", title="update-to-data ratio")
    ax.legend(fontsize=8)
    return _save(plt, fig, path)
