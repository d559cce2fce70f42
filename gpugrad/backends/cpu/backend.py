"""The ``cpu`` backend: the contract on NumPy. It is also the reference the other backends match.

The NumPy computations themselves (PyTorch's dtype rules on NumPy arrays, the fused kernels'
reference implementations) live in ``numpy_ops``. The ``sim`` backend computes its values by
calling this backend.
"""
import math
import warnings

import numpy as np

from ... import dtypes
from . import pinned
from .numpy_ops import (BINARY, F32, F64, FLOAT_RESULT_OPS, GG_DTYPE, LOW_PRECISION, NP_DTYPE,
    UNARY, WEAK_SCALARS, adam_step_numpy, as_array, basic_view_index, bias_act_backward_numpy,
    bias_act_grads_numpy, bias_act_numpy, binary_values, gg_dtype, host_array, matmul_values,
    numpy_dtype, random_values, reduce_values, scalar_as, scan_values,
    sgd_step_numpy, sort_values, softmax_cross_entropy_backward_numpy, softmax_cross_entropy_numpy,
    unary_values, weak_numbers, where_values)
from ..base import Backend
from .windows import (col2im_numpy, im2col_numpy, max_pool2d_backward_numpy,
                      max_pool2d_numpy)

_SMALL = 1 << 14  # elements; below this, materializing a broadcast is cheaper than a view
_ndarray = np.ndarray


class NumpyBackend(Backend):
    """The contract on NumPy arrays in host memory."""

    def __init__(self, device):
        self.device = device

    def from_host(self, data, dtype=None):
        return host_array(data, dtype)

    def to_host(self, a):
        return a

    def from_backend(self, a, source):
        return np.array(source.to_host(a), copy=True)

    def dtype(self, a):
        return GG_DTYPE[a.dtype]

    def full(self, shape, value, dtype):
        out = np.empty(shape, dtype=numpy_dtype(dtype))  # empty + fill: np.full's wrapper is slow
        try:
            out.fill(value)
        except OverflowError:  # an integer out of the dtype's range wraps, as in PyTorch
            out.fill(scalar_as(value, out.dtype))
        return out

    def arange(self, start, stop, step, dtype):
        return np.arange(start, stop, step, dtype=numpy_dtype(dtype))

    def random(self, kind, shape, dtype, seed, out=None):
        values = random_values(kind, shape, numpy_dtype(dtype), seed)
        if out is None:
            return values
        np.copyto(out, values, casting="same_kind")
        return out

    def randint(self, low, high, shape, seed):
        return np.random.default_rng(seed).integers(low, high, size=shape, dtype=np.int64)

    # unary/binary are the hot path of every op: the common case (operands already of the
    # result dtype) goes straight to the ufunc
    def unary(self, op, a, dtype=None, out=None):
        if out is None and dtype is None:
            kind = a.dtype
            if kind is F32 or kind is F64 or op not in FLOAT_RESULT_OPS and \
                    kind not in LOW_PRECISION:
                result = UNARY[op](a)
                return result if type(result) is _ndarray else np.asarray(result)
        if dtype is None:
            dtype = dtypes.unary_result_type(op, GG_DTYPE[a.dtype])
        return unary_values(op, a, numpy_dtype(dtype), out)

    def binary(self, op, a, b, dtype=None, out=None):
        if dtype is None:
            if not WEAK_SCALARS:
                a, b = weak_numbers(a, b)
            result = BINARY[op](a, b) if out is None else BINARY[op](a, b, out=out)
            return result if type(result) is _ndarray else np.asarray(result)
        np_dtype = dtype.native or NP_DTYPE[dtype]
        if out is None and type(a) is _ndarray and a.dtype is np_dtype \
                and not dtype.is_low_precision:
            kind = type(b)
            if kind is _ndarray and b.dtype is np_dtype or \
                    WEAK_SCALARS and kind is float and dtype.is_floating_point:
                result = BINARY[op](a, b)
                return result if type(result) is _ndarray else np.asarray(result)
        return binary_values(op, a, b, np_dtype, out)

    def where(self, cond, a, b, dtype=None, out=None):
        if dtype is None and out is None:
            # (also on NumPy 2: np.where(cond, 0.5, bfloat16_array) is float32 there)
            return np.where(cond, *weak_numbers(a, b))
        return where_values(cond, a, b, out.dtype if dtype is None else numpy_dtype(dtype), out)

    def cast(self, a, dtype):
        np_dtype = numpy_dtype(dtype)
        if np_dtype.kind in "iu" and a.dtype.name == "bfloat16":
            # through float32 (exact): ml_dtypes gives 0 for values out of the integer's range,
            # where C's conversion, as PyTorch's, wraps them (-2.0 to uint8 is 254)
            a = a.astype(F32)
        return a.astype(np_dtype)

    def reduce(self, op, a, axis=None, keepdims=False):
        kind = a.dtype
        if op == "sum" and (kind is F32 or kind is F64):
            # the ufunc directly: np.sum's wrapper is slow
            return as_array(np.add.reduce(a, axis=axis, keepdims=keepdims))
        return reduce_values(op, a, axis, keepdims)

    def scan(self, op, a, axis):
        return scan_values(op, a, axis)

    def sort(self, a, axis, descending=False):
        return sort_values(a, axis, descending)

    def matmul(self, a, b):
        return matmul_values(a, b)

    def reshape(self, a, shape):
        return a.reshape(shape)

    def permute(self, a, axes):
        return a.transpose(axes)

    def broadcast_to(self, a, shape, view=False):
        if not view and math.prod(shape) <= _SMALL:  # a copy beats np.broadcast_to's wrapper
            out = np.empty(shape, dtype=a.dtype)
            out[...] = a
            return out
        return np.broadcast_to(a, shape)  # a read-only view: no memory for large results

    def contiguous(self, a):
        return np.array(a, copy=True, order="C")

    def concatenate(self, arrays, axis):
        return np.concatenate(arrays, axis=axis)

    def getitem(self, a, index):
        return as_array(a[basic_view_index(index)])

    def index_add(self, shape, index, values, dtype):
        out = np.zeros(shape, dtype=numpy_dtype(dtype))
        if any(isinstance(i, np.ndarray) for i in index):
            np.add.at(out, index, values)
        else:
            out[index] = values
        return out

    def setitem_(self, a, index, value):
        # (an int through scalar_as: -1 written into uint8 wraps to 255, as in PyTorch)
        a[index] = scalar_as(value, a.dtype) if type(value) is int else value

    def copy_(self, dst, src):
        src = scalar_as(src, dst.dtype) if type(src) is int else src  # (see setitem_)
        np.copyto(dst, src, casting="unsafe")  # a C cast, as PyTorch's copy_ (bool.fill_(1))

    def host_buffer(self, a):
        return a  # host memory already: collectives read and write the array itself

    im2col = staticmethod(im2col_numpy)
    col2im = staticmethod(col2im_numpy)
    max_pool2d = staticmethod(max_pool2d_numpy)
    max_pool2d_backward = staticmethod(max_pool2d_backward_numpy)
    bias_act = staticmethod(bias_act_numpy)
    bias_act_backward = staticmethod(bias_act_backward_numpy)
    bias_act_grads = staticmethod(bias_act_grads_numpy)
    softmax_cross_entropy = staticmethod(softmax_cross_entropy_numpy)
    softmax_cross_entropy_backward = staticmethod(softmax_cross_entropy_backward_numpy)
    sgd_step = staticmethod(sgd_step_numpy)
    adam_step = staticmethod(adam_step_numpy)

    def describe(self):
        return f"cpu: NumPy {np.__version__}"

    # ---- DLPack (gpugrad/interop.py) --------------------------------------------------------
    def dlpack(self, a, stream=None, max_version=None, dl_device=None, copy=None):
        """NumPy's ``__dlpack__``: the capsule shares ``a``'s memory. bfloat16, which NumPy
        cannot export, goes through PyTorch (when imported) as an int16 view retyped, no copy."""
        if a.dtype.name == "bfloat16":
            a = self._bfloat16_as_torch(a)
        return self._array_dlpack(a, stream, max_version, dl_device, copy)

    def dlpack_device(self, a):
        return a.__dlpack_device__()

    def pin(self, a):
        return pinned.pin(a if a.base is None and a.flags.c_contiguous else np.array(a))

    def is_pinned(self, a):
        return pinned.is_pinned(a)

    def share_host(self, array):
        """``array`` itself, checked, to hold as a cpu tensor's storage (``gg.from_numpy``):
        dtypes gpugrad lacks raise TypeError and a non-native byte order ValueError, as in
        PyTorch; a read-only array is shared with a warning (in-place ops then fail)."""
        if not isinstance(array, np.ndarray):
            kind = type(array)
            module = "" if kind.__module__ == "builtins" else f"{kind.__module__}."
            raise TypeError(f"expected np.ndarray (got {module}{kind.__qualname__}): from_numpy "
                            f"takes a numpy.ndarray; use gg.tensor(data) for other data")
        if not array.dtype.isnative:
            raise ValueError("given numpy array has byte order different from the native byte "
                             "order. Conversion between byte orders is currently not supported "
                             "(convert first: array.astype(array.dtype.newbyteorder('=')))")
        if array.dtype not in GG_DTYPE and array.dtype.name != "bfloat16":
            raise TypeError(f"can't convert np.ndarray of type {array.dtype}. The only supported "
                            f"types are: {dtypes.SUPPORTED} (convert first, e.g. "
                            f"array.astype('float32'))")
        if not array.flags.writeable:
            warnings.warn("The given NumPy array is not writable; the tensor shares its memory, "
                          "so in-place ops on the tensor will fail. Copy the array "
                          "(array.copy()) or make it writable first to avoid this.",
                          UserWarning, stacklevel=3)
        if type(array) is not np.ndarray:
            array = array.view(np.ndarray)  # np.matrix and other subclasses: plain, shared
        return array

    def from_dlpack(self, obj):
        """``np.from_dlpack(obj)``: host memory shared, not copied. A PyTorch bfloat16 tensor,
        which NumPy cannot read, comes in as an int16 view retyped (no copy either)."""
        if str(getattr(obj, "dtype", "")) == "torch.bfloat16":
            import sys

            as_int16 = obj.view(sys.modules["torch"].int16)
            return np.from_dlpack(as_int16).view(numpy_dtype(dtypes.bfloat16))
        array = np.from_dlpack(obj)
        gg_dtype(array.dtype)  # uint16, complex...: a TypeError listing the dtypes gpugrad has
        if not array.flags.writeable and hasattr(obj, "__array__"):
            # NumPy 1.x imports every DLPack array read-only; the producer's own NumPy view of
            # the same memory (PyTorch's, say) is writable: take it when it shares that memory
            try:
                shared = np.asarray(obj)
            except (TypeError, ValueError, RuntimeError):
                return array
            if shared.flags.writeable and np.shares_memory(shared, array) and \
                    shared.dtype == array.dtype and shared.shape == array.shape:
                return shared
        return array

    @staticmethod
    def _bfloat16_as_torch(a):
        import sys

        torch = sys.modules.get("torch")
        if torch is None:
            raise BufferError("NumPy cannot export bfloat16 arrays with DLPack, and gpugrad "
                              "exports cpu bfloat16 tensors through PyTorch, which is not "
                              "imported; import torch first, or convert with .float()")
        try:
            return torch.from_numpy(a.view(np.int16)).view(torch.bfloat16)
        except (TypeError, ValueError) as exc:  # PyTorch refuses negative strides
            raise BufferError(f"this bfloat16 tensor cannot be exported through PyTorch: "
                              f"{exc}") from None

