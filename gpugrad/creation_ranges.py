"""Ranges with PyTorch's signatures and values: ``arange``, ``linspace``, ``logspace``, ``eye``.

Each is computed the way PyTorch's CPU kernel computes it, so the values agree with PyTorch's
(to the last bit for ``arange``, within an ulp for ``linspace``/``logspace``): a float
``arange`` as ``start + step * i`` in float64 rounded once (NumPy's float32 ``arange`` drifts by
an ulp or more), ``linspace``/``logspace`` in the result dtype, counting from both ends.
"""
import math

from . import dtypes as _dtypes
from .creation import _backend, _finish, _float_dtype
from .tensor import Tensor


def _number(value, name):
    """A Python number from ``value`` (a number, a NumPy scalar or a 0-d tensor)."""
    if isinstance(value, Tensor):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            kind = _dtypes.scalar_dtype(value)
        except TypeError:
            raise TypeError(f"{name}(): expected a number, got {type(value).__name__}") from None
        value = int(value) if kind is _dtypes.int64 else float(value)
    return value


def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Values from ``start`` to ``end`` (exclusive) by ``step``; ``arange(n)`` counts 0..n-1.
    The dtype is int64 when all arguments are integers, else the default float dtype."""
    if end is None:
        start, end = 0, start
    start, end, step = (_number(v, "arange") for v in (start, end, step))
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError("upper bound and lower bound inconsistent with step sign")
    if dtype is None:
        ints = all(isinstance(v, int) for v in (start, end, step))
        dtype = _dtypes.int64 if ints else _dtypes.DEFAULT_FLOAT
    dtype = _dtypes.as_dtype(dtype)
    backend = _backend(device)
    if dtype.is_floating_point:  # start + step * i in float64, rounded once, as PyTorch
        f64 = _dtypes.float64
        count = max(0, math.ceil((end - start) / step))
        index = backend.arange(0, count, 1, f64)
        data = backend.binary("add", backend.binary("mul", index, step, f64), start, f64)
        if dtype is not f64:
            data = backend.cast(data, dtype)
    else:
        data = backend.arange(start, end, step, dtype)
    return _finish(data, backend, requires_grad)


def _linspace(start, end, steps, dtype, backend):
    """``steps`` values from ``start`` to ``end`` as PyTorch's kernel computes them: in the
    result dtype for floats (float64 for integers, then truncated), the first half counted up
    from ``start`` and the second half down from ``end``, so both ends are exact."""
    calc = dtype if dtype.is_floating_point else _dtypes.float64
    first = backend.full((), start, calc)
    if steps == 1:
        return backend.cast(backend.reshape(first, (1,)), dtype)
    last = backend.full((), end, calc)
    step = backend.binary("div", backend.binary("sub", last, first, calc), steps - 1, calc)
    index = backend.arange(0, steps, 1, calc)
    up = backend.binary("add", first, backend.binary("mul", step, index, calc), calc)
    from_end = backend.binary("sub", steps - 1, index, calc)
    down = backend.binary("sub", last, backend.binary("mul", step, from_end, calc), calc)
    out = backend.where(backend.binary("lt", index, steps // 2, calc), up, down, calc)
    return out if calc is dtype else backend.cast(out, dtype)


def _check_steps(steps, name):
    if isinstance(steps, bool) or not isinstance(steps, int):
        raise TypeError(f"{name}(): argument 'steps' must be int, not {type(steps).__name__}")
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` (both included), as
    ``torch.linspace``; of the default float dtype unless ``dtype`` says (an integer dtype
    truncates, as in PyTorch)."""
    _check_steps(steps, "linspace")
    start, end = _number(start, "linspace"), _number(end, "linspace")
    dtype = _float_dtype(dtype)
    backend = _backend(device)
    data = _linspace(float(start), float(end), steps, dtype, backend)
    return _finish(data, backend, requires_grad)


def logspace(start, end, steps, base=10.0, *, dtype=None, device=None,
             requires_grad=False) -> Tensor:
    """``base ** linspace(start, end, steps)``, as ``torch.logspace``; of the default float
    dtype unless ``dtype`` says."""
    _check_steps(steps, "logspace")
    start, end = _number(start, "logspace"), _number(end, "logspace")
    base = float(_number(base, "logspace"))
    dtype = _float_dtype(dtype)
    backend = _backend(device)
    calc = _dtypes.float64  # (rounded once at the end, as PyTorch's are)
    exponents = _linspace(float(start), float(end), steps, calc, backend)
    data = backend.binary("pow", base, exponents, calc)
    data = data if calc is dtype else backend.cast(data, dtype)
    return _finish(data, backend, requires_grad)


def eye(n, m=None, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """The ``n`` x ``m`` identity matrix (``m`` defaults to ``n``), as ``torch.eye``; of the
    default float dtype unless ``dtype`` says."""
    m = n if m is None else m
    for name, value in (("n", n), ("m", m)):
        if value < 0:
            raise RuntimeError(f"{name} must be greater or equal to 0, got {value}")
    backend = _backend(device)
    rows = backend.reshape(backend.arange(0, n, 1, _dtypes.int64), (n, 1))
    cols = backend.reshape(backend.arange(0, m, 1, _dtypes.int64), (1, m))
    data = backend.cast(backend.binary("eq", rows, cols), _float_dtype(dtype))
    return _finish(data, backend, requires_grad)
