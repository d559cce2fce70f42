"""``LRScheduler``: the base of the epoch-indexed learning-rate schedules (PyTorch's semantics).

``last_epoch`` counts ``step()`` calls: construction runs the first one (epoch 0), so the
optimizer's ``lr`` is the schedule's epoch-0 value before training starts. Most schedules are
"chainable": each step updates every group's current ``lr`` from its previous value, so
schedules compose and respect manual changes, as in PyTorch.
"""
import functools
import types
import warnings

from ..optimizer import Optimizer

EPOCH_DEPRECATION_WARNING = (
    "The epoch parameter in `scheduler.step()` was not necessary and is being deprecated where "
    "possible. Please use `scheduler.step()` to step the scheduler. During the deprecation, if "
    "epoch is different from None, the closed form is used instead of the new chainable form, "
    "where available.")


def group_values(optimizer, key):
    """``group[key]`` of every parameter group of ``optimizer``, in order."""
    return [group[key] for group in optimizer.param_groups]


def per_group(name, optimizer, value):
    """``value`` repeated for each parameter group, or a list/tuple that has one per group."""
    if isinstance(value, (list, tuple)):
        if len(value) != len(optimizer.param_groups):
            raise ValueError(f"{name} must have the same length as optimizer.param_groups. "
                             f"{name} has {len(value)} values, param_groups has "
                             f"{len(optimizer.param_groups)}.")
        return list(value)
    return [value] * len(optimizer.param_groups)


def check_optimizer(optimizer):
    """PyTorch's TypeError when a schedule is given something other than an optimizer."""
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")


def track_optimizer_steps(optimizer):
    """Wrap ``optimizer.step`` (once) to note that it ran, so a schedule stepped before its
    optimizer can warn as PyTorch does."""
    if getattr(optimizer.step, "_wrapped_by_lr_sched", False):
        return
    step = optimizer.step

    @functools.wraps(step)
    def wrapper(*args, **kwargs):
        optimizer._opt_called = True
        return step(*args, **kwargs)

    wrapper._wrapped_by_lr_sched = True
    optimizer.step = wrapper


class LRScheduler:
    """Base of the schedules. Subclasses define ``get_lr()`` (the chainable update, which may
    read ``self._is_initial``: True during the construction step) and may define
    ``_get_closed_form_lr()`` (the rates at ``last_epoch`` from ``base_lrs`` alone, used by the
    deprecated ``step(epoch)``)."""

    _is_initial = False

    def __init__(self, optimizer, last_epoch=-1):
        check_optimizer(optimizer)
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(f"param 'initial_lr' is not specified in param_groups[{i}] "
                                   f"when resuming scheduler with last_epoch >= 0; load the "
                                   f"optimizer's state_dict first")
        self.base_lrs = group_values(optimizer, "initial_lr")
        self.last_epoch = last_epoch
        track_optimizer_steps(optimizer)
        self._initial_step()

    def _initial_step(self):
        """The construction step: sets the epoch-0 (or resumed epoch's) learning rates."""
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self):
        """The learning rates for epoch ``last_epoch``, one per group (each schedule defines it).
        Use ``get_last_lr()`` to read the current rates."""
        raise NotImplementedError

    def get_last_lr(self):
        """The learning rates set by the last ``step()``, one per group."""
        return self._last_lr

    def step(self, epoch=None):
        """Advance one epoch and set each group's ``lr`` for it. Call it after
        ``optimizer.step()``. ``epoch`` (deprecated in PyTorch) jumps to that epoch, using the
        schedule's closed form where it has one."""
        if self._step_count == 1 and not getattr(self.optimizer, "_opt_called", False):
            warnings.warn(
                "Detected call of `lr_scheduler.step()` before `optimizer.step()`: call "
                "`optimizer.step()` first, or the first value of the learning rate schedule is "
                "skipped.", UserWarning, stacklevel=2)
        self._step_count += 1
        if epoch is not None:
            warnings.warn(EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=2)
        self._update_lr(epoch)

    def _update_lr(self, epoch=None):
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            self.last_epoch = epoch
            closed_form = getattr(self, "_get_closed_form_lr", None)
            values = closed_form() if closed_form is not None else self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values):
            group["lr"] = lr
        self._last_lr = group_values(self.optimizer, "lr")

    def state_dict(self):
        """The schedule's state (every attribute but the optimizer), for ``gg.save``."""
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict):
        """Restore a state from ``state_dict()``."""
        self.__dict__.update(state_dict)


class LambdaScheduler(LRScheduler):
    """Base of the schedules driven by user functions of the epoch (``LambdaLR``,
    ``MultiplicativeLR``): one function per group, or one for all. As in PyTorch, the state
    dict keeps the attributes of callable objects and ``None`` for plain functions."""

    def __init__(self, optimizer, lr_lambda, last_epoch=-1):
        self.optimizer = optimizer
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != len(optimizer.param_groups):
                raise ValueError(f"Expected {len(optimizer.param_groups)} lr_lambdas, but got "
                                 f"{len(lr_lambda)}")
            self.lr_lambdas = list(lr_lambda)
        else:
            self.lr_lambdas = [lr_lambda] * len(optimizer.param_groups)
        super().__init__(optimizer, last_epoch)

    def state_dict(self):
        """The schedule's state; ``lr_lambdas`` holds each callable object's ``__dict__``
        (``None`` for functions and lambdas, which cannot be saved)."""
        state = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "lr_lambdas")}
        state["lr_lambdas"] = [None if isinstance(fn, types.FunctionType) else fn.__dict__.copy()
                               for fn in self.lr_lambdas]
        return state

    def load_state_dict(self, state_dict):
        """Restore a state from ``state_dict()`` (callable objects get their attributes back)."""
        state = dict(state_dict)
        saved_lambdas = state.pop("lr_lambdas")
        self.__dict__.update(state)
        for fn, saved in zip(self.lr_lambdas, saved_lambdas):
            if saved is not None:
                fn.__dict__.update(saved)
