"""The MLP language model's training step (makemore part 2: vocab 27, block 3, n_embd 10, n_hidden 200), three
ways: gradkit through ``gradkit.train.fit``, the same step by hand in plain numpy with an analytic backward,
and PyTorch CPU eager. All three start from the same weights (gradkit's seeded init) and use lr 0.1.

One step: draw ``batch`` row indices (uniform, with replacement), gather the minibatch, forward, mean
cross-entropy, backward, SGD update.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import common  # noqa: F401 (thread settings before numpy)
import numpy as np

from gradkit.data import load_words
from gradkit.train import Run, Splits, TrainConfig, fit, new_run, prepare

LR = 0.1
SEED = 42
_WORDS: list[str] | None = None
_SPLITS: dict[str, Splits] = {}


def words() -> list[str]:
    global _WORDS
    if _WORDS is None:
        _WORDS = load_words()
    return _WORDS


def config(batch: int, dtype: str) -> TrainConfig:
    # Steps and schedule far out of reach: the lr stays 0.1; one loss value comes to the host per fit() call.
    return TrainConfig.of("mlp", batch_size=batch, max_steps=10**12, lr_decay_step=10**12, log_every=10**12,
                          dtype=dtype, seed=SEED).resolved()


def splits(backend: Any) -> Splits:
    """The names split and windowed once per backend (the int64 windows do not depend on the float dtype)."""
    if backend.name not in _SPLITS:
        _SPLITS[backend.name] = prepare(words(), config(32, "float32"), backend)
    return _SPLITS[backend.name]


def train_arrays(backend: Any) -> tuple[np.ndarray, np.ndarray]:
    """The training windows as int64 host arrays (gradkit keeps them compact, ``data.index_dtype``, and widens
    each minibatch; the hand-written and PyTorch steps index with int64 as the course does)."""
    X, Y = splits(backend).tensors["train"]
    return X.numpy().astype(np.int64), Y.numpy().astype(np.int64)


# gradkit -------------------------------------------------------------------------------------------------
class GradkitMLP:
    """``gradkit.train.fit(run, splits, max_steps=run.step + k)``: the library's own loop, with the step compiled
    (``gradkit.compile``, fit's default) or eager (``compiled=False``)."""

    def __init__(self, backend: Any, batch: int, dtype: str, compiled: bool = True) -> None:
        self.backend, self.compiled = backend, compiled
        self.splits = splits(backend)
        self.run: Run = new_run(config(batch, dtype), self.splits.vocab, backend)

    def __call__(self, k: int) -> None:
        fit(self.run, self.splits, max_steps=self.run.step + k, compiled=self.compiled)
        self.backend.synchronize()

    def weights(self) -> dict[str, np.ndarray]:
        """The current parameters on the host, in the course's names and layouts (C, W1 (fan_in, fan_out), b1, W2,
        b2): nn.Linear stores PyTorch's (out_features, in_features), so its weights are transposed here."""
        m = self.run.model
        return {"C": m.C.weight.numpy(), "W1": m.hidden.weight.numpy().T.copy(), "b1": m.hidden.bias.numpy(),
                "W2": m.out.weight.numpy().T.copy(), "b2": m.out.bias.numpy()}

    def losses(self) -> list[float]:
        return [loss for _, loss, _ in self.run.history]


class ClosureMLP:
    """The course's own step, compiled: the parameters in a list, the data tensors and an SGD optimizer captured
    from the enclosing scope, a fresh index tensor each call (``gradkit.compile`` finds its state itself)."""

    def __init__(self, backend: Any, X: np.ndarray, Y: np.ndarray, init: dict[str, np.ndarray], batch: int,
                 dtype: str, seed: int = SEED) -> None:
        import gradkit as gk
        import gradkit.nn.functional as F

        Xtr, Ytr = gk.tensor(X, device=backend), gk.tensor(Y, device=backend)
        C, W1, b1, W2, b2 = params = [gk.tensor(init[k], device=backend, dtype=dtype, requires_grad=True)
                                      for k in ("C", "W1", "b1", "W2", "b2")]
        opt = gk.optim.SGD(params, lr=LR)

        @gk.compile
        def step(ix: Any) -> Any:
            emb = C[Xtr[ix]]
            h = gk.tanh(emb.view(emb.shape[0], -1) @ W1 + b1)
            logits = h @ W2 + b2
            loss = F.cross_entropy(logits, Ytr[ix])
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss

        self.step, self.backend, self.batch, self.n = step, backend, batch, X.shape[0]
        self.tensor = gk.tensor
        self.rng = np.random.default_rng([seed, 1])

    def __call__(self, k: int) -> None:
        for _ in range(k):
            self.step(self.tensor(self.rng.integers(0, self.n, self.batch), device=self.backend))
        self.backend.synchronize()


# the embedding backward in plain numpy: dC[v] = sum of demb rows whose index is v ----------------------------
def emb_add_at(C_shape: tuple[int, int], ix: np.ndarray, demb: np.ndarray) -> np.ndarray:
    dC = np.zeros(C_shape, demb.dtype)
    np.add.at(dC, ix.reshape(-1), demb.reshape(-1, C_shape[1]))
    return dC


def emb_bincount(C_shape: tuple[int, int], ix: np.ndarray, demb: np.ndarray) -> np.ndarray:
    """One bincount over (row, column) pairs (what gradkit's numpy backend does); sums in float64."""
    V, D = C_shape
    flat = (ix.reshape(-1, 1) * D + np.arange(D)).reshape(-1)
    return np.bincount(flat, weights=demb.reshape(-1), minlength=V * D).reshape(V, D).astype(demb.dtype, copy=False)


def emb_bincount_columns(C_shape: tuple[int, int], ix: np.ndarray, demb: np.ndarray) -> np.ndarray:
    """One bincount of the B*T row indices per embedding column (D of them); sums in float64."""
    V, D = C_shape
    idx, g = ix.reshape(-1), demb.reshape(-1, D)
    dC = np.empty(C_shape, demb.dtype)
    for j in range(D):
        dC[:, j] = np.bincount(idx, weights=g[:, j], minlength=V)
    return dC


def emb_onehot_matmul(C_shape: tuple[int, int], ix: np.ndarray, demb: np.ndarray) -> np.ndarray:
    """``onehot(ix)^T @ demb`` with the one-hot matrix (B*T, V) built by comparison."""
    V, D = C_shape
    onehot = (ix.reshape(-1, 1) == np.arange(V)).astype(demb.dtype)
    return onehot.T @ demb.reshape(-1, D)


EMB_BACKWARDS: dict[str, Callable[[tuple[int, int], np.ndarray, np.ndarray], np.ndarray]] = {
    "np.add.at": emb_add_at,
    "bincount (flat)": emb_bincount,
    "bincount per column": emb_bincount_columns,
    "one-hot matmul": emb_onehot_matmul,
}


# plain numpy --------------------------------------------------------------------------------------------
class HandNumpyMLP:
    """The step written out in numpy with its analytic backward: the floor for any numpy engine."""

    def __init__(self, X: np.ndarray, Y: np.ndarray, init: dict[str, np.ndarray], batch: int,
                 emb_backward: str = "bincount (flat)", seed: int = SEED) -> None:
        self.X, self.Y, self.batch = X, Y, batch
        self.p = {k: v.copy() for k, v in init.items()}
        self.rng = np.random.default_rng([seed, 1])  # the same minibatch stream as gradkit's fit
        self.rows = np.arange(batch)
        self.emb_backward = EMB_BACKWARDS[emb_backward]
        self.last_loss = math.nan

    def __call__(self, k: int) -> None:
        for _ in range(k):
            self.step(self.rng.integers(0, self.X.shape[0], self.batch))

    def step(self, ix: np.ndarray) -> Any:
        C, W1, b1, W2, b2 = (self.p[k] for k in ("C", "W1", "b1", "W2", "b2"))
        B, rows = self.batch, self.rows
        Xb, Yb = self.X.take(ix, axis=0), self.Y.take(ix)  # = X[ix], Y[ix]; take is faster
        # forward
        embcat = C.take(Xb, axis=0).reshape(B, -1)     # C[Xb]: (B, block * n_embd)
        h = embcat @ W1
        h += b1
        np.tanh(h, out=h)                              # (B, n_hidden)
        logits = h @ W2
        logits += b2                                   # (B, vocab)
        logits -= logits.max(axis=1, keepdims=True)    # shifted: the stable softmax
        e = np.exp(logits)
        s = e.sum(axis=1, keepdims=True)
        loss = np.log(s).mean() - logits[rows, Yb].mean()
        # backward: dlogits = (softmax - onehot) / B
        dlogits = e
        dlogits /= s
        dlogits[rows, Yb] -= 1.0
        dlogits *= 1.0 / B
        dW2 = h.T @ dlogits
        db2 = dlogits.sum(axis=0)
        dh = dlogits @ W2.T
        hh = h * h
        np.subtract(1.0, hh, out=hh)
        dh *= hh                                       # through tanh
        dW1 = embcat.T @ dh
        db1 = dh.sum(axis=0)
        demb = dh @ W1.T
        dC = self.emb_backward(C.shape, Xb, demb)
        # SGD, in place
        for p, g in ((C, dC), (W1, dW1), (b1, db1), (W2, dW2), (b2, db2)):
            g *= LR
            p -= g
        self.last_loss = loss
        return loss


# PyTorch ------------------------------------------------------------------------------------------------
class TorchMLP:
    """PyTorch CPU eager, as the course writes it: ``C[X[ix]]``, ``torch.tanh``, ``F.cross_entropy``, backward.

    ``update="optim"``: ``torch.optim.SGD`` (``zero_grad(); backward(); step()``, the same calls as gradkit's
    loop); ``update="manual"``: the course's ``p.grad = None`` / ``p.data += -lr * p.grad``.
    Minibatch indices come from ``torch.randint`` (or from ``ix_source``, for the cross-check).
    """

    def __init__(self, torch: Any, X: np.ndarray, Y: np.ndarray, init: dict[str, np.ndarray], batch: int,
                 update: str = "optim", ix_source: Callable[[], np.ndarray] | None = None) -> None:
        import torch.nn.functional as F

        self.torch, self.F, self.batch, self.update = torch, F, batch, update
        self.X, self.Y = torch.from_numpy(X), torch.from_numpy(Y)
        self.params = [torch.tensor(init[k], requires_grad=True) for k in ("C", "W1", "b1", "W2", "b2")]
        self.opt = torch.optim.SGD(self.params, lr=LR)
        self.gen = torch.Generator().manual_seed(SEED)
        self.ix_source = ix_source
        self.losses: list[float] = []

    def __call__(self, k: int) -> None:
        torch, F, B = self.torch, self.F, self.batch
        C, W1, b1, W2, b2 = self.params
        n = self.X.shape[0]
        for _ in range(k):
            if self.ix_source is None:
                ix = torch.randint(0, n, (B,), generator=self.gen)
            else:
                ix = torch.from_numpy(self.ix_source())
            emb = C[self.X[ix]]
            h = torch.tanh(emb.view(B, -1) @ W1 + b1)
            logits = h @ W2 + b2
            loss = F.cross_entropy(logits, self.Y[ix])
            if self.update == "optim":
                self.opt.zero_grad()
                loss.backward()
                self.opt.step()
            else:
                for p in self.params:
                    p.grad = None
                loss.backward()
                for p in self.params:
                    p.data += -LR * p.grad
            if self.ix_source is not None:
                self.losses.append(loss.item())


def verify(torch: Any, steps: int = 5) -> dict[str, float]:
    """The three implementations take the same steps: from gradkit's init, with the same minibatches (float64),
    their losses agree. Returns the largest |difference| of each against gradkit; raises AssertionError when
    one is off by more than 1e-9 (an error in the hand-written backward, not rounding)."""
    from gradkit import backends

    backend = backends.get_backend("numpy")
    X, Y = train_arrays(backend)
    out: dict[str, float] = {}
    for batch in (32, 8192):
        g = GradkitMLP(backend, batch, "float64")
        g.run.config.log_every = 1
        init = g.weights()
        g(steps)
        reference = np.array(g.losses())
        hand = {name: HandNumpyMLP(X, Y, init, batch, emb_backward=name) for name in EMB_BACKWARDS}
        got = {}
        for name, h in hand.items():
            got[f"numpy hand ({name})"] = [float(h.step(h.rng.integers(0, X.shape[0], batch))) for _ in range(steps)]
        if torch is not None:
            rng = np.random.default_rng([SEED, 1])
            t = TorchMLP(torch, X, Y, init, batch,
                         ix_source=lambda r=rng, b=batch: r.integers(0, X.shape[0], b))
            t(steps)
            got["torch"] = t.losses
        for name, losses in got.items():
            diff = float(np.max(np.abs(np.array(losses) - reference)))
            out[f"{name}, batch {batch}"] = diff
            assert diff <= 1e-9, f"{name} at batch {batch} disagrees with gradkit: {losses} vs {reference.tolist()}"
    return out
