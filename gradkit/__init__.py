"""gradkit: micrograd's ``Value`` and a vectorised ``Tensor``, written once against ``backends`` (numpy, CuPy,
array_api_strict), with nn modules, optimizers, the makemore models and a ``gradkit`` command line.

The names a PyTorch user reaches for live here with PyTorch's signatures (``gradkit.zeros``, ``gradkit.sum``,
``gradkit.float32``, ``gradkit.Generator``, ...); ``gradkit.functional`` is ``torch.nn.functional``'s part. The
module layout is torch's (``gradkit.nn``, ``.nn.functional``, ``.nn.init``, ``.nn.utils``, ``.optim``,
``.utils.data``, ``.cuda``, ``.amp``, ``.distributed``, ``.backends``), so ``gradkit run SCRIPT`` runs a PyTorch
script with ``torch`` mapped to gradkit (``gradkit.torch_alias``).
"""

import backends  # torch.backends: gradkit.backends is the backend layer (its flags: backends.cuda, backends.cudnn)
from backends import BackendUnavailableError, DeviceMismatchError, Generator, UnknownBackendError, get_backend
from backends.random import default_generator, manual_seed

from . import amp, cuda, distributed, functional, nn, utils
from .amp import autocast, bfloat16, float16
from .autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .compile import GradkitCompileWarning, compile  # noqa: A004 (torch.compile's name; the module stays importable)
from .creation import (
                       arange,
                       empty,
                       from_numpy,
                       full,
                       full_like,
                       linspace,
                       multinomial,
                       ones,
                       ones_like,
                       rand,
                       randint,
                       randn,
                       randperm,
                       tensor,
                       zeros,
                       zeros_like,
)
from .devices import device
from .dtypes import DType, bool, double, float32, float64, int32, int64, long  # noqa: A004
from .functional import cross_entropy, linear, log_softmax, one_hot, softmax
from .indexing import index_put
from .inference import inference_mode, is_inference_mode_enabled
from .ops import abs, exp, log, matmul, pow, relu, reshape, sigmoid, tanh  # noqa: A004
from .pieces import chunk, roll, split
from .pointwise import clamp, clamp_max, clamp_min, log10, masked_fill, maximum, minimum, sqrt, tril, triu, where
from .reductions import all, allclose, amax, amin, any, argmax, argmin, histogram, max, mean, min, std, sum, topk, var  # noqa: A004
from .shapes import cat, concat, flatten, permute, squeeze, stack, transpose, unbind, unsqueeze
from .tensor import Size, Tensor
from .value import Value

__version__ = "0.1.0"

__all__ = [
    "amp", "autocast", "backends", "bfloat16", "chunk", "cuda", "device", "distributed", "float16", "from_numpy",
    "inference_mode", "is_inference_mode_enabled", "roll", "split", "utils",
    "BackendUnavailableError", "DType", "DeviceMismatchError", "Generator", "GradkitCompileWarning", "Size",
    "Tensor", "UnknownBackendError", "Value", "abs", "all", "allclose", "amax", "amin", "any", "arange", "argmax",
    "argmin", "bool", "cat", "clamp", "clamp_max", "clamp_min", "compile", "concat", "cross_entropy",
    "default_generator", "double", "empty", "enable_grad", "exp", "flatten",
    "float32", "float64", "full", "full_like", "functional", "get_backend", "histogram", "index_put", "int32",
    "int64", "is_grad_enabled", "linear", "linspace", "log", "log10", "log_softmax", "long", "manual_seed",
    "masked_fill", "matmul", "max", "maximum", "mean", "min", "minimum", "multinomial", "nn", "no_grad", "one_hot",
    "ones", "ones_like", "permute", "pow", "rand", "randint", "randn", "randperm", "relu", "reshape",
    "set_grad_enabled", "sigmoid", "softmax", "sqrt", "squeeze", "stack", "std", "sum", "tanh", "tensor", "topk",
    "transpose", "tril", "triu", "unbind", "unsqueeze", "var", "where", "zeros", "zeros_like",
]
