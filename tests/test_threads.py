"""Threads: models trained in several threads at once give bit-for-bit the results of training
them one after another, a shared sim device counts exactly, and grad and anomaly modes belong to
the thread that sets them.

Every wait is bounded (``join(timeout=...)``, ``Barrier(timeout=...)``): a stuck thread fails
the test instead of hanging the run.
"""
import gc
import sys
import threading

import numpy as np
import pytest

import gpugrad as gg
import gpugrad.nn.functional as F
from gpugrad import random as gg_random
from gpugrad.device_registry import get_backend

SIM = "sim:11"  # a device of its own: its counters see only these tests
THREADS = 6
STEPS = 150
WAIT = 60  # seconds: far more than any of these threads needs on a loaded 2-core machine


@pytest.fixture(autouse=True)
def switch_often():
    """Threads switch every few microseconds instead of every 5 ms, so races show up."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(interval)


def run_threads(targets):
    """Start a thread per callable, join them all (bounded); re-raise the first error."""
    errors = []

    def guarded(fn):
        def run():
            try:
                fn()
            except BaseException as err:  # noqa: BLE001  (reported to the main thread)
                errors.append(err)
        return run

    threads = [threading.Thread(target=guarded(fn), daemon=True) for fn in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=WAIT)
    assert not any(t.is_alive() for t in threads), "a thread did not finish in time"
    if errors:
        raise errors[0]


# ---- training in threads equals training one after another ---------------------------------
def make_problem(seed):
    """Data and initial weights of one model, as host arrays (drawn before any thread runs)."""
    rng = np.random.default_rng(seed)
    return {"x": rng.standard_normal((16, 8)).astype(np.float32),
            "y": rng.integers(0, 4, size=16),
            "w1": (rng.standard_normal((8, 16)) * 0.3).astype(np.float32),
            "b1": np.zeros(16, np.float32),
            "w2": (rng.standard_normal((16, 4)) * 0.3).astype(np.float32),
            "b2": np.zeros(4, np.float32)}


def train(problem, device, out):
    """A 2-layer MLP, cross-entropy, SGD with momentum, for STEPS steps; results into ``out``."""
    x = gg.tensor(problem["x"], device=device)
    y = gg.tensor(problem["y"], device=device)
    params = [gg.tensor(problem[k], device=device, requires_grad=True)
              for k in ("w1", "b1", "w2", "b2")]
    w1, b1, w2, b2 = params
    opt = gg.optim.SGD(params, lr=0.1, momentum=0.9)
    losses = []
    for _ in range(STEPS):
        opt.zero_grad()
        hidden = (x @ w1 + b1).relu()
        loss = F.cross_entropy(hidden @ w2 + b2, y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    out["losses"] = losses
    out["params"] = [p.detach().numpy() for p in params]


def sim_counts():
    stats = gg.sim.stats(SIM)
    return {"kernels": stats.kernels, "flops": stats.flops, "bytes": stats.bytes,
            "h2d": stats.h2d_bytes, "d2h": stats.d2h_bytes, "in_use": stats.in_use_bytes,
            "by_op": {name: (r["count"], r["flops"], r["bytes"]) for name, r in stats.by_op.items()}}


@pytest.mark.parametrize("device", ["cpu", SIM])
def test_concurrent_training_equals_serial_training(device):
    problems = [make_problem(seed) for seed in range(THREADS)]
    if device == SIM:
        gg.sim.configure(SIM)
    gc.collect()

    serial = [{} for _ in problems]
    for problem, out in zip(problems, serial):
        train(problem, device, out)
    gc.collect()
    if device == SIM:
        serial_counts = sim_counts()
        gg.sim.reset(SIM)

    concurrent = [{} for _ in problems]
    run_threads([lambda p=p, o=o: train(p, device, o) for p, o in zip(problems, concurrent)])
    gc.collect()

    for s, c in zip(serial, concurrent):
        assert c["losses"] == s["losses"]  # exact floats
        for ps, pc in zip(s["params"], c["params"]):
            assert ps.dtype == pc.dtype and ps.tobytes() == pc.tobytes()
    assert len({tuple(s["losses"]) for s in serial}) == THREADS  # six different models
    if device == SIM:
        assert sim_counts() == serial_counts  # exact counters, nothing freed or counted twice


def test_sim_counts_every_kernel_and_block_when_threads_share_it():
    """Threads hammering one sim device with small ops: no count or free is lost."""
    gc.collect()
    gg.sim.configure(SIM)
    backend = get_backend(SIM)
    base = gg.sim.stats(SIM).in_use_bytes
    ops = 10000

    def hammer(size):
        x = backend.full((size,), 1.0, gg.float32)
        for _ in range(ops):
            y = backend.binary("add", x, x)
            backend.reduce("sum", y)  # dies at once: freed in this thread
        del x, y

    run_threads([lambda n=n: hammer(64 * (n + 1)) for n in range(THREADS)])
    stats = gg.sim.stats(SIM)
    assert stats.kernels == THREADS * (2 * ops + 1)
    assert stats.by_op["binary:add"]["count"] == THREADS * ops
    assert stats.pool_hits + stats.pool_misses == THREADS * (2 * ops + 1)
    assert stats.in_use_bytes == base
    cached = sum(size * count for size, count in backend.pool._free.items())
    assert stats.reserved_bytes == stats.in_use_bytes + cached  # no cached block lost


def test_sim_frees_from_another_thread_are_never_lost():
    """A thread dropping the last reference while another holds the device's lock neither
    waits (which could deadlock) nor loses the free: the block is handed back later."""
    gc.collect()
    gg.sim.configure(SIM)
    backend = get_backend(SIM)
    base = gg.sim.stats(SIM).in_use_bytes
    arrays = [gg.ones(1000, device=SIM) for _ in range(8)]
    assert gg.sim.stats(SIM).in_use_bytes == base + 8 * 4096

    def drop():
        arrays.clear()  # frees 8 blocks in this thread

    with backend.lock:  # as if the main thread were in the middle of a kernel
        run_threads([drop])
        assert backend.pool.in_use == base + 8 * 4096  # queued: another thread holds the lock
    assert gg.sim.stats(SIM).in_use_bytes == base
    x = gg.ones(1000, device=SIM)  # the queued blocks are in the cache: a hit
    assert gg.sim.stats(SIM).pool_hits >= 1
    del x


def test_profiles_in_several_threads_each_see_the_device_and_end_cleanly():
    gg.sim.configure(SIM)
    backend = get_backend(SIM)
    counts = []

    def profiled():
        x = gg.ones(8, device=SIM)
        with gg.profiler.profile() as prof:
            for _ in range(50):
                x = x * 1.5
        counts.append(sum(1 for e in prof.events if e[1] == "stream" and e[2] == "binary:mul"))

    run_threads([profiled] * 4)
    assert len(counts) == 4 and min(counts) >= 50  # its own kernels at least
    assert backend.pool.recording == 0  # every profile ended: recording is off again
    assert not backend.timeline.record_events and not backend.timeline.events


def test_each_random_draw_gets_its_own_seed():
    seeds = [[] for _ in range(THREADS)]
    run_threads([lambda s=s: s.extend(gg_random.next_seed() for _ in range(2000))
                 for s in seeds])
    drawn = [seed for s in seeds for seed in s]
    assert len(drawn) == len(set(drawn)) == THREADS * 2000


# ---- grad and anomaly modes are per thread -----------------------------------------------------
def test_no_grad_in_one_thread_leaves_another_recording():
    barrier = threading.Barrier(2, timeout=WAIT)
    seen = {}

    def quiet():
        x = gg.ones(3, requires_grad=True)
        with gg.no_grad():
            barrier.wait()  # 1: the other thread computes while this block is open
            seen["inside"] = (x * 2).requires_grad
            barrier.wait()  # 2

    def recording():
        x = gg.ones(3, requires_grad=True)
        barrier.wait()  # 1
        seen["other"] = (x * 2).requires_grad
        seen["other enabled"] = gg.is_grad_enabled()
        barrier.wait()  # 2

    run_threads([quiet, recording])
    assert seen == {"inside": False, "other": True, "other enabled": True}


def test_backward_never_turns_off_another_threads_recording():
    stop = threading.Event()
    failures = []
    forwards = [0]

    def forward_loop():
        x = gg.ones(4, requires_grad=True)
        while not stop.is_set():
            y = (x * 3).sum()
            if not y.requires_grad:
                failures.append(forwards[0])
            forwards[0] += 1

    def backward_loop():
        w = gg.ones(4, requires_grad=True)
        try:
            for _ in range(300):
                (w * w).sum().backward()
        finally:
            stop.set()

    run_threads([forward_loop, backward_loop])
    assert forwards[0] > 0 and not failures, f"{len(failures)} of {forwards[0]} forwards lost grad"


def test_overlapping_no_grad_blocks_leave_grad_mode_on_everywhere():
    barrier = threading.Barrier(2, timeout=WAIT)
    after = {}

    def first():
        with gg.no_grad():
            barrier.wait()  # 1: both blocks open
            barrier.wait()  # 2
        barrier.wait()  # 3: this one closed first, the other is still open
        barrier.wait()  # 4: both closed
        after["first"] = gg.is_grad_enabled()

    def second():
        barrier.wait()  # 1
        with gg.no_grad():
            barrier.wait()  # 2
            barrier.wait()  # 3
        barrier.wait()  # 4
        after["second"] = gg.is_grad_enabled()

    run_threads([first, second])
    assert after == {"first": True, "second": True}
    assert gg.is_grad_enabled()
    assert (gg.ones(2, requires_grad=True) * 2).requires_grad


def test_detect_anomaly_in_one_thread_is_invisible_to_another():
    barrier = threading.Barrier(2, timeout=WAIT)
    seen = {}

    def detecting():
        with gg.autograd.detect_anomaly():
            barrier.wait()  # 1
            x = gg.tensor([-1.0], requires_grad=True)
            try:
                x.sqrt()
            except RuntimeError:
                seen["detected"] = True
            barrier.wait()  # 2

    def plain():
        barrier.wait()  # 1
        seen["other enabled"] = gg.anomaly.is_anomaly_enabled()
        x = gg.tensor([-1.0], requires_grad=True)
        y = x.sqrt()  # NaN, unchecked here
        y.sum().backward()
        seen["other nan"] = bool(np.isnan(x.grad.numpy()).all())
        barrier.wait()  # 2

    run_threads([detecting, plain])
    assert seen == {"detected": True, "other enabled": False, "other nan": True}


@pytest.mark.parametrize("device", ["cpu", SIM])
def test_concurrent_backward_into_shared_leaves_sums_exactly(device):
    w = gg.zeros(5, dtype=gg.float64, device=device, requires_grad=True)
    scales = [np.arange(5, dtype=np.float64) + i for i in range(THREADS)]  # exact in float64
    repeats = 100

    def work(scale):
        c = gg.tensor(scale, device=device)
        for _ in range(repeats):
            (w * c).sum().backward()

    run_threads([lambda s=s: work(s) for s in scales])
    np.testing.assert_array_equal(w.grad.numpy(), repeats * np.sum(scales, axis=0))
