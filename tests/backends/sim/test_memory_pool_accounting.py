"""The sim's caching pool counted by hand: in_use, peak, reserved, hits, misses, the cache,
queued frees, the out-of-memory error and the arrays' own protocol (repr, pickling)."""
import pickle

import numpy as np
import pytest

from gpugrad.backends.sim import memory
from gpugrad.backends.sim.memory import Allocation, MemoryPool, SimArray
from gpugrad.errors import OutOfMemoryError


class _Timeline:
    """Records the cold mallocs; its host clock is a fixed number."""

    host_us = 12.5

    def __init__(self):
        self.mallocs = []

    def malloc(self, nbytes):
        self.mallocs.append(nbytes)


class _BusyLock:
    """A lock some other thread holds: a non-blocking acquire fails (a blocking one would
    wait forever, so it fails the test instead)."""

    def __init__(self):
        self.calls = []

    def acquire(self, blocking=True):
        self.calls.append(blocking)
        assert blocking is False, "free must never wait for the lock"
        return False

    def release(self):
        raise AssertionError("released a lock it never took")


def _pool(capacity=4096, **kw):
    return MemoryPool("sim:7", capacity, _Timeline(), **kw)


def test_a_new_pool_starts_empty():
    lock = memory.threading.RLock()
    pool = _pool(lock=lock)
    assert pool.device == "sim:7" and pool.lock is lock and pool.capacity == 4096
    assert (pool.in_use, pool.peak, pool.reserved, pool.hits, pool.misses) == (0, 0, 0, 0, 0)
    assert pool.recording == 0 and pool.samples == [] and len(pool.pending) == 0
    own = _pool()
    assert own.lock is not lock and own.lock.acquire(False)
    own.lock.release()


def test_allocation_keeps_its_pool_and_size_and_release_frees_once():
    pool = _pool()
    pool.recording = 1
    a = pool.allocate(100)                 # 512 bytes, a miss
    b = Allocation(pool, a.size)
    assert b.pool is pool and b.size == 512
    a.release()
    assert a.size == 0 and pool.in_use == 0 and pool._free == {512: 1}
    assert pool.samples == [(12.5, 512), (12.5, 0)]
    b.size = 0


def test_miss_hit_peak_and_free_counts():
    pool = _pool()
    pool.recording = 1
    a = pool.allocate(600)                 # 1024
    a2 = pool.allocate(1024)               # 1024
    b = pool.allocate(1)                   # 512
    assert (pool.in_use, pool.peak, pool.reserved, pool.misses, pool.hits) == \
        (2560, 2560, 2560, 3, 0)
    assert pool.timeline.mallocs == [1024, 1024, 512]
    for block in (a, a2, b):
        block.release()
    assert pool._free == {1024: 2, 512: 1} and pool.in_use == 0
    d = pool.allocate(1000)                # a hit: no malloc
    assert (pool.in_use, pool.peak, pool.hits, pool.misses) == (1024, 2560, 1, 3)
    assert pool._free[1024] == 1 and pool.timeline.mallocs == [1024, 1024, 512]
    assert pool.cached == 2560 - 1024
    del d


def test_free_never_waits_for_a_held_lock():
    lock = _BusyLock()
    pool = _pool(lock=lock)
    pool.in_use = 1024
    pool.free(512)
    assert lock.calls == [False]
    assert list(pool.pending) == [512] and pool.in_use == 1024 and pool._free == {}


def test_free_with_the_lock_hands_back_at_once():
    pool = _pool()
    pool.in_use = 1024
    pool.free(512)
    pool.free(512)
    assert len(pool.pending) == 0 and pool.in_use == 0 and pool._free == {512: 2}
    assert pool.lock.acquire(False)        # released again
    pool.lock.release()


def test_a_request_filling_the_reserve_exactly_keeps_the_cache():
    pool = _pool(capacity=2048)
    pool.allocate(512).release()           # reserved 512, cached 512
    big = pool.allocate(1536)              # 512 + 1536 == capacity: fits beside the cache
    assert pool.reserved == 2048 and pool.cached == 512 and pool.in_use == 1536
    assert pool.misses == 2
    del big


def test_a_request_filling_the_capacity_exactly_fits():
    pool = _pool(capacity=2048)
    a = pool.allocate(2048)
    assert pool.in_use == 2048 == pool.peak and pool.misses == 1
    del a


def test_out_of_memory_after_emptying_the_cache_reports_the_numbers():
    pool = _pool(capacity=4096)
    live = pool.allocate(1024)
    pool.allocate(2048).release()          # cached 2048
    with pytest.raises(OutOfMemoryError) as info:
        pool.allocate(3100)                # 3584 rounded
    err = info.value
    assert (err.device, err.requested, err.in_use, err.free, err.capacity) == \
        ("sim:7", 3584, 1024, 4096 - 1024, 4096)
    assert "sim:7 out of memory" in str(err)
    assert pool.reserved == 1024 and pool._free == {} and pool.misses == 2
    del live


def test_settle_and_reset_peak():
    pool = _pool()
    a = pool.allocate(2048)
    pool.pending.append(2048)              # as Allocation.__del__ queues it
    a.size = 0
    assert pool.in_use == 2048
    pool.reset_peak()
    assert pool.in_use == 0 and pool.peak == 0 and pool._free == {2048: 1}


def test_implicit_numpy_conversion_is_refused_with_the_cupy_message():
    x = SimArray(np.zeros(3), None)
    with pytest.raises(TypeError) as info:
        np.asarray(x)
    assert str(info.value) == (
        "Implicit conversion of a sim array to a NumPy array is not allowed (a real GPU "
        "array needs a device-to-host copy); use tensor.numpy() or backend.to_host(array)")


def test_repr_names_the_block():
    pool = _pool()
    x = SimArray(np.zeros((2, 3), np.float32), pool.allocate(24))
    assert repr(x) == "SimArray(shape=(2, 3), dtype=float32, block=512 bytes)"
    y = SimArray(np.zeros(0, np.float64), None)
    assert repr(y) == "SimArray(shape=(0,), dtype=float64, block=0 bytes)"


def test_pickling_without_a_device_keeps_no_block():
    x = SimArray(np.arange(3.0), None)
    y = pickle.loads(pickle.dumps(x))
    assert y.alloc is None and y.shape == (3,)
    np.testing.assert_array_equal(y.data, [0.0, 1.0, 2.0])
    z = memory._rebuild(None, np.ones(4))
    assert z.alloc is None
    np.testing.assert_array_equal(z.data, np.ones(4))


def test_rebuild_on_a_device_takes_a_block_even_for_one_byte():
    from gpugrad import device_registry
    pool = device_registry.get_backend("sim:6").pool
    one = memory._rebuild("sim:6", np.ones(1, np.uint8))
    assert one.alloc is not None and one.alloc.size == 512 and one.alloc.pool is pool
    empty = memory._rebuild("sim:6", np.ones(0, np.uint8))
    assert empty.alloc is None and empty.shape == (0,)


def test_a_request_filling_the_capacity_after_emptying_the_cache_fits():
    pool = _pool(capacity=2048)
    live = pool.allocate(512)
    pool.allocate(1024).release()          # reserved 1536: 1536 + 1536 > 2048, empty the cache
    big = pool.allocate(1536)              # then 512 live + 1536 == capacity: fits
    assert pool.in_use == 2048 and pool.reserved == 2048 and pool._free == {}
    assert pool.misses == 3
    del live, big
