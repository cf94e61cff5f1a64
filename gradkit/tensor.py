"""``Tensor``: an n-dimensional array on one backend, with reverse-mode autograd.

Written once against ``backends``: every array operation is a call of the backend's ``xp`` (an array API
standard namespace) or one of its hooks, so the same code runs on numpy, CuPy and array_api_strict.
"""

from __future__ import annotations

import builtins
import math
import operator
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from gradkit import backends
from gradkit.backends import Backend, DeviceMismatchError

from . import autograd
from . import devices as _device
from . import dtypes as _dtypes
from .dtypes import DType

DEFAULT_DTYPE = "float32"


OUTPUT: Any = object()  # in ``Tensor._node(..., saved=(a, OUTPUT))``: the backward reads the op's own output


Scalar = (int, float, np.number, np.bool_)


def dims(args: tuple) -> tuple[int, ...]:
    """A shape or axis order given as ints or as one sequence (``reshape(2, 3)`` or ``reshape((2, 3))``)."""
    return tuple(args[0]) if len(args) == 1 and not isinstance(args[0], int) else tuple(args)


class Size(tuple):
    """A shape, as ``torch.Size``: a tuple of ints, made from any sequence of ints (``Size([2, 3])``,
    ``Size((2, 3))``, ``Size()``), equal to the plain tuple ``t.shape`` and to ``t.size()`` (which returns one).
    ``numel()`` is the product; slicing gives a ``Size``; ``repr`` is ``gradkit.Size([2, 3])``.

    Raises TypeError for an element that is not an int (``operator.index``)."""

    def __new__(cls, sizes: Sequence[Any] = ()) -> Size:
        return super().__new__(cls, [operator.index(s) for s in sizes])

    def numel(self) -> int:
        """The number of elements of a tensor of this shape (1 for ``Size([])``)."""
        return math.prod(self)

    def __getitem__(self, key: Any) -> Any:
        out = super().__getitem__(key)
        return Size(out) if isinstance(key, slice) else out

    def __repr__(self) -> str:
        return f"gradkit.Size({list(self)})"


class SizeCount(int):
    """A tensor's element count (an ``int``, numpy's ``size``) that is also PyTorch's ``size`` method:
    ``t.size()`` is the shape (a ``Size``, equal to the tuple ``t.shape``) and ``t.size(d)`` the length of axis
    ``d`` (negative counts from the end).

    Raises IndexError for an axis out of range."""

    def __new__(cls, count: int, shape: tuple[int, ...]) -> SizeCount:
        out = super().__new__(cls, count)
        out.shape = shape
        return out

    shape: tuple[int, ...]

    def __call__(self, dim: int | None = None) -> Any:
        if dim is None:
            return Size(self.shape)
        if not -len(self.shape) <= dim < len(self.shape):
            raise IndexError(f"size({dim}): dimension out of range for a tensor with {len(self.shape)} dimensions")
        return self.shape[dim]


def pick_dim(name: str, dim: Any, axis: Any, default: Any = None) -> Any:
    """The axis argument given as PyTorch's ``dim=`` or numpy's ``axis=`` (a list becomes a tuple).

    Raises TypeError when both are given."""
    if dim is not None and axis is not None:
        raise TypeError(f"{name}() got both dim={dim!r} and axis={axis!r}: they are one argument (dim is "
                        "PyTorch's name, axis numpy's); pass only one")
    out = axis if dim is None else dim
    out = default if out is None else out
    return tuple(out) if isinstance(out, list) else out


def pick_keepdim(name: str, keepdim: bool | None, keepdims: bool | None) -> bool:
    """``keepdim=`` (PyTorch's) or ``keepdims=`` (numpy's), default False. Raises TypeError when both are given."""
    if keepdim is not None and keepdims is not None:
        raise TypeError(f"{name}() got both keepdim= and keepdims=: they are one argument (keepdim is "
                        "PyTorch's name, keepdims numpy's); pass only one")
    return bool(keepdims if keepdim is None else keepdim)


def _resolve_backend(backend: Backend | str | None) -> Backend:
    return backend if isinstance(backend, Backend) else backends.get_backend(backend)


class Tensor:
    """An array of ``dtype`` on ``backend``, recording the ops applied to it when ``requires_grad``.

    Args:
        data: Python numbers or nested lists, a numpy array, an array that ``backend`` owns, or a Tensor
            (its data, detached).
        backend: a ``Backend``, a backend name (``"numpy"``, ``"cupy"``, ``"strict"``, aliases), or None for
            ``backends.get_backend()`` (``$GRADKIT_BACKEND``, then auto).
        dtype: ``"float32"``, ``"float64"``, ``"int64"``, ... or a dtype object. None: Python floats become
            float32 (the default dtype), Python ints int64, and arrays keep their dtype.
        requires_grad: record ops for ``backward()``; only float data can (gradients are real numbers).

    The data is always copied (as ``torch.tensor`` does). Tensors hash by identity; ``==`` is elementwise, as
    PyTorch's.

    Attributes: ``data`` (the same storage as a detached Tensor, as PyTorch's ``.data``), ``_data`` (the backend
    array itself), ``grad`` (a Tensor or None), ``requires_grad``, ``backend``, ``dtype``, ``shape``, ``ndim``,
    ``is_leaf``. Data reaches the host only when asked: ``numpy()``, ``item()``, ``tolist()``, and Python's
    ``bool``/``float``/``int`` of a one-element tensor.

    Raises:
        DeviceMismatchError: ``data`` is an array of another backend or device.
        RuntimeError: ``requires_grad`` with integer or bool data (as torch).
        UnknownBackendError, BackendUnavailableError: from ``backends.get_backend``.
    """

    __slots__ = ("_data", "grad", "requires_grad", "backend", "_grad_fn", "_st", "_view", "__weakref__")
    __array_priority__ = 1000  # numpy defers `ndarray op Tensor` to the Tensor's reflected operator

    def __init__(self, data: Any, *, backend: Backend | str | None = None, dtype: Any = None,
                 requires_grad: bool = False) -> None:
        if isinstance(data, Tensor):
            backend = data.backend if backend is None else backend
            data = data._data
        be = _resolve_backend(backend)
        if not be.owns(data):
            host = np.asarray(data)
            if host.dtype.kind not in "biuf":
                raise TypeError(f"a Tensor holds real numbers, integers or booleans, not {host.dtype} data "
                                f"({type(data).__name__})")
            if dtype is None and not isinstance(data, np.ndarray):
                dtype = DEFAULT_DTYPE if host.dtype.kind == "f" else None
                data = host
        array = be.asarray(data, dtype)
        if requires_grad and not _is_float(be, array):
            raise RuntimeError(f"Only Tensors of floating point dtype can require gradients (as torch), this one is "
                               f"{array.dtype}; pass dtype=gradkit.float32 or float data")
        if array is data:  # a copy, as torch.tensor makes: in-place updates never reach the caller's array
            array = be.xp.asarray(array, copy=True)
        self._init(array, be, requires_grad)

    def _init(self, data: Any, backend: Backend, requires_grad: bool) -> None:
        self._data = data
        self.grad: Tensor | None = None
        self.requires_grad = requires_grad
        self.backend = backend
        self._grad_fn: autograd.Node | None = None  # the op that computed the values; None for a leaf
        self._st: Any = None  # the Storage (version counter, views) shared with aliases; made when first needed
        self._view: Any = None  # for a view or an alias of another tensor's storage: its _inplace.View

    @classmethod
    def _wrap(cls, data: Any, backend: Backend, requires_grad: bool = False) -> Tensor:
        """A tensor around an array that ``backend`` already owns (no checks, no copy)."""
        out = cls.__new__(cls)
        out._init(data, backend, requires_grad)
        return out

    @classmethod
    def _node(cls, data: Any, parents: tuple[Tensor, ...], backward: Callable[[Any], Sequence[Any]],
              op: str, saved: tuple[Tensor, ...] = ()) -> Tensor:
        """The output of an op: records the graph (a ``Node``) when grad mode is on and a parent requires grad.
        ``saved`` lists the tensors whose data ``backward`` reads, ``OUTPUT`` standing for the output itself:
        changing one in place afterwards makes ``backward()`` raise, as torch's saved-tensor check does."""
        out = cls.__new__(cls)
        out._init(data, parents[0].backend, False)
        if autograd._GradMode.enabled:
            for p in parents:
                if p.requires_grad:
                    edges = tuple([(q._grad_fn or q) if q.requires_grad else None for q in parents])
                    out.requires_grad = True
                    out._grad_fn = autograd.Node(edges, backward, _inplace.saved(saved, out) if saved else (), op)
                    break
        return out

    @property
    def _version(self) -> int:
        """How many in-place changes the storage has seen (torch's ``_version``); shared by aliases."""
        st = self._st
        return 0 if st is None else st.version

    @property
    def grad_fn(self) -> autograd.Node | None:
        """The node of the op that computed this tensor (None for a leaf), as torch's ``grad_fn``."""
        return self._grad_fn

    @property
    def _base(self) -> Tensor | None:
        """The tensor whose storage this view shares (None for a tensor that owns its storage), as torch's."""
        return None if self._view is None else self._view.root

    def is_view(self) -> builtins.bool:
        """True for a view or an alias of another tensor's storage (basic slices, ``view``, ``transpose``, ...)."""
        return self._view is not None

    # Attributes.
    @property
    def data(self) -> Tensor:
        """The same storage as a new tensor outside the graph (``requires_grad=False``), as PyTorch's ``.data``:
        the course's ``p.data += -lr * p.grad`` updates ``p`` in place. As in PyTorch, a change made through it
        does not move the version counter: a backward that saved ``p`` then uses the new values, unchecked."""
        return _inplace.alias(self, tracked=False)

    @data.setter
    def data(self, value: Any) -> None:
        """Replace the contents with ``value`` (a Tensor or an array of this backend), its shape and dtype
        included, as PyTorch's ``t.data = value``: the tensor takes ``value``'s array, its other views keep the
        old contents, and, as in PyTorch, the version counter does not move (``p.data += x`` writes through the
        alias and then sets it back: nothing more happens). Through the one door (``_inplace.rebind``).

        Raises:
            DeviceMismatchError: ``value`` is not of this tensor's backend.
        """
        array = value._data if isinstance(value, Tensor) else value
        if array is self._data:
            return
        if not self.backend.owns(array):
            raise DeviceMismatchError(f"cannot set .data of a tensor on {self.backend!r} to a "
                                      f"{type(value).__name__}; wrap it first: Tensor(value, "
                                      f"backend={self.backend.name!r})")
        _inplace.rebind(self, array, untracked=True)

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape, a tuple of ints."""
        return tuple(self._data.shape)

    @property
    def ndim(self) -> int:
        """The number of axes."""
        return len(self._data.shape)

    @property
    def dtype(self) -> DType:
        """The dtype as ``gradkit.float32``, ``gradkit.int64``, ... (the same objects on every backend, so
        ``t.dtype == gradkit.float32`` holds everywhere; the backend's own dtype is ``t._data.dtype``)."""
        return _dtypes.of(self._data.dtype)

    @property
    def size(self) -> SizeCount:
        """The number of elements (numpy's ``size``, an int), callable as PyTorch's ``size()`` (the shape, a
        ``Size``, a tuple) and ``size(dim)`` (one axis's length)."""
        return SizeCount(math.prod(self._data.shape), self.shape)

    def numel(self) -> int:
        """The number of elements, as ``torch.numel``."""
        return math.prod(self._data.shape)

    nelement = numel

    def dim(self) -> int:
        """The number of axes (``ndim``), as ``torch.Tensor.dim``."""
        return len(self._data.shape)

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by the user (not by an op that recorded a graph)."""
        return self._grad_fn is None

    def __bool__(self) -> bool:
        """The truth of a one-element tensor's value (a device -> host read); ambiguous for other sizes."""
        if self.size != 1:
            raise RuntimeError(f"the truth value of a tensor with {self.size} elements is ambiguous; use "
                               "(t > 0).numpy().any() or .all()")
        return bool(self.item())

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        """The data as a host numpy array, for ``np.asarray(t)``, ``plt.plot(t)`` and ``plt.imshow(t)``, as a torch
        CPU tensor gives (numpy and strict backends; a copy, except ``copy=False`` on numpy, which shares).

        Raises:
            TypeError: a CUDA tensor (torch's refusal: bring it to the host with ``.cpu()`` first).
            RuntimeError: a tensor that requires grad (torch's: use ``t.detach()``).
            ValueError: ``copy=False`` where the data is not on the host already."""
        if self.is_cuda:
            raise TypeError(f"can't convert {self.device} device type tensor to numpy. Use Tensor.cpu() to copy the "
                            "tensor to host memory first.")
        if self.requires_grad:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
                               "instead.")
        if copy is False:
            if self.backend.name != "numpy":
                raise ValueError(f"a tensor on {self.backend.name} cannot become a numpy array without a copy")
            host = np.asarray(self._data)
        else:
            host = self.numpy()
        return host if dtype is None else host.astype(dtype, copy=False)

    __array_ufunc__ = None  # numpy's operators defer to Tensor's reflected ones (ndarray + Tensor -> Tensor)

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __deepcopy__(self, memo: dict[int, Any]) -> Tensor:
        """A leaf's copy on its device: its values, ``requires_grad`` and a copy of ``.grad`` (views of other
        tensors become tensors of their own). Raises RuntimeError for a non-leaf, as torch."""
        if self._grad_fn is not None:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) support the deepcopy "
                               "protocol at the moment (call .detach() first)")
        out = _unpickle(type(self), self.backend, self.backend.xp.asarray(self._data, copy=True), self.requires_grad,
                        None)
        memo[id(self)] = out
        if self.grad is not None:
            out.grad = self.grad.__deepcopy__(memo)
        return out

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, tuple[Any, ...]]:
        """Pickling: the values (through the host), the backend by name, ``requires_grad`` and ``.grad``.
        Raises RuntimeError for a non-leaf that requires grad, as torch (its graph cannot be pickled)."""
        if self._grad_fn is not None and self.requires_grad:
            raise RuntimeError("Cowardly refusing to serialize non-leaf tensor which requires_grad, since autograd "
                               "does not support crossing process boundaries (call .detach() first)")
        return _unpickle, (type(self), self.backend, self.backend.to_numpy(self._data), self.requires_grad, self.grad)

    def __repr__(self) -> str:
        """The values as PyTorch prints them: ``tensor([0.1235, 2.0000], requires_grad=True)`` (``_repr``)."""
        from ._repr import tensor_repr

        return tensor_repr(self)

    # Host access, explicit.
    def numpy(self) -> np.ndarray:
        """A host copy of the data as a numpy array (the explicit device -> host transfer)."""
        return self.backend.to_numpy(self._data)

    def item(self) -> float | int | bool:
        """The value of a one-element tensor as a Python number. Raises ValueError for other sizes."""
        if self.size != 1:
            raise ValueError(f"item() needs a tensor with one element, this one has shape {self.shape}")
        return self.numpy().reshape(()).item()

    def tolist(self) -> Any:
        """The data as nested Python lists (through the host)."""
        return self.numpy().tolist()

    # Autograd.
    def backward(self, gradient: Any = None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf that requires grad.

        Args:
            gradient: the upstream gradient, of ``self``'s shape (a Tensor or host data); may be omitted
                for a one-element tensor (it is then 1).
            retain_graph: keep the graph's saved arrays so that backward can be called again.

        Raises:
            RuntimeError: ``self`` does not require grad; ``gradient`` omitted for a non-scalar; a saved
                tensor was modified in place; the graph was freed by an earlier backward.
        """
        if not self.requires_grad:
            raise RuntimeError("backward() on a tensor that does not require grad: create the leaves with "
                               "requires_grad=True, and call backward outside no_grad()")
        if gradient is None:
            if self.size != 1:
                raise RuntimeError(f"backward() without a gradient needs a one-element output; this one has "
                                   f"shape {self.shape}: pass gradient= of that shape")
            seed = self.backend.full(self.shape, 1.0, self.dtype)
        else:
            g = _operand_data(self, gradient) if isinstance(gradient, Tensor) else self.backend.asarray(gradient)
            if tuple(g.shape) != self.shape:
                raise ValueError(f"gradient has shape {tuple(g.shape)}, the tensor has shape {self.shape}")
            seed = self.backend.xp.asarray(self.backend.astype(g, self.dtype), copy=True)
        autograd.run_backward(self, seed, retain_graph)

    def zero_grad(self) -> None:
        """Forget the accumulated gradient (``grad = None``)."""
        self.grad = None

    def retain_grad(self) -> None:
        """Keep this non-leaf tensor's gradient in ``.grad`` after ``backward()`` (summed over calls), as
        ``torch.Tensor.retain_grad``; a no-op on leaves. Its node keeps a weak reference to the tensor.

        Raises:
            RuntimeError: the tensor does not require grad."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad() on a tensor that does not require grad")
        if self._grad_fn is not None:
            self._grad_fn.retain = weakref.ref(self)

    @property
    def retains_grad(self) -> builtins.bool:
        """True when ``retain_grad()`` was called on this non-leaf tensor (torch's ``retains_grad``)."""
        node = self._grad_fn
        return node is not None and node.retain is not None and node.retain() is self

    def detach(self) -> Tensor:
        """The same data (shared, not copied) as a new leaf that does not require grad. It shares the storage's
        version counter (as torch's): an in-place change through it makes a backward that needs the old values
        raise, and a change through either is seen by the other."""
        return _inplace.alias(self)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` on a leaf in place; returns self."""
        if not self.is_leaf:
            raise RuntimeError("requires_grad_ applies to leaf tensors; use detach() first")
        if requires_grad and not _is_float(self.backend, self._data):
            raise TypeError(f"only floating-point tensors can require grad, this one is {self.dtype}")
        self.requires_grad = requires_grad
        return self

    def clone(self) -> Tensor:
        """A copy of the data, recorded in the graph (gradient passes through unchanged)."""
        return Tensor._node(self.backend.xp.asarray(self._data, copy=True), (self,), lambda g: (g,), "clone")

    def to(self, *args: Any, device: Any = None, dtype: Any = None, non_blocking: bool = False, copy: bool = False,
           backend: Backend | str | None = None) -> Tensor:
        """This tensor on another backend and/or dtype, as ``torch.Tensor.to``: ``to(device)``, ``to(dtype)``,
        ``to(device, dtype)``, ``to(other)`` (its device and dtype), or keywords. A device is a device string
        (``"cpu"``, ``"cuda"``, ``"cuda:0"``), a ``gradkit.device``, a backend name or a ``Backend``
        (``backend=`` is gradkit's name for ``device=``). Changing backend copies through the host; the result
        is then a leaf with the same ``requires_grad``. Returns self when nothing changes, unless ``copy``.
        ``non_blocking`` is accepted (copies are synchronous).

        Raises:
            TypeError: both ``backend`` and ``device``, or a device or dtype given twice."""
        if backend is not None and device is not None:
            raise TypeError("to() got both backend= and device=: they are one argument; pass one")
        where, dtype = _device.to_args("to", args, device if backend is None else backend, dtype)
        target = self.backend if where is None else _resolve_backend(where)
        data = self._data
        if target != self.backend:
            data = target.asarray(self.backend.to_numpy(data))
        if dtype is not None:
            data = target.astype(data, dtype)
        if data is self._data:
            return self.clone().detach().requires_grad_(self.requires_grad) if copy else self
        return Tensor._wrap(data, target, self.requires_grad and _is_float(target, data))

    # PyTorch's devices, views and conversions (issue 16).
    @property
    def device(self) -> _device.device:
        """The device, as ``torch.Tensor.device``: ``device(type='cpu')`` for numpy, ``device(type='cuda',
        index=0)`` for CuPy, ``device(type='strict')`` for strict (see ``gradkit.device``); it is accepted by
        every ``device=`` argument (``torch.arange(t, device=x.device)``)."""
        return _device.of(self.backend)

    @property
    def is_cuda(self) -> builtins.bool:
        """True on the CUDA backend (CuPy)."""
        return _device.of(self.backend).type == "cuda"

    def cuda(self, device: Any = None, non_blocking: builtins.bool = False) -> Tensor:
        """``to("cuda")`` (device 0; an index or ``"cuda:N"`` other than 0 raises UnknownBackendError)."""
        return self.to(f"cuda:{device}" if isinstance(device, int) else device or "cuda")

    def cpu(self) -> Tensor:
        """``to("cpu")``: on the host (numpy), or self when already there."""
        return self.to("cpu")

    def pin_memory(self, device: Any = None) -> Tensor:
        """Self: gradkit's host -> device copies are CuPy's own (torch pins host memory for faster, asynchronous
        copies; the values are the same). Raises RuntimeError where CUDA is not available, as torch does (scripts
        call it only when they train on CUDA, as nanoGPT's ``get_batch``)."""
        if not backends.probe()["cupy"].usable:
            raise RuntimeError("Cannot access accelerator device when none is available.")
        return self

    def is_pinned(self, device: Any = None) -> builtins.bool:
        """False: gradkit does not pin host memory (see ``pin_memory``)."""
        return False

    def contiguous(self, memory_format: Any = None) -> Tensor:
        """Self when row-major, else a row-major copy (see ``pieces.contiguous``)."""
        return _pieces.contiguous(self)

    def is_contiguous(self, memory_format: Any = None) -> bool:
        """True when the elements are row-major and none shares memory with another (an ``expand``'s view is
        not), as ``torch.Tensor.is_contiguous``; True where the array library does not tell its layout."""
        flags = getattr(self._data, "flags", None)
        return not _inplace.overlaps(self) and (flags is None or bool(flags.c_contiguous))

    def split(self, split_size_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
        """Views along ``dim`` of a size, or of the given sizes (see ``pieces.split``)."""
        return _pieces.split(self, split_size_or_sections, dim)

    def chunk(self, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
        """At most ``chunks`` views of equal size along ``dim`` (see ``pieces.chunk``)."""
        return _pieces.chunk(self, chunks, dim)

    def roll(self, shifts: Any, dims: Any = None) -> Tensor:
        """Shifted cyclically along ``dims`` (see ``pieces.roll``)."""
        return _pieces.roll(self, shifts, dims)

    def __iter__(self) -> Any:
        """The slices along axis 0 (views), as iterating a torch tensor. Raises TypeError for a 0-d tensor."""
        if not self.shape:
            raise TypeError("iteration over a 0-d tensor")
        return iter(_shapes.unbind(self, 0))

    def __index__(self) -> int:
        """The value of a one-element integer tensor as a Python int, so it works as a list index or slice bound
        (``data[i:i + block_size]`` for ``i`` drawn by ``randint``), as torch's.

        Raises:
            TypeError: a float tensor, or one with more than one element (torch's message; a bool is 0 or 1)."""
        if self.size != 1 or not self.backend.xp.isdtype(self._data.dtype, ("integral", "bool")):
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __format__(self, format_spec: str) -> str:
        """A 0-d tensor formats as its value (``f"{loss:.4f}"``, a device -> host read), as torch's; other
        tensors take only an empty spec (TypeError otherwise, as torch)."""
        if not self.shape:
            return format(self.item(), format_spec)
        return object.__format__(self, format_spec)

    def astype(self, dtype: Any) -> Tensor:
        """The data cast to ``dtype``, recorded in the graph (the gradient is cast back)."""
        data = self.backend.astype(self._data, dtype)
        if data is self._data:
            return self
        if not _is_float(self.backend, data):  # gradients are real numbers: an integer cast ends the graph
            return Tensor._wrap(data, self.backend)
        src = self.dtype
        return Tensor._node(data, (self,), lambda g: (self.backend.astype(g, src),), "astype")

    # Changes of contents: all of them go through ``_assign``, the one door (see ``gradkit._inplace``).
    def _assign(self, value: Any, key: Any = None, *, op: Callable[[Any, Any], Any] | None = None,
                result: builtins.bool = False) -> Tensor:
        """THE door through which a tensor's contents change: ``self[key] = value`` (``key=None``: all of it), or
        with ``op`` (``operator.iadd``, ...) ``self[key] = op(self[key], value)``. ``value`` is a Tensor, a Python
        number or an array of this backend, broadcast to the region and cast to ``self``'s dtype. Returns self.

        It writes in place where that is safe and the backend's array is writeable, and otherwise rebinds the
        storage to a new array (every view and alias follows); it bumps the version counter, here only. In grad
        mode a change that involves a tensor requiring grad is recorded: the tensor's history is rebased, as
        torch's CopySlices (see ``gradkit._inplace``). ``result``: ``value`` is an in-place op's out-of-place twin
        just computed from ``self`` (``_assign_result``); as with ``op``, that op's own reading of ``self`` is not
        version-checked (the write rebinds, so the array it saved never changes) and its node becomes ``self``'s.

        Raises:
            RuntimeError: torch's errors: an in-place change of a leaf that requires grad (or a view of one) in
                grad mode; a write into an expanded view; a result dtype that cannot be cast to ``self``'s;
                a value whose shape does not broadcast to the region.
        """
        return _inplace.assign(self, value, key, op, result)

    def add_(self, other: Any, *, alpha: Any = 1) -> Tensor:
        """``self += alpha * other`` in place; returns self."""
        return self._assign(other if alpha == 1 else other * alpha, op=operator.iadd)

    def sub_(self, other: Any, *, alpha: Any = 1) -> Tensor:
        """``self -= alpha * other`` in place; returns self."""
        return self._assign(other if alpha == 1 else other * alpha, op=operator.isub)

    def mul_(self, other: Any) -> Tensor:
        """``self *= other`` in place; returns self."""
        return self._assign(other, op=operator.imul)

    def div_(self, other: Any) -> Tensor:
        """``self /= other`` in place; returns self."""
        return self._assign(other, op=operator.itruediv)

    def copy_(self, src: Any) -> Tensor:
        """Overwrite the data with ``src`` (broadcast, cast to ``self``'s dtype) in place; returns self."""
        return self._assign(src)

    def zero_(self) -> Tensor:
        """Fill with zeros in place; returns self."""
        return self._assign(0)

    def fill_(self, value: Any) -> Tensor:
        """Fill with ``value`` (a number or a one-element tensor) in place; returns self."""
        return self._assign(value)

    def __iadd__(self, other: Any) -> Tensor:
        """``self += other``: in place, as in PyTorch (every reference to ``self`` sees the change)."""
        return self._assign(other, op=operator.iadd)

    def __isub__(self, other: Any) -> Tensor:
        return self._assign(other, op=operator.isub)

    def __imul__(self, other: Any) -> Tensor:
        return self._assign(other, op=operator.imul)

    def __itruediv__(self, other: Any) -> Tensor:
        return self._assign(other, op=operator.itruediv)

    # Operators and methods: each is the op of the same name in ``gradkit.ops`` / ``gradkit.functional``.

    def __add__(self, other: Any) -> Tensor:
        """``self + other`` with broadcasting (see ``ops.add``)."""
        return _ops.add(self, other)

    __radd__ = __add__

    def __sub__(self, other: Any) -> Tensor:
        return _ops.sub(self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return _ops.rsub(self, other)

    def __mul__(self, other: Any) -> Tensor:
        return _ops.mul(self, other)

    __rmul__ = __mul__

    def __truediv__(self, other: Any) -> Tensor:
        return _ops.div(self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return _ops.rdiv(self, other)

    def __pow__(self, other: Any) -> Tensor:
        return _ops.pow(self, other)

    def __rpow__(self, other: Any) -> Tensor:
        return _ops.rpow(self, other)

    def __matmul__(self, other: Any) -> Tensor:
        return _ops.matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return _ops.matmul(_ops._as_tensor(self, other), self)

    def __neg__(self) -> Tensor:
        return _ops.neg(self)

    def __pos__(self) -> Tensor:
        """``+t`` is ``t`` itself, as torch's ``positive`` (which refuses a bool tensor)."""
        if self._data.dtype == self.backend.xp.bool:
            raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
        return self

    def __abs__(self) -> Tensor:
        return _ops.abs(self)

    def __getitem__(self, key: Any) -> Tensor:
        return _ops.getitem(self, key)

    def __setitem__(self, key: Any, value: Any) -> None:
        """``self[key] = value`` in place, through the door (``_assign``): the course's ``N[i, j] += 1``,
        ``x[mask] = 0``, ``dlogits[range(n), Yb] -= 1``; recorded in a graph where a tensor requires grad."""
        self._assign(value, key)

    def index_put_(self, indices: tuple[Any, ...], values: Any, accumulate: bool = False) -> Tensor:
        """``self[indices] = values`` in place, summing repeated indices with ``accumulate`` (see
        ``indexing.index_put_``); returns self."""
        return _indexing.index_put_(self, indices, values, accumulate)

    def index_put(self, indices: tuple[Any, ...], values: Any, accumulate: bool = False) -> Tensor:
        """Out of place and differentiable (see ``indexing.index_put``)."""
        return _indexing.index_put(self, indices, values, accumulate)

    def index_add_(self, dim: int, index: Any, source: Any, *, alpha: float = 1) -> Tensor:
        """``alpha * source`` added along ``dim`` at ``index`` in place, repeats summed; returns self."""
        return _indexing.index_add_(self, dim, index, source, alpha=alpha)

    def scatter(self, dim: builtins.int, index: Tensor, src: Any = None, *, value: Any = None,
                reduce: str | None = None) -> Tensor:
        """Out of place and differentiable (see ``indexing.scatter``): ``src`` a tensor or a number."""
        return _indexing.scatter(self, dim, index, src, value=value, reduce=reduce)

    def scatter_(self, dim: builtins.int, index: Tensor, src: Any = None, *, value: Any = None,
                 reduce: str | None = None) -> Tensor:
        """``scatter`` in place, through the door; returns self. Raises as ``indexing.scatter``, and
        RuntimeError on a leaf that requires grad in grad mode."""
        return self._assign_result(self.scatter(dim, index, src, value=value, reduce=reduce))

    def scatter_add(self, dim: builtins.int, index: Tensor, src: Tensor) -> Tensor:
        """Out of place and differentiable, repeats summed (see ``indexing.scatter_add``)."""
        return _indexing.scatter_add(self, dim, index, src)

    def scatter_add_(self, dim: builtins.int, index: Tensor, src: Tensor) -> Tensor:
        """``scatter_add`` in place, through the door; returns self."""
        return self._assign_result(self.scatter_add(dim, index, src))

    def index_fill(self, dim: builtins.int, index: Tensor, value: Any) -> Tensor:
        """Out of place and differentiable (see ``indexing.index_fill``)."""
        return _indexing.index_fill(self, dim, index, value)

    def index_fill_(self, dim: builtins.int, index: Tensor, value: Any) -> Tensor:
        """``index_fill`` in place, through the door; returns self."""
        return self._assign_result(self.index_fill(dim, index, value))

    def index_copy(self, dim: builtins.int, index: Tensor, source: Tensor) -> Tensor:
        """Out of place and differentiable (see ``indexing.index_copy``)."""
        return _indexing.index_copy(self, dim, index, source)

    def index_copy_(self, dim: builtins.int, index: Tensor, source: Tensor) -> Tensor:
        """``index_copy`` in place, through the door; returns self."""
        return self._assign_result(self.index_copy(dim, index, source))

    def fill_diagonal_(self, fill_value: Any, wrap: builtins.bool = False) -> Tensor:
        """The main diagonal set to ``fill_value`` in place (see ``indexing.fill_diagonal_``); returns self."""
        return _indexing.fill_diagonal_(self, fill_value, wrap)

    def __lt__(self, other: Any) -> Tensor:
        """Elementwise ``<`` as a bool tensor (not differentiable)."""
        return _ops.compare(self, other, operator.lt)

    def __le__(self, other: Any) -> Tensor:
        """Elementwise ``<=`` as a bool tensor (not differentiable)."""
        return _ops.compare(self, other, operator.le)

    def __gt__(self, other: Any) -> Tensor:
        """Elementwise ``>`` as a bool tensor (not differentiable)."""
        return _ops.compare(self, other, operator.gt)

    def __ge__(self, other: Any) -> Tensor:
        """Elementwise ``>=`` as a bool tensor (not differentiable)."""
        return _ops.compare(self, other, operator.ge)

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        """Elementwise ``==`` as a bool tensor, as PyTorch's (``tril == 0``); hashing stays by identity."""
        return _ops.compare(self, other, operator.eq)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        """Elementwise ``!=`` as a bool tensor."""
        return _ops.compare(self, other, operator.ne)

    __hash__ = object.__hash__

    def pow(self, exponent: Any) -> Tensor:
        """``self ** exponent`` (see ``ops.pow``)."""
        return _ops.pow(self, exponent)

    def matmul(self, other: Any) -> Tensor:
        """``self @ other`` (see ``ops.matmul``)."""
        return _ops.matmul(self, other)

    def exp(self) -> Tensor:
        """``e ** self`` (see ``ops.exp``)."""
        return _ops.exp(self)

    def log(self) -> Tensor:
        """Natural log (see ``ops.log``)."""
        return _ops.log(self)

    def tanh(self) -> Tensor:
        """Hyperbolic tangent (see ``ops.tanh``)."""
        return _ops.tanh(self)

    def sigmoid(self) -> Tensor:
        """Logistic sigmoid (see ``ops.sigmoid``)."""
        return _ops.sigmoid(self)

    def relu(self) -> Tensor:
        """``max(self, 0)`` (see ``ops.relu``)."""
        return _ops.relu(self)

    def abs(self) -> Tensor:
        """``|self|`` (see ``ops.abs``)."""
        return _ops.abs(self)

    def sqrt(self) -> Tensor:
        """``self ** 0.5`` (see ``pointwise.sqrt``)."""
        return _pointwise.sqrt(self)

    def sum(self, dim: Any = None, keepdim: bool | None = None, *, axis: Any = None, keepdims: bool | None = None,
            dtype: Any = None) -> Tensor:
        """Sum over ``dim`` (int, tuple or None for all); ``axis``/``keepdims`` are numpy's spellings."""
        return _reductions.sum(self, dim, keepdim, axis=axis, keepdims=keepdims, dtype=dtype)

    def mean(self, dim: Any = None, keepdim: bool | None = None, *, axis: Any = None,
             keepdims: bool | None = None, dtype: Any = None) -> Tensor:
        """Mean over ``dim`` (int, tuple or None for all)."""
        return _reductions.mean(self, dim, keepdim, axis=axis, keepdims=keepdims, dtype=dtype)

    def max(self, dim: Any = None, keepdim: bool | None = None, *, axis: Any = None,
            keepdims: bool | None = None) -> Any:
        """The maximum (no ``dim``: a 0-d tensor) or ``(values, indices)`` along an int ``dim``, as
        ``torch.max`` (see ``reductions.max``); ``amax`` reduces several axes."""
        return _reductions.max(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def min(self, dim: Any = None, keepdim: bool | None = None, *, axis: Any = None,
            keepdims: bool | None = None) -> Any:
        """The minimum, or ``(values, indices)`` along an int ``dim``, as ``torch.min``."""
        return _reductions.min(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def amax(self, dim: Any = None, keepdim: bool | None = None, *, axis: Any = None,
             keepdims: bool | None = None) -> Tensor:
        """Maximum over ``dim`` (int, tuple or None); tied maxima share the gradient."""
        return _reductions.amax(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def amin(self, dim: Any = None, keepdim: bool | None = None, *, axis: Any = None,
             keepdims: bool | None = None) -> Tensor:
        """Minimum over ``dim`` (int, tuple or None); tied minima share the gradient."""
        return _reductions.amin(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def argmax(self, dim: int | None = None, keepdim: bool | None = None, *, axis: int | None = None,
               keepdims: bool | None = None) -> Tensor:
        """Index of the first maximum along ``dim`` (int64, not differentiable)."""
        return _reductions.argmax(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def argmin(self, dim: int | None = None, keepdim: bool | None = None, *, axis: int | None = None,
               keepdims: bool | None = None) -> Tensor:
        """Index of the first minimum along ``dim`` (int64, not differentiable)."""
        return _reductions.argmin(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def var(self, dim: Any = None, unbiased: bool | None = None, keepdim: bool | None = None, *,
            correction: float | None = None, axis: Any = None, keepdims: bool | None = None) -> Tensor:
        """Variance over ``dim`` with ``correction`` (default 1), as ``torch.var`` (see ``reductions.var``)."""
        return _reductions.var(self, dim, unbiased, keepdim, correction=correction, axis=axis, keepdims=keepdims)

    def std(self, dim: Any = None, unbiased: bool | None = None, keepdim: bool | None = None, *,
            correction: float | None = None, axis: Any = None, keepdims: bool | None = None) -> Tensor:
        """Standard deviation over ``dim`` with ``correction`` (default 1), as ``torch.std``."""
        return _reductions.std(self, dim, unbiased, keepdim, correction=correction, axis=axis, keepdims=keepdims)

    def topk(self, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> Any:  # noqa: A002
        """The ``k`` largest (or smallest) along ``dim`` as ``(values, indices)`` (see ``reductions.topk``)."""
        return _reductions.topk(self, k, dim, largest, sorted)

    def all(self, dim: Any = None, keepdim: bool | None = None, *, axis: Any = None,
            keepdims: bool | None = None) -> Tensor:
        """True where every element over ``dim`` is nonzero (bool tensor)."""
        return _reductions.all(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def any(self, dim: Any = None, keepdim: bool | None = None, *, axis: Any = None,
            keepdims: bool | None = None) -> Tensor:
        """True where some element over ``dim`` is nonzero (bool tensor)."""
        return _reductions.any(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def log10(self) -> Tensor:
        """Base-10 logarithm (see ``pointwise.log10``)."""
        return _pointwise.log10(self)

    def allclose(self, other: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> builtins.bool:
        """True when close to ``other`` everywhere (see ``reductions.allclose``)."""
        return _reductions.allclose(self, other, rtol, atol, equal_nan)

    def clamp(self, min: float | None = None, max: float | None = None) -> Tensor:  # noqa: A002
        """Values limited to ``[min, max]`` (see ``pointwise.clamp``)."""
        return _pointwise.clamp(self, min, max)

    def clamp_min(self, min: float) -> Tensor:  # noqa: A002
        """``clamp(min=min)``."""
        return _pointwise.clamp(self, min=min)

    def clamp_max(self, max: float) -> Tensor:  # noqa: A002
        """``clamp(max=max)``."""
        return _pointwise.clamp(self, max=max)

    def masked_fill(self, mask: Tensor, value: float) -> Tensor:
        """``value`` where ``mask`` is True (see ``pointwise.masked_fill``)."""
        return _pointwise.masked_fill(self, mask, value)

    def tril(self, diagonal: int = 0) -> Tensor:
        """The lower triangle (see ``pointwise.tril``)."""
        return _pointwise.tril(self, diagonal)

    def triu(self, diagonal: int = 0) -> Tensor:
        """The upper triangle (see ``pointwise.triu``)."""
        return _pointwise.triu(self, diagonal)

    def reshape(self, *shape: Any) -> Tensor:
        """The same elements in ``shape`` (ints or one tuple; one may be -1)."""
        return _ops.reshape(self, *shape)

    def transpose(self, dim0: int, dim1: int) -> Tensor:
        """Axes ``dim0`` and ``dim1`` swapped, as ``torch.transpose`` (``permute`` takes a whole order)."""
        return _shapes.transpose(self, dim0, dim1)

    def t(self) -> Tensor:
        """A matrix transposed (a view), as ``torch.Tensor.t``; 0-d and 1-D tensors are returned as views.

        Raises:
            RuntimeError: more than 2 dimensions (use ``transpose(dim0, dim1)`` or ``permute``)."""
        if self.ndim > 2:
            raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {self.ndim}D")
        return _ops.permute(self)

    def expand(self, *sizes: Any) -> Tensor:
        """``self`` broadcast to ``sizes`` without a copy (a view; see ``ops.expand``)."""
        return _ops.expand(self, *sizes)

    def expand_as(self, other: Tensor) -> Tensor:
        """``expand(other.shape)``."""
        return _ops.expand(self, other.shape)

    def permute(self, *axes: Any) -> Tensor:
        """Axes permuted (ints or one tuple), as ``torch.permute``."""
        return _ops.permute(self, dims(axes))

    @property
    def mT(self) -> Tensor:  # noqa: N802 (PyTorch's name)
        """The last two axes swapped (a batch of matrices transposed), as ``torch.Tensor.mT``.

        Raises:
            RuntimeError: fewer than 2 dimensions."""
        if self.ndim < 2:
            raise RuntimeError(f"tensor.mT is only supported on matrices or batches of matrices. Got {self.ndim}-D "
                               f"tensor.")
        return _shapes.transpose(self, -2, -1)

    def square(self) -> Tensor:
        """``self * self`` (see ``elementwise.square``)."""
        return _elementwise.square(self)

    def norm(self, p: Any = "fro", dim: Any = None, keepdim: bool = False, dtype: Any = None) -> Tensor:
        """The vector p-norm over ``dim`` (see ``norms.norm``)."""
        return _norms.norm(self, p, dim, keepdim, dtype)

    def gather(self, dim: int, index: Tensor, *, sparse_grad: bool = False) -> Tensor:
        """Values of ``self`` picked along ``dim`` by ``index`` (see ``indexing.gather``)."""
        return _indexing.gather(self, dim, index, sparse_grad=sparse_grad)

    def nan_to_num(self, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None) -> Tensor:
        """NaN and infinities replaced by finite values (see ``pointwise.nan_to_num``)."""
        return _pointwise.nan_to_num(self, nan, posinf, neginf)

    def mm(self, mat2: Any) -> Tensor:
        """``self @ mat2`` of two matrices (see ``ops.mm``)."""
        return _ops.mm(self, mat2)

    def bmm(self, mat2: Any) -> Tensor:
        """``self @ mat2`` of two batches of matrices (see ``ops.bmm``)."""
        return _ops.bmm(self, mat2)

    def dot(self, other: Any) -> Tensor:
        """The inner product of two 1-D tensors (see ``ops.dot``)."""
        return _ops.dot(self, other)

    def uniform_(self, from_: float = 0.0, to: float = 1.0, *, generator: Any = None) -> Tensor:
        """Fill with uniform draws in ``[from_, to)`` in place (through ``_assign``, as ``fill_``), from
        ``generator`` (default: the default generator), as ``torch.Tensor.uniform_``; returns self.

        Raises:
            RuntimeError: an integer or bool tensor (as torch), or a leaf that requires grad outside ``no_grad``."""
        return self._assign(self._draw("uniform_", generator).uniform(float(from_), float(to), self.shape,
                                                                      self._data.dtype, self.backend))

    def normal_(self, mean: float = 0.0, std: float = 1.0, *, generator: Any = None) -> Tensor:
        """Fill with normal draws of ``mean`` and ``std`` in place (through ``_assign``, as ``fill_``), as
        ``torch.Tensor.normal_``; returns self.

        Raises:
            RuntimeError: an integer or bool tensor (as torch), or a leaf that requires grad outside ``no_grad``."""
        return self._assign(self._draw("normal_", generator).normal(float(mean), float(std), self.shape,
                                                                    self._data.dtype, self.backend))

    def _draw(self, name: str, generator: Any) -> Any:
        if not self.dtype.is_floating_point:
            raise RuntimeError(f"{name} is not implemented for a {self.dtype} tensor (as torch); use a float one")
        from gradkit.backends.random import default_generator

        return default_generator if generator is None else generator

    @property
    def T(self) -> Tensor:  # noqa: N802 (numpy's and PyTorch's name)
        """All axes reversed (the transpose of a matrix)."""
        return _ops.permute(self)

    def squeeze(self, dim: Any = None, *, axis: Any = None) -> Tensor:
        """Without size-1 axes (all, or those of ``dim``), as ``torch.squeeze``."""
        return _shapes.squeeze(self, dim, axis=axis)

    def unsqueeze(self, dim: int) -> Tensor:
        """With a new size-1 axis at ``dim``, as ``torch.unsqueeze``."""
        return _shapes.unsqueeze(self, dim)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        """Axes ``start_dim..end_dim`` merged, as ``torch.flatten``."""
        return _shapes.flatten(self, start_dim, end_dim)

    def unbind(self, dim: int = 0) -> tuple[Tensor, ...]:
        """The slices along ``dim``, as ``torch.unbind``."""
        return _shapes.unbind(self, dim)

    def softmax(self, dim: int | None = None, *, axis: int | None = None) -> Tensor:
        """Softmax along ``dim`` (default the last; see ``functional.softmax``)."""
        return _functional.softmax(self, dim, axis=axis)

    def log_softmax(self, dim: int | None = None, *, axis: int | None = None) -> Tensor:
        """Log-softmax along ``dim`` (default the last; see ``functional.log_softmax``)."""
        return _functional.log_softmax(self, dim, axis=axis)

    def float(self) -> Tensor:
        """As float32 (recorded in the graph), as ``torch.Tensor.float``."""
        return self.astype("float32")

    def double(self) -> Tensor:
        """As float64 (recorded in the graph)."""
        return self.astype("float64")

    def long(self) -> Tensor:
        """As int64 (ends the graph)."""
        return self.astype("int64")

    def int(self) -> Tensor:
        """As int32 (ends the graph)."""
        return self.astype("int32")

    def bool(self) -> Tensor:
        """As bool (nonzero is True; ends the graph)."""
        if self._data.dtype == self.backend.xp.bool:
            return self
        return Tensor._wrap(self._data != 0, self.backend)

    # Issue 16's op surface: each method is the function of the same name (``gradkit.elementwise``, ``logical``,
    # ``scans``, ``sorting``, ``shapes``, ``select``, ``reductions``); each in-place ``_`` variant is the
    # out-of-place op followed by the one door, ``_assign``.
    def _assign_result(self, out: Tensor) -> Tensor:
        """``self._assign(out)`` for an in-place op's result ``out``, refusing (torch's errors) a shape that differs
        from ``self``'s (broadcast by the other operand) or a dtype ``self`` cannot hold (a float into an integer
        tensor)."""
        _inplace.check_result(self, out._data)
        return self._assign(out if out._data.dtype == self._data.dtype else out.astype(self._data.dtype),
                            result=True)

    def sin(self) -> Tensor:
        """See ``elementwise.sin``."""
        return _elementwise.sin(self)

    def sin_(self) -> Tensor:
        """``sin`` in place; returns self."""
        return self._assign_result(self.sin())

    def cos(self) -> Tensor:
        """See ``elementwise.cos``."""
        return _elementwise.cos(self)

    def cos_(self) -> Tensor:
        """``cos`` in place; returns self."""
        return self._assign_result(self.cos())

    def tan(self) -> Tensor:
        """See ``elementwise.tan``."""
        return _elementwise.tan(self)

    def tan_(self) -> Tensor:
        """``tan`` in place; returns self."""
        return self._assign_result(self.tan())

    def asin(self) -> Tensor:
        """See ``elementwise.asin``."""
        return _elementwise.asin(self)

    def asin_(self) -> Tensor:
        """``asin`` in place; returns self."""
        return self._assign_result(self.asin())

    def acos(self) -> Tensor:
        """See ``elementwise.acos``."""
        return _elementwise.acos(self)

    def acos_(self) -> Tensor:
        """``acos`` in place; returns self."""
        return self._assign_result(self.acos())

    def atan(self) -> Tensor:
        """See ``elementwise.atan``."""
        return _elementwise.atan(self)

    def atan_(self) -> Tensor:
        """``atan`` in place; returns self."""
        return self._assign_result(self.atan())

    def sinh(self) -> Tensor:
        """See ``elementwise.sinh``."""
        return _elementwise.sinh(self)

    def sinh_(self) -> Tensor:
        """``sinh`` in place; returns self."""
        return self._assign_result(self.sinh())

    def cosh(self) -> Tensor:
        """See ``elementwise.cosh``."""
        return _elementwise.cosh(self)

    def cosh_(self) -> Tensor:
        """``cosh`` in place; returns self."""
        return self._assign_result(self.cosh())

    def asinh(self) -> Tensor:
        """See ``elementwise.asinh``."""
        return _elementwise.asinh(self)

    def asinh_(self) -> Tensor:
        """``asinh`` in place; returns self."""
        return self._assign_result(self.asinh())

    def acosh(self) -> Tensor:
        """See ``elementwise.acosh``."""
        return _elementwise.acosh(self)

    def acosh_(self) -> Tensor:
        """``acosh`` in place; returns self."""
        return self._assign_result(self.acosh())

    def atanh(self) -> Tensor:
        """See ``elementwise.atanh``."""
        return _elementwise.atanh(self)

    def atanh_(self) -> Tensor:
        """``atanh`` in place; returns self."""
        return self._assign_result(self.atanh())

    arcsin, arccos, arctan, arcsinh, arccosh, arctanh = asin, acos, atan, asinh, acosh, atanh
    arcsin_, arccos_, arctan_, arcsinh_, arccosh_, arctanh_ = asin_, acos_, atan_, asinh_, acosh_, atanh_

    def atan2(self, other: Tensor) -> Tensor:
        """See ``elementwise.atan2``."""
        return _elementwise.atan2(self, other)

    def atan2_(self, other: Tensor) -> Tensor:
        """``atan2`` in place; returns self."""
        return self._assign_result(self.atan2(other))

    arctan2, arctan2_ = atan2, atan2_

    def rsqrt(self) -> Tensor:
        """See ``elementwise.rsqrt``."""
        return _elementwise.rsqrt(self)

    def rsqrt_(self) -> Tensor:
        """``rsqrt`` in place; returns self."""
        return self._assign_result(self.rsqrt())

    def log2(self) -> Tensor:
        """See ``elementwise.log2``."""
        return _elementwise.log2(self)

    def log2_(self) -> Tensor:
        """``log2`` in place; returns self."""
        return self._assign_result(self.log2())

    def log10_(self) -> Tensor:
        """``log10`` in place; returns self."""
        return self._assign_result(self.log10())

    def log1p(self) -> Tensor:
        """See ``elementwise.log1p``."""
        return _elementwise.log1p(self)

    def log1p_(self) -> Tensor:
        """``log1p`` in place; returns self."""
        return self._assign_result(self.log1p())

    def exp2(self) -> Tensor:
        """See ``elementwise.exp2``."""
        return _elementwise.exp2(self)

    def exp2_(self) -> Tensor:
        """``exp2`` in place; returns self."""
        return self._assign_result(self.exp2())

    def expm1(self) -> Tensor:
        """See ``elementwise.expm1``."""
        return _elementwise.expm1(self)

    def expm1_(self) -> Tensor:
        """``expm1`` in place; returns self."""
        return self._assign_result(self.expm1())

    def erf(self) -> Tensor:
        """See ``elementwise.erf``."""
        return _elementwise.erf(self)

    def erf_(self) -> Tensor:
        """``erf`` in place; returns self."""
        return self._assign_result(self.erf())

    def floor(self) -> Tensor:
        """See ``elementwise.floor``."""
        return _elementwise.floor(self)

    def floor_(self) -> Tensor:
        """``floor`` in place; returns self."""
        return self._assign_result(self.floor())

    def ceil(self) -> Tensor:
        """See ``elementwise.ceil``."""
        return _elementwise.ceil(self)

    def ceil_(self) -> Tensor:
        """``ceil`` in place; returns self."""
        return self._assign_result(self.ceil())

    def trunc(self) -> Tensor:
        """See ``elementwise.trunc``."""
        return _elementwise.trunc(self)

    def trunc_(self) -> Tensor:
        """``trunc`` in place; returns self."""
        return self._assign_result(self.trunc())

    fix, fix_ = trunc, trunc_

    def round(self, *, decimals: builtins.int = 0) -> Tensor:
        """See ``elementwise.round`` (half to even)."""
        return _elementwise.round(self, decimals=decimals)

    def round_(self, *, decimals: builtins.int = 0) -> Tensor:
        """``round`` in place; returns self."""
        return self._assign_result(self.round(decimals=decimals))

    def frac(self) -> Tensor:
        """See ``elementwise.frac``."""
        return _elementwise.frac(self)

    def frac_(self) -> Tensor:
        """``frac`` in place; returns self."""
        return self._assign_result(self.frac())

    def sign(self) -> Tensor:
        """See ``elementwise.sign``."""
        return _elementwise.sign(self)

    def sign_(self) -> Tensor:
        """``sign`` in place; returns self."""
        return self._assign_result(self.sign())

    def abs_(self) -> Tensor:
        """``abs`` in place; returns self."""
        return self._assign_result(self.abs())

    # The in-place forms of ``ops``' and ``pointwise``' elementwise functions, through the door as the others.
    # torch's errors come from ``_assign_result``: a float result into an integer or bool tensor ("result type
    # Float can't be cast to the desired output type Long"), a broadcast shape larger than ``self``'s.
    def exp_(self) -> Tensor:
        """``exp`` in place; returns self. Raises RuntimeError for an integer or bool tensor (as torch)."""
        return self._assign_result(self.exp())

    def log_(self) -> Tensor:
        """``log`` in place; returns self. Raises RuntimeError for an integer or bool tensor (as torch)."""
        return self._assign_result(self.log())

    def tanh_(self) -> Tensor:
        """``tanh`` in place; returns self. Raises RuntimeError for an integer or bool tensor (as torch)."""
        return self._assign_result(self.tanh())

    def sigmoid_(self) -> Tensor:
        """``sigmoid`` in place; returns self. Raises RuntimeError for an integer or bool tensor (as torch)."""
        return self._assign_result(self.sigmoid())

    def sqrt_(self) -> Tensor:
        """``sqrt`` in place; returns self. Raises RuntimeError for an integer or bool tensor (as torch)."""
        return self._assign_result(self.sqrt())

    def relu_(self) -> Tensor:
        """``relu`` in place (any real dtype, as torch); returns self."""
        return self._assign_result(self.relu())

    def pow_(self, exponent: Any) -> Tensor:
        """``self ** exponent`` in place (a number or a tensor that broadcasts to ``self``'s shape); returns self.

        Raises:
            RuntimeError: a result ``self``'s dtype cannot hold (an integer tensor to a float power), or an
                ``exponent`` whose shape broadcasts ``self`` to a larger one (torch's errors)."""
        return self._assign_result(self.pow(exponent))

    def neg(self) -> Tensor:
        """``-self`` (see ``ops.neg``), as ``torch.Tensor.neg``; the same dtype."""
        return _ops.neg(self)

    def neg_(self) -> Tensor:
        """``-self`` in place; returns self."""
        return self._assign_result(self.neg())

    negative, negative_ = neg, neg_

    def reciprocal(self) -> Tensor:
        """``1 / self``, as ``torch.reciprocal``: integers and bools give the default float dtype, ``1 / 0`` is
        inf; d/dx = -1 / x**2."""
        return _ops.rdiv(self, 1)

    def reciprocal_(self) -> Tensor:
        """``reciprocal`` in place; returns self. Raises RuntimeError for an integer or bool tensor (as torch)."""
        return self._assign_result(self.reciprocal())

    def square_(self) -> Tensor:
        """``square`` in place (as torch's, ``pow_(2)``: ``self`` is read once); returns self. Raises RuntimeError
        for a bool tensor (its square is int64)."""
        return self._assign_result(self.square() if self.dtype == _dtypes.bool else self.pow(2))

    def clamp_(self, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
        """``clamp`` in place; returns self."""
        return self._assign_result(self.clamp(min, max))

    def clamp_min_(self, min: Any) -> Tensor:  # noqa: A002
        """``clamp_min`` in place; returns self."""
        return self._assign_result(self.clamp_min(min))

    def clamp_max_(self, max: Any) -> Tensor:  # noqa: A002
        """``clamp_max`` in place; returns self."""
        return self._assign_result(self.clamp_max(max))

    clip, clip_ = clamp, clamp_

    def lerp(self, end: Tensor, weight: Any) -> Tensor:
        """See ``elementwise.lerp``."""
        return _elementwise.lerp(self, end, weight)

    def lerp_(self, end: Tensor, weight: Any) -> Tensor:
        """``lerp`` in place; returns self."""
        return self._assign_result(self.lerp(end, weight))

    def addcmul(self, tensor1: Any, tensor2: Any, *, value: Any = 1) -> Tensor:
        """``self + value * tensor1 * tensor2`` (see ``elementwise.addcmul``)."""
        return _elementwise.addcmul(self, tensor1, tensor2, value=value)

    def addcmul_(self, tensor1: Any, tensor2: Any, *, value: Any = 1) -> Tensor:
        """``addcmul`` in place; returns self. Raises RuntimeError where the result's dtype or broadcast shape
        does not fit ``self`` (torch's errors)."""
        return self._assign_result(self.addcmul(tensor1, tensor2, value=value))

    def addcdiv(self, tensor1: Any, tensor2: Any, *, value: Any = 1) -> Tensor:
        """``self + value * tensor1 / tensor2`` (see ``elementwise.addcdiv``)."""
        return _elementwise.addcdiv(self, tensor1, tensor2, value=value)

    def addcdiv_(self, tensor1: Any, tensor2: Any, *, value: Any = 1) -> Tensor:
        """``addcdiv`` in place; returns self. Raises RuntimeError for integer ``tensor1`` and ``tensor2``, and
        where the result's dtype or broadcast shape does not fit ``self`` (torch's errors)."""
        return self._assign_result(self.addcdiv(tensor1, tensor2, value=value))

    def floor_divide(self, other: Any) -> Tensor:
        """``self // other`` (see ``elementwise.floor_divide``)."""
        return _elementwise.floor_divide(self, other)

    def floor_divide_(self, other: Any) -> Tensor:
        """``floor_divide`` in place; returns self."""
        return self._assign_result(self.floor_divide(other))

    def remainder(self, other: Any) -> Tensor:
        """``self % other`` (see ``elementwise.remainder``)."""
        return _elementwise.remainder(self, other)

    def remainder_(self, other: Any) -> Tensor:
        """``remainder`` in place; returns self."""
        return self._assign_result(self.remainder(other))

    def __floordiv__(self, other: Any) -> Tensor:
        return _elementwise.floor_divide(self, other)

    def __rfloordiv__(self, other: Any) -> Tensor:
        return _elementwise.floor_divide(self, other, _reflected=True)

    def __ifloordiv__(self, other: Any) -> Tensor:
        return self.floor_divide_(other)

    def __mod__(self, other: Any) -> Tensor:
        return _elementwise.remainder(self, other)

    def __rmod__(self, other: Any) -> Tensor:
        return _elementwise.remainder(self, other, _reflected=True)

    def __imod__(self, other: Any) -> Tensor:
        return self.remainder_(other)

    def eq(self, other: Any) -> Tensor:
        """``self == other`` as a bool tensor (see ``logical.eq``)."""
        return _logical.eq(self, other)

    def ne(self, other: Any) -> Tensor:
        """``self != other`` as a bool tensor."""
        return _logical.ne(self, other)

    def lt(self, other: Any) -> Tensor:
        """``self < other`` as a bool tensor."""
        return _logical.lt(self, other)

    def le(self, other: Any) -> Tensor:
        """``self <= other`` as a bool tensor."""
        return _logical.le(self, other)

    def gt(self, other: Any) -> Tensor:
        """``self > other`` as a bool tensor."""
        return _logical.gt(self, other)

    def ge(self, other: Any) -> Tensor:
        """``self >= other`` as a bool tensor."""
        return _logical.ge(self, other)

    not_equal, less, less_equal, greater, greater_equal = ne, lt, le, gt, ge

    def logical_and(self, other: Tensor) -> Tensor:
        """See ``logical.logical_and``."""
        return _logical.logical_and(self, other)

    def logical_and_(self, other: Tensor) -> Tensor:
        """``logical_and`` in place (nonzero as True, in this tensor's dtype); returns self."""
        return self._assign_result(self.logical_and(other))

    def logical_or(self, other: Tensor) -> Tensor:
        """See ``logical.logical_or``."""
        return _logical.logical_or(self, other)

    def logical_or_(self, other: Tensor) -> Tensor:
        """``logical_or`` in place; returns self."""
        return self._assign_result(self.logical_or(other))

    def logical_xor(self, other: Tensor) -> Tensor:
        """See ``logical.logical_xor``."""
        return _logical.logical_xor(self, other)

    def logical_xor_(self, other: Tensor) -> Tensor:
        """``logical_xor`` in place; returns self."""
        return self._assign_result(self.logical_xor(other))

    def logical_not(self) -> Tensor:
        """See ``logical.logical_not``."""
        return _logical.logical_not(self)

    def logical_not_(self) -> Tensor:
        """``logical_not`` in place; returns self."""
        return self._assign_result(self.logical_not())

    def bitwise_and(self, other: Any) -> Tensor:
        """``self & other`` (see ``logical.bitwise_and``)."""
        return _logical.bitwise_and(self, other)

    def bitwise_and_(self, other: Any) -> Tensor:
        """``self &= other``; returns self."""
        return self._assign_result(self.bitwise_and(other))

    def bitwise_or(self, other: Any) -> Tensor:
        """``self | other`` (see ``logical.bitwise_or``)."""
        return _logical.bitwise_or(self, other)

    def bitwise_or_(self, other: Any) -> Tensor:
        """``self |= other``; returns self."""
        return self._assign_result(self.bitwise_or(other))

    def bitwise_xor(self, other: Any) -> Tensor:
        """``self ^ other`` (see ``logical.bitwise_xor``)."""
        return _logical.bitwise_xor(self, other)

    def bitwise_xor_(self, other: Any) -> Tensor:
        """``self ^= other``; returns self."""
        return self._assign_result(self.bitwise_xor(other))

    def bitwise_not(self) -> Tensor:
        """``~self`` (see ``logical.bitwise_not``)."""
        return _logical.bitwise_not(self)

    def bitwise_not_(self) -> Tensor:
        """``~self`` in place; returns self."""
        return self._assign_result(self.bitwise_not())

    __and__ = __rand__ = bitwise_and
    __or__ = __ror__ = bitwise_or
    __xor__ = __rxor__ = bitwise_xor
    __iand__, __ior__, __ixor__, __invert__ = bitwise_and_, bitwise_or_, bitwise_xor_, bitwise_not

    def isnan(self) -> Tensor:
        """See ``logical.isnan``."""
        return _logical.isnan(self)

    def isinf(self) -> Tensor:
        """See ``logical.isinf``."""
        return _logical.isinf(self)

    def isfinite(self) -> Tensor:
        """See ``logical.isfinite``."""
        return _logical.isfinite(self)

    def cumsum(self, dim: builtins.int, *, dtype: Any = None) -> Tensor:
        """See ``scans.cumsum``."""
        return _scans.cumsum(self, dim, dtype=dtype)

    def cumsum_(self, dim: builtins.int, *, dtype: Any = None) -> Tensor:
        """``cumsum`` in place; returns self."""
        return self._assign_result(self.cumsum(dim, dtype=dtype))

    def cumprod(self, dim: builtins.int, *, dtype: Any = None) -> Tensor:
        """See ``scans.cumprod``."""
        return _scans.cumprod(self, dim, dtype=dtype)

    def cumprod_(self, dim: builtins.int, *, dtype: Any = None) -> Tensor:
        """``cumprod`` in place; returns self."""
        return self._assign_result(self.cumprod(dim, dtype=dtype))

    def cummax(self, dim: builtins.int) -> Any:
        """See ``scans.cummax``."""
        return _scans.cummax(self, dim)

    def cummin(self, dim: builtins.int) -> Any:
        """See ``scans.cummin``."""
        return _scans.cummin(self, dim)

    def logcumsumexp(self, dim: builtins.int) -> Tensor:
        """See ``scans.logcumsumexp``."""
        return _scans.logcumsumexp(self, dim)

    def sort(self, dim: builtins.int = -1, descending: builtins.bool = False, *, stable: builtins.bool = False
             ) -> Any:
        """See ``sorting.sort``."""
        return _sorting.sort(self, dim, descending, stable=stable)

    def argsort(self, dim: builtins.int = -1, descending: builtins.bool = False, *, stable: builtins.bool = False
                ) -> Tensor:
        """See ``sorting.argsort``."""
        return _sorting.argsort(self, dim, descending, stable=stable)

    def msort(self) -> Tensor:
        """See ``sorting.msort``."""
        return _sorting.msort(self)

    def prod(self, dim: builtins.int | None = None, keepdim: builtins.bool = False, *, dtype: Any = None) -> Tensor:
        """See ``reductions.prod``."""
        return _reductions.prod(self, dim, keepdim, dtype=dtype)

    def logsumexp(self, dim: Any, keepdim: builtins.bool = False) -> Tensor:
        """See ``reductions.logsumexp``."""
        return _reductions.logsumexp(self, dim, keepdim)

    def repeat(self, *sizes: Any) -> Tensor:
        """See ``shapes.repeat``."""
        return _shapes.repeat(self, *sizes)

    def repeat_interleave(self, repeats: Any = None, dim: builtins.int | None = None, *,
                          output_size: builtins.int | None = None) -> Tensor:
        """See ``shapes.repeat_interleave``."""
        return _shapes.repeat_interleave(self, repeats, dim, output_size=output_size)

    def flip(self, *dims: Any) -> Tensor:
        """See ``shapes.flip``."""
        return _shapes.flip(self, *dims)

    def diagonal(self, offset: builtins.int = 0, dim1: builtins.int = 0, dim2: builtins.int = 1) -> Tensor:
        """See ``shapes.diagonal`` (a view)."""
        return _shapes.diagonal(self, offset, dim1, dim2)

    def diag(self, diagonal: builtins.int = 0) -> Tensor:
        """See ``shapes.diag``."""
        return _shapes.diag(self, diagonal)

    def unflatten(self, dim: builtins.int, sizes: Sequence[builtins.int]) -> Tensor:
        """See ``shapes.unflatten`` (a view)."""
        return _shapes.unflatten(self, dim, sizes)

    def view(self, *shape: Any) -> Tensor:
        """``reshape(*shape)``, or with one dtype the same bytes read as that dtype (``shapes.view_dtype``), as
        ``torch.Tensor.view``."""
        if len(shape) == 1 and not isinstance(shape[0], (builtins.int, tuple, list)):
            return _shapes.view_dtype(self, shape[0])
        return self.reshape(*shape)

    def masked_select(self, mask: Tensor) -> Tensor:
        """See ``select.masked_select``."""
        return _select.masked_select(self, mask)

    def masked_fill_(self, mask: Tensor, value: Any) -> Tensor:
        """``masked_fill`` in place; returns self."""
        return self._assign_result(self.masked_fill(mask, value))

    def nonzero(self, *, as_tuple: builtins.bool = False) -> Any:
        """See ``select.nonzero``."""
        return _select.nonzero(self, as_tuple=as_tuple)

    def argwhere(self) -> Tensor:
        """See ``select.argwhere``."""
        return _select.argwhere(self)

    def where(self, condition: Tensor, other: Any) -> Tensor:
        """``gradkit.where(condition, self, other)``, as ``torch.Tensor.where``."""
        return _pointwise.where(condition, self, other)


def _is_float(backend: Backend, array: Any) -> bool:
    return bool(backend.xp.isdtype(array.dtype, "real floating"))


def _operand_data(ref: Tensor, other: Any) -> Any:
    """``other`` as something ``ref``'s backend can combine with ``ref._data``: a Python number or an array
    of that backend, cast to ``ref``'s float dtype. Raises DeviceMismatchError for another backend's data."""
    if isinstance(other, Tensor):
        if other.backend is not ref.backend and other.backend != ref.backend:
            raise DeviceMismatchError(
                f"operands on two backends: {ref.backend!r} and {other.backend!r}; move one with "
                f".to({ref.backend.name!r}) or .to({other.backend.name!r})"
            )
        return other._data
    if isinstance(other, Scalar) and not isinstance(other, np.complexfloating):
        return other.item() if isinstance(other, np.generic) else other
    if ref.backend.owns(other) and getattr(other.dtype, "kind", "f") in "biuf":
        return other
    host = isinstance(other, (np.ndarray, np.generic))
    if (host and other.dtype.kind not in "biuf") or (not host and not hasattr(other, "__array_namespace__")):
        what = f"{type(other).__name__} of {other.dtype}" if host else type(other).__name__
        raise TypeError(f"unsupported operand: a tensor and a {what}; use a real number or a Tensor")
    raise DeviceMismatchError(
        f"cannot combine a tensor on {ref.backend!r} with a {type(other).__name__}; wrap it first: "
        f"Tensor(value, backend={ref.backend.name!r})"
    )


autograd._TENSOR.append(Tensor)


def _unpickle(cls: type[Tensor], backend: Backend, host: Any, requires_grad: bool, grad: Tensor | None) -> Tensor:
    """A leaf of class ``cls`` holding ``host`` (a host array, or one ``backend`` owns) on ``backend``: a pickled
    tensor back (``Tensor.__reduce_ex__``), or a deep copy."""
    out = cls.__new__(cls)
    out._init(backend.asarray(host), backend, requires_grad)
    out.grad = grad
    return out


from . import _inplace  # noqa: E402 (they import this module)
from . import elementwise as _elementwise  # noqa: E402
from . import functional as _functional  # noqa: E402
from . import indexing as _indexing  # noqa: E402
from . import logical as _logical  # noqa: E402
from . import norms as _norms  # noqa: E402
from . import ops as _ops  # noqa: E402
from . import pieces as _pieces  # noqa: E402
from . import pointwise as _pointwise  # noqa: E402
from . import reductions as _reductions  # noqa: E402
from . import scans as _scans  # noqa: E402
from . import select as _select  # noqa: E402
from . import shapes as _shapes  # noqa: E402
from . import sorting as _sorting  # noqa: E402
