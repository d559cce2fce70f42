"""Creation functions: ``tensor``, ``zeros``, ``ones``, ``full``, ``arange``, ``rand``, ``randn``..."""
from . import dtypes as _dtypes
from . import random as _random
from .device_registry import Device, get_backend
from .tensor import Tensor, _shape_args


def _backend(device):
    return get_backend("cpu" if device is None else device)


def _finish(data, backend, requires_grad):
    t = Tensor._make(data, backend, False)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _float_dtype(dtype):
    """``dtype``, or float32 when None (the default of the float creation functions)."""
    return _dtypes.as_dtype(dtype) or _dtypes.DEFAULT_FLOAT


def tensor(data, dtype=None, device=None, requires_grad=False):
    """A new tensor holding a copy of ``data`` (nested lists, a number, a NumPy array or a
    Tensor). Floats default to float32, ints to int64, bools to bool; a NumPy array keeps its
    dtype. ``device`` defaults to cpu (or ``data``'s device for a Tensor)."""
    if isinstance(data, Tensor):
        out = data.detach().to(device or data.device)
        out = out.to(_dtypes.as_dtype(dtype)) if dtype is not None else out
        if out._data is data._data:
            out = Tensor._make(out._backend.contiguous(out._data), out._backend, False)
        return _finish(out._data, out._backend, requires_grad)
    backend = _backend(device)
    try:
        array = backend.from_host(data, _dtypes.as_dtype(dtype))
    except ValueError as exc:
        if "inhomogeneous" not in str(exc):
            raise
        raise ValueError("tensor: the nested lists are ragged; the lists at each depth must all "
                         f"have the same length (NumPy: {exc})") from None
    return _finish(array, backend, requires_grad)


def as_tensor(data, dtype=None, device=None):
    """``data`` as a tensor, without copying when it already is one of that dtype and device."""
    if isinstance(data, Tensor):
        return data.to(device or data.device, dtype=_dtypes.as_dtype(dtype))
    return tensor(data, dtype=dtype, device=device)


def from_numpy(array, device=None):
    """A cpu tensor sharing memory with the NumPy array, as ``torch.from_numpy``: a write
    through either shows in the other, and the tensor keeps the array alive. The dtype is kept.

    As in PyTorch: dtypes gpugrad lacks (uint16, complex, object...) raise TypeError, arrays in
    non-native byte order ValueError, and a read-only array is shared with a warning (in-place
    ops on the tensor then fail). Unlike PyTorch, negative strides are fine. ``device`` is
    gpugrad's own: on any device but cpu the tensor holds a copy (on sim, a modeled
    host-to-device transfer), since device memory cannot alias host memory.
    """
    cpu = get_backend("cpu")
    shared = Tensor._make(cpu.share_host(array), cpu, False)
    if device is None or Device(device).type == "cpu":
        return shared
    return shared.to(device)  # device memory cannot alias host memory: a copy


def full(*shape, fill_value=None, dtype=None, device=None, requires_grad=False):
    """A tensor of ``shape`` filled with ``fill_value``: ``full((2, 3), 7.0)``."""
    if fill_value is None and len(shape) == 2 and isinstance(shape[0], (tuple, list)):
        shape, fill_value = (shape[0],), shape[1]
    if fill_value is None:
        raise TypeError("full() needs a fill_value: full(shape, fill_value)")
    if dtype is None:
        dtype = (_dtypes.bool_ if isinstance(fill_value, bool) else
                 _dtypes.int64 if isinstance(fill_value, int) else _dtypes.DEFAULT_FLOAT)
    backend = _backend(device)
    data = backend.full(_shape_args(shape), fill_value, _dtypes.as_dtype(dtype))
    return _finish(data, backend, requires_grad)


def zeros(*shape, dtype=None, device=None, requires_grad=False):
    """A tensor of zeros: ``zeros(2, 3)`` or ``zeros((2, 3))``; float32 unless ``dtype`` says."""
    return full(_shape_args(shape), 0, dtype=_float_dtype(dtype), device=device,
                requires_grad=requires_grad)


def ones(*shape, dtype=None, device=None, requires_grad=False):
    """A tensor of ones: ``ones(2, 3)`` or ``ones((2, 3))``; float32 unless ``dtype`` says."""
    return full(_shape_args(shape), 1, dtype=_float_dtype(dtype), device=device,
                requires_grad=requires_grad)


def empty(*shape, dtype=None, device=None, requires_grad=False):
    """Like ``zeros`` (gpugrad never hands out uninitialized memory)."""
    return zeros(*shape, dtype=dtype, device=device, requires_grad=requires_grad)


def _like(fn, input, dtype, device, requires_grad, **kw):
    """``fn`` with ``input``'s shape, and its dtype and device unless given."""
    return fn(input.shape, dtype=dtype or input.dtype, device=device or input.device,
              requires_grad=requires_grad, **kw)


def zeros_like(input, dtype=None, device=None, requires_grad=False):
    """Zeros with ``input``'s shape, dtype and device (unless ``dtype``/``device`` say)."""
    return _like(zeros, input, dtype, device, requires_grad)


def ones_like(input, dtype=None, device=None, requires_grad=False):
    """Ones with ``input``'s shape, dtype and device (unless ``dtype``/``device`` say)."""
    return _like(ones, input, dtype, device, requires_grad)


def full_like(input, fill_value, dtype=None, device=None, requires_grad=False):
    """``fill_value`` everywhere, with ``input``'s shape, dtype and device (unless given)."""
    return _like(full, input, dtype, device, requires_grad, fill_value=fill_value)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    """Values from ``start`` to ``end`` (exclusive) by ``step``; ``arange(n)`` counts 0..n-1.
    The dtype is int64 when all arguments are ints, else float32."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if dtype is None:
        ints = all(isinstance(v, int) for v in (start, end, step))
        dtype = _dtypes.int64 if ints else _dtypes.DEFAULT_FLOAT
    backend = _backend(device)
    data = backend.arange(start, end, step, _dtypes.as_dtype(dtype))
    return _finish(data, backend, requires_grad)


def _random_tensor(kind, shape, dtype, device, requires_grad):
    dtype = _float_dtype(dtype)
    if not dtype.is_floating_point:
        raise TypeError(f"{'rand' if kind == 'uniform' else 'randn'} needs a floating dtype, "
                        f"got {dtype}")
    backend = _backend(device)
    data = backend.random(kind, _shape_args(shape), dtype, _random.next_seed())
    return _finish(data, backend, requires_grad)


def rand(*shape, dtype=None, device=None, requires_grad=False):
    """Uniform random values in [0, 1), from the generator seeded by ``gg.manual_seed``."""
    return _random_tensor("uniform", shape, dtype, device, requires_grad)


def randn(*shape, dtype=None, device=None, requires_grad=False):
    """Standard normal random values, from the generator seeded by ``gg.manual_seed``."""
    return _random_tensor("normal", shape, dtype, device, requires_grad)


def rand_like(input, dtype=None, device=None, requires_grad=False):
    """``rand`` with ``input``'s shape, dtype and device (unless ``dtype``/``device`` say)."""
    return _like(rand, input, dtype, device, requires_grad)


def randn_like(input, dtype=None, device=None, requires_grad=False):
    """``randn`` with ``input``'s shape, dtype and device (unless ``dtype``/``device`` say)."""
    return _like(randn, input, dtype, device, requires_grad)


def randint(low, high=None, size=None, device=None):
    """int64 values drawn uniformly from [low, high); ``randint(high, size=(n,))`` works too."""
    if high is None:
        low, high = 0, low
    if size is None:
        raise TypeError("randint() needs size=(...)")
    backend = _backend(device)
    data = backend.randint(low, high, _shape_args((size,) if isinstance(size, int) else size),
                           _random.next_seed())
    return Tensor._make(data, backend, False)


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    """The identity matrix (``n`` x ``m``)."""
    m = n if m is None else m
    rows = arange(n, device=device).unsqueeze(1)
    cols = arange(m, device=device).unsqueeze(0)
    out = (rows == cols).to(_float_dtype(dtype))
    return out.requires_grad_() if requires_grad else out


__all__ = ["tensor", "as_tensor", "from_numpy", "full", "zeros", "ones", "empty", "zeros_like",
           "ones_like", "full_like", "arange", "rand", "randn", "rand_like", "randn_like",
           "randint", "eye", "Device"]
