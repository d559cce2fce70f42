"""Dropout layers: zero random elements (``Dropout``) or whole channels (``Dropout1d``,
``Dropout2d``, ``Dropout3d``) while training; the identity in ``eval()`` mode."""
from . import functional as F
from .module import Module


class _DropoutNd(Module):
    """Dropout with probability ``p``; ``inplace=True`` writes into the input."""

    _fn = staticmethod(F.dropout)

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p, self.inplace = p, inplace

    def forward(self, input):
        return self._fn(input, self.p, self.training, self.inplace)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Zero each element with probability ``p`` during training and scale the rest by
    ``1 / (1 - p)``; masks come from ``gg.manual_seed``'s generator."""


class Dropout1d(_DropoutNd):
    """Zero whole channels of (N, C, L) or (C, L) input during training (``F.dropout1d``)."""

    _fn = staticmethod(F.dropout1d)


class Dropout2d(_DropoutNd):
    """Zero whole channels of (N, C, H, W) or (C, H, W) input during training
    (``F.dropout2d``)."""

    _fn = staticmethod(F.dropout2d)


class Dropout3d(_DropoutNd):
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) input during training
    (``F.dropout3d``)."""

    _fn = staticmethod(F.dropout3d)
