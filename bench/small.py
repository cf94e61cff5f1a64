"""The small benchmarks: micrograd's moons step on the Value and the Tensor engine, and per-op engine overhead."""

from __future__ import annotations

from typing import Any

import common  # noqa: F401 (thread settings before numpy)
import numpy as np

from gradkit import nn_scalar
from gradkit.autograd import no_grad
from gradkit.data import make_moons
from gradkit.models.classifier import MLPClassifier, max_margin_loss
from gradkit.tensor import Tensor

MOONS = {"n_samples": 100, "noise": 0.1, "seed": nn_scalar.MOONS_DATA_SEED, "init_seed": nn_scalar.MOONS_INIT_SEED,
         "steps": 100, "alpha": 1e-4}


def _lr(k: int) -> float:
    return 1.0 - 0.9 * (k % MOONS["steps"]) / MOONS["steps"]  # the demo's schedule, restarted every 100 steps


class ValueMoons:
    """``gradkit.nn_scalar.moons_step`` on ``MLP(2, [16, 16, 1])``: micrograd's demo, one step per call."""

    def __init__(self) -> None:
        self.X, self.y = make_moons(MOONS["n_samples"], MOONS["noise"], MOONS["seed"])
        self.model = nn_scalar.MLP(2, [16, 16, 1], seed=MOONS["init_seed"])
        self.k = 0

    def __call__(self, steps: int) -> None:
        for _ in range(steps):
            nn_scalar.moons_step(self.model, self.X, self.y, _lr(self.k), MOONS["alpha"])
            self.k += 1


class TensorMoons:
    """One step of ``gradkit.models.classifier.train_moons``'s loop (float64 Tensors on numpy)."""

    def __init__(self, backend: Any) -> None:
        X, y = make_moons(MOONS["n_samples"], MOONS["noise"], MOONS["seed"])
        self.X = Tensor._wrap(backend.asarray(X, "float64"), backend)
        self.y = Tensor._wrap(backend.asarray(y * 2.0 - 1.0, "float64"), backend)
        self.model = MLPClassifier(2, [16, 16, 1], generator=backend.random(MOONS["init_seed"]), dtype="float64")
        self.k = 0

    def __call__(self, steps: int) -> None:
        for _ in range(steps):
            loss, _ = max_margin_loss(self.model, self.X, self.y, MOONS["alpha"])
            self.model.zero_grad()
            loss.backward()
            lr = _lr(self.k)
            with no_grad():
                for p in self.model.parameters():
                    p.sub_(p.grad * lr)
            self.k += 1


# per-op overhead: y = tanh(x) for a (4, 4) float32 tensor, then y.sum().backward() ---------------------------
def gradkit_op(backend: Any) -> Any:
    x = Tensor(np.random.default_rng(0).standard_normal((4, 4)), backend=backend, dtype="float32",
               requires_grad=True)

    def run(k: int) -> None:
        for _ in range(k):
            x.tanh().sum().backward()
            x.grad = None

    return run


def gradkit_forward(backend: Any) -> Any:
    x = Tensor(np.random.default_rng(0).standard_normal((4, 4)), backend=backend, dtype="float32",
               requires_grad=True)

    def run(k: int) -> None:
        for _ in range(k):
            x.tanh()

    return run


def torch_op(torch: Any) -> Any:
    x = torch.tensor(np.random.default_rng(0).standard_normal((4, 4)), dtype=torch.float32, requires_grad=True)

    def run(k: int) -> None:
        for _ in range(k):
            x.tanh().sum().backward()
            x.grad = None

    return run


def torch_forward(torch: Any) -> Any:
    x = torch.tensor(np.random.default_rng(0).standard_normal((4, 4)), dtype=torch.float32, requires_grad=True)

    def run(k: int) -> None:
        for _ in range(k):
            x.tanh()

    return run


def numpy_op() -> Any:
    """The same arithmetic in plain numpy (forward, sum, the analytic gradient): the floor."""
    a = np.random.default_rng(0).standard_normal((4, 4)).astype(np.float32)

    def run(k: int) -> None:
        for _ in range(k):
            out = np.tanh(a)
            out.sum()
            np.ones_like(a) * (1 - out * out)

    return run


def numpy_forward() -> Any:
    a = np.random.default_rng(0).standard_normal((4, 4)).astype(np.float32)

    def run(k: int) -> None:
        for _ in range(k):
            np.tanh(a)

    return run


__all__ = ["TensorMoons", "ValueMoons", "gradkit_forward", "gradkit_op", "numpy_forward", "numpy_op",
           "torch_forward", "torch_op"]
