"""``Optimizer``: PyTorch's base class (parameter groups, per-parameter state, ``zero_grad``, ``state_dict``), in
tinygrad's shape: every piece of state is a Tensor, updated through the one door (``Tensor._assign``).

- ``param_groups``: a list of dicts (``ParamGroup``), each with ``params`` and the hyper-parameters, as torch's:
  ``[{'params': decay, 'weight_decay': 0.1}, {'params': no_decay, 'weight_decay': 0.0}]``. A group's ``lr`` is
  a float in the dict, as torch's, and also a 0-d Tensor (per backend and dtype) that the update reads: setting
  ``group['lr'] = x`` (a schedule) writes that tensor, so a compiled step sees the new rate without a new trace.
- ``state``: per parameter, a dict of Tensors (``step``, ``exp_avg``, ``momentum_buffer``...), on the
  parameter's backend and in its dtype (they follow it when ``Module.to`` moves or casts it).
- ``state_dict()`` is torch's layout: ``{'state': {index: {name: Tensor}}, 'param_groups': [{..., 'params':
  [indices]}]}``; ``load_state_dict`` checks the whole dict first, then copies through the shared named-tensor
  walker (``gradkit._statedict``), as ``Module.load_state_dict`` does.

Source: PyTorch's ``torch.optim.Optimizer`` documentation; tinygrad's ``nn/optim.py`` (state as tensors).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import _statedict
from ..autograd import no_grad
from ..tensor import Tensor

__all__ = ["Optimizer", "ParamGroup"]


class ParamGroup(dict):
    """One parameter group: a dict, as torch's. Its ``lr`` also lives in a 0-d Tensor per backend and dtype
    (``lr_tensor``), rewritten through the door whenever the dict's ``lr`` is set."""

    #: The keys whose values reach an update through tensors (``gradkit.compile`` does not guard them).
    _unguarded = frozenset({"lr"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lr_tensors: dict[tuple[Any, str], Tensor] = {}

    def __reduce__(self) -> tuple[Any, tuple[dict[Any, Any]]]:
        return ParamGroup, (dict(self),)  # pickled as its dict (the rate's tensors are made again on first use)

    def __setitem__(self, key: Any, value: Any) -> None:
        super().__setitem__(key, value)
        if key == "lr":
            with no_grad():
                for t in self._lr_tensors.values():
                    t.fill_(value)

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def setdefault(self, key: Any, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self[key]

    def lr_tensor(self, backend: Any, dtype: Any = "float64") -> Tensor:
        """This group's learning rate as a 0-d Tensor of ``dtype`` (default float64) on ``backend``, made on first
        use (one per backend and dtype: an update reads the rate in its parameter's dtype, as torch casts its
        scalar, without a cast per parameter and step)."""
        key = (backend, str(dtype))
        found = self._lr_tensors.get(key)
        if found is None:
            found = self._lr_tensors[key] = Tensor(float(self["lr"]), dtype=dtype, backend=backend)
        return found


class Optimizer:
    """The base of gradkit's optimizers (see the module docstring).

    Args:
        params: an iterable of Tensors, of ``(name, Tensor)`` pairs (``model.named_parameters()``), or of dicts
            that each define a parameter group (``params`` plus any hyper-parameter of ``defaults``).
        defaults: the hyper-parameters of a group that does not set them.

    Raises:
        TypeError: ``params`` is a single Tensor; an entry that is not a Tensor; a non-float parameter; a
            parameter that is not a leaf.
        ValueError: no parameters; a parameter in two groups (or twice in one).
    """

    #: The names of a parameter's state tensors (``state[p]``), what ``load_state_dict`` accepts.
    state_names: tuple[str, ...] = ()
    #: Attributes a step never reads (``gradkit.compile`` does not guard them): ``defaults`` only fill in the
    #: groups that ``add_param_group`` makes, and a step reads its group's values (as torch's optimizers do).
    _unguarded = frozenset({"defaults"})

    def __init__(self, params: Any, defaults: dict[str, Any]) -> None:
        self.defaults = dict(defaults)
        self.param_groups: list[ParamGroup] = []
        self.state: dict[Tensor, dict[str, Tensor]] = {}
        if isinstance(params, Tensor):
            raise TypeError(f"{type(self).__name__}: params argument given to the optimizer should be an iterable "
                            "of Tensors or dicts, but got a Tensor; wrap it in a list")
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__} got an empty parameter list; pass model.parameters() of a "
                             "model that has some")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k not in ("params", "param_names")]
        return "\n".join([*lines, ")"])

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group (``{'params': [...], ...}``), its missing hyper-parameters from ``defaults``, as torch's.

        Raises:
            TypeError: ``param_group`` is not a dict. ValueError: a parameter already in another group.
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"a parameter group must be a dict, got {type(param_group).__name__}")
        group = ParamGroup(param_group)
        params = group["params"]
        if isinstance(params, Tensor):
            params = [params]
        names, tensors = _parse_params(list(params), type(self).__name__)
        group["params"] = tensors
        if names is not None:
            group["param_names"] = names
        for key, default in self.defaults.items():
            group.setdefault(key, default)
        self._check_hyper(group)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in tensors):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    def _check_hyper(self, group: dict[str, Any]) -> None:
        """Raise torch's ValueError for a hyper-parameter out of range (the subclasses' checks)."""
        lr = group.get("lr")
        if lr is not None and not (isinstance(lr, Tensor) or lr >= 0):
            raise ValueError(f"Invalid learning rate: {lr}")

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget every parameter's gradient: ``grad = None`` (torch's default), or, with ``set_to_none=False``,
        zeros written into the existing gradient tensors."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    with no_grad():
                        p.grad.zero_()

    def step(self, closure: Any = None) -> Any:
        """One update of every parameter that has a gradient; ``closure`` (re-evaluates the loss) is called first
        when given, and its loss returned, as torch's."""
        loss = None
        if closure is not None:
            from ..autograd import enable_grad

            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        self._update(group, p, p.grad)
        return loss

    def _update(self, group: ParamGroup, p: Tensor, grad: Tensor) -> None:
        raise NotImplementedError

    def _state(self, p: Tensor) -> dict[str, Tensor]:
        """``state[p]``, made on first use (every name of ``state_names``, see ``_new_state``), and moved to
        ``p``'s backend if the model moved."""
        st = self.state.get(p)
        if st is None:
            st = self.state[p] = {name: self._new_state(p, name) for name in self.state_names}
        return self._follow(p, st)

    @staticmethod
    def _new_state(p: Tensor, name: str) -> Tensor:
        """A fresh state tensor of ``p``: ``step`` is 0-d float32 (torch's), the others zeros in ``p``'s shape
        and dtype, on ``p``'s backend."""
        if name == "step":
            return Tensor(0.0, dtype="float32", backend=p.backend)
        return Tensor(p.backend.zeros(p.shape, p._data.dtype), backend=p.backend)

    @staticmethod
    def _follow(p: Tensor, st: dict[str, Tensor]) -> dict[str, Tensor]:
        """``st`` on ``p``'s backend, its buffers in ``p``'s dtype (``Module.to`` moved or cast the parameter, not
        its state): what a save and a load into the moved model would give."""
        for name, t in st.items():
            if (t.backend is not p.backend and t.backend != p.backend) or (
                    name != "step" and t._data.dtype != p._data.dtype):
                from .. import _inplace

                dtype = t.dtype if name == "step" else p.dtype
                _inplace.rebind(t, p.backend.asarray(t.numpy(), dtype), p.backend)
        return st

    # state dicts
    def state_dict(self) -> dict[str, Any]:
        """torch's layout: ``{'state': {index: {name: Tensor}}, 'param_groups': [{hyper-parameters, 'params':
        [indices]}]}``, parameters numbered across groups in order. The tensors are the optimizer's own (as
        torch's): save them, or ``copy.deepcopy`` the dict."""
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            out = {k: v for k, v in group.items() if k != "params"}
            out["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(out)
        state = {index[id(p)]: dict(st) for p, st in self.state.items() if id(p) in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what ``state_dict()`` returned (possibly through ``gradkit.checkpoint``, or torch's through
        numpy): the groups' hyper-parameters, and the state, which replaces this optimizer's as torch's does (a
        parameter without an entry has no state afterwards). Each tensor is copied onto its parameter's backend
        (``step`` as a 0-d float32, the others in the parameter's dtype), into the existing state tensor where
        there is one (so what aliases it sees the new values). The whole dict is checked before anything changes.

        Raises:
            ValueError: torch's messages for another number of groups or of parameters in a group; a state entry
                for a parameter that does not exist, with a name this optimizer does not keep, of another shape,
                or not numbers.
        """
        cls = type(self).__name__
        if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= set(state_dict):
            raise ValueError(f"{cls}.load_state_dict expects the dict that state_dict() returned ('state' and "
                             f"'param_groups'), got {type(state_dict).__name__}")
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        params: dict[int, Tensor] = {}
        for mine, theirs in zip(self.param_groups, groups):
            if len(theirs["params"]) != len(mine["params"]):
                raise ValueError("loaded state dict contains a parameter group that doesn't match the size of "
                                 "optimizer's group")
            params.update(zip((int(i) for i in theirs["params"]), mine["params"]))
        new_state, targets, values = self._load_targets(state_dict["state"], params)
        _statedict.copy_in(targets, values, f"{cls}.load_state_dict")
        self.state.clear()
        self.state.update(new_state)
        for mine, theirs in zip(self.param_groups, groups):
            for key, value in theirs.items():
                if key not in ("params", "param_names"):
                    mine[key] = tuple(value) if isinstance(value, list) else value

    def _load_targets(self, state: dict[Any, Any], params: dict[int, Tensor]) -> tuple[
            dict[Tensor, dict[str, Tensor]], dict[str, Tensor], dict[str, Any]]:
        """Per parameter, its state dict as it will be (the existing tensors, or fresh ones made as a step makes
        them, registered only once the load succeeds), and the tensors and values of the copy, by dotted path."""
        cls = type(self).__name__
        new_state: dict[Tensor, dict[str, Tensor]] = {}
        targets: dict[str, Tensor] = {}
        values: dict[str, Any] = {}
        for key, entries in state.items():
            i = _index(key, cls)
            if i not in params:
                raise ValueError(f"{cls}.load_state_dict: state for parameter {i}, which no group has")
            p = params[i]
            old = self.state.get(p, {})
            st = new_state[p] = {}
            for name, value in entries.items():
                if name not in self.state_names:
                    raise ValueError(f"{cls}.load_state_dict: state entry {name!r} of parameter {i}; {cls} keeps "
                                     f"{list(self.state_names)} (is this another optimizer's state?)")
                st[name] = old[name] if name in old else self._new_state(p, name)
                targets[f"{i}.{name}"] = st[name]
                values[f"{i}.{name}"] = value if isinstance(value, Tensor) else np.asarray(value)
        return new_state, targets, values


def _index(key: Any, owner: str) -> int:
    """A state key as the parameter index it names (an int, or its text after a round trip through JSON)."""
    try:
        return int(key)
    except (TypeError, ValueError):
        raise ValueError(f"{owner}.load_state_dict: state key {key!r} is not a parameter index; state_dict() "
                         "numbers the parameters 0, 1, ... across the groups") from None


def _parse_params(items: list[Any], owner: str) -> tuple[list[str] | None, list[Tensor]]:
    """The tensors of a group, and their names when given as ``(name, Tensor)`` pairs."""
    names: list[str] = []
    tensors: list[Tensor] = []
    for i, item in enumerate(items):
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
            name, t = item
            names.append(name)
        else:
            t = item
        if not isinstance(t, Tensor):
            raise TypeError(f"{owner} can only optimize Tensors, but parameter {i} is a {type(t).__name__}")
        if not t.backend.xp.isdtype(t._data.dtype, "real floating"):
            raise TypeError(f"{owner}: parameter {i} has dtype {t.dtype}; only floating-point tensors can be "
                            "optimized")
        if not t.is_leaf:
            raise ValueError(f"{owner} can't optimize a non-leaf Tensor (parameter {i}); pass the leaf, e.g. "
                             "t.detach().requires_grad_()")
        tensors.append(t)
    if len({id(t) for t in tensors}) != len(tensors):
        raise ValueError(f"{owner}: a parameter appears more than once in a group; pass each parameter once")
    if names and len(names) != len(tensors):
        raise TypeError(f"{owner}: mix of named and unnamed parameters in one group")
    return (names or None), tensors


def check_range(name: str, value: Any, low: float = 0.0, high: float = math.inf) -> None:
    """torch's ValueError for a hyper-parameter outside ``[low, high)`` (``Invalid beta parameter at index 0``)."""
    if not (isinstance(value, (int, float, np.floating, np.integer)) and low <= value < high):
        raise ValueError(f"Invalid {name}: {value}")
