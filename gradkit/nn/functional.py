"""``gradkit.nn.functional``: the functional ops under PyTorch's name (``import gradkit.nn.functional as F``).

The fused implementations live in ``gradkit.functional`` and the op modules; this module is the public namespace,
as ``torch.nn.functional`` is.
"""

from ..functional import cross_entropy, gelu, layer_norm, linear, log_softmax, one_hot, softmax
from ..ops import relu, sigmoid, tanh

__all__ = ["cross_entropy", "gelu", "layer_norm", "linear", "log_softmax", "one_hot", "relu", "sigmoid", "softmax",
           "tanh"]
