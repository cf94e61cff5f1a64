"""Tests of gradkit.optim: SGD and AdamW against hand-written numpy references (PyTorch's update rules), on
every backend; state saving, loading and moving; the step schedule (makemore part 3's lr 0.1 -> 0.01)."""

from __future__ import annotations

import json
import tracemalloc

import numpy as np
import pytest

import backends
import gradkit as gk
from gradkit.optim import SGD, AdamW, Optimizer, StepLR

# --- helpers ----------------------------------------------------------------------------------------------

SHAPES = [(4, 3), (3,)]


def host_params(seed: int = 0, dtype: str = "float64") -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(size=s).astype(dtype) for s in SHAPES]


def host_grads(steps: int, seed: int = 1, dtype: str = "float64") -> list[list[np.ndarray]]:
    """``steps`` lists of one gradient per parameter."""
    rng = np.random.default_rng(seed)
    return [[rng.normal(size=s).astype(dtype) for s in SHAPES] for _ in range(steps)]


def make(backend: backends.Backend, hosts: list[np.ndarray]) -> list[gk.Tensor]:
    # copies: on numpy, Tensor(ndarray) shares the caller's memory, and the optimizers update in place
    return [gk.Tensor(h.copy(), backend=backend, requires_grad=True) for h in hosts]


def set_grads(params: list[gk.Tensor], grads: list[np.ndarray | None]) -> None:
    for p, g in zip(params, grads, strict=True):
        p.grad = None if g is None else gk.Tensor(g, backend=p.backend)


def exact(backend: backends.Backend) -> bool:
    """numpy and strict (numpy underneath) give bitwise-equal results; CuPy's kernels may round otherwise."""
    return backend.name != "cupy"


def assert_same(actual: np.ndarray, expected: np.ndarray, backend: backends.Backend) -> None:
    if exact(backend):
        np.testing.assert_array_equal(actual, expected)
    else:
        np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=1e-15)


def state_arrays(opt: Optimizer) -> list:
    return [v for st in opt.state for k, v in st.items() if k != "step"]


# --- hand-written references (numpy, float64) ----------------------------------------------------------


def sgd_reference(params, grads_per_step, lr, momentum, weight_decay, nesterov):
    """PyTorch's SGD (dampening 0), one parameter at a time; a None gradient skips the parameter."""
    params = [p.copy() for p in params]
    bufs: list = [None] * len(params)
    for grads in grads_per_step:
        for i, g in enumerate(grads):
            if g is None:
                continue
            d = g + weight_decay * params[i] if weight_decay else g.copy()
            if momentum:
                bufs[i] = d.copy() if bufs[i] is None else momentum * bufs[i] + d
                d = d + momentum * bufs[i] if nesterov else bufs[i]
            params[i] = params[i] - lr * d
    return params


def adamw_reference(params, grads_per_step, lr, betas, eps, weight_decay):
    """Loshchilov & Hutter's AdamW as PyTorch writes it, in textbook form (bias-corrected m-hat, v-hat)."""
    b1, b2 = betas
    params = [p.copy() for p in params]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    t = [0] * len(params)
    for grads in grads_per_step:
        for i, g in enumerate(grads):
            if g is None:
                continue
            t[i] += 1
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g**2
            m_hat = m[i] / (1 - b1 ** t[i])
            v_hat = v[i] / (1 - b2 ** t[i])
            params[i] = params[i] * (1 - lr * weight_decay) - lr * m_hat / (np.sqrt(v_hat) + eps)
    return params


# --- SGD --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_plain_sgd_is_p_minus_lr_g_exactly(backend: backends.Backend, dtype: str) -> None:
    hosts, (grads,) = host_params(dtype=dtype), host_grads(1, dtype=dtype)
    params = make(backend, hosts)
    buffers = [p._data for p in params]
    opt = SGD(params, lr=0.1)
    set_grads(params, grads)
    opt.step()  # outside no_grad: the optimizer must enter it itself
    lr = np.dtype(dtype).type(0.1)
    for p, h, g, buf in zip(params, hosts, grads, buffers, strict=True):
        np.testing.assert_array_equal(p.numpy(), h - lr * g)
        assert p._data is buf  # updated in place
        assert p._version == 1  # exactly one in-place op
        assert backends.random.dtype_name(p.dtype) == dtype
    assert state_arrays(opt) == []  # plain SGD keeps no arrays


def test_plain_sgd_allocates_one_temporary() -> None:
    """The hot path is ``p -= lr * g``: one parameter-sized temporary, nothing more (numpy reports its
    allocations to tracemalloc)."""
    be = backends.get_backend("numpy")
    n = 1_000_000  # 8 MB in float64
    p = gk.Tensor(np.zeros(n), backend=be, requires_grad=True)
    p.grad = gk.Tensor(np.ones(n), backend=be)
    opt = SGD([p], lr=0.5)
    opt.step()  # warm up
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        opt.step()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert 8 * n <= peak < 1.5 * 8 * n
    np.testing.assert_array_equal(p.numpy(), np.full(n, -1.0))


@pytest.mark.parametrize(("momentum", "weight_decay", "nesterov"),
                         [(0.9, 0.0, False), (0.0, 0.01, False), (0.9, 0.01, False), (0.8, 0.05, True)])
def test_sgd_matches_reference(backend: backends.Backend, momentum: float, weight_decay: float,
                               nesterov: bool) -> None:
    hosts, grads = host_params(), host_grads(5)
    grads[2][1] = None  # the second parameter has no gradient at step 3: skipped, its buffer kept as is
    params = make(backend, hosts)
    opt = SGD(params, lr=0.05, momentum=momentum, weight_decay=weight_decay, nesterov=nesterov)
    for step_grads in grads:
        set_grads(params, step_grads)
        opt.step()
    expected = sgd_reference(hosts, grads, 0.05, momentum, weight_decay, nesterov)
    for p, e in zip(params, expected, strict=True):
        np.testing.assert_allclose(p.numpy(), e, rtol=1e-12, atol=1e-12)
    assert [st["step"] for st in opt.state] == [5, 4]
    if momentum:
        assert all(backend.owns(a) for a in state_arrays(opt)) and len(state_arrays(opt)) == 2


def test_sgd_momentum_buffer_does_not_alias_grad(backend: backends.Backend) -> None:
    (h,), (g,) = host_params()[:1], host_grads(1)[0][:1]
    p = gk.Tensor(h, backend=backend, requires_grad=True)
    p.grad = gk.Tensor(g, backend=backend)
    opt = SGD([p], lr=0.1, momentum=0.9)
    opt.step()
    opt.step()  # the buffer is updated in place: the gradient must not change with it
    np.testing.assert_array_equal(p.grad.numpy(), g)


# --- AdamW ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_adamw_matches_reference(backend: backends.Backend, weight_decay: float) -> None:
    hosts, grads = host_params(), host_grads(5)
    grads[1][0] = None  # bias correction counts each parameter's own updates
    params = make(backend, hosts)
    opt = AdamW(params, lr=0.01, betas=(0.9, 0.99), eps=1e-8, weight_decay=weight_decay)
    for step_grads in grads:
        set_grads(params, step_grads)
        opt.step()
    expected = adamw_reference(hosts, grads, 0.01, (0.9, 0.99), 1e-8, weight_decay)
    for p, e in zip(params, expected, strict=True):
        np.testing.assert_allclose(p.numpy(), e, rtol=1e-10, atol=1e-10)
    assert [st["step"] for st in opt.state] == [4, 5]


def test_adamw_defaults_are_pytorchs() -> None:
    p = gk.Tensor(np.zeros(2), backend="numpy", requires_grad=True)
    opt = AdamW([p])
    assert (opt.lr, opt.betas, opt.eps, opt.weight_decay) == (1e-3, (0.9, 0.999), 1e-8, 1e-2)


# --- convergence on a convex quadratic ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["sgd_momentum", "adamw"])
def test_minimises_least_squares(backend: backends.Backend, kind: str) -> None:
    """sum((A x - b)^2) through the real autograd engine reaches lstsq(A, b) to 1e-6."""
    rng = np.random.default_rng(0)
    A, b = rng.normal(size=(20, 5)), rng.normal(size=20)
    x_star = np.linalg.lstsq(A, b, rcond=None)[0]
    At, bt = gk.Tensor(A, backend=backend), gk.Tensor(b, backend=backend)
    x = gk.zeros(5, backend=backend, dtype="float64", requires_grad=True)
    if kind == "sgd_momentum":  # lr = 1/L with L = 2 * sigma_max(A)^2, the gradient's Lipschitz constant
        opt: Optimizer = SGD([x], lr=0.5 / np.linalg.norm(A, 2) ** 2, momentum=0.9)
        sched, steps = None, 600
    else:  # a constant lr leaves Adam circling the optimum at about lr; decay it
        opt = AdamW([x], lr=0.1, weight_decay=0.0)
        sched, steps = StepLR(opt, boundaries=[500, 1000], values=[0.1, 0.01, 0.001]), 1500
    for _ in range(steps):
        loss = ((At @ x - bt) ** 2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()
    np.testing.assert_allclose(x.numpy(), x_star, rtol=0, atol=1e-6)
    assert x._version == steps


# --- dtypes, skipping, the version counter ------------------------------------------------------------------

CONFIGS = {
    "sgd": lambda ps: SGD(ps, lr=0.1),
    "sgd_momentum_decay_nesterov": lambda ps: SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01, nesterov=True),
    "adamw": lambda ps: AdamW(ps, lr=0.01, weight_decay=0.1),
}


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_float32_stays_float32(backend: backends.Backend, config: str) -> None:
    params = make(backend, host_params(dtype="float32"))
    opt = CONFIGS[config](params)
    opt.lr = np.float64(opt.lr)  # a numpy scalar lr (from a schedule, say) must not promote either
    for grads in host_grads(3, dtype="float32"):
        set_grads(params, grads)
        opt.step()
    f32 = backend.dtype("float32")
    assert all(p.dtype == f32 for p in params)
    assert all(a.dtype == f32 and backend.owns(a) for a in state_arrays(opt))
    assert all(v.dtype == np.float32 for v in opt.state_dict().values() if isinstance(v, np.ndarray))


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_params_without_grad_are_skipped(backend: backends.Backend, config: str) -> None:
    hosts = host_params()
    params = make(backend, hosts)
    opt = CONFIGS[config](params)
    set_grads(params, [None, host_grads(1)[0][1]])
    opt.step()
    np.testing.assert_array_equal(params[0].numpy(), hosts[0])
    assert params[0]._version == 0 and opt.state[0] == {"step": 0}
    assert params[1]._version >= 1 and opt.state[1]["step"] == 1
    assert not np.array_equal(params[1].numpy(), hosts[1])


def test_zero_grad_forgets_gradients(backend: backends.Backend) -> None:
    params = make(backend, host_params())
    set_grads(params, host_grads(1)[0])
    SGD(params, lr=0.1).zero_grad()
    assert all(p.grad is None for p in params)


def test_step_moves_the_version_counter_so_stale_graphs_fail(backend: backends.Backend) -> None:
    x = gk.Tensor(np.arange(3.0), backend=backend, requires_grad=True)
    loss = (x * x).sum()  # saves x for its backward
    x.grad = gk.Tensor(np.ones(3), backend=backend)
    AdamW([x], lr=0.1).step()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


# --- state: saving, loading, where it lives -------------------------------------------------------------


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_state_dict_round_trip_resumes_exactly(backend: backends.Backend, config: str, tmp_path) -> None:
    """Save after 3 steps (through a checkpoint file and JSON), load into a fresh optimizer over fresh
    tensors, take 3 more steps: the same numbers as 6 straight steps."""
    from gradkit import checkpoint

    hosts, grads = host_params(), host_grads(6)
    straight = make(backend, hosts)
    opt = CONFIGS[config](straight)
    for g in grads:
        set_grads(straight, g)
        opt.step()

    first = make(backend, hosts)
    opt1 = CONFIGS[config](first)
    for g in grads[:3]:
        set_grads(first, g)
        opt1.step()
    sd = opt1.state_dict()
    arrays = {k: v for k, v in sd.items() if isinstance(v, np.ndarray)}
    scalars = {k: v for k, v in sd.items() if not isinstance(v, np.ndarray)}
    assert all(isinstance(v, (int, float, bool, str)) for v in scalars.values())
    path = tmp_path / "opt.npz"
    checkpoint.save(path, {**arrays, **{f"param.{i}": p.numpy() for i, p in enumerate(first)}},
                    json.loads(json.dumps(scalars)))
    loaded, meta = checkpoint.load(path)

    second = make(backend, [loaded.pop(f"param.{i}") for i in range(len(SHAPES))])
    opt2 = CONFIGS[config](second)
    opt2.lr = 123.0  # overwritten by the load
    opt2.load_state_dict({**loaded, **meta})
    assert opt2.lr == opt1.lr
    for g in grads[3:]:
        set_grads(second, g)
        opt2.step()
    for a, b in zip(second, straight, strict=True):
        assert_same(a.numpy(), b.numpy(), backend)
    assert [st["step"] for st in opt2.state] == [6, 6]


def test_state_dict_is_a_host_copy(backend: backends.Backend) -> None:
    params = make(backend, host_params())
    opt = AdamW(params, lr=0.01)
    set_grads(params, host_grads(1)[0])
    opt.step()
    sd = opt.state_dict()
    assert sd["type"] == "AdamW" and sd["num_params"] == 2 and sd["state.0.step"] == 1
    arrays = {k: v for k, v in sd.items() if isinstance(v, np.ndarray)}
    assert sorted(arrays) == ["state.0.exp_avg", "state.0.exp_avg_sq", "state.1.exp_avg", "state.1.exp_avg_sq"]
    before = backend.to_numpy(opt.state[0]["exp_avg"])
    arrays["state.0.exp_avg"][...] = 7.0
    np.testing.assert_array_equal(backend.to_numpy(opt.state[0]["exp_avg"]), before)
    # and loading copies too: the caller's arrays are not the optimizer's
    opt.load_state_dict(sd)
    opt.step()
    np.testing.assert_array_equal(sd["state.0.exp_avg"], np.full((4, 3), 7.0))


def test_named_parameters_key_the_state(backend: backends.Backend) -> None:
    w, b = make(backend, host_params())
    opt = SGD([("layer.0.weight", w), ("layer.0.bias", b)], lr=0.1, momentum=0.9)
    set_grads([w, b], host_grads(1)[0])
    opt.step()
    sd = opt.state_dict()
    assert {"state.layer.0.weight.momentum_buffer", "state.layer.0.bias.step"} <= set(sd)
    fresh = SGD([("layer.0.weight", w), ("layer.0.bias", b)], lr=0.1, momentum=0.9)
    fresh.load_state_dict(sd)
    assert all(backend.owns(a) for a in state_arrays(fresh))
    renamed = SGD([("w", w), ("b", b)], lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match="unexpected entry 'state.layer.0.weight.step'"):
        renamed.load_state_dict(sd)


def test_loaded_state_lives_on_the_params_backend_in_their_dtype(backend: backends.Backend) -> None:
    host_opt_params = make(backends.get_backend("numpy"), host_params())
    opt = AdamW(host_opt_params, lr=0.01)
    set_grads(host_opt_params, host_grads(1)[0])
    opt.step()
    sd = opt.state_dict()  # float64 state
    params = make(backend, host_params(dtype="float32"))
    fresh = AdamW(params, lr=0.01)
    fresh.load_state_dict(sd)
    assert all(backend.owns(a) and a.dtype == backend.dtype("float32") for a in state_arrays(fresh))
    set_grads(params, host_grads(1, dtype="float32")[0])
    fresh.step()


@pytest.mark.parametrize("config", ["sgd_momentum_decay_nesterov", "adamw"])
def test_to_moves_state_with_the_model(backend: backends.Backend, config: str) -> None:
    """Train 2 steps on numpy, move the model and the optimizer to ``backend``, train 2 more: the same
    numbers as 4 steps on numpy, with the state on ``backend``."""
    cpu = backends.get_backend("numpy")
    hosts, grads = host_params(), host_grads(4)
    ref = make(cpu, hosts)
    ref_opt = CONFIGS[config](ref)
    params = make(cpu, hosts)
    opt = CONFIGS[config](params)
    for g in grads[:2]:
        for ps, o in ((ref, ref_opt), (params, opt)):
            set_grads(ps, g)
            o.step()
    moved = [p.to(backend) for p in params]
    assert opt.to(params=moved) is opt
    assert opt.params == moved
    assert all(backend.owns(a) for a in state_arrays(opt)) and state_arrays(opt)
    for g in grads[2:]:
        for ps, o in ((ref, ref_opt), (moved, opt)):
            set_grads(ps, g)
            o.step()
    for a, b in zip(moved, ref, strict=True):
        assert a.backend == backend
        assert_same(a.numpy(), b.numpy(), backend)
    back = [p.to(cpu) for p in moved]
    opt.to("numpy", params=back)
    assert all(cpu.owns(a) for a in state_arrays(opt))


def test_state_on_another_backend_than_the_params_is_an_error() -> None:
    if not backends.probe()["strict"].usable:
        pytest.skip("needs the strict backend")
    params = make(backends.get_backend("numpy"), host_params())
    opt = SGD(params, lr=0.1, momentum=0.9)
    set_grads(params, host_grads(1)[0])
    opt.step()
    opt.to("strict")  # the state moves, the parameters stay on numpy
    assert all(backends.get_backend("strict").owns(a) for a in state_arrays(opt))
    with pytest.raises(gk.DeviceMismatchError, match=r"optimizer\.to"):
        opt.step()
    opt.to()  # back onto each parameter's backend
    opt.step()
    with pytest.raises(gk.DeviceMismatchError, match="move the model first"):
        opt.to("strict", params=params)


def test_to_rejects_other_parameters(backend: backends.Backend) -> None:
    params = make(backend, host_params())
    opt = SGD(params, lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match="got 1 parameters, the optimizer has 2"):
        opt.to(params=params[:1])
    with pytest.raises(ValueError, match=r"had shape \(3,\)"):
        opt.to(params=[params[0], gk.Tensor(np.zeros(4), backend=backend, requires_grad=True)])


# --- load_state_dict's errors -------------------------------------------------------------------------------


@pytest.fixture
def trained(backend: backends.Backend) -> tuple[AdamW, dict]:
    params = make(backend, host_params())
    opt = AdamW(params, lr=0.01)
    set_grads(params, host_grads(1)[0])
    opt.step()
    return opt, opt.state_dict()


def _without(d: dict, key: str) -> dict:
    return {k: v for k, v in d.items() if k != key}


@pytest.mark.parametrize(("change", "message"), [
    (lambda sd: {**sd, "type": "SGD"}, "got the state of 'SGD'"),
    (lambda sd: {**sd, "num_params": 3}, "3 parameter entries, this optimizer has 2"),
    (lambda sd: _without(sd, "num_params"), "has no 'num_params'"),
    (lambda sd: {**sd, "state.0.exp_avg": np.zeros((3, 4))}, r"has shape \(3, 4\), parameter '0' has shape \(4, 3\)"),
    (lambda sd: _without(sd, "state.1.exp_avg_sq"), r"parameter '1' lacks \['exp_avg_sq'\]"),
    (lambda sd: {**sd, "state.2.exp_avg": np.zeros(3)}, "unexpected entry 'state.2.exp_avg'"),
    (lambda sd: {**sd, "state.0.momentum_buffer": np.zeros((4, 3))}, "unexpected entry"),
    (lambda sd: {**sd, "extra": 1}, "unexpected entry 'extra'"),
    (lambda sd: _without(sd, "beta2"), "has no 'beta2'"),
    (lambda sd: {**sd, "lr": -1.0}, "lr must be finite, >= 0"),
    (lambda sd: {**sd, "beta1": 1.0}, "beta1 must be finite, >= 0 and < 1.0"),
    (lambda sd: {**sd, "state.0.step": -1}, "'state.0.step' must be an int >= 0"),
    (lambda sd: {**sd, "state.0.exp_avg": [[0.0] * 3] * 4}, "must be a float numpy array"),
    (lambda sd: {**sd, "state.0.exp_avg": np.zeros((4, 3), dtype=np.int64)}, "must be a float numpy array"),
    (lambda sd: [sd], "expects the dict that state_dict"),
])
def test_load_state_dict_errors(trained: tuple[AdamW, dict], change, message: str) -> None:
    opt, sd = trained
    before = opt.state_dict()
    with pytest.raises(ValueError, match=message):
        opt.load_state_dict(change(sd))
    after = opt.state_dict()  # a failed load changes nothing
    assert after.keys() == before.keys()
    for k, v in before.items():
        if isinstance(v, np.ndarray):
            np.testing.assert_array_equal(after[k], v)
        else:
            assert after[k] == v


def test_load_state_dict_accepts_its_own_output(trained: tuple[AdamW, dict]) -> None:
    opt, sd = trained
    opt.load_state_dict(sd)
    assert opt.state_dict().keys() == sd.keys()


# --- constructor errors -----------------------------------------------------------------------------------


def test_constructor_errors() -> None:
    p = gk.Tensor(np.zeros(3), backend="numpy", requires_grad=True)
    with pytest.raises(ValueError, match="no parameters"):
        SGD([], lr=0.1)
    with pytest.raises(TypeError, match="got a single Tensor"):
        SGD(p, lr=0.1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="parameter 0 is a ndarray"):
        SGD([np.zeros(3)], lr=0.1)  # type: ignore[list-item]
    with pytest.raises(TypeError, match="only floating-point"):
        SGD([gk.arange(3, backend="numpy")], lr=0.1)
    with pytest.raises(ValueError, match="more than once"):
        SGD([p, p], lr=0.1)
    with pytest.raises(ValueError, match="duplicate parameter names"):
        SGD([("w", p), ("w", p.detach())], lr=0.1)
    with pytest.raises(ValueError, match="lr must be"):
        SGD([p], lr=-0.1)
    with pytest.raises(ValueError, match="lr must be"):
        SGD([p], lr=float("nan"))
    with pytest.raises(ValueError, match="nesterov=True needs momentum"):
        SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="betas must be a pair"):
        AdamW([p], betas=(0.9,))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="beta2 must be"):
        AdamW([p], betas=(0.9, 1.0))
    assert "SGD(1 parameters, lr=0.1" in repr(SGD([p], lr=0.1))


# --- StepLR -----------------------------------------------------------------------------------------------


def _opt() -> SGD:
    return SGD([gk.Tensor(np.zeros(2), backend="numpy", requires_grad=True)], lr=1.0)


def test_step_lr_makemore_recipe() -> None:
    opt = _opt()
    sched = StepLR(opt, boundaries=[100_000], values=[0.1, 0.01])
    assert opt.lr == 0.1  # set at construction, for update 0
    assert [sched.lr_at(s) for s in (0, 1, 99_999, 100_000, 100_001, 199_999)] == [0.1] * 3 + [0.01] * 3


def test_step_lr_drives_the_optimizer() -> None:
    opt = _opt()
    sched = StepLR(opt, boundaries=[2, 5], values=[1.0, 0.5, 0.25])
    used = []
    for _ in range(7):
        used.append(opt.lr)  # the lr update i uses
        sched.step()
    assert used == [1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25]
    assert sched.last_step == 7 and opt.lr == 0.25


def test_step_lr_state_round_trip() -> None:
    opt = _opt()
    sched = StepLR(opt, boundaries=[3], values=[0.1, 0.01])
    for _ in range(4):
        sched.step()
    sd = json.loads(json.dumps(sched.state_dict()))
    opt2 = _opt()
    sched2 = StepLR(opt2)  # the defaults: overwritten by the load
    sched2.load_state_dict(sd)
    assert (sched2.last_step, sched2.boundaries, sched2.values, opt2.lr) == (4, [3], [0.1, 0.01], 0.01)
    with pytest.raises(ValueError, match="lacks"):
        sched2.load_state_dict({"type": "StepLR"})
    with pytest.raises(ValueError, match="expects"):
        sched2.load_state_dict({"last_step": 1})


@pytest.mark.parametrize(("boundaries", "values", "message"), [
    ([100], [0.1], "1 boundaries need 2 values"),
    ([5, 5], [0.1, 0.01, 0.001], "strictly increasing"),
    ([0], [0.1, 0.01], "ints > 0"),
    ([1.5], [0.1, 0.01], "ints > 0"),
    ([10], [0.1, -0.01], "must be finite, >= 0"),
])
def test_step_lr_errors(boundaries, values, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        StepLR(_opt(), boundaries=boundaries, values=values)
