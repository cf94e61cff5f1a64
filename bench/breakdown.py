"""Where the MLP step's time goes, op by op: gradkit's ``fit`` step against the hand-written numpy step.

    python bench/breakdown.py [--batch 8192] [--dtype float32] [--rounds 30] [--smoke]

A diagnostic for the engine's authors, not part of ``nox -s bench``: it times each op's forward and backward
inside gradkit (by wrapping ``functional.linear``, ``functional.cross_entropy``, ``ops.tanh``, ``ops.getitem``,
``ops.reshape`` and each recorded node's backward function) and the matching lines of the hand-written step,
one step of each per round, interleaved, and prints the medians in ms with the minor page faults per step.
The wrappers add a few µs per op, so at small batches the per-op figures are upper bounds.
"""

from __future__ import annotations

import argparse
import collections
import resource
import statistics
import sys
import time
from typing import Any

import common
import mlp_step
import numpy as np

import gradkit.functional as functional
import gradkit.ops as ops
from gradkit import backends
from gradkit.tensor import Tensor

OPS = ("gather", "emb fwd", "flatten", "linear1 fwd", "tanh fwd", "linear2 fwd", "CE fwd", "CE bwd", "linear2 bwd",
       "tanh bwd", "linear1 bwd", "emb bwd", "backward engine", "sgd")


class GradkitTimed:
    """One ``fit``-equivalent step with each op timed (forward by wrapping the functions the modules call,
    backward by wrapping the backward function each node records)."""

    def __init__(self, g: mlp_step.GradkitMLP) -> None:
        self.g = g
        self.t: dict[str, float] = collections.defaultdict(float)
        self.linears = 0
        self._patch()

    def _patch(self) -> None:
        t = self.t
        original_node = Tensor._node.__func__  # type: ignore[attr-defined]
        names = {"cross_entropy": "CE", "tanh": "tanh", "gather": "emb", "reshape": "flatten"}
        timed_self = self

        def node(cls: Any, data: Any, parents: Any, backward: Any, op: str, saved: Any = ()) -> Any:
            if op == "linear":
                label = f"linear{timed_self.linears} bwd"
            else:
                label = f"{names.get(op, op)} bwd"

            def timed(grad: Any, _b: Any = backward, _label: str = label) -> Any:
                t0 = time.perf_counter()
                out = _b(grad)
                t[_label] += time.perf_counter() - t0
                return out

            return original_node(cls, data, parents, timed, op, saved)

        Tensor._node = classmethod(node)  # type: ignore[method-assign, assignment]

        def wrap(module: Any, name: str, label: str) -> None:
            fn = getattr(module, name)

            def timed(*args: Any, **kwargs: Any) -> Any:
                if name == "linear":
                    timed_self.linears += 1
                    key = f"linear{timed_self.linears} fwd"
                else:
                    key = label
                t0 = time.perf_counter()
                out = fn(*args, **kwargs)
                t[key] += time.perf_counter() - t0
                return out

            setattr(module, name, timed)

        wrap(functional, "linear", "linear")
        wrap(functional, "cross_entropy", "CE fwd")
        wrap(ops, "tanh", "tanh fwd")
        wrap(ops, "getitem", "emb fwd")
        wrap(ops, "reshape", "flatten")

    def step(self) -> dict[str, float]:
        self.t.clear()
        self.linears = 0
        run, g = self.g.run, self.g
        X, Y = g.splits.tensors["train"]
        be, xp = g.backend, g.backend.xp
        t0 = time.perf_counter()
        ix = be.asarray(run.rng.integers(0, X.shape[0], run.config.batch_size))
        Xb, Yb = Tensor._wrap(xp.take(X._data, ix, axis=0), be), Tensor._wrap(xp.take(Y._data, ix), be)
        t1 = time.perf_counter()
        loss = run.model.loss(Xb, Yb)
        run.optimizer.zero_grad()
        t2 = time.perf_counter()
        self.linears = 3  # the backward meets linear2 first; node labels were fixed at forward time
        loss.backward()
        t3 = time.perf_counter()
        run.optimizer.step()
        t4 = time.perf_counter()
        out = {k: v for k, v in self.t.items()}
        out["gather"] = t1 - t0
        bwd_ops = sum(v for k, v in self.t.items() if k.endswith("bwd"))
        out["backward engine"] = (t3 - t2) - bwd_ops  # topological order, accumulation, checks
        out["sgd"] = t4 - t3
        return out


def hand_step(h: mlp_step.HandNumpyMLP) -> dict[str, float]:
    """``HandNumpyMLP.step`` with a clock between its lines."""
    C, W1, b1, W2, b2 = (h.p[k] for k in ("C", "W1", "b1", "W2", "b2"))
    B, rows = h.batch, h.rows
    marks = [time.perf_counter()]
    mark = marks.append
    ix = h.rng.integers(0, h.X.shape[0], B)
    Xb, Yb = h.X.take(ix, axis=0), h.Y.take(ix)
    mark(time.perf_counter())
    emb = C.take(Xb, axis=0)
    mark(time.perf_counter())
    embcat = emb.reshape(B, -1)
    mark(time.perf_counter())
    hid = embcat @ W1
    hid += b1
    mark(time.perf_counter())
    np.tanh(hid, out=hid)
    mark(time.perf_counter())
    logits = hid @ W2
    logits += b2
    mark(time.perf_counter())
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    s = e.sum(axis=1, keepdims=True)
    _ = np.log(s).mean() - logits[rows, Yb].mean()
    mark(time.perf_counter())
    d = e
    d /= s
    d[rows, Yb] -= 1.0
    d *= 1.0 / B
    mark(time.perf_counter())
    dW2 = hid.T @ d
    db2 = d.sum(axis=0)
    dh = d @ W2.T
    mark(time.perf_counter())
    hh = hid * hid
    np.subtract(1.0, hh, out=hh)
    dh *= hh
    mark(time.perf_counter())
    dW1 = embcat.T @ dh
    db1 = dh.sum(axis=0)
    demb = dh @ W1.T
    mark(time.perf_counter())
    dC = h.emb_backward(C.shape, Xb, demb)
    mark(time.perf_counter())
    mark(time.perf_counter())  # no engine
    for p, g in ((C, dC), (W1, dW1), (b1, db1), (W2, dW2), (b2, db2)):
        g *= mlp_step.LR
        p -= g
    mark(time.perf_counter())
    return {name: b - a for name, a, b in zip(OPS, marks[:-1], marks[1:], strict=True)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=8192)
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--emb-backward", default="bincount per column", choices=list(mlp_step.EMB_BACKWARDS))
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, in seconds (the test suite runs it)")
    args = common.smoke(parser.parse_args(), batch=64, rounds=1)

    backend = backends.get_backend("numpy")
    g = mlp_step.GradkitMLP(backend, args.batch, args.dtype)
    X, Y = mlp_step.train_arrays(backend)
    h = mlp_step.HandNumpyMLP(X, Y, g.weights(), args.batch, args.emb_backward)
    timed = GradkitTimed(g)
    samples: dict[str, dict[str, list[float]]] = {"gradkit": collections.defaultdict(list),
                                                   "numpy": collections.defaultdict(list)}
    faults: dict[str, list[int]] = {"gradkit": [], "numpy": []}
    totals: dict[str, list[float]] = {"gradkit": [], "numpy": []}
    meter = common.CpuMeter()
    for r in range(args.rounds + 3):
        for name in (("gradkit", "numpy") if r % 2 else ("numpy", "gradkit")):
            f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            t0 = time.perf_counter()
            got = timed.step() if name == "gradkit" else hand_step(h)
            total = time.perf_counter() - t0
            if r >= 3:  # warm-up rounds
                for k, v in got.items():
                    samples[name][k].append(v)
                faults[name].append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
                totals[name].append(total)
    print(f"batch {args.batch} {args.dtype}, {args.rounds} rounds; hand embedding backward: {args.emb_backward}; "
          f"other processes took {meter.foreign_cores()} cores")
    print(f"{'op':16s} {'gradkit ms':>11s} {'numpy ms':>9s} {'extra ms':>9s}")
    for op in OPS:
        a = statistics.median(samples["gradkit"].get(op, [0.0])) * 1e3
        b = statistics.median(samples["numpy"].get(op, [0.0])) * 1e3
        print(f"{op:16s} {a:11.3f} {b:9.3f} {a - b:9.3f}")
    for name in ("gradkit", "numpy"):
        print(f"{name}: step {statistics.median(totals[name]) * 1e3:.3f} ms (timers included), "
              f"{statistics.median(faults[name]):.0f} minor page faults per step")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
