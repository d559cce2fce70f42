"""Deferred launches (timeline.py) and queued frees (memory.py) change no modeled number: a
device that defers its kernels to the next read of a clock gives exactly the clocks, stats and
memory of one placing every kernel at once, whatever reads the clocks in between."""
import gc

import numpy as np
import pytest

import gpugrad as gg
from gpugrad.backends.sim.timeline import DEFERRED_LIMIT
from gpugrad.device_registry import get_backend

DEFERRED, EACH = "sim:11", "sim:12"


def program(dev, probes):
    """Kernels of every path (planned, signature-keyed, fused, matmul under both precisions),
    transfers, a synchronize and clock reads in between; appends what it reads to ``probes``."""
    tl = get_backend(dev).timeline
    gg.manual_seed(0)
    a = gg.randn(16, 8, device=dev, requires_grad=True)
    w = gg.randn(8, 4, device=dev)
    for step in range(3):
        h = (a @ w).relu() + 1.0
        probes.append(tl.host_us)  # a read between launches places the ones so far
        loss = (h * h).sum() + a.T.contiguous().exp().mean()
        loss.backward()
        before = gg.get_float32_matmul_precision()
        gg.set_float32_matmul_precision("high" if step % 2 else "highest")
        try:
            probes.append((w @ w.T).sum().item())  # a read-back: a d2h copy, after the stream
        finally:
            gg.set_float32_matmul_precision(before)
        probes.append(tl.snapshot())
        a.grad = None
    gg.sim.synchronize(dev)
    probes.append(gg.sim.memory_allocated(dev))


def test_deferred_launches_model_exactly_what_placing_each_does():
    gc.collect()
    results = {}
    for dev in (DEFERRED, EACH):
        gg.sim.configure(dev)
        timeline = get_backend(dev).timeline
        probes = []
        if dev == EACH:
            with timeline.placing_each():
                assert timeline.deferred is None
                program(dev, probes)
        else:
            program(dev, probes)
        gc.collect()
        results[dev] = (probes, gg.sim.stats(dev).as_dict(), timeline.snapshot(),
                        get_backend(dev).pool.in_use, get_backend(dev).pool.peak)
    deferred, each = results[DEFERRED], results[EACH]
    for got, want in zip(deferred[0], each[0]):
        np.testing.assert_equal(got, want)
    got, want = dict(deferred[1], device=None), dict(each[1], device=None)
    assert got == want
    assert deferred[2:] == each[2:]
    for dev in (DEFERRED, EACH):
        gg.sim.configure(dev)


def test_a_launch_waits_in_the_list_until_a_clock_is_read():
    dev = DEFERRED
    gg.sim.configure(dev)
    tl = get_backend(dev).timeline
    x = gg.ones(64, device=dev)
    x + x  # (dies at once) its block is cached: the launch below is a pool hit, no cudaMalloc
    tl.flush()
    start = tl._host_us
    y = x + x
    assert len(tl.deferred) == 1 and tl._host_us == start  # nothing placed yet
    assert tl.host_us > start and tl.deferred == []  # the read placed it
    assert gg.sim.stats(dev).by_op["binary:add"]["count"] == 2
    del y
    gg.sim.configure(dev)


def test_a_loop_reading_no_clock_keeps_few_launches_waiting():
    dev = DEFERRED
    gg.sim.configure(dev)
    tl = get_backend(dev).timeline
    x = gg.ones(8, device=dev)
    longest = 0
    for _ in range(3 * DEFERRED_LIMIT):
        x + x
        longest = max(longest, len(tl.deferred))
    assert 0 < longest < DEFERRED_LIMIT
    assert gg.sim.stats(dev).by_op["binary:add"]["count"] == 3 * DEFERRED_LIMIT
    gg.sim.configure(dev)


def test_nothing_is_deferred_while_a_profiler_records():
    dev = DEFERRED
    gg.sim.configure(dev)
    tl = get_backend(dev).timeline
    x = gg.ones(64, device=dev)
    with gg.profiler.profile():
        assert tl.deferred is None
        x * 2.0
        assert tl.deferred is None  # its spans are in the trace at once
        assert [e.name for e in tl.events if e.track == "stream"] == ["binary:mul"]
    assert tl.deferred == [] and tl.events == []
    gg.sim.configure(dev)


def test_frees_queue_and_are_settled_before_any_count_is_read():
    dev = DEFERRED
    gg.sim.configure(dev)
    pool = get_backend(dev).pool
    base = gg.sim.memory_allocated(dev)
    arrays = [gg.ones(1000, device=dev) for _ in range(4)]
    peak = gg.sim.max_memory_allocated(dev)
    arrays.clear()
    assert len(pool.pending) == 4  # queued by the dying arrays, without the lock
    assert gg.sim.memory_allocated(dev) == base and not pool.pending
    hits = pool.hits
    y = gg.ones(1000, device=dev)  # a cached block of the queued ones: a hit, no new peak
    assert pool.hits == hits + 1 and gg.sim.max_memory_allocated(dev) == peak
    del y
    gg.sim.configure(dev)


@pytest.mark.parametrize("on", [True, False])
def test_placing_each_nests_with_the_profiler(on):
    dev = DEFERRED
    gg.sim.configure(dev)
    tl = get_backend(dev).timeline
    with tl.placing_each():
        tl.record_events = on
        tl.record_events = False  # a profiler ending inside the block defers nothing yet
        assert tl.deferred is None
    assert tl.deferred == []
    gg.sim.configure(dev)


def step_program(dev, steps, probes, recorded):
    """A training-like loop read once per step (each step's kernels flushed together, so the
    timeline serves their host mix from its recorded placements), with a step of another
    kernel sequence every fourth step (the window of recent kernels then differs). Appends
    the clocks to ``probes`` and how many placements the timeline recorded to ``recorded``."""
    tl = get_backend(dev).timeline
    gg.manual_seed(0)
    a = gg.randn(8, 4, device=dev, requires_grad=True)
    w = gg.randn(4, 4, device=dev)
    for step in range(steps):
        if step % 4 == 3:
            (a.exp() - 1.0).abs().sum().backward()
        else:
            ((a @ w).tanh() * a).sum().backward()
        a.grad = None
        probes.append((tl.host_us, tl.stream_us, tl.device_busy_us))
        recorded.append(len(tl.mix.replays))


def test_replayed_step_mixes_model_exactly_what_placing_each_does():
    results = {}
    for dev in (DEFERRED, EACH):
        gg.sim.configure(dev)
        timeline = get_backend(dev).timeline
        probes, recorded = [], []
        if dev == EACH:
            with timeline.placing_each():
                step_program(dev, 48, probes, recorded)
            assert recorded[-1] == 0  # (nothing deferred: nothing replayed)
        else:
            timeline.mix.replays.clear()
            step_program(dev, 48, probes, recorded)
            # the loop repeats every 4 steps: once the window of recent kernels repeats too,
            # every step is served from a recorded placement (no new one is recorded)
            assert 0 < recorded[-1] == recorded[-16] < 32
        gc.collect()
        results[dev] = probes, dict(gg.sim.stats(dev).as_dict(), device=None)
    assert results[DEFERRED] == results[EACH]
    for dev in (DEFERRED, EACH):
        gg.sim.configure(dev)


@pytest.mark.parametrize("failing", ["binary", "matmul"])
def test_a_kernel_whose_values_fail_is_taken_back(failing):
    """A cached kernel whose NumPy call raises counts no launch and holds no memory: the
    device ends as one that never ran it (a matmul's deferred time goes with it), but for
    the pool hit of the block reserved before NumPy ran."""
    results = {}
    for dev in (DEFERRED, EACH):
        gg.sim.configure(dev)
        backend = get_backend(dev)
        x = gg.ones(16, 16, device=dev)
        (x @ x, x + x)  # plans both rows
        backend.timeline.flush()
        gg.set_float32_matmul_precision("high")
        try:
            kept = x @ x  # a deferred matmul before the failing one keeps its own time
            if dev == DEFERRED:
                key = next(k for k in backend._rows if k[0] == failing)
                row = backend._rows[key]
                compute = row.compute

                def fail(*args):
                    raise MemoryError("no host memory")
                row.compute = fail
                with pytest.raises(gg.HostMemoryError):
                    x @ x if failing == "matmul" else x + x
                row.compute = compute
                assert len(backend.timeline.deferred) == 1  # only ``kept`` waits
        finally:
            gg.set_float32_matmul_precision("highest")
        del kept
        gc.collect()
        stats = dict(gg.sim.stats(dev).as_dict(), device=None)
        results[dev] = (stats, backend.timeline.snapshot(), backend.pool.in_use,
                        backend.pool.peak)
    assert results[DEFERRED][0].pop("pool_hits") == results[EACH][0].pop("pool_hits") + 1
    assert results[DEFERRED] == results[EACH]
    for dev in (DEFERRED, EACH):
        gg.sim.configure(dev)
