"""The read-only backend (numpy whose arrays refuse writes, as JAX's): every change of a tensor's contents goes
through the one door, which rebinds there. Training (eager and compiled) and PyTorch's in-place semantics give
the numpy backend's numbers bit for bit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from gradkit.backends.readonly_backend import ReadOnlyBackend

import gradkit as gk
from gradkit.data import load_words
from gradkit.train import TrainConfig, fit, new_run, prepare

NUMPY = gk.get_backend("numpy")
READONLY = ReadOnlyBackend()

TINY: dict[str, dict[str, Any]] = {
    "bigram": {}, "mlp": {"n_embd": 4, "n_hidden": 16}, "bnmlp": {"n_embd": 4, "n_hidden": 16, "n_layer": 2},
    "wavenet": {"n_embd": 4, "n_hidden": 16}, "bow": {"n_embd": 8, "n_embd2": 8}, "rnn": {"n_embd": 8, "n_embd2": 8},
    "gru": {"n_embd": 8, "n_embd2": 8}, "transformer": {"n_embd": 8, "n_layer": 1, "n_head": 2},
}


def test_its_arrays_refuse_writes() -> None:
    t = gk.zeros(3, device=READONLY)
    with pytest.raises(ValueError, match="read-only"):
        t._data[0] = 1.0  # only the door may change a tensor, and it rebinds here
    t[0] = 1.0
    assert t.tolist() == [1.0, 0.0, 0.0] and not t._data.flags.writeable and t._version == 1


def _train(kind: str, backend: Any, compiled: bool) -> tuple[list, dict[str, np.ndarray]]:
    config = TrainConfig.of(kind, max_steps=40, batch_size=4, dtype="float64", log_every=3, **TINY[kind])
    words = load_words()[:200]
    config = config.resolved().fit_to(words)
    splits = prepare(words, config, backend)
    run = fit(new_run(config, splits.vocab, backend), splits, compiled=compiled)
    state = {k: v.numpy() for k, v in run.model.state_dict().items()}
    return run.history, state


@pytest.mark.parametrize("compiled", [False, True])
@pytest.mark.parametrize("kind", list(TINY))
def test_training_gives_numpys_numbers(kind: str, compiled: bool) -> None:
    history, state = _train(kind, NUMPY, compiled=False)
    history_ro, state_ro = _train(kind, READONLY, compiled=compiled)
    assert history == history_ro
    for name, value in state.items():
        np.testing.assert_array_equal(state_ro[name], value, err_msg=name, strict=True)


def _semantics() -> dict[str, Callable[[Any], Any]]:
    """PyTorch's in-place idioms, each returning arrays to compare across backends."""

    def t(be: Any, v: Any, **kw: Any) -> gk.Tensor:
        return gk.tensor(v, device=be, dtype=gk.float64, **kw)

    def alias(be: Any) -> Any:
        y = t(be, [1.0, 2.0, 3.0])
        z = y
        y += 1
        return [z, y]

    def graph(be: Any) -> Any:
        x = t(be, [1.0, 2.0, 3.0], requires_grad=True)
        w = t(be, [4.0], requires_grad=True)
        y = x * 1
        v = y[1:]
        y[0:2] = w * 2
        y.mul_(x)
        (v * t(be, [1.0, 10.0])).sum().backward()
        return [y, v, x.grad, w.grad]

    def views(be: Any) -> Any:
        b = gk.zeros(2, 3, device=be, dtype=gk.float64)
        v = b.t()
        v[0, 1] = 5
        u = b.view(6)
        u[5] = 9
        row = b[1]
        row += 1
        return [b, v, u, row]

    def part4(be: Any) -> Any:
        demb = t(be, [[1.0, 2.0], [3.0, 4.0]], requires_grad=True) * 1
        dC = gk.zeros(3, 2, device=be, dtype=gk.float64)
        ix = gk.tensor([2, 0], device=be)
        for k in range(2):
            dC[ix[k]] += demb[k]
        (dC * t(be, [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])).sum().backward()
        return [dC]

    def optimizer(be: Any) -> Any:
        p = t(be, [1.0, -2.0, 3.0], requires_grad=True)
        opt = gk.optim.AdamW([p], lr=0.1)
        for _ in range(3):
            opt.zero_grad()
            (p * p).sum().backward()
            opt.step()
        return [p, *opt.state[p].values()]

    def data(be: Any) -> Any:
        p = t(be, [1.0, -2.0, 3.0], requires_grad=True)
        (p * p).sum().backward()
        seen = p.data
        p.data += -0.5 * p.grad  # the course's SGD update: the alias and p both change
        return [p, seen, p.grad]

    def zero_d(be: Any) -> Any:
        s = gk.ones(3, device=be, dtype=gk.float64).sum()
        s += 1
        s.mul_(2)
        return [s]

    return {"alias": alias, "graph": graph, "views": views, "part4": part4, "optimizer": optimizer, "data": data,
            "zero_d": zero_d}


@pytest.mark.parametrize("case", list(_semantics()))
def test_in_place_semantics_give_numpys_numbers(case: str) -> None:
    fn = _semantics()[case]
    for a, b in zip(fn(NUMPY), fn(READONLY), strict=True):
        np.testing.assert_array_equal(b.numpy(), a.numpy(), strict=True)
