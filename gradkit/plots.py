"""Pictures (the ``plot`` extra, matplotlib): loss curve, bigram count heatmap, moons decision boundary.

Each function returns the path it wrote, or None when matplotlib is not installed; files are written
atomically (rendered to memory, then temporary file and rename).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import checkpoint


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def _save(plt: Any, fig: Any, path: Path) -> Path:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    checkpoint.atomic_write_bytes(path, buffer.getvalue())
    return path


def loss_curve(history: Sequence[tuple[int, float, float]], path: Path, title: str) -> Path | None:
    """The training loss (nats per character) against the step, from ``(step, loss, lr)`` rows."""
    plt = _pyplot()
    if plt is None or not history:
        return None
    fig, ax = plt.subplots(figsize=(7, 4))
    steps, values, _ = zip(*history)
    ax.plot(steps, values)
    ax.set(xlabel="step", ylabel="training loss (nats per character)", title=title)
    return _save(plt, fig, path)


def bigram_heatmap(counts: np.ndarray, itos: dict[int, str], path: Path) -> Path | None:
    """The ``(V, V)`` bigram count table as makemore part 1 draws it: each cell labelled with its two
    characters and its count."""
    plt = _pyplot()
    if plt is None:
        return None
    fig, ax = plt.subplots(figsize=(16, 16))
    ax.imshow(counts, cmap="Blues")
    for i in range(counts.shape[0]):
        for j in range(counts.shape[1]):
            ax.text(j, i, itos[i] + itos[j], ha="center", va="bottom", color="gray", fontsize=8)
            ax.text(j, i, f"{int(counts[i, j])}", ha="center", va="top", color="gray", fontsize=8)
    ax.axis("off")
    return _save(plt, fig, path)


def decision_boundary(predict: Callable[[np.ndarray], Sequence[bool]], path: Path, seed: int = 1337) -> Path | None:
    """micrograd's demo picture: the two-moons points over the classifier's decision regions.
    ``predict`` maps points ``(M, 2)`` float64 to M booleans (class +1)."""
    plt = _pyplot()
    if plt is None:
        return None
    from .data import make_moons

    X, y = make_moons(100, 0.1, seed)
    xx, yy = np.meshgrid(np.linspace(X[:, 0].min() - 1, X[:, 0].max() + 1, 80),
                         np.linspace(X[:, 1].min() - 1, X[:, 1].max() + 1, 80))
    grid = np.c_[xx.ravel(), yy.ravel()]
    zz = np.asarray(predict(grid), dtype=float).reshape(xx.shape)
    fig, ax = plt.subplots(figsize=(6, 5))
    ax.contourf(xx, yy, zz, cmap=plt.cm.Spectral, alpha=0.8)
    ax.scatter(X[:, 0], X[:, 1], c=y, s=40, cmap=plt.cm.Spectral, edgecolors="k")
    ax.set(title="micrograd's two moons: decision boundary")
    return _save(plt, fig, path)
