"""Learning-rate schedules (``gg.optim.lr_scheduler``), with PyTorch's names, arguments and
epoch-by-epoch values.

Call ``scheduler.step()`` once per epoch (``OneCycleLR``: once per batch), after
``optimizer.step()``; ``ReduceLROnPlateau.step(metric)`` takes the monitored value.
"""
from .base import LRScheduler
from .composite import ChainedScheduler, SequentialLR
from .cosine import CosineAnnealingLR
from .multiplicative import (ConstantLR, ExponentialLR, LambdaLR, LinearLR, MultiplicativeLR,
                             MultiStepLR, PolynomialLR, StepLR)
from .one_cycle import OneCycleLR
from .plateau import ReduceLROnPlateau

__all__ = ["LRScheduler", "LambdaLR", "MultiplicativeLR", "StepLR", "MultiStepLR", "ConstantLR",
           "LinearLR", "ExponentialLR", "PolynomialLR", "CosineAnnealingLR", "OneCycleLR",
           "ReduceLROnPlateau", "SequentialLR", "ChainedScheduler"]
