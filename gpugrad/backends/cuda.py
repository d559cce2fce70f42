"""The ``cuda`` backend: the contract on CuPy arrays in GPU memory, fused kernels from ``kernels/``.

Plain primitives map onto CuPy (matmul through cuBLAS); the fused primitives launch the kernels in
``kernels/*.cu``, compiled once per process by ``cupy.RawModule`` (NVRTC; CuPy also caches the
binaries on disk). The per-call path stays lean because small models are bound by host time:
kernels are looked up in a dict, arguments are plain Python numbers, and nothing synchronizes
except read-backs (``to_host``) and ``synchronize``.

CuPy is imported by ``create_backend`` only after ``gpugrad.cuda`` has checked that a GPU is
usable, so a machine without one gets ``gg.DeviceUnavailableError`` and never an ImportError.
"""
import functools
import os
import re

import numpy as np

from .. import cuda as _cuda
from .. import dtypes, profiler
from ..errors import OutOfMemoryError
from .base import (BINARY_OPS, COMPARE_OPS, LOGICAL_OPS, REDUCE_OPS, UNARY_OPS, Backend,
                   array_api_table)
from .cpu import NP_DTYPE, gg_dtype, host_array
from ._cuda_optimizers import OptimizerLaunches
from ._cuda_profile import CudaRecorder

cupy = None  # the CuPy module, bound by create_backend
_KERNEL_SUFFIX = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}
_ACT_CODE = {"identity": 0, "relu": 1, "tanh": 2, "sigmoid": 3}  # as in kernels/bias_act.cu
_KERNEL_FILES = {  # kernel name without its dtype suffix -> source file in kernels/
    "bias_act_forward": "bias_act.cu",
    "bias_act_backward": "bias_act.cu",
    "bias_act_grads": "bias_act.cu",
    "bias_grad_sum": "bias_act.cu",
    "softmax_xent_forward": "softmax_cross_entropy.cu",
    "softmax_xent_backward": "softmax_cross_entropy.cu",
    "sgd_step": "optimizers.cu",
    "adam_step": "optimizers.cu",
}
_GRAD_ROW_LANES = 8  # blockDim.y of bias_act_grads (GRAD_ROW_LANES in kernels/bias_act.cu)
_GRAD_TARGET_BLOCKS = 1024  # enough blocks of bias_act_grads to fill a large GPU several times
_MODULES = {}  # (device index, file name) -> cupy.RawModule, shared by the whole process


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
        module = cupy.RawModule(code=source, options=("--std=c++17",))
        _MODULES[key] = module
    return module


def _elementwise_tables():
    """Name -> CuPy function, built once CuPy is imported."""
    sigmoid = cupy.ElementwiseKernel(
        "T x", "T y", "y = (tanh(x * (T)0.5) + (T)1) * (T)0.5", "gpugrad_sigmoid")

    def sigmoid_any(a):
        return sigmoid(a if a.dtype.kind == "f" else a.astype(np.float64))

    unary = {**array_api_table(cupy, UNARY_OPS), "relu": lambda a: cupy.maximum(a, 0),
             "sigmoid": sigmoid_any}
    binary = array_api_table(cupy, BINARY_OPS + COMPARE_OPS + LOGICAL_OPS)
    reduce = array_api_table(cupy, REDUCE_OPS)
    return unary, binary, reduce


def _dense(a):
    return a if a.flags.c_contiguous else cupy.ascontiguousarray(a)


def _stride(a):
    """The element stride of a vector: 0 for a broadcast view or a 0-d array (one value)."""
    if a.ndim == 0:
        return 0
    if a.ndim != 1:
        raise ValueError(f"expected a 1-D array of per-row values, got shape {tuple(a.shape)}")
    return a.strides[0] // a.itemsize


def _aligned16(*arrays):
    """True when every array starts on a 16-byte boundary: the kernels' float4 / double2 loads
    need it (CuPy's pool aligns blocks to 512 bytes; a view into an array may not be)."""
    for a in arrays:
        if a.data.ptr % 16:
            return False
    return True


def bias_grad_slabs(rows, cols, itemsize, aligned=True):
    """The launch plan of ``bias_act_grads`` for a (rows, cols) gradient, as the cuda backend
    runs it (the simulator models the same): ``(packed, blocks_x, slabs, rows_per_slab)``.

    A block covers 32 (packed: 16-byte) columns and one slab of rows; rows are cut into slabs
    until about ``_GRAD_TARGET_BLOCKS`` packed blocks run, each slab a multiple of 8 rows. One
    slab means the kernel writes the bias gradient itself; more need ``bias_grad_sum`` to add
    them. The slabs do not depend on ``aligned``, so both paths add in the same order and give
    the same bits.
    """
    lanes = 16 // itemsize
    packed = aligned and cols % lanes == 0
    blocks_x = _ceil_div(cols // lanes if packed else cols, 32)
    packed_blocks_x = _ceil_div(_ceil_div(cols, lanes), 32)
    slabs = min(max(1, _ceil_div(_GRAD_TARGET_BLOCKS, packed_blocks_x)),
                _ceil_div(rows, _GRAD_ROW_LANES), 65535)
    rows_per_slab = _ceil_div(_ceil_div(rows, slabs), _GRAD_ROW_LANES) * _GRAD_ROW_LANES
    return packed, blocks_x, _ceil_div(rows, rows_per_slab), rows_per_slab


def _ceil_div(a, b):
    return -(-a // b)


def _pow2_at_least(n, low, high):
    p = low
    while p < n and p < high:
        p *= 2
    return p


class CupyBackend(OptimizerLaunches, Backend):
    """The contract on CuPy arrays on one GPU (``cuda:N`` is ``cupy.cuda.Device(N)``); the
    optimizer updates come from ``OptimizerLaunches`` (_cuda_optimizers.py)."""

    def __init__(self, device):
        self.device = device
        self.index = device.index
        self._gpu = cupy.cuda.Device(self.index)
        self._unary, self._binary, self._reduce = _elementwise_tables()
        self._kernels = {}
        self._tables = {}
        self._rng = None
        self._recorder = None  # the CudaRecorder while a gg.profiler block is active
        profiler.register_source(CudaRecorder(self, cupy))

    # ---- plumbing ----------------------------------------------------------------------
    def _use(self):
        """Make this GPU current (CuPy allocates and launches on the current device)."""
        if cupy.cuda.runtime.getDevice() != self.index:
            cupy.cuda.runtime.setDevice(self.index)

    def _kernel(self, base, dtype):
        name = f"{base}_{_KERNEL_SUFFIX[dtype]}"
        kernel = self._kernels.get(name)
        if kernel is None:
            kernel = _kernel_module(self.index, _KERNEL_FILES[base]).get_function(name)
            self._kernels[name] = kernel
        return kernel

    def _oom(self, err):
        numbers = [int(n.replace(",", "")) for n in re.findall(r"\d[\d,]*", str(err))]
        requested = numbers[0] if numbers else 0
        in_use = cupy.get_default_memory_pool().used_bytes()
        try:
            capacity = int(self._gpu.mem_info[1])
        except Exception:  # noqa: BLE001  (the report must not fail while reporting)
            capacity = 0
        return OutOfMemoryError(self.device, requested, in_use, capacity)

    # ---- host <-> device ---------------------------------------------------------------
    def from_host(self, data, dtype=None):
        self._use()
        if isinstance(data, cupy.ndarray):
            if data.device.id == self.index and (dtype is not None or data.dtype in _GG):
                if dtype is not None:
                    return data.astype(NP_DTYPE[dtypes.as_dtype(dtype)], copy=True)
                return data.copy()
            data = data.get()  # another GPU, or a dtype to infer: through the host
        kind = type(data)
        if kind is float or kind is int or kind is bool:  # no host buffer, no transfer
            np_dtype = NP_DTYPE[dtypes.as_dtype(dtype)] if dtype is not None else \
                host_array(data).dtype
            return cupy.full((), data, dtype=np_dtype)
        return cupy.asarray(host_array(data, dtype))

    def to_host(self, a):
        return a.get()

    def from_backend(self, a, source):
        self._use()
        if source is self:
            return a.copy()
        if isinstance(source, CupyBackend):  # another GPU: through the host, always correct
            return cupy.asarray(a.get())
        return cupy.asarray(source.to_host(a))

    def dtype(self, a):
        return _GG[a.dtype]

    # ---- creation ------------------------------------------------------------------------
    def full(self, shape, value, dtype):
        self._use()
        return cupy.full(shape, value, dtype=NP_DTYPE[dtype])

    def arange(self, start, stop, step, dtype):
        self._use()
        return cupy.arange(start, stop, step, dtype=NP_DTYPE[dtype])

    def _random_state(self, seed):
        self._use()
        if self._rng is None:
            self._rng = cupy.random.RandomState(seed)
        else:
            self._rng.seed(seed)
        return self._rng

    def random(self, kind, shape, dtype, seed):
        rng = self._random_state(seed)
        if kind == "uniform":
            return rng.random_sample(shape, dtype=NP_DTYPE[dtype])
        return rng.standard_normal(shape, dtype=NP_DTYPE[dtype])

    def randint(self, low, high, shape, seed):
        return self._random_state(seed).randint(low, high, size=shape, dtype=np.int64)

    # ---- elementwise ---------------------------------------------------------------------
    def unary(self, op, a):
        self._use()
        return self._unary[op](a)

    def binary(self, op, a, b):
        self._use()
        return self._binary[op](a, b)

    def where(self, cond, a, b):
        self._use()
        return cupy.where(cond, a, b)

    def cast(self, a, dtype):
        self._use()
        return a.astype(NP_DTYPE[dtype])

    # ---- reductions and matmul -----------------------------------------------------------
    def reduce(self, op, a, axis=None, keepdims=False):
        self._use()
        return self._reduce[op](a, axis=axis, keepdims=keepdims)

    def matmul(self, a, b):
        self._use()
        return cupy.matmul(a, b)

    # ---- layout --------------------------------------------------------------------------
    def reshape(self, a, shape):
        self._use()
        return a.reshape(shape)

    def permute(self, a, axes):
        return a.transpose(axes)

    def broadcast_to(self, a, shape):
        return cupy.broadcast_to(a, shape)

    def contiguous(self, a):
        self._use()
        return a.copy(order="C")

    def concatenate(self, arrays, axis):
        self._use()
        return cupy.concatenate(arrays, axis=axis)

    # ---- gather / scatter ----------------------------------------------------------------
    def getitem(self, a, index):
        self._use()
        return a[index]

    def index_add(self, shape, index, values, dtype):
        self._use()
        out = cupy.zeros(shape, dtype=NP_DTYPE[dtype])
        if any(isinstance(i, cupy.ndarray) and i.dtype.kind in "iu" for i in index):
            import cupyx

            cupyx.scatter_add(out, index, values)  # repeated indices accumulate
        else:
            out[index] = values  # slices and boolean masks never repeat an element
        return out

    def setitem_(self, a, index, value):
        self._use()
        a[index] = value  # CuPy's __setitem__: a kernel writing a view, or a scatter for arrays

    # ---- in place --------------------------------------------------------------------------
    def copy_(self, dst, src):
        self._use()
        cupy.copyto(dst, src)

    def synchronize(self):
        self._gpu.synchronize()

    # ---- fused kernels -------------------------------------------------------------------
    def bias_act(self, x, bias, act):
        code = _ACT_CODE[act]
        if x.dtype not in _KERNEL_SUFFIX or bias.dtype != x.dtype:
            out = self.binary("add", x, bias)  # mixed or integer dtypes: NumPy's promotion
            return out if act == "identity" else self.unary(act, out)
        self._use()
        x, bias = _dense(x), _dense(bias)
        rows, cols = x.shape
        out = cupy.empty((rows, cols), dtype=x.dtype)
        if out.size:
            lanes = 16 // x.itemsize
            packed = cols % lanes == 0 and _aligned16(x, bias, out)
            threads_x = cols // lanes if packed else cols  # one thread per 16 bytes or element
            bx = _pow2_at_least(threads_x, 32, 256)
            by = 256 // bx
            grid = ((threads_x + bx - 1) // bx, min((rows + by - 1) // by, 65535))
            self._kernel("bias_act_forward", x.dtype)(grid, (bx, by), (x, bias, out, rows, cols,
                                                                        code, int(packed)))
        return out

    def _activation_grad_inputs(self, name, grad_out, out):
        """Dense ``grad_out`` (cast, broadcast to ``out``'s shape) and ``out`` for the backward
        kernels, which read both as plain row-major arrays of ``out``'s float dtype."""
        dtype = out.dtype
        if dtype not in _KERNEL_SUFFIX:
            raise TypeError(f"{name}: expected a float32 or float64 output, got {dtype}")
        self._use()
        grad_out = _dense(grad_out if grad_out.dtype == dtype else grad_out.astype(dtype))
        grad_out = grad_out if grad_out.shape == out.shape else _dense(
            cupy.broadcast_to(grad_out, out.shape))
        return grad_out, _dense(out), dtype

    def bias_act_backward(self, grad_out, out, act):
        code = _ACT_CODE[act]
        grad_out, out, dtype = self._activation_grad_inputs("bias_act_backward", grad_out, out)
        grad_in = cupy.empty(out.shape, dtype=dtype)
        n = grad_in.size
        if n:
            packed = _aligned16(grad_out, out, grad_in)
            threads = n // (16 // grad_in.itemsize) if packed else n
            blocks = max(1, min((threads + 255) // 256, 65536))
            self._kernel("bias_act_backward", dtype)((blocks,), (256,), (grad_out, out, grad_in, n,
                                                                          code, int(packed)))
        return grad_in

    def bias_act_grads(self, grad_out, out, act):
        grad_out, out, dtype = self._activation_grad_inputs("bias_act_grads", grad_out, out)
        rows, cols = out.shape
        grad_in = cupy.empty((rows, cols), dtype=dtype)
        if rows == 0 or cols == 0:
            return grad_in, cupy.zeros(cols, dtype=dtype)
        grad_bias = cupy.empty(cols, dtype=dtype)
        packed, blocks_x, slabs, rows_per_slab = bias_grad_slabs(
            rows, cols, grad_in.itemsize, _aligned16(grad_out, out, grad_in))
        partial = grad_bias if slabs == 1 else cupy.empty((slabs, cols), dtype=dtype)
        self._kernel("bias_act_grads", dtype)(
            (blocks_x, slabs), (32, _GRAD_ROW_LANES),
            (grad_out, out, grad_in, partial, rows, cols, _ACT_CODE[act], int(packed),
             rows_per_slab))
        if slabs > 1:
            self._kernel("bias_grad_sum", dtype)(((cols + 255) // 256,), (256,),
                                                 (partial, grad_bias, slabs, cols))
        return grad_in, grad_bias

    def _row_launch(self, rows, cols):
        """(grid, block) for the row kernels: one warp per row up to 1024 classes."""
        tx = 32 if cols <= 1024 else (256 if cols <= 16384 else 1024)
        ty = max(1, 256 // tx)
        return ((rows + ty - 1) // ty,), (tx, ty)

    def _targets(self, target):
        return target if target.dtype == np.int64 else target.astype(np.int64)

    def softmax_cross_entropy(self, logits, target):
        dtype = logits.dtype
        if dtype not in _KERNEL_SUFFIX:
            raise TypeError(f"cross_entropy: expected float32 or float64 logits, got {dtype}")
        rows, cols = logits.shape
        if cols == 0:
            raise RuntimeError("cross_entropy: logits have 0 classes (shape "
                               f"{tuple(logits.shape)}); expected at least one column")
        self._use()
        logits, target = _dense(logits), self._targets(target)
        loss = cupy.empty(rows, dtype=dtype)
        lse = cupy.empty(rows, dtype=np.float64)  # double: exact backward at |logits| ~ 1e4
        if rows:
            grid, block = self._row_launch(rows, cols)
            self._kernel("softmax_xent_forward", dtype)(
                grid, block, (logits, target, _stride(target), loss, lse, rows, cols))
        return loss, lse

    def softmax_cross_entropy_backward(self, logits, target, lse, grad_rows, divisor=1):
        dtype = logits.dtype
        self._use()
        logits, target = _dense(logits), self._targets(target)
        lse = _dense(lse.astype(np.float64, copy=False))
        if grad_rows.dtype != dtype:
            grad_rows = grad_rows.astype(dtype)
        rows, cols = logits.shape
        grad = cupy.empty((rows, cols), dtype=dtype)
        if grad.size:
            grid, block = self._row_launch(rows, cols)
            self._kernel("softmax_xent_backward", dtype)(
                grid, block, (logits, target, _stride(target), lse, grad_rows, _stride(grad_rows),
                              float(divisor), grad, rows, cols))
        return grad

    # ---- introspection -------------------------------------------------------------------
    def _gpu_name(self):
        name = cupy.cuda.runtime.getDeviceProperties(self.index)["name"]
        return name.decode() if isinstance(name, bytes) else name

    def describe(self):
        total = cupy.cuda.runtime.getDeviceProperties(self.index)["totalGlobalMem"]
        return f"{self.device}: {self._gpu_name()}, {total / 2**30:.0f} GiB, CuPy {cupy.__version__}"


_GG = {}


def _primitive(method):
    """Wrap a primitive: CuPy's OutOfMemoryError becomes gg.OutOfMemoryError, and inside a
    ``gg.profiler.profile`` block the call is timed (_cuda_profile.py); outside one it costs a
    single attribute test."""
    name = method.__name__

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            if self._recorder is None:
                return method(self, *args, **kwargs)
            return self._recorder.call(name, method, self, args, kwargs)
        except cupy.cuda.memory.OutOfMemoryError as err:
            raise self._oom(err) from None

    return wrapper


_WRAPPED = False


def create_backend(device):
    """The backend for ``cuda:N``; gg.DeviceUnavailableError when this machine cannot run it."""
    global cupy, _WRAPPED
    cupy = _cuda.require(device.index)
    if not _GG:
        _GG.update({np_dtype: gg_dtype(np_dtype) for np_dtype in NP_DTYPE.values()})
    if not _WRAPPED:
        for owner in (OptimizerLaunches, CupyBackend):  # the primitives, not Backend's helpers
            for name, value in list(vars(owner).items()):
                if callable(value) and not name.startswith("_") and name != "describe":
                    setattr(CupyBackend, name, _primitive(value))
        _WRAPPED = True
    return CupyBackend(device)
