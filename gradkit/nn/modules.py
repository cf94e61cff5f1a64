"""Neural-network modules on ``Tensor``, as in PyTorch and makemore parts 3 and 5: Module, Linear, Embedding,
Tanh, ReLU, BatchNorm1d, Sequential, Flatten, ModuleList, ModuleDict, LayerNorm, GELU, Sigmoid,
FlattenConsecutive.

``gradkit.nn`` re-exports these, beside ``gradkit.nn.functional``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from backends import Backend, Generator
from backends.random import default_generator

from .. import _inplace, _statedict, functional, ops
from ..autograd import no_grad
from ..tensor import DEFAULT_DTYPE, Tensor, _resolve_backend


class Parameter(Tensor):
    """A leaf Tensor that a ``Module`` trains (``requires_grad=True``)."""

    __slots__ = ()

    def __init__(self, data: Any, *, backend: Backend | str | None = None, dtype: Any = None) -> None:
        super().__init__(data, backend=backend, dtype=dtype, requires_grad=True)

    @classmethod
    def of(cls, array: Any, backend: Backend) -> Parameter:
        """A parameter around an array ``backend`` owns (no copy)."""
        out = cls.__new__(cls)
        out._init(array, backend, True)
        return out


class Module:
    """Base class of the layers and models: ordered parameters and buffers, state dicts, train/eval, to().

    Attributes that are ``Parameter`` are parameters; other ``Tensor`` attributes are buffers (saved in the
    state dict, never trained); ``Module`` attributes and lists of modules are children. Order is the order
    of assignment, as in PyTorch.
    """

    training: bool = True

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The layer's computation; subclasses define it."""
        raise NotImplementedError

    def _children(self) -> Iterator[tuple[str, Any]]:
        for name, value in vars(self).items():
            if isinstance(value, (Tensor, Module)):
                yield name, value
            elif isinstance(value, (list, tuple)) and value and all(isinstance(v, Module) for v in value):
                for i, v in enumerate(value):
                    yield f"{name}.{i}", v

    def named_tensors(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        """Every parameter and buffer as ``(dotted name, tensor)``, in order."""
        for name, value in self._children():
            if isinstance(value, Module):
                yield from value.named_tensors(f"{prefix}{name}.")
            else:
                yield f"{prefix}{name}", value

    def named_parameters(self) -> list[tuple[str, Parameter]]:
        """``(dotted name, Parameter)`` pairs in order, each parameter once."""
        seen: set[int] = set()
        out = []
        for name, t in self.named_tensors():
            if isinstance(t, Parameter) and id(t) not in seen:
                seen.add(id(t))
                out.append((name, t))
        return out

    def parameters(self) -> list[Parameter]:
        """The parameters in order (what an optimizer takes)."""
        return [p for _, p in self.named_parameters()]

    def modules(self) -> Iterator[Module]:
        """This module and every descendant, depth first."""
        yield self
        for _, value in self._children():
            if isinstance(value, Module):
                yield from value.modules()

    def zero_grad(self) -> None:
        """Set every parameter's ``grad`` to None."""
        for p in self.parameters():
            p.grad = None

    def train(self, mode: bool = True) -> Module:
        """Training mode (BatchNorm uses batch statistics); returns self."""
        for m in self.modules():
            m.training = mode
        return self

    def eval(self) -> Module:
        """Evaluation mode (BatchNorm uses its running statistics); returns self."""
        return self.train(False)

    def state_dict(self) -> dict[str, Tensor]:
        """Every parameter and buffer keyed by dotted name, as detached tensors on the same storage (as torch's:
        save them with ``gradkit.save``, or read them with ``.numpy()``)."""
        return {name: t.detach() for name, t in self.named_tensors()}

    def load_state_dict(self, state: dict[str, Any], strict: bool = True) -> tuple[list[str], list[str]]:
        """Copy tensors or host arrays (``state_dict()``, ``gradkit.load``) into the parameters and buffers, on
        their backend and in their dtype, through the door (every alias sees the new values). All or nothing:
        every entry is checked first. Returns torch's ``(missing_keys, unexpected_keys)``.

        Raises:
            RuntimeError: with ``strict``, names missing from ``state`` or not in the model (both listed, as
                torch's message). ValueError: an entry whose shape differs from the tensor it loads into.
        """
        own = dict(self.named_tensors())
        missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
        if strict and (missing or unexpected):
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}: missing keys {missing}, "
                               f"unexpected keys {unexpected}")
        _statedict.copy_in(own, {k: v for k, v in state.items() if k in own}, f"{type(self).__name__}.load_state_dict")
        return missing, unexpected

    def to(self, backend: Backend | str | None = None, dtype: Any = None) -> Module:
        """Move every parameter and buffer to ``backend`` and/or cast floats to ``dtype``, in place (the
        Parameter objects stay the same, so an optimizer holding them keeps working); returns self."""
        target = _resolve_backend(backend)
        for _, t in self.named_tensors():
            moved = t.to(target, dtype if dtype is not None and t.backend.xp.isdtype(t._data.dtype, "real floating")
                         else None)
            _inplace.rebind(t, moved._data, moved.backend)
            t.grad = None
        return self

    @property
    def backend(self) -> Backend:
        """The backend of the first parameter or buffer."""
        return next(self.named_tensors())[1].backend


def _init(generator: Generator, shape: tuple[int, ...], scale: float, dtype: Any) -> Parameter:
    return Parameter.of(generator.normal(0.0, scale, shape, dtype), generator.backend)


def _transposed(array: Any, generator: Generator) -> Any:
    """A fresh C-contiguous copy of a 2-D ``array`` of ``generator``'s backend, transposed (flattened first: a
    plain copy would keep the transposed, Fortran-ordered layout, and a matmul's rounding depends on layout)."""
    xp = generator.backend.xp
    rows, cols = array.shape
    return xp.reshape(xp.reshape(xp.matrix_transpose(array), (-1,)), (cols, rows))


class Linear(Module):
    """``y = x @ weight.T + bias``, as ``torch.nn.Linear``. Shapes: ``x (..., in_features)`` -> ``(...,
    out_features)``; ``weight (out_features, in_features)`` (PyTorch's layout), ``bias (out_features,)``.

    Init as makemore part 3: ``weight ~ N(0, std)`` with ``std = gain / sqrt(in_features)`` (Kaiming; gain 5/3
    suits tanh) unless ``std`` is given, ``bias = 0``. (PyTorch's own default init is uniform; see the README's
    differences.) Draws come from ``generator`` (``backend.random(seed)``), whose backend the layer lives on;
    without one, ``gradkit.default_generator`` (``gradkit.manual_seed`` seeds it); they are drawn in the course's
    ``(in, out)`` order and stored transposed, so a seed gives the same function
    as the course's ``x @ W``.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *,
                 generator: Generator | None = None, gain: float = 1.0, std: float | None = None,
                 dtype: Any = DEFAULT_DTYPE) -> None:
        generator = default_generator if generator is None else generator
        scale = gain / in_features**0.5 if std is None else std
        drawn = generator.normal(0.0, scale, (in_features, out_features), dtype)
        self.weight = Parameter.of(_transposed(drawn, generator), generator.backend)
        self.bias = Parameter.of(generator.backend.zeros((out_features,), dtype), generator.backend) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        return functional.linear(x, self.weight, self.bias)


class Embedding(Module):
    """A lookup table: integer ids ``(B, T)`` -> vectors ``(B, T, embedding_dim)``; ``weight (num_embeddings,
    embedding_dim)`` ~ N(0, 1) (the course's ``C``). The backward sums repeated ids (``scatter_add``)."""

    def __init__(self, num_embeddings: int, embedding_dim: int, *, generator: Generator | None = None,
                 dtype: Any = DEFAULT_DTYPE) -> None:
        generator = default_generator if generator is None else generator
        self.weight = _init(generator, (num_embeddings, embedding_dim), 1.0, dtype)

    def forward(self, ids: Any) -> Tensor:
        return ops.getitem(self.weight, ids)


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
    """Layers applied in order; ``layers`` is the list."""

    def __init__(self, *layers: Module) -> None:
        self.layers = list(layers)

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
