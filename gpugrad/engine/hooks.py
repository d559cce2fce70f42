"""Engine hooks: callbacks a tool (anomaly detection, a tracer) registers to see every op.

- A **forward hook** ``hook(fn, inputs, output)`` runs after each op's forward, with the op
  (its ``Function`` instance), the op's inputs as passed to it, and the output Tensor.
- A **backward hook** ``hook(fn, input_grads)`` runs after each op's backward during
  ``backward()`` / ``gg.grad``, with the gradients it returned for its inputs.
- A **backward pre-hook** ``hook(fn, grad_output)`` runs just before each op's backward, with
  the gradient of its output (the profiler times each node's backward between the two).

Hooks are process-wide and run in the thread that runs the op; a tool that cares about one
thread checks its own thread-local state. With no hook registered an op pays one test of an
empty list. ``register_*_hook`` returns a handle whose ``remove()`` unregisters the hook.
"""
import itertools
import threading

# Read by Function.apply and the backward loop on every op: plain lists, replaced (never
# mutated) under the lock, so a reader iterates a consistent snapshot without locking.
forward_hooks: list = []
backward_hooks: list = []
backward_pre_hooks: list = []
_lock = threading.Lock()


class RemovableHandle:
    """Returned by ``register_hook`` and the engine's hook registries; ``handle.remove()``
    unregisters the hook (a second ``remove()`` does nothing)."""

    _ids = itertools.count(1)  # next() on a count is atomic: threads never share an id

    def __init__(self, hooks):
        self._hooks = hooks
        self.id = next(RemovableHandle._ids)

    def remove(self):
        self._hooks.pop(self.id, None)


class _EngineHookHandle:
    __slots__ = ("_name", "_hook")

    def __init__(self, name, hook):
        self._name, self._hook = name, hook

    def remove(self):
        _replace(self._name, lambda hooks: [h for h in hooks if h is not self._hook])


def _replace(name, change):
    global forward_hooks, backward_hooks, backward_pre_hooks
    with _lock:
        if name == "forward":
            forward_hooks = change(forward_hooks)
        elif name == "backward_pre":
            backward_pre_hooks = change(backward_pre_hooks)
        elif name == "backward":
            backward_hooks = change(backward_hooks)
        else:
            raise ValueError(f"unknown engine hook kind {name!r}: expected 'forward', "
                             f"'backward_pre' or 'backward'")


def register_forward_hook(hook):
    """Call ``hook(fn, inputs, output)`` after every op's forward (in every thread)."""
    _replace("forward", lambda hooks: hooks + [hook])
    return _EngineHookHandle("forward", hook)


def register_backward_hook(hook):
    """Call ``hook(fn, input_grads)`` after every op's backward (in every thread)."""
    _replace("backward", lambda hooks: hooks + [hook])
    return _EngineHookHandle("backward", hook)


def register_backward_pre_hook(hook):
    """Call ``hook(fn, grad_output)`` just before every op's backward (in every thread)."""
    _replace("backward_pre", lambda hooks: hooks + [hook])
    return _EngineHookHandle("backward_pre", hook)
