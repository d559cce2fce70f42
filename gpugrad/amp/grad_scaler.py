"""``gg.amp.GradScaler``: dynamic loss scaling for float16 training, as ``torch.amp.GradScaler``.

float16 gradients of small magnitude flush to zero. The scaler multiplies the loss by a large
factor before ``backward()`` so they stay representable, divides the gradients by it before the
optimizer steps, skips the step when any gradient is inf or NaN (the scale was too large), and
adapts the scale: halved after a skipped step, doubled after ``growth_interval`` clean ones.

The inf checks run on the gradients' device, and a step reads one value back (whether an inf
was found, per device), as PyTorch does. The scale lives on the device (what ``scale`` multiplies
by) with a host copy beside it: the step's read-back already tells the host whether to back off
or grow, so ``update`` launches at most one kernel (when the scale changes) where PyTorch's
update is a kernel of its own, and ``get_scale`` needs no read-back.
"""
from collections import defaultdict
from enum import Enum

import numpy as np

from .. import dtypes as _dtypes
from ..creation import full
from ..engine.grad_mode import no_grad
from ..tensor import Tensor
from ..tensor_shape_methods import stack

_DEVICE_TYPES = ("cpu", "cuda", "sim")
_SCALE_MISSING_FIX = ("This may indicate your script did not use scaler.scale(loss or outputs) "
                      "earlier in the iteration.")


class OptState(Enum):
    """Where an optimizer is in the current iteration."""
    READY = 0
    UNSCALED = 1
    STEPPED = 2


def _refresh_per_optimizer_state():
    return {"stage": OptState.READY, "found_inf_per_device": {}}


def _float32(value):
    """``value`` rounded to float32, as the scale is stored (inf where it overflows)."""
    with np.errstate(over="ignore"):
        return float(np.float32(value))


def _non_finite_check_and_unscale(grads, inv_scale):
    """Multiply ``grads`` (on one device) in place by ``inv_scale`` (a float); return a 0-d
    bool tensor, True when any of them held an inf or NaN before. One reduction per gradient:
    a sum is inf or NaN when an element is (a finite gradient whose float32 sum overflows is
    counted as non-finite too: its step is skipped and the scale backs off)."""
    sums = []
    for g in grads:
        sums.append(g.sum())
        g.mul_(inv_scale)
    return stack(sums).isfinite().all().logical_not()


class GradScaler:
    """Dynamic loss scaling, as ``torch.amp.GradScaler(device="cuda", init_scale=2.**16,
    growth_factor=2.0, backoff_factor=0.5, growth_interval=2000, enabled=True)``.

    ``device`` names the device type the scaled losses live on: ``"cuda"`` (cuda or sim
    devices, as ``gg.autocast``), ``"sim"`` or ``"cpu"``; the scale itself is made on the
    device of the first loss scaled. One iteration::

        scaler = gg.amp.GradScaler("cuda")
        with gg.autocast("cuda"):
            loss = loss_fn(model(x), y)
        scaler.scale(loss).backward()
        scaler.step(optimizer)      # unscales, then steps unless a gradient is inf/NaN
        scaler.update()             # adapts the scale

    With ``enabled=False`` every method passes through (``scale`` returns its input, ``step``
    calls ``optimizer.step()``), so one script serves both precisions.
    """

    def __init__(self, device="cuda", init_scale=2.0 ** 16, growth_factor=2.0,
                 backoff_factor=0.5, growth_interval=2000, enabled=True):
        if device not in _DEVICE_TYPES:
            raise ValueError(f"GradScaler: unsupported device {device!r}; expected one of "
                             f"'cuda' (cuda and sim devices), 'sim' or 'cpu'")
        self._device = device
        self._enabled = bool(enabled)
        if self._enabled:
            if not growth_factor > 1.0:
                raise AssertionError("The growth factor must be > 1.0.")
            if not backoff_factor < 1.0:
                raise AssertionError("The backoff factor must be < 1.0.")
            self._init_scale = float(init_scale)
            self._scale = None  # 0-d float32 on the losses' device, made by the first scale()
            self._scale_value = None  # its value, on the host
            self._growth_factor = float(growth_factor)
            self._backoff_factor = float(backoff_factor)
            self._growth_interval = int(growth_interval)
            self._init_growth_tracker = 0
            self._growth_tracker = None  # clean iterations since the scale last changed
            self._per_optimizer_states = defaultdict(_refresh_per_optimizer_state)

    def _check_scale_growth_tracker(self, funcname):
        if self._scale is None:
            raise AssertionError(f"Attempted {funcname} but _scale is None.  " + _SCALE_MISSING_FIX)

    def _lazy_init_scale_growth_tracker(self, device):
        self._scale_value = _float32(self._init_scale)
        self._scale = full((), self._scale_value, dtype=_dtypes.float32, device=device)
        self._growth_tracker = self._init_growth_tracker

    def _set_scale(self, value):
        value = _float32(value)
        if value != self._scale_value:
            self._scale_value = value
            with no_grad():
                self._scale.fill_(value)

    def scale(self, outputs):
        """``outputs`` (a tensor, or nested lists/tuples of tensors) times the scale factor;
        unchanged when the scaler is disabled."""
        if not self._enabled:
            return outputs
        if isinstance(outputs, Tensor):
            if self._scale is None:
                self._lazy_init_scale_growth_tracker(outputs.device)
            return outputs * self._scale.to(outputs.device)
        if isinstance(outputs, (list, tuple)):
            return type(outputs)(self.scale(v) for v in outputs)
        raise ValueError("outputs must be a Tensor or an iterable of Tensors")

    def _unscale_grads_(self, optimizer, inv_scale, allow_fp16):
        """Unscale the optimizer's gradients in place; per device, a 0-d bool tensor that is
        True when one of them was inf or NaN (one check over all its gradients)."""
        by_device = defaultdict(list)
        for group in optimizer.param_groups:
            for param in group["params"]:
                grad = param.grad
                if grad is None:
                    continue
                if not allow_fp16 and grad.dtype is _dtypes.float16:
                    raise ValueError("Attempting to unscale FP16 gradients.")
                by_device[grad.device].append(grad)
        with no_grad():
            return {device: _non_finite_check_and_unscale(grads, inv_scale)
                    for device, grads in by_device.items()}

    def unscale_(self, optimizer):
        """Divide ``optimizer``'s gradients by the scale, in place (for gradient clipping
        between ``backward()`` and ``step``); at most once per optimizer per iteration."""
        if not self._enabled:
            return
        self._check_scale_growth_tracker("unscale_")
        optimizer_state = self._per_optimizer_states[id(optimizer)]
        if optimizer_state["stage"] is OptState.UNSCALED:
            raise RuntimeError("unscale_() has already been called on this optimizer since the "
                               "last update().")
        if optimizer_state["stage"] is OptState.STEPPED:
            raise RuntimeError("unscale_() is being called after step().")
        # 1/scale rounded to float32, as PyTorch's float64 reciprocal cast to float32
        inv_scale = _float32(1.0 / self._scale_value)
        optimizer_state["found_inf_per_device"] = self._unscale_grads_(optimizer, inv_scale,
                                                                       False)
        optimizer_state["stage"] = OptState.UNSCALED

    def step(self, optimizer, *args, **kwargs):
        """Unscale the gradients (unless ``unscale_`` did) and call ``optimizer.step(*args,
        **kwargs)`` unless one of them is inf or NaN; returns what ``step`` returned, or None
        when it was skipped."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("Closure use is not currently supported if GradScaler is enabled.")
        self._check_scale_growth_tracker("step")
        optimizer_state = self._per_optimizer_states[id(optimizer)]
        if optimizer_state["stage"] is OptState.STEPPED:
            raise RuntimeError("step() has already been called since the last update().")
        if optimizer_state["stage"] is OptState.READY:
            self.unscale_(optimizer)
        found = optimizer_state["found_inf_per_device"]
        if not found:
            raise AssertionError("No inf checks were recorded for this optimizer.")
        retval = None
        # the step's one read-back per device, kept for update
        optimizer_state["found_inf"] = any([v.item() for v in found.values()])
        if not optimizer_state["found_inf"]:
            retval = optimizer.step(*args, **kwargs)
        optimizer_state["stage"] = OptState.STEPPED
        return retval

    def update(self, new_scale=None):
        """Adapt the scale for the next iteration: times ``backoff_factor`` if any optimizer
        skipped its step, times ``growth_factor`` after ``growth_interval`` clean iterations
        (unless that overflows float32); or set it to ``new_scale`` (a float or a 1-element
        tensor). Call once per iteration, after the ``step`` calls."""
        if not self._enabled:
            return
        self._check_scale_growth_tracker("update")
        if new_scale is not None:
            if isinstance(new_scale, (int, float)):
                self._set_scale(new_scale)
            else:
                if (not isinstance(new_scale, Tensor) or new_scale.numel() != 1
                        or new_scale.requires_grad):
                    raise AssertionError("new_scale should be a float or a 1-element tensor "
                                         "with requires_grad=False.")
                self._set_scale(new_scale.item())
        else:
            states = list(self._per_optimizer_states.values())
            if not any(state["found_inf_per_device"] for state in states):
                raise AssertionError("No inf checks were recorded prior to update.")
            # what step() read back; an optimizer only unscaled is read here
            found_inf = any(state["found_inf"] if "found_inf" in state
                            else any([v.item() for v in state["found_inf_per_device"].values()])
                            for state in states)
            self._update_scale(found_inf)
        self._per_optimizer_states = defaultdict(_refresh_per_optimizer_state)

    def _update_scale(self, found_inf):
        """PyTorch's ``_amp_update_scale_``, in float32 as on the device."""
        scale = self._scale_value
        if found_inf:
            self._set_scale(np.float32(scale) * np.float32(self._backoff_factor))
            self._growth_tracker = 0
        elif self._growth_tracker + 1 == self._growth_interval:
            with np.errstate(over="ignore"):
                larger = np.float32(scale) * np.float32(self._growth_factor)
            if np.isfinite(larger):
                self._set_scale(larger)
            self._growth_tracker = 0
        else:
            self._growth_tracker += 1

    def get_scale(self):
        """The current scale as a Python float (1.0 when disabled)."""
        if not self._enabled:
            return 1.0
        return self._init_scale if self._scale is None else self._scale_value

    def _get_growth_tracker(self):
        if not self._enabled:
            return 0
        return (self._init_growth_tracker if self._growth_tracker is None
                else self._growth_tracker)

    def get_growth_factor(self):
        """The factor the scale grows by after ``growth_interval`` clean iterations."""
        return self._growth_factor

    def set_growth_factor(self, new_factor):
        """Set the growth factor."""
        self._growth_factor = float(new_factor)

    def get_backoff_factor(self):
        """The factor the scale shrinks by after an iteration with an inf/NaN gradient."""
        return self._backoff_factor

    def set_backoff_factor(self, new_factor):
        """Set the backoff factor."""
        self._backoff_factor = float(new_factor)

    def get_growth_interval(self):
        """How many clean iterations in a row grow the scale."""
        return self._growth_interval

    def set_growth_interval(self, new_interval):
        """Set the growth interval."""
        self._growth_interval = int(new_interval)

    def is_enabled(self):
        """True unless the scaler was made with ``enabled=False``."""
        return self._enabled

    def state_dict(self):
        """The scaler's state (scale, factors, interval, growth tracker); empty when disabled."""
        if not self._enabled:
            return {}
        return {"scale": self.get_scale(), "growth_factor": self._growth_factor,
                "backoff_factor": self._backoff_factor,
                "growth_interval": self._growth_interval,
                "_growth_tracker": self._get_growth_tracker()}

    def load_state_dict(self, state_dict):
        """Restore a state from ``state_dict`` (as returned by ``state_dict``)."""
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise RuntimeError("The source state dict is empty, possibly because it was saved "
                               "from a disabled instance of GradScaler.")
        self._init_scale = float(state_dict["scale"])
        self._growth_factor = float(state_dict["growth_factor"])
        self._backoff_factor = float(state_dict["backoff_factor"])
        self._growth_interval = int(state_dict["growth_interval"])
        self._init_growth_tracker = int(state_dict["_growth_tracker"])
        if self._scale is not None:
            self._set_scale(self._init_scale)
            self._growth_tracker = self._init_growth_tracker
