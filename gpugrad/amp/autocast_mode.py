"""``gg.autocast``: regions where ops run in a lower precision where it is safe, as
``torch.autocast``.

Inside ``with gg.autocast("cuda"):`` matmuls and linear layers take their floating inputs in
float16 (or the ``dtype`` given), and the ops that need float32's range (softmax, reductions,
losses...) take them in float32, following PyTorch's op lists (``op_policies.py``). The casts
are ordinary differentiable ops, so gradients reach float32 master weights in float32.

Device types: ``"cpu"`` (default dtype bfloat16, PyTorch's CPU lists), ``"cuda"`` and ``"sim"``
(default float16, PyTorch's CUDA lists). A sim device stands in for a GPU: ``"cuda"`` covers
tensors on both cuda and sim devices, so a script written for cuda runs unchanged on the
simulator; ``"sim"`` covers sim devices only. The state is per thread, as in PyTorch.
"""
import functools
import threading
import warnings

from .. import dtypes as _dtypes
from ..engine.grad_mode import modes as _modes
from ..ops.casts import Cast
from ..tensor import Tensor
from . import op_policies

DEVICE_TYPES = ("cpu", "cuda", "sim")
_GPU_TYPES = ("cuda", "sim")
_COVERS = {"cpu": ("cpu",), "cuda": ("cuda", "sim"), "sim": ("sim",)}
_DEFAULT_DTYPE = {"cpu": _dtypes.bfloat16, "cuda": _dtypes.float16, "sim": _dtypes.float16}
_LOW_PRECISION = (_dtypes.float16, _dtypes.bfloat16)


def _check_device_type(device_type):
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if device_type not in DEVICE_TYPES:
        raise RuntimeError(f"unsupported autocast device_type {device_type!r}: expected one of "
                           f"'cpu', 'cuda' (cuda and sim devices) or 'sim'")


class _AutocastState(threading.local):
    """One thread's autocast settings, and the object ``Function.apply`` asks to cast an op's
    inputs while any device type has autocast on (``modes.autocast`` is then this object)."""

    def __init__(self):
        self.enabled = dict.fromkeys(DEVICE_TYPES, False)
        self.dtype = dict(_DEFAULT_DTYPE)
        self.cache_enabled = True
        self.nesting = 0  # entered autocast blocks; the cast cache is cleared when it reaches 0
        self.cache = {}   # id(weight) -> (weight, its version, its low-precision cast)
        self.saved = []   # per entered block: what to restore on exit

    def publish(self):
        """Point the engine at this state while some device type has autocast on."""
        _modes.autocast = self if any(self.enabled.values()) else None

    def cast_inputs(self, policy, inputs, params):
        """``inputs`` of an op whose autocast policy is ``policy``, cast as the policy says
        for the inputs' device type (unchanged when autocast is off for it)."""
        if params.get("dtype") is not None:  # an explicit dtype wins, as in PyTorch
            return inputs
        device_type = next((x._backend.device.type for x in inputs if isinstance(x, Tensor)),
                           None)
        if device_type is None or not self.enabled[device_type]:
            return inputs
        dtypes = [x.dtype if _eligible(x) else None for x in inputs]
        eligible = [d for d in dtypes if d is not None]
        if not eligible:
            return inputs
        lower = self.dtype[device_type]
        target = op_policies.target_dtype(policy, lower, device_type in _GPU_TYPES, eligible)
        if target is None:
            return inputs
        return tuple(x if d is None or d is target else self._cast(x, d, target, lower)
                     for x, d in zip(inputs, dtypes))

    def _cast(self, x, dtype, target, lower):
        # PyTorch caches the low-precision casts of float32 leaves that require grad (the
        # weights) for the rest of the region: each is cast once however often it is used.
        # Only recorded casts are kept, so a cast made under no_grad never stands in later.
        if not (target is lower and dtype is _dtypes.float32 and self.cache_enabled
                and x._requires_grad and x._grad_fn is None and x._view is None
                and _modes.grad_enabled):
            return Cast.apply(x, dtype=target)
        hit = self.cache.get(id(x))
        version = x._version
        if hit is not None and hit[0] is x and hit[1] == version and hit[2].dtype is target:
            return hit[2]
        out = Cast.apply(x, dtype=target)
        self.cache[id(x)] = (x, version, out)
        return out


def _eligible(x):
    """A floating tensor other than float64: what autocast may cast."""
    if not isinstance(x, Tensor):
        return False
    dtype = x.dtype
    return dtype.is_floating_point and dtype is not _dtypes.float64


_state = _AutocastState()


class autocast:
    """Run the ops of a block (or of a decorated function) with autocasting, as
    ``torch.autocast(device_type, dtype=None, enabled=True, cache_enabled=None)``.

    ``device_type``: ``"cuda"`` (cuda and sim devices), ``"sim"`` or ``"cpu"``. ``dtype``: the
    low precision, ``gg.float16`` or ``gg.bfloat16`` (default: float16 on GPUs, bfloat16 on
    cpu); another dtype warns and leaves autocast off, as PyTorch does. ``enabled=False``
    turns autocast off inside the block (nested in an enabled one, for example).
    ``cache_enabled``: reuse each float32 weight's low-precision cast within the region
    (default: ``gg.is_autocast_cache_enabled()``, True).

    Wrap the forward pass and the loss; call ``backward()`` outside the block (the backward
    ops run in the dtypes their forward ops used). Example::

        with gg.autocast("cuda", dtype=gg.bfloat16):
            loss = loss_fn(model(x), y)
        loss.backward()
    """

    def __init__(self, device_type, dtype=None, enabled=True, cache_enabled=None):
        _check_device_type(device_type)
        self.device = device_type
        self.fast_dtype = _state.dtype[device_type] if dtype is None else _dtypes.as_dtype(dtype)
        self._cache_enabled = (_state.cache_enabled if cache_enabled is None
                               else bool(cache_enabled))
        self._enabled = bool(enabled)
        if self._enabled and self.fast_dtype not in _LOW_PRECISION:
            kind = "CPU" if device_type == "cpu" else device_type.upper()
            warnings.warn(f"In {kind} autocast, but the target dtype is not supported. "
                          f"Disabling autocast.\n{kind} Autocast only supports dtypes of "
                          f"gg.bfloat16, gg.float16 currently.", stacklevel=2)
            self._enabled = False

    def __enter__(self):
        state = _state
        types = _COVERS[self.device]
        state.saved.append((types, [(state.enabled[t], state.dtype[t]) for t in types],
                            state.cache_enabled))
        for t in types:
            state.enabled[t] = self._enabled
            state.dtype[t] = self.fast_dtype
        state.cache_enabled = self._cache_enabled
        state.nesting += 1
        state.publish()
        return self

    def __exit__(self, *exc):
        state = _state
        state.nesting -= 1
        if state.nesting == 0:
            state.cache.clear()
        types, previous, state.cache_enabled = state.saved.pop()
        for t, (enabled, dtype) in zip(types, previous):
            state.enabled[t] = enabled
            state.dtype[t] = dtype
        state.publish()
        return False

    def __call__(self, func):
        """Use as a decorator: ``func`` runs inside this autocast region."""
        @functools.wraps(func)
        def autocast_wrapper(*args, **kwargs):
            with self:
                return func(*args, **kwargs)

        return autocast_wrapper


def is_autocast_enabled(device_type=None):
    """True when autocast is on for ``device_type`` in this thread (default ``"cuda"``, as
    PyTorch's no-argument form)."""
    device_type = "cuda" if device_type is None else device_type
    _check_device_type(device_type)
    return _state.enabled[device_type]


def get_autocast_dtype(device_type):
    """The low-precision dtype autocast uses for ``device_type`` in this thread (the default,
    float16 on GPUs and bfloat16 on cpu, outside any region)."""
    _check_device_type(device_type)
    return _state.dtype[device_type]


def is_autocast_cache_enabled():
    """True when autocast regions reuse weights' low-precision casts (the default)."""
    return _state.cache_enabled
