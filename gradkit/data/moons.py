"""Two interleaving half circles: the data set of micrograd's demo notebook."""

from __future__ import annotations

import numpy as np


def make_moons(n_samples: int = 100, noise: float = 0.1, seed: int = 1337) -> tuple[np.ndarray, np.ndarray]:
    """Two-moons points, as ``sklearn.datasets.make_moons`` draws them (micrograd's ``demo.ipynb``).

    Args:
        n_samples: total number of points; the outer moon gets ``n_samples // 2``.
        noise: standard deviation of the Gaussian noise added to each coordinate.
        seed: seed of the host ``numpy.random.Generator``; the same seed gives the same points.

    Returns:
        ``X``: host array ``(n_samples, 2)`` float64; ``y``: host array ``(n_samples,)`` int64 in {0, 1}.

    Raises:
        ValueError: ``n_samples < 2`` or ``noise < 0``.
    """
    if n_samples < 2:
        raise ValueError(f"make_moons needs n_samples >= 2, got {n_samples}")
    if noise < 0:
        raise ValueError(f"make_moons needs noise >= 0, got {noise}")
    n_out = n_samples // 2
    n_in = n_samples - n_out
    t_out = np.linspace(0.0, np.pi, n_out)
    t_in = np.linspace(0.0, np.pi, n_in)
    outer = np.stack([np.cos(t_out), np.sin(t_out)], axis=1)
    inner = np.stack([1.0 - np.cos(t_in), 0.5 - np.sin(t_in)], axis=1)
    X = np.concatenate([outer, inner])
    y = np.concatenate([np.zeros(n_out, np.int64), np.ones(n_in, np.int64)])
    rng = np.random.default_rng(seed)
    X = X + rng.normal(0.0, noise, size=X.shape)
    order = rng.permutation(n_samples)
    return X[order], y[order]
