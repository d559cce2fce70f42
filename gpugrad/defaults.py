"""The default device of the creation functions, as ``torch.set_default_device`` keeps it.

Per thread, as in PyTorch (a new thread starts on cpu): ``set_device`` replaces the thread's
default, and ``push_device``/``pop_device`` nest a temporary one over it (``with
gg.device("sim"):``). Only Device objects are stored; parsing names happens above this layer.
The default float dtype is process-wide, as in PyTorch, and lives in ``gpugrad.dtypes``.
"""
import threading

_local = threading.local()


def device():
    """The calling thread's default device (a ``gg.Device``), or None for cpu."""
    stack = getattr(_local, "stack", None)
    if stack:
        return stack[-1]
    return getattr(_local, "device", None)


def set_device(dev):
    """Make ``dev`` (a ``gg.Device``, or None for cpu) the calling thread's default device."""
    _local.device = dev


def push_device(dev):
    """Use ``dev`` as the calling thread's default device until the matching ``pop_device``."""
    stack = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    stack.append(dev)


def pop_device():
    """Undo the latest ``push_device`` of the calling thread."""
    _local.stack.pop()
