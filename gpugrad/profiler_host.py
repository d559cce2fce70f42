"""Host-side spans for ``gg.profiler``: each op's measured host time, each autograd node's
backward and ``record_function``.

While a ``profile`` records the CPU activity, every op's ``Function.apply`` (the one entry of
all built-in ops) is timed with ``time.perf_counter_ns``, on every device: an op's *total* time
runs from its call to its return, its *self* time leaves out the ops and ``record_function``
spans nested in it (a custom Function's forward, say). Each autograd node that runs in backward
is timed too, between the engine's backward pre-hook and hook, as two nested spans named as
PyTorch names them: ``autograd::engine::evaluate_function: MulBackward0`` around
``MulBackward0`` (its input shape: the gradient's). Outside such a block ``apply`` is the
engine's own and no hook is registered, so ops cost nothing extra.

Each span has an id, and the innermost open span of a thread is its launch span
(``backends.events.launch_span()``): devices tag the kernels they record with it, so the
profiler charges each kernel's device time to the spans that were open when it was launched.

Each span is reported to every recorder started with ``start(recorder)`` as
``recorder.add_host_span(name, thread, start_ns, dur_ns, self_ns, shapes, span_id, parent_id)``
(``parent_id``: the span it nests in, or None).
"""
import functools
import itertools
import re
import threading
import time

from .backends.events import set_launch_span
from .engine import hooks as _engine_hooks
from .engine.function import Function as _EngineFunction

BACKWARD_PREFIX = "autograd::engine::evaluate_function: "

_state = threading.local()  # .stack: this thread's open spans (see _open)
_lock = threading.Lock()
_recorders: list = []  # profiles recording host spans; replaced, never changed in place
_hook_handles: list = []  # the engine's backward hooks while a profile records
_engine_apply = _EngineFunction.__dict__["apply"]
_span_ids = itertools.count(1)  # next() on a count is atomic: threads never share an id


def _stack():
    stack = getattr(_state, "stack", None)
    if stack is None:
        stack = _state.stack = []
    return stack


def _open(name, shapes, node=None):
    """Open a span: [name, start ns, nested ns, shapes, id, parent id, backward node]."""
    stack = _stack()
    span_id = next(_span_ids)
    frame = [name, time.perf_counter_ns(), 0, shapes, span_id, stack[-1][4] if stack else None,
             node]
    stack.append(frame)
    set_launch_span(span_id)
    return frame


def _close(frame):
    end = time.perf_counter_ns()
    stack = _stack()
    if not any(open_frame is frame for open_frame in stack):
        return  # already closed: the profile stopped while the span was open
    # a backward that raised leaves its node's spans open above this one: they end here too
    while True:
        top = stack.pop()
        _report(top, end, stack)
        if top is frame:
            break
    set_launch_span(stack[-1][4] if stack else None)


def _report(frame, end, stack):
    name, start, child, shapes, span_id, parent, _node = frame
    dur = end - start
    if stack:
        stack[-1][2] += dur
    thread = threading.get_ident()
    for recorder in _recorders:
        recorder.add_host_span(name, thread, start, dur, dur - child, shapes, span_id, parent)


def _shapes(inputs):
    return tuple(list(x.shape) if hasattr(x, "shape") else [] for x in inputs)


_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def op_name(cls):
    """The row name of an op class: ``Matmul`` -> ``matmul``, ``MSELoss`` -> ``mse_loss``."""
    return _CAMEL.sub("_", cls.__name__).lower()


def _timed_apply(cls, *inputs, **params):
    frame = _open(op_name(cls), _shapes(inputs) if _state_shapes() else ())
    try:
        return _engine_apply.__func__(cls, *inputs, **params)
    finally:
        _close(frame)


def _before_backward(node, grad):
    name = node.name()
    _open(BACKWARD_PREFIX + name, ())
    _open(name, _shapes((grad,)) if _state_shapes() else (), node)


def _after_backward(node, _input_grads):
    stack = _stack()
    if len(stack) >= 2 and stack[-1][6] is node:
        inner, outer = stack[-1], stack[-2]
        _close(inner)
        _close(outer)


def _state_shapes():
    return any(r.record_shapes for r in _recorders)


def start(recorder):
    """Send host spans to ``recorder`` until ``stop(recorder)``; the first one times ops."""
    global _recorders, _hook_handles
    with _lock:
        if not _recorders:
            _EngineFunction.apply = classmethod(_timed_apply)
            _hook_handles = [_engine_hooks.register_backward_pre_hook(_before_backward),
                             _engine_hooks.register_backward_hook(_after_backward)]
        _recorders = _recorders + [recorder]


def stop(recorder):
    """Stop sending spans to ``recorder``; after the last one, ``apply`` is the engine's."""
    global _recorders, _hook_handles
    with _lock:
        _recorders = [r for r in _recorders if r is not recorder]
        if not _recorders:
            _EngineFunction.apply = _engine_apply
            for handle in _hook_handles:
                handle.remove()
            _hook_handles = []
            _stack().clear()  # spans left open by an exception in the block
            set_launch_span(None)


class record_function:  # noqa: N801  (PyTorch's name)
    """A named span of host time (``with record_function("forward"): ...``, or a decorator
    ``@record_function("step")``): a row in ``key_averages()`` and a span in the trace, its
    self time excluding the ops inside. Costs nothing outside a ``profile`` block."""

    def __init__(self, name, args=None):
        self.name = name
        self.args = args
        self._frame = None

    def __enter__(self):
        if _recorders:
            self._frame = _open(self.name, ())
        return self

    def __exit__(self, *exc):
        if self._frame is not None:
            frame, self._frame = self._frame, None
            _close(frame)
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with record_function(self.name, self.args):
                return fn(*args, **kwargs)

        return wrapper


__all__ = ["record_function", "start", "stop", "op_name"]
