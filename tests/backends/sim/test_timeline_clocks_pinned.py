"""Timeline clocks, trace events and snapshots pinned to hand-worked values.

A stand-in profile with round figures (and no host mix) keeps every expected value short
arithmetic on timeline.py's documented rules, never a call of the code under test.
"""
from types import SimpleNamespace

import pytest

from gpugrad.backends import events as ev
from gpugrad.backends.sim import timeline as tl
from gpugrad.backends.sim.timeline import Timeline, TraceEvent

LAT, POINT, SYNC, EVENT, FW = 4.0, 0.5, 3.0, 0.5, 30.0


class _Profile(SimpleNamespace):
    """Round figures; records the arguments of the transfer calls."""

    def __init__(self):
        super().__init__(launch_latency_us=LAT, launch_point=POINT, sync_us=SYNC, event_us=EVENT,
                         host_mix_us=0.0, framework_us=FW, calls=[])

    def transfer_us(self, kind, nbytes, pinned):
        self.calls.append(("transfer_us", kind, nbytes, pinned))
        return 10.0 if pinned else 20.0

    def transfer_host_us(self, kind):
        self.calls.append(("transfer_host_us", kind))
        return {"h2d": 1.0, "d2h": 2.0, "d2d": 3.0, "p2p": 3.0}[kind]

    def malloc_us(self, nbytes):
        return 5.0 + nbytes / 1000

    def host_dispatch_us(self, spec):
        return 6.0

    def kernel_us(self, spec):
        return 7.0


SPEC = SimpleNamespace(name="binary:add", shapes=((2, 3),), dtype="float32", nbytes=72,
                       flops=6, op_class="elementwise")


@pytest.fixture
def span():
    old = ev.launch_span()
    ev.set_launch_span(41)
    yield 41
    ev.set_launch_span(old)


def test_clock_property_reads_sets_and_documents():
    class Box:
        deferred = None
        flushed = 0
        x = tl._clock("_x", "the x clock")

        def flush(self):
            self.flushed += 1

    b = Box()
    b._x = 2.5
    assert b.x == 2.5
    b.x = 7.0
    assert b._x == 7.0 and b.x == 7.0
    assert Box.x.__doc__ == "the x clock"
    assert b.flushed == 0
    b.deferred = [1]
    b.x = 1.0
    assert b.x == 1.0 and b.flushed == 2


def test_launch_starts_uncounted():
    launch = tl._Launch("k", 1.5, 2.5)
    assert (launch.name, launch.dispatch_us, launch.duration_us) == ("k", 1.5, 2.5)
    assert launch.count == 0 and launch.device_us == 0.0


def test_kernel_events_and_args(span):
    t = Timeline(_Profile(), framework=True)
    start, end = t.kernel(SPEC)
    # host: framework 30, then dispatch 6 (host 36); arrives at 30 + 0.5 * 6 + 4 = 37
    assert (start, end) == (37.0, 44.0)
    args = {"shapes": ((2, 3),), "dtype": "float32", "bytes": 72, "flops": 6,
            "op_class": "elementwise", "correlation": 41}
    assert t.events == [TraceEvent("host", "binary:add", 0.0, 36.0, args),
                        TraceEvent("stream", "binary:add", 37.0, 7.0, args)]
    assert t.snapshot() == {"host_us": 36.0, "stream_us": 44.0, "copy_us": 0.0,
                            "device_busy_us": 7.0, "copy_busy_us": 0.0, "comm_us": 0.0,
                            "comm_busy_us": 0.0, "comm_exposed_us": 0.0}


def test_no_correlation_without_a_span():
    old = ev.launch_span()
    ev.set_launch_span(None)
    try:
        t = Timeline(_Profile())
        t.kernel(SPEC)
        assert "correlation" not in t.events[0].args
    finally:
        ev.set_launch_span(old)


def test_host_work_names_and_thresholds():
    t = Timeline(_Profile())
    t.host_work(0)
    t.host_work(-1.0)
    assert t.events == [] and t.host_us == 0.0
    t.host_work(0.5)
    t.host_work(2.0, "step")
    assert t.host_us == 2.5
    assert t.events == [TraceEvent("host", "host", 0.0, 0.5, {}),
                        TraceEvent("host", "step", 0.5, 2.0, {})]


def test_transfers_pinned_pageable_and_copy_clock(span):
    p = _Profile()
    t = Timeline(p)
    s1, e1 = t.transfer("h2d", 100)             # pageable by default: 20 µs
    assert p.calls[:2] == [("transfer_us", "h2d", 100, False), ("transfer_host_us", "h2d")]
    assert (s1, e1) == (1.0, 21.0) and t.host_us == 21.0
    s2, e2 = t.transfer("d2d", 50, pinned=True)  # ready 21 + 3 = 24; 10 µs; host goes on
    assert (s2, e2) == (24.0, 34.0)
    assert t.host_us == 24.0 and t.stream_us == 34.0
    assert t.copy_us == 34.0 and t.copy_busy_us == 30.0
    a1 = {"bytes": 100, "pinned": False, "correlation": 41}
    a2 = {"bytes": 50, "pinned": True, "correlation": 41}
    assert t.events == [TraceEvent("host", "h2d", 0.0, 21.0, a1),
                        TraceEvent("copy", "h2d", 1.0, 20.0, a1),
                        TraceEvent("host", "d2d", 21.0, 3.0, a2),
                        TraceEvent("copy", "d2d", 24.0, 10.0, a2)]
    s3, e3 = t.transfer("d2h", 8)                # ready max(24 + 2, stream 34), then 20 µs
    assert (s3, e3) == (34.0, 54.0)
    assert t.host_us == 54.0 and t.copy_busy_us == 50.0


def test_collectives_ready_wait_and_exposure(span):
    t = Timeline(_Profile())
    t.host_work(10.0)
    assert t.collective_ready(2.0) == 10.0 + 2.0 + LAT
    t.stream_us = 20.0
    assert t.collective_ready(2.0) == 20.0
    start, end = t.collective("all_reduce", 50.0, 2.0, args={"bytes": 8})
    assert (start, end) == (20.0, 70.0) and t.host_us == 12.0
    assert t.comm_us == 70.0 and t.comm_busy_us == 50.0
    args = {"bytes": 8, "op_class": "comm", "correlation": 41}
    assert t.events[-2:] == [TraceEvent("host", "all_reduce", 10.0, 2.0, args),
                             TraceEvent("comm", "all_reduce", 20.0, 50.0, args)]
    t.collective("broadcast", 5.0, 1.0, not_before=80.0)
    assert t.events[-1] == TraceEvent("comm", "broadcast", 80.0, 5.0,
                                      {"op_class": "comm", "correlation": 41})
    assert t.comm_us == 85.0 and t.comm_busy_us == 55.0 and t.host_us == 13.0
    # stream free at 20, host 13 + 4 = 17: free = 20; waits 70 - 20 = 50
    t.collective_wait(70.0)
    assert t.comm_exposed_us == 50.0 and t.stream_us == 70.0
    t.host_work(100.0)                 # host 113: free = 117 > 85, no exposure
    t.collective_wait(85.0)
    assert t.comm_exposed_us == 50.0 and t.stream_us == 85.0
    t.collective_wait(60.0)
    assert t.stream_us == 85.0
    t2 = Timeline(_Profile())
    t2.host_work(10.0)                 # free = max(0, 14) = 14
    t2.collective_wait(16.0)
    assert t2.comm_exposed_us == 2.0 and t2.stream_us == 16.0
    t2.collective_wait(20.0)           # free = max(16, 14) = 16: 4 more
    assert t2.comm_exposed_us == 6.0


def test_synchronize_waits_for_comm_and_counts_exposure():
    t = Timeline(_Profile())
    t.comm_exposed_us = 1.0
    t.stream_us = 5.0
    t.comm_us = 12.0
    assert t.synchronize() == 12.0 + SYNC
    assert t.comm_exposed_us == 1.0 + 12.0 - 5.0
    assert t.events == [TraceEvent("host", "wait", 0.0, 12.0, {}),
                        TraceEvent("host", "synchronize", 12.0, SYNC, {})]


def test_synchronize_without_pending_work_records_no_wait():
    t = Timeline(_Profile())
    t.host_work(5.0)
    t.stream_us = 5.0
    assert t.synchronize() == 5.0 + SYNC
    assert [e.name for e in t.events] == ["host", "synchronize"]


def test_malloc_event_and_clock():
    t = Timeline(_Profile())
    t.stream_us = 4.0
    assert t.malloc(2000) == 4.0 + 5.0 + 2.0
    assert t.events == [TraceEvent("host", "wait", 0.0, 4.0, {}),
                        TraceEvent("host", "cudaMalloc", 4.0, 7.0, {"bytes": 2000})]


def test_record_event_clock():
    t = Timeline(_Profile())
    assert t.record_event() == LAT and t.host_us == EVENT
    t.stream_us = 10.0
    assert t.record_event() == 10.0 and t.host_us == 2 * EVENT


def test_collective_waits_for_the_busy_comm_stream_and_defaults_to_no_floor():
    p = _Profile()
    p.launch_latency_us = 0.0
    t = Timeline(p)
    assert t.collective("all_gather", 3.0, 0.5) == (0.5, 3.5)   # no not_before: starts at once
    # the comm stream is busy until 3.5; ready at 1.0 + 0.5
    assert t.collective("all_gather", 2.0, 0.5) == (3.5, 5.5)
    assert t.comm_us == 5.5 and t.host_us == 1.0
