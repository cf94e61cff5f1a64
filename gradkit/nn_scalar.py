"""micrograd's neural-network library on the scalar :class:`~gradkit.value.Value` engine, and its demo.

``Module`` / ``Neuron`` / ``Layer`` / ``MLP`` are micrograd's ``nn.py`` (Andrej Karpathy, "The
spelled-out intro to neural networks and backpropagation" lecture), with two changes: the weights
come from a seeded ``numpy.random.Generator`` (never from global random state), and a neuron's
pre-activation ``w . x + b`` is one fused :meth:`Value.dot` node instead of ``2 * nin`` nodes.

``moons_loss`` / ``moons_step`` / ``train_moons`` are micrograd's ``demo.ipynb``: a 2-16-16-1 ReLU MLP
trained on 100 two-moons points with the max-margin (SVM hinge) loss plus L2 regularisation and SGD
with a decaying learning rate, reaching 100% training accuracy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from gradkit.data.moons import make_moons
from gradkit.value import Value, affine

__all__ = [
    "Module",
    "Neuron",
    "Layer",
    "MLP",
    "moons_loss",
    "moons_step",
    "train_moons",
    "MoonsResult",
    "Scorer",
    "MOONS_DATA_SEED",
    "MOONS_INIT_SEED",
]

#: Seeds of the two-moons demo for which :func:`train_moons` reaches 100% training accuracy.
MOONS_DATA_SEED = 1337
MOONS_INIT_SEED = 1337


def _make_rng(rng: np.random.Generator | None, seed: int | None) -> np.random.Generator:
    if rng is not None and seed is not None:
        raise ValueError("pass either rng= or seed=, not both")
    if rng is not None:
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
        return rng
    return np.random.default_rng(seed)


class Module:
    """Base class of the scalar network pieces: a list of parameters and ``zero_grad``.

    Source: micrograd's ``nn.py`` by Andrej Karpathy ("The spelled-out intro to neural networks and
    backpropagation" lecture).
    """

    def zero_grad(self) -> None:
        """Set the ``grad`` of every parameter to 0 (leaves accumulate across ``backward`` calls)."""
        for p in self.parameters():
            p.grad = 0.0

    def parameters(self) -> list[Value]:
        """The trainable ``Value`` leaves of the module, in a fixed order (empty for the base class)."""
        return []


class Neuron(Module):
    """One neuron: ``relu(w . x + b)`` (or linear ``w . x + b`` with ``nonlin=False``).

    Args:
        nin: number of inputs.
        nonlin: apply ReLU (micrograd's default) or stay linear.
        rng: the ``numpy.random.Generator`` the weights are drawn from (uniform in [-1, 1)).
        seed: alternatively, a seed for a fresh generator.  With neither, a fresh unseeded generator
            is used (OS entropy; never numpy's or Python's global random state).

    Raises:
        ValueError: both ``rng`` and ``seed`` given, or ``nin < 1``.
        TypeError: ``rng`` is not a ``numpy.random.Generator``.

    The bias starts at 0, as in micrograd.  Calling the neuron on ``x`` (a sequence of ``nin``
    ``Value`` objects and/or numbers) returns a ``Value``; its pre-activation is one fused
    :meth:`Value.dot` node.
    """

    def __init__(
        self,
        nin: int,
        nonlin: bool = True,
        *,
        rng: np.random.Generator | None = None,
        seed: int | None = None,
    ) -> None:
        if nin < 1:
            raise ValueError(f"Neuron needs nin >= 1, got {nin}")
        gen = _make_rng(rng, seed)
        self.w = [Value(wi) for wi in gen.uniform(-1.0, 1.0, size=nin).tolist()]
        self.b = Value(0.0)
        self.nonlin = nonlin

    def __call__(self, x: Sequence[Value | float]) -> Value:
        """``relu(w . x + b)`` (or ``w . x + b``) for ``nin`` inputs.

        Raises:
            ValueError: ``len(x) != nin``.
        """
        act = Value.dot(self.w, x, self.b)
        return act.relu() if self.nonlin else act

    def parameters(self) -> list[Value]:
        """``w`` followed by ``b``."""
        return [*self.w, self.b]

    def __repr__(self) -> str:
        return f"{'ReLU' if self.nonlin else 'Linear'}Neuron({len(self.w)})"


class Layer(Module):
    """A layer of ``nout`` independent neurons, each seeing all ``nin`` inputs.

    Args:
        nin: number of inputs.
        nout: number of neurons (outputs).
        rng, seed: as for :class:`Neuron`; the neurons draw their weights one after another from
            the same generator.
        **kwargs: passed to every :class:`Neuron` (``nonlin``).

    Calling the layer returns a list of ``nout`` values, or the single ``Value`` when ``nout == 1``
    (as micrograd).

    Raises:
        ValueError: both ``rng`` and ``seed`` given, or ``nin < 1`` / ``nout < 1``.
    """

    def __init__(
        self,
        nin: int,
        nout: int,
        *,
        rng: np.random.Generator | None = None,
        seed: int | None = None,
        **kwargs: bool,
    ) -> None:
        if nout < 1:
            raise ValueError(f"Layer needs nout >= 1, got {nout}")
        gen = _make_rng(rng, seed)
        self.neurons = [Neuron(nin, rng=gen, **kwargs) for _ in range(nout)]

    def __call__(self, x: Sequence[Value | float]) -> Value | list[Value]:
        """The outputs of the neurons on ``x``: a list, or one ``Value`` for a 1-neuron layer."""
        neurons = self.neurons
        acts = affine([n.w for n in neurons], [n.b for n in neurons], x)  # = [Value.dot(n.w, x, n.b) ...]
        out = [a.relu() if n.nonlin else a for a, n in zip(acts, neurons)]
        return out[0] if len(out) == 1 else out

    def parameters(self) -> list[Value]:
        """The parameters of the neurons, in order."""
        return [p for n in self.neurons for p in n.parameters()]

    def __repr__(self) -> str:
        return f"Layer of [{', '.join(str(n) for n in self.neurons)}]"


class MLP(Module):
    """A multi-layer perceptron: ReLU hidden layers and a linear last layer (as micrograd).

    Args:
        nin: number of inputs.
        nouts: sizes of the layers, e.g. ``[16, 16, 1]``.
        rng, seed: as for :class:`Neuron`; the layers draw from the same generator in order, so
            ``MLP(2, [16, 16, 1], seed=s)`` is reproducible.

    Calling the MLP on ``nin`` inputs returns the last layer's output (a ``Value`` when the last
    layer has one neuron).

    Raises:
        ValueError: both ``rng`` and ``seed`` given, ``nouts`` empty, or a size < 1.
    """

    def __init__(
        self,
        nin: int,
        nouts: Sequence[int],
        *,
        rng: np.random.Generator | None = None,
        seed: int | None = None,
    ) -> None:
        if len(nouts) == 0:
            raise ValueError("MLP needs at least one layer size in nouts")
        gen = _make_rng(rng, seed)
        sz = [nin, *nouts]
        self.layers = [Layer(sz[i], sz[i + 1], rng=gen, nonlin=i != len(nouts) - 1) for i in range(len(nouts))]

    def __call__(self, x: Sequence[Value | float]) -> Value | list[Value]:
        """Run the layers in order on ``x``."""
        out: Value | Sequence[Value | float] = x
        for layer in self.layers:
            out = layer(out if isinstance(out, (list, tuple)) else [out])  # type: ignore[list-item]
        return out  # type: ignore[return-value]

    def parameters(self) -> list[Value]:
        """The parameters of the layers, in order."""
        return [p for layer in self.layers for p in layer.parameters()]

    def __repr__(self) -> str:
        return f"MLP of [{', '.join(str(layer) for layer in self.layers)}]"


# ---------------------------------------------------------------------- the moons demo


def _margin_labels(y: Sequence[float] | np.ndarray) -> list[float]:
    """Labels in {-1.0, +1.0}: 1 -> +1; 0 (``make_moons``) or -1 (already margin labels) -> -1."""
    vals = np.asarray(y).ravel()
    uniq = set(np.unique(vals).tolist())
    if not uniq <= {-1, 0, 1} or {-1, 0} <= uniq:
        raise ValueError(f"labels must be make_moons' {{0, 1}} or margin labels {{-1, +1}}, got values {sorted(uniq)}")
    return [1.0 if v > 0 else -1.0 for v in vals.tolist()]


class Scorer(Protocol):
    """What the moons functions need of a model: called on one point's features, it returns one
    ``Value`` score; ``parameters()`` lists its trainable leaves, ``zero_grad()`` clears them (an
    :class:`MLP` ending in one neuron is one)."""

    def __call__(self, x: Sequence[Value | float]) -> Value | list[Value]: ...

    def parameters(self) -> list[Value]: ...

    def zero_grad(self) -> None: ...


def moons_loss(
    model: Scorer, X: np.ndarray | Sequence[Sequence[float]], y: np.ndarray | Sequence[int], alpha: float = 1e-4
) -> tuple[Value, float]:
    """micrograd demo's loss: ``mean(relu(1 - y * score)) + alpha * sum(p * p)``, and the accuracy.

    Args:
        model: a network mapping 2 inputs to one ``Value`` score (e.g. ``MLP(2, [16, 16, 1])``).
        X: ``(n, 2)`` inputs (the whole batch, as the demo).
        y: ``(n,)`` labels, either as :func:`gradkit.data.moons.make_moons` returns them ({0, 1}) or
            as margin labels ({-1, +1}); 0 and -1 both mean the negative class.
        alpha: L2 regularisation strength.

    Returns:
        ``(loss, accuracy)``: the total loss as a ``Value`` (call ``backward()`` on it) and the
        fraction of points with ``sign(score) == y`` (a float in [0, 1]).

    Raises:
        ValueError: labels outside {0, 1} / {-1, +1}, or ``len(X) != len(y)``.
        TypeError: the model does not return one ``Value`` per point.

    Source: micrograd's ``demo.ipynb`` by Andrej Karpathy.
    """
    rows = np.asarray(X, dtype=np.float64).tolist()
    labels = _margin_labels(y)
    if len(rows) != len(labels):
        raise ValueError(f"X has {len(rows)} rows but y has {len(labels)} labels")
    outs = [model(row) for row in rows]
    scores = [s for s in outs if isinstance(s, Value)]
    if len(scores) != len(outs):
        raise TypeError("moons_loss needs a model that returns one Value per point (e.g. MLP(2, [16, 16, 1]))")
    # max-margin (hinge) loss: relu(1 - y * score) as one fused node per point
    losses = [Value.dot((-yi,), (si,), 1.0).relu() for yi, si in zip(labels, scores, strict=True)]
    data_loss = Value.sum(losses) * (1.0 / len(losses))
    params = model.parameters()
    reg_loss = alpha * Value.dot(params, params)
    total = data_loss + reg_loss
    correct = sum((yi > 0) == (si.data > 0) for yi, si in zip(labels, scores, strict=True))
    return total, correct / len(labels)


def moons_step(
    model: Scorer,
    X: np.ndarray | Sequence[Sequence[float]],
    y: np.ndarray | Sequence[int],
    lr: float,
    alpha: float = 1e-4,
) -> tuple[float, float]:
    """One training step of the demo: forward over all points, ``zero_grad``, ``backward``, SGD update.

    Args:
        model, X, y, alpha: as :func:`moons_loss`.
        lr: learning rate; every parameter moves by ``-lr * grad``.

    Returns:
        ``(loss, accuracy)`` of the forward pass (before the update), as floats.

    Raises:
        ValueError: as :func:`moons_loss`.
    """
    total, acc = moons_loss(model, X, y, alpha)
    model.zero_grad()
    total.backward()
    for p in model.parameters():
        p.data -= lr * p.grad
    return total.data, acc


@dataclass
class MoonsResult:
    """What :func:`train_moons` returns.

    Attributes:
        model: the trained model.
        losses: the loss at each step (before that step's update).
        accuracies: the training accuracy at each step (before that step's update).
        final_accuracy: the training accuracy after the last update.
    """

    model: Scorer
    losses: list[float] = field(default_factory=list)
    accuracies: list[float] = field(default_factory=list)
    final_accuracy: float = 0.0


def train_moons(
    X: np.ndarray | None = None,
    y: np.ndarray | None = None,
    *,
    model: Scorer | None = None,
    steps: int = 100,
    n_samples: int = 100,
    noise: float = 0.1,
    data_seed: int = MOONS_DATA_SEED,
    init_seed: int = MOONS_INIT_SEED,
    alpha: float = 1e-4,
    callback: Callable[[int, float, float], None] | None = None,
) -> MoonsResult:
    """micrograd's demo: train a 2-16-16-1 ReLU MLP on two moons with SGD, learning rate ``1 - 0.9 k/steps``.

    Args:
        X, y: the data; by default ``make_moons(n_samples, noise, data_seed)``.  ``y`` in {0, 1} or
            {-1, +1} (see :func:`moons_loss`).
        model: the network; by default ``MLP(2, [16, 16, 1], seed=init_seed)``.
        steps: number of SGD steps (the demo: 100).
        n_samples, noise, data_seed: passed to :func:`gradkit.data.moons.make_moons` when ``X`` is None.
        init_seed: the weight seed of the default model.
        alpha: L2 regularisation strength.
        callback: called as ``callback(k, loss, accuracy)`` after each step (e.g. to print).

    Returns:
        A :class:`MoonsResult`; with the defaults ``final_accuracy == 1.0``.

    Raises:
        ValueError: only one of ``X`` / ``y`` given, ``steps < 1``, or bad labels.

    Source: micrograd's ``demo.ipynb`` by Andrej Karpathy.
    """
    if (X is None) != (y is None):
        raise ValueError("pass both X and y, or neither")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if X is None or y is None:
        X, y = make_moons(n_samples, noise, data_seed)
    if model is None:
        model = MLP(2, [16, 16, 1], seed=init_seed)
    result = MoonsResult(model=model)
    for k in range(steps):
        lr = 1.0 - 0.9 * k / steps
        loss, acc = moons_step(model, X, y, lr, alpha)
        result.losses.append(loss)
        result.accuracies.append(acc)
        if callback is not None:
            callback(k, loss, acc)
    _, result.final_accuracy = moons_loss(model, X, y, alpha)
    return result
