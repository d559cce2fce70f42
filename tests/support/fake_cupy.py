"""The tests' one stand-in for CuPy: NumPy arrays in host memory behind the part of CuPy's API
that gpugrad's cuda backend (gpugrad/backends/cuda/) and its profiler recorder use, with the
backend's kernels compiled for the CPU. No GPU needed. Users: the ``fake_cuda`` fixture
(tests/conftest.py: profiler, DLPack and dtype tests, bench/mlp.py's kernel tables) and the
emulated half of tests/backends/cuda/test_cuda_kernels.py, both through ``install``; the
emulator's own tests (test_cuda_emulator.py) through ``RawModule``; its rules are checked in
tests/backends/cuda/test_fake_cupy.py.

The rules:

- One fake = one ``FakeCupy()``, standing for the ``cupy`` module with its own device state
  (clock, counters); ``install(monkeypatch)`` makes a fresh one the CuPy of a real
  ``CupyBackend`` for ``cuda:0`` and returns ``(fake, backend)``.
- Arrays: ``ndarray``, a NumPy subclass with CuPy's extras: ``.data.ptr``, ``.device.id``,
  ``.get()`` (a plain NumPy copy) and ``__cuda_array_interface__`` (version 3). Every array the
  fake allocates (creation functions, ufunc and operator results, the functions below,
  ``copy``/``astype``, fancy indexing, a copying ``reshape``, random draws) is a fresh buffer on a
  256-byte boundary, as CuPy's memory pool gives, so the kernels' 16-byte vector paths run;
  ``empty`` fills its buffer with 0xff bytes (NaN), so a kernel that leaves an element unwritten
  shows. Views (basic slicing, transpose, a reshape that can view, ``broadcast_to``) share their
  base's memory, as in CuPy. A full reduction gives a 0-d array, as in CuPy.
  ``device_memory(ptr, nbytes)`` maps a ``.data.ptr`` back to the memory of a live array (what
  a library stand-in such as tests/support/fake_nccl.py reads and writes).
- Host memory is not device memory: a NumPy ``ndarray`` passed to a ufunc, an operator or any
  function below raises TypeError (CuPy's "Unsupported type"), except where CuPy uploads it:
  ``asarray``, an index, and the value of ``a[...] = v``. Python and NumPy scalars are fine.
  (``np.asarray`` of a fake array still works where CuPy's refuses: the array is a NumPy array
  underneath.)
- Functions: ``empty``, ``full``, ``zeros``, ``asarray``, ``ascontiguousarray``, ``arange``,
  ``stack``, the dtype names (``cupy.float32`` is ``numpy.float32``, as in CuPy),
  ``broadcast_to``, ``concatenate``, ``where``, ``copyto``, ``matmul`` (with CuPy's GEMM compute
  types: fake_cupy_gemm.py), the ufuncs and reductions
  in ``_NUMPY_FUNCTIONS`` (NumPy's, so NumPy's dtype rules), ``random.RandomState``
  (``seed``/``random_sample``/``standard_normal``/``randint`` on NumPy's generator: CuPy's values
  differ).
- Kernels: ``RawModule(code=..., options=...)`` compiles ``code`` for the CPU with the host C++
  compiler (tests/support/cuda_emulator: real CUDA semantics for barriers, shuffles, launch
  limits and argument types); a launch runs to completion before it returns, and takes no time
  on the fake clock. Without a C++ compiler, RawModule raises ``EmulatorError`` with the reason
  (``kernels_unavailable_reason()`` says so up front). ``ElementwiseKernel`` can be built (the
  backend builds its own at start-up); calling one of gpugrad's (``_ELEMENTWISE``: sign,
  sigmoid) runs its NumPy equivalent, any other raises NotImplementedError.
- Device: one, ``cuda:0`` (``Device(0)``, ``runtime.getDevice/setDevice/getDeviceCount/
  getDeviceProperties``: "Fake GPU", 16 GiB, compute capability 9.0); ``Device(i)`` for any other
  ``i`` raises NotImplementedError; ``Device(0).use()``. ``Device.synchronize()`` counts
  (``fake.syncs``), waits for the work queued on the calling thread's stream and completes
  every recorded event.
- Streams and events: each thread has one stream, its current one (``cuda.
  get_current_stream()``, as CuPy's current stream is per thread), with a nonzero ``ptr`` of
  its own (``fake.streams`` maps it back). A library stand-in may queue asynchronous work on it
  (``enqueue``); kernels never do (they complete at launch). ``Event()`` counts
  (``fake.events_made``); ``record()`` on the current stream advances a fake GPU clock by 1 µs
  and stamps the event with it (another stream raises NotImplementedError); ``event.done`` is
  True once the work queued before ``record`` has completed; ``get_elapsed_time(a, b)`` is
  ``b``'s stamp minus ``a``'s in ms, and, as in CUDA, raises for an event recorded since the
  last synchronize (cudaErrorNotReady), never recorded or made with ``disable_timing=True``.
- Memory pool: ``get_default_memory_pool().used_bytes()`` is a gauge, like the clock: each read
  reports 512 bytes more than the one before (``fake.pool_reads`` counts them), so a test can
  tell which read a reported value came from. There is no capacity: ``cuda.memory.
  OutOfMemoryError`` exists (the backend catches it) and is never raised.
  ``cuda.set_allocator(f)`` keeps ``f`` as ``fake.allocator`` (the fake's arrays never call it).
- Out of scope: everything else. Any other ``cupy.<name>``, ``cupy.cuda.<name>``,
  ``runtime.<name>``, ``Device.<name>``, pool method or non-default argument listed in the code
  raises NotImplementedError naming the call, so a backend change that needs more of CuPy fails
  loudly here instead of passing for the wrong reason: extend this file then. Not modeled:
  asynchrony of kernels (done when the call returns), multiple devices, streams other than
  each thread's current one, memory limits,
  DLPack's device (arrays export through NumPy's ``__dlpack__``, as host memory). ``cupyx``
  (the backend's scatter-add with repeated indices) is stood in for by ``install_cupyx``.
"""
import itertools
import threading
import time
import types
import weakref

import numpy as np

from .cuda_emulator import loader
from .fake_cupy_gemm import GemmSettings, gemm_matmul

_ALIGNMENT = 256
_POOL_STEP = 512  # bytes the memory-pool gauge adds per read
_CLOCK_STEP_MS = 1e-3  # the fake GPU clock's advance per recorded event
_SYNC_WAIT_S = 30.0  # how long synchronize waits for queued work before reporting it stuck
_STREAM_HANDLES = itertools.count(0x57000)  # the streams' ``ptr``s: distinct, never 0
_PROPERTIES = {"name": b"Fake GPU", "totalGlobalMem": 2**34, "major": 9, "minor": 0}
# CuPy functions the fake runs on NumPy (ufuncs and reductions: the backend's tables)
_NUMPY_FUNCTIONS = frozenset({
    "negative", "exp", "log", "sqrt", "abs", "tanh", "sign", "log1p", "expm1", "add",
    "subtract", "multiply", "true_divide", "power", "maximum", "minimum", "equal", "not_equal",
    "less", "less_equal", "greater", "greater_equal", "logical_and", "logical_or", "sum", "mean",
    "max", "min", "argmax", "argmin", "matmul", "where", "concatenate", "copyto", "arange",
    "prod", "cumsum", "cumprod", "take_along_axis", "flip",
    "sin", "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "arcsinh", "arccosh",
    "arctanh", "log2", "log10", "exp2", "floor", "ceil", "trunc", "rint", "arctan2", "fmax",
    "fmin", "stack", "bitwise_and", "bitwise_or", "bitwise_xor", "left_shift", "right_shift",
    "invert", "fmod", "remainder", "floor_divide",
})
# every live allocation, by (aligned start, size): what device_memory maps pointers back to
_ALLOCATIONS = weakref.WeakValueDictionary()


def _not_implemented(name):
    def call(*args, **kwargs):
        raise NotImplementedError(f"the fake CuPy does not implement {name}; extend "
                                  "tests/support/fake_cupy.py")

    call.__name__ = name.rsplit(".", 1)[-1]
    return call


def kernels_unavailable_reason():
    """None when ``RawModule`` can compile kernels here, else why not (no C++ compiler)."""
    return loader.unavailable_reason()


def compile_kernels(sources, options=()):
    """Compile the kernel ``sources`` for the CPU at once, each in its own compiler process, as
    ``RawModule(code=source, options=options)`` would one after another (the libraries are
    cached on disk, so later RawModules, in this run or the next, just load them)."""
    loader.build_all([(source, options) for source in sources])


# ---- arrays ---------------------------------------------------------------------------------
def _allocate(shape, dtype):
    """A fresh array on a 256-byte boundary whose bytes are 0xff (NaN for floats)."""
    shape = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(shape)
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    raw = np.full(nbytes + _ALIGNMENT, 0xFF, np.uint8)
    start = (-raw.ctypes.data) % _ALIGNMENT
    _ALLOCATIONS[(raw.ctypes.data + start, nbytes)] = raw
    return raw[start:start + nbytes].view(dtype).reshape(shape).view(ndarray)


def device_memory(ptr, nbytes):
    """Bytes ``[ptr, ptr + nbytes)`` of an array the fake allocated (what a library given
    ``a.data.ptr`` reads and writes), as a writable uint8 NumPy view that keeps the memory
    alive, as CuPy's stream-ordered pool keeps memory that queued work uses; ValueError for
    memory the fake did not allocate (a host pointer, a freed array) or a range past its end."""
    for (start, size), raw in list(_ALLOCATIONS.items()):
        if start <= ptr <= start + size:
            if ptr + nbytes > start + size:
                raise ValueError(f"{nbytes} bytes at {ptr:#x} run past the end of its array")
            offset = ptr - raw.ctypes.data
            return raw[offset:offset + nbytes]
    raise ValueError(f"{ptr:#x} is not the address of an array of the fake CuPy")


def _adopt(value):
    """A NumPy result (array or scalar) as a device array in a buffer of the fake's own."""
    host = np.asarray(value)
    out = _allocate(host.shape, host.dtype)
    out[...] = host
    return out


def _host(value, call=None):
    """``value`` for NumPy: a device array as a plain view of its memory; lists, tuples and
    dicts item by item. A NumPy array (host memory) is refused as CuPy refuses it, naming
    ``call``; with no ``call`` (an index or a value assigned by ``a[...] = v``, which CuPy
    uploads) it passes."""
    if isinstance(value, ndarray):
        return value.view(np.ndarray)
    if isinstance(value, np.ndarray):
        if call is None:
            return value
        raise TypeError(f"Unsupported type {type(value)} in {call} (host memory: upload it "
                        "with cupy.asarray)")
    if isinstance(value, (list, tuple)):
        return type(value)(_host(v, call) for v in value)
    if isinstance(value, dict):
        return {k: _host(v, call) for k, v in value.items()}
    return value


class _MemoryPointer:
    """What ``ndarray.data`` returns (CuPy's MemoryPointer): the address."""

    def __init__(self, ptr):
        self.ptr = ptr


class ndarray(np.ndarray):  # noqa: N801  (CuPy's name)
    """A "device" array: host memory with CuPy's array attributes."""

    @property
    def data(self):
        return _MemoryPointer(self.__array_interface__["data"][0])

    @property
    def device(self):
        return Device(0)

    @property
    def __cuda_array_interface__(self):
        """Version 3 of the interface; the same dict on every read of one array."""
        interface = self.__dict__.get("_cuda_array_interface")
        if interface is None:
            host = self.__array_interface__
            interface = {"shape": self.shape, "typestr": self.dtype.str, "descr": host["descr"],
                         "data": (host["data"][0], False), "version": 3,
                         "strides": None if self.flags.c_contiguous else self.strides}
            self.__dict__["_cuda_array_interface"] = interface
        return interface

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        call = f"cupy.{ufunc.__name__}"
        kwargs = _host(kwargs, call)
        if out is not None:
            if not all(isinstance(o, ndarray) for o in out):
                raise TypeError(f"{call}: out= must be a device array")
            kwargs["out"] = tuple(o.view(np.ndarray) for o in out)
        result = getattr(ufunc, method)(*_host(inputs, call), **kwargs)
        if out is not None:
            return out[0] if len(out) == 1 else out
        if method == "at":
            return None
        return tuple(_adopt(r) for r in result) if isinstance(result, tuple) else _adopt(result)

    def __getitem__(self, index):
        index = _host(index)
        result = super().__getitem__(index)
        if not isinstance(result, ndarray):  # one element: CuPy gives a 0-d view, not a copy
            return super().__getitem__((index if isinstance(index, tuple) else (index,)) +
                                       (Ellipsis,))
        if not np.may_share_memory(result, self):
            return _adopt(result)  # fancy indexing: a copy, in a buffer of the fake's own
        return result

    def __setitem__(self, index, value):
        super().__setitem__(_host(index), _host(value))

    def get(self, stream=None):
        """A host copy, as a plain NumPy array."""
        if stream is not None:
            raise NotImplementedError("cupy.ndarray.get(stream=...)")
        return np.array(self, copy=True, subok=False)

    def copy(self, order="C"):
        if order != "C":
            raise NotImplementedError(f"cupy.ndarray.copy(order={order!r})")
        return _adopt(self.view(np.ndarray))

    def astype(self, dtype, order="K", casting=None, subok=None, copy=True):
        if order != "K" or casting is not None or subok is not None:
            raise NotImplementedError("cupy.ndarray.astype with order/casting/subok")
        if not copy and np.dtype(dtype) == self.dtype:
            return self
        return _adopt(self.view(np.ndarray).astype(dtype))

    def reshape(self, *shape, order="C"):
        if order != "C":
            raise NotImplementedError(f"cupy.ndarray.reshape(order={order!r})")
        result = super().reshape(*shape)
        return result if np.may_share_memory(result, self) or not result.size else _adopt(result)


def empty(shape, dtype=float):
    """An uninitialized array on a 256-byte boundary; its bytes are 0xff (NaN for floats)."""
    return _allocate(shape, dtype)


# ---- devices, streams, events, memory -----------------------------------------------------
class Device:
    """``cupy.cuda.Device(i)``: only device 0 exists. ``fake`` is the FakeCupy it belongs to
    (synchronize completes that fake's events)."""

    mem_info = (_PROPERTIES["totalGlobalMem"], _PROPERTIES["totalGlobalMem"])  # (free, total)
    compute_capability = f"{_PROPERTIES['major']}{_PROPERTIES['minor']}"  # CuPy's string, "90"

    def __init__(self, device=None, fake=None):
        self.id = 0 if device is None else int(device)
        if self.id != 0:
            raise NotImplementedError(f"the fake CuPy has only device 0, not {self.id}")
        self._fake = fake

    def synchronize(self):
        """Kernels ran to completion when launched; this waits (a bounded while) for the work
        queued on the calling thread's stream (another thread's library call may complete it)
        and completes the recorded events."""
        if self._fake is not None:
            self._fake.syncs += 1
            self._fake.current_stream().drain()
            self._fake.pending.clear()

    def use(self):
        """Make this device the current one."""
        if self._fake is not None:
            self._fake.cuda.runtime.setDevice(self.id)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return _not_implemented(f"cupy.cuda.Device.{name}")

    def __eq__(self, other):
        return isinstance(other, Device) and other.id == self.id

    def __hash__(self):
        return hash(self.id)


class _Stream:
    """A thread's current stream (in CuPy the current stream is per thread): ``ptr``, a handle
    of its own (never 0, so work a library queues on the wrong stream shows), and the
    asynchronous work queued on it: a library stand-in (tests/support/fake_nccl.py) ``enqueue``s
    an operation with a ``complete`` attribute, which events recorded after it wait for."""

    def __init__(self, ptr):
        self.ptr = ptr
        self._work = []

    def enqueue(self, operation):
        """Queue ``operation`` (work that completes later: its ``complete`` turns True)."""
        self._work.append(operation)

    def incomplete(self):
        """The queued operations that have not completed, oldest first."""
        self._work = [op for op in self._work if not op.complete]
        return list(self._work)

    def drain(self):
        """Wait until the queued work completes; RuntimeError after ``_SYNC_WAIT_S`` seconds
        (a collective that a peer never joined: a real GPU would hang)."""
        deadline = time.monotonic() + _SYNC_WAIT_S
        while self.incomplete():
            if time.monotonic() > deadline:
                raise RuntimeError(f"the fake CuPy waited {_SYNC_WAIT_S:g} s for work on "
                                   f"{self!r} that never completed")
            time.sleep(1e-3)

    def __repr__(self):
        return f"<fake cupy.cuda.Stream {self.ptr:#x}>"


class _Runtime:
    def __init__(self):
        self.current = 0

    def getDevice(self):  # noqa: N802  (CuPy's names)
        return self.current

    def setDevice(self, index):  # noqa: N802
        Device(index)  # only 0 exists
        self.current = int(index)

    def getDeviceCount(self):  # noqa: N802
        return 1

    def getDeviceProperties(self, index):  # noqa: N802
        Device(index)
        return dict(_PROPERTIES)

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return _not_implemented(f"cupy.cuda.runtime.{name}")


class _Namespace(types.SimpleNamespace):
    """A CuPy submodule: the listed names, and NotImplementedError for any other."""

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return _not_implemented(f"{self._name}.{name}")


class OutOfMemoryError(MemoryError):
    """cupy.cuda.memory.OutOfMemoryError (never raised: the fake has no capacity)."""


def _sigmoid(x):
    with np.errstate(over="ignore"):  # exp(-x) overflows to inf, as in CUDA: the result is 0
        return 1 / (1 + np.exp(-x))


# gpugrad's own ElementwiseKernels (backends/cuda/backend.py), by name, as NumPy computes them
_ELEMENTWISE = {
    "gpugrad_sign": lambda x: ((x > 0).astype(x.dtype) - (x < 0).astype(x.dtype)),
    "gpugrad_sigmoid": _sigmoid,
}


class ElementwiseKernel:
    """Constructible (CupyBackend builds them at start-up); calling one runs its NumPy
    equivalent from ``_ELEMENTWISE`` (gpugrad's kernels, by name), any other raises."""

    def __init__(self, in_params, out_params, operation, name="kernel", **kwargs):
        self.name = name

    def __call__(self, *args, **kwargs):
        if self.name not in _ELEMENTWISE or kwargs:
            raise NotImplementedError(f"the fake CuPy does not run cupy.ElementwiseKernel "
                                      f"{self.name!r}; extend tests/support/fake_cupy.py")
        call = f"ElementwiseKernel {self.name}"
        return _adopt(_ELEMENTWISE[self.name](*_host(args, call)))


class _RandomState:
    """cupy.random.RandomState on NumPy's generator (values differ from CuPy's)."""

    def __init__(self, seed=None):
        self.seed(seed)

    def seed(self, seed=None):
        self._rng = np.random.default_rng(seed)

    def random_sample(self, size=None, dtype=float):
        return _adopt(self._rng.random(size).astype(dtype))

    def standard_normal(self, size=None, dtype=float):
        return _adopt(self._rng.standard_normal(size).astype(dtype))

    def randint(self, low, high=None, size=None, dtype=int):
        return _adopt(self._rng.integers(low, high, size).astype(dtype))


class FakeCupy:
    """One fake ``cupy`` module (see the module's docstring for its rules) with its own GPU clock
    and counters: ``events_made``, ``syncs`` and ``pool_reads``; ``pending`` holds the events
    recorded since the last synchronize; ``streams`` maps each stream's ``ptr`` to it."""

    __version__ = "0.0+fake"
    ndarray = ndarray
    ElementwiseKernel = ElementwiseKernel
    empty = staticmethod(empty)
    # CuPy's dtype names are NumPy's scalar types
    bool_, int8, uint8, int16, int32, int64 = np.bool_, np.int8, np.uint8, np.int16, np.int32, \
        np.int64
    float16, float32, float64 = np.float16, np.float32, np.float64

    def __init__(self):
        self.clock_ms, self.events_made, self.syncs, self.pool_reads = 0.0, 0, 0, 0
        self.pending = weakref.WeakSet()
        self.streams = {}
        self._thread = threading.local()
        fake = self

        class Event:
            """cupy.cuda.Event: stamped by the fake clock when recorded; ``done`` once the work
            queued on its stream before ``record`` has completed."""

            def __init__(self, block=False, disable_timing=False, interprocess=False):
                if block or interprocess:
                    raise NotImplementedError("cupy.cuda.Event(block/interprocess=...)")
                fake.events_made += 1
                self.ms, self.timing, self._after = None, not disable_timing, ()

            def record(self, stream_=None):
                stream = fake.current_stream()
                if stream_ is not None and stream_ is not stream:
                    raise NotImplementedError("cupy.cuda.Event.record on a stream other than "
                                              "the current one")
                self._after = stream.incomplete()
                fake.clock_ms += _CLOCK_STEP_MS
                self.ms = fake.clock_ms
                fake.pending.add(self)

            @property
            def done(self):
                """cudaEventQuery: has the work queued before ``record`` completed?"""
                return all(op.complete for op in self._after)

        def get_elapsed_time(start, end):
            for event in (start, end):
                if event.ms is None:
                    raise RuntimeError("cudaErrorInvalidResourceHandle: an event never recorded")
                if not event.timing:
                    raise RuntimeError("cudaErrorInvalidResourceHandle: an event made with "
                                       "disable_timing=True")
                if event in fake.pending:
                    raise RuntimeError("cudaErrorNotReady: timed an event before synchronizing")
            return end.ms - start.ms

        self.cuda = _Namespace(
            _name="cupy.cuda", Event=Event, runtime=_Runtime(),
            Device=lambda device=None: Device(device, fake),
            get_current_stream=self.current_stream, get_elapsed_time=get_elapsed_time,
            set_allocator=lambda allocator=None: setattr(fake, "allocator", allocator),
            memory=_Namespace(_name="cupy.cuda.memory", OutOfMemoryError=OutOfMemoryError))
        self.random = _Namespace(_name="cupy.random", RandomState=_RandomState)
        # GEMM compute types and a matmul honouring them (fake_cupy_gemm.py)
        self._core = _Namespace(_name="cupy._core", _routines_linalg=GemmSettings())
        self.matmul = gemm_matmul(self._core._routines_linalg, _adopt,
                                  lambda arrays: _host(arrays, "cupy.matmul"))

    def current_stream(self):
        """The calling thread's current stream (made on its first use)."""
        stream = getattr(self._thread, "stream", None)
        if stream is None:
            stream = self._thread.stream = _Stream(next(_STREAM_HANDLES))
            self.streams[stream.ptr] = stream
        return stream

    # ---- creation ----------------------------------------------------------------------------
    def full(self, shape, fill_value, dtype=None):
        out = empty(shape, np.asarray(fill_value).dtype if dtype is None else dtype)
        out[...] = _host(fill_value, "cupy.full")
        return out

    def zeros(self, shape, dtype=float):
        return self.full(shape, 0, dtype)

    def asarray(self, a, dtype=None, order=None):
        """``a`` itself when it is a device array of that dtype, else a copy on the device."""
        if order is not None:
            raise NotImplementedError(f"cupy.asarray(order={order!r})")
        if isinstance(a, ndarray):
            return a if dtype is None or np.dtype(dtype) == a.dtype else a.astype(dtype)
        return _adopt(np.asarray(a, dtype=dtype))

    def ascontiguousarray(self, a, dtype=None):
        if not isinstance(a, ndarray):
            raise TypeError(f"Unsupported type {type(a)} in cupy.ascontiguousarray")
        dtype = a.dtype if dtype is None else np.dtype(dtype)
        if a.flags.c_contiguous and a.dtype == dtype:
            return a
        return a.astype(dtype)

    def argsort(self, a, axis=-1, kind=None):
        """Always stable, as CuPy's is (NumPy's default quicksort is not)."""
        if not isinstance(a, ndarray) or kind is not None:
            raise NotImplementedError("cupy.argsort of a host array, or with kind=")
        return _adopt(np.argsort(a.view(np.ndarray), axis=axis, kind="stable"))

    def broadcast_to(self, array, shape):
        if not isinstance(array, ndarray):
            raise TypeError(f"Unsupported type {type(array)} in cupy.broadcast_to")
        return np.broadcast_to(array, shape, subok=True)

    # ---- kernels, memory -----------------------------------------------------------------
    def RawModule(self, code=None, options=(), **kwargs):  # noqa: N802  (CuPy's name)
        """The kernels of ``code`` compiled for the CPU (cuda_emulator/loader.py)."""
        if code is None or kwargs:
            raise NotImplementedError(f"cupy.RawModule without code= or with {sorted(kwargs)}")
        return loader.EmulatedModule(code, options,
                                     is_device_array=lambda a: isinstance(a, ndarray))

    def get_default_memory_pool(self):
        def used_bytes():
            self.pool_reads += 1
            return _POOL_STEP * self.pool_reads

        return _Namespace(_name="cupy.cuda.MemoryPool", used_bytes=used_bytes)

    def __getattr__(self, name):
        """The NumPy-backed functions of ``_NUMPY_FUNCTIONS``; any other ``cupy.<name>`` is a
        function raising NotImplementedError when called (the backend looks its elementwise
        table up at start-up, so the lookup itself must work)."""
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in _NUMPY_FUNCTIONS:
            return _not_implemented(f"cupy.{name}")
        function, call = getattr(np, name), f"cupy.{name}"

        def run(*args, out=None, **kwargs):
            kwargs = _host(kwargs, call)
            if out is not None:
                if not isinstance(out, ndarray):
                    raise TypeError(f"{call}: out= must be a device array")
                kwargs["out"] = out.view(np.ndarray)
            result = function(*_host(args, call), **kwargs)
            if out is not None or result is None:  # written in place (out=, copyto)
                return out
            return _adopt(result)

        run.__name__ = name
        return run


def install(monkeypatch):
    """``cuda:0`` served by the real cuda backend on a fresh ``FakeCupy``; returns ``(fake,
    backend)``. Undone by ``monkeypatch``: the availability probe, the device registry, the bound
    CuPy, the kernel-module cache and the profiler's source list are swapped for the fake's and
    restored afterwards (a real GPU run in the same process uses them)."""
    from gpugrad import device_registry as device_module
    from gpugrad.backends import events
    from gpugrad.backends.cuda import availability
    from gpugrad.backends.cuda import backend as cuda_backend
    from gpugrad.backends.cuda import runtime as cuda_runtime

    fake = FakeCupy()
    monkeypatch.setitem(availability._probe_cache, "result", (fake, 1, None))
    monkeypatch.setattr(device_module, "_BACKENDS", {})
    monkeypatch.setattr(cuda_runtime, "cupy", cuda_runtime.cupy)
    monkeypatch.setattr(cuda_backend, "_MODULES", {})
    monkeypatch.setattr(events, "_SOURCES", [])
    return fake, device_module.get_backend("cuda:0")


def install_cupyx(monkeypatch):
    """``cupyx.scatter_add`` (the cuda backend's accumulating scatter, behind gather's gradient,
    scatter_add and index_add) stood in for by NumPy's ``add.at``, which accumulates repeated
    indices alike; undone by ``monkeypatch``."""
    import sys

    import numpy as np

    cupyx = types.ModuleType("cupyx")
    cupyx.scatter_add = np.add.at
    monkeypatch.setitem(sys.modules, "cupyx", cupyx)


def kernel_backend(kind, kernel_files):
    """For a module-scoped fixture (a generator: ``yield from kernel_backend(...)``): the cuda
    backend on a real GPU (``kind`` "gpu") or on this stand-in with ``kernel_files`` (names in
    kernels/) compiled for the CPU ("emulated"); skips with the reason where that cannot run."""
    import pytest

    import gpugrad as gg
    from gpugrad.backends.cuda import backend as cuda_backend

    if kind == "gpu":
        if not gg.cuda.is_available():
            pytest.skip(f"cuda is not usable here: {gg.cuda.unavailable_reason()}")
        yield gg.device_registry.get_backend("cuda")
        return
    reason = kernels_unavailable_reason()
    if reason:
        pytest.skip(reason)
    # compiled at once (cached on disk: only a first run pays)
    compile_kernels([cuda_backend.kernel_source(gg.cuda.kernel_dir(), name)
                     for name in kernel_files], options=("--std=c++17",))
    with pytest.MonkeyPatch.context() as patch:
        _, backend = install(patch)
        yield backend
