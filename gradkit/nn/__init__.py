"""``gradkit.nn``: PyTorch's ``torch.nn`` layout. The modules live in ``gradkit.nn.modules``;
``gradkit.nn.functional`` is ``torch.nn.functional``'s part (``import gradkit.nn.functional as F``); ``nn.init``,
``nn.utils`` and ``nn.parallel`` are torch's too.
"""

from . import functional, init, parallel, utils
from .activation import ELU, Hardtanh, LeakyReLU, LogSigmoid, LogSoftmax, Mish, ReLU6, SiLU, Softmax, Softplus
from .dropout import Dropout
from .loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, MSELoss, NLLLoss
from .modules import (
    GELU,
    BatchNorm1d,
    Embedding,
    Flatten,
    FlattenConsecutive,
    Identity,
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

__all__ = ["GELU", "BatchNorm1d", "Dropout", "Embedding", "Flatten", "FlattenConsecutive", "Identity", "LayerNorm",
           "Linear", "Module", "ModuleDict", "ModuleList", "Parameter", "ReLU", "Sequential", "Sigmoid", "Tanh",
           "functional", "init", "parallel", "utils", "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "ELU",
           "Hardtanh", "L1Loss", "LeakyReLU", "LogSigmoid", "LogSoftmax", "MSELoss", "Mish", "NLLLoss", "ReLU6",
           "SiLU", "Softmax", "Softplus"]
