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


# The float32 matmul precision, process-wide as in PyTorch: "highest" computes float32 GEMMs in
# full float32; "high" and "medium" let them run on TF32 tensor cores. Kept here, below the
# devices, so the sim's cost model and the cuda backend read one setting without importing
# each other (``gg.backends.cuda.matmul.allow_tf32`` is a view of it).
FLOAT32_MATMUL_PRECISIONS = ("highest", "high", "medium")
_float32_matmul_precision = "highest"


def get_float32_matmul_precision():
    """The float32 matmul precision: "highest" (the default), "high" or "medium"."""
    return _float32_matmul_precision


def set_float32_matmul_precision(precision):
    """Set how float32 matmuls compute, process-wide, as in PyTorch: "highest" in full float32
    (the default), "high" or "medium" on TF32 tensor cores where the GPU has them (the same
    switch as ``gg.backends.cuda.matmul.allow_tf32``; sim devices model the TF32 rate).
    Matmuls on cpu are unaffected."""
    global _float32_matmul_precision
    if precision not in FLOAT32_MATMUL_PRECISIONS:
        raise ValueError(f"{precision!r} is not one of 'highest', 'high', or 'medium'; pass one "
                         f"of them, e.g. gg.set_float32_matmul_precision(\"high\")")
    _float32_matmul_precision = precision


def matmul_allows_tf32():
    """True when float32 matmuls may run on TF32 tensor cores (precision "high" or "medium"):
    one cheap read, for a cost model's cache key."""
    return _float32_matmul_precision != "highest"
