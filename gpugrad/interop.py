"""NumPy and DLPack interop: ``np.asarray(t)``, NumPy ufuncs and functions on tensors, DLPack.

The protocol methods are bound onto ``Tensor`` here, as ``tensor_methods`` binds the ops:

- ``__array__``: ``np.asarray(t)`` is the cpu tensor's own array (no copy), a sim tensor's values
  (a modeled device-to-host copy, as ``numpy()``), and a TypeError on cuda, as in PyTorch.
- ``__array_ufunc__``: ``np.exp(t)``, ``ndarray * t``, ``np.float32(2) * t``... run gpugrad's ops
  (so autograd records them) and return tensors; a ufunc gpugrad has no op for is a TypeError.
- ``__array_function__``: ``np.sum(t, axis=0)``, ``np.concatenate([t, u])``... likewise, with
  NumPy's keywords translated (``axis`` -> ``dim``, ``keepdims`` -> ``keepdim``).
- DLPack: ``t.__dlpack__()``, ``t.__dlpack_device__()`` and ``gg.from_dlpack(x)`` share memory
  with NumPy, PyTorch and CuPy without copies; the per-device parts are backend methods
  (``Backend.dlpack``, ``dlpack_device``, ``from_dlpack``).

PyTorch's rules apply throughout: a tensor that requires grad is never handed out as an array.
NumPy is imported where it is used (NumPy itself calls these methods), so ``import gpugrad``
does not import it.
"""
from . import dtypes as _dtypes
from .device_registry import get_backend
from .tensor import Tensor
from .tensor_api import tensor_method as _method

NUMPY_GRAD_ERROR = ("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
                    "instead.")
EXPORT_GRAD_ERROR = "Can't export tensors that require gradient, use tensor.detach()"

# DLPack's device types (dlpack.h, DLDeviceType), and which gpugrad device type reads each
DLPACK_DEVICE_NAMES = {1: "kDLCPU", 2: "kDLCUDA", 3: "kDLCUDAHost", 4: "kDLOpenCL",
                       7: "kDLVulkan", 8: "kDLMetal", 9: "kDLVPI", 10: "kDLROCM",
                       11: "kDLROCMHost", 12: "kDLExtDev", 13: "kDLCUDAManaged", 14: "kDLOneAPI",
                       15: "kDLWebGPU", 16: "kDLHexagon", 17: "kDLMAIA"}
DLPACK_READERS = {1: "cpu", 3: "cpu", 11: "cpu", 2: "cuda", 13: "cuda"}
_HOST_MEMORY = frozenset(kind for kind, reader in DLPACK_READERS.items() if reader == "cpu")
_NOT_GIVEN = object()  # NumPy's "<no value>": the keyword was not passed


# ---- np.asarray(t) ----------------------------------------------------------------------------
def _in_device_memory(tensor):
    """True when the tensor's values sit in real device memory NumPy cannot read (cuda).

    Decided by where DLPack says the memory is; a backend that cannot export at all (sim, whose
    device memory is only modeled) is read back with a copy, as ``numpy()`` does."""
    try:
        kind, _ = tensor._backend.dlpack_device(tensor._data)
    except BufferError:
        return False
    return int(kind) not in _HOST_MEMORY


@_method("__array__")
def array(self, dtype=None, copy=None):
    """The values as a NumPy array, for ``np.asarray(t)`` and ``np.array(t)``.

    On cpu this is the tensor's own array (writes through either show in both) unless ``copy``
    is true or ``dtype`` needs a conversion; ``copy=False`` where a copy is needed raises
    ValueError, as NumPy 2 expects. On sim it is a modeled device-to-host copy (as ``numpy()``);
    a cuda tensor raises TypeError (use ``.cpu()`` first), and a tensor that requires grad
    RuntimeError (use ``.detach()``), as in PyTorch.
    """
    if self._requires_grad:
        raise RuntimeError(NUMPY_GRAD_ERROR)
    if _in_device_memory(self):
        raise TypeError(f"can't convert {self.device} device type tensor to numpy. Use "
                        f"Tensor.cpu() to copy the tensor to host memory first.")
    import numpy as np

    data = self._data
    host = self._backend.to_host(data)
    copied = host is not data  # a read-back from a (simulated) device
    converts = dtype is not None and np.dtype(dtype) != host.dtype
    if copy is False and (copied or converts):
        why = (f"a {self.device} tensor is read back with a device-to-host copy" if copied else
               f"converting {host.dtype} to {np.dtype(dtype)} copies")
        raise ValueError(f"Unable to avoid copy while creating an array as requested: {why}; "
                         f"use np.asarray(t) (copy=None) to allow the copy")
    if converts:
        return host.astype(dtype)
    return host.copy() if copy and not copied else host


# ---- NumPy ufuncs -----------------------------------------------------------------------------
# ufunc name -> Tensor method; looked up when called, so ops added later join without edits here
UNARY_UFUNCS = {"negative": "neg", "positive": "__pos__", "exp": "exp", "log": "log",
                "log1p": "log1p", "expm1": "expm1", "sqrt": "sqrt", "absolute": "abs",
                "tanh": "tanh", "sign": "sign", "square": "square", "logical_not": "logical_not",
                "sin": "sin", "cos": "cos", "floor": "floor", "ceil": "ceil", "trunc": "trunc",
                "isnan": "isnan", "isinf": "isinf", "isfinite": "isfinite", "log2": "log2",
                "log10": "log10", "reciprocal": "reciprocal", "invert": "bitwise_not"}
# ufunc name -> (method on a tensor first operand, method on a tensor second operand)
BINARY_UFUNCS = {"add": ("__add__", "__radd__"), "subtract": ("__sub__", "__rsub__"),
                 "multiply": ("__mul__", "__rmul__"), "divide": ("__truediv__", "__rtruediv__"),
                 "true_divide": ("__truediv__", "__rtruediv__"),  # NumPy 1's name of divide
                 "power": ("__pow__", "__rpow__"), "matmul": ("__matmul__", "__rmatmul__"),
                 "maximum": ("maximum", "maximum"), "minimum": ("minimum", "minimum"),
                 "equal": ("__eq__", "__eq__"), "not_equal": ("__ne__", "__ne__"),
                 "less": ("__lt__", "__gt__"), "less_equal": ("__le__", "__ge__"),
                 "greater": ("__gt__", "__lt__"), "greater_equal": ("__ge__", "__le__"),
                 "logical_and": ("logical_and", "logical_and"),
                 "logical_or": ("logical_or", "logical_or"),
                 "logical_xor": ("logical_xor", "logical_xor"),
                 "floor_divide": ("__floordiv__", "__rfloordiv__"),
                 "remainder": ("__mod__", "__rmod__"),
                 "bitwise_and": ("__and__", "__rand__"), "bitwise_or": ("__or__", "__ror__"),
                 "bitwise_xor": ("__xor__", "__rxor__"),
                 "left_shift": ("__lshift__", "__rlshift__"),
                 "right_shift": ("__rshift__", "__rrshift__")}
# ufunc.reduce -> the Tensor reduction
REDUCE_UFUNCS = {"add": "sum", "maximum": "amax", "minimum": "amin"}
_ADVICE = ("use the Tensor methods, or convert explicitly with t.detach().numpy() "
           "(t.detach().cpu().numpy() from a GPU)")


def _first_tensor(items):
    for x in items:
        if isinstance(x, Tensor):
            return x
        if isinstance(x, (list, tuple)):
            found = _first_tensor(x)
            if found is not None:
                return found
    return None


def _operand(x, like, name):
    """A ufunc or function operand for gpugrad's ops: tensors and Python numbers as they are,
    NumPy scalars as Python numbers (weak, as in PyTorch: ``np.float32(2) * t`` keeps t's
    dtype), arrays and lists as tensors on ``like``'s device (arrays keep their dtype). None
    for anything else (another library's array), so NumPy can try its other overrides."""
    if isinstance(x, Tensor) or type(x) in (bool, int, float):
        return x
    import numpy as np

    if isinstance(x, np.generic):
        return _dtypes.as_number(x, name)
    if isinstance(x, (np.ndarray, list, tuple)):
        backend = like._backend
        return Tensor._make(backend.from_host(x), backend, False)
    return None


def _unsupported_keywords(where, kwargs):
    if kwargs:
        raise TypeError(f"{where}: the keyword{'s' if len(kwargs) > 1 else ''} "
                        f"{', '.join(sorted(kwargs))} {'are' if len(kwargs) > 1 else 'is'} not "
                        f"supported on gpugrad tensors; {_ADVICE}")


@_method("__array_ufunc__")
def array_ufunc(self, ufunc, method, *inputs, **kwargs):
    """NumPy ufuncs on tensors run gpugrad's ops and return tensors (autograd records them).

    ``np.exp(t)``, ``np.maximum(t, arr)``, ``arr * t`` and ``np.float32(2) * t`` map onto the
    Tensor ops; a NumPy array operand becomes a tensor on the tensor's device. ``np.add.reduce``,
    ``np.maximum.reduce`` and ``np.minimum.reduce`` map onto ``sum``/``amax``/``amin``. Any
    other ufunc or method, ``out=`` and other keywords raise a TypeError naming the ufunc.
    """
    name = ufunc.__name__
    where = f"np.{name}" if method == "__call__" else f"np.{name}.{method}"
    out = kwargs.pop("out", None)
    if out is not None and any(o is not None for o in out):
        raise TypeError(f"{where}(..., out=...) is not supported on gpugrad tensors: gpugrad "
                        f"never writes into NumPy arrays; use the result (or an in-place Tensor "
                        f"method such as t.add_()), or {_ADVICE}")
    operands = [_operand(x, self, name) for x in inputs]
    if any(x is None for x in operands):
        return NotImplemented
    if method == "reduce" and name in REDUCE_UFUNCS:
        return _ufunc_reduce(where, REDUCE_UFUNCS[name], operands[0], **kwargs)
    if method == "__call__":
        _unsupported_keywords(where, kwargs)
        if len(operands) == 1 and name in UNARY_UFUNCS:
            fn = getattr(Tensor, UNARY_UFUNCS[name], None)
            if fn is not None:
                return fn(operands[0])
        elif len(operands) == 2 and name in BINARY_UFUNCS:
            return _binary_ufunc(where, BINARY_UFUNCS[name], *operands)
    raise TypeError(f"{where} is not supported on gpugrad tensors (gpugrad has no op for it); "
                    f"{_ADVICE}")


def _binary_ufunc(where, methods, a, b):
    forward, reflected = methods
    tensor_first = isinstance(a, Tensor)
    fn = getattr(Tensor, forward if tensor_first else reflected, None)
    if fn is None:
        raise TypeError(f"{where} is not supported on gpugrad tensors (gpugrad has no "
                        f"{forward.strip('_')} op); {_ADVICE}")
    result = fn(a, b) if tensor_first else fn(b, a)
    if result is NotImplemented:
        raise TypeError(f"{where}: unsupported operand types {type(a).__name__} and "
                        f"{type(b).__name__}")
    return result


def _ufunc_reduce(where, reduction, t, axis=0, dtype=None, keepdims=False, **rest):
    _unsupported_keywords(where, rest)
    if dtype is not None:
        if reduction != "sum":
            _unsupported_keywords(where, {"dtype": dtype})
        t = t.to(dtype)
    return getattr(t, reduction)(dim=axis, keepdim=keepdims)


# ---- NumPy functions ----------------------------------------------------------------------------
@_method("__array_function__")
def array_function(self, func, types, args, kwargs):
    """NumPy functions on tensors (NEP 18): a chosen set run gpugrad's ops and return tensors.

    ``np.sum``, ``np.mean``, ``np.max``/``amax``, ``np.min``/``amin``, ``np.argmax``,
    ``np.argmin``, ``np.var``, ``np.std``, ``np.any``, ``np.all``, ``np.reshape``, ``np.ravel``,
    ``np.transpose``, ``np.swapaxes``, ``np.squeeze``, ``np.expand_dims``, ``np.broadcast_to``,
    ``np.concatenate``, ``np.stack``, ``np.where``, ``np.dot``, ``np.clip``, ``np.zeros_like``
    (``ones_like``, ``full_like``, ``empty_like``), ``np.shape``, ``np.ndim``, ``np.size``;
    NumPy's keywords are translated (``axis`` -> ``dim``, ``keepdims`` -> ``keepdim``,
    ``ddof`` -> ``correction``) and the others refused by name. ``np.allclose`` and
    ``np.array_equal`` compare the values as ``np.asarray(t)`` reads them. Any other NumPy
    function raises a TypeError naming it.
    """
    return numpy_functions.dispatch(self, func, types, args, kwargs)


# ---- DLPack and the CUDA array interface -------------------------------------------------------
@_method("__dlpack__")
def dlpack(self, stream=None, *, max_version=None, dl_device=None, copy=None):
    """A DLPack capsule sharing this tensor's memory (the producer side of ``from_dlpack``).

    ``torch.from_dlpack(t)``, ``np.from_dlpack(t)`` and ``cupy.from_dlpack(t)`` call it. The
    keywords are those of the DLPack protocol and go to the backend's array (NumPy or CuPy),
    which takes the ones it supports (NumPy 1.x takes only ``stream``). A tensor that requires
    grad is refused, as in PyTorch; a sim tensor too (its device memory is only modeled).
    """
    if self._requires_grad:
        raise BufferError(EXPORT_GRAD_ERROR)
    return self._backend.dlpack(self._data, stream=stream, max_version=max_version,
                                dl_device=dl_device, copy=copy)


@_method("__dlpack_device__")
def dlpack_device(self):
    """``(device_type, device_id)`` as DLPack numbers them: ``(1, 0)`` (kDLCPU) on cpu,
    ``(2, N)`` (kDLCUDA) on ``cuda:N``; BufferError on sim."""
    return self._backend.dlpack_device(self._data)


def _cuda_array_interface(self):
    data = self._data
    if getattr(type(data), "__cuda_array_interface__", None) is None:
        raise AttributeError(f"Can't get __cuda_array_interface__ on a {self.device} tensor: "
                             f"only cuda tensors live in CUDA memory; copy it there with .cuda()")
    if self._requires_grad:
        raise RuntimeError("Can't get __cuda_array_interface__ on Variable that requires grad. "
                           "If gradients aren't required, use var.detach() to get Variable that "
                           "doesn't require grad.")
    return data.__cuda_array_interface__


Tensor.__cuda_array_interface__ = property(_cuda_array_interface, doc=(
    "CuPy's ``__cuda_array_interface__`` of a cuda tensor's array (Numba, CuPy and PyTorch read "
    "it without copying); AttributeError on other devices, RuntimeError when it requires grad."))


def from_dlpack(ext_tensor):
    """A tensor sharing memory with ``ext_tensor`` through DLPack, as ``torch.from_dlpack``.

    ``ext_tensor`` is any array with ``__dlpack__`` and ``__dlpack_device__``: a NumPy array or
    a PyTorch tensor in host memory gives a cpu tensor, a CuPy array or PyTorch CUDA tensor
    on GPU ``N`` a ``cuda:N`` tensor; no values are copied, so a write through either side is
    seen by the other. Memory on other devices (ROCm, Metal...) raises BufferError naming the
    device type; dtypes gpugrad lacks raise TypeError.
    """
    exporter = getattr(ext_tensor, "__dlpack_device__", None)
    if exporter is None or not hasattr(ext_tensor, "__dlpack__"):
        raise TypeError(f"from_dlpack expects an array with __dlpack__ and __dlpack_device__ "
                        f"(a NumPy array, a PyTorch, CuPy or gpugrad tensor), got "
                        f"{type(ext_tensor).__name__}; pass the array itself, not a capsule")
    kind, index = (int(v) for v in exporter())
    reader = DLPACK_READERS.get(kind)
    if reader is None:
        name = DLPACK_DEVICE_NAMES.get(kind, "an unknown device type")
        readable = ", ".join(f"{DLPACK_DEVICE_NAMES[k]} (on {d})" for k, d in
                             DLPACK_READERS.items())
        raise BufferError(f"from_dlpack: the array lives on DLPack device type {kind} ({name}), "
                          f"which gpugrad cannot read; gpugrad reads {readable}. Copy it to the "
                          f"host first (for example with the library's .cpu())")
    backend = get_backend(reader if reader == "cpu" else f"{reader}:{index}")
    return Tensor._make(backend.from_dlpack(ext_tensor), backend, False)


# NumPy functions on tensors (``np.concatenate(ts)``...): a table that names this module's
# helpers, so it loads after them.
from . import numpy_functions  # noqa: E402
