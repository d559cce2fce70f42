"""Stream capture for the tests' fake CuPy (fake_cupy.py), as CuPy and CUDA have it, for
gpugrad's cuda graphs (gpugrad/backends/cuda/graphs_capture.py). ``install(monkeypatch)`` is
``fake_cupy.install`` with it; the rules:

- ``cuda.Stream(non_blocking=...)``: a stream of its own; ``with stream:`` makes it the calling
  thread's current stream (and restores the previous on exit); ``wait_event``, on it and on
  each thread's default stream, orders nothing (the fake's kernels complete at launch). ``begin_capture(mode=...)`` / ``end_capture()`` /
  ``is_capturing()``; ``end_capture`` returns a ``Graph`` whose ``launch(stream=None)`` runs the
  captured work in order.
- While the current stream captures, work is recorded, not run, as CUDA records it: a function
  that allocates its result returns a fresh array whose bytes are 0xff (NaN: "not computed
  yet"), and a replay writes the values into that same array; an in-place write (``out=``,
  ``copyto``, ``a[...] = v``, a RawModule kernel) changes nothing until a replay. Views launch
  nothing and are not recorded. Operands are read at replay time, so a replay sees the values
  its static inputs hold then.
- What CUDA refuses during capture raises RuntimeError "operation not permitted when stream is
  capturing": ``ndarray.get()``, ``Device.synchronize()``, ``cupy.asarray`` of host (pageable)
  memory, ``ndarray.set`` from memory not made by ``cuda.alloc_pinned_memory``, launching a
  graph.
- ``cuda.get_allocator()`` returns what ``set_allocator`` set (the fake's arrays never call
  it); ``cuda.alloc_pinned_memory(n)`` gives n bytes of host memory marked pinned;
  ``ndarray.set(host)`` copies host data in (recorded during capture);
  ``runtime.streamCaptureModeRelaxed`` and the other mode constants exist.
"""
import itertools
import threading

import numpy as np

from . import fake_cupy
from .cuda_emulator import loader

NOT_PERMITTED = "cudaErrorStreamCaptureUnsupported: operation not permitted when stream is " \
                "capturing"
_state = threading.local()  # .tape: the list of recorded work while this thread captures
_PINNED = {}  # id -> the host buffers alloc_pinned_memory made (kept alive by the fake)


def capturing():
    """Whether the calling thread's current stream is capturing."""
    return getattr(_state, "tape", None) is not None


def _refuse_during_capture(what):
    if capturing():
        raise RuntimeError(f"{NOT_PERMITTED} ({what})")


def _arrays(values):
    for value in values:
        if isinstance(value, np.ndarray):
            yield value
        elif isinstance(value, (tuple, list)):
            yield from _arrays(value)
        elif isinstance(value, dict):
            yield from _arrays(tuple(value.values()))


def _not_computed(array):
    """Fill ``array`` with 0xff bytes, as memory no kernel has written yet."""
    raw = array.view(np.ndarray)
    raw[...] = np.frombuffer(b"\xff" * raw.itemsize, raw.dtype)[0]


def _uncaptured(function, *args, **kwargs):
    """``function(*args, **kwargs)`` run now, the fake's own calls inside it not recorded."""
    tape, _state.tape = _state.tape, None
    try:
        return function(*args, **kwargs)
    finally:
        _state.tape = tape


def _allocating(original):
    """``original`` (a function computing a new array from its operands), recorded while the
    thread captures: the result's array is made now, its values by each replay."""
    def call(*args, **kwargs):
        if not capturing():
            return original(*args, **kwargs)
        with np.errstate(all="ignore"):  # the operands hold values not computed yet
            result = _uncaptured(original, *args, **kwargs)
        if not isinstance(result, fake_cupy.ndarray) or any(
                np.may_share_memory(result, a) for a in _arrays((args, kwargs))):
            return result  # a view (or no array): no kernel
        _not_computed(result)
        _state.tape.append(lambda: np.copyto(result.view(np.ndarray),
                                             original(*args, **kwargs).view(np.ndarray)))
        return result

    return call


def _in_place(original, returns):
    """``original`` (a function writing into its operands), recorded while the thread captures:
    it writes nothing until a replay; ``returns(args, kwargs)`` is what the call gives back."""
    def call(*args, **kwargs):
        if not capturing():
            return original(*args, **kwargs)
        _state.tape.append(lambda: original(*args, **kwargs))
        return returns(args, kwargs)

    return call


def _ufunc(original):
    allocating, in_place = _allocating(original), _in_place(
        original, lambda args, kwargs: None if kwargs["out"] is None
        else kwargs["out"][0] if len(kwargs["out"]) == 1 else kwargs["out"])

    def call(self, ufunc, method, *inputs, out=None, **kwargs):
        if out is None and method != "at":
            return allocating(self, ufunc, method, *inputs, **kwargs)
        return in_place(self, ufunc, method, *inputs, out=out, **kwargs)

    return call


def _module_functions(original_getattr):
    """``FakeCupy.__getattr__`` whose NumPy-backed functions record during capture."""
    def getattr_(self, name):
        function = original_getattr(self, name)
        allocating = _allocating(function)
        in_place = _in_place(function, lambda args, kwargs: kwargs.get("out"))

        def run(*args, **kwargs):
            if name == "copyto" or kwargs.get("out") is not None:
                return in_place(*args, **kwargs)
            return allocating(*args, **kwargs)

        run.__name__ = name
        return run

    return getattr_


class Graph:
    """``cupy.cuda.graph.Graph``: the work one capture recorded."""

    def __init__(self, work):
        self._work = work

    def launch(self, stream=None):
        """Run the recorded work, in order."""
        _refuse_during_capture("cudaGraphLaunch")
        for run in self._work:
            run()

    def upload(self, stream=None):
        """Nothing to prepare on the fake."""


_STREAM_HANDLES = itertools.count(0x6A000)


def _stream_class(fake):
    class Stream(fake_cupy._Stream):
        """``cupy.cuda.Stream``; ``with stream:`` makes it current for the calling thread."""

        def __init__(self, null=False, non_blocking=False, ptds=False):
            super().__init__(next(_STREAM_HANDLES))
            fake.streams[self.ptr] = self
            self._previous = []

        def __enter__(self):
            self._previous.append(fake.current_stream())
            fake._thread.stream = self
            return self

        def __exit__(self, *exc):
            fake._thread.stream = self._previous.pop()
            return False

        def wait_event(self, event):
            """Order nothing: the fake's work completes at launch."""

        def begin_capture(self, mode=None):
            if fake.current_stream() is not self:
                raise NotImplementedError("the fake CuPy captures only the current stream")
            if capturing():
                raise RuntimeError("cudaErrorIllegalState: the stream is already capturing")
            _state.tape = []

        def is_capturing(self):
            return capturing() and fake.current_stream() is self

        def end_capture(self):
            if not self.is_capturing():
                raise RuntimeError("cudaErrorIllegalState: end_capture on a stream that is "
                                   "not capturing")
            work, _state.tape = _state.tape, None
            return Graph(work)

    return Stream


def _alloc_pinned_memory(nbytes):
    buffer = np.zeros(int(nbytes), np.uint8)
    _PINNED[id(buffer)] = buffer
    return buffer


def _set(self, host, stream=None):
    """``ndarray.set``: copy host data in (pinned memory only while capturing)."""
    root = host
    while isinstance(root.base, np.ndarray):
        root = root.base
    if capturing() and _PINNED.get(id(root)) is not root:
        raise RuntimeError(f"{NOT_PERMITTED} (a copy from pageable host memory)")
    copy = lambda: np.copyto(self.view(np.ndarray), host)  # noqa: E731
    if capturing():
        _state.tape.append(copy)
    else:
        copy()


def install(monkeypatch):
    """``fake_cupy.install`` with stream capture: ``(fake, backend)``, undone by
    ``monkeypatch``. The fake's classes learn capture first, so the backend's function tables,
    built when it is created, record too."""
    cls, array = fake_cupy.FakeCupy, fake_cupy.ndarray
    monkeypatch.setattr(array, "__array_ufunc__", _ufunc(array.__array_ufunc__))
    for name in ("__getitem__", "copy", "astype", "reshape"):
        monkeypatch.setattr(array, name, _allocating(getattr(array, name)))
    monkeypatch.setattr(array, "__setitem__", _in_place(array.__setitem__,
                                                        lambda args, kwargs: None))
    get = array.get
    monkeypatch.setattr(array, "get", lambda self, stream=None: (
        _refuse_during_capture("a device-to-host copy"), get(self, stream))[1])
    monkeypatch.setattr(array, "set", _set, raising=False)
    monkeypatch.setattr(cls, "__getattr__", _module_functions(cls.__getattr__))
    monkeypatch.setattr(cls, "argsort", _allocating(cls.argsort))
    asarray = cls.asarray

    def asarray_(self, a, dtype=None, order=None):
        if not isinstance(a, array):
            _refuse_during_capture("a copy from pageable host memory")
        return asarray(self, a, dtype, order)

    monkeypatch.setattr(cls, "asarray", asarray_)
    monkeypatch.setattr(fake_cupy.ElementwiseKernel, "__call__",
                        _allocating(fake_cupy.ElementwiseKernel.__call__))
    monkeypatch.setattr(loader.EmulatedKernel, "__call__",
                        _in_place(loader.EmulatedKernel.__call__, lambda args, kwargs: None))
    synchronize = fake_cupy.Device.synchronize
    monkeypatch.setattr(fake_cupy.Device, "synchronize", lambda self: (
        _refuse_during_capture("cudaDeviceSynchronize"), synchronize(self))[1])
    monkeypatch.setattr(fake_cupy._Stream, "wait_event", lambda self, event: None,
                        raising=False)
    monkeypatch.setattr(_state, "tape", None, raising=False)
    fake, backend = fake_cupy.install(monkeypatch)
    for name, function in list(vars(fake).items()):  # per-fake functions (matmul)
        if name in fake_cupy._NUMPY_FUNCTIONS and callable(function):
            setattr(fake, name, _allocating(function))
    cuda = fake.cuda
    cuda.Stream = _stream_class(fake)
    cuda.get_allocator = lambda: getattr(fake, "allocator", None) or (lambda nbytes: nbytes)
    cuda.alloc_pinned_memory = _alloc_pinned_memory
    cuda.graph = fake_cupy._Namespace(_name="cupy.cuda.graph", Graph=Graph)
    runtime = cuda.runtime
    runtime.streamCaptureModeGlobal, runtime.streamCaptureModeThreadLocal, \
        runtime.streamCaptureModeRelaxed = 0, 1, 2
    return fake, backend
