"""gradkit.optim against torch.optim, on every backend: the same initial parameters fed the same gradients for 20
steps give torch's parameters and every state tensor (SGD with each option, Adam and AdamW with and without weight
decay and maximize, two parameter groups); ``state_dict()`` has torch's structure and values, and a state dict
crosses between the two libraries (through numpy) and resumes identically; each scheduler's ``get_last_lr()``
sequence is torch's, a rate set by hand included; constructor errors are torch's, word for word; the signatures
and defaults are torch's. Without torch, tests/test_optim.py checks the same updates against numpy references."""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from gradkit.backends.random import dtype_name  # noqa: E402

import gradkit as gk  # noqa: E402
from gradkit import backends, optim  # noqa: E402
from gradkit.optim import lr_scheduler  # noqa: E402
from gradkit.testing import assert_close  # noqa: E402

pytestmark = pytest.mark.torch

SHAPES = [(4, 3), (3,), (2, 2)]
STEPS = 20

# name -> (optimizer class name, hyper-parameters): every option of each optimizer, alone and together.
CONFIGS: dict[str, tuple[str, dict[str, Any]]] = {
    "SGD": ("SGD", {"lr": 0.1}),
    "SGD default lr": ("SGD", {}),
    "SGD momentum": ("SGD", {"lr": 0.1, "momentum": 0.9}),
    "SGD dampening": ("SGD", {"lr": 0.1, "momentum": 0.8, "dampening": 0.3}),
    "SGD nesterov": ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    "SGD weight_decay": ("SGD", {"lr": 0.1, "weight_decay": 0.05}),
    "SGD maximize": ("SGD", {"lr": 0.1, "maximize": True}),
    "SGD all": ("SGD", {"lr": 0.05, "momentum": 0.8, "weight_decay": 0.05, "nesterov": True, "maximize": True}),
    "Adam": ("Adam", {"lr": 0.01}),
    "Adam weight_decay": ("Adam", {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1}),
    "Adam maximize": ("Adam", {"lr": 0.01, "maximize": True}),
    "AdamW": ("AdamW", {"lr": 0.01}),
    "AdamW no decay": ("AdamW", {"lr": 0.01, "weight_decay": 0.0}),
    "AdamW decay maximize": ("AdamW", {"lr": 0.02, "betas": (0.85, 0.995), "weight_decay": 0.3, "maximize": True}),
}
STATEFUL = ["SGD all", "SGD dampening", "Adam weight_decay", "AdamW decay maximize"]
# Group keys torch has and gradkit does not: switches between torch's implementations (for-each, fused,
# CUDA-graph capturable, differentiable) and Adam's flag that makes it AdamW (gradkit has the two classes).
TORCH_ONLY = {"foreach", "fused", "capturable", "differentiable", "decoupled_weight_decay"}


class Pair:
    """The same parameters in both libraries (gradkit's on ``backend``) and an optimizer over each."""

    def __init__(self, config: str, backend: backends.Backend, dtype: str = "float64",
                 groups: list[dict[str, Any]] | None = None, hosts: list[np.ndarray] | None = None) -> None:
        name, kwargs = CONFIGS[config]
        self.dtype = dtype
        if hosts is None:
            rng = np.random.default_rng(0)
            hosts = [rng.normal(size=s) for s in SHAPES]
        self.torch_params = [torch.tensor(h, dtype=getattr(torch, dtype), requires_grad=True) for h in hosts]
        self.params = [gk.Tensor(h.copy(), backend=backend, dtype=dtype, requires_grad=True) for h in hosts]
        self.torch_opt = getattr(torch.optim, name)(_grouped(self.torch_params, groups), **kwargs)
        self.opt = getattr(optim, name)(_grouped(self.params, groups), **kwargs)

    def step(self, grads: list[np.ndarray | None]) -> None:
        for tp, p, g in zip(self.torch_params, self.params, grads, strict=True):
            tp.grad = None if g is None else torch.tensor(g, dtype=tp.dtype)
            p.grad = None if g is None else gk.Tensor(g, backend=p.backend, dtype=self.dtype)
        self.torch_opt.step()
        self.opt.step()

    def run(self, steps: int, seed: int = 1) -> None:
        rng = np.random.default_rng(seed)
        for i in range(steps):
            grads: list[np.ndarray | None] = [rng.normal(size=s) for s in SHAPES]
            if i % 7 == 3:
                grads[1] = None  # skipped: no decay, no moment update, its own step count
            self.step(grads)

    def assert_matches(self) -> None:
        """Parameters and every state tensor equal torch's, within the tolerance of their dtype."""
        for i, (tp, p) in enumerate(zip(self.torch_params, self.params, strict=True)):
            assert_close(p, tp.detach().numpy(), dtype=p.dtype, what=f"parameter {i}")
        assert_same_state(self.opt.state_dict()["state"], self.torch_opt.state_dict()["state"])


def _grouped(params: list[Any], groups: list[dict[str, Any]] | None) -> list[Any]:
    """``groups`` given as ``{'params': [indices], ...}``, on these parameters; None: the plain list."""
    if groups is None:
        return params
    return [{**g, "params": [params[i] for i in g["params"]]} for g in groups]


def assert_same_state(state: dict[int, dict[str, Any]], torch_state: dict[int, dict[str, Any]]) -> None:
    """gradkit's ``state_dict()['state']`` against torch's: the same parameter indices and names, the same
    dtypes and shapes, values within tolerance (``step`` exactly)."""
    assert sorted(state) == sorted(torch_state)
    for i, entries in state.items():
        assert sorted(entries) == sorted(torch_state[i]), f"state names of parameter {i}"
        for name, t in entries.items():
            want = torch_state[i][name]
            assert str(want.dtype) == f"torch.{dtype_name(t.dtype)}", f"{i}.{name} dtype"
            if name == "step":
                assert t.shape == () and t.item() == want.item()
            else:
                assert_close(t, want.numpy(), dtype=t.dtype, what=f"state {i}.{name}")


def to_numpy(value: Any) -> Any:
    """A state dict with every tensor (torch's or gradkit's) a numpy array, deep-copied."""
    if isinstance(value, dict):
        return {k: to_numpy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_numpy(v) for v in value]
    if isinstance(value, gk.Tensor):
        return value.numpy()
    if torch.is_tensor(value):
        return value.detach().numpy().copy()
    return copy.deepcopy(value)


def to_torch(value: Any) -> Any:
    """A host state dict with every numpy array a torch tensor."""
    if isinstance(value, dict):
        return {k: to_torch(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_torch(v) for v in value]
    return torch.from_numpy(value) if isinstance(value, np.ndarray) else value


# --- updates ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("config", list(CONFIGS))
def test_update_matches_torch(backend: backends.Backend, config: str, dtype: str) -> None:
    pair = Pair(config, backend, dtype)
    pair.run(STEPS)
    pair.assert_matches()


GROUPS = [{"params": [0, 2], "lr": 0.05, "weight_decay": 0.2}, {"params": [1], "weight_decay": 0.0}]


@pytest.mark.parametrize("config", ["SGD all", "Adam weight_decay", "AdamW decay maximize"])
def test_two_groups_match_torch(backend: backends.Backend, config: str) -> None:
    """Two groups of different lr and weight_decay (the second takes the constructor's lr)."""
    pair = Pair(config, backend, groups=GROUPS)
    pair.run(STEPS)
    pair.assert_matches()
    for mine, theirs in zip(pair.opt.param_groups, pair.torch_opt.param_groups, strict=True):
        assert (mine["lr"], mine["weight_decay"]) == (theirs["lr"], theirs["weight_decay"])


@pytest.mark.parametrize("config", ["SGD all", "AdamW"])
def test_group_lr_changed_mid_way_matches_torch(backend: backends.Backend, config: str) -> None:
    pair = Pair(config, backend, groups=GROUPS)
    pair.run(5)
    for opt in (pair.opt, pair.torch_opt):
        opt.param_groups[0]["lr"] *= 3.0
        opt.param_groups[1]["lr"] = 0.001
    pair.run(5, seed=2)
    pair.assert_matches()


@pytest.mark.parametrize("set_to_none", [True, False])
def test_zero_grad_matches_torch(backend: backends.Backend, set_to_none: bool) -> None:
    pair = Pair("SGD momentum", backend)
    pair.run(1)
    pair.torch_opt.zero_grad(set_to_none=set_to_none)
    pair.opt.zero_grad(set_to_none=set_to_none)
    for tp, p in zip(pair.torch_params, pair.params, strict=True):
        assert (p.grad is None) == (tp.grad is None)
        if p.grad is not None:
            assert_close(p.grad, tp.grad.numpy(), dtype=p.dtype)


# --- state dicts -----------------------------------------------------------------------------------------


def assert_same_groups(groups: list[dict[str, Any]], torch_groups: list[dict[str, Any]]) -> None:
    """gradkit's groups have torch's keys (less TORCH_ONLY) and values, parameter indices included."""
    assert len(groups) == len(torch_groups)
    for mine, theirs in zip(groups, torch_groups, strict=True):
        assert set(theirs) - set(mine) <= TORCH_ONLY and set(mine) <= set(theirs), sorted(set(mine) ^ set(theirs))
        assert mine == {k: v for k, v in theirs.items() if k in mine}


@pytest.mark.parametrize("config", list(CONFIGS))
def test_state_dict_matches_torch(backend: backends.Backend, config: str) -> None:
    pair = Pair(config, backend, groups=GROUPS)
    pair.run(4)
    sd, torch_sd = pair.opt.state_dict(), pair.torch_opt.state_dict()
    assert set(sd) == set(torch_sd) == {"state", "param_groups"}
    assert list(sd["state"]) == list(torch_sd["state"])  # the same order too
    assert_same_state(sd["state"], torch_sd["state"])
    assert_same_groups(sd["param_groups"], torch_sd["param_groups"])


def test_state_dict_with_named_parameters_matches_torch(backend: backends.Backend) -> None:
    hosts = [np.ones(3), np.zeros(2)]
    torch_opt = torch.optim.SGD([(f"p{i}", torch.tensor(h, requires_grad=True)) for i, h in enumerate(hosts)],
                                lr=0.1)
    opt = optim.SGD([(f"p{i}", gk.Tensor(h, backend=backend, requires_grad=True)) for i, h in enumerate(hosts)],
                    lr=0.1)
    assert_same_groups(opt.state_dict()["param_groups"], torch_opt.state_dict()["param_groups"])


@pytest.mark.parametrize("config", STATEFUL + ["SGD", "Adam"])
def test_torch_state_dict_loads_into_gradkit(backend: backends.Backend, config: str) -> None:
    """torch trains 5 steps; a fresh gradkit optimizer over the same parameter values loads torch's state dict
    (through numpy); both train 5 more: the same parameters and state."""
    pair = Pair(config, backend, groups=GROUPS)
    for opt in (pair.opt, pair.torch_opt):  # the load sets these back
        opt.param_groups[0]["lr"] = 0.5
    rng = np.random.default_rng(3)
    for _ in range(5):
        for tp in pair.torch_params:
            tp.grad = torch.tensor(rng.normal(size=tp.shape))
        pair.torch_opt.step()
    hosts = [tp.detach().numpy().copy() for tp in pair.torch_params]
    resumed = Pair(config, backend, groups=GROUPS, hosts=hosts)
    resumed.torch_opt = pair.torch_opt
    resumed.torch_params = pair.torch_params
    resumed.opt.load_state_dict(to_numpy(pair.torch_opt.state_dict()))
    assert_same_state(resumed.opt.state_dict()["state"], pair.torch_opt.state_dict()["state"])
    resumed.run(5, seed=4)
    resumed.assert_matches()


@pytest.mark.parametrize("config", STATEFUL + ["SGD", "Adam"])
def test_gradkit_state_dict_loads_into_torch(backend: backends.Backend, config: str) -> None:
    """The other way: gradkit trains 5 steps; torch loads gradkit's state dict (through numpy); both go on."""
    pair = Pair(config, backend, groups=GROUPS)
    for opt in (pair.opt, pair.torch_opt):
        opt.param_groups[0]["lr"] = 0.5
    rng = np.random.default_rng(3)
    for _ in range(5):
        for p in pair.params:
            p.grad = gk.Tensor(rng.normal(size=p.shape), backend=backend)
        pair.opt.step()
    hosts = [p.numpy() for p in pair.params]
    resumed = Pair(config, backend, groups=GROUPS, hosts=hosts)
    resumed.opt, resumed.params = pair.opt, pair.params
    resumed.torch_opt.load_state_dict(to_torch(to_numpy(pair.opt.state_dict())))
    assert_same_state(pair.opt.state_dict()["state"], resumed.torch_opt.state_dict()["state"])
    assert resumed.torch_opt.param_groups[0]["lr"] == 0.5
    resumed.run(5, seed=4)
    resumed.assert_matches()


# --- schedulers ------------------------------------------------------------------------------------------

SCHEDULERS: dict[str, tuple[str, dict[str, Any]]] = {
    "LambdaLR": ("LambdaLR", {"lr_lambda": lambda e: 0.95**e}),
    "LambdaLR per group": ("LambdaLR", {"lr_lambda": [lambda e: 1 / (e + 1), lambda e: 0.9 ** (e // 3)]}),
    "StepLR": ("StepLR", {"step_size": 7, "gamma": 0.5}),
    "MultiStepLR": ("MultiStepLR", {"milestones": [12, 5, 20, 12], "gamma": 0.3}),
    "ConstantLR": ("ConstantLR", {"factor": 0.25, "total_iters": 6}),
    "ConstantLR defaults": ("ConstantLR", {}),
    "LinearLR": ("LinearLR", {"start_factor": 0.2, "end_factor": 0.9, "total_iters": 10}),
    "LinearLR decay": ("LinearLR", {"start_factor": 1.0, "end_factor": 0.1, "total_iters": 25}),
    "ExponentialLR": ("ExponentialLR", {"gamma": 0.9}),
    "CosineAnnealingLR": ("CosineAnnealingLR", {"T_max": 10, "eta_min": 0.01}),
    "CosineAnnealingLR long": ("CosineAnnealingLR", {"T_max": 40}),
}


@pytest.mark.parametrize("by_hand", [None, 4, 13], ids=["as-set", "by-hand-at-4", "by-hand-at-13"])
@pytest.mark.parametrize("config", list(SCHEDULERS))
def test_scheduler_matches_torch(config: str, by_hand: int | None) -> None:
    """30 steps over two groups: ``get_last_lr()`` (and each group's lr) is torch's, also after a group's rate
    is set by hand mid-way (carried on by the chainable forms, overridden by LambdaLR's, as torch's)."""
    name, kwargs = SCHEDULERS[config]
    pair = Pair("SGD momentum", backends.get_backend("numpy"), groups=GROUPS)
    torch_sched = getattr(torch.optim.lr_scheduler, name)(pair.torch_opt, **kwargs)
    sched = getattr(lr_scheduler, name)(pair.opt, **kwargs)
    for e in range(30):
        np.testing.assert_allclose(sched.get_last_lr(), torch_sched.get_last_lr(), rtol=1e-12, atol=0)
        assert [g["lr"] for g in pair.opt.param_groups] == sched.get_last_lr()
        if e == by_hand:
            pair.opt.param_groups[0]["lr"] *= 0.5
            pair.torch_opt.param_groups[0]["lr"] *= 0.5
        pair.torch_opt.step()  # no gradients: no update, but torch wants a step before the scheduler's
        pair.opt.step()
        torch_sched.step()
        sched.step()
    assert sched.last_epoch == torch_sched.last_epoch == 30


@pytest.mark.parametrize("config", list(SCHEDULERS))
def test_resumed_scheduler_matches_torch(config: str) -> None:
    """Constructed with ``last_epoch=7`` over groups that have an ``initial_lr`` (a resume) and a current rate
    of their own: the rates at construction and for 10 steps are torch's."""
    name, kwargs = SCHEDULERS[config]
    groups = [{**g, "initial_lr": 0.2 * (i + 1)} for i, g in enumerate(GROUPS)]
    pair = Pair("SGD", backends.get_backend("numpy"), groups=groups)
    torch_sched = getattr(torch.optim.lr_scheduler, name)(pair.torch_opt, last_epoch=7, **kwargs)
    sched = getattr(lr_scheduler, name)(pair.opt, last_epoch=7, **kwargs)
    for _ in range(10):
        np.testing.assert_allclose(sched.get_last_lr(), torch_sched.get_last_lr(), rtol=1e-12, atol=0)
        pair.torch_opt.step()
        torch_sched.step()
        sched.step()
    assert sched.last_epoch == torch_sched.last_epoch


def _scheduler(library: str, opt: Any, config: str) -> Any:
    name, kwargs = SCHEDULERS[config]
    return getattr(torch.optim.lr_scheduler if library == "torch" else lr_scheduler, name)(opt, **kwargs)


@pytest.mark.parametrize("source", ["torch", "gradkit"])
@pytest.mark.parametrize("config", list(SCHEDULERS))
def test_scheduler_state_dict_crosses(config: str, source: str) -> None:
    """A schedule run 5 steps in one library, its optimizer's groups and its scheduler's state_dict loaded into
    the other's: the next 8 rates are the same."""
    pair, fresh = (Pair("SGD", backends.get_backend("numpy"), groups=GROUPS) for _ in range(2))
    src_opt, dst_opt = (pair.torch_opt, fresh.opt) if source == "torch" else (pair.opt, fresh.torch_opt)
    src = _scheduler(source, src_opt, config)
    dst = _scheduler("gradkit" if source == "torch" else "torch", dst_opt, config)
    for _ in range(5):
        src_opt.step()
        src.step()
    dst_opt.load_state_dict({"state": {}, "param_groups": copy.deepcopy(src_opt.state_dict()["param_groups"])})
    dst.load_state_dict(copy.deepcopy(src.state_dict()))
    for _ in range(8):
        for opt, sched in ((src_opt, src), (dst_opt, dst)):
            opt.step()
            sched.step()
        np.testing.assert_allclose(dst.get_last_lr(), src.get_last_lr(), rtol=1e-12, atol=0)


class Warmup:
    """A callable object with state: LambdaLR's state_dict saves its ``__dict__``."""

    def __init__(self, scale: float) -> None:
        self.scale = scale

    def __call__(self, epoch: int) -> float:
        return self.scale * min(1.0, (epoch + 1) / 5)


def test_lambda_lr_object_state_crosses() -> None:
    pair = Pair("SGD", backends.get_backend("numpy"), groups=GROUPS)
    torch_sched = torch.optim.lr_scheduler.LambdaLR(pair.torch_opt, Warmup(0.5))
    sched = lr_scheduler.LambdaLR(pair.opt, Warmup(2.0))
    sched.load_state_dict(torch_sched.state_dict())
    assert [fn.scale for fn in sched.lr_lambdas] == [0.5, 0.5]
    assert sched.state_dict()["lr_lambdas"] == torch_sched.state_dict()["lr_lambdas"] == [{"scale": 0.5}] * 2


def test_chained_schedulers_match_torch() -> None:
    pair = Pair("SGD", backends.get_backend("numpy"), groups=GROUPS)
    mine = [lr_scheduler.LinearLR(pair.opt, start_factor=0.1, total_iters=5),
            lr_scheduler.CosineAnnealingLR(pair.opt, T_max=20)]
    theirs = [torch.optim.lr_scheduler.LinearLR(pair.torch_opt, start_factor=0.1, total_iters=5),
              torch.optim.lr_scheduler.CosineAnnealingLR(pair.torch_opt, T_max=20)]
    for _ in range(25):
        pair.torch_opt.step()
        for s in (*mine, *theirs):
            s.step()
        np.testing.assert_allclose([g["lr"] for g in pair.opt.param_groups],
                                   [g["lr"] for g in pair.torch_opt.param_groups], rtol=1e-12, atol=0)


# --- errors and signatures -------------------------------------------------------------------------------

ERRORS: dict[str, Callable[[Any, Any], Any]] = {
    "negative lr": lambda lib, p: lib.SGD([p], lr=-0.1),
    "nan lr": lambda lib, p: lib.Adam([p], lr=float("nan")),
    "negative momentum": lambda lib, p: lib.SGD([p], lr=0.1, momentum=-0.5),
    "negative SGD weight_decay": lambda lib, p: lib.SGD([p], weight_decay=-1.0),
    "nesterov without momentum": lambda lib, p: lib.SGD([p], nesterov=True),
    "nesterov with dampening": lambda lib, p: lib.SGD([p], momentum=0.9, dampening=0.1, nesterov=True),
    "beta1 1.0": lambda lib, p: lib.AdamW([p], betas=(1.0, 0.999)),
    "beta2 negative": lambda lib, p: lib.Adam([p], betas=(0.9, -0.1)),
    "negative eps": lambda lib, p: lib.AdamW([p], eps=-1e-8),
    "negative Adam weight_decay": lambda lib, p: lib.Adam([p], weight_decay=-0.1),
    "a parameter in two groups": lambda lib, p: lib.SGD([{"params": [p]}, {"params": [p]}]),
    "ConstantLR factor": lambda lib, p: lib.lr_scheduler.ConstantLR(lib.SGD([p]), factor=1.5),
    "LinearLR start_factor": lambda lib, p: lib.lr_scheduler.LinearLR(lib.SGD([p]), start_factor=0.0),
    "LinearLR end_factor": lambda lib, p: lib.lr_scheduler.LinearLR(lib.SGD([p]), end_factor=1.5),
    "LambdaLR count": lambda lib, p: lib.lr_scheduler.LambdaLR(lib.SGD([p]), [lambda e: 1.0] * 2),
    "load: groups": lambda lib, p: lib.SGD([p]).load_state_dict({"state": {}, "param_groups": []}),
    "load: group size": lambda lib, p: lib.SGD([p]).load_state_dict({"state": {}, "param_groups": [{"params": []}]}),
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_errors_are_torchs_word_for_word(case: str) -> None:
    make = ERRORS[case]
    with pytest.raises(ValueError) as torch_error:
        make(torch.optim, torch.zeros(3, requires_grad=True))
    with pytest.raises(ValueError) as error:
        make(optim, gk.zeros(3, requires_grad=True))
    assert str(error.value) == str(torch_error.value)


CLASSES = [*sorted({name for name, _ in CONFIGS.values()}), *sorted({name for name, _ in SCHEDULERS.values()})]


def _namespace(library: Any, name: str) -> Any:
    return getattr(library.optim.lr_scheduler if name.endswith("LR") else library.optim, name)


@pytest.mark.parametrize("name", CLASSES)
def test_signature_and_defaults_are_torchs(name: str) -> None:
    """Every argument gradkit takes is torch's, of the same kind (positional or keyword-only), in torch's order,
    with torch's default; torch's arguments that gradkit lacks are only its implementation switches."""
    mine = inspect.signature(_namespace(gk, name)).parameters
    theirs = inspect.signature(_namespace(torch, name)).parameters
    assert set(theirs) - set(mine) <= TORCH_ONLY, sorted(set(theirs) - set(mine))
    assert set(mine) <= set(theirs), sorted(set(mine) - set(theirs))
    positional = [n for n, p in theirs.items() if n in mine and p.kind != p.KEYWORD_ONLY]
    assert [n for n, p in mine.items() if p.kind != p.KEYWORD_ONLY] == positional
    for n, p in mine.items():
        assert (p.kind, p.default) == (theirs[n].kind, theirs[n].default), n


# The names gradkit.optim shares with torch.optim that the tables above do not draw, each with the reason.
NOT_DRAWN = {
    "Optimizer": "the base class: every optimizer above is one (test_optim checks add_param_group, zero_grad)",
    "LRScheduler": "the base class: every scheduler above is one",
    "lr_scheduler": "the module: its schedulers are drawn",
}


def test_tables_cover_every_shared_name() -> None:
    """A name that gradkit.optim or gradkit.optim.lr_scheduler shares with torch's is drawn above (or in
    NOT_DRAWN with a reason)."""
    shared = {n for n in optim.__all__ if hasattr(torch.optim, n)}
    shared |= {n for n in lr_scheduler.__all__ if hasattr(torch.optim.lr_scheduler, n)}
    assert "SGD" in shared and "CosineAnnealingLR" in shared
    missing = shared - set(CLASSES) - set(NOT_DRAWN)
    assert not missing, f"names torch.optim also has, drawn by no test here: {sorted(missing)}"
