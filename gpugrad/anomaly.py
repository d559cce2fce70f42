"""Anomaly detection: find the op where a NaN or inf first appears, forward or backward.

``with gg.autograd.detect_anomaly(): ...`` (or ``@gg.autograd.detect_anomaly()`` on a function)
turns detection on for the calling thread (as in PyTorch, the mode is per thread). While it is
on, every op's output is checked right
after forward, every gradient right after the backward of the op that produced it, and each op
remembers the line of user code that created it, so the error can point there.

The checks run as engine hooks (``gpugrad.engine.hooks``), registered while at least one thread
has detection on: with detection off everywhere, the dispatch path pays for one test of an
empty hook list per op. Checking reads one boolean per op back from
the device, so on ``sim`` and ``cuda`` it synchronizes after every op: a debugging mode, as in
PyTorch, not one to train in.
"""
import functools
import linecache
import os
import sys
import threading

import numpy as np

from . import engine as _engine
from .tensor import Tensor

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_RUN_BACKWARD_CODE = _engine.run_backward.__code__
# Frames in these files are how every op is dispatched; a library frame worth naming (an nn
# module's forward, say) lies outside them.
_DISPATCH_FILES = ("engine/", "tensor.py", "tensor_methods.py", "tensor_shape_methods.py",
                   "tensor_inplace_methods.py", "tensor_conversions.py", "inplace.py",
                   "views.py", "interop.py", "numpy_functions.py", "anomaly.py", "ops/",
                   "creation.py")


class _ThreadState(threading.local):
    enabled = False
    check_nan = True  # whether detection checks values (``check_nan``)

    def __init__(self):
        self.saved = []  # modes to restore, pushed by entering detect_anomaly in this thread


_state = _ThreadState()
_threads_on = [0]  # threads with detection on: the engine hooks are registered while > 0
_handles: list[object] = []
_lock = threading.Lock()


def _set_mode(enabled, check_nan):
    """Set this thread's mode, registering the engine hooks when the first thread turns
    detection on and removing them when the last one turns it off."""
    enabled = bool(enabled)
    if enabled != _state.enabled:
        with _lock:
            _threads_on[0] += 1 if enabled else -1
            if enabled and _threads_on[0] == 1:
                _handles.append(_engine.register_forward_hook(check_forward))
                _handles.append(_engine.register_backward_hook(check_backward))
            elif not enabled and _threads_on[0] == 0:
                while _handles:
                    _handles.pop().remove()
    _state.enabled, _state.check_nan = enabled, bool(check_nan)


class AnomalyError(RuntimeError):
    """An op produced NaN or inf (forward) or a gradient became NaN or inf (backward).

    Attributes: ``op`` (the op's name), ``phase`` ("forward" or "backward"), ``site`` (the
    ``CreationSite`` of the user code that created the op, or None).
    """

    def __init__(self, message, op, phase, site):
        super().__init__(message)
        self.op = op
        self.phase = phase
        self.site = site


class CreationSite:
    """Where an op was created: the innermost frame outside gpugrad (the user's line) and, if
    the op was called from inside gpugrad (an ``nn`` module, say), the library frame too."""

    __slots__ = ("filename", "lineno", "function", "library")

    def __init__(self, filename, lineno, function, library=None):
        self.filename, self.lineno, self.function, self.library = filename, lineno, function, library

    @property
    def line(self):
        """The source text of the line ('' when the source is not available)."""
        return linecache.getline(self.filename, self.lineno).strip()

    def __str__(self):
        text = f'File "{self.filename}", line {self.lineno}, in {self.function}'
        if self.library is not None:
            text += f" (via {self.library})"
        line = self.line
        return f"{text}\n    {line}" if line else text


def _locate():
    """(site, in_backward): the creating user frame, and whether the op runs inside the
    engine's backward pass (reached before any user frame, so not from a user's hook)."""
    frame = sys._getframe(2)
    library = None
    while frame is not None:
        code = frame.f_code
        if code is _RUN_BACKWARD_CODE:
            return None, True
        if not code.co_filename.startswith(_PACKAGE_DIR):
            return CreationSite(code.co_filename, frame.f_lineno, code.co_name, library), False
        relative = code.co_filename[len(_PACKAGE_DIR):].replace(os.sep, "/")
        if library is None and not relative.startswith(_DISPATCH_FILES):
            library = f"gpugrad/{relative}:{frame.f_lineno} in {code.co_name}"
        frame = frame.f_back
    return None, False


def _all_finite(tensor):
    """True when a floating-point tensor holds no NaN or inf (integers always do)."""
    if not tensor.dtype.is_floating_point or tensor.numel() == 0:
        return True
    backend = tensor._backend
    # |x| < inf is false exactly for NaN and +-inf, and raises no floating-point warnings.
    finite = backend.binary("lt", backend.unary("abs", tensor._data), float("inf"))
    return bool(backend.to_host(backend.reduce("min", finite)))


def _describe(x):
    if isinstance(x, Tensor):
        dtype = str(x.dtype).replace("gpugrad.", "")
        return f"{dtype} tensor of shape {tuple(x.shape)} on {x.device}"
    return f"the number {x!r}"


def _count_bad(tensor):
    values = tensor.detach().numpy()
    nan, inf = int(np.isnan(values).sum()), int(np.isinf(values).sum())
    kinds = " and ".join(k for k, n in (("nan", nan), ("inf", inf)) if n) or "nan"
    parts = ", ".join(f"{n} {k}" for k, n in (("NaN", nan), ("inf", inf)) if n)
    return kinds, f"{parts} of {values.size} values"


def _site_text(site):
    if site is None:
        return ("  created at: unknown (the op was created before anomaly detection was enabled, "
                "or by a backward pass; run the forward pass inside detect_anomaly() too)")
    return "  created at (most recent user call):\n    " + str(site).replace("\n", "\n    ")


def check_forward(fn, inputs, result):
    """The forward hook: in a thread with detection on, remember where the op was created and
    raise ``AnomalyError`` if its output holds NaN or inf."""
    if not _state.enabled:
        return
    site, in_backward = _locate()
    if in_backward:
        # An op inside some op's backward: check_backward checks what that backward returns.
        return
    fn._anomaly_site = site
    fn._anomaly_inputs = tuple(_describe(x) for x in inputs)
    if not _state.check_nan or not isinstance(result, Tensor) or _all_finite(result):
        return
    op = type(fn).__name__
    kinds, counts = _count_bad(result)
    lines = [f"Function '{op}' returned {kinds} values in its output during forward ({counts}; "
             f"output {_describe(result)})."]
    for i, x in enumerate(inputs):
        note = ""
        if isinstance(x, Tensor) and not _all_finite(x):
            note = "  <- already held NaN/inf before this op (made outside a checked op)"
        lines.append(f"  input {i}: {_describe(x)}{note}")
    lines.append(_site_text(site))
    raise AnomalyError("\n".join(lines), op, "forward", site)


def check_backward(node, input_grads):
    """The backward hook: in a thread with detection on, raise ``AnomalyError`` if a gradient
    ``node.backward`` returned holds NaN or inf, naming the backward op and the user line that
    created the forward op."""
    if not (_state.enabled and _state.check_nan):
        return
    grads = input_grads if type(input_grads) is tuple else (input_grads,)
    for i, grad in enumerate(grads):
        if not isinstance(grad, Tensor) or _all_finite(grad):
            continue
        op = node.name()
        site = getattr(node, "_anomaly_site", None)
        kinds, counts = _count_bad(grad)
        lines = [f"Function '{op}' returned {kinds} values in its {_ordinal(i)} output during "
                 f"backward ({counts}): the gradient for input {i} of the forward op "
                 f"'{type(node).__name__}' is {_describe(grad)}."]
        for j, text in enumerate(getattr(node, "_anomaly_inputs", ())):
            lines.append(f"  forward input {j}: {text}")
        lines.append(_site_text(site))
        raise AnomalyError("\n".join(lines), op, "backward", site)


def _ordinal(i):
    return f"{i}{'th' if 10 <= i % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(i % 10, 'th')}"


class detect_anomaly:
    """Context manager and decorator turning anomaly detection on (PyTorch's name).

    ``with gg.autograd.detect_anomaly(): loss = f(x); loss.backward()`` raises
    ``AnomalyError`` at the first op whose output, or the first gradient, holds NaN or inf; the
    message names the op, its inputs' shapes, dtypes and devices, and the user line that created
    the op. ``check_nan=False`` records creation lines without checking values. Works as
    ``@gg.autograd.detect_anomaly()`` (or without the parentheses) on a function. Slow: use it
    to debug, not to train.
    """

    def __new__(cls, check_nan=True):
        if callable(check_nan):  # used as a bare decorator: @detect_anomaly
            return cls()(check_nan)
        return super().__new__(cls)

    def __init__(self, check_nan=True):
        self.check_nan = bool(check_nan)

    def __enter__(self):
        state = _state  # this thread's: detection in one thread leaves others alone
        state.saved.append((state.enabled, state.check_nan))
        _set_mode(True, self.check_nan)
        return self

    def __exit__(self, *exc):
        _set_mode(*_state.saved.pop())
        return False

    def __call__(self, fn):
        check_nan = self.check_nan

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with detect_anomaly(check_nan):
                return fn(*args, **kwargs)

        return wrapper


def set_detect_anomaly(mode, check_nan=True):
    """Turn anomaly detection on or off for the calling thread
    (``torch.autograd.set_detect_anomaly``)."""
    _set_mode(mode, check_nan)


def is_anomaly_enabled():
    """True while anomaly detection is on in this thread."""
    return _state.enabled


def is_anomaly_check_nan_enabled():
    """True while anomaly detection is on and checks for NaN/inf (``check_nan=True``)."""
    return _state.enabled and _state.check_nan
