"""``cuda:0`` on a NumPy stand-in for CuPy whose CUDA events tick a fake clock: enough of CuPy for
the cuda backend's plain primitives and for ``gg.profiler``'s cuda recorder, with no GPU. Its
kernels (``RawModule``) do nothing, so it checks plumbing, not numbers (the kernels' numbers are
checked on the CPU emulator in tests/support/cuda_emulator)."""
from types import SimpleNamespace

import numpy as np

from gpugrad.backends import events


class _FakeArray(np.ndarray):
    """A NumPy array standing for a CuPy one: ``get()`` copies it to the host."""

    device = SimpleNamespace(id=0)
    __cuda_array_interface__ = {}

    def get(self):
        return np.array(self)

    @property
    def data(self):  # CuPy's MemoryPointer: the kernels' launch code reads the address
        return SimpleNamespace(ptr=self.ctypes.data)


def _on_device(x):
    if isinstance(x, _FakeArray):
        return x
    out = _FakeArray(np.shape(x), np.asarray(x).dtype)
    out[...] = x
    return out


class _FakeCupy:
    """The few CuPy calls the cuda backend makes, on NumPy; CUDA events tick a fake GPU clock
    (1 µs per record) and, as in CUDA, cannot be timed before a synchronize has completed them."""

    ndarray = _FakeArray

    def __init__(self):
        self.clock_ms, self.events_made, self.syncs, self.pool_reads = 0.0, 0, 0, 0
        self.pending = set()  # events recorded since the last synchronize
        fake = self
        stream = object()

        class Event:
            def __init__(self):
                fake.events_made += 1
                self.ms = None

            def record(self, on):
                assert on is stream, "events go on the current stream"
                fake.clock_ms += 1e-3
                self.ms = fake.clock_ms
                fake.pending.add(self)

        class Device:
            def __init__(self, index):
                self.mem_info = (0, 2**34)

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return False

            def synchronize(self):
                fake.syncs += 1
                fake.pending.clear()

        def get_elapsed_time(a, b):
            if a in fake.pending or b in fake.pending:
                raise RuntimeError("cudaErrorNotReady: timed an event before synchronizing")
            return b.ms - a.ms

        props = {"name": b"Fake GPU", "totalGlobalMem": 2**34}
        self.cuda = SimpleNamespace(
            Event=Event, Device=Device, get_elapsed_time=get_elapsed_time,
            get_current_stream=lambda: stream,
            memory=SimpleNamespace(OutOfMemoryError=type("OutOfMemoryError", (MemoryError,), {})),
            runtime=SimpleNamespace(getDevice=lambda: 0, setDevice=lambda i: None,
                                    getDeviceProperties=lambda i: props))

    def get_default_memory_pool(self):
        def used_bytes():
            self.pool_reads += 1
            return 512 * self.pool_reads  # what the test expects to see in the counter

        return SimpleNamespace(used_bytes=used_bytes)

    class random:  # noqa: N801  (CuPy's module)
        class RandomState:  # noqa: N801
            """cupy.random.RandomState on NumPy's generator (values differ from CuPy's)."""

            def __init__(self, seed):
                self.seed(seed)

            def seed(self, seed):
                self._rng = np.random.default_rng(seed)

            def random_sample(self, shape, dtype):
                return _on_device(self._rng.random(shape).astype(dtype))

            def standard_normal(self, shape, dtype):
                return _on_device(self._rng.standard_normal(shape).astype(dtype))

            def randint(self, low, high, size, dtype):
                return _on_device(self._rng.integers(low, high, size).astype(dtype))

    def ElementwiseKernel(self, *spec):  # noqa: N802  (CuPy's name)
        return lambda x: _on_device(1 / (1 + np.exp(-x)))

    def RawModule(self, code, options):  # noqa: N802  (CuPy's name)
        return SimpleNamespace(get_function=lambda name: lambda grid, block, args: None)

    def empty(self, shape, dtype):
        return _on_device(np.zeros(shape, dtype))

    def __getattr__(self, name):  # everything else: NumPy's function, returning a fake array
        function = getattr(np, name)
        return lambda *args, **kwargs: _on_device(function(*args, **kwargs))


def install(monkeypatch):
    """``cuda:0`` served by the real cuda backend on ``_FakeCupy``, undone with ``monkeypatch``
    (the ``fake_cuda`` fixture of conftest.py); returns ``(fake, backend)``."""
    from gpugrad.backends.cuda import availability as gg_cuda
    from gpugrad import device as device_module
    from gpugrad.backends.cuda import backend as cuda_backend
    from gpugrad.backends.cuda import runtime as cuda_runtime

    fake = _FakeCupy()
    monkeypatch.setitem(gg_cuda._probe_cache, "result", (fake, 1, None))
    monkeypatch.setattr(device_module, "_BACKENDS", {})
    monkeypatch.setattr(cuda_runtime, "cupy", cuda_runtime.cupy)
    monkeypatch.setattr(cuda_backend, "_MODULES", {})
    monkeypatch.setattr(events, "_SOURCES", [])
    return fake, device_module.get_backend("cuda:0")
