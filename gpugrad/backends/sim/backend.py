"""``SimBackend``: the cpu backend's values, plus a model of what a GPU would do with them.

The sim computes nothing itself: its own ``NumpyBackend`` (``self.cpu``) computes every value from
the NumPy arrays inside the ``SimArray``s, so results equal cpu's. Configured with
``compute=False`` (shape-only planning), ``self.cpu`` is a ``MetaBackend`` (meta.py) whose arrays
have shapes, dtypes and layouts but no values, and everything below is modeled the same way.
Around each call the sim models the GPU:

- a primitive that launches one kernel on a real GPU is one modeled kernel: primitives.py says
  which, what it reads and how large its result is (the few that write in place or launch
  several kernels say so where they are defined: here, fused.py, transfers.py);
  ``costmodel.spec`` and the ``timeline`` cost it (device_model.py);
- views (reshape of a contiguous array, permute, broadcast_to, basic slicing) launch nothing and
  share their base's memory, as in CuPy;
- every result holds modeled device memory from the caching pool (memory.py), reserved *before*
  the host computes it, so a request over the modeled capacity raises ``gg.OutOfMemoryError``
  without the host allocating anything (and one the host cannot hold, ``HostMemoryError``);
- ``from_host``/``to_host``/``from_backend`` are modeled transfers (transfers.py).

Threads may share a sim device: every change to its model happens under the device's re-entrant
``lock``, so the counters stay exact; NumPy computes outside it.
"""
import threading

import numpy as np

from .. import events
from ..base import Backend, view_strides
from . import shapes
from .comm import Communication
from .device_model import DeviceModel
from .fused import FusedKernels
from .graphs import SimGraphs
from .kernel_rows import operand_sig as _sig
from .memory import SimArray, new_array as _view
from .meta_array import MetaArray, values_error
from . import primitives
from .primitives import index_arrays
from ..cpu.numpy_ops import GG_DTYPE
from .transfers import Transfers


def _unwrap(x):
    return x.data if type(x) is SimArray else x  # (numbers pass as they are)


def _reshapes_as_view(data, shape):
    """Whether ``data`` can take ``shape`` without a copy (decided from the strides, as NumPy
    decides)."""
    if data.flags.c_contiguous:
        return True
    strides = tuple(s // data.itemsize for s in data.strides)
    return view_strides(data.shape, strides, shapes.reshape(data.size, shape)) is not None


def _broadcast_strides(data, shape):
    """The strides (bytes) of ``data`` broadcast to ``shape``, as ``np.broadcast_to`` lays it
    out, or None when the shapes do not broadcast (``np.broadcast_to`` then says why)."""
    lead = len(shape) - data.ndim if type(shape) is tuple else -1
    if lead < 0 or 0 in shape:  # (NumPy's strides for an empty result are its own business)
        return None
    strides = [0] * lead
    for size, target, stride in zip(data.shape, shape[lead:], data.strides):
        if size == 1 and type(target) is int and target > 0:
            strides.append(0)  # (NumPy's too where the size stays 1)
        elif size == target:
            strides.append(stride)
        else:
            return None
    return tuple(strides)


def _read_only_view(data, shape, strides):
    """A read-only view of contiguous ``data`` in ``shape`` and ``strides`` (what
    ``np.broadcast_to`` returns, made directly: its wrapper costs several µs)."""
    view = _ndarray(shape, data.dtype, data, 0, strides)
    view.setflags(write=False)  # (``flags.writeable = False`` costs twice as much)
    return view


_ndarray = np.ndarray
#: A view's layout follows from its base's and its parameters alone, so each view kind keeps
#: ``(base sig, parameters) -> what it needs`` for NumPy bases (a shape-only device's arrays
#: may lay views out otherwise: they take the uncached path). A sig is never reused (see
#: kernel_rows.py), so an entry never goes stale; the tables start afresh when full.
_BROADCASTS: dict = {}  # (sig, shape) -> (strides, view's sig), or None: np.broadcast_to
_PERMUTES: dict = {}  # (sig, axes) -> the view's sig
_VIEW_LIMIT = 4096


def _remember(table, key, value):
    if len(table) >= _VIEW_LIMIT:
        table.clear()
    table[key] = value


class SimBackend(Transfers, FusedKernels, SimGraphs, Communication, DeviceModel, Backend):
    """One simulated GPU (``sim:N``): the cpu backend's values, modeled kernels, transfers and
    memory."""

    def __init__(self, device):
        self.device = device
        self.cpu = None  # computes every value (or only shapes): set by configure
        #: guards every change to this device's model (re-entrant: a free from
        #: ``Allocation.__del__`` may run while this thread holds it)
        self.lock = threading.RLock()
        self.shape_misses = 0  # results whose size shape inference got wrong (tests expect 0)
        self.pool = None
        self.generation = 0  # bumped by reset(), so a profile spanning a reset stays correct
        self.configure()
        events.register_source(self)

    # ---- device and metadata ---------------------------------------------------------------
    def synchronize(self):
        with self.lock:
            self.timeline.synchronize()

    def dtype(self, a):
        return GG_DTYPE[a.dtype]  # (its values' NumPy dtype: cpu and meta arrays carry one)

    def owns_memory(self, a):
        return a.data.base is None  # (the cpu backend's test: meta arrays keep a base too)

    def strides(self, a):
        return self.cpu.strides(a.data)

    def is_contiguous(self, a):
        return self.cpu.is_contiguous(a.data)

    # ---- one kernel each (primitives.py) ---------------------------------------------------
    def full(self, shape, value, dtype):
        # (the value changes no cost; the key holds the dtype's code, an int, first, so never a
        # tuple second, and cheaper to hash than the DType)
        return self._planned(("full", dtype.code, shape), "full", shape, value, dtype)

    def arange(self, start, stop, step, dtype):
        return self._modeled("arange", start, stop, step, dtype)

    def random(self, kind, shape, dtype, seed, out=None):
        return self._modeled("random", kind, shape, dtype, seed, out=out)

    def randint(self, low, high, shape, seed):
        return self._modeled("randint", low, high, shape, seed)

    # Most primitives rebind their operands to the NumPy arrays before ``_modeled``, so that a
    # temporary operand (``exp(a + b)``'s sum) frees its block before the result takes one (the
    # pool may reuse it); contiguous, getitem and softmax_cross_entropy_backward keep theirs
    # alive, as they always have: the modeled memory figures depend on both. The hottest ones
    # go through ``_planned`` (results.py), keyed by their parameters and operands' ``_sig``.
    def unary(self, op, a, dtype=None, out=None):
        if out is None:
            key = ("unary", op, a.sig or _sig(a), dtype and dtype.code)  # (see full)
            a = a.data
            return self._planned(key, "unary", op, a, dtype)
        return self._modeled("unary", op, a.data, dtype, out=out)

    def binary(self, op, a, b, dtype=None, out=None):
        if out is not None:
            return self._modeled("binary", op, _unwrap(a), _unwrap(b), dtype, out=out)
        # (inline, not _unwrap: the hottest primitive; a signature, once known, is truthy)
        if type(a) is SimArray:
            sig_a, a = a.sig or _sig(a), a.data
        else:
            sig_a = _sig(a)
        if type(b) is SimArray:
            sig_b, b = b.sig or _sig(b), b.data
        else:
            sig_b = _sig(b)
        return self._planned(("binary", op, sig_a, sig_b, dtype and dtype.code), "binary", op,
                             a, b, dtype)

    def where(self, cond, a, b, dtype=None, out=None):
        if out is None:
            key = ("where", _sig(cond), _sig(a), _sig(b), dtype and dtype.code)
            cond, a, b = cond.data, _unwrap(a), _unwrap(b)
            return self._planned(key, "where", cond, a, b, dtype)
        return self._modeled("where", cond.data, _unwrap(a), _unwrap(b), dtype, out=out)

    def cast(self, a, dtype):
        key = ("cast", a.sig or _sig(a), dtype.code)
        a = a.data
        return self._planned(key, "cast", a, dtype)

    def reduce(self, op, a, axis=None, keepdims=False):
        key = ("reduce", op, a.sig or _sig(a), axis, keepdims)
        a = a.data
        return self._planned(key, "reduce", op, a, axis, keepdims)

    def scan(self, op, a, axis):
        a = a.data
        return self._modeled("scan", op, a, axis)

    def sort(self, a, axis, descending=False):
        # one modeled launch writing two results (the values and the indices)
        a = a.data
        sizes = primitives.sort_bytes(a)
        allocs = self._reserve(*sizes)
        values, indices = self._computed(allocs, sum(sizes), self.cpu.sort, a, axis, descending)
        self._write("sort", (a,), (values, indices))
        return SimArray(values, allocs[0]), SimArray(indices, allocs[1])

    def matmul(self, a, b):
        key = ("matmul", a.sig or _sig(a), b.sig or _sig(b))
        a, b = a.data, b.data
        return self._planned(key, "matmul", a, b)

    def contiguous(self, a):
        return self._planned(("contiguous", a.sig or _sig(a)), "contiguous", a.data)

    def concatenate(self, arrays, axis):
        arrays = [x.data for x in arrays]
        return self._modeled("concatenate", arrays, axis)

    def im2col(self, a, kernel, stride, padding, dilation, pad_value=0.0):
        return self._modeled("im2col", a.data, kernel, stride, padding, dilation, pad_value)

    def col2im(self, cols, shape, kernel, stride, padding, dilation):
        return self._modeled("col2im", cols.data, shape, kernel, stride, padding, dilation)

    def max_pool2d(self, a, kernel, stride, padding, dilation):
        # one modeled launch (kernels/pool.cu) writing the maxima and their indices
        a = a.data
        sizes = primitives.max_pool2d_bytes(a, kernel, stride, padding, dilation)
        allocs = self._reserve(*sizes)
        values, indices = self._computed(allocs, sum(sizes), self.cpu.max_pool2d, a, kernel,
                                         stride, padding, dilation)
        self._write("max_pool2d", (a,), (values, indices), {"taps": kernel[0] * kernel[1]})
        return SimArray(values, allocs[0]), SimArray(indices, allocs[1])

    def max_pool2d_backward(self, grad, indices, shape, kernel, stride, padding, dilation):
        return self._modeled("max_pool2d_backward", grad.data, indices.data, shape, kernel,
                             stride, padding, dilation)

    # ---- views, or a copy ------------------------------------------------------------------
    def reshape(self, a, shape):
        data = a.data
        if _reshapes_as_view(data, shape):
            return _view(self.cpu.reshape(data, shape), a.alloc, None)  # no kernel, same memory
        return self._modeled("reshape", data, shapes.reshape(data.size, shape))

    def permute(self, a, axes):
        data = a.data
        view = self.cpu.permute(data, axes)
        if type(data) is not np.ndarray or type(axes) is not tuple:
            return SimArray(view, a.alloc)
        key = (a.sig or _sig(a), axes)  # (the view's sig: matmul's operands are permuted ones)
        sig = _PERMUTES.get(key)
        if sig is None:
            sig = _sig(view)
            _remember(_PERMUTES, key, sig)
        return _view(view, a.alloc, sig)

    def broadcast_to(self, a, shape, view=False):
        # always a view (cpu copies small ones): stride 0 reads each element once, as in CuPy
        data = a.data
        if type(data) is np.ndarray and type(shape) is tuple:
            key = (a.sig or _sig(a), shape)
            known = _BROADCASTS.get(key, False)
            if known is False:  # (layout decides both whether it is contiguous and the strides)
                strides = _broadcast_strides(data, shape) if data.flags.c_contiguous else None
                known = None if strides is None else \
                    (strides, _sig(_read_only_view(data, shape, strides)))
                _remember(_BROADCASTS, key, known)
            if known is not None:
                strides, sig = known
                out = _ndarray(shape, data.dtype, data, 0, strides)
                out.setflags(write=False)  # (_read_only_view, inline)
                return _view(out, a.alloc, sig)
        return SimArray(self.cpu.broadcast_to(data, shape, True), a.alloc)

    # ---- gather / scatter ------------------------------------------------------------------
    def _index(self, index):
        """The NumPy index, and whether it holds index arrays (advanced indexing)."""
        if type(index) is tuple and SimArray not in map(type, index):
            return index, False  # (basic indexing, the common case: nothing to unwrap)
        advanced = False
        entries = []
        for entry in index:
            if type(entry) is SimArray:
                entry = entry.data
                advanced = True
                if entry.dtype == np.bool_:  # the result's size needs a count read back
                    if not self.computes:
                        raise values_error(self.device, "indexing with a boolean mask (the "
                                           "result's size is a count of its true values)")
                    self.synchronize()
            entries.append(entry)
        return tuple(entries), advanced

    def getitem(self, a, index):
        index, advanced = self._index(index)
        if not advanced:  # basic indexing is a view (a 0-d one too: see basic_view_index)
            return _view(self.cpu.getitem(a.data, index), a.alloc, None)
        return self._modeled("getitem", a.data, index)

    def index_add(self, shape, index, values, dtype):
        index, _ = self._index(index)
        values = _unwrap(values)
        nbytes = shapes.numel(shape) * dtype.itemsize
        out, alloc = self._allocated(nbytes, self.cpu.index_add, (shape, index, values, dtype))
        self._write("full", (), (out,))  # the zeros, then the kernel adding the values into them
        self._write("index_add", [values] + index_arrays(index), (out,))
        return SimArray(out, alloc)

    def setitem_(self, a, index, value):
        index, advanced = self._index(index)
        value, data = _unwrap(value), a.data
        self.cpu.setitem_(data, index, value)
        # the kernel writes only the selected elements: a view of them (with index arrays, a
        # stand-in of their shape that holds no memory) is its output, so the spec counts what
        # is really written
        if advanced:
            written = MetaArray(shapes.getitem(data.shape, index), data.dtype)
        else:
            written = self.cpu.getitem(data, index)
        self._write("index_put", [value] + index_arrays(index), (written,))

    def copy_(self, dst, src):
        src, dst = _unwrap(src), dst.data
        self.cpu.copy_(dst, src)
        self._write("copy", (src,), (dst,))

    # ---- collectives (comm.py models their time) ---------------------------------------------
    def host_buffer(self, a):
        data = a.data
        return data if type(data) is np.ndarray else None  # (shape-only arrays hold no values)

    # ---- introspection ---------------------------------------------------------------------
    def describe(self):
        planning = "" if self.computes else " [shape-only: compute=False]"
        return f"{self.device}: simulated {self.profile.describe()}{planning}"

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
