"""The tests' fake CuPy (tests/support/fake_cupy.py) keeps the rules its docstring states: fresh
256-byte-aligned device arrays, views that share memory, host arrays refused where CuPy refuses
them, events on a fake clock that only a synchronize completes, a memory-pool gauge, and
NotImplementedError naming anything it does not implement. (Its kernels: test_cuda_emulator.py.)
"""
import numpy as np
import pytest

import gpugrad as gg
from support import fake_cupy


@pytest.fixture
def cp():
    return fake_cupy.FakeCupy()


def test_fake_cupy_allocates_aligned_poisoned_memory_and_refuses_the_rest(cp):
    a = cp.empty((3, 5), np.float32)
    assert a.data.ptr % 256 == 0 and np.isnan(a.get()).all()
    assert cp.asarray(np.arange(3)).data.ptr % 256 == 0
    assert isinstance(a[1:], cp.ndarray) and a[1:].data.ptr == a.data.ptr + 20
    with pytest.raises(NotImplementedError, match="cupy.einsum"):
        cp.einsum("ij->i", a)
    with pytest.raises(NotImplementedError, match="cupy.cuda.Stream"):
        cp.cuda.Stream()
    with pytest.raises(NotImplementedError, match="cupy.cuda.runtime.memGetInfo"):
        cp.cuda.runtime.memGetInfo()
    with pytest.raises(NotImplementedError, match="cupy.cuda.MemoryPool.free_all_blocks"):
        cp.get_default_memory_pool().free_all_blocks()
    with pytest.raises(NotImplementedError, match="only device 0, not 1"):
        cp.cuda.Device(1)
    with pytest.raises(NotImplementedError, match="ElementwiseKernel 'k'"):
        cp.ElementwiseKernel("T x", "T y", "y = x", "k")(a)


def test_results_are_fresh_aligned_arrays_and_views_share_memory(cp):
    a = cp.asarray(np.arange(12, dtype=np.float32).reshape(3, 4))
    results = [a + 1, -a, cp.add(a, a), cp.matmul(a, a.T), a.sum(), cp.sum(a, axis=0),
               cp.mean(a), a.copy(), a.astype(np.float64), a[[0, 2]], a[a > 3], a.T.reshape(12),
               cp.where(a > 2, a, 0.0), cp.concatenate([a, a], axis=0),
               cp.arange(0, 4, 1, dtype=np.int64), cp.full((2,), 3.0, np.float32),
               cp.random.RandomState(0).standard_normal((2, 2), dtype=np.float32)]
    for result in results:
        assert type(result) is cp.ndarray and result.data.ptr % 256 == 0
        assert not np.may_share_memory(result, a)
    assert a.sum().shape == () and float(a.sum().get()) == 66.0  # CuPy reduces to 0-d arrays
    for view in (a[1:], a.T, a.reshape(4, 3), cp.broadcast_to(a[0], (3, 4))):
        assert type(view) is cp.ndarray and np.may_share_memory(view, a)
    out = cp.empty((3, 4), np.float32)
    assert cp.multiply(a, 2, out=out) is out
    np.testing.assert_array_equal(out.get(), a.get() * 2)
    assert cp.copyto(out, a) is None
    np.testing.assert_array_equal(out.get(), a.get())
    interface = a.__cuda_array_interface__
    assert interface is a.__cuda_array_interface__ and interface["version"] == 3
    assert interface["data"] == (a.data.ptr, False) and interface["shape"] == (3, 4)
    assert interface["strides"] is None and a.T.__cuda_array_interface__["strides"] == (4, 16)


def test_host_arrays_are_not_device_memory(cp):
    a = cp.zeros(3, np.float32)
    host = np.ones(3, np.float32)
    calls = [lambda: a + host, lambda: host * a, lambda: cp.add(a, host),
             lambda: cp.where(a > 0, host, a), lambda: cp.concatenate([a, host]),
             lambda: cp.broadcast_to(host, (2, 3)), lambda: cp.ascontiguousarray(host),
             lambda: cp.add(a, a, out=host)]
    for call in calls:
        with pytest.raises(TypeError, match="Unsupported type|out= must be a device array"):
            call()
    a[...] = host  # CuPy uploads an assigned value, and a host index array
    assert a.get().tolist() == [1.0, 1.0, 1.0] and a[np.array([0, 2])].shape == (2,)
    assert (a + np.float32(1)).dtype == np.float32 and (a * 2.0).get().tolist() == [2.0] * 3
    assert type(a.get()) is np.ndarray


def test_events_time_a_fake_clock_that_synchronize_completes(cp):
    stream = cp.cuda.get_current_stream()
    start, end = cp.cuda.Event(), cp.cuda.Event()
    start.record(stream)
    end.record()
    with pytest.raises(RuntimeError, match="cudaErrorNotReady"):
        cp.cuda.get_elapsed_time(start, end)
    with cp.cuda.Device(0) as device:
        device.synchronize()
    assert cp.cuda.get_elapsed_time(start, end) == pytest.approx(1e-3)  # ms: 1 µs per record
    assert cp.events_made == 2 and cp.syncs == 1
    with pytest.raises(RuntimeError, match="never recorded"):
        cp.cuda.get_elapsed_time(start, cp.cuda.Event())
    with pytest.raises(NotImplementedError, match="other than the current one"):
        cp.cuda.Event().record(object())
    pool = cp.get_default_memory_pool()
    assert [pool.used_bytes() for _ in range(3)] == [512, 1024, 1536] and cp.pool_reads == 3
    other = fake_cupy.FakeCupy()  # each fake has its own clock and counters
    assert other.events_made == other.syncs == other.pool_reads == 0


def test_install_serves_cuda0_and_is_undone():
    before = gg.cuda.is_available()
    with pytest.MonkeyPatch.context() as patch:
        fake, backend = fake_cupy.install(patch)
        assert gg.cuda.is_available() and backend is gg.device_registry.get_backend("cuda:0")
        t = gg.tensor([1.0, 2.0], device="cuda")
        assert isinstance(t._data, fake.ndarray) and (t * 3).tolist() == [3.0, 6.0]
        assert "Fake GPU" in backend.describe()
    assert gg.cuda.is_available() == before
