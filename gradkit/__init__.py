"""gradkit: micrograd's ``Value`` and a vectorised ``Tensor``, written once against ``backends`` (numpy, CuPy,
array_api_strict), with nn modules, optimizers, the makemore models and a ``gradkit`` command line.

The names a PyTorch user reaches for live here with PyTorch's signatures (``gradkit.zeros``, ``gradkit.sum``,
``gradkit.float32``, ``gradkit.Generator``, ...); ``gradkit.functional`` is ``torch.nn.functional``'s part.
"""

from backends import BackendUnavailableError, DeviceMismatchError, UnknownBackendError, get_backend

from . import functional, nn
from .autograd import is_grad_enabled, no_grad
from .creation import arange, ones, rand, randn, tensor, zeros
from .dtypes import DType, bool, double, float32, float64, int32, int64, long  # noqa: A004
from .functional import cross_entropy, linear, log_softmax, one_hot, softmax
from .ops import abs, concat, exp, log, matmul, pow, relu, reshape, sigmoid, tanh  # noqa: A004  # noqa: A004
from .pointwise import clamp, clamp_max, clamp_min, masked_fill, maximum, minimum, sqrt, tril, triu, where
from .reductions import all, amax, amin, any, argmax, argmin, max, mean, min, std, sum, topk, var  # noqa: A004
from .shapes import cat, flatten, permute, squeeze, stack, transpose, unbind, unsqueeze
from .tensor import Size, Tensor
from .value import Value

__version__ = "0.1.0"

__all__ = [
    "BackendUnavailableError", "DType", "DeviceMismatchError", "Size", "Tensor", "UnknownBackendError", "Value",
    "abs", "all", "amax", "amin", "any", "arange", "argmax", "argmin", "bool", "cat", "clamp", "clamp_max",
    "clamp_min", "concat", "cross_entropy", "double", "exp", "flatten", "float32", "float64", "functional",
    "get_backend", "nn", "int32", "int64", "is_grad_enabled", "linear", "log", "log_softmax", "long", "masked_fill",
    "matmul", "max", "maximum", "mean", "min", "minimum", "no_grad", "one_hot", "ones", "permute", "pow", "rand",
    "randn", "relu", "reshape", "sigmoid", "softmax", "sqrt", "squeeze", "stack", "std", "sum", "tanh", "tensor",
    "topk", "transpose", "tril", "triu", "unbind", "unsqueeze", "var", "where", "zeros",
]
