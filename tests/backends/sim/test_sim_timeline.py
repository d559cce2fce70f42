"""The three clocks: host, compute stream and copy engine."""
import numpy as np
import pytest

from gpugrad.backends.sim import costmodel
from gpugrad.backends.sim.profiles import PROFILE_NAMES, get_profile
from gpugrad.backends.sim.timeline import Timeline


def f32(*shape):
    return np.zeros(shape, np.float32)


SMALL_ADD = costmodel.spec("binary:add", [f32(256), f32(256)], f32(256))
BIG_MATMUL = costmodel.spec("matmul", [f32(4096, 4096), f32(4096, 4096)], f32(4096, 4096))


def program(tl):
    """A little program touching every clock."""
    tl.transfer("h2d", 1 << 20, pinned=False)
    for _ in range(5):
        tl.kernel(SMALL_ADD)
    tl.kernel(BIG_MATMUL)
    tl.malloc(1 << 24)
    tl.kernel(costmodel.spec("reduce:sum", [f32(64, 64)], f32(64), axis=1))
    tl.transfer("d2d", 1 << 20)
    tl.transfer("d2h", 256, pinned=True)
    tl.synchronize()
    return tl


@pytest.mark.parametrize("name", PROFILE_NAMES)
def test_same_program_same_numbers(name):
    a = program(Timeline(get_profile(name)))
    b = program(Timeline(get_profile(name)))
    assert a.snapshot() == b.snapshot()
    assert a.events == b.events
    tl = program(Timeline(get_profile(name)))
    tl.reset()
    assert tl.snapshot() == Timeline(get_profile(name)).snapshot() and tl.events == []
    assert program(tl).events == a.events


@pytest.mark.parametrize("name", PROFILE_NAMES)
def test_events_never_overlap_per_track(name):
    tl = program(Timeline(get_profile(name)))
    tracks = {}
    for ev in tl.events:
        assert ev.track in ("host", "stream", "copy") and ev.dur_us >= 0
        tracks.setdefault(ev.track, []).append(ev)
    assert set(tracks) == {"host", "stream", "copy"}
    for events in tracks.values():
        events.sort(key=lambda e: e.start_us)
        for prev, nxt in zip(events, events[1:]):
            assert prev.start_us + prev.dur_us <= nxt.start_us + 1e-9, (prev, nxt)


def test_kernel_waits_for_dispatch_latency_and_free_stream():
    p = get_profile("h100")
    tl = Timeline(p)
    s1, e1 = tl.kernel(BIG_MATMUL)
    assert s1 >= p.launch_latency_us and e1 - s1 == pytest.approx(p.kernel_us(BIG_MATMUL))
    s2, e2 = tl.kernel(SMALL_ADD)
    assert s2 == e1    # queued behind the matmul
    assert tl.host_us < e1    # the host ran ahead: launches are asynchronous
    assert tl.device_busy_us == pytest.approx((e1 - s1) + (e2 - s2))


def test_many_small_ops_are_host_bound_large_matmul_device_bound():
    tl = Timeline(get_profile("h100"))
    for _ in range(1000):
        tl.kernel(SMALL_ADD)
    tl.synchronize()
    assert tl.device_busy_us < 0.5 * tl.host_us
    tl = Timeline(get_profile("h100"))
    tl.kernel(BIG_MATMUL)
    tl.synchronize()
    assert tl.device_busy_us > 0.9 * tl.host_us


def test_readback_waits_for_the_stream_upload_does_not():
    tl = Timeline(get_profile("h100"))
    _, end = tl.kernel(BIG_MATMUL)
    h_start, _ = tl.transfer("h2d", 4096)
    assert h_start < end      # a host-to-device copy does not wait for kernels
    d_start, d_end = tl.transfer("d2h", 4096)
    assert d_start >= end and tl.host_us == d_end


def test_pinned_transfer_is_faster_on_the_host_clock():
    times = []
    for pinned in (True, False):
        tl = Timeline(get_profile("h200"))
        tl.transfer("h2d", 1 << 26, pinned)
        times.append(tl.host_us)
    assert times[0] < times[1]


def test_malloc_syncs_and_costs_host_time():
    p = get_profile("h100")
    tl = Timeline(p)
    _, end = tl.kernel(BIG_MATMUL)
    tl.malloc(1 << 20)
    assert tl.host_us == pytest.approx(end + p.malloc_us(1 << 20))


def test_record_event_brackets_a_kernel_as_cuda_events_do():
    p = get_profile("h200")
    tl = Timeline(p)
    e1 = tl.record_event()
    tl.kernel(BIG_MATMUL)
    e2 = tl.record_event()
    assert e2 - e1 == pytest.approx(p.event_us + p.host_dispatch_us(BIG_MATMUL) * p.launch_point
                                    + p.kernel_us(BIG_MATMUL), rel=0.05)


def test_mixing_kernels_costs_the_host_more_than_repeating_one():
    other = costmodel.spec("binary:mul", [f32(256), f32(256)], f32(256))
    same, mixed = Timeline(get_profile("h100")), Timeline(get_profile("h100"))
    for i in range(40):
        same.kernel(SMALL_ADD)
        mixed.kernel(SMALL_ADD if i % 2 else other)
    assert mixed.host_us > same.host_us


def test_events_can_be_switched_off():
    tl = Timeline(get_profile("h100"), record_events=False)
    tl.kernel(SMALL_ADD)
    assert tl.events == [] and tl.host_us > 0


# ---- gpugrad's own host overhead (framework_us) ------------------------------------------------
def test_framework_cost_is_off_on_a_bare_timeline_and_charged_per_kernel_when_on():
    p = get_profile("h200")
    assert p.framework_us > 0
    raw, framework = Timeline(p), Timeline(p, framework=True)
    assert raw.framework_us == 0.0 and framework.framework_us == p.framework_us
    for tl in (raw, framework):
        for _ in range(7):
            tl.kernel(SMALL_ADD)
        tl.kernel(BIG_MATMUL)
    assert framework.host_us - raw.host_us == pytest.approx(8 * p.framework_us)
    assert framework.device_busy_us == raw.device_busy_us   # the device side is unchanged
    # gpugrad's Python runs before the CuPy call, so it delays the launch as well
    assert framework.stream_us > raw.stream_us


def test_framework_time_is_inside_the_host_span_of_its_kernel():
    tl = Timeline(get_profile("h200"), framework=True)
    tl.kernel(SMALL_ADD)
    tl.kernel(SMALL_ADD)
    spans = [e for e in tl.events if e.track == "host"]
    assert spans[0].start_us == 0.0 and spans[1].start_us == pytest.approx(spans[0].dur_us)
    assert spans[0].dur_us > tl.profile.framework_us
    assert spans[1].start_us + spans[1].dur_us == pytest.approx(tl.host_us)


def test_every_profile_carries_the_h200_hosts_framework_cost():
    """framework_us belongs to the measured host CPU, not to a GPU: every profile shares it."""
    values = {get_profile(name).framework_us for name in PROFILE_NAMES}
    assert len(values) == 1


def test_tensor_ops_on_sim_pay_the_framework_cost_and_raw_primitives_can_switch_it_off():
    import gpugrad as gg
    from gpugrad.device_registry import get_backend

    dev = "sim:6"
    host, kernels = {}, {}
    try:
        for on in (True, False):
            gg.sim.configure(dev, profile="h200", framework_overhead=on)
            x = gg.ones(32, 32, device=dev)
            ((x @ x).relu() * 2.0).sum()   # warms the pool: no cudaMalloc (a sync) below
            gg.sim.reset(dev)
            start = gg.sim.stats(dev)
            y = ((x @ x).relu() * 2.0).sum()
            stats = gg.sim.stats(dev)
            host[on] = stats.host_us - start.host_us
            kernels[on] = stats.kernels
            assert get_backend(dev).framework_overhead is on
            del y
        assert kernels[True] == kernels[False] >= 4
        expected = kernels[True] * get_profile("h200").framework_us
        assert host[True] - host[False] == pytest.approx(expected)
    finally:
        gg.sim.configure(dev)
    assert get_backend(dev).timeline.framework_us > 0   # the default is on
