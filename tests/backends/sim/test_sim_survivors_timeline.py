"""The state a timeline, its host mix and a memory pool start from and go back to: a
timeline defers by default and uses the lock it is given, a reset drops the waiting kernels
but keeps deferring, the replay record starts afresh at its limit, window ids are ids, an array
keeps its layout signature and a pool's settled frees are dated in the memory trace."""
import threading

import numpy as np

import gpugrad as gg
from gpugrad.backends.sim.host_mix import REPLAY_LIMIT, HostMix
from gpugrad.backends.sim.memory import MemoryPool, SimArray
from gpugrad.backends.sim.profiles import get_profile
from gpugrad.backends.sim.timeline import Timeline
from gpugrad.device_registry import get_backend

DEV = "sim:13"


def test_a_timeline_defers_by_default_and_uses_the_lock_it_is_given():
    p = get_profile("h100")
    assert Timeline(p, record_events=False).deferred == []
    assert Timeline(p, record_events=False, defer=False).deferred is None
    lock = threading.RLock()
    assert Timeline(p, lock=lock).lock is lock
    own = Timeline(p).lock
    assert own is not lock and own.acquire(False)
    own.release()


def test_a_reset_drops_the_waiting_kernels_and_keeps_deferring():
    gg.sim.configure(DEV)
    try:
        tl = get_backend(DEV).timeline
        x = gg.ones(64, device=DEV)
        tl.flush()
        y = x + x
        assert len(tl.deferred) == 1
        tl.reset()
        assert tl.deferred == [] and tl.host_us == 0.0
        z = y * 2.0
        assert len(tl.deferred) == 1   # deferred again, not placed at once
        del z
    finally:
        gg.sim.configure(DEV)


class Row:
    def __init__(self, name, dispatch_us=1.0):
        self.name, self.dispatch_us = name, dispatch_us


def test_the_replay_record_starts_afresh_at_its_limit():
    mix = HostMix(0.5)
    rows = [(Row(f"k{i}"),) for i in range(REPLAY_LIMIT + 1)]
    for one in rows[:REPLAY_LIMIT]:
        mix.replayed(one)
    assert len(mix.replays) == REPLAY_LIMIT
    mix.replayed(rows[-1])
    assert len(mix.replays) == 1


def test_replays_are_keyed_by_window_ids():
    mix = HostMix(0.5)
    rows = (Row("a"), Row("b"))
    assert mix.replayed(rows) == (1.0, 1.5)
    ((window, key_rows), (dispatches, names, after)), = mix.replays.items()
    assert key_rows == rows and dispatches == (1.0, 1.5) and names[-2:] == ("a", "b")
    assert isinstance(window, int) and isinstance(after, int) and window != after
    mix.reset()   # the same empty window: the same key, served from the record
    assert mix.replayed(rows) == (1.0, 1.5) and list(mix.replays) == [(window, rows)]


def test_an_array_keeps_the_signature_it_is_made_with():
    data = np.zeros(3, np.float32)
    assert SimArray(data, None, 7).sig == 7
    assert SimArray(data, None).sig is None


class _Timeline:
    host_us = 12.5

    def malloc(self, nbytes):
        pass


def test_settled_frees_are_dated_in_the_memory_trace():
    pool = MemoryPool("sim:7", 4096, _Timeline())
    a, b = pool.allocate(512), pool.allocate(1024)
    pool.recording = 1
    pool.pending.extend([1024, 512])   # as Allocation.__del__ queues them
    a.size = b.size = 0
    pool.settle()
    # (host clock, in_use) per block handed back: the last queued (512) first
    assert pool.samples == [(12.5, 1024), (12.5, 0)]
