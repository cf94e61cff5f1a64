"""``gradkit.nn``: PyTorch's ``torch.nn`` layout. The modules live in ``gradkit.nn.modules``;
``gradkit.nn.functional`` is ``torch.nn.functional``'s part (``import gradkit.nn.functional as F``).
"""

from . import functional
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
           "ModuleDict", "ModuleList", "Parameter", "ReLU", "Sequential", "Sigmoid", "Tanh", "functional"]
