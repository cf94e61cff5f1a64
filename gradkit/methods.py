"""Operators and methods of ``Tensor``, bound to the functions of ``ops`` and ``functional``."""

from __future__ import annotations

from typing import Any

from . import functional, ops
from .tensor import Tensor


def _attach() -> None:
    binary = {"add": ops.add, "sub": ops.sub, "mul": ops.mul, "truediv": ops.div, "pow": ops.pow,
              "matmul": ops.matmul}
    for name, fn in binary.items():
        setattr(Tensor, f"__{name}__", fn)
    Tensor.__radd__ = ops.add  # type: ignore[method-assign]
    Tensor.__rmul__ = ops.mul  # type: ignore[method-assign]
    Tensor.__rsub__ = ops.rsub  # type: ignore[attr-defined]
    Tensor.__rtruediv__ = ops.rdiv  # type: ignore[attr-defined]
    Tensor.__rpow__ = ops.rpow  # type: ignore[attr-defined]
    Tensor.__rmatmul__ = lambda a, b: ops.matmul(ops._as_tensor(a, b), a)  # type: ignore[attr-defined]
    Tensor.__neg__ = ops.neg  # type: ignore[attr-defined]
    Tensor.__abs__ = ops.abs  # type: ignore[attr-defined]
    Tensor.__getitem__ = ops.getitem  # type: ignore[attr-defined]
    for name in ("exp", "log", "tanh", "sigmoid", "relu", "abs", "sum", "mean", "max", "argmax", "reshape",
                 "transpose", "matmul"):
        setattr(Tensor, name, getattr(ops, name))
    Tensor.view = ops.reshape  # type: ignore[attr-defined]
    Tensor.pow = ops.pow  # type: ignore[attr-defined]
    Tensor.T = property(lambda self: ops.transpose(self))  # type: ignore[attr-defined]
    Tensor.softmax = functional.softmax  # type: ignore[attr-defined]
    Tensor.log_softmax = functional.log_softmax  # type: ignore[attr-defined]
    Tensor.permute = lambda self, *axes: ops.transpose(  # type: ignore[attr-defined]
        self, axes[0] if len(axes) == 1 and not isinstance(axes[0], int) else axes)


def _compare(op: str) -> Any:
    def compare(self: Tensor, other: Any) -> Tensor:
        from .tensor import _operand_data

        return Tensor._wrap(getattr(self.data, op)(_operand_data(self, other)), self.backend)

    compare.__doc__ = f"Elementwise ``{op}`` as a bool tensor (not differentiable)."
    return compare


_attach()
for _op in ("__lt__", "__le__", "__gt__", "__ge__"):
    setattr(Tensor, _op, _compare(_op))
