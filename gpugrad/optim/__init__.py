"""Optimizers (``gg.optim``): SGD, Adam, AdamW, NAdam, RMSprop, Adagrad and learning-rate
schedules (``gg.optim.lr_scheduler``), as in PyTorch."""
from . import lr_scheduler
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .nadam import NAdam
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "NAdam", "RMSprop", "Adagrad", "lr_scheduler"]
