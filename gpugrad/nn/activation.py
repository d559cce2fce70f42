"""Activation layers: ``ReLU``, ``Tanh``, ``Sigmoid``, ``Softmax``, ``LogSoftmax``."""
from .module import Module


class ReLU(Module):
    """``max(x, 0)`` elementwise."""

    def forward(self, input):
        return input.relu()


class Tanh(Module):
    """``tanh(x)`` elementwise."""

    def forward(self, input):
        return input.tanh()


class Sigmoid(Module):
    """``1 / (1 + exp(-x))``, computed without overflow."""

    def forward(self, input):
        return input.sigmoid()


class _AlongDim(Module):
    """An activation along one dimension ``dim`` (default: the last)."""

    def __init__(self, dim=-1):
        super().__init__()
        self.dim = dim

    def extra_repr(self):
        return f"dim={self.dim}"


class Softmax(_AlongDim):
    """``exp(x) / sum(exp(x))`` along ``dim``, stable for any finite input."""

    def forward(self, input):
        return input.softmax(dim=self.dim)


class LogSoftmax(_AlongDim):
    """``x - logsumexp(x)`` along ``dim``, stable for any finite input."""

    def forward(self, input):
        return input.log_softmax(dim=self.dim)
