"""The pool's queued frees (memory.py): blocks freed by dying arrays are handed back at the
next allocation (a block of the requested size taken again at once), and every count stays
that of a pool handing each block back at once."""
import random

import pytest

from gpugrad.backends.sim.memory import GRANULE, MemoryPool
from gpugrad.errors import OutOfMemoryError


class Clock:
    """What the pool reads of a timeline: a cudaMalloc costs a fixed 1 µs here."""
    host_us = 0.0

    def malloc(self, nbytes):
        self.host_us += 1.0


class ImmediatePool:
    """The reference: CuPy's counting with each freed block handed back at once."""

    def __init__(self, capacity):
        self.capacity, self.in_use, self.peak, self.reserved = capacity, 0, 0, 0
        self.free, self.hits, self.misses = {}, 0, 0

    def take(self, size):
        if self.free.get(size):
            self.free[size] -= 1
            self.hits += 1
        else:
            if self.reserved + size > self.capacity:
                self.free.clear()
                self.reserved = self.in_use
                if self.in_use + size > self.capacity:
                    raise OutOfMemoryError("sim:0", size, self.in_use, self.capacity,
                                           self.capacity - self.in_use)
            self.misses += 1
            self.reserved += size
        self.in_use += size
        self.peak = max(self.peak, self.in_use)

    def give_back(self, size):
        self.in_use -= size
        self.free[size] = self.free.get(size, 0) + 1


@pytest.mark.parametrize("capacity", [1 << 40, 64 * GRANULE])
def test_queued_frees_count_exactly_as_immediate_ones(capacity):
    rng = random.Random(0)
    pool, ref = MemoryPool("sim:0", capacity, Clock()), ImmediatePool(capacity)
    held = []
    for step in range(1500):
        if held and rng.random() < 0.5:  # a few arrays die, queueing their blocks
            for _ in range(rng.randint(1, 4)):
                if held:
                    alloc = held.pop(rng.randrange(len(held)))
                    ref.give_back(alloc.size)
                    del alloc
        # sizes asked for again (a loop's) and, now and then, one never seen again
        size = GRANULE * (rng.choice((1, 2, 8)) if step % 7 else 100 + step)
        try:
            ref.take(size)
        except OutOfMemoryError:  # (both emptied their caches first)
            with pytest.raises(OutOfMemoryError):
                pool.take(size)
            continue
        held.append(pool.take(size))
        assert (pool.in_use, pool.peak, pool.hits, pool.misses, pool.reserved) == \
            (ref.in_use, ref.peak, ref.hits, ref.misses, ref.reserved)
    for size in [alloc.size for alloc in held]:
        ref.give_back(size)
    held.clear()
    pool.settle()
    assert not pool.pending
    assert {s: c for s, c in pool._free.items() if c} == {s: c for s, c in ref.free.items() if c}
    assert pool.reserved == pool.in_use + sum(s * c for s, c in pool._free.items())
