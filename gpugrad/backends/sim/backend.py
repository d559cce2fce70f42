"""``SimBackend``: the backend contract on NumPy, plus a model of what a GPU would do.

NumPy computes every value, with the ``cpu`` backend's own helpers, so results equal cpu's.
Beside each value the backend models the GPU:

- every primitive that launches a kernel on a real GPU is one modeled kernel
  (``costmodel.spec`` + ``timeline.kernel``), and the host also pays gpugrad's own Python per
  kernel (``framework_us``) unless configured with ``framework_overhead=False``, as fidelity.py
  does to replay raw CuPy calls through these primitives; the fused primitives (``bias_act``,
  ``softmax_cross_entropy`` and their backwards, ``sgd_step``, ``adam_step``) are one kernel each;
- views (reshape of a contiguous array, permute, broadcast_to, basic slicing) launch nothing and
  share their base's memory, as in CuPy;
- every result holds modeled device memory from the caching pool (``memory.py``), reserved
  *before* NumPy computes it: the result's shape and dtype come from the operands' shapes alone
  (``shapes.py``), so a request over the modeled capacity raises ``gg.OutOfMemoryError`` without
  the host allocating anything, and one the host cannot hold (the model had room) raises
  ``gg.errors.HostMemoryError`` with the reservation handed back;
- ``from_host``/``to_host``/``from_backend`` are modeled transfers: pageable unless the host
  array came from ``Tensor.pin_memory()``; reading back waits for the stream; sim:0 <-> sim:1 is
  a peer copy.

Threads may share a sim device: every change to its model (pool, timeline, kernel rows,
transfer counters, profiler recording) happens under the device's re-entrant ``lock``, so the
counters stay exact; NumPy computes outside it.
"""
import threading

import numpy as np

from ... import dtypes
from .. import events
from ..cpu import numpy_ops as ref
from ..base import COMPARE_OPS, LOGICAL_OPS, Backend, view_strides
from . import shapes
from .device_model import DeviceModel, _signature
from .fused import FusedKernels
from ..cpu.pinned import is_pinned
from .memory import SimArray

_NP_DTYPE = ref.NP_DTYPE
_GG_DTYPE = ref.GG_DTYPE  # (bfloat16 joins both maps when first used)
_UNARY_NAME = {op: f"unary:{op}" for op in ref.UNARY}
_BINARY_NAME = {op: f"binary:{op}" for op in ref.BINARY}
_REDUCE_NAME = {op: f"reduce:{op}" for op in ref.REDUCE}
_BOOL_RESULT = frozenset(COMPARE_OPS + LOGICAL_OPS)
_ndarray = np.ndarray
_as_array = ref.as_array
_numel = shapes.numel
# NaN and inf pass through as on cpu; NumPy's RuntimeWarnings from this module are silenced by
# the filter in backends/gpugrad/backends/cpu/numpy_ops.py (installed when it is imported).


def _unwrap(x):
    return x.data if type(x) is SimArray else x


def _host_copy(x):
    return np.array(x, order="C")


def _same(x):
    return x


def _reshape_copy(data, shape):
    return np.ascontiguousarray(data.reshape(shape))


def _randint(low, high, shape, seed):
    return np.random.default_rng(seed).integers(low, high, size=shape, dtype=np.int64)


def _gather(data, index):
    return _as_array(data[index])


def _concatenate(arrays, axis):
    return np.concatenate(arrays, axis=axis)


def _reshape_view(data, shape):
    """``data`` reshaped as a view, or None where that needs a copy (never copies: decided from
    the strides, as NumPy decides; NumPy 1's ``.shape`` setter would copy first)."""
    shape = shapes.reshape(data.size, shape)  # (a -1 resolved)
    if not data.flags.c_contiguous and view_strides(
            data.shape, tuple(s // data.itemsize for s in data.strides), shape) is None:
        return None
    return data.reshape(shape)


class SimBackend(FusedKernels, DeviceModel, Backend):
    """One simulated GPU (``sim:N``): NumPy values, modeled kernels, transfers and memory."""

    _signature = staticmethod(_signature)  # (for the fused kernels' mixin, fused.py)

    def __init__(self, device):
        self.device = device
        #: guards every change to this device's model (re-entrant: a free from
        #: ``Allocation.__del__`` may run while this thread holds it)
        self.lock = threading.RLock()
        self.shape_misses = 0  # results whose size shape inference got wrong (tests expect 0)
        self.pool = None
        self.generation = 0  # bumped by reset(), so a profile spanning a reset stays correct
        self.configure()
        events.register_source(self)

    # ---- host <-> device -------------------------------------------------------------------
    def _upload(self, compute, args, nbytes, pinned):
        """A host-to-device copy of the host array ``compute(*args)`` (``nbytes`` long)."""
        alloc = self.pool.allocate(nbytes)
        host = self._computed((alloc,), nbytes, compute, *args)
        if host.nbytes != nbytes:
            alloc = self._resize(alloc, host.nbytes)
        with self.lock:
            self.timeline.transfer("h2d", host.nbytes, pinned)
            self.h2d_bytes += host.nbytes
        return SimArray(host, alloc)

    def from_host(self, data, dtype=None):
        np_dtype = _NP_DTYPE[dtypes.as_dtype(dtype)] if dtype else None
        if type(data) is SimArray:  # already on a device: a device-to-device copy
            data = data.data
            if np_dtype is not None:
                return self._kernel("cast", (data,), data.size * np_dtype.itemsize,
                                    data.astype, (np_dtype,))
            return self._kernel("copy", (data,), data.nbytes, np.array, (data,))
        if type(data) is _ndarray:  # its size is known before the copy
            itemsize = (np_dtype or data.dtype).itemsize
            return self._upload(ref.host_array, (data, dtype), data.size * itemsize, False)
        host = ref.host_array(data, dtype)  # lists and numbers: converted first
        return self._upload(_same, (host,), host.nbytes, False)

    def to_host(self, a):
        data = a.data
        if data.flags.c_contiguous:
            with self.lock:
                self._read_back(data.nbytes)
            return np.array(data, order="C")
        # CuPy packs a strided array on the device first (a scratch block, freed at once); the
        # host copy stands for the packed array in the kernel's spec
        alloc = self.pool.allocate(data.nbytes)
        host = self._computed((alloc,), data.nbytes, _host_copy, data)
        with self.lock:
            self._launch("copy", (data,), (host,), None, _signature("copy", (data,), host))
            if alloc is not None:
                alloc.release()
            self._read_back(data.nbytes)
        return host

    def _read_back(self, nbytes):
        # a synchronous copy: it waits for the stream (the kernels writing ``a``), then the host
        # waits for the copy, as cudaMemcpy does; so item(), numpy(), printing... all wait
        self.timeline.transfer("d2h", nbytes, False)
        self.d2h_bytes += nbytes

    def from_backend(self, a, source):
        if isinstance(source, SimBackend):  # another sim device: a peer copy
            source.synchronize()  # the copy reads what the source's stream wrote
            data = a.data
            alloc = self.pool.allocate(data.nbytes)
            copy = self._computed((alloc,), data.nbytes, _host_copy, data)
            with self.lock:
                self.timeline.transfer("p2p", copy.nbytes, False)
                self.p2p_bytes += copy.nbytes
            return SimArray(copy, alloc)
        if source.device.type == "cpu":
            return self._upload(_host_copy, (a,), a.nbytes, is_pinned(a))
        host = source.to_host(a)
        return self._upload(_host_copy, (host,), host.nbytes, False)

    def owns_memory(self, a):
        return a.data.base is None

    def strides(self, a):
        data = a.data
        return tuple(s // data.itemsize for s in data.strides)

    def is_contiguous(self, a):
        return a.data.flags.c_contiguous

    def synchronize(self):
        with self.lock:
            self.timeline.synchronize()

    def dtype(self, a):
        return _GG_DTYPE[a.data.dtype]

    # ---- creation --------------------------------------------------------------------------
    def full(self, shape, value, dtype):
        np_dtype = _NP_DTYPE[dtype]
        return self._kernel("full", (), _numel(shape) * np_dtype.itemsize, np.full,
                            (shape, ref.scalar_as(value, np_dtype), np_dtype))

    def arange(self, start, stop, step, dtype):
        np_dtype = _NP_DTYPE[dtype]
        nbytes = shapes.arange_length(start, stop, step) * np_dtype.itemsize
        return self._kernel("arange", (), nbytes, np.arange, (start, stop, step, np_dtype))

    def random(self, kind, shape, dtype, seed, out=None):
        np_dtype = _NP_DTYPE[dtype]
        if out is None:
            return self._kernel("random", (), _numel(shape) * np_dtype.itemsize,
                                ref.random_values, (kind, shape, np_dtype, seed))
        np.copyto(out.data, ref.random_values(kind, shape, np_dtype, seed), casting="same_kind")
        self._write("random", (), out.data)
        return out

    def randint(self, low, high, shape, seed):
        return self._kernel("random", (), _numel(shape) * 8, _randint, (low, high, shape, seed))

    def _write(self, name, inputs, written, info=None):
        """Model a kernel writing into an existing array (an in-place op): no allocation."""
        self._launch(name, inputs, (written,), info, _signature(name, inputs, written, info))

    # ---- elementwise -----------------------------------------------------------------------
    def unary(self, op, a, dtype=None, out=None):
        a = a.data
        if dtype is None:
            dtype = dtypes.unary_result_type(op, _GG_DTYPE[a.dtype])
        np_dtype = _NP_DTYPE[dtype]
        if out is None:
            return self._kernel(_UNARY_NAME[op], (a,), a.size * np_dtype.itemsize,
                                ref.unary_values, (op, a, np_dtype))
        ref.unary_values(op, a, np_dtype, out.data)
        self._write(_UNARY_NAME[op], (a,), out.data)
        return out

    def binary(self, op, a, b, dtype=None, out=None):
        a = a.data if type(a) is SimArray else a
        b = b.data if type(b) is SimArray else b
        if dtype is None:
            dtype = self.dtype_of(a if type(a) is _ndarray else b)
        np_dtype = _NP_DTYPE[dtype]
        if out is None:
            if type(a) is _ndarray and (type(b) is not _ndarray or b.shape == a.shape):
                numel = a.size  # the common cases: no broadcasting
            else:
                numel = _numel(shapes.broadcast(a.shape if type(a) is _ndarray else (),
                                                b.shape if type(b) is _ndarray else ()))
            nbytes = numel if op in _BOOL_RESULT else numel * np_dtype.itemsize
            return self._kernel(_BINARY_NAME[op], (a, b), nbytes, ref.binary_values,
                                (op, a, b, np_dtype))
        ref.binary_values(op, a, b, np_dtype, out.data)
        self._write(_BINARY_NAME[op], (a, b), out.data)
        return out

    def where(self, cond, a, b, dtype=None, out=None):
        cond, a, b = cond.data, _unwrap(a), _unwrap(b)
        if dtype is None:
            dtype = self.dtype_of(a if type(a) is _ndarray else b) if out is None else \
                _GG_DTYPE[out.data.dtype]
        np_dtype = _NP_DTYPE[dtype]
        if out is None:
            nbytes = _numel(shapes.broadcast(cond.shape, a.shape if type(a) is _ndarray else (),
                                             b.shape if type(b) is _ndarray else ())) \
                * np_dtype.itemsize
            return self._kernel("where", (cond, a, b), nbytes, ref.where_values,
                                (cond, a, b, np_dtype))
        ref.where_values(cond, a, b, np_dtype, out.data)
        self._write("where", (cond, a, b), out.data)
        return out

    def cast(self, a, dtype):
        a = a.data
        np_dtype = _NP_DTYPE[dtype]
        return self._kernel("cast", (a,), a.size * np_dtype.itemsize, a.astype, (np_dtype,))

    @staticmethod
    def dtype_of(array):
        return _GG_DTYPE[array.dtype]

    # ---- reductions and matmul -------------------------------------------------------------
    def reduce(self, op, a, axis=None, keepdims=False):
        a = a.data
        nbytes = _numel(shapes.reduce(a.shape, axis, keepdims)) * \
            shapes.reduce_dtype(op, a.dtype).itemsize
        return self._kernel(_REDUCE_NAME[op], (a,), nbytes, ref.reduce_values,
                            (op, a, axis, keepdims), {"axis": axis})

    def matmul(self, a, b):
        a, b = a.data, b.data
        nbytes = _numel(shapes.matmul(a.shape, b.shape)) * a.dtype.itemsize
        return self._kernel("matmul", (a, b), nbytes, ref.matmul_values, (a, b))

    # ---- layout ----------------------------------------------------------------------------
    def reshape(self, a, shape):
        data = a.data
        if data.flags.c_contiguous:
            return SimArray(data.reshape(shape), a.alloc)  # a view: no kernel, same memory
        view = _reshape_view(data, shape)
        if view is not None:
            return SimArray(view, a.alloc)
        shape = shapes.reshape(data.size, shape)
        return self._kernel("copy", (data,), data.nbytes, _reshape_copy, (data, shape))

    def permute(self, a, axes):
        return SimArray(a.data.transpose(axes), a.alloc)

    def broadcast_to(self, a, shape, view=False):
        return SimArray(np.broadcast_to(a.data, shape), a.alloc)

    def contiguous(self, a):
        data = a.data
        return self._kernel("copy", (data,), data.nbytes, _host_copy, (data,))

    def concatenate(self, arrays, axis):
        arrays = [x.data for x in arrays]
        dtype = arrays[0].dtype
        if any(x.dtype != dtype for x in arrays):
            dtype = np.result_type(*arrays)
        nbytes = _numel(shapes.concatenate([x.shape for x in arrays], axis)) * dtype.itemsize
        return self._kernel("copy", arrays, nbytes, _concatenate, (arrays, axis))

    # ---- gather / scatter ------------------------------------------------------------------
    def _index(self, index):
        """The NumPy index, and whether it holds index arrays (advanced indexing)."""
        advanced = False
        entries = []
        for entry in index:
            if type(entry) is SimArray:
                entry = entry.data
                advanced = True
                if entry.dtype == np.bool_:  # the result's size needs a count read back
                    self.synchronize()
            entries.append(entry)
        return tuple(entries), advanced

    def getitem(self, a, index):
        index, advanced = self._index(index)
        data = a.data
        if not advanced:  # basic indexing is a view (a 0-d one too: see basic_view_index)
            return SimArray(data[ref.basic_view_index(index)], a.alloc)
        nbytes = _numel(shapes.getitem(data.shape, index)) * data.itemsize
        arrays = [i for i in index if isinstance(i, np.ndarray)]
        return self._kernel("getitem", [data] + arrays, nbytes, _gather, (data, index))

    def index_add(self, shape, index, values, dtype):
        index, advanced = self._index(index)
        values = _unwrap(values)
        np_dtype = _NP_DTYPE[dtype]
        nbytes = _numel(shape) * np_dtype.itemsize
        allocs = self._reserve(nbytes)
        out = self._computed(allocs, nbytes, np.zeros, shape, np_dtype)
        self._launch("full", (), (out,), None, _signature("full", (), out))
        if advanced:
            self._computed(allocs, nbytes, np.add.at, out, index, values)
        else:
            self._computed(allocs, nbytes, out.__setitem__, index, values)
        inputs = [values] + [i for i in index if isinstance(i, np.ndarray)]
        self._launch("index_add", inputs, (out,), None, _signature("index_add", inputs, out))
        return SimArray(out, allocs[0])

    def setitem_(self, a, index, value):
        index, advanced = self._index(index)
        value, data = _unwrap(value), a.data
        data[index] = value
        # the kernel writes only the selected elements: a view of them (with index arrays, a
        # stand-in of their shape that holds no memory) is its output, so the spec counts what
        # is really written
        if advanced:
            written = np.broadcast_to(np.empty((), data.dtype), shapes.getitem(data.shape, index))
        else:
            written = _as_array(data[index])
        inputs = [value] + [i for i in index if isinstance(i, np.ndarray)]
        key = _signature("index_put", inputs, written)
        self._launch("index_put", inputs, (written,), None, key)

    # ---- in place --------------------------------------------------------------------------
    def copy_(self, dst, src):
        src, dst = _unwrap(src), dst.data
        np.copyto(dst, src, casting="unsafe")
        self._launch("copy", (src,), (dst,), None, _signature("copy", (src,), dst))

    # ---- introspection ---------------------------------------------------------------------
    def describe(self):
        return f"{self.device}: simulated {self.profile.describe()}"

    # ---- DLPack (gpugrad/interop.py) -------------------------------------------------------
    def _no_dlpack(self):
        return BufferError(f"{self.device} tensors cannot be shared through DLPack: a simulated "
                           f"GPU has no real device memory for another library to read. Copy "
                           f"the tensor to the host with .cpu() first (torch.from_dlpack(t.cpu()) "
                           f"then shares that copy)")

    def dlpack(self, a, stream=None, max_version=None, dl_device=None, copy=None):
        raise self._no_dlpack()

    def dlpack_device(self, a):
        raise self._no_dlpack()
