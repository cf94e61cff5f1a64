"""gradkit.compile: a compiled step gives the eager step's numbers bit for bit, or runs eagerly and says why."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import gradkit
from gradkit import backends, functional, nn, ops, optim
from gradkit._statedict import flatten
from gradkit.compile import GradkitCompileWarning, compile
from gradkit.data import load_words
from gradkit.models import MLPClassifier
from gradkit.tensor import Tensor
from gradkit.train import TrainConfig, fit, new_run, prepare

STEPS = 1000


# models: (build(generator, dtype) -> model, loss(model, X, Y) -> Tensor, batch(rng, n) -> (X host, Y host))
def _names_batch(rng: np.random.Generator, n: int, block: int = 3) -> tuple[np.ndarray, np.ndarray]:
    return rng.integers(0, 27, (n, block)), rng.integers(0, 27, n)


def _lm_loss(model: Any, X: Tensor, Y: Tensor) -> Tensor:
    return functional.cross_entropy(model(X), Y)


def _margin_loss(model: Any, X: Tensor, Y: Tensor) -> Tensor:
    """micrograd's max-margin loss with L2 (the classifier's demo loss, without the host-side accuracy)."""
    scores = ops.reshape(model(X), (-1,))
    reg = sum((ops.sum(p * p) for p in model.parameters()), Tensor._wrap(X.backend.zeros((), X.dtype), X.backend))
    return ops.mean(ops.relu(1 - Y * scores)) + reg * 1e-4


def _moons_batch(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    return rng.standard_normal((n, 2)), np.where(rng.random(n) > 0.5, 1.0, -1.0)


# Tiny settings of every trained model type (the registry's), for runs of 1,000 steps.
TINY: dict[str, dict[str, Any]] = {
    "bigram": {}, "mlp": {"n_embd": 4, "n_hidden": 16}, "bnmlp": {"n_embd": 4, "n_hidden": 16, "n_layer": 2},
    "wavenet": {"n_embd": 4, "n_hidden": 16}, "bow": {"n_embd": 8, "n_embd2": 8}, "rnn": {"n_embd": 8, "n_embd2": 8},
    "gru": {"n_embd": 8, "n_embd2": 8}, "transformer": {"n_embd": 8, "n_layer": 1, "n_head": 2},
}


def _lm(kind: str) -> Callable:
    def build(generator: Any, dtype: str) -> Any:
        return TrainConfig.of(kind, **TINY[kind]).resolved().spec.build(27, generator, dtype)

    return build


MODELS: dict[str, tuple[Callable, Callable, Callable]] = {
    "mlp": (_lm("mlp"), _lm_loss, _names_batch),
    "bnmlp": (_lm("bnmlp"), _lm_loss, _names_batch),
    "classifier": (lambda g, dt: MLPClassifier(2, [8, 8, 1], generator=g, dtype=dt), _margin_loss, _moons_batch),
}
OPTIMIZERS: dict[str, Callable[[Any], optim.Optimizer]] = {
    "sgd": lambda m: optim.SGD(m.named_parameters(), lr=0.1),
    "sgd-momentum": lambda m: optim.SGD(m.named_parameters(), lr=0.05, momentum=0.9, nesterov=True,
                                        weight_decay=1e-3),
    "adamw": lambda m: optim.AdamW(m.named_parameters(), lr=1e-2, weight_decay=0.1),
}


def _step(loss_fn: Callable) -> Callable:
    def step(model: Any, optimizer: optim.Optimizer, X: Tensor, Y: Tensor) -> Tensor:
        loss = loss_fn(model, X, Y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss

    return step


def _state(model: Any, optimizer: optim.Optimizer | None) -> dict[str, np.ndarray]:
    out = {f"model.{k}": v.numpy() for k, v in model.state_dict().items()}
    out.update({f"grad.{n}": p.grad.numpy() for n, p in model.named_parameters() if p.grad is not None})
    if optimizer is not None:
        state = optimizer.state_dict()
        out.update({f"opt.{k}": v.numpy() for k, v in flatten(state["state"])})
        out.update({f"group.{i}.lr": np.float64(g["lr"]) for i, g in enumerate(state["param_groups"])})
    return out


def _assert_same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].dtype == b[k].dtype, k
        np.testing.assert_array_equal(a[k], b[k], err_msg=k, strict=True)


def _pair(backend: Any, kind: str, opt: str, dtype: str, steps: int,
          batch: Callable[[int], int] = lambda i: 16) -> tuple[Any, Any]:
    build, loss_fn, make_batch = MODELS[kind]
    runs = []
    for compiled in (False, True):
        model = build(backend.random(0), dtype)
        optimizer = OPTIMIZERS[opt](model)
        step = _step(loss_fn)
        fn = compile(step) if compiled else step
        rng = np.random.default_rng(1)
        losses = []
        for i in range(steps):
            x, y = make_batch(rng, batch(i))
            X = Tensor(x, backend=backend, dtype=dtype if x.dtype.kind == "f" else None)
            Y = Tensor(y, backend=backend, dtype=dtype if y.dtype.kind == "f" else None)
            if i == steps // 2:  # a schedule's drop: the rate's tensor changes, the program stays
                optimizer.param_groups[0]["lr"] *= 0.5
            losses.append(fn(model, optimizer, X, Y))
        runs.append((model, optimizer, fn, np.array([loss.item() for loss in losses])))
    return runs[0], runs[1]


@pytest.fixture(scope="module")
def words() -> list[str]:
    return load_words()[:300]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kind", list(TINY))
def test_training_runs_are_bit_identical(backend: Any, kind: str, dtype: str, words: list[str]) -> None:
    """``train.fit`` compiled (the default) and eager: every model type trained by gradient descent, 1,000 steps
    with its recipe's optimizer and schedule (the lr drop is a traced number: no new trace) give the same
    losses, parameters, buffers and optimizer state, bit for bit. On strict, whose eager steps cost
    milliseconds, 200 steps (50 for the recurrent and attention models)."""
    steps = STEPS if backend.name != "strict" else 200 if kind in ("bigram", "mlp", "bnmlp", "wavenet") else 50
    config = TrainConfig.of(kind, max_steps=steps, batch_size=4, dtype=dtype, log_every=7, **TINY[kind])
    config = config.resolved().fit_to(words)
    runs = []
    for compiled in (False, True):
        splits = prepare(words, config, backend)
        runs.append(fit(new_run(config, splits.vocab, backend), splits, compiled=compiled))
    eager, compiled_run = runs
    assert eager.history == compiled_run.history
    _assert_same(_state(eager.model, eager.optimizer), _state(compiled_run.model, compiled_run.optimizer))
    stats = compiled_run.compiled_step.stats
    assert stats["replays"] >= steps - 3 and stats["traces"] <= 3 and stats["eager"] == 0


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kind,opt", [("mlp", "sgd-momentum"), ("mlp", "adamw"), ("classifier", "sgd-momentum"),
                                      ("bnmlp", "adamw")])
def test_compiled_steps_are_bit_identical(backend: Any, kind: str, opt: str, dtype: str) -> None:
    """The optimizers' other paths (momentum, Nesterov, weight decay, AdamW) and micrograd's classifier: 300
    compiled steps leave parameters, gradients, buffers and optimizer state exactly as eager does, with a
    learning rate that changes half-way (a traced number: no new trace). 300 steps (100 on strict)."""
    steps = 300 if backend.name != "strict" else 100
    (m1, o1, _, l1), (m2, o2, fn, l2) = _pair(backend, kind, opt, dtype, steps)
    np.testing.assert_array_equal(l1, l2, strict=True)
    _assert_same(_state(m1, o1), _state(m2, o2))
    assert fn.stats["replays"] >= steps - 3 and fn.stats["traces"] <= 3 and fn.stats["eager"] == 0


def test_a_new_batch_size_traces_again(backend: Any) -> None:
    """Shapes are part of the signature: each batch size gets its own program, and both stay correct."""
    sizes = lambda i: (8, 16, 8, 5)[i % 4]  # noqa: E731
    (m1, o1, _, l1), (m2, o2, fn, l2) = _pair(backend, "mlp", "sgd", "float64", 40, sizes)
    np.testing.assert_array_equal(l1, l2, strict=True)
    _assert_same(_state(m1, o1), _state(m2, o2))
    assert fn.stats["traces"] == 3 and len(fn.programs()) == 3  # one program per batch size (after a warm-up)
    assert fn.stats["warmups"] == 3 and fn.stats["replays"] >= 30


def _setup(backend: Any) -> tuple[Any, optim.Optimizer, Tensor, Tensor]:
    model = MODELS["mlp"][0](backend.random(0), "float64")
    rng = np.random.default_rng(2)
    x, y = _names_batch(rng, 8)
    return model, optim.SGD(model.named_parameters(), lr=0.1), Tensor(x, backend=backend), Tensor(y, backend=backend)


def _run_both(backend: Any, step: Callable, calls: int = 4, **kwargs: Any) -> tuple[list, list, Any]:
    results = []
    for compiled in (False, True):
        model, opt, X, Y = _setup(backend)
        fn = compile(step, **kwargs) if compiled else step
        outs = [fn(model, opt, X, Y) for _ in range(calls)]
        results.append((outs, _state(model, opt), fn))
    (o1, s1, _), (o2, s2, fn) = results
    _assert_same(s1, s2)
    return o1, o2, fn


def _sgd(model: Any, opt: optim.Optimizer, X: Tensor, Y: Tensor) -> Tensor:
    loss = _lm_loss(model, X, Y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss


def _item(model: Any, opt: optim.Optimizer, X: Tensor, Y: Tensor) -> float:
    return _sgd(model, opt, X, Y).item()


def _branch(model: Any, opt: optim.Optimizer, X: Tensor, Y: Tensor) -> Tensor:
    loss = _sgd(model, opt, X, Y)
    if loss > 3.0:  # Python control flow on an array's value: a host read
        opt.step()
    return loss


def _numpy(model: Any, opt: optim.Optimizer, X: Tensor, Y: Tensor) -> Any:
    return _sgd(model, opt, X, Y).numpy()


def _random(model: Any, opt: optim.Optimizer, X: Tensor, Y: Tensor) -> Tensor:
    noise = Tensor(np.full(model.C.weight.shape, 1e-3), backend=X.backend)  # host data (a random draw, say)
    with gradkit.no_grad():
        model.C.weight.add_(noise)
    return _sgd(model, opt, X, Y)


def _attribute(model: Any, opt: optim.Optimizer, X: Tensor, Y: Tensor) -> Tensor:
    model.calls = getattr(model, "calls", 0) + 1  # a Python value the tape cannot replay
    return _sgd(model, opt, X, Y)


@pytest.mark.parametrize("step,words", [(_item, "reads an array's value"), (_branch, "reads an array's value"),
                                        (_numpy, "reads an array's value"), (_random, "host data"),
                                        (_attribute, "MLPLanguageModel entry 'calls'")])
def test_what_cannot_be_replayed_runs_eagerly_with_one_warning(backend: Any, step: Callable, words: str) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        eager, compiled, fn = _run_both(backend, step, calls=5)
    ours = [w for w in caught if issubclass(w.category, GradkitCompileWarning)]
    assert len(ours) == 1 and words in str(ours[0].message), [str(w.message) for w in ours]
    assert fn.stats["replays"] == 0 and fn.stats["warmups"] + fn.stats["eager"] + fn.stats["traces"] == 5
    for a, b in zip(eager, compiled, strict=True):
        a, b = (a.numpy(), b.numpy()) if isinstance(a, Tensor) else (np.asarray(a), np.asarray(b))
        np.testing.assert_array_equal(a, b, strict=True)


def test_a_model_captured_from_an_enclosing_scope(backend: Any) -> None:
    """A model and optimizer the function reaches by closure are found while tracing (their tensors are inputs,
    their updates outputs): the step replays, with eager's numbers and no warning."""
    model, opt, X, Y = _setup(backend)

    def step(X: Tensor, Y: Tensor) -> Tensor:
        return _sgd(model, opt, X, Y)

    ref_model, ref_opt, _, _ = _setup(backend)
    fn = compile(step)
    with warnings.catch_warnings():
        warnings.simplefilter("error", GradkitCompileWarning)
        for _ in range(5):
            fn(X, Y)
            _sgd(ref_model, ref_opt, X, Y)
    assert fn.stats["replays"] == 3 and fn.stats["eager"] == 0
    _assert_same(_state(model, opt), _state(ref_model, ref_opt))


def test_state_rebound_between_calls_is_seen(backend: Any) -> None:
    """Rebinding a parameter's array (p.data = ..., load_state_dict), replacing a parameter object, or loading
    the optimizer's state between calls: the next call uses what is bound now, exactly as eager."""
    results = []
    for compiled in (False, True):
        model, opt, X, Y = _setup(backend)
        fn = compile(_sgd) if compiled else _sgd
        for _ in range(3):
            fn(model, opt, X, Y)
        model.C.weight.data = Tensor(np.full(model.C.weight.shape, 0.5), backend=backend)
        fn(model, opt, X, Y)
        model.load_state_dict({k: v * 0.5 for k, v in model.state_dict().items()})
        fn(model, opt, X, Y)
        saved = opt.state_dict()
        fn(model, opt, X, Y)
        opt.load_state_dict(saved)
        fn(model, opt, X, Y)
        model.out.bias = nn.Parameter(np.ones(27), backend=backend, dtype="float64")
        opt = optim.SGD(model.named_parameters(), lr=0.1)
        fn(model, opt, X, Y)
        fn(model, opt, X, Y)
        results.append(_state(model, opt))
    _assert_same(*results)


def test_in_place_change_of_an_input_between_calls(backend: Any) -> None:
    """An input changed between calls (the same Tensor reused as a buffer, rebound or written) is read anew."""
    results = []
    for compiled in (False, True):
        model, opt, X, Y = _setup(backend)
        fn = compile(_sgd) if compiled else _sgd
        for k in range(4):
            X.data = X.backend.asarray((X.numpy() + k) % 27)
            Y.copy_(Tensor((Y.numpy() + 1) % 27, backend=backend))
            fn(model, opt, X, Y)
        results.append(_state(model, opt))
    _assert_same(*results)


def test_grad_mode_and_training_mode_are_part_of_the_signature(backend: Any) -> None:
    model, opt, X, Y = _setup(backend)

    def forward(model: Any, X: Tensor, Y: Tensor) -> Tensor:
        return _lm_loss(model, X, Y)

    fn = compile(forward)
    with gradkit.no_grad():
        a = [fn(model, X, Y).item() for _ in range(3)]
    model.eval()
    with gradkit.no_grad():
        b = fn(model, X, Y).item()
    assert a[0] == a[1] == a[2] == b == _lm_loss(model, X, Y).item()
    with pytest.warns(GradkitCompileWarning, match="graph is still alive"):
        fn(model, X, Y)


def test_too_many_traces_give_up_with_a_warning(backend: Any) -> None:
    model, opt, X, Y = _setup(backend)

    def step(model: Any, opt: optim.Optimizer, X: Tensor, Y: Tensor, k: int) -> tuple[Tensor, int]:
        return _sgd(model, opt, X, Y), k  # an int argument is part of the signature

    fn = compile(step, max_traces=3)
    with pytest.warns(GradkitCompileWarning, match="traced 3 times"):
        for k in range(10):
            fn(model, opt, X, Y, k % 5)  # five signatures, each a warm-up and a trace
    assert fn.stats["eager"] >= 2 and fn.stats["traces"] == 3


def test_compile_is_a_decorator_with_arguments() -> None:
    @compile(max_traces=2)
    def f(x: Tensor) -> Tensor:
        """Doc."""
        return x * 2

    assert f.__doc__ == "Doc." and f.__name__ == "f"


class _FakeGraph:
    """A CUDA graph's semantics on the host: launch() reruns the captured function on the very arguments it was
    captured with (fixed buffers, numbers as captured) and writes the results into the captured outputs."""

    def __init__(self, fn: Callable, args: list, outs: list) -> None:
        self.fn, self.args, self.outs = fn, args, outs

    def launch(self) -> None:
        result = self.fn(*self.args)
        for buffer, new in zip(self.outs, [*result[:-2], *result[-1]], strict=True):
            if hasattr(buffer, "shape") and buffer is not new:
                buffer[...] = new


def _fake_capture(log: list) -> Callable:
    def capture(fn: Callable, args: list) -> tuple[_FakeGraph, Any]:
        # capturing runs nothing: the outputs are buffers of the right shapes, filled by each launch
        copies = [a if isinstance(a, (int, float)) else np.array(a, copy=True) for a in args]
        result = fn(*copies)
        outs = [np.zeros_like(o) if hasattr(o, "shape") else o for o in [*result[:-2], *result[-1]]]
        log.append("capture")
        n = len(result) - 2
        return _FakeGraph(fn, args, outs), (*outs[:n], (), tuple(outs[n:]))

    return capture


def test_graph_replay_logic_with_a_fake_graph() -> None:
    """The CUDA graph path on the host with a stand-in graph: captured once, launched afterwards with the new
    minibatch copied into its buffers; a schedule's new lr and AdamW's step count are 0-d tensors the kernels
    read, so they need no new capture; fresh gradient arrays each step; the numbers stay eager's, bit for bit."""
    backend = gradkit.get_backend("numpy")
    log: list = []
    for opt in ("sgd", "adamw"):
        build, loss_fn, make_batch = MODELS["mlp"]
        runs = []
        for compiled in (False, True):
            model = build(backend.random(0), "float64")
            optimizer = OPTIMIZERS[opt](model)
            step = _step(loss_fn)
            fn = compile(step, cuda_graphs=_fake_capture(log)) if compiled else step
            rng = np.random.default_rng(1)
            grads = []
            for i in range(30):
                x, y = make_batch(rng, 8)
                if i == 20:
                    optimizer.param_groups[0]["lr"] = 0.05
                fn(model, optimizer, Tensor(x, backend=backend), Tensor(y, backend=backend))
                grads.append(model.out.weight.grad._data)
            runs.append(_state(model, optimizer))
        _assert_same(*runs)
        assert len({id(g) for g in grads}) == len(grads)  # a new gradient array every step
        runner = fn.entries[0].core
        assert runner.captures == 1 and runner.launches == 28  # one warm-up, one trace, then the graph


@pytest.mark.gpu
def test_cuda_graph_replay_matches_eager() -> None:
    """On CuPy the compiled step runs as a captured CUDA graph and gives eager's numbers."""
    report = backends.probe()["cupy"]
    if not report.usable:
        pytest.skip(f"cupy backend not usable: {report.reason}")
    backend = gradkit.get_backend("cupy")
    (m1, o1, _, l1), (m2, o2, fn, l2) = _pair(backend, "mlp", "sgd", "float32", 200)
    np.testing.assert_array_equal(l1, l2, strict=True)
    _assert_same(_state(m1, o1), _state(m2, o2))
    runner = fn.entries[0].core
    assert runner.launches >= 190 and runner.captures <= 2


def test_a_stopped_and_continued_compiled_run_is_the_eager_run(words: list[str]) -> None:
    """Ctrl-C stops ``fit`` on a step boundary (``stop``); continuing it, compiled, gives the uninterrupted eager
    run's numbers."""
    backend = gradkit.get_backend("numpy")
    config = TrainConfig.of("mlp", max_steps=40, batch_size=8, dtype="float64", log_every=1,
                            **TINY["mlp"]).resolved()
    splits = prepare(words, config, backend)
    eager = fit(new_run(config, splits.vocab, backend), splits, compiled=False)
    run = new_run(config, splits.vocab, backend)
    fit(run, splits, stop=lambda: run.step == 17)
    assert run.step == 17
    fit(run, splits)
    assert run.history == eager.history and run.rng.bit_generator.state == eager.rng.bit_generator.state
    _assert_same(_state(eager.model, eager.optimizer), _state(run.model, run.optimizer))


def _checkpoint(path: Any) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return load_file(path / "model.safetensors")


def test_gradkit_train_compiles_by_default_and_resumes_as_eager(tmp_path: Any) -> None:
    """``gradkit train`` (compiled) for 30 steps, then ``--resume`` to 60, saves what the same two commands with
    ``--no-compile`` save."""
    from gradkit.cli import main

    base = ["train", "--type", "mlp", "--backend", "numpy", "--batch-size", "8", "--n-embd", "4", "--n-hidden", "16",
            "--dtype", "float64", "--quiet", "-n", "1", "--max-steps", "30"]
    resume = ["train", "--resume", "--max-steps", "60", "--backend", "numpy", "--quiet", "-n", "1"]
    for name, flags in (("eager", ["--no-compile"]), ("compiled", [])):
        assert main([*base, *flags, "-o", str(tmp_path / name)]) == 0
        assert main([*resume, *flags, "-o", str(tmp_path / name)]) == 0
    eager, compiled = _checkpoint(tmp_path / "eager"), _checkpoint(tmp_path / "compiled")
    assert any(k.startswith("model.") or "weight" in k for k in eager)
    _assert_same(eager, compiled)


def test_a_branch_on_the_minibatch_is_a_guard(backend: Any) -> None:
    """The engine's own branches on the targets (cross_entropy: are some ignored?) are replayed behind a guard on
    the minibatch: a batch that takes the other branch traces again, and both give eager's numbers."""
    results = []
    for compiled in (False, True):
        model, opt, X, Y = _setup(backend)
        fn = compile(_sgd) if compiled else _sgd
        ignored = Tensor(np.where(np.arange(8) % 3 == 0, -100, Y.numpy()), backend=backend)
        for k in range(9):
            fn(model, opt, X, ignored if k % 3 == 2 else Y)
        results.append(_state(model, opt))
    _assert_same(*results)
    assert fn.stats["eager"] == 0 and fn.stats["replays"] >= 5


def test_torch_style_views_replay(backend: Any) -> None:
    """A step written as PyTorch programs write attention (split, view of a slice, transpose, contiguous().view,
    a layer norm and a softmax over short rows) replays with eager's numbers and no warning: a reshape asks whether
    its input is contiguous, a layout the replay repeats."""
    def setup() -> tuple[Any, Any]:
        gen = backend.random(3)
        lin = nn.Linear(8, 24, generator=gen)
        return lin, optim.AdamW(lin.parameters(), lr=0.01)

    def run(lin: Any, opt: Any, x: Tensor) -> Tensor:
        q, k, v = lin(x).split(8, dim=2)
        q, k, v = (t.view(2, 5, 2, 4).transpose(1, 2) for t in (q, k, v))
        att = functional.softmax(q @ k.transpose(-2, -1), -1) @ v
        y = functional.layer_norm(att.transpose(1, 2).contiguous().view(2, 5, 8), 8)
        loss = (y * y).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    x = Tensor(np.random.default_rng(4).standard_normal((2, 5, 8)), backend=backend, dtype="float32")
    (lin, opt), (ref_lin, ref_opt) = setup(), setup()
    fn = compile(lambda x: run(lin, opt, x))
    with warnings.catch_warnings():
        warnings.simplefilter("error", GradkitCompileWarning)
        for _ in range(4):
            assert fn(x).item() == run(ref_lin, ref_opt, x).item()
    assert fn.stats["replays"] == 2 and fn.stats["eager"] == 0
    _assert_same(_state(lin, opt), _state(ref_lin, ref_opt))
