"""Optimizers (``SGD``, ``AdamW``) and a step learning-rate schedule (``StepLR``), as in PyTorch.

Every optimizer updates its parameters in place, inside ``gradkit.no_grad()``, through the Tensor's in-place
methods (``sub_``, ``mul_``), so each update bumps the parameter's version counter and the autograd engine
notices a parameter changed under a graph that saved it. The arithmetic is the parameter's backend's ``xp``:
the same code runs on numpy, CuPy and array_api_strict, and keeps the parameter's dtype (a float32
parameter stays float32: hyper-parameters are used as Python floats, which never promote).

Optimizer state (momentum buffers, Adam's moments) lives on each parameter's backend, in its dtype, and is
created lazily at a parameter's first update. ``state_dict()`` brings it to the host as numpy arrays plus
JSON-able scalars, for ``gradkit.checkpoint``; ``load_state_dict`` moves it back onto each parameter's
backend; ``to(...)`` moves it when the model moves to another backend.

A typical loop (makemore part 3's recipe: lr 0.1, then 0.01 after half of 200,000 steps)::

    opt = SGD(model.parameters(), lr=0.1)
    sched = StepLR(opt, boundaries=[100_000], values=[0.1, 0.01])
    for i in range(200_000):
        loss = ...
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()

Sources: PyTorch's documentation of ``torch.optim.SGD``, ``torch.optim.AdamW`` and
``torch.optim.lr_scheduler`` (the update rules below are theirs, step for step); I. Loshchilov and
F. Hutter, "Decoupled Weight Decay Regularization", ICLR 2019 (AdamW); A. Karpathy, "Neural Networks: Zero
to Hero", makemore part 3 (the step schedule).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from backends import Backend, DeviceMismatchError
from backends.random import dtype_name

from ..autograd import no_grad
from ..tensor import Symbolic, Tensor, _resolve_backend

__all__ = ["SGD", "AdamW", "Optimizer", "StepLR"]

ParamsArg = Iterable[Tensor] | Iterable[tuple[str, Tensor]]


class Optimizer:
    """The base of gradkit's optimizers: the parameter list, ``zero_grad``, state saving and moving.

    Args:
        params: an iterable of parameter Tensors, or of ``(name, Tensor)`` pairs (as a module's
            ``named_parameters()`` gives). Names key the entries of ``state_dict()``; without names the
            parameters are named by position (``"0"``, ``"1"``, ...). Parameters must be floating-point
            Tensors, each given once; they may live on different backends.
        lr: the learning rate, a number >= 0. ``lr`` is a plain attribute: a schedule (``StepLR``) or the
            user may change it between steps.

    Attributes:
        params: the parameter Tensors, in the order given.
        names: their names (``str``), in the same order.
        lr: the learning rate (a Python float).
        state: one dict per parameter (same order): ``"step"`` (how many updates that parameter has had,
            an int) and the optimizer's arrays for it (arrays of the parameter's backend, in its dtype and
            shape; absent until the parameter's first update).

    Raises:
        TypeError: an entry that is not a Tensor or a ``(str, Tensor)`` pair, or a non-float parameter.
        ValueError: no parameters, a parameter given twice, duplicate names, a negative or non-finite lr.
    """

    #: The names of the per-parameter arrays this optimizer keeps (in ``state[i]``).
    state_keys: tuple[str, ...] = ()

    def __init__(self, params: ParamsArg, lr: float) -> None:
        self.names, self.params = _parse_params(params, type(self).__name__)
        self.lr = _check_number("lr", lr)
        self.state: list[dict[str, Any]] = [{"step": 0} for _ in self.params]
        self._state_backend: list[Backend | None] = [None] * len(self.params)

    def __repr__(self) -> str:
        hyper = ", ".join(f"{k}={v!r}" for k, v in self._hyper().items())
        return f"{type(self).__name__}({len(self.params)} parameters, {hyper})"

    def zero_grad(self) -> None:
        """Set every parameter's ``grad`` to None (the next ``backward()`` then writes fresh gradients)."""
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        """Update every parameter whose ``grad`` is not None, in place. Parameters without a gradient are
        skipped (their state does not advance)."""
        raise NotImplementedError

    # Hyper-parameters, overridden by subclasses: name -> Python float/bool.
    def _hyper(self) -> dict[str, Any]:
        return {"lr": self.lr}

    def _set_hyper(self, hyper: dict[str, Any]) -> None:
        self.lr = hyper["lr"]

    # State on the parameters' backends.
    def _state_for(self, i: int, p: Tensor) -> dict[str, Any]:
        """The state dict of parameter ``i``, checked to live on ``p``'s backend (a cheap identity test)."""
        backend = self._state_backend[i]
        if backend is not None and backend is not p.backend and backend != p.backend:
            raise DeviceMismatchError(
                f"{type(self).__name__}: the state of parameter {self.names[i]!r} is on {backend!r} but the "
                f"parameter is on {p.backend!r}; after moving the model call optimizer.to(params=...) with the "
                f"moved parameters (or optimizer.to({p.backend.name!r}))"
            )
        return self.state[i]

    def _claim(self, i: int, p: Tensor) -> Backend:
        """Record that parameter ``i``'s state arrays are (about to be) created on ``p``'s backend."""
        self._state_backend[i] = p.backend
        return p.backend

    def state_dict(self) -> dict[str, Any]:
        """The optimizer's state on the host: a flat dict of numpy arrays and JSON-able scalars.

        Keys: ``"type"`` (the class name), ``"num_params"``, the hyper-parameters (``"lr"``, ...; Python
        floats and bools), and per parameter named ``NAME``: ``"state.NAME.step"`` (an int) and
        ``"state.NAME.KEY"`` for each state array (a host copy, in the parameter's dtype and shape).

        The arrays are copies (the optimizer keeps working on its own). To store it with
        ``gradkit.checkpoint.save``, split it::

            sd = opt.state_dict()
            arrays = {k: v for k, v in sd.items() if isinstance(v, np.ndarray)}
            scalars = {k: v for k, v in sd.items() if not isinstance(v, np.ndarray)}

        and merge the two dicts back before ``load_state_dict``.
        """
        out: dict[str, Any] = {"type": type(self).__name__, "num_params": len(self.params), **self._hyper()}
        for i, (name, p) in enumerate(zip(self.names, self.params, strict=True)):
            st = self.state[i]
            out[f"state.{name}.step"] = int(st["step"])
            backend = self._state_backend[i] or p.backend
            for key in self.state_keys:
                if key in st:
                    out[f"state.{name}.{key}"] = backend.to_numpy(st[key])
        return out

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what ``state_dict()`` returned (possibly through a checkpoint), onto each parameter's
        backend in its dtype. The hyper-parameters (``lr``, ...) are restored too. The dict is checked whole
        before anything changes, and its arrays are copied (never shared with the caller).

        Raises:
            ValueError: another optimizer's state; a different number of parameters, or other names; a state
                array whose shape differs from its parameter's; a missing or extra entry; a hyper-parameter
                that is not a valid number. The message names the entry and the parameter.
        """
        cls = type(self).__name__
        if not isinstance(state_dict, dict):
            raise ValueError(f"{cls}.load_state_dict expects the dict that state_dict() returned, "
                             f"got {type(state_dict).__name__}")
        kind = state_dict.get("type")
        if kind != cls:
            raise ValueError(f"{cls}.load_state_dict got the state of {kind!r}; load it into a {kind} "
                             f"optimizer, or start this {cls} afresh")
        if "num_params" not in state_dict:
            raise ValueError(f"{cls}.load_state_dict: the state has no 'num_params'; it is not a complete "
                             f"{cls}.state_dict()")
        count = state_dict["num_params"]
        if count != len(self.params):
            raise ValueError(f"{cls}.load_state_dict: the state has {count} parameter entries, this optimizer "
                             f"has {len(self.params)} parameters; build the optimizer over the same model")
        hyper = {}
        for key, current in self._hyper().items():
            if key not in state_dict:
                raise ValueError(f"{cls}.load_state_dict: the state has no {key!r}; it is not a complete "
                                 f"{cls}.state_dict()")
            value = state_dict[key]
            hyper[key] = (_check_bool(key, value) if isinstance(current, bool)
                          else _check_number(key, value, upper=_UPPER.get(key)))
        expected = {"type", "num_params", *hyper}
        per_param: dict[str, dict[str, Any]] = {name: {} for name in self.names}
        for key, value in state_dict.items():
            if key in expected:
                continue
            name, _, field = key[len("state."):].rpartition(".") if key.startswith("state.") else ("", "", "")
            if name not in per_param or field not in ("step", *self.state_keys):
                raise ValueError(
                    f"{cls}.load_state_dict: unexpected entry {key!r}; this optimizer's parameters are named "
                    f"{_short_list(self.names)} and keep {_short_list(['step', *self.state_keys])}"
                )
            per_param[name][field] = value
        new_state: list[dict[str, Any]] = []
        new_backend: list[Backend | None] = []
        for name, p in zip(self.names, self.params, strict=True):
            entries = per_param[name]
            step = entries.pop("step", None)
            if isinstance(step, np.ndarray) and step.ndim == 0:
                step = step.item()
            if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 0:
                raise ValueError(f"{cls}.load_state_dict: 'state.{name}.step' must be an int >= 0, got {step!r}")
            st: dict[str, Any] = {"step": int(step)}
            if entries and set(entries) != set(self.state_keys):
                missing = sorted(set(self.state_keys) - set(entries))
                raise ValueError(f"{cls}.load_state_dict: parameter {name!r} lacks {missing}; the state is "
                                 "incomplete")
            for field, value in entries.items():
                host = np.asarray(value) if isinstance(value, (np.ndarray, np.generic)) else None
                if host is None or host.dtype.kind != "f":
                    raise ValueError(f"{cls}.load_state_dict: 'state.{name}.{field}' must be a float numpy "
                                     f"array, got {type(value).__name__}")
                if host.shape != p.shape:
                    raise ValueError(f"{cls}.load_state_dict: 'state.{name}.{field}' has shape {host.shape}, "
                                     f"parameter {name!r} has shape {p.shape}")
                st[field] = host
            new_state.append(st)
            new_backend.append(p.backend if entries else None)
        # Everything checked: move the arrays (copies, in the parameter's dtype) and commit.
        for st, p in zip(new_state, self.params, strict=True):
            for field in self.state_keys:
                if field in st:
                    st[field] = p.backend.asarray(np.array(st[field], copy=True), p.dtype)
        self.state, self._state_backend = new_state, new_backend
        self._set_hyper(hyper)

    def to(self, backend: Backend | str | None = None, params: ParamsArg | None = None) -> Optimizer:
        """Move the optimizer's state onto another backend (an explicit copy through the host); returns self.

        ``Tensor.to`` makes new tensors, so a model moved to another backend has new parameter Tensors: pass
        them as ``params`` (same order, names and shapes as this optimizer's) and the optimizer switches to
        them, moving each parameter's state onto its new backend (and casting it to its new dtype)::

            model = model.to("cupy")
            opt.to(params=model.parameters())     # state follows each parameter

        Args:
            backend: where the state goes (a Backend or a name); None: each parameter's own backend.
            params: the moved parameters, or None to keep the current ones (for a model whose tensors were
                moved in place).

        Raises:
            ValueError: ``params`` has another length, other names or other shapes.
            DeviceMismatchError: ``params`` are not on ``backend``.
        """
        target = None if backend is None else _resolve_backend(backend)
        if params is not None:
            names, new = _parse_params(params, type(self).__name__)
            if len(new) != len(self.params):
                raise ValueError(f"{type(self).__name__}.to: got {len(new)} parameters, the optimizer has "
                                 f"{len(self.params)}; pass the moved parameters of the same model")
            for i, (old, p) in enumerate(zip(self.params, new, strict=True)):
                if p.shape != old.shape:
                    raise ValueError(f"{type(self).__name__}.to: parameter {self.names[i]!r} had shape "
                                     f"{old.shape}, the new one has {p.shape}")
                if target is not None and p.backend != target:
                    raise DeviceMismatchError(f"{type(self).__name__}.to({target.name!r}): parameter "
                                              f"{names[i]!r} is on {p.backend!r}; move the model first")
            if _is_named(names) and _is_named(self.names) and names != self.names:
                raise ValueError(f"{type(self).__name__}.to: the new parameters are named "
                                 f"{_short_list(names)}, the optimizer's {_short_list(self.names)}")
            self.params = new
        for i, p in enumerate(self.params):
            dest = target or p.backend
            src = self._state_backend[i]
            if src is None:  # no arrays yet: they will be created on the parameter's backend
                continue
            st = self.state[i]
            for key in self.state_keys:
                if key in st and (src != dest or dtype_name(st[key].dtype) != dtype_name(p.dtype)):
                    st[key] = dest.asarray(src.to_numpy(st[key]), dtype_name(p.dtype))
            self._state_backend[i] = dest
        return self


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, Nesterov momentum and (L2) weight decay:
    PyTorch's ``torch.optim.SGD`` (dampening 0).

    Per parameter ``p`` with gradient ``g``, at its ``t``-th update::

        g = g + weight_decay * p                 (if weight_decay)
        b = g                 (t = 1)            (if momentum)
        b = momentum * b + g  (t > 1)
        g = g + momentum * b  (nesterov)  else  g = b
        p = p - lr * g

    Plain SGD (no momentum, no decay) is one in-place op per parameter, ``p -= lr * g``, as hand-written
    numpy would do. The momentum buffer ``state[i]["momentum_buffer"]`` has the parameter's shape, dtype and
    backend.

    Args:
        params: see ``Optimizer``.
        lr: learning rate >= 0.
        momentum: momentum factor >= 0.
        weight_decay: L2 penalty >= 0 (added to the gradient, unlike ``AdamW``'s decoupled decay).
        nesterov: use Nesterov momentum (needs ``momentum > 0``).

    Raises:
        ValueError: a negative or non-finite hyper-parameter; ``nesterov`` without momentum.
    """

    state_keys = ("momentum_buffer",)

    def __init__(self, params: ParamsArg, lr: float, momentum: float = 0.0, weight_decay: float = 0.0,
                 nesterov: bool = False) -> None:
        super().__init__(params, lr)
        self.momentum = _check_number("momentum", momentum)
        self.weight_decay = _check_number("weight_decay", weight_decay)
        self.nesterov = _check_bool("nesterov", nesterov)
        if self.nesterov and self.momentum == 0:
            raise ValueError("SGD: nesterov=True needs momentum > 0")

    def _hyper(self) -> dict[str, Any]:
        return {"lr": self.lr, "momentum": self.momentum, "weight_decay": self.weight_decay,
                "nesterov": self.nesterov}

    def _set_hyper(self, hyper: dict[str, Any]) -> None:
        if hyper["nesterov"] and hyper["momentum"] == 0:
            raise ValueError("SGD.load_state_dict: nesterov=True with momentum 0 in the state")
        self.lr, self.momentum = hyper["lr"], hyper["momentum"]
        self.weight_decay, self.nesterov = hyper["weight_decay"], hyper["nesterov"]

    @no_grad()
    def step(self) -> None:
        """One SGD update of every parameter that has a gradient (see the class docstring)."""
        lr, mu, wd = _number(self.lr), float(self.momentum), float(self.weight_decay)
        plain = mu == 0.0 and wd == 0.0
        for i, p in enumerate(self.params):
            grad = p.grad
            if grad is None:
                continue
            g = grad._data
            if plain:  # the hot path: one temporary (lr * g), one in-place op, the version counter bumped
                self.state[i]["step"] += 1
                if p.backend is grad.backend:
                    p._data -= lr * g
                    p._version += 1
                else:
                    p.sub_(lr * g)  # the checked path: raises DeviceMismatchError with the fix
                continue
            st = self._state_for(i, p)
            if wd != 0.0:
                g = g + wd * p._data
            if mu != 0.0:
                buf = st.get("momentum_buffer")
                if buf is None:  # a copy: the buffer is updated in place and must not alias p.grad
                    buf = st["momentum_buffer"] = self._claim(i, p).xp.asarray(g, copy=True)
                else:
                    buf *= mu
                    buf += g
                g = g + mu * buf if self.nesterov else buf
            st["step"] += 1
            p.sub_(lr * g)


class AdamW(Optimizer):
    """Adam with decoupled weight decay: PyTorch's ``torch.optim.AdamW`` (amsgrad off), after Loshchilov &
    Hutter, "Decoupled Weight Decay Regularization" (ICLR 2019).

    Per parameter ``p`` with gradient ``g``, at its ``t``-th update (t = 1, 2, ...)::

        p = p * (1 - lr * weight_decay)
        m = beta1 * m + (1 - beta1) * g                  (m, v start at 0)
        v = beta2 * v + (1 - beta2) * g * g
        p = p - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

    ``state[i]`` holds ``exp_avg`` (m) and ``exp_avg_sq`` (v), of the parameter's shape, dtype and backend,
    and ``step`` (t).

    Args:
        params: see ``Optimizer``.
        lr: learning rate >= 0.
        betas: the moments' decay rates, each in [0, 1).
        eps: added to the denominator, >= 0.
        weight_decay: decoupled decay factor >= 0 (``weight_decay=0`` is Adam).

    Raises:
        ValueError: a hyper-parameter out of range.
    """

    state_keys = ("exp_avg", "exp_avg_sq")

    def __init__(self, params: ParamsArg, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2) -> None:
        super().__init__(params, lr)
        if not isinstance(betas, Sequence) or len(betas) != 2:
            raise ValueError(f"AdamW: betas must be a pair (beta1, beta2), got {betas!r}")
        self.betas = (_check_number("beta1", betas[0], upper=1.0), _check_number("beta2", betas[1], upper=1.0))
        self.eps = _check_number("eps", eps)
        self.weight_decay = _check_number("weight_decay", weight_decay)

    def _hyper(self) -> dict[str, Any]:
        return {"lr": self.lr, "beta1": self.betas[0], "beta2": self.betas[1], "eps": self.eps,
                "weight_decay": self.weight_decay}

    def _set_hyper(self, hyper: dict[str, Any]) -> None:
        self.lr, self.betas = hyper["lr"], (hyper["beta1"], hyper["beta2"])
        self.eps, self.weight_decay = hyper["eps"], hyper["weight_decay"]

    @no_grad()
    def step(self) -> None:
        """One AdamW update of every parameter that has a gradient (see the class docstring)."""
        lr, wd, eps = _number(self.lr), float(self.weight_decay), float(self.eps)
        beta1, beta2 = float(self.betas[0]), float(self.betas[1])
        for i, p in enumerate(self.params):
            grad = p.grad
            if grad is None:
                continue
            g = grad._data
            xp = p.backend.xp
            st = self._state_for(i, p)
            m = st.get("exp_avg")
            if m is None:
                backend = self._claim(i, p)
                m = st["exp_avg"] = backend.zeros(p.shape, p.dtype)
                v = st["exp_avg_sq"] = backend.zeros(p.shape, p.dtype)
            else:
                v = st["exp_avg_sq"]
            st["step"] += 1
            t = st["step"]
            if wd != 0.0:
                p.mul_(1.0 - lr * wd)
            m *= beta1
            m += (1.0 - beta1) * g
            v *= beta2
            v += (1.0 - beta2) * (g * g)
            step_size = lr / (1.0 - beta1**t)
            denom = xp.sqrt(v)
            denom /= _sqrt(1.0 - beta2**t)
            denom += eps
            update = m / denom
            update *= step_size
            p.sub_(update)


class StepLR:
    """A piecewise-constant learning rate: ``values[k]`` for steps in ``[boundaries[k-1], boundaries[k])``.

    ``StepLR(opt, boundaries=[100_000], values=[0.1, 0.01])`` gives lr 0.1 for steps 0..99,999 and 0.01 from
    step 100,000 on: makemore part 3's recipe over 200,000 steps. Construction sets ``optimizer.lr`` to
    ``values[0]``; call ``step()`` once after each ``optimizer.step()`` (as with PyTorch's schedulers), so that
    the optimizer's ``i``-th update (counting from 0) uses ``lr_at(i)``.

    Args:
        optimizer: any ``Optimizer`` (its ``lr`` attribute is set).
        boundaries: strictly increasing step numbers (ints > 0).
        values: the learning rates, one more than ``boundaries`` (numbers >= 0).

    Attributes:
        last_step: how many times ``step()`` was called (the index of the optimizer's next update).

    Raises:
        ValueError: ``values`` not one longer than ``boundaries``, boundaries not increasing positive ints, a
            negative or non-finite value.
    """

    def __init__(self, optimizer: Optimizer, boundaries: Sequence[int] = (100_000,),
                 values: Sequence[float] = (0.1, 0.01)) -> None:
        self.optimizer = optimizer
        self.boundaries, self.values = _check_schedule(boundaries, values)
        self.last_step = 0
        optimizer.lr = self.lr_at(0)

    def __repr__(self) -> str:
        return f"StepLR(boundaries={self.boundaries}, values={self.values}, last_step={self.last_step})"

    def lr_at(self, step: int) -> float:
        """The learning rate of update number ``step`` (0-based): ``values[k]`` where ``k`` is how many
        boundaries are <= ``step``."""
        return self.values[bisect.bisect_right(self.boundaries, step)]

    def step(self) -> float:
        """Advance one update and set ``optimizer.lr`` for the next one; returns that lr."""
        self.last_step += 1
        lr = self.optimizer.lr = self.lr_at(self.last_step)
        return lr

    def state_dict(self) -> dict[str, Any]:
        """``{"type": "StepLR", "last_step": int, "boundaries": [int], "values": [float]}`` (JSON-able)."""
        return {"type": "StepLR", "last_step": self.last_step, "boundaries": list(self.boundaries),
                "values": list(self.values)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore ``state_dict()``'s output and set ``optimizer.lr`` to the lr of the restored step.

        Raises:
            ValueError: not a StepLR state, a missing key, or invalid boundaries, values or step.
        """
        if not isinstance(state_dict, dict) or state_dict.get("type") != "StepLR":
            raise ValueError("StepLR.load_state_dict expects the dict that StepLR.state_dict() returned")
        missing = [k for k in ("last_step", "boundaries", "values") if k not in state_dict]
        if missing:
            raise ValueError(f"StepLR.load_state_dict: the state lacks {missing}")
        boundaries, values = _check_schedule(state_dict["boundaries"], state_dict["values"])
        step = state_dict["last_step"]
        if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 0:
            raise ValueError(f"StepLR.load_state_dict: last_step must be an int >= 0, got {step!r}")
        self.boundaries, self.values, self.last_step = boundaries, values, int(step)
        self.optimizer.lr = self.lr_at(self.last_step)


# Helpers.
_UPPER = {"beta1": 1.0, "beta2": 1.0}


def _number(x: Any) -> Any:
    """``float(x)``; a number that ``gradkit.compile`` traces (the lr, a step count) stays symbolic."""
    return x if isinstance(x, Symbolic) else float(x)


def _sqrt(x: Any) -> Any:
    """``math.sqrt(x)``; for a traced number, the same square root recorded in the trace."""
    return x.sqrt() if isinstance(x, Symbolic) else math.sqrt(x)


def _parse_params(params: Any, owner: str) -> tuple[list[str], list[Tensor]]:
    if isinstance(params, Tensor):
        raise TypeError(f"{owner}: params must be an iterable of Tensors (e.g. [w, b] or "
                        "model.parameters()), got a single Tensor; wrap it in a list")
    names: list[str] = []
    tensors: list[Tensor] = []
    for i, item in enumerate(params):
        if isinstance(item, Tensor):
            name, t = str(i), item
        elif isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str) and isinstance(item[1], Tensor):
            name, t = item
        else:
            raise TypeError(f"{owner}: parameter {i} is a {type(item).__name__}; pass Tensors or "
                            "(name, Tensor) pairs")
        if not t.backend.xp.isdtype(t._data.dtype, "real floating"):
            raise TypeError(f"{owner}: parameter {name!r} has dtype {t.dtype}; only floating-point tensors "
                            "can be optimized")
        names.append(name)
        tensors.append(t)
    if not tensors:
        raise ValueError(f"{owner}: got no parameters; pass model.parameters() of a model that has some")
    if len({id(t) for t in tensors}) != len(tensors):
        raise ValueError(f"{owner}: a parameter appears more than once; pass each parameter once")
    if len(set(names)) != len(names):
        raise ValueError(f"{owner}: duplicate parameter names; each (name, Tensor) pair needs its own name")
    return names, tensors


def _is_named(names: list[str]) -> bool:
    return names != [str(i) for i in range(len(names))]


def _check_number(name: str, value: Any, upper: float | None = None) -> float:
    """``value`` as a Python float, which must be finite, >= 0 and (if ``upper``) < ``upper``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    out = float(value)
    if not math.isfinite(out) or out < 0 or (upper is not None and out >= upper):
        bound = f" and < {upper}" if upper is not None else ""
        raise ValueError(f"{name} must be finite, >= 0{bound}; got {value!r}")
    return out


def _check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def _check_schedule(boundaries: Any, values: Any) -> tuple[list[int], list[float]]:
    bounds = list(boundaries)
    vals = [_check_number("a StepLR value", v) for v in values]
    if any(isinstance(b, bool) or not isinstance(b, (int, np.integer)) or b <= 0 for b in bounds):
        raise ValueError(f"StepLR: boundaries must be ints > 0, got {bounds}")
    if any(a >= b for a, b in zip(bounds, bounds[1:], strict=False)):
        raise ValueError(f"StepLR: boundaries must be strictly increasing, got {bounds}")
    if len(vals) != len(bounds) + 1:
        raise ValueError(f"StepLR: {len(bounds)} boundaries need {len(bounds) + 1} values, got {len(vals)}")
    return [int(b) for b in bounds], vals


def _short_list(items: Sequence[str], limit: int = 6) -> str:
    shown = ", ".join(repr(s) for s in items[:limit])
    return f"[{shown}{', ...' if len(items) > limit else ''}]"
