"""``gradkit.nn``: PyTorch's ``torch.nn`` layout. The modules live in ``gradkit.nn.modules``;
``gradkit.nn.functional`` is ``torch.nn.functional``'s part (``import gradkit.nn.functional as F``).
"""

from . import functional
from .activation import ELU, Hardtanh, LeakyReLU, LogSigmoid, LogSoftmax, Mish, ReLU6, SiLU, Softmax, Softplus
from .loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, MSELoss, NLLLoss
from .modules import (
    GELU,
    BatchNorm1d,
    Embedding,
    Flatten,
    FlattenConsecutive,
    LayerNorm,
    Linear,
    Module,
    ModuleDict,
    ModuleList,
    Parameter,
    ReLU,
    Sequential,
    Sigmoid,
    Tanh,
)

__all__ = ["GELU", "BatchNorm1d", "Embedding", "Flatten", "FlattenConsecutive", "LayerNorm", "Linear", "Module",
           "ModuleDict", "ModuleList", "Parameter", "ReLU", "Sequential", "Sigmoid", "Tanh", "functional",
           # issue 16's activations and losses
           "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "ELU", "Hardtanh", "L1Loss", "LeakyReLU", "LogSigmoid",
           "LogSoftmax", "MSELoss", "Mish", "NLLLoss", "ReLU6", "SiLU", "Softmax", "Softplus"]
