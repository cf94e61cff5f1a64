"""gradkit: micrograd's ``Value`` and a vectorised ``Tensor``, written once against ``backends`` (numpy, CuPy,
array_api_strict), with nn modules, optimizers, the makemore models and a ``gradkit`` command line.

The names a PyTorch user reaches for live here with PyTorch's signatures (``gradkit.zeros``, ``gradkit.sum``,
``gradkit.float32``, ``gradkit.Generator``, ...); ``gradkit.functional`` is ``torch.nn.functional``'s part. The
module layout is torch's (``gradkit.nn``, ``.nn.functional``, ``.nn.init``, ``.nn.utils``, ``.optim``,
``.utils.data``, ``.cuda``, ``.amp``, ``.distributed``, ``.backends``), so ``gradkit run SCRIPT`` runs a PyTorch
script with ``torch`` mapped to gradkit (``gradkit.torch_alias``).
"""

from gradkit import (
                       _checkout,  # noqa: F401 (first: in a checkout, gradkit.backends is the backends/ folder)
                       backends,  # torch.backends: the backend layer (its flags: backends.cuda, backends.cudnn)
)
from gradkit.backends import BackendUnavailableError, DeviceMismatchError, Generator, UnknownBackendError, get_backend
from gradkit.backends.flags import get_float32_matmul_precision, set_float32_matmul_precision
from gradkit.backends.random import default_generator, manual_seed

from . import amp, cuda, distributed, functional, nn, optim, utils
from .amp import autocast, bfloat16, float16
from .autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .compile import GradkitCompileWarning, compile  # noqa: A004 (torch.compile's name; the module stays importable)
from .creation import (
                       arange,
                       empty,
                       empty_like,
                       eye,
                       from_numpy,
                       full,
                       full_like,
                       linspace,
                       multinomial,
                       ones,
                       ones_like,
                       rand,
                       rand_like,
                       randint,
                       randint_like,
                       randn,
                       randn_like,
                       randperm,
                       tensor,
                       tril_indices,
                       triu_indices,
                       zeros,
                       zeros_like,
)
from .devices import device
from .dtypes import DType, bool, double, float32, float64, get_default_dtype, int32, int64, long  # noqa: A004
from .einsum import einsum
from .elementwise import (
                       acos,
                       acosh,
                       addcdiv,
                       addcmul,
                       arccos,
                       arccosh,
                       arcsin,
                       arcsinh,
                       arctan,
                       arctan2,
                       arctanh,
                       asin,
                       asinh,
                       atan,
                       atan2,
                       atanh,
                       ceil,
                       cos,
                       cosh,
                       erf,
                       exp2,
                       expm1,
                       fix,
                       floor,
                       floor_divide,
                       frac,
                       lerp,
                       log1p,
                       log2,
                       remainder,  # noqa: A004
                       round,
                       rsqrt,
                       sign,
                       sin,
                       sinh,
                       square,
                       tan,
                       trunc,
)
from .functional import cross_entropy, linear, log_softmax, one_hot, softmax
from .indexing import gather, index_copy, index_fill, index_put, scatter, scatter_add
from .inference import inference_mode, is_inference_mode_enabled
from .logical import (
                       bitwise_and,
                       bitwise_not,
                       bitwise_or,
                       bitwise_xor,
                       eq,
                       ge,
                       greater,
                       greater_equal,
                       gt,
                       isfinite,
                       isinf,
                       isnan,
                       le,
                       less,
                       less_equal,
                       logical_and,
                       logical_not,
                       logical_or,
                       logical_xor,
                       lt,
                       ne,
                       not_equal,
)
from .norms import norm
from .ops import abs, bmm, clone, dot, exp, is_tensor, log, matmul, mm, pow, relu, reshape, sigmoid, tanh  # noqa: A004
from .pieces import chunk, roll, split
from .pointwise import (
                       clamp,
                       clamp_max,
                       clamp_min,
                       clip,
                       log10,
                       masked_fill,
                       maximum,
                       minimum,
                       nan_to_num,
                       sqrt,
                       tril,
                       triu,
                       where,
)
from .reductions import (  # noqa: A004
                       all,
                       allclose,
                       amax,
                       amin,
                       any,
                       argmax,
                       argmin,
                       histogram,
                       logsumexp,
                       max,
                       mean,
                       min,
                       prod,
                       std,
                       std_mean,
                       sum,
                       topk,
                       var,
                       var_mean,
)
from .scans import cummax, cummin, cumprod, cumsum, logcumsumexp
from .select import argwhere, masked_select, nonzero
from .serialization import load, save  # torch.save / torch.load, in the safetensors format
from .shapes import (
                       cat,
                       concat,
                       diag,
                       diagonal,
                       flatten,
                       flip,
                       meshgrid,
                       permute,
                       repeat_interleave,
                       squeeze,
                       stack,
                       transpose,
                       unbind,
                       unflatten,
                       unsqueeze,
)
from .sorting import argsort, msort, sort
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
    "ones", "ones_like", "optim", "permute", "pow", "rand", "randint", "randn", "randperm", "relu", "reshape",
    "set_grad_enabled", "sigmoid", "softmax", "sqrt", "squeeze", "stack", "std", "sum", "tanh", "tensor", "topk",
    "transpose", "tril", "triu", "unbind", "unsqueeze", "var", "where", "zeros", "zeros_like",
    # issue 16's op surface
    "acos", "acosh", "arccos", "arccosh", "arcsin", "arcsinh", "arctan", "arctan2", "arctanh", "argsort", "argwhere",
    "asin", "asinh", "atan", "atan2", "atanh", "bitwise_and", "bitwise_not", "bitwise_or", "bitwise_xor", "ceil",
    "clip", "cos", "cosh", "cummax", "cummin", "cumprod", "cumsum", "diag", "diagonal", "einsum", "eq", "erf", "exp2",
    "expm1", "eye", "fix", "flip", "floor", "floor_divide", "frac", "ge", "greater", "greater_equal", "gt", "isfinite",
    "isinf", "isnan", "le", "lerp", "less", "less_equal", "log1p", "log2", "logcumsumexp", "logical_and",
    "logical_not", "logical_or", "logical_xor", "logsumexp", "lt", "masked_select", "meshgrid", "msort", "ne",
    "nonzero", "not_equal", "prod", "remainder", "repeat_interleave", "round", "rsqrt", "sign", "sin", "sinh", "sort",
    "std_mean", "tan", "tril_indices", "triu_indices", "trunc", "unflatten", "var_mean",
]
__all__ += ["load", "save"]
# a new user's pass: the names course followers reach for
__all__ += ["bmm", "clone", "dot", "empty_like", "gather", "get_default_dtype", "get_float32_matmul_precision",
            "is_tensor", "mm", "nan_to_num", "norm", "rand_like", "randint_like", "randn_like",
            "set_float32_matmul_precision", "square"]
# in-place and indexing additions
__all__ += ["addcdiv", "addcmul", "index_copy", "index_fill", "scatter", "scatter_add"]
