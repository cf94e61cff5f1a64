"""micrograd's MLP classifier, on Tensors: the two-moons demo with a max-margin loss."""

from __future__ import annotations

from typing import Any

from gradkit.backends import Generator

from .. import nn, ops
from ..autograd import no_grad
from ..nn.modules import _transposed
from ..tensor import Tensor


class MLPClassifier(nn.Module):
    """``nin -> nouts[0] -> ... -> nouts[-1]`` with ReLU between layers and a linear last layer (micrograd's
    ``MLP(2, [16, 16, 1])``). Weights ~ U(-1, 1) as micrograd draws them, biases 0. ``X (N, nin)`` ->
    scores ``(N, nouts[-1])``."""

    def __init__(self, nin: int, nouts: list[int], *, generator: Generator, dtype: Any = "float64") -> None:
        sizes = [nin, *nouts]
        self.layers = [nn.Linear(a, b, generator=generator, gain=1.0, dtype=dtype) for a, b in zip(sizes, sizes[1:])]
        with no_grad():
            for layer, (a, b) in zip(self.layers, zip(sizes, sizes[1:])):  # drawn (nin, nout), as micrograd's loops
                layer.weight.copy_(_transposed(generator.uniform(-1.0, 1.0, (a, b), dtype), generator))

    def forward(self, X: Tensor) -> Tensor:
        for i, layer in enumerate(self.layers):
            X = layer(X)
            if i < len(self.layers) - 1:
                X = ops.relu(X)
        return X


def max_margin_loss(model: MLPClassifier, X: Tensor, y: Tensor, alpha: float = 1e-4) -> tuple[Tensor, float]:
    """micrograd's demo loss: ``mean(relu(1 - y * score)) + alpha * sum(p ** 2)`` with labels ``y (N,)`` in
    {-1, +1}; returns ``(loss, accuracy)`` where accuracy is the fraction with ``sign(score) == y``."""
    scores = ops.reshape(model(X), (-1,))
    data_loss = ops.mean(ops.relu(1 - y * scores))
    reg = sum((ops.sum(p * p) for p in model.parameters()), Tensor._wrap(X.backend.zeros((), X.dtype), X.backend))
    accuracy = float(((y.numpy() > 0) == (scores.numpy() > 0)).mean())
    return data_loss + reg * alpha, accuracy


def train_moons(backend: Any, *, steps: int = 100, n_samples: int = 100, noise: float = 0.1,
                data_seed: int = 1337, init_seed: int = 1337, alpha: float = 1e-4,
                dtype: Any = "float64") -> tuple[MLPClassifier, list[float]]:
    """micrograd's demo on Tensors: ``MLPClassifier(2, [16, 16, 1])`` trained on two moons by SGD with
    learning rate ``1 - 0.9 k / steps``. Returns ``(model, accuracy before each step + after the last)``."""
    from ..autograd import no_grad
    from ..data import make_moons

    X_host, y_host = make_moons(n_samples, noise, data_seed)
    X = Tensor._wrap(backend.asarray(X_host, dtype), backend)
    y = Tensor._wrap(backend.asarray(y_host * 2.0 - 1.0, dtype), backend)
    model = MLPClassifier(2, [16, 16, 1], generator=backend.random(init_seed), dtype=dtype)
    accuracies = []
    for k in range(steps):
        loss, accuracy = max_margin_loss(model, X, y, alpha)
        accuracies.append(accuracy)
        model.zero_grad()
        loss.backward()
        with no_grad():
            for p in model.parameters():
                assert p.grad is not None  # every parameter feeds the loss
                p.sub_(p.grad * (1.0 - 0.9 * k / steps))
    accuracies.append(max_margin_loss(model, X, y, alpha)[1])
    return model, accuracies
