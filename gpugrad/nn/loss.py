"""Loss layers, thin wrappers on ``gg.nn.functional`` (PyTorch's names)."""
from . import functional as F
from .module import Module


class _Loss(Module):
    """A loss layer: ``reduction`` is ``'mean'`` (default), ``'sum'`` or ``'none'``."""

    def __init__(self, reduction="mean"):
        super().__init__()
        if reduction not in F._REDUCTIONS:
            raise ValueError(f"{reduction!r} is not a valid value for reduction; expected one of "
                             f"{F._REDUCTIONS}")
        self.reduction = reduction

    def extra_repr(self):
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"


class MSELoss(_Loss):
    """Mean squared error of ``(input, target)``, same shapes (``F.mse_loss``)."""

    def forward(self, input, target):
        return F.mse_loss(input, target, self.reduction)


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy of logits (N, C) against integer classes (N,) (``F.cross_entropy``)."""

    def forward(self, input, target):
        return F.cross_entropy(input, target, self.reduction)


class NLLLoss(_Loss):
    """Negative log-likelihood of log-probabilities (N, C) at classes (N,) (``F.nll_loss``)."""

    def forward(self, input, target):
        return F.nll_loss(input, target, self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy of ``sigmoid(input)`` against ``target`` in [0, 1]; ``pos_weight``
    scales the positive term (``F.binary_cross_entropy_with_logits``)."""

    def __init__(self, reduction="mean", pos_weight=None):
        super().__init__(reduction)
        self.pos_weight = pos_weight

    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(input, target, self.reduction, self.pos_weight)
