"""``Dropout``: zeroes random elements while training; the identity in ``eval()`` mode."""
from . import functional as F
from .module import Module


class Dropout(Module):
    """Zero each element with probability ``p`` during training and scale the rest by
    ``1 / (1 - p)``; masks come from ``gg.manual_seed``'s generator."""

    def __init__(self, p=0.5):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p

    def forward(self, input):
        return F.dropout(input, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"
