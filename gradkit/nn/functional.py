"""``gradkit.nn.functional``: the functional ops under PyTorch's name (``import gradkit.nn.functional as F``).

The fused implementations live in ``gradkit.functional`` and the op modules; this module is the public namespace,
as ``torch.nn.functional`` is.
"""

from ..activations import elu, hardtanh, leaky_relu, logsigmoid, mish, relu, relu6, silu, softplus
from ..attention import scaled_dot_product_attention
from ..functional import cross_entropy, embedding, gelu, layer_norm, linear, log_softmax, one_hot, softmax
from ..losses import binary_cross_entropy, binary_cross_entropy_with_logits, l1_loss, mse_loss, nll_loss
from ..norms import normalize
from ..ops import sigmoid, tanh
from ..padding import pad
from .dropout import dropout

__all__ = ["binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy", "dropout", "elu", "embedding",
           "gelu", "hardtanh", "l1_loss", "layer_norm", "leaky_relu", "linear", "log_softmax", "logsigmoid", "mish",
           "mse_loss", "nll_loss", "normalize", "one_hot", "pad", "relu", "relu6", "scaled_dot_product_attention",
           "sigmoid", "silu", "softmax", "softplus", "tanh"]
