"""gradkit.compile on steps written the way the lectures write them: parameters in a list, data tensors and an
optimizer captured from the enclosing scope, a fresh index tensor each call. They compile without a warning and
give the eager step's numbers bit for bit."""

from __future__ import annotations

import textwrap
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import gradkit as gk
import gradkit.nn.functional as F
from gradkit.compile import GradkitCompileWarning

STEPS = 30


def _lecture_mlp(backend: Any, update: str) -> tuple[Callable[[gk.Tensor], gk.Tensor], list[gk.Tensor], Any]:
    """makemore part 2's MLP, its parameters in a list and its data in tensors of the enclosing scope; ``update``:
    the lecture's ``p.data += -lr * p.grad`` with a global-style lr, or a captured SGD / AdamW."""
    g = gk.Generator().manual_seed(2147483647)
    rng = np.random.default_rng(0)
    Xtr = gk.tensor(rng.integers(0, 27, (200, 3)), device=backend)
    Ytr = gk.tensor(rng.integers(0, 27, 200), device=backend)
    C = gk.randn((27, 10), generator=g, device=backend)
    W1 = gk.randn((30, 64), generator=g, device=backend) * 0.2
    b1 = gk.randn(64, generator=g, device=backend) * 0.01
    W2 = gk.randn((64, 27), generator=g, device=backend) * 0.01
    b2 = gk.randn(27, generator=g, device=backend) * 0
    parameters = [C, W1, b1, W2, b2]
    for p in parameters:
        p.requires_grad = True
    opt = {"sgd": lambda: gk.optim.SGD(parameters, lr=0.1, momentum=0.9),
           "accumulate": lambda: gk.optim.SGD(parameters, lr=0.1, momentum=0.9),
           "adamw": lambda: gk.optim.AdamW(parameters, lr=1e-2, weight_decay=0.01)}.get(update, lambda: None)()
    settings = {"lr": 0.1}

    def step(ix: gk.Tensor) -> gk.Tensor:
        emb = C[Xtr[ix]]
        h = gk.tanh(emb.view(-1, 30) @ W1 + b1)
        logits = h @ W2 + b2
        loss = F.cross_entropy(logits, Ytr[ix])
        if opt is None:
            for p in parameters:
                p.grad = None
            loss.backward()
            lr = settings["lr"]
            for p in parameters:
                p.data += -lr * p.grad
        elif update == "accumulate":  # nanoGPT's gradient accumulation: .grad summed in place over micro-steps
            opt.zero_grad(set_to_none=False)
            for part in (ix[:16], ix[16:]):
                h = gk.tanh(C[Xtr[part]].view(-1, 30) @ W1 + b1)
                (F.cross_entropy(h @ W2 + b2, Ytr[part]) / 2).backward()
            opt.step()
            return loss.detach()
        else:
            opt.zero_grad()
            loss.backward()
            opt.step()
        return loss

    return step, parameters, (opt, settings)


def _run(backend: Any, update: str, compiled: bool) -> tuple[np.ndarray, list[np.ndarray], Any]:
    step, parameters, (opt, settings) = _lecture_mlp(backend, update)
    fn = gk.compile(step) if compiled else step
    rng = np.random.default_rng(1)
    losses = []
    for i in range(STEPS):
        if i == STEPS // 2:  # the lecture's learning-rate decay, changed outside the step
            if opt is None:
                settings["lr"] = 0.01
            else:
                opt.param_groups[0]["lr"] *= 0.1
        ix = gk.tensor(rng.integers(0, 200, 32), device=backend)
        losses.append(fn(ix).item())
    return np.array(losses), [p.numpy() for p in parameters], fn


@pytest.mark.parametrize("update", ["data", "sgd", "adamw", "accumulate"])
def test_closure_style_step_compiles_and_matches_eager(backend: Any, update: str) -> None:
    eager_losses, eager_params, _ = _run(backend, update, compiled=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", GradkitCompileWarning)
        losses, params, fn = _run(backend, update, compiled=True)
    np.testing.assert_array_equal(losses, eager_losses, strict=True)
    for a, b in zip(params, eager_params, strict=True):
        np.testing.assert_array_equal(a, b, strict=True)
    assert fn.stats["eager"] == 0 and fn.stats["replays"] >= STEPS - 4
    # the lecture's global lr is a guarded Python number: one more trace when it changes; an optimizer's lr is
    # read from its tensor: no new trace
    assert fn.stats["traces"] == (2 if update == "data" else 1)


def test_a_replaced_parameter_is_seen(backend: Any) -> None:
    """A list entry replaced between calls (another Tensor object) traces again instead of using the old one."""
    step, parameters, _ = _lecture_mlp(backend, "sgd")
    fn = gk.compile(step)
    ix = gk.tensor(np.arange(32) % 200, device=backend)
    for _ in range(3):
        fn(ix)
    assert fn.stats["replays"] == 1
    before = fn.stats["traces"]
    parameters[4] = gk.zeros(27, device=backend, requires_grad=True)  # the list the optimizer holds is another
    fn(ix)
    assert fn.stats["replays"] == 1 and fn.stats["traces"] + fn.stats["warmups"] == before + 2


def test_a_module_level_step_is_not_its_own_state(backend: Any) -> None:
    """A script's step named ``step`` that calls ``optimizer.step()``: the attribute name is no global read, so
    the compiled function itself (whose stats change every call) is not guarded, and the step replays."""
    source = textwrap.dedent("""
        import gradkit as torch
        W = torch.randn(3, 2, requires_grad=True, device=BE)
        optimizer = torch.optim.SGD([W], lr=0.1)

        @torch.compile
        def step(x):
            loss = ((x @ W) ** 2).sum()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            return loss

        for i in range(6):
            step(torch.ones(4, 3, device=BE) * i)
    """)
    namespace = {"BE": backend, "__name__": "script"}
    with warnings.catch_warnings():
        warnings.simplefilter("error", GradkitCompileWarning)
        exec(compile(source, "script.py", "exec"), namespace)  # noqa: S102
    assert namespace["step"].stats == {"warmups": 1, "traces": 1, "replays": 4, "eager": 0}


def _padded_step(backend: Any) -> tuple[Callable[[gk.Tensor], gk.Tensor], list[gk.Tensor]]:
    """makemore.py's targets: -1 after a word's end, ``ignore_index=-1``; the data captured, the batch an index."""
    rng = np.random.default_rng(3)
    Xtr = gk.tensor(rng.integers(0, 27, (64, 3)), device=backend)
    Ytr = gk.tensor(np.where(np.arange(64) < 40, rng.integers(0, 27, 64), -1), device=backend)  # rows 40+ padded
    W = gk.tensor(rng.normal(0.0, 0.3, (27, 27)), device=backend, dtype="float32", requires_grad=True)
    opt = gk.optim.SGD([W], lr=0.5)

    def step(ix: gk.Tensor) -> gk.Tensor:
        logits = W[Xtr[ix][:, -1]]
        loss = F.cross_entropy(logits, Ytr[ix], ignore_index=-1)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    return step, [W]


def test_ignored_targets_in_captured_data_are_a_guarded_branch(backend: Any) -> None:
    """cross_entropy branches on the targets (are some ignored?). Read from captured data that the step leaves
    unchanged, that branch is a guard: batches with and without ignored targets each replay their own trace,
    with eager's numbers and no warning."""
    results = []
    for compiled in (False, True):
        step, params = _padded_step(backend)
        fn = gk.compile(step) if compiled else step
        with warnings.catch_warnings():
            warnings.simplefilter("error", GradkitCompileWarning)
            losses = [fn(gk.tensor(np.arange(8) + (8 * k) % 56, device=backend)).item() for k in range(14)]
        results.append((np.array(losses), params[0].numpy()))
    np.testing.assert_array_equal(results[0][0], results[1][0], strict=True)
    np.testing.assert_array_equal(results[0][1], results[1][1], strict=True)
    assert fn.stats["eager"] == 0 and fn.stats["traces"] == 2 and fn.stats["replays"] >= 9


def test_index_tensors_count_from_the_end_and_refuse_what_is_out_of_range(backend: Any) -> None:
    """Negative minibatch indices read from the end, eager and compiled alike (their gradient too); an index out
    of range raises torch's IndexError in both, before any parameter changes."""
    runs = []
    for compiled in (False, True):
        step, parameters, _ = _lecture_mlp(backend, "sgd")
        fn = gk.compile(step) if compiled else step
        rng = np.random.default_rng(5)
        losses = [fn(gk.tensor(rng.integers(-200, 200, 32), device=backend)).item() for _ in range(5)]
        before = [p.numpy() for p in parameters]
        bad = gk.tensor(np.r_[np.arange(31), 200], device=backend)
        # (a replay's check on a backend whose take does not raise names the tensor's shape, not the index)
        words = "index 200 is out of bounds for dimension 0 with size 200"
        if compiled and backend.name != "numpy":
            words = r"out of bounds for a tensor of shape \(200, 3\)"
        with pytest.raises(IndexError, match=words):
            fn(bad)
        for a, b in zip(before, parameters, strict=True):
            np.testing.assert_array_equal(a, b.numpy(), strict=True)
        runs.append((losses, before))
    assert runs[0][0] == runs[1][0]
    for a, b in zip(runs[0][1], runs[1][1], strict=True):
        np.testing.assert_array_equal(a, b, strict=True)
    assert fn.stats["replays"] >= 2


def test_a_rebound_array_is_checked_again(backend: Any) -> None:
    """A captured tensor whose array is rebound between calls (``.data =``): the replay checks the new array (the
    same shape: it replays with it; another shape: it traces again, not a reshape of the old size)."""
    def run(compiled: bool) -> list[np.ndarray]:
        W = gk.tensor(np.arange(6.0).reshape(2, 3), device=backend, dtype="float32")

        def step(x: gk.Tensor) -> gk.Tensor:
            with gk.no_grad():
                W.add_(x)
            return W.reshape(-1)[1:].sum() * x.sum()

        fn = gk.compile(step) if compiled else step
        out = [fn(gk.ones(3, device=backend)) for _ in range(3)]
        for shape in ((2, 3), (4, 3)):
            W.data = gk.tensor(np.full(shape, 10.0), device=backend, dtype="float32")
            out += [fn(gk.ones(3, device=backend)) for _ in range(3)]
        if compiled:
            assert fn.stats["replays"] >= 4 and fn.stats["eager"] == 0
        return [o.numpy() for o in out] + [W.numpy()]

    for a, b in zip(run(False), run(True), strict=True):
        np.testing.assert_array_equal(a, b, strict=True)


def test_an_argument_that_aliases_a_written_input_is_not_replayed(backend: Any) -> None:
    """The replay computes cross_entropy's branch on the targets before the step's writes. Called with the very
    tensor the step increments as its targets, that order would read them before the increment: the call is not
    replayed, and raises as eager does (the incremented targets are no class indices)."""
    T = gk.tensor([1, 2], device=backend)
    logits = gk.zeros(2, 3, device=backend)

    def step(t: gk.Tensor) -> gk.Tensor:
        with gk.no_grad():
            T.add_(1)
        return F.cross_entropy(logits, t)

    fn = gk.compile(step)
    for _ in range(3):
        fn(gk.tensor([0, 1], device=backend))
    assert fn.stats["replays"] == 1
    with gk.no_grad():
        T.copy_(gk.tensor([1, 2], device=backend))  # in place: the array the replay last saw; the step makes [2, 3]
    with pytest.raises(ValueError, match="not a class index"):
        fn(T)


WRITES = {  # writes into a part of a tensor the step computed (a non-leaf: rebased onto the write, as torch's)
    "index add": "h[:, 0] += 100.0",
    "index assign": "h[0] = 5.0",
    "add_ of a column": "h[:, 0].add_(x[:, 1])",
    "mul_ of a slice": "h[:, :1].mul_(3.0)",
    "view assign": "h.view(4)[0] = 7.0",
    "masked_fill_": "h.masked_fill_(x > 1.5, -1.0)",
}


@pytest.mark.parametrize("requires_grad", [True, False])
@pytest.mark.parametrize("write", list(WRITES))
def test_a_write_into_part_of_an_intermediate_replays_as_eager(backend: Any, write: str,
                                                               requires_grad: bool) -> None:
    """``h = x @ W`` then a write into part of ``h``, ``h.sum()`` and (with grad) ``backward``: every replay makes
    the write (the engine's copy-on-write put is a write in the program, not a pure call) and gives eager's loss
    and gradient."""
    source = textwrap.dedent(f"""
        def step(x):
            h = x @ W
            {WRITES[write]}
            loss = (h * h).sum()
            if W.requires_grad:
                W.grad = None
                loss.backward()
            return loss
    """)

    def run(compiled: bool) -> list[np.ndarray]:
        namespace = {"W": gk.tensor([[1.0, 2.0], [3.0, 4.0]], device=backend, requires_grad=requires_grad)}
        exec(compile(source, "script.py", "exec"), namespace)  # noqa: S102
        fn = gk.compile(namespace["step"]) if compiled else namespace["step"]
        out = []
        for i in range(5):
            out.append(fn(gk.full((2, 2), float(i), device=backend)).numpy())
            if requires_grad:
                out.append(namespace["W"].grad.numpy())
        if compiled:
            assert fn.stats["replays"] == 3 and fn.stats["eager"] == 0
        return out

    with warnings.catch_warnings():
        warnings.simplefilter("error", GradkitCompileWarning)
        for a, b in zip(run(False), run(True), strict=True):
            np.testing.assert_array_equal(a, b, strict=True)


READS = {  # how a script's step reaches a learning rate that changes between calls
    "a global read by a helper": ("lr = 0.0\ndef update():\n    W.data -= lr * W.grad\n", "lr = LR", "update()"),
    "a list entry": ("lrs = [0.0]\n", "lrs[0] = LR", "W.data -= lrs[0] * W.grad"),
    "a global read by a method": ("lr = 0.0\nclass Updater:\n    def update(self):\n        W.data -= lr * W.grad\n"
                                  "updater = Updater()\n", "lr = LR", "updater.update()"),
    "a global read directly": ("lr = 0.0\n", "lr = LR", "W.data -= lr * W.grad"),
    "a class attribute read by a helper": ("class Cfg:\n    lr = 0.0\ndef rate():\n    return Cfg.lr\n",
                                           "Cfg.lr = LR", "W.data -= rate() * W.grad"),
    "a default argument": ("def rate(lr=0.0):\n    return lr\n", "rate.__defaults__ = (LR,)",
                           "W.data -= rate() * W.grad"),
    "an object a partial binds": ("import functools\nclass H:\n    lr = 0.0\nh = H()\n"
                                  "update = functools.partial(lambda c, g: c.lr * g, h)\n", "h.lr = LR",
                                  "W.data -= update(W.grad)"),
    "a 0-d numpy array": ("import numpy\nlr = numpy.array(0.0)\n", "lr[...] = LR", "W.data -= float(lr) * W.grad"),
    "a tuple class attribute": ("class Cfg:\n    lrs = (0.0, 0.0)\n", "Cfg.lrs = (LR, 0.0)",
                                "W.data -= Cfg.lrs[0] * W.grad"),
    "a set": ("flags = set()\n", "flags.clear(); flags.add(LR)", "W.data -= max(flags) * W.grad"),
    "a user module's attribute": ("import types\nhp = types.ModuleType('hparams')\nhp.lr = 0.0\n", "hp.lr = LR",
                                  "W.data -= hp.lr * W.grad"),
    "a class default an instance shadows": ("class Opt:\n    lr = 0.0\n    def rate(self):\n        return self.lr\n"
                                            "opt = Opt()\n", "setattr(opt if LR >= 3 else Opt, 'lr', LR)",
                                            "W.data -= opt.rate() * W.grad"),
}


@pytest.mark.parametrize("where", list(READS))
def test_a_changed_python_number_anywhere_the_step_reads_traces_again(backend: Any, where: str) -> None:
    """A Python number the step reads (directly, through a helper function or a method, or in a list) and that
    changes between calls traces again: never the value of the traced call, silently."""
    setup, change, use = READS[where]
    step = setup + f"def step(x):\n    loss = (W * x).sum()\n    W.grad = None\n    loss.backward()\n    {use}\n"
    loop = textwrap.dedent(f"""
        decreases = []
        for LR in (1.0, 2.0, 3.0, 4.0, 5.0, 6.0):
            {change}
            before = W.numpy()[0]
            run(torch.ones(3, device=BE))
            decreases.append(float(before - W.numpy()[0]))
    """)
    namespace = {"torch": gk, "BE": backend, "__name__": "script", "W": gk.ones(3, device=backend,
                                                                                   requires_grad=True)}
    exec(compile(step, "script.py", "exec"), namespace)  # noqa: S102
    namespace["run"] = fn = gk.compile(namespace["step"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", GradkitCompileWarning)
        exec(compile(loop, "script.py", "exec"), namespace)  # noqa: S102
    assert namespace["decreases"] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    assert fn.stats["traces"] == 5 and fn.stats["eager"] == 0


def test_two_equal_gathers_stay_two_copies_when_one_is_written(backend: Any) -> None:
    """``a = X[ix]; b = X[ix]; a += 1``: the program computes each gather once only while neither copy is written
    (a merged pair would show ``b`` the write)."""
    X = gk.tensor(np.arange(12.0).reshape(4, 3), device=backend)

    def step(ix: gk.Tensor) -> gk.Tensor:
        a, b = X[ix], X[ix]
        a += 1
        return b.sum() * 10 + a.sum()

    fn = gk.compile(step)
    for i in range(5):
        ix = gk.tensor([i % 4, (i + 1) % 4], device=backend)
        assert fn(ix).item() == step(ix).item()
    assert fn.stats["replays"] == 3


def test_the_lectures_range_indexing_compiles(backend: Any) -> None:
    """part 1's ``-logprobs[range(n), Yb].mean()`` and part 4's ``dlogits[range(n), Yb] -= 1`` inside a compiled
    step: the range is an arange made on the device (a constant of the program), not host data, so the step
    replays without a warning and gives eager's numbers."""
    rng = np.random.default_rng(7)
    X = gk.tensor(rng.normal(size=(50, 4)), device=backend, dtype="float32")
    Y = gk.tensor(rng.integers(0, 5, 50), device=backend)

    def run(compiled: bool) -> list[np.ndarray]:
        W = gk.tensor(np.linspace(-1.0, 1.0, 20).reshape(4, 5), device=backend, dtype="float32",
                      requires_grad=True)

        def step(ix: gk.Tensor) -> tuple[gk.Tensor, gk.Tensor]:
            logits = X[ix] @ W
            loss = -F.log_softmax(logits, 1)[range(8), Y[ix]].mean()
            W.grad = None
            loss.backward()
            with gk.no_grad():
                dlogits = F.softmax(logits, 1)
                dlogits[range(8), Y[ix]] -= 1
                W.data -= 0.1 * (X[ix].T @ dlogits) / 8
            return loss, W.grad

        fn = gk.compile(step) if compiled else step
        out = [x.numpy() for i in range(5) for x in fn(gk.tensor((np.arange(8) * 7 + i) % 50, device=backend))]
        if compiled:
            assert fn.stats["replays"] == 3
        return [*out, W.detach().numpy()]

    with warnings.catch_warnings():
        warnings.simplefilter("error", GradkitCompileWarning)
        for a, b in zip(run(False), run(True), strict=True):
            np.testing.assert_array_equal(a, b, strict=True)


def test_eval_after_the_trace_is_seen(backend: Any) -> None:
    """``model.eval()`` on a fresh model (``training`` still the class default when the step was traced) between
    calls: BatchNorm switches to its running statistics in the compiled step too, as eagerly."""
    def run(compiled: bool) -> list[float]:
        gk.manual_seed(0)
        model = gk.nn.Sequential(gk.nn.Linear(4, 8, device=backend), gk.nn.BatchNorm1d(8, backend=backend),
                                 gk.nn.Linear(8, 2, device=backend))
        opt = gk.optim.SGD(model.parameters(), lr=0.1)
        X, Y = gk.randn(32, 4, device=backend), gk.randint(0, 2, (32,), device=backend)

        def step(ix: gk.Tensor) -> gk.Tensor:
            loss = F.cross_entropy(model(X[ix]), Y[ix])
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss

        fn = gk.compile(step) if compiled else step
        out = []
        for i in range(6):
            if i == 3:
                model.eval()
            out.append(fn(gk.arange(8, device=backend) + i).item())
        return out + model[1].running_mean.tolist()

    with warnings.catch_warnings():
        warnings.simplefilter("error", GradkitCompileWarning)
        assert run(True) == run(False)
