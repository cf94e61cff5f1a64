"""``gradkit.nn.functional``: the functional ops under PyTorch's name (``import gradkit.nn.functional as F``).

The fused implementations live in ``gradkit.functional`` and the op modules; this module is the public namespace,
as ``torch.nn.functional`` is.
"""

from ..attention import scaled_dot_product_attention
from ..functional import cross_entropy, gelu, layer_norm, linear, log_softmax, one_hot, softmax
from ..ops import relu, sigmoid, tanh
from .dropout import dropout

__all__ = ["cross_entropy", "dropout", "gelu", "layer_norm", "linear", "log_softmax", "one_hot", "relu",
           "scaled_dot_product_attention", "sigmoid", "softmax", "tanh"]
