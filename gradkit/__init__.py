"""gradkit: micrograd's ``Value`` and a vectorised ``Tensor``, written once against ``backends`` (numpy, CuPy,
array_api_strict), with nn modules, optimizers, the makemore models and a ``gradkit`` command line."""

from backends import BackendUnavailableError, DeviceMismatchError, UnknownBackendError, get_backend

from .autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .creation import arange, ones, rand, randn, tensor, zeros
from .functional import cross_entropy, linear, log_softmax, softmax
from .ops import concat, stack
from .tensor import Tensor
from .value import Value

__version__ = "0.1.0"

__all__ = [
    "BackendUnavailableError", "DeviceMismatchError", "Tensor", "UnknownBackendError", "arange", "concat",
    "cross_entropy", "enable_grad", "get_backend", "is_grad_enabled", "linear", "log_softmax", "no_grad", "ones",
    "rand", "randn", "set_grad_enabled", "softmax", "stack", "tensor", "zeros", "Value",
]
