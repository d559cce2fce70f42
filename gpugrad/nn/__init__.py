"""Neural-network layers, losses and the ``Module`` base (``gg.nn``), with PyTorch's names."""
import importlib

from . import functional, init
from .activation import (CELU, ELU, GELU, SELU, Hardsigmoid, Hardswish, Hardtanh, LeakyReLU,
                         LogSigmoid, LogSoftmax, Mish, ReLU, ReLU6, Sigmoid, SiLU, Softmax,
                         Softmin, Softplus, Softsign, Tanh, Tanhshrink)
from .container import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from .conv import Conv1d, Conv2d
from .dropout import Dropout, Dropout1d, Dropout2d, Dropout3d
from .embedding import Embedding
from .flatten import Flatten, Unflatten
from .linear import Identity, Linear
from .loss import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, KLDivLoss, L1Loss,
                   MSELoss, NLLLoss, SmoothL1Loss)
from .mlp import MLP
from .module import Module
from .normalization import BatchNorm1d, BatchNorm2d, BatchNorm3d, GroupNorm, LayerNorm
from .parameter import Parameter
from .pooling import (AdaptiveAvgPool1d, AdaptiveAvgPool2d, AvgPool1d, AvgPool2d, MaxPool1d,
                      MaxPool2d)


def __getattr__(name):
    # gg.nn.utils (gradient clipping and statistics) and gg.nn.parallel (data parallelism over
    # gg.distributed) load on first use.
    if name in ("utils", "parallel"):
        return importlib.import_module(f"gpugrad.nn.{name}")
    raise AttributeError(f"module 'gpugrad.nn' has no attribute {name!r}")


__all__ = ["Module", "Parameter", "Linear", "Identity", "Sequential", "ModuleList", "ModuleDict",
           "ParameterList", "ParameterDict", "ReLU",
           "Tanh", "Sigmoid", "Softmax", "LogSoftmax", "Dropout", "MLP", "MSELoss",
           "CrossEntropyLoss", "NLLLoss", "BCEWithLogitsLoss", "functional", "init",
           "GELU", "SiLU", "Mish", "LeakyReLU", "ELU", "CELU", "SELU", "Softplus", "Hardtanh",
           "ReLU6", "Hardsigmoid", "Hardswish", "LogSigmoid", "Softsign", "Tanhshrink",
           "Softmin", "Dropout1d", "Dropout2d", "Dropout3d", "Embedding", "Flatten", "Unflatten",
           "BCELoss", "L1Loss", "SmoothL1Loss", "HuberLoss", "KLDivLoss", "BatchNorm1d",
           "BatchNorm2d", "BatchNorm3d", "LayerNorm", "GroupNorm",
           "Conv1d", "Conv2d", "MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d",
           "AdaptiveAvgPool1d", "AdaptiveAvgPool2d"]
