"""Neural-network modules on ``Tensor``, as in PyTorch and makemore parts 3 and 5: Module, Linear, Embedding,
Tanh, ReLU, BatchNorm1d, Sequential, Flatten, ModuleList, ModuleDict, LayerNorm, GELU, Sigmoid,
FlattenConsecutive.

``gradkit.nn`` re-exports these, beside ``gradkit.nn.functional``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

from gradkit.backends import Backend, Generator
from gradkit.backends.random import default_generator

from .. import _inplace, _statedict, functional, ops
from ..autograd import no_grad
from ..devices import to_args
from ..dtypes import float32, float64
from ..tensor import DEFAULT_DTYPE, Tensor, _resolve_backend


class Parameter(Tensor):
    """A leaf Tensor that a ``Module`` trains (``requires_grad=True``)."""

    __slots__ = ()

    def __init__(self, data: Any, *, backend: Backend | str | None = None, dtype: Any = None) -> None:
        super().__init__(data, backend=backend, dtype=dtype, requires_grad=True)

    def __repr__(self) -> str:
        """``Parameter containing:`` and the values, as PyTorch prints a parameter."""
        return "Parameter containing:\n" + super().__repr__()

    @classmethod
    def of(cls, array: Any, backend: Backend) -> Parameter:
        """A parameter around an array ``backend`` owns (no copy)."""
        out = cls.__new__(cls)
        out._init(array, backend, True)
        return out


class _IncompatibleKeys(NamedTuple):
    """What ``Module.load_state_dict`` returns, as torch's: the names it did not find, and those it did not use."""

    missing_keys: list[str]
    unexpected_keys: list[str]


class Module:
    """Base class of the layers and models: ordered parameters and buffers, state dicts, train/eval, to().

    Attributes that are ``Parameter`` are parameters; other ``Tensor`` attributes are buffers (saved in the
    state dict, never trained; ``register_buffer(..., persistent=False)`` keeps one out of the state dict);
    ``Module`` attributes and lists of modules are children. Order is the order of assignment, as in PyTorch.
    """

    training: bool = True

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The layer's computation; subclasses define it."""
        raise NotImplementedError

    def extra_repr(self) -> str:
        """The settings ``repr`` shows inside the parentheses (``in_features=2, out_features=3, bias=True``), as
        PyTorch's; subclasses override it."""
        return ""

    def __repr__(self) -> str:
        """The module as PyTorch prints it: its name, ``extra_repr()`` and its children, indented."""
        from ._repr import module_repr

        return module_repr(self)

    def _gradkit_compile(self) -> Module:
        """What ``gradkit.compile(module)`` returns: torch's wrapper (``nn.compiled.OptimizedModule``)."""
        from .compiled import OptimizedModule

        return OptimizedModule(self)

    def _children(self) -> Iterator[tuple[str, Any]]:
        for name, value in vars(self).items():
            if isinstance(value, (Tensor, Module)):
                yield name, value
            elif isinstance(value, (list, tuple)) and value and all(isinstance(v, Module) for v in value):
                for i, v in enumerate(value):
                    yield f"{name}.{i}", v

    def named_tensors(self, prefix: str = "", persistent_only: bool = False) -> Iterator[tuple[str, Tensor]]:
        """Every parameter and buffer as ``(dotted name, tensor)``, in order (without the non-persistent buffers
        when ``persistent_only``)."""
        skip = vars(self).get("_non_persistent", ()) if persistent_only else ()
        for name, value in self._children():
            if isinstance(value, Module):
                yield from value.named_tensors(f"{prefix}{name}.", persistent_only)
            elif name not in skip:
                yield f"{prefix}{name}", value

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """``(dotted name, Parameter)`` pairs in order, each parameter once (a tied weight under its first name),
        as ``torch.nn.Module.named_parameters`` (an iterator, as torch's generator); ``recurse=False``: this
        module's own only."""
        return iter(self._named(Parameter, prefix, recurse, remove_duplicate))

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """The parameters in order (what an optimizer takes), an iterator as torch's (``next(m.parameters())``;
        ``list(...)`` to keep them)."""
        return (p for _, p in self.named_parameters(recurse=recurse))

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        """``(dotted name, buffer)`` pairs in order: the Tensor attributes that are not parameters, persistent or
        not, as ``torch.nn.Module.named_buffers`` (an iterator)."""
        return iter(self._named(None, prefix, recurse, remove_duplicate))

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        """The buffers in order (an iterator)."""
        return (b for _, b in self.named_buffers(recurse=recurse))

    def _named(self, kind: type | None, prefix: str, recurse: bool, remove_duplicate: bool) -> list[tuple[str, Any]]:
        """Parameters (``kind`` Parameter) or buffers (None), each once unless ``remove_duplicate`` is False."""
        seen: set[int] = set()
        out = []
        pairs = self.named_tensors(prefix) if recurse else ((prefix + n, v) for n, v in self._children()
                                                            if isinstance(v, Tensor))
        for name, t in pairs:
            if isinstance(t, Parameter) == (kind is Parameter) and (not remove_duplicate or id(t) not in seen):
                seen.add(id(t))
                out.append((name, t))
        return out

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Add the buffer ``name`` (a Tensor that is state but not a parameter: a causal mask, running
        statistics), as ``torch.nn.Module.register_buffer``: moved by ``to()``, in ``state_dict()`` unless
        ``persistent=False``. ``None`` registers nothing but the name.

        Raises:
            TypeError: ``name`` is not a string or ``tensor`` not a Tensor (or None). KeyError: an empty name,
                a name with ".", or one that is already an attribute other than a buffer (a parameter too).
        """
        if not isinstance(name, str):
            raise TypeError(f"buffer name should be a string. Got {type(name).__name__}")
        if "." in name or not name:
            raise KeyError(f"buffer name can't be empty or contain \".\", got {name!r}")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' (a Tensor or None "
                            "required)")
        existing = getattr(self, name, None)
        if hasattr(self, name) and existing is not None and (isinstance(existing, Parameter)
                                                              or not isinstance(existing, Tensor)):
            raise KeyError(f"attribute '{name}' already exists")
        non_persistent = vars(self).setdefault("_non_persistent", set())
        if persistent:
            non_persistent.discard(name)
        else:
            non_persistent.add(name)
        setattr(self, name, tensor)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add the parameter ``name`` (as ``self.name = param``), as ``torch.nn.Module.register_parameter``.
        Raises TypeError for a value that is neither a Parameter nor None."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{type(param).__name__}' object to parameter '{name}' (a "
                            "nn.Parameter or None required)")
        setattr(self, name, param)

    def add_module(self, name: str, module: Module | None) -> None:
        """Add the child ``name`` (as ``self.name = module``). Raises TypeError for a non-Module."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        setattr(self, name, module)

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """The direct child modules as ``(name, module)``, each once, in order."""
        seen: set[int] = set()
        for name, value in self._children():
            if isinstance(value, Module) and id(value) not in seen:
                seen.add(id(value))
                yield name, value

    def children(self) -> Iterator[Module]:
        """The direct child modules, each once, in order."""
        return (m for _, m in self.named_children())

    def named_modules(self, memo: set[int] | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Module]]:
        """This module (named ``prefix``) and every descendant as ``(dotted name, module)``, depth first, each
        once (unless ``remove_duplicate`` is False), as ``torch.nn.Module.named_modules``."""
        memo = set() if memo is None else memo
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, value in self._children():
            if isinstance(value, Module):
                yield from value.named_modules(memo, f"{prefix}.{name}" if prefix else name, remove_duplicate)

    def modules(self) -> Iterator[Module]:
        """This module and every descendant, depth first, each once."""
        return (m for _, m in self.named_modules())

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """``fn(m)`` for every child's subtree first, then for this module (torch's order, as in GPT-2's
        ``self.apply(self._init_weights)``); returns self."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget every parameter's gradient: ``grad = None`` (torch's default), or zeros in place with
        ``set_to_none=False``."""
        with no_grad():
            for p in self.parameters():
                if set_to_none or p.grad is None:
                    p.grad = None
                else:
                    p.grad._assign(0)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Set ``requires_grad`` on every parameter; returns self."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def train(self, mode: bool = True) -> Module:
        """Training mode (BatchNorm uses batch statistics, Dropout drops); returns self."""
        for m in self.modules():
            m.training = mode
        return self

    def eval(self) -> Module:
        """Evaluation mode (BatchNorm uses its running statistics, Dropout passes through); returns self."""
        return self.train(False)

    def state_dict(self) -> dict[str, Tensor]:
        """Every parameter and persistent buffer keyed by dotted name, as detached tensors on the same storage (as
        torch's: save them with ``gradkit.save``, or read them with ``.numpy()``)."""
        return {name: t.detach() for name, t in self.named_tensors(persistent_only=True)}

    def load_state_dict(self, state: dict[str, Any], strict: bool = True) -> _IncompatibleKeys:
        """Copy tensors or host arrays (``state_dict()``, ``gradkit.load``) into the parameters and persistent
        buffers, on their backend and in their dtype, through the door (every alias sees the new values). All or
        nothing: every entry is checked first. Returns torch's ``(missing_keys, unexpected_keys)``.

        Raises:
            RuntimeError: with ``strict``, names missing from ``state`` or not in the model (both listed, as
                torch's message). ValueError: an entry whose shape differs from the tensor it loads into.
        """
        own = dict(self.named_tensors(persistent_only=True))
        missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
        if strict and (missing or unexpected):
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}: missing keys {missing}, "
                               f"unexpected keys {unexpected}")
        _statedict.copy_in(own, {k: v for k, v in state.items() if k in own}, f"{type(self).__name__}.load_state_dict")
        return _IncompatibleKeys(missing, unexpected)

    def to(self, *args: Any, device: Any = None, dtype: Any = None, non_blocking: bool = False,
           backend: Backend | str | None = None) -> Module:
        """Move every parameter and buffer to a device and/or cast the floating ones to ``dtype``, in place (the
        Parameter objects stay the same, so an optimizer holding them keeps working); returns self. As
        ``torch.nn.Module.to``: ``to(device)``, ``to(dtype)``, ``to(device, dtype)``, ``to(tensor)`` (its device
        and dtype), keywords ``device=``/``dtype=``; ``backend=`` is gradkit's name for the device, and
        ``non_blocking`` is accepted (copies are synchronous). Gradients are dropped when tensors move.

        Raises:
            TypeError: more than two positional arguments, or a device or dtype given twice."""
        if device is not None and backend is not None:
            raise TypeError("Module.to() got both backend= and device=: they are one argument; pass one")
        where, dtype = to_args("Module.to", args, device if backend is None else backend, dtype)
        target = None if where is None else _resolve_backend(where)
        for _, t in self.named_tensors():
            floating = t.backend.xp.isdtype(t._data.dtype, "real floating")
            moved = t.to(t.backend if target is None else target, dtype if dtype is not None and floating else None)
            if moved is not t:
                _inplace.rebind(t, moved._data, moved.backend)
                t.grad = None
        return self

    def cuda(self, device: Any = None) -> Module:
        """``to("cuda")``: every parameter and buffer on the CUDA backend (CuPy)."""
        return self.to("cuda")

    def cpu(self) -> Module:
        """``to("cpu")``: every parameter and buffer on the host (numpy)."""
        return self.to("cpu")

    def float(self) -> Module:
        """Floating parameters and buffers as float32."""
        return self.to(float32)

    def double(self) -> Module:
        """Floating parameters and buffers as float64."""
        return self.to(float64)

    @property
    def backend(self) -> Backend:
        """The backend of the first parameter or buffer."""
        return next(self.named_tensors())[1].backend


def _transposed(array: Any, generator: Generator) -> Any:
    """A fresh C-contiguous copy of a 2-D ``array`` of ``generator``'s backend, transposed."""
    return _transposed_on(array, generator.backend)


def _transposed_on(array: Any, backend: Backend) -> Any:
    """A fresh C-contiguous copy of a 2-D ``array`` of ``backend``, transposed (flattened first: a plain copy
    would keep the transposed, Fortran-ordered layout, and a matmul's rounding depends on layout)."""
    xp = backend.xp
    rows, cols = array.shape
    return xp.reshape(xp.reshape(xp.matrix_transpose(array), (-1,)), (cols, rows))


class Linear(Module):
    """``y = x @ weight.T + bias``, as ``torch.nn.Linear``. Shapes: ``x (..., in_features)`` -> ``(...,
    out_features)``; ``weight (out_features, in_features)`` (PyTorch's layout), ``bias (out_features,)``.

    Init as PyTorch's: weight and bias ~ U(-1/sqrt(in_features), 1/sqrt(in_features)) (torch's
    ``kaiming_uniform_(a=sqrt(5))`` for the weight). With ``gain`` or ``std``, makemore part 3's init instead:
    ``weight ~ N(0, std)`` with ``std = gain / sqrt(in_features)`` (Kaiming; gain 5/3 suits tanh) unless ``std``
    is given, and ``bias = 0``. Draws come from ``generator`` (``backend.random(seed)``), else
    ``gradkit.default_generator`` (``gradkit.manual_seed`` seeds it); they land on ``device`` (a device string or
    backend), else the generator's backend. Weights are drawn in the course's ``(in, out)`` order and stored
    transposed, so a seed gives the same function as the course's ``x @ W``; the bias is drawn after.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device: Any = None,
                 dtype: Any = None, *, generator: Generator | None = None, gain: float | None = None,
                 std: float | None = None) -> None:
        generator = default_generator if generator is None else generator
        be = generator.backend if device is None else _resolve_backend(device)
        dtype = DEFAULT_DTYPE if dtype is None else dtype
        self.in_features, self.out_features = in_features, out_features
        bound = in_features ** -0.5
        if gain is None and std is None:
            drawn = generator.uniform(-bound, bound, (in_features, out_features), dtype, be)
        else:
            scale = (1.0 if gain is None else gain) * bound if std is None else std
            drawn = generator.normal(0.0, scale, (in_features, out_features), dtype, be)
        self.weight = Parameter.of(_transposed_on(drawn, be), be)
        self.bias: Parameter | None = None
        if bias:
            values = be.zeros((out_features,), dtype) if gain is not None or std is not None else \
                generator.uniform(-bound, bound, (out_features,), dtype, be)
            self.bias = Parameter.of(values, be)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"

    def forward(self, x: Tensor) -> Tensor:
        return functional.linear(x, self.weight, self.bias)


class Embedding(Module):
    """A lookup table: integer ids ``(B, T)`` -> vectors ``(B, T, embedding_dim)``; ``weight (num_embeddings,
    embedding_dim)`` ~ N(0, 1) (torch's init; the course's ``C``), drawn from ``generator`` (else the default
    generator) onto ``device`` (else the generator's backend), with the row ``padding_idx`` (if given; negative
    counts from the end) filled with zeros. The forward is ``F.embedding`` with this module's options (the one
    implementation): ids are an integer Tensor (a list or an array of the backend is wrapped first); the
    backward sums repeated ids (``scatter_add``), never into ``padding_idx``'s row.

    Raises:
        IndexError: an id outside ``[0, num_embeddings)``, negative ones included (torch's words: "index out of
            range in self").
        AssertionError: ``padding_idx`` outside ``[-num_embeddings, num_embeddings)`` (torch's).
        NotImplementedError: ``sparse=True`` (gradkit has no sparse gradients).
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 max_norm: float | None = None, norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                 sparse: bool = False, device: Any = None, dtype: Any = None, *,
                 generator: Generator | None = None) -> None:
        if sparse:
            raise NotImplementedError("Embedding(sparse=True): gradkit has no sparse gradients; use sparse=False")
        generator = default_generator if generator is None else generator
        be = generator.backend if device is None else _resolve_backend(device)
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.padding_idx = functional._embedding_padding(padding_idx, num_embeddings)
        self.max_norm, self.norm_type, self.scale_grad_by_freq, self.sparse = max_norm, norm_type, \
            scale_grad_by_freq, sparse
        shape = (num_embeddings, embedding_dim)
        self.weight = Parameter.of(generator.normal(0.0, 1.0, shape, DEFAULT_DTYPE if dtype is None else dtype, be),
                                   be)
        if self.padding_idx is not None:
            with no_grad():
                self.weight[self.padding_idx] = 0

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq:
            s += f", scale_grad_by_freq={self.scale_grad_by_freq}"
        return s

    def forward(self, ids: Any) -> Tensor:
        if not isinstance(ids, Tensor):  # gradkit's convenience: the course's ids as a list or a backend array
            ids = Tensor(ids, backend=self.weight.backend)
        return functional.embedding(ids, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                                    self.scale_grad_by_freq, self.sparse)


class Identity(Module):
    """Returns its input unchanged (the same tensor), as ``torch.nn.Identity``; any constructor arguments are
    accepted and ignored (torch's placeholder for a layer switched off)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 (torch's name)
        return input


class Tanh(Module):
    """Elementwise ``tanh``."""

    def forward(self, x: Tensor) -> Tensor:
        return ops.tanh(x)


class ReLU(Module):
    """Elementwise ``max(x, 0)``."""

    def forward(self, x: Tensor) -> Tensor:
        return ops.relu(x)


class Flatten(Module):
    """``(B, d1, d2, ...)`` -> ``(B, d1 * d2 * ...)``: the concatenated context embeddings of Bengio et al."""

    def forward(self, x: Tensor) -> Tensor:
        return ops.reshape(x, (x.shape[0], -1))


class BatchNorm1d(Module):
    """Batch normalisation (Ioffe & Szegedy 2015) over axis 0 of ``(N, C)`` (or axes 0, 1 of ``(N, L, C)``).

    Training: normalise with the batch mean and biased variance, update running statistics (unbiased
    variance) with ``momentum``, as ``torch.nn.BatchNorm1d``; eval: use the running statistics. Parameters
    ``gamma`` (ones), ``beta`` (zeros); buffers ``running_mean``, ``running_var``.

    Raises:
        ValueError: in training mode, a batch with one value per channel (its variance is 0: as torch, which
            says "Expected more than 1 value per channel when training"); call ``eval()`` to use the running
            statistics for a single example.
    """

    def __init__(self, dim: int, eps: float = 1e-5, momentum: float = 0.1, *, backend: Backend | str | None = None,
                 dtype: Any = DEFAULT_DTYPE) -> None:
        be = _resolve_backend(backend)
        self.eps, self.momentum = eps, momentum
        self.gamma = Parameter.of(be.full((dim,), 1.0, dtype), be)
        self.beta = Parameter.of(be.zeros((dim,), dtype), be)
        self.running_mean = Tensor._wrap(be.zeros((dim,), dtype), be)
        self.running_var = Tensor._wrap(be.full((dim,), 1.0, dtype), be)

    def forward(self, x: Tensor) -> Tensor:
        if not self.training:
            return (x - self.running_mean) / ops.pow(self.running_var + self.eps, 0.5) * self.gamma + self.beta
        axes = (0,) if x.ndim == 2 else (0, 1)
        n = x.size // x.shape[-1]
        if n <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input of shape {x.shape}: "
                             "a batch of one has no variance; call eval() on the model to use the running "
                             "statistics (as torch's BatchNorm1d)")
        mean = ops.mean(x, axes, keepdims=True)
        centred = x - mean
        var = ops.mean(centred * centred, axes, keepdims=True)
        out = centred * ops.pow(var + self.eps, -0.5) * self.gamma + self.beta
        with no_grad():
            m = self.momentum
            self.running_mean.mul_(1 - m).add_(ops.reshape(mean, (-1,)) * m)
            self.running_var.mul_(1 - m).add_(ops.reshape(var, (-1,)) * (m * n / (n - 1)))
        return out


class Sequential(Module):
    """Layers applied in order, registered as children named ``0``, ``1``, ... as ``torch.nn.Sequential``'s (so a
    state dict's names are torch's: ``layers.3.weight``); indexing, ``len`` and iteration; ``layers`` is the
    list."""

    def __init__(self, *layers: Module) -> None:
        self.layers = list(layers)

    def _children(self) -> Iterator[tuple[str, Any]]:
        for i, m in enumerate(self.layers):
            yield str(i), m

    def __getitem__(self, i: int) -> Module:
        return self.layers[i]

    def __getattr__(self, name: str) -> Module:
        """A child by its name, ``seq.0`` as ``getattr(seq, "0")`` (torch's ``get_submodule`` walks so)."""
        if name.isdigit() and "layers" in vars(self) and int(name) < len(self.layers):
            return self.layers[int(name)]
        raise AttributeError(f"'Sequential' object has no attribute {name!r}")

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self) -> Iterator[Module]:
        return iter(self.layers)

    def forward(self, x: Any) -> Any:
        for layer in self.layers:
            x = layer(x)
        return x


class ModuleList(Module):
    """Modules held in a list, registered as children named ``0``, ``1``, ... (``h.0.attn.c_attn.weight``),
    as ``torch.nn.ModuleList``. Indexing, ``len``, iteration and ``append``; it has no ``forward``."""

    def __init__(self, modules: Iterable[Module] = ()) -> None:
        self._list: list[Module] = []
        for m in modules:
            self.append(m)

    def append(self, module: Module) -> ModuleList:
        """Add ``module`` at the end; returns self. Raises TypeError for a non-Module."""
        if not isinstance(module, Module):
            raise TypeError(f"ModuleList holds Modules, got {type(module).__name__}")
        self._list.append(module)
        return self

    def _children(self) -> Iterator[tuple[str, Any]]:
        for i, m in enumerate(self._list):
            yield str(i), m

    def __getitem__(self, i: int) -> Module:
        return self._list[i]

    def __repr__(self) -> str:
        """As PyTorch prints a ``ModuleList``: runs of children that print alike folded (``(0-3): 4 x ...``)."""
        from ._repr import list_repr

        return list_repr(self)

    def __len__(self) -> int:
        return len(self._list)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._list)


class ModuleDict(Module):
    """Modules held by name, registered as children of those names (``mlp.c_fc.weight``), in insertion
    order, as ``torch.nn.ModuleDict``; ``d["name"]`` and ``d.name`` both reach them."""

    def __init__(self, modules: dict[str, Module] | None = None) -> None:
        self._dict: dict[str, Module] = {}
        for name, m in (modules or {}).items():
            self[name] = m

    def __setitem__(self, name: str, module: Module) -> None:
        if not isinstance(module, Module):
            raise TypeError(f"ModuleDict holds Modules, got {type(module).__name__} for {name!r}")
        self._dict[name] = module

    def __getitem__(self, name: str) -> Module:
        return self._dict[name]

    def __getattr__(self, name: str) -> Module:
        try:
            return self.__dict__["_dict"][name]
        except KeyError:
            raise AttributeError(f"ModuleDict has no module {name!r}") from None

    def __len__(self) -> int:
        return len(self._dict)

    def keys(self) -> Iterable[str]:
        """The names, in insertion order."""
        return self._dict.keys()

    def _children(self) -> Iterator[tuple[str, Any]]:
        yield from self._dict.items()


class LayerNorm(Module):
    """Layer normalisation over the last axes (``normalized_shape``), as ``torch.nn.LayerNorm``:
    ``functional.layer_norm`` with ``weight`` (ones) and ``bias`` (zeros) of ``normalized_shape`` when
    ``elementwise_affine``. Shapes: ``(..., *normalized_shape)`` -> the same."""

    def __init__(self, normalized_shape: int | tuple[int, ...], eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, *, backend: Backend | str | None = None, dtype: Any = DEFAULT_DTYPE) -> None:
        be = _resolve_backend(backend)
        self.normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.eps = eps
        self.weight = Parameter.of(be.full(self.normalized_shape, 1.0, dtype), be) if elementwise_affine else None
        self.bias = Parameter.of(be.zeros(self.normalized_shape, dtype), be) if elementwise_affine and bias else None

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.weight is not None}, "
                f"bias={self.bias is not None}")

    def forward(self, x: Tensor) -> Tensor:
        return functional.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)


class GELU(Module):
    """``functional.gelu`` as a module, as ``torch.nn.GELU``: ``approximate="none"`` (the default, torch's) is the
    exact erf form; ``"tanh"`` is makemore's ``NewGELU``.

    Raises:
        ValueError: ``approximate`` other than ``"none"`` or ``"tanh"``.
    """

    def __init__(self, approximate: str = "none") -> None:
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"

    def forward(self, x: Tensor) -> Tensor:
        return functional.gelu(x, self.approximate)


class Sigmoid(Module):
    """Elementwise ``1 / (1 + exp(-x))``."""

    def forward(self, x: Tensor) -> Tensor:
        return ops.sigmoid(x)


class FlattenConsecutive(Module):
    """``(B, T, C)`` -> ``(B, T // n, C * n)``: each ``n`` consecutive positions fused into one vector (the
    WaveNet-style tree of makemore part 5); a time axis of length 1 is dropped, giving ``(B, C * n)``.

    Raises:
        ValueError: an input that is not 3-D, or whose ``T`` is not a multiple of ``n``.
    """

    def __init__(self, n: int) -> None:
        self.n = n

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 3 or x.shape[1] % self.n:
            raise ValueError(f"FlattenConsecutive({self.n}) needs (B, T, C) with T a multiple of {self.n}, got "
                             f"{x.shape}")
        B, T, C = x.shape
        return ops.reshape(x, (B, C * self.n) if T == self.n else (B, T // self.n, C * self.n))
