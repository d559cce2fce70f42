"""Modeled device memory: 512-byte rounding, a caching pool, exact in-use and peak, and
out-of-memory exactly at capacity after the pool has been emptied."""
import gc

import numpy as np
import pytest

import gpugrad as gg
from gpugrad.backends.sim.memory import GRANULE, round_size

DEV = "sim:5"


@pytest.fixture
def dev():
    gg.sim.configure(DEV, memory_bytes=1 << 20)
    gc.collect()
    yield DEV
    gg.sim.configure(DEV)


def in_use():
    return gg.sim.stats(DEV).in_use_bytes


@pytest.mark.parametrize("nbytes,rounded", [(0, 0), (1, 512), (512, 512), (513, 1024),
                                            (4000, 4096), (10**6, 1000448)])
def test_sizes_round_to_512_bytes(nbytes, rounded):
    assert GRANULE == 512 and round_size(nbytes) == rounded


def test_memory_returns_when_arrays_die(dev):
    base = in_use()
    x = gg.zeros(1000, device=dev)  # 4000 bytes -> 4096
    assert in_use() == base + 4096
    v = x.reshape(10, 100)[2:5]  # views share x's block
    del x
    assert in_use() == base + 4096
    del v
    assert in_use() == base
    y = gg.zeros(0, device=dev)  # an empty array holds nothing
    assert in_use() == base
    del y


def test_peak_of_a_known_program(dev):
    gg.sim.reset(dev)
    assert gg.sim.stats(dev).peak_bytes == in_use() == 0
    a = gg.ones(1000, device=dev)  # 4096 in use
    b = a * 2  # + 4096 = 8192
    c = b.sum()  # + 512 (a 4-byte scalar) = 8704
    del b  # 4608
    d = a.exp() + 1  # exp: 4608 + 4096 = 8704, + 1: 12800, then the exp result dies: 8704
    assert in_use() == 4096 + 512 + 4096
    e = gg.zeros(3000, device=dev)  # 12000 -> 12288: 8704 + 12288 = 20992
    del a, c, d, e
    stats = gg.sim.stats(dev)
    assert stats.in_use_bytes == 0
    assert stats.peak_bytes == 20992


def test_pool_hits_are_free_and_misses_cost_a_malloc(dev):
    gg.sim.reset(dev)
    host0 = gg.sim.stats(dev).host_us
    x = gg.zeros(4096, device=dev)  # miss: a cudaMalloc, then the fill kernel
    miss = gg.sim.stats(dev)
    del x
    x = gg.zeros(4096, device=dev)  # same size: served from the pool's cache
    hit = gg.sim.stats(dev)
    assert (miss.pool_misses, miss.pool_hits) == (1, 0)
    assert (hit.pool_misses, hit.pool_hits) == (1, 1)
    assert hit.host_us - miss.host_us < miss.host_us - host0
    del x


def test_out_of_memory_exactly_at_capacity(dev):
    capacity = 8192
    gg.sim.configure(dev, memory_bytes=capacity)
    full = gg.zeros(capacity, dtype=gg.bool, device=dev)  # exactly fits
    assert in_use() == capacity
    with pytest.raises(gg.OutOfMemoryError) as info:
        gg.zeros(1, dtype=gg.bool, device=dev)  # one byte more needs one more 512-byte block
    err = info.value
    assert isinstance(err, MemoryError)
    assert (err.requested, err.in_use, err.capacity) == (512, capacity, capacity)
    text = str(err)
    assert "512 bytes" in text and f"{capacity} bytes" in text and dev in text
    del full
    with pytest.raises(gg.OutOfMemoryError) as info:
        gg.zeros(capacity + 1, dtype=gg.bool, device=dev)
    assert info.value.requested == capacity + 512 and info.value.in_use == 0
    ok = gg.zeros(capacity, dtype=gg.bool, device=dev)
    del ok


def test_pool_is_emptied_and_retried_before_out_of_memory(dev):
    gg.sim.configure(dev, memory_bytes=8192)
    x = gg.zeros(1024, device=dev)  # 4096 bytes
    del x  # cached by the pool: 4096 in use by nobody, but reserved
    assert gg.sim.stats(dev).reserved_bytes == 4096
    y = gg.zeros(1536, device=dev)  # 6144 bytes: only fits once the cached block is released
    assert in_use() == 6144 == gg.sim.stats(dev).reserved_bytes
    del y


def test_capacity_defaults_to_the_profile():
    gg.sim.configure(DEV, profile="l4")
    assert gg.sim.stats(DEV).capacity_bytes == gg.sim.profiles.get_profile("l4").memory_bytes
    gg.sim.configure(DEV)
    assert gg.sim.stats(DEV).capacity_bytes == gg.sim.profiles.get_profile("h100").memory_bytes
    with pytest.raises(ValueError, match="memory_bytes"):
        gg.sim.configure(DEV, memory_bytes=-1)


def test_training_state_is_freed_after_backward(dev):
    gg.sim.reset(dev)
    w = gg.randn(64, 64, device=dev, requires_grad=True)
    x = gg.randn(32, 64, device=dev)
    held = in_use()
    for _ in range(3):
        loss = (x @ w).relu().sum()
        loss.backward()
        w.grad = None
        del loss
    assert in_use() == held
    np.testing.assert_equal(gg.sim.stats(dev).in_use_bytes, held)


def test_deepcopy_and_pickle_hold_new_memory_on_the_same_device(dev):
    import copy
    import pickle

    x = gg.ones(1000, device=dev)  # 4096 bytes
    base = in_use()
    for make in (copy.deepcopy, lambda t: pickle.loads(pickle.dumps(t))):
        clone = make(x)
        assert clone._backend is x._backend
        assert in_use() == base + 4096
        np.testing.assert_array_equal((clone + x).numpy(), np.full(1000, 2.0))
        del clone
        assert in_use() == base


@pytest.mark.parametrize("bad", ["1GB", 1.5, -1, True])
def test_memory_bytes_must_be_a_byte_count(bad):
    with pytest.raises(ValueError, match="non-negative int"):
        gg.sim.configure("sim:5", memory_bytes=bad)
    gg.sim.configure("sim:5", memory_bytes=np.int64(1 << 20))
    assert gg.sim.stats("sim:5").capacity_bytes == 1 << 20
    gg.sim.configure("sim:5")
