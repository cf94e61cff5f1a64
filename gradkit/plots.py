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

from . import files


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
    files.atomic_write_bytes(path, buffer.getvalue())
    return path


def smoothed(steps: Sequence[int], values: Sequence[float], block: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """Block means of a logged loss, as the course draws it (``lossi`` viewed as rows of 1,000 steps, each row
    averaged; makemore part 3): consecutive points whose steps fall in one block of ``block`` steps are
    averaged, and the mean is placed at the block's mean step. A short run gets smaller blocks, so that the
    curve has at least about 20 points, but a block always spans at least 5 logged points. Returns
    ``(steps, means)`` as float64 arrays; empty for no points."""
    s, v = np.asarray(steps, dtype=np.float64), np.asarray(values, dtype=np.float64)
    if s.size == 0:
        return s, v
    span = s[-1] - s[0] + 1
    spacing = float(np.median(np.diff(s))) if s.size > 1 else 1.0
    width = max(1.0, min(float(block), span / 20), 5 * spacing)  # at least 5 logged points a block
    ids = ((s - s[0]) // width).astype(np.int64)
    counts = np.bincount(ids)
    keep = counts > 0
    return (np.bincount(ids, s)[keep] / counts[keep], np.bincount(ids, v)[keep] / counts[keep])


def loss_figure(history: Sequence[tuple[int, float, float]], title: str,
                dev: Sequence[tuple[int, float]] = ()) -> Any:
    """The loss picture as a matplotlib Figure: the logged minibatch loss faint, its block means (see
    ``smoothed``) bold, the dev loss (``(step, loss)`` rows) as points on a line, and a dashed vertical line
    where the learning rate changes, labelled with the old and new rate. None without matplotlib."""
    plt = _pyplot()
    if plt is None:
        return None
    fig, ax = plt.subplots(figsize=(8, 4.5))
    if history:
        steps, values, lrs = (list(c) for c in zip(*history))
        ax.plot(steps, values, color="tab:blue", alpha=0.25, linewidth=0.8, label="train (minibatch)")
        ax.plot(*smoothed(steps, values), color="tab:blue", linewidth=2, label="train (block mean)")
        for i in range(1, len(lrs)):
            if lrs[i] != lrs[i - 1]:
                ax.axvline(steps[i], color="gray", linestyle="--", linewidth=1,
                           label=f"lr {lrs[i - 1]:g} -> {lrs[i]:g} at step {steps[i]}")
    if dev:
        dev_steps, dev_values = zip(*dev)
        ax.plot(dev_steps, dev_values, color="tab:orange", marker="o", markersize=3, linewidth=1.5, label="dev")
    ax.set(xlabel="step", ylabel="loss (nats per character)", title=title)
    ax.grid(alpha=0.3)
    if history or dev:
        ax.legend(loc="upper right")
    return fig


def loss_curve(history: Sequence[tuple[int, float, float]], path: Path, title: str,
               dev: Sequence[tuple[int, float]] = ()) -> Path | None:
    """Write ``loss_figure(history, title, dev)`` to ``path`` (PNG). None without matplotlib or training
    losses (a closed-form model)."""
    plt = _pyplot()
    if plt is None or not history:
        return None
    return _save(plt, loss_figure(history, title, dev), path)


def bigram_figure(counts: np.ndarray, itos: dict[int, str]) -> Any:
    """The ``(V, V)`` bigram count table as makemore part 1 draws it (a ``Blues`` heatmap, each cell labelled
    with its two characters and its count), with a title, the characters on both axes, and each cell's text
    white on dark cells and dark on light ones. None without matplotlib."""
    plt = _pyplot()
    if plt is None:
        return None
    v = counts.shape[0]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.6 * v), max(6.0, 0.6 * v)))
    image = ax.imshow(counts, cmap="Blues")
    size = max(4.0, min(8.0, 8.0 * 27 / v))
    dark = counts > 0.5 * (counts.max() or 1)
    for i in range(v):
        for j in range(v):
            color = "white" if dark[i, j] else "black"
            ax.text(j, i, itos[i] + itos[j], ha="center", va="bottom", color=color, fontsize=size)
            ax.text(j, i, f"{int(counts[i, j])}", ha="center", va="top", color=color, fontsize=size)
    labels = [itos[i] for i in range(v)]
    ax.set_xticks(range(v), labels)
    ax.set_yticks(range(v), labels)
    ax.tick_params(top=True, labeltop=True)
    ax.set(xlabel="next character", ylabel="previous character",
           title=f"bigram counts: how often the next character follows the previous one ({int(counts.sum())} "
                 "bigrams; '.' starts and ends a word)")
    fig.colorbar(image, ax=ax, shrink=0.6, label="count")
    return fig


def bigram_heatmap(counts: np.ndarray, itos: dict[int, str], path: Path) -> Path | None:
    """Write ``bigram_figure(counts, itos)`` to ``path`` (PNG). None without matplotlib."""
    plt = _pyplot()
    if plt is None:
        return None
    return _save(plt, bigram_figure(counts, itos), path)


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
