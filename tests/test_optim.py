"""Tests of gradkit.optim (SGD, Adam, AdamW, lr_scheduler) on every backend, without torch: the updates against
hand-written numpy references of PyTorch's update rules (bitwise on numpy and strict, in float64 and float32);
parameter groups; ``zero_grad``; ``state_dict``/``load_state_dict`` (values round trip, all-or-nothing errors);
the learning-rate tensor that mirrors ``group['lr']``; state that follows ``Module.to``; the schedulers against
their closed forms; torch's constructor errors. The same optimizers against torch itself: test_torch_optim.py."""

from __future__ import annotations

import bisect
import copy
import json
import math
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from gradkit.backends.random import dtype_name

import gradkit as gk
from gradkit import _statedict, backends, checkpoint, nn
from gradkit.optim import SGD, Adam, AdamW, Optimizer, lr_scheduler

# --- helpers ----------------------------------------------------------------------------------------------

SHAPES = [(4, 3), (3,)]


def host_params(seed: int = 0, dtype: str = "float64") -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(size=s).astype(dtype) for s in SHAPES]


def host_grads(steps: int, seed: int = 1, dtype: str = "float64") -> list[list[np.ndarray | None]]:
    """``steps`` lists of one gradient per parameter."""
    rng = np.random.default_rng(seed)
    return [[rng.normal(size=s).astype(dtype) for s in SHAPES] for _ in range(steps)]


def make(backend: backends.Backend, hosts: list[np.ndarray]) -> list[gk.Tensor]:
    # copies: on numpy, Tensor(ndarray) may share the caller's memory, and the optimizers update in place
    return [gk.Tensor(h.copy(), backend=backend, requires_grad=True) for h in hosts]


def set_grads(params: list[gk.Tensor], grads: list[np.ndarray | None]) -> None:
    for p, g in zip(params, grads, strict=True):
        p.grad = None if g is None else gk.Tensor(g.copy(), backend=p.backend)


def run(opt: Optimizer, params: list[gk.Tensor], grads: list[list[np.ndarray | None]]) -> None:
    for step_grads in grads:
        set_grads(params, step_grads)
        opt.step()


def assert_same(actual: Any, expected: Any, backend: backends.Backend) -> None:
    """Bitwise on numpy and strict (numpy underneath, the same operations in the same order); CuPy's kernels
    may round otherwise, so there the float64 tolerance."""
    actual = actual.numpy() if isinstance(actual, gk.Tensor) else np.asarray(actual)
    expected = expected.numpy() if isinstance(expected, gk.Tensor) else np.asarray(expected)
    assert actual.dtype == expected.dtype and actual.shape == expected.shape
    if backend.name == "cupy":
        np.testing.assert_allclose(actual, expected, **gk.testing.tolerance(actual.dtype))
    else:
        np.testing.assert_array_equal(actual, expected)


def state_values(opt: Optimizer) -> dict[tuple[int, str], np.ndarray]:
    """Every state tensor's host copy, keyed by (parameter index, name), as ``state_dict()`` numbers them."""
    return {(i, name): t.numpy() for i, st in opt.state_dict()["state"].items() for name, t in st.items()}


def assert_same_state(a: Optimizer, b: Optimizer, backend: backends.Backend) -> None:
    sa, sb = state_values(a), state_values(b)
    assert sa.keys() == sb.keys()
    for key in sa:
        assert_same(sa[key], sb[key], backend)


def groups_without_params(opt: Optimizer) -> list[dict[str, Any]]:
    return [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups]


# --- hand-written references: torch's single-tensor updates, operation for operation, in numpy ----------------


def sgd_reference(hosts: list[np.ndarray], grads_per_step: list, lr: float = 0.1, momentum: float = 0.0,
                  dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False,
                  maximize: bool = False) -> tuple[list[np.ndarray], dict[tuple[int, str], np.ndarray]]:
    """torch.optim.SGD; a None gradient skips the parameter. Returns the parameters and the state."""
    params = [h.copy() for h in hosts]
    bufs: list[np.ndarray | None] = [None] * len(params)
    for grads in grads_per_step:
        for i, g in enumerate(grads):
            if g is None:
                continue
            p = params[i]
            d = -g if maximize else g
            if weight_decay:
                d = d + weight_decay * p
            if momentum:
                b = bufs[i]
                bufs[i] = d.copy() if b is None else b * momentum + (d if dampening == 0 else (1 - dampening) * d)
                d = d + momentum * bufs[i] if nesterov else bufs[i]
            params[i] = p - p.dtype.type(lr) * d
    return params, {(i, "momentum_buffer"): b for i, b in enumerate(bufs) if b is not None}


def adam_reference(hosts: list[np.ndarray], grads_per_step: list, lr: float = 1e-3,
                   betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0,
                   maximize: bool = False, decoupled: bool = False
                   ) -> tuple[list[np.ndarray], dict[tuple[int, str], np.ndarray]]:
    """torch.optim.Adam (``decoupled``: AdamW): the bias-corrected step ``lr / (1 - beta1**t)`` and denominator
    ``sqrt(v) / sqrt(1 - beta2**t) + eps``, scalars in float64 cast to the parameter's dtype. ``beta**t`` is
    numpy's power of the float64 step (torch's is Python's of ``step.item()``, at times an ulp away)."""
    b1, b2 = betas
    params = [h.copy() for h in hosts]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    t = [0] * len(params)
    for grads in grads_per_step:
        for i, g in enumerate(grads):
            if g is None:
                continue
            p, dtype = params[i], params[i].dtype.type
            t[i] += 1
            d = -g if maximize else g
            if weight_decay and decoupled:
                p = p * dtype(1 - lr * weight_decay)
            elif weight_decay:
                d = d + weight_decay * p
            m[i] = m[i] + (d - m[i]) * (1 - b1)
            v[i] = v[i] * b2 + (1 - b2) * d * d
            step = np.float64(t[i])  # numpy's power, not Python's: the step is a tensor (an ulp apart at times)
            denom = np.sqrt(v[i]) / dtype(np.sqrt(1 - np.power(b2, step))) + eps
            params[i] = p - dtype(lr / (1 - np.power(b1, step))) * (m[i] / denom)
    state: dict[tuple[int, str], np.ndarray] = {}
    for i, n in enumerate(t):
        if n:
            state.update({(i, "step"): np.array(n, np.float32), (i, "exp_avg"): m[i], (i, "exp_avg_sq"): v[i]})
    return params, state


def adamw_reference(*args: Any, weight_decay: float = 1e-2, **kwargs: Any
                    ) -> tuple[list[np.ndarray], dict[tuple[int, str], np.ndarray]]:
    """torch.optim.AdamW: Adam with decoupled weight decay, default 1e-2."""
    return adam_reference(*args, weight_decay=weight_decay, decoupled=True, **kwargs)


REFERENCES: dict[type, Callable[..., Any]] = {SGD: sgd_reference, Adam: adam_reference, AdamW: adamw_reference}

# (optimizer, hyper-parameters): every option of each optimizer, alone and together.
CONFIGS: dict[str, tuple[type, dict[str, Any]]] = {
    "sgd": (SGD, {"lr": 0.1}),
    "sgd-momentum": (SGD, {"lr": 0.1, "momentum": 0.9}),
    "sgd-dampening": (SGD, {"lr": 0.1, "momentum": 0.8, "dampening": 0.3}),
    "sgd-nesterov": (SGD, {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    "sgd-decay": (SGD, {"lr": 0.1, "weight_decay": 0.05}),
    "sgd-maximize": (SGD, {"lr": 0.1, "maximize": True}),
    "sgd-all": (SGD, {"lr": 0.05, "momentum": 0.8, "weight_decay": 0.05, "nesterov": True, "maximize": True}),
    "adam": (Adam, {"lr": 0.01}),
    "adam-decay-maximize": (Adam, {"lr": 0.01, "betas": (0.8, 0.99), "weight_decay": 0.1, "maximize": True}),
    "adamw": (AdamW, {"lr": 0.01}),
    "adamw-nodecay": (AdamW, {"lr": 0.01, "weight_decay": 0.0, "eps": 1e-6}),
    "adamw-decay-maximize": (AdamW, {"lr": 0.02, "weight_decay": 0.1, "maximize": True}),
}
STATEFUL = ["sgd-all", "adam-decay-maximize", "adamw-decay-maximize"]


def build(config: str, params: Any) -> Optimizer:
    cls, kwargs = CONFIGS[config]
    return cls(params, **kwargs)


# --- updates against the references ------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_update_matches_reference_bitwise(backend: backends.Backend, config: str, dtype: str) -> None:
    """6 steps; the second parameter has no gradient at step 3 (skipped: no decay, no moment update, its own
    step count). Parameters and every state tensor equal the reference bit for bit, in their dtype."""
    cls, kwargs = CONFIGS[config]
    hosts, grads = host_params(dtype=dtype), host_grads(6, dtype=dtype)
    grads[2][1] = None
    params = make(backend, hosts)
    opt = cls(params, **kwargs)
    run(opt, params, grads)
    expected_params, expected_state = REFERENCES[cls](hosts, grads, **kwargs)
    for p, e in zip(params, expected_params, strict=True):
        assert_same(p, e, backend)
    got = state_values(opt)
    assert got.keys() == expected_state.keys()
    for key, e in expected_state.items():
        assert_same(got[key], e, backend)
    if cls is not SGD:
        assert got[(1, "step")] == 5 and got[(0, "step")] == 6


def test_plain_sgd_allocates_one_temporary() -> None:
    """The hot path is ``p -= lr * g``: one parameter-sized temporary, nothing more (numpy reports its
    allocations to tracemalloc)."""
    be = backends.get_backend("numpy")
    n = 1_000_000  # 8 MB in float64
    p = gk.Tensor(np.zeros(n), backend=be, requires_grad=True)
    p.grad = gk.Tensor(np.ones(n), backend=be)
    opt = SGD([p], lr=0.5)
    opt.step()  # warm up (the learning-rate tensor is made on first use)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        opt.step()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert 8 * n <= peak < 1.5 * 8 * n
    np.testing.assert_array_equal(p.numpy(), np.full(n, -1.0))


def test_sgd_updates_in_place_and_the_buffer_does_not_alias_the_grad(backend: backends.Backend) -> None:
    (h,), g = host_params()[:1], host_grads(1)[0][0]
    p = gk.Tensor(h.copy(), backend=backend, requires_grad=True)
    view = p[0]  # a view shares p's storage: an in-place update shows through it
    p.grad = gk.Tensor(g.copy(), backend=backend)
    opt = SGD([p], lr=0.1, momentum=0.9)
    opt.step()
    opt.step()  # the buffer is updated in place: the gradient must not change with it
    np.testing.assert_array_equal(p.grad.numpy(), g)
    np.testing.assert_array_equal(view.numpy(), p.numpy()[0])
    assert not np.array_equal(p.numpy(), h)


@pytest.mark.parametrize("config", STATEFUL + ["sgd"])
def test_float32_stays_float32(backend: backends.Backend, config: str) -> None:
    params = make(backend, host_params(dtype="float32"))
    opt = build(config, params)
    opt.param_groups[0]["lr"] = np.float64(opt.param_groups[0]["lr"])  # a numpy float64 lr must not promote
    run(opt, params, host_grads(3, dtype="float32"))
    assert all(dtype_name(p.dtype) == "float32" for p in params)
    for st in opt.state.values():
        assert all(dtype_name(t.dtype) == "float32" and t.backend == backend for t in st.values())


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_params_without_grad_are_skipped(backend: backends.Backend, config: str) -> None:
    """A parameter whose grad is None is not touched (no weight decay either) and gets no state, as torch's."""
    hosts = host_params()
    params = make(backend, hosts)
    opt = build(config, params)
    set_grads(params, [None, host_grads(1)[0][1]])
    opt.step()
    np.testing.assert_array_equal(params[0].numpy(), hosts[0])
    assert params[0] not in opt.state
    assert not np.array_equal(params[1].numpy(), hosts[1])


@pytest.mark.parametrize("config", STATEFUL)
def test_step_moves_the_version_counter_so_a_stale_graph_fails(backend: backends.Backend, config: str) -> None:
    x = gk.Tensor(np.arange(3.0), backend=backend, requires_grad=True)
    loss = (x * x).sum()  # saves x for its backward
    x.grad = gk.Tensor(np.ones(3), backend=backend)
    build(config, [x]).step()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


def test_step_calls_the_closure_with_grad_enabled(backend: backends.Backend) -> None:
    x = gk.Tensor(np.array([1.0, -2.0]), backend=backend, requires_grad=True)
    opt = SGD([x], lr=0.25)

    def closure() -> gk.Tensor:
        opt.zero_grad()
        loss = (x * x).sum()
        loss.backward()
        return loss

    with gk.no_grad():
        loss = opt.step(closure)
    assert loss.item() == 5.0
    np.testing.assert_array_equal(x.numpy(), [0.5, -1.0])  # x - 0.25 * 2x


@pytest.mark.parametrize("config", ["sgd-nesterov", "adamw-nodecay"])
def test_minimises_least_squares(backend: backends.Backend, config: str) -> None:
    """sum((A x - b)^2) through the real autograd engine reaches lstsq(A, b) to 1e-6."""
    rng = np.random.default_rng(0)
    A, b = rng.normal(size=(20, 5)), rng.normal(size=20)
    x_star = np.linalg.lstsq(A, b, rcond=None)[0]
    At, bt = gk.Tensor(A, backend=backend), gk.Tensor(b, backend=backend)
    x = gk.zeros(5, device=backend, dtype=gk.float64, requires_grad=True)
    sched: lr_scheduler.LRScheduler | None = None
    if config == "sgd-nesterov":  # lr = 1/L with L = 2 * sigma_max(A)^2, the gradient's Lipschitz constant
        opt: Optimizer = SGD([x], lr=0.5 / np.linalg.norm(A, 2) ** 2, momentum=0.9, nesterov=True)
        steps = 400
    else:  # a constant lr leaves Adam circling the optimum at about lr; decay it
        opt = AdamW([x], lr=0.1, weight_decay=0.0)
        sched, steps = lr_scheduler.MultiStepLR(opt, milestones=[200, 400], gamma=0.1), 600
    for _ in range(steps):
        loss = ((At @ x - bt) ** 2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()
    np.testing.assert_allclose(x.numpy(), x_star, rtol=0, atol=1e-6)


# --- parameter groups ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("config", ["sgd-all", "adamw-decay-maximize"])
def test_each_group_uses_its_own_hyper_parameters(backend: backends.Backend, config: str) -> None:
    """Two groups: the first overrides lr and weight_decay, the second takes the defaults; each parameter
    follows the reference with its group's settings, bit for bit."""
    cls, kwargs = CONFIGS[config]
    hosts, grads = host_params(), host_grads(4)
    params = make(backend, hosts)
    override = {"lr": 0.3, "weight_decay": 0.2}
    opt = cls([{"params": [params[0]], **override}, {"params": [params[1]]}], **kwargs)
    assert [g["lr"] for g in opt.param_groups] == [0.3, kwargs["lr"]]
    run(opt, params, grads)
    first, _ = REFERENCES[cls]([hosts[0]], [[g[0]] for g in grads], **{**kwargs, **override})
    second, _ = REFERENCES[cls]([hosts[1]], [[g[1]] for g in grads], **kwargs)
    assert_same(params[0], first[0], backend)
    assert_same(params[1], second[0], backend)


def test_groups_take_the_defaults_and_keep_their_own_keys(backend: backends.Backend) -> None:
    w, b = make(backend, host_params())
    opt = AdamW([{"params": [w], "weight_decay": 0.1, "name": "decay"}, {"params": b, "weight_decay": 0.0}])
    first, second = opt.param_groups
    assert first["params"] == [w] and second["params"] == [b]  # a single tensor becomes a list
    assert first["name"] == "decay"
    assert (first["lr"], first["betas"], first["eps"], first["amsgrad"], first["maximize"]) == \
        (1e-3, (0.9, 0.999), 1e-8, False, False)
    assert (first["weight_decay"], second["weight_decay"]) == (0.1, 0.0)
    assert opt.defaults["weight_decay"] == 1e-2


def test_a_parameter_in_two_groups_is_refused(backend: backends.Backend) -> None:
    w, b = make(backend, host_params())
    with pytest.raises(ValueError, match="more than one parameter group"):
        SGD([{"params": [w, b]}, {"params": [w]}], lr=0.1)
    with pytest.raises(ValueError, match="more than once"):
        SGD([w, b, w], lr=0.1)


def test_add_param_group(backend: backends.Backend) -> None:
    """A group added later takes the defaults for what it does not set, and its parameters are updated from
    the next step; a parameter already in a group is refused and nothing is added."""
    hosts, (g,) = host_params(), host_grads(1)
    w, b = make(backend, hosts)
    opt = SGD([w], lr=0.1, momentum=0.9)
    opt.add_param_group({"params": [b], "lr": 0.5})
    assert len(opt.param_groups) == 2
    assert opt.param_groups[1]["momentum"] == 0.9 and opt.param_groups[1]["lr"] == 0.5
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [w]})
    with pytest.raises(TypeError, match="must be a dict"):
        opt.add_param_group([b])  # type: ignore[arg-type]
    assert len(opt.param_groups) == 2
    set_grads([w, b], g)
    opt.step()
    assert_same(b, hosts[1] - 0.5 * g[1], backend)  # the first momentum step is the gradient itself
    assert_same(w, hosts[0] - np.float64(0.1) * g[0], backend)


# --- zero_grad --------------------------------------------------------------------------------------------


def test_zero_grad_set_to_none(backend: backends.Backend) -> None:
    params = make(backend, host_params())
    set_grads(params, host_grads(1)[0])
    SGD(params, lr=0.1).zero_grad()  # torch's default: set_to_none=True
    assert all(p.grad is None for p in params)
    SGD(params, lr=0.1).zero_grad(set_to_none=True)  # no grads: nothing to do, no error
    assert all(p.grad is None for p in params)


def test_zero_grad_set_to_none_false_writes_zeros_into_the_same_tensor(backend: backends.Backend) -> None:
    params = make(backend, host_params())
    set_grads(params, [host_grads(1)[0][0], None])
    grad = params[0].grad
    SGD(params, lr=0.1).zero_grad(set_to_none=False)
    assert params[0].grad is grad
    assert_same(grad, np.zeros(SHAPES[0]), backend)
    assert params[1].grad is None  # a missing grad stays missing


def test_module_zero_grad_forgets_gradients(backend: backends.Backend) -> None:
    model = nn.Linear(3, 2, generator=backend.random(0), dtype="float64")
    model(gk.Tensor(np.ones((1, 3)), backend=backend)).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


# --- the learning-rate tensor -----------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_setting_group_lr_changes_the_next_update(backend: backends.Backend, dtype: str) -> None:
    hosts, grads = host_params(dtype=dtype), host_grads(3, dtype=dtype)
    params = make(backend, hosts)
    opt = SGD(params, lr=0.1)
    run(opt, params, grads[:1])
    opt.param_groups[0]["lr"] = 0.5
    before = [p.numpy() for p in params]
    run(opt, params, grads[1:2])
    for p, b, g in zip(params, before, grads[1], strict=True):
        assert_same(p, b - b.dtype.type(0.5) * g, backend)
    opt.param_groups[0]["lr"] *= 0.1  # read-modify-write goes through __setitem__ too
    before = [p.numpy() for p in params]
    run(opt, params, grads[2:])
    for p, b, g in zip(params, before, grads[2], strict=True):
        assert_same(p, b - b.dtype.type(0.5 * 0.1) * g, backend)


def test_setting_group_lr_changes_adam_too(backend: backends.Backend) -> None:
    """Adam halfway at another rate equals the reference run as two legs with a carried state."""
    hosts, grads = host_params(), host_grads(4)
    params = make(backend, hosts)
    opt = Adam(params, lr=0.01)
    run(opt, params, grads[:2])
    opt.param_groups[0].update(lr=0.05)  # dict.update goes through __setitem__ too
    run(opt, params, grads[2:])
    other = make(backend, hosts)
    ref = Adam(other, lr=0.01)
    run(ref, other, grads[:2])
    ref.param_groups[0]["lr"] = 0.05
    run(ref, other, grads[2:])
    unchanged = make(backend, hosts)
    run(Adam(unchanged, lr=0.01), unchanged, grads)
    for p, q, u in zip(params, other, unchanged, strict=True):
        assert_same(p, q, backend)
        assert not np.array_equal(p.numpy(), u.numpy())


# --- state_dict / load_state_dict -------------------------------------------------------------------------


def to_host(state_dict: dict[str, Any]) -> dict[str, Any]:
    """The state dict as it comes back from a file: numpy arrays, string indices, lists for tuples (JSON)."""
    state = {str(i): {name: t.numpy() for name, t in st.items()} for i, st in state_dict["state"].items()}
    return {"state": state, "param_groups": json.loads(json.dumps(state_dict["param_groups"]))}


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_state_dict_round_trip_resumes_exactly(backend: backends.Backend, config: str) -> None:
    """Train 3 steps, save; train 3 more. A fresh optimizer over copies of the saved parameters, loaded with the
    saved dict (host arrays, string keys, lists) and trained the same 3 steps: identical parameters and state."""
    hosts, grads = host_params(), host_grads(6)
    params = make(backend, hosts)
    opt = build(config, params)
    run(opt, params, grads[:3])
    saved, saved_params = to_host(opt.state_dict()), [p.numpy() for p in params]
    run(opt, params, grads[3:])

    fresh = make(backend, saved_params)
    opt2 = build(config, fresh)
    opt2.param_groups[0]["lr"] = 123.0  # overwritten by the load
    opt2.load_state_dict(saved)
    assert groups_without_params(opt2) == groups_without_params(build(config, make(backend, hosts)))
    run(opt2, fresh, grads[3:])
    for a, b in zip(fresh, params, strict=True):
        assert_same(a, b, backend)
    assert_same_state(opt2, opt, backend)


@pytest.mark.parametrize("config", ["sgd-all", "adamw-decay-maximize"])
def test_state_dict_round_trip_through_a_checkpoint_file(backend: backends.Backend, config: str,
                                                         tmp_path: Any) -> None:
    """As gradkit's workdir saves it: the state tensors by dotted path as arrays, the groups as JSON."""
    hosts, grads = host_params(), host_grads(4)
    params = make(backend, hosts)
    opt = build(config, params)
    run(opt, params, grads[:2])
    sd = opt.state_dict()
    arrays = {k: v.numpy() for k, v in _statedict.flatten(sd["state"])}
    checkpoint.save(tmp_path / "opt.npz", arrays, {"param_groups": sd["param_groups"]})
    loaded, meta = checkpoint.load(tmp_path / "opt.npz")
    state: dict[str, dict[str, np.ndarray]] = {}
    for key, value in loaded.items():
        index, _, name = key.partition(".")
        state.setdefault(index, {})[name] = value
    opt2 = build(config, make(backend, [p.numpy() for p in params]))
    opt2.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    assert_same_state(opt2, opt, backend)


def test_state_dict_layout_is_torchs(backend: backends.Backend) -> None:
    params = make(backend, host_params())
    opt = AdamW([{"params": [params[0]]}, {"params": [params[1]], "lr": 0.5}], lr=0.01)
    set_grads(params, [None, host_grads(1)[0][1]])
    opt.step()
    sd = opt.state_dict()
    assert set(sd) == {"state", "param_groups"}
    assert list(sd["state"]) == [1]  # parameters numbered across groups; no state for the one without grad
    assert set(sd["state"][1]) == {"step", "exp_avg", "exp_avg_sq"}
    assert sd["state"][1]["step"].shape == () and dtype_name(sd["state"][1]["step"].dtype) == "float32"
    assert [g["params"] for g in sd["param_groups"]] == [[0], [1]]
    assert sd["param_groups"][1] == {"lr": 0.5, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 1e-2,
                                     "amsgrad": False, "maximize": False, "params": [1]}
    assert sd["state"][1]["exp_avg"] is opt.state[params[1]]["exp_avg"]  # the live tensors, as torch's


def test_named_parameters_are_kept_in_the_groups(backend: backends.Backend) -> None:
    w, b = make(backend, host_params())
    opt = SGD([("layer.weight", w), ("layer.bias", b)], lr=0.1, momentum=0.9)
    assert opt.param_groups[0]["params"] == [w, b]
    assert opt.state_dict()["param_groups"][0]["param_names"] == ["layer.weight", "layer.bias"]


def test_load_copies_onto_the_params_backend_in_their_dtype(backend: backends.Backend) -> None:
    """float64 state from a numpy optimizer loads into float32 parameters on ``backend`` as float32 tensors
    there; the loaded values are copies (changing the source afterwards changes nothing)."""
    cpu = backends.get_backend("numpy")
    source_params = make(cpu, host_params())
    source = AdamW(source_params, lr=0.01)
    run(source, source_params, host_grads(1))
    sd = source.state_dict()
    params = make(backend, host_params(dtype="float32"))
    opt = AdamW(params, lr=0.01)
    opt.load_state_dict(sd)
    for p, st in opt.state.items():
        for name, t in st.items():
            assert t.backend == backend
            assert dtype_name(t.dtype) == "float32"
            expected = sd["state"][0 if p is params[0] else 1][name].numpy().astype(np.float32)
            assert_same(t, expected, backend)
    before = state_values(opt)
    with gk.no_grad():
        sd["state"][0]["exp_avg"].fill_(7.0)
    for key, value in state_values(opt).items():
        np.testing.assert_array_equal(value, before[key])
    run(opt, params, host_grads(1, dtype="float32"))


def test_load_replaces_the_state_as_torch(backend: backends.Backend) -> None:
    """A loaded dict without state for a parameter leaves that parameter without state (torch replaces the
    whole ``state``): loading a fresh optimizer's dict into a trained one is a restart."""
    hosts, grads = host_params(), host_grads(3)
    params = make(backend, hosts)
    opt = SGD(params, lr=0.1, momentum=0.9)
    run(opt, params, grads[:2])
    opt.load_state_dict(SGD(make(backend, hosts), lr=0.1, momentum=0.9).state_dict())
    assert opt.state_dict()["state"] == {}
    restart = [p.numpy() for p in params]
    run(opt, params, grads[2:])
    expected, _ = sgd_reference(restart, grads[2:], lr=0.1, momentum=0.9)
    for p, e in zip(params, expected, strict=True):
        assert_same(p, e, backend)


def _other_shape(sd: dict) -> dict:
    sd["state"]["0"]["exp_avg"] = np.zeros((3, 4))
    return sd


def _stranger(sd: dict) -> dict:
    sd["state"]["2"] = {"exp_avg": np.zeros(3)}
    return sd


def _text(sd: dict) -> dict:
    sd["state"]["1"]["exp_avg_sq"] = np.array(["a", "b", "c"])
    return sd


def _named_key(sd: dict) -> dict:
    sd["state"]["layer.weight"] = sd["state"].pop("1")
    return sd


def _unknown_name(sd: dict) -> dict:
    sd["state"]["1"]["momentum_buffer"] = np.zeros(3)
    return sd


@pytest.mark.parametrize(("change", "message"), [
    (lambda sd: {**sd, "param_groups": sd["param_groups"] * 2}, "different number of parameter groups"),
    (lambda sd: {**sd, "param_groups": [{**sd["param_groups"][0], "params": [0]}]}, "doesn't match the size"),
    (_other_shape, r"has shape \(3, 4\).*\(4, 3\)"),
    (_stranger, "state for parameter 2, which no group has"),
    (_text, "not numbers"),
    (_unknown_name, "momentum_buffer"),
    (_named_key, "state key 'layer.weight' is not a parameter index"),
    (lambda sd: {"state": sd["state"]}, "expects the dict that state_dict"),
    (lambda sd: [sd], "expects the dict that state_dict"),
])
@pytest.mark.parametrize("trained", [True, False], ids=["trained", "fresh"])
def test_load_state_dict_errors_change_nothing(backend: backends.Backend, change: Callable[[dict], Any],
                                               message: str, trained: bool) -> None:
    """Each bad dict raises ValueError naming what is wrong, on a trained optimizer (existing state) and a
    fresh one (state made by the load); the state and the groups are as before."""
    hosts, grads = host_params(), host_grads(2)
    source_params = make(backend, hosts)
    source = AdamW(source_params, lr=0.01)
    run(source, source_params, grads[:1])
    bad = to_host(source.state_dict())
    bad["param_groups"][0]["lr"] = 0.5  # a group change that must not happen either
    bad = change(bad)
    params = make(backend, hosts)
    opt = AdamW(params, lr=0.01)
    if trained:
        run(opt, params, grads[1:])
    before, groups = state_values(opt), copy.deepcopy(groups_without_params(opt))
    with pytest.raises(ValueError, match=message):
        opt.load_state_dict(bad)
    after = state_values(opt)
    assert after.keys() == before.keys()
    for key, value in before.items():
        np.testing.assert_array_equal(after[key], value)
    assert groups_without_params(opt) == groups
    assert opt.param_groups[0].lr_tensor(backend).item() == 0.01


def test_load_state_dict_sets_the_lr_tensor(backend: backends.Backend) -> None:
    hosts, (g,) = host_params(), host_grads(1)
    params = make(backend, hosts)
    opt = SGD(params, lr=0.1)
    opt.load_state_dict({"state": {}, "param_groups": [{**opt.state_dict()["param_groups"][0], "lr": 0.25}]})
    set_grads(params, g)
    opt.step()
    assert_same(params[0], hosts[0] - 0.25 * g[0], backend)


# --- state follows the model to another backend ----------------------------------------------------------


@pytest.mark.parametrize("config", STATEFUL)
def test_state_follows_the_model_to_another_backend(backend: backends.Backend, config: str) -> None:
    """Train 2 steps on numpy, move the model with ``Module.to(backend)``, train 2 more: bit for bit the numbers
    of 4 steps on numpy, with every state tensor (and the learning rate) on ``backend``."""
    cpu = backends.get_backend("numpy")
    grads = [[np.full((2, 3), 0.5 * (i - 1.5)), np.full((2,), 0.25 * i)] for i in range(4)]
    ref_model = nn.Linear(3, 2, generator=cpu.random(0), dtype="float64")
    model = nn.Linear(3, 2, generator=cpu.random(0), dtype="float64")
    ref_opt, opt = build(config, list(ref_model.parameters())), build(config, list(model.parameters()))
    run(ref_opt, list(ref_model.parameters()), grads[:2])
    run(opt, list(model.parameters()), grads[:2])
    assert model.to(backend) is model
    run(ref_opt, list(ref_model.parameters()), grads[2:])
    run(opt, list(model.parameters()), grads[2:])
    for p, q in zip(model.parameters(), ref_model.parameters(), strict=True):
        assert p.backend == backend
        assert_same(p, q, backend)
    assert all(t.backend == backend for st in opt.state.values() for t in st.values())
    assert_same_state(opt, ref_opt, backend)


@pytest.mark.parametrize("config", STATEFUL)
def test_casting_the_model_casts_the_state_as_a_save_and_load_would(backend: backends.Backend,
                                                                    config: str) -> None:
    """2 float64 steps on numpy, then ``Module.to(backend, "float32")`` and 2 float32 steps: bit for bit what
    saving the state, moving the model and loading the state into a fresh optimizer give (buffers float32 on
    ``backend``, ``step`` float32)."""
    cpu = backends.get_backend("numpy")
    grads = [[np.full((2, 3), 0.5 * (i - 1.5)), np.full((2,), 0.25 * i)] for i in range(4)]
    late = [[g.astype(np.float32) for g in step] for step in grads[2:]]
    moved, saved = (nn.Linear(3, 2, generator=cpu.random(0), dtype="float64") for _ in range(2))
    opt, opt_saved = build(config, moved.parameters()), build(config, saved.parameters())
    run(opt, list(moved.parameters()), grads[:2])
    run(opt_saved, list(saved.parameters()), grads[:2])
    host = to_host(opt_saved.state_dict())
    moved.to(backend, "float32")
    saved.to(backend, "float32")
    loaded = build(config, saved.parameters())
    loaded.load_state_dict(host)
    run(opt, list(moved.parameters()), late)
    run(loaded, list(saved.parameters()), late)
    for p, q in zip(moved.parameters(), saved.parameters(), strict=True):
        assert dtype_name(p.dtype) == "float32"
        assert_same(p, q, backend)
    assert all(dtype_name(t.dtype) == "float32" for st in opt.state.values() for t in st.values())
    assert_same_state(opt, loaded, backend)


# --- learning-rate schedulers -----------------------------------------------------------------------------

BASES = (0.1, 0.03)

# name -> (construct, closed form of the rate at step e from the base rate)
SCHEDULES: dict[str, tuple[Callable[[Optimizer], lr_scheduler.LRScheduler], Callable[[float, int], float]]] = {
    "LambdaLR": (lambda o: lr_scheduler.LambdaLR(o, lambda e: 0.95**e), lambda b, e: b * 0.95**e),
    "StepLR": (lambda o: lr_scheduler.StepLR(o, step_size=7, gamma=0.5), lambda b, e: b * 0.5 ** (e // 7)),
    "MultiStepLR": (lambda o: lr_scheduler.MultiStepLR(o, milestones=[12, 5, 20, 12], gamma=0.3),
                    lambda b, e: b * 0.3 ** bisect.bisect_right([5, 12, 12, 20], e)),
    "ConstantLR": (lambda o: lr_scheduler.ConstantLR(o, factor=0.25, total_iters=6),
                   lambda b, e: b * (0.25 if e < 6 else 1.0)),
    "LinearLR": (lambda o: lr_scheduler.LinearLR(o, start_factor=0.2, end_factor=0.9, total_iters=10),
                 lambda b, e: b * (0.2 + 0.7 * min(e, 10) / 10)),
    "ExponentialLR": (lambda o: lr_scheduler.ExponentialLR(o, gamma=0.9), lambda b, e: b * 0.9**e),
    "CosineAnnealingLR": (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=10, eta_min=0.01),
                          lambda b, e: 0.01 + (b - 0.01) * (1 + math.cos(math.pi * e / 10)) / 2),
}


def _two_groups(backend: backends.Backend) -> tuple[SGD, list[gk.Tensor]]:
    params = [gk.zeros(2, device=backend, dtype=gk.float64, requires_grad=True) for _ in BASES]
    return SGD([{"params": [p], "lr": lr} for p, lr in zip(params, BASES)], lr=1.0), params


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_scheduler_follows_its_closed_form_and_drives_the_update(backend: backends.Backend, name: str) -> None:
    """30 steps, two groups: the rate each update uses (a parameter at 0 with gradient 1 moves to -lr, exactly)
    is the closed form's, and ``get_last_lr()`` and ``group['lr']`` agree with it."""
    construct, closed = SCHEDULES[name]
    opt, params = _two_groups(backend)
    sched = construct(opt)
    assert sched.base_lrs == list(BASES) and [g["initial_lr"] for g in opt.param_groups] == list(BASES)
    for e in range(30):
        expected = [closed(base, e) for base in BASES]
        np.testing.assert_allclose(sched.get_last_lr(), expected, rtol=1e-12, atol=1e-15)
        assert sched.get_last_lr() == [g["lr"] for g in opt.param_groups]
        with gk.no_grad():
            for p in params:
                p.zero_()
        set_grads(params, [np.ones(2), np.ones(2)])
        opt.step()
        for p, lr in zip(params, sched.get_last_lr(), strict=True):
            np.testing.assert_array_equal(p.numpy(), [-lr, -lr])
        sched.step()
    assert sched.last_epoch == 30


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_scheduler_state_dict_resumes(name: str) -> None:
    """Save the optimizer and the scheduler after 10 steps; fresh ones loaded with both give the same next 10
    rates as the uninterrupted run."""
    construct, _ = SCHEDULES[name]
    cpu = backends.get_backend("numpy")
    opt, _ = _two_groups(cpu)
    sched = construct(opt)
    for _ in range(10):
        sched.step()
    saved_opt, saved_sched = copy.deepcopy(opt.state_dict()), copy.deepcopy(sched.state_dict())
    straight = []
    for _ in range(10):
        sched.step()
        straight.append(sched.get_last_lr())
    opt2, _ = _two_groups(cpu)
    sched2 = construct(opt2)
    opt2.load_state_dict(saved_opt)
    sched2.load_state_dict(saved_sched)
    resumed = []
    for _ in range(10):
        sched2.step()
        resumed.append(sched2.get_last_lr())
    assert resumed == straight


def test_lambda_lr_one_function_per_group() -> None:
    opt, _ = _two_groups(backends.get_backend("numpy"))
    sched = lr_scheduler.LambdaLR(opt, [lambda e: 1.0 / (e + 1), lambda e: 2.0**e])
    for _ in range(3):
        sched.step()
    assert sched.get_last_lr() == [BASES[0] / 4, BASES[1] * 8]
    with pytest.raises(ValueError, match="Expected 2 lr_lambdas, but got 3"):
        lr_scheduler.LambdaLR(opt, [lambda e: 1.0] * 3)


def test_chained_schedulers_multiply() -> None:
    """The chainable forms compose as torch's: a warm-up and a decay both applied to the current rate."""
    opt, _ = _two_groups(backends.get_backend("numpy"))
    warm = lr_scheduler.LinearLR(opt, start_factor=0.5, total_iters=2)
    decay = lr_scheduler.ExponentialLR(opt, gamma=0.5)
    rates = []
    for _ in range(4):
        rates.append(opt.param_groups[0]["lr"])
        warm.step()
        decay.step()
    np.testing.assert_allclose(rates, [0.05, 0.1 * 0.75 * 0.5, 0.1 * 0.25, 0.1 * 0.125], rtol=1e-12)


# name -> (arguments, the rate of step 6 from the rate of step 5 by torch's recursive form)
RESUMED: dict[str, tuple[dict[str, Any], Callable[[float], float]]] = {
    "LinearLR": ({"start_factor": 0.2, "end_factor": 0.9, "total_iters": 10},
                 lambda lr: lr * (1 + 0.7 / (10 * 0.2 + 5 * 0.7))),
    "ExponentialLR": ({"gamma": 0.9}, lambda lr: lr * 0.9),
    "CosineAnnealingLR": ({"T_max": 10, "eta_min": 0.01},
                          lambda lr: (1 + math.cos(math.pi * 6 / 10)) / (1 + math.cos(math.pi * 5 / 10)) * (lr - 0.01)
                          + 0.01),
}


@pytest.mark.parametrize("name", sorted(RESUMED))
def test_a_resumed_chainable_scheduler_keeps_the_rates_at_construction(name: str) -> None:
    """Resuming (``last_epoch`` given, ``initial_lr`` loaded with the optimizer's state), the constructor's step
    does not move the rates a step ahead (torch 2.13's rule); the next step applies the recursive form."""
    kwargs, recursive = RESUMED[name]
    opt, _ = _two_groups(backends.get_backend("numpy"))
    for group in opt.param_groups:
        group["initial_lr"] = 1.0
    resumed = getattr(lr_scheduler, name)(opt, last_epoch=4, **kwargs)
    assert resumed.get_last_lr() == list(BASES) and resumed.last_epoch == 5
    resumed.step()
    np.testing.assert_allclose(resumed.get_last_lr(), [recursive(b) for b in BASES], rtol=1e-12)


def test_scheduler_errors() -> None:
    opt, _ = _two_groups(backends.get_backend("numpy"))
    with pytest.raises(TypeError, match="is not an Optimizer"):
        lr_scheduler.StepLR(object(), step_size=1)  # type: ignore[arg-type]
    with pytest.raises(KeyError, match=r"'initial_lr' is not specified in param_groups\[0\] when resuming"):
        lr_scheduler.StepLR(opt, step_size=1, last_epoch=3)
    with pytest.raises(ValueError, match="between 0 and 1"):
        lr_scheduler.ConstantLR(opt, factor=1.5)
    with pytest.raises(ValueError, match="Starting multiplicative factor"):
        lr_scheduler.LinearLR(opt, start_factor=0.0)
    with pytest.raises(ValueError, match="Ending multiplicative factor"):
        lr_scheduler.LinearLR(opt, end_factor=1.5)


# --- constructors -----------------------------------------------------------------------------------------


def test_defaults_are_torchs() -> None:
    p = gk.Tensor(np.zeros(2), backend="numpy", requires_grad=True)
    sgd, adam, adamw = SGD([p]), Adam([p]), AdamW([p])
    assert sgd.defaults == {"lr": 1e-3, "momentum": 0, "dampening": 0, "weight_decay": 0, "nesterov": False,
                            "maximize": False}
    adam_defaults = {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0, "amsgrad": False,
                     "maximize": False}
    assert adam.defaults == adam_defaults
    assert adamw.defaults == {**adam_defaults, "weight_decay": 1e-2}


@pytest.mark.parametrize(("make_optimizer", "error", "message"), [
    (lambda p: SGD([p], lr=-0.1), ValueError, "Invalid learning rate: -0.1"),
    (lambda p: Adam([p], lr=float("nan")), ValueError, "Invalid learning rate: nan"),
    (lambda p: SGD([p], lr=0.1, momentum=-0.5), ValueError, "Invalid momentum value: -0.5"),
    (lambda p: SGD([p], lr=0.1, weight_decay=-1.0), ValueError, "Invalid weight_decay value: -1.0"),
    (lambda p: SGD([p], lr=0.1, nesterov=True), ValueError, "Nesterov momentum requires a momentum and zero "
                                                            "dampening"),
    (lambda p: SGD([p], lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), ValueError, "Nesterov momentum"),
    (lambda p: AdamW([p], betas=(1.0, 0.999)), ValueError, "Invalid beta parameter at index 0: 1.0"),
    (lambda p: Adam([p], betas=(0.9, -0.1)), ValueError, "Invalid beta parameter at index 1: -0.1"),
    (lambda p: AdamW([p], eps=-1e-8), ValueError, "Invalid epsilon value: -1e-08"),
    (lambda p: AdamW([p], weight_decay=-0.1), ValueError, "Invalid weight_decay value: -0.1"),
    (lambda p: SGD([{"params": [p], "lr": -1.0}]), ValueError, "Invalid learning rate: -1.0"),
    (lambda p: SGD([], lr=0.1), ValueError, "empty parameter list"),
    (lambda p: SGD(p, lr=0.1), TypeError, "got a Tensor"),
    (lambda p: SGD([np.zeros(3)], lr=0.1), TypeError, "parameter 0 is a ndarray"),
    (lambda p: SGD([gk.arange(3)], lr=0.1), TypeError, "only floating-point"),
    (lambda p: SGD([p * 2], lr=0.1), ValueError, "non-leaf"),
    (lambda p: AdamW([p], amsgrad=True), NotImplementedError, "amsgrad"),
])
def test_constructor_errors(make_optimizer: Callable[[gk.Tensor], Any], error: type, message: str) -> None:
    p = gk.Tensor(np.zeros(3), backend="numpy", requires_grad=True)
    with pytest.raises(error, match=message):
        make_optimizer(p)


def test_repr_lists_the_groups() -> None:
    p = gk.Tensor(np.zeros(3), backend="numpy", requires_grad=True)
    text = repr(SGD([p], lr=0.1, momentum=0.9))
    assert text.startswith("SGD (") and "Parameter Group 0" in text and "momentum: 0.9" in text
