"""``gradkit.device`` (PyTorch's ``torch.device``): device objects naming a backend the way torch names devices.

``Tensor.device`` is one, and every ``device=`` argument takes one, a device string or a backend name.
"""

from __future__ import annotations

from typing import Any

from gradkit import backends
from gradkit.backends import Backend

__all__ = ["device"]


class device(str):  # noqa: N801 (torch's name)
    """A device, as ``torch.device``: ``device("cpu")``, ``device("cuda")``, ``device("cuda:0")``,
    ``device("cuda", 0)``, or a gradkit backend name (``device("strict")``).

    Attributes: ``type`` (``"cpu"``, ``"cuda"``, or a backend's name such as ``"strict"``) and ``index`` (0 for
    CUDA, None otherwise). ``str(d)`` is torch's spelling (``"cuda:0"``), and a device is accepted wherever a
    device string is. A deliberate difference from torch: a device IS a ``str`` (so ``d == "cpu"`` holds), where
    torch's is its own type. gradkit's CUDA backend is device 0 only.

    Raises:
        UnknownBackendError: an unknown device type, or a CUDA device other than 0 (``resolve_name``'s message).
    """

    def __new__(cls, type: Any, index: int | None = None) -> device:  # noqa: A002 (torch's argument name)
        if isinstance(type, device) and index is None:
            return type
        text = str(type).strip().lower()
        if index is not None:
            text = f"{text}:{int(index)}"
        name = backends.resolve_name(text)  # validates the type and the index
        kind = text.partition(":")[0]
        kind = kind if kind in ("cpu", "cuda") else backends.device_type(name)
        return super().__new__(cls, "cuda:0" if kind == "cuda" else kind)

    @property
    def type(self) -> str:
        """``"cpu"``, ``"cuda"``, or the backend's name for a backend torch does not have (``"strict"``)."""
        return str.__str__(self).partition(":")[0]

    @property
    def index(self) -> int | None:  # type: ignore[override]  # torch's attribute; it hides str.index
        """0 for CUDA (gradkit's one CUDA device), None otherwise (as torch's ``device("cpu").index``)."""
        return 0 if self.type == "cuda" else None

    def __repr__(self) -> str:
        index = "" if self.index is None else f", index={self.index}"
        return f"device(type={self.type!r}{index})"


def of(backend: Backend) -> device:
    """The device of ``backend`` (``Tensor.device``): ``cpu`` for numpy, ``cuda:0`` for CuPy, else the backend's
    name (``strict``), following ``gradkit run --backend`` where it remapped a device type."""
    return device(backends.device_type(backend.name))


def to_args(where: str, args: tuple, device: Any, dtype: Any) -> tuple[Any, Any]:
    """``to(...)``'s arguments as torch reads them (``Tensor.to`` and ``Module.to``): ``(device)``, ``(dtype)``,
    ``(device, dtype)`` or ``(tensor)`` (its device and dtype), besides ``device=``/``dtype=``. Returns
    ``(device or None, dtype or None)``.

    Raises:
        TypeError: more than two positional arguments, or the device or dtype given twice."""
    from .dtypes import DType

    if len(args) > 2:
        raise TypeError(f"{where}() takes a device and/or a dtype, or a tensor; got {len(args)} positional arguments")
    found_device, found_dtype = None, None
    if len(args) == 2:
        found_device, found_dtype = args
    elif args and hasattr(args[0], "backend") and hasattr(args[0], "_data"):  # a Tensor: its device and dtype
        found_device, found_dtype = args[0].backend, args[0].dtype
    elif args and isinstance(args[0], DType):
        found_dtype = args[0]
    elif args:
        found_device = args[0]
    if found_device is not None and device is not None:
        raise TypeError(f"{where}() got both backend= and device= (or a device twice): they are one argument; "
                        "pass one")
    if found_dtype is not None and dtype is not None:
        raise TypeError(f"{where}() got the dtype twice; pass one")
    return (device if found_device is None else found_device), (dtype if found_dtype is None else found_dtype)
