"""Neural-network layers, losses and the ``Module`` base (``gg.nn``), with PyTorch's names."""
import importlib

from . import functional, init
from .activation import LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from .container import ModuleList, Sequential
from .dropout import Dropout
from .linear import Identity, Linear
from .loss import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from .mlp import MLP
from .module import Module
from .parameter import Parameter


def __getattr__(name):
    # gg.nn.utils (gradient clipping and statistics) loads on first use.
    if name == "utils":
        return importlib.import_module("gpugrad.nn.utils")
    raise AttributeError(f"module 'gpugrad.nn' has no attribute {name!r}")


__all__ = ["Module", "Parameter", "Linear", "Identity", "Sequential", "ModuleList", "ReLU",
           "Tanh", "Sigmoid", "Softmax", "LogSoftmax", "Dropout", "MLP", "MSELoss",
           "CrossEntropyLoss", "NLLLoss", "BCEWithLogitsLoss", "functional", "init"]
