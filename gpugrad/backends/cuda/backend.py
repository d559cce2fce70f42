"""The ``cuda`` backend: the contract on CuPy arrays in GPU memory, fused kernels from ``kernels/``.

Plain primitives map onto CuPy (matmul through cuBLAS: float16 and bfloat16 GEMMs on tensor cores
with float32 accumulation, float32 on TF32 tensor cores when ``gg.backends.cuda.matmul.allow_tf32``
is True); the fused primitives launch the kernels in ``kernels/*.cu``, compiled once per process
by ``cupy.RawModule`` (NVRTC; CuPy also caches the binaries on disk). bfloat16 arrays need CuPy 14
or newer with ``ml_dtypes`` (``precision`` says why not, where not, and switches TF32).

The per-call path stays lean because small models are bound by host time:
kernels are looked up in a dict, arguments are plain Python numbers, and nothing synchronizes
except read-backs (``to_host``) and ``synchronize``.

CuPy is imported by ``create_backend`` only after ``gpugrad.backends.cuda`` has checked that a
GPU is usable, so a machine without one gets ``gg.DeviceUnavailableError`` and never an
ImportError.
"""
import functools
import os
import re

import numpy as np

from . import availability as _cuda
from ... import defaults, dtypes
from .. import events
from ...errors import OutOfMemoryError
from ..base import (BINARY_OPS, BITWISE_OPS, COMPARE_OPS, LOGICAL_OPS, REDUCE_OPS, UNARY_OPS, Backend,
    array_api_table)
from ..cpu.numpy_ops import NP_DTYPE, gg_dtype, host_array, scalar_as
from .fused import FUSED_SUFFIX, FusedLaunches
from . import precision
from .graphs_capture import CudaGraphs
from .optimizers import OptimizerLaunches
from . import runtime
from .recorder import CudaRecorder
from .windows import WindowLaunches

_KERNEL_FILES = {  # kernel name without its dtype suffix -> source file in kernels/
    "bias_act_forward": "bias_act.cu",
    "bias_act_backward": "bias_act.cu",
    "bias_act_grads": "bias_act.cu",
    "bias_grad_sum": "bias_act.cu",
    "softmax_xent_forward": "softmax_cross_entropy.cu",
    "softmax_xent_backward": "softmax_cross_entropy.cu",
    "sgd_step": "optimizers.cu",
    "adam_step": "optimizers.cu",
    "im2col": "im2col.cu",
    "col2im": "im2col.cu",
    "max_pool2d": "im2col.cu",
    "max_pool2d_backward": "im2col.cu",
}
# (device index, file name) -> runtime.cupy.RawModule, shared by the whole process
_MODULES: dict[tuple[int, str], object] = {}


_INCLUDE = re.compile(r'^[ \t]*#[ \t]*include[ \t]+"(\w+\.cuh)"[ \t]*$', re.M)
_PRAGMA_ONCE = re.compile(r'^[ \t]*#[ \t]*pragma[ \t]+once[ \t]*$', re.M)


def kernel_source(folder, file_name, _seen=None):
    """The text of ``folder/file_name`` with its ``#include "x.cuh"`` lines replaced by those
    headers' text (each once). NVRTC then needs no include path, and CuPy's on-disk cache, keyed
    by the source text, sees a change to a header too."""
    seen = set() if _seen is None else _seen
    with open(os.path.join(folder, file_name), encoding="utf-8") as f:
        text = f.read()

    def inline(match):
        header = match.group(1)
        if header in seen:
            return f"// {header}: included above"
        seen.add(header)  # inlined once, so its "#pragma once" goes (a warning in a main file)
        return _PRAGMA_ONCE.sub("", kernel_source(folder, header, seen))

    return _INCLUDE.sub(inline, text)


def _kernel_module(index, file_name):
    key = (index, file_name)
    module = _MODULES.get(key)
    if module is None:
        source = kernel_source(_cuda.kernel_dir(), file_name)
        module = runtime.cupy.RawModule(code=source, options=("--std=c++17",))
        _MODULES[key] = module
    return module


def _cupyx_special(name):
    """``cupyx.scipy.special.<name>`` (erf, erfc: CuPy's core has none), imported on first
    call; takes ``out=`` as the other unary ufuncs do."""
    def call(a, out=None):
        from cupyx.scipy import special

        return getattr(special, name)(a, out=out)

    return call


def _elementwise_tables():
    """Name -> CuPy function, built once CuPy is imported."""
    sigmoid = runtime.cupy.ElementwiseKernel(
        "T x", "T y", "y = (T)1 / ((T)1 + exp(-x))",
        "gpugrad_sigmoid")  # (the cpu backend's _sigmoid)

    def sigmoid_any(a):
        if a.dtype.name == "bfloat16":  # computed in float32 and rounded, as other 16-bit ops
            return sigmoid(a.astype(np.float32)).astype(a.dtype)
        return sigmoid(a if a.dtype.kind == "f" else a.astype(np.float64))

    # PyTorch's sign: NaN gives 0 (CuPy's sign, like NumPy's, gives NaN)
    sign = runtime.cupy.ElementwiseKernel(
        "T x", "T y", "y = (T)(x > (T)0) - (T)(x < (T)0)", "gpugrad_sign")

    unary = {**array_api_table(runtime.cupy, UNARY_OPS + ("bitwise_not",)),
             "relu": lambda a: runtime.cupy.maximum(a, 0), "sigmoid": sigmoid_any, "sign": sign,
             "erf": _cupyx_special("erf"), "erfc": _cupyx_special("erfc")}
    binary = array_api_table(runtime.cupy, BINARY_OPS + COMPARE_OPS + LOGICAL_OPS + BITWISE_OPS)
    reduce = array_api_table(runtime.cupy, REDUCE_OPS)
    return unary, binary, reduce


_COMPARE = frozenset(COMPARE_OPS)
_LOGICAL = frozenset(LOGICAL_OPS)


def _np_dtype(dtype):
    """The NumPy dtype CuPy uses for ``dtype``; bfloat16 is an error where CuPy has none."""
    if dtype is dtypes.bfloat16 and precision.bfloat16_refusal["reason"]:
        raise TypeError(precision.bfloat16_refusal["reason"])
    return NP_DTYPE[dtype]




def _operand(x, np_dtype):
    """A CuPy array as is; a number as a NumPy scalar of ``np_dtype`` (integers wrap)."""
    return x if isinstance(x, runtime.cupy.ndarray) else scalar_as(x, np_dtype)


def _upload(host):
    """A NumPy array copied to the current GPU (bfloat16 refused with the reason)."""
    if host.dtype.name == "bfloat16":
        _np_dtype(dtypes.bfloat16)
    return runtime.cupy.asarray(host)



class CupyBackend(FusedLaunches, OptimizerLaunches, WindowLaunches, CudaGraphs, Backend):
    """The contract on CuPy arrays on one GPU (``cuda:N`` is ``cupy.cuda.Device(N)``); the
    optimizer updates come from ``OptimizerLaunches`` (gpugrad/backends/cuda/optimizers.py)."""

    def __init__(self, device):
        self.device = device
        self.index = device.index
        self._gpu = runtime.cupy.cuda.Device(self.index)
        self._unary, self._binary, self._reduce = _elementwise_tables()
        self._kernels = {}
        self._tables = {}
        self._rng = None
        self._recorder = None  # the CudaRecorder while a gg.profiler block is active
        self._tf32_applied = None  # the allow_tf32 value CuPy's float32 compute type follows
        events.register_source(CudaRecorder(self, runtime.cupy))

    # ---- plumbing ----------------------------------------------------------------------
    def _use(self):
        """Make this GPU current (CuPy allocates and launches on the current device)."""
        if runtime.cupy.cuda.runtime.getDevice() != self.index:
            runtime.cupy.cuda.runtime.setDevice(self.index)

    def _kernel(self, base, dtype):
        name = f"{base}_{FUSED_SUFFIX[dtype]}"
        kernel = self._kernels.get(name)
        if kernel is None:
            kernel = _kernel_module(self.index, _KERNEL_FILES[base]).get_function(name)
            self._kernels[name] = kernel
        return kernel

    def _oom(self, err):
        numbers = [int(n.replace(",", "")) for n in re.findall(r"\d[\d,]*", str(err))]
        requested = numbers[0] if numbers else 0
        in_use = runtime.cupy.get_default_memory_pool().used_bytes()
        try:
            capacity = int(self._gpu.mem_info[1])
        except Exception:  # noqa: BLE001  (the report must not fail while reporting)
            capacity = 0
        return OutOfMemoryError(self.device, requested, in_use, capacity)

    # ---- host <-> device ---------------------------------------------------------------
    def from_host(self, data, dtype=None):
        self._use()
        if isinstance(data, runtime.cupy.ndarray):
            if data.device.id == self.index and (dtype is not None or data.dtype in _GG):
                if dtype is not None:
                    return data.astype(_np_dtype(dtypes.as_dtype(dtype)), copy=True)
                return data.copy()
            data = data.get()  # another GPU, or a dtype to infer: through the host
        kind = type(data)
        if kind is float or kind is int or kind is bool:  # no host buffer, no transfer
            np_dtype = _np_dtype(dtypes.as_dtype(dtype)) if dtype is not None else \
                host_array(data).dtype
            return runtime.cupy.full((), data, dtype=np_dtype)
        return _upload(host_array(data, dtype))

    def to_host(self, a):
        return a.get()

    def from_backend(self, a, source):
        self._use()
        if source is self:
            return a.copy()
        if isinstance(source, CupyBackend):  # another GPU: through the host, always correct
            return runtime.cupy.asarray(a.get())
        return _upload(source.to_host(a))

    def dtype(self, a):
        return _GG[a.dtype]

    # ---- creation ------------------------------------------------------------------------
    def full(self, shape, value, dtype):
        self._use()
        np_dtype = _np_dtype(dtype)
        return runtime.cupy.full(shape, scalar_as(value, np_dtype), dtype=np_dtype)

    def arange(self, start, stop, step, dtype):
        self._use()
        return runtime.cupy.arange(start, stop, step, dtype=_np_dtype(dtype))

    def _random_state(self, seed):
        self._use()
        if self._rng is None:
            self._rng = runtime.cupy.random.RandomState(seed)
        else:
            self._rng.seed(seed)
        return self._rng

    def random(self, kind, shape, dtype, seed, out=None):
        rng = self._random_state(seed)
        np_dtype = _np_dtype(dtype)
        calc = np_dtype if np_dtype.kind == "f" and np_dtype.itemsize >= 4 else np.float32
        if kind == "uniform":
            values = rng.random_sample(shape, dtype=calc)
        else:
            values = rng.standard_normal(shape, dtype=calc)
        if out is not None:
            runtime.cupy.copyto(out, values, casting="same_kind")
            return out
        return values if values.dtype == np_dtype else values.astype(np_dtype)

    def randint(self, low, high, shape, seed):
        return self._random_state(seed).randint(low, high, size=shape, dtype=np.int64)

    # ---- elementwise ---------------------------------------------------------------------
    def unary(self, op, a, dtype=None, out=None):
        self._use()
        fn = self._unary[op]
        if dtype is None:
            if out is None and (a.dtype.kind == "f" or op not in dtypes.FLOAT_RESULT_OPS):
                return fn(a)
            dtype = dtypes.unary_result_type(op, _GG[a.dtype])
        np_dtype = _np_dtype(dtype)
        if a.dtype != np_dtype:
            a = a.astype(np_dtype)
        if out is None:
            return fn(a)
        if out.dtype == np_dtype and op not in ("relu", "sigmoid"):
            return fn(a, out=out)
        runtime.cupy.copyto(out, fn(a), casting="same_kind")
        return out

    def binary(self, op, a, b, dtype=None, out=None):
        self._use()
        fn = self._binary[op]
        if dtype is None or op in _LOGICAL:
            return fn(a, b) if out is None else fn(a, b, out=out)
        np_dtype = _np_dtype(dtype)
        a, b = _operand(a, np_dtype), _operand(b, np_dtype)
        if op in _COMPARE:  # compared in the promoted dtype: cast the other operand first
            a = a if a.dtype == np_dtype else a.astype(np_dtype)
            b = b if b.dtype == np_dtype else b.astype(np_dtype)
            return fn(a, b) if out is None else fn(a, b, out=out)
        if out is None:  # mixed operands are cast on the fly, inside the one kernel
            return fn(a, b, dtype=np_dtype, casting="unsafe")
        return fn(a, b, out=out, dtype=np_dtype, casting="unsafe")

    def where(self, cond, a, b, dtype=None, out=None):
        self._use()
        if dtype is not None:
            np_dtype = _np_dtype(dtype)
            a, b = _operand(a, np_dtype), _operand(b, np_dtype)
            a = a if a.dtype == np_dtype else a.astype(np_dtype)
            b = b if b.dtype == np_dtype else b.astype(np_dtype)
        result = runtime.cupy.where(cond, a, b)
        if out is None:
            return result
        runtime.cupy.copyto(out, result, casting="same_kind")
        return out

    def cast(self, a, dtype):
        self._use()
        return a.astype(_np_dtype(dtype))

    # ---- reductions and matmul -----------------------------------------------------------
    def reduce(self, op, a, axis=None, keepdims=False):
        self._use()
        if op == "prod" and a.dtype.kind in "biu":  # int64, as PyTorch (CuPy: uint64 for uint8)
            return runtime.cupy.prod(a, axis=axis, dtype=np.int64, keepdims=keepdims)
        return self._reduce[op](a, axis=axis, keepdims=keepdims)

    def scan(self, op, a, axis):
        self._use()
        cupy = runtime.cupy
        if op == "sum" or op == "prod":
            fn = cupy.cumsum if op == "sum" else cupy.cumprod
            if a.dtype.kind in "biu":
                return fn(a, axis=axis, dtype=np.int64)
            if a.dtype == np.float16:  # accumulated in float32, as PyTorch
                return fn(a, axis=axis, dtype=np.float32).astype(np.float16)
            return fn(a, axis=axis)
        # CuPy's ufunc.accumulate has only add and multiply: a doubling (Hillis-Steele) scan,
        # ceil(log2 n) passes, each taking the max (min) of two shifted copies (the sim models
        # these passes)
        fn = cupy.maximum if op == "max" else cupy.minimum
        lead = (slice(None),) * (axis % a.ndim)
        out, step = a.copy(), 1
        while step < a.shape[axis]:
            shifted = out.copy()
            fn(out[lead + (slice(step, None),)], out[lead + (slice(None, -step),)],
               out=shifted[lead + (slice(step, None),)])
            out, step = shifted, 2 * step
        return out

    def sort(self, a, axis, descending=False):
        self._use()
        cupy = runtime.cupy
        # cupy.argsort is always stable and puts NaN last, as NumPy; descending is the ascending
        # sort of ``a`` reversed, read backwards (equal values keep their order, NaN first)
        if descending:
            order = cupy.flip(cupy.argsort(cupy.flip(a, axis), axis=axis), axis)
            indices = cupy.subtract(a.shape[axis] - 1, order, dtype=np.int64)
        else:
            indices = cupy.argsort(a, axis=axis).astype(np.int64, copy=False)
        return cupy.take_along_axis(a, indices, axis), indices

    def matmul(self, a, b):
        self._use()
        allow_tf32 = defaults.matmul_allows_tf32()
        if allow_tf32 is not self._tf32_applied:
            precision.apply_tf32(self._gpu, allow_tf32)
            self._tf32_applied = allow_tf32
        return runtime.cupy.matmul(a, b)

    # ---- layout --------------------------------------------------------------------------
    def reshape(self, a, shape):
        self._use()
        return a.reshape(shape)

    def permute(self, a, axes):
        return a.transpose(axes)

    def broadcast_to(self, a, shape, view=False):
        return runtime.cupy.broadcast_to(a, shape)

    def contiguous(self, a):
        self._use()
        return a.copy(order="C")

    def concatenate(self, arrays, axis):
        self._use()
        return runtime.cupy.concatenate(arrays, axis=axis)

    # ---- gather / scatter ----------------------------------------------------------------
    def getitem(self, a, index):
        self._use()
        return a[index]

    def index_add(self, shape, index, values, dtype):
        self._use()
        out = runtime.cupy.zeros(shape, dtype=_np_dtype(dtype))
        if any(isinstance(i, runtime.cupy.ndarray) and i.dtype.kind in "iu" for i in index):
            import cupyx

            cupyx.scatter_add(out, index, values)  # repeated indices accumulate
        else:
            out[index] = values  # slices and boolean masks never repeat an element
        return out

    def setitem_(self, a, index, value):
        self._use()
        value = scalar_as(value, a.dtype) if type(value) is int else value  # (-1 into uint8)
        a[index] = value  # CuPy's __setitem__: a kernel writing a view, or a scatter for arrays

    # ---- in place --------------------------------------------------------------------------
    def copy_(self, dst, src):
        self._use()
        src = scalar_as(src, dst.dtype) if type(src) is int else src  # (-1 into uint8)
        runtime.cupy.copyto(dst, src, casting="unsafe")

    def synchronize(self):
        self._gpu.synchronize()

    # ---- introspection -------------------------------------------------------------------
    def _gpu_name(self):
        name = runtime.cupy.cuda.runtime.getDeviceProperties(self.index)["name"]
        return name.decode() if isinstance(name, bytes) else name

    def describe(self):
        total = runtime.cupy.cuda.runtime.getDeviceProperties(self.index)["totalGlobalMem"]
        return (f"{self.device}: {self._gpu_name()}, {total / 2**30:.0f} GiB, "
                f"CuPy {runtime.cupy.__version__}")

    # ---- DLPack (gpugrad/interop.py) ----------------------------------------------------------
    def dlpack(self, a, stream=None, max_version=None, dl_device=None, copy=None):
        """CuPy's ``__dlpack__``: the capsule shares ``a``'s GPU memory (``stream`` is the
        consumer's, as the protocol says; CuPy orders the work on it)."""
        return self._array_dlpack(a, stream, max_version, dl_device, copy)

    def dlpack_device(self, a):
        return a.__dlpack_device__()

    def from_dlpack(self, obj):
        """``cupy.from_dlpack(obj)`` on this GPU: the memory is shared, not copied."""
        if "bfloat16" in str(getattr(obj, "dtype", "")):
            _np_dtype(dtypes.bfloat16)  # CuPy has none: the TypeError says what to use
        self._use()
        array = runtime.cupy.from_dlpack(obj)
        if array.dtype not in _GG:
            gg_dtype(array.dtype)  # uint16, complex...: a TypeError listing the dtypes gpugrad has
        return array


_GG: dict[object, object] = {}


def _primitive(method):
    """Wrap a primitive: CuPy's OutOfMemoryError becomes gg.OutOfMemoryError, and inside a
    ``gg.profiler.profile`` block the call is timed (gpugrad/backends/cuda/recorder.py); outside
    one it costs a single attribute test."""
    name = method.__name__

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            if self._recorder is None:
                return method(self, *args, **kwargs)
            return self._recorder.call(name, method, self, args, kwargs)
        except runtime.cupy.cuda.memory.OutOfMemoryError as err:
            raise self._oom(err) from None

    return wrapper


_WRAPPED = False


def create_backend(device):
    """The backend for ``cuda:N``; gg.DeviceUnavailableError when this machine cannot run it."""
    global _WRAPPED
    runtime.bind(_cuda.require(device.index))
    precision.configure_bfloat16(runtime.cupy)
    bfloat16_new = precision.bfloat16_refusal["reason"] is None and \
        NP_DTYPE[dtypes.bfloat16] not in _GG
    if not _GG or bfloat16_new:
        _GG.update({np_dtype: gg_dtype(np_dtype) for np_dtype in NP_DTYPE.values()})
    if not _WRAPPED:
        # the primitives of the mixins and the class itself, not Backend's helpers
        for owner in (FusedLaunches, OptimizerLaunches, WindowLaunches, CupyBackend):
            for name, value in list(vars(owner).items()):
                if callable(value) and not name.startswith("_") and name != "describe":
                    setattr(CupyBackend, name, _primitive(value))
        _WRAPPED = True
    return CupyBackend(device)
