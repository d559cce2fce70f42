"""gg.profiler: a per-op table and a Trace Event Format trace with host, stream and copy tracks,
a device-memory counter and metadata; events on one track never overlap."""
import json

import numpy as np
import pytest

import gpugrad as gg
from gpugrad.backends import events
from support import fake_cupy

DEV = "sim:8"


def _workload():
    x = gg.randn(256, 128).to(DEV)  # a copy-engine transfer
    w = gg.randn(128, 64, device=DEV, requires_grad=True)
    loss = (x @ w).relu().sum()
    loss.backward()
    return loss.item(), w.grad.numpy()  # read-backs: host waits, d2h copies


@pytest.fixture
def trace(tmp_path):
    gg.sim.configure(DEV)
    with gg.profiler.profile() as prof:
        _workload()
    path = prof.export_chrome_trace(str(tmp_path / "trace.json"))
    with open(path) as f:
        return prof, json.load(f)


def test_trace_parses_with_tracks_counter_and_metadata(trace):
    _, data = trace
    events = data["traceEvents"]
    names = {e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] == "thread_name"}
    assert {"host", "stream", "copy"} <= names
    process = [e for e in events if e["ph"] == "M" and e["name"] == "process_name"]
    assert any(DEV in e["args"]["name"] for e in process)
    tracks = {e["cat"] for e in events if e["ph"] == "X"}
    assert {"host", "stream", "copy"} <= tracks
    counters = [e for e in events if e["ph"] == "C"]
    assert counters and all(e["name"] == "device memory" for e in counters)
    assert max(e["args"]["in_use_bytes"] for e in counters) > 0
    for e in events:
        if e["ph"] == "X":
            assert e["ts"] >= 0 and e["dur"] >= 0 and isinstance(e["name"], str)


def test_events_on_each_track_never_overlap(trace):
    _, data = trace
    by_track = {}
    for e in data["traceEvents"]:
        if e["ph"] == "X":
            by_track.setdefault((e["pid"], e["tid"]), []).append((e["ts"], e["dur"]))
    assert len(by_track) >= 3
    for spans in by_track.values():
        spans.sort()
        for (t0, d0), (t1, _) in zip(spans, spans[1:]):
            assert t0 + d0 <= t1 + 1e-6, (t0, d0, t1)


def test_table_sorted_by_device_time(trace):
    prof, _ = trace
    text = prof.table()
    assert "matmul" in text and "h2d" in text
    rows = [ln.split() for ln in text.splitlines()[3:] if ln and not ln.startswith(("-", "total"))]
    times = [float(r[3]) for r in rows]
    assert times == sorted(times, reverse=True)


def test_push_and_pull_recording_interface():
    class FakeCudaSource:
        """Stands for a cuda backend resolving CUDA events when the profile ends."""

        def profile_begin(self):
            return "token"

        def profile_end(self, token, sink):
            assert token == "token"
            sink.set_label("cuda:0", "cuda:0 (measured)")
            sink.add_event("cuda:0", "stream", "kernel_a", 5.0, 2.5, {"grid": [1, 1, 1]})
            sink.add_counter("cuda:0", events.MEMORY_COUNTER, 0.0, 1024)

    source = FakeCudaSource()
    events.register_source(source)
    try:
        assert not events.is_recording()
        with gg.profiler.profile() as prof:
            assert events.is_recording()
            events.record_event("cuda:0", "host", "launch_a", 1.0, 3.0)
        trace = prof.trace()["traceEvents"]
        x = [e for e in trace if e["ph"] == "X"]
        assert [(e["name"], e["cat"]) for e in x] == [("launch_a", "host"), ("kernel_a", "stream")]
        assert any(e["ph"] == "M" and e["args"]["name"] == "cuda:0 (measured)" for e in trace)
        assert "kernel_a" in prof.table()
    finally:
        events._SOURCES.remove(source)


def test_outside_a_profile_the_timeline_keeps_no_events():
    gg.sim.configure(DEV)
    gg.ones(10, device=DEV) + 1
    from gpugrad.device_registry import get_backend

    assert get_backend(DEV).timeline.events == []


def test_memory_counter_follows_allocations(tmp_path):
    gg.sim.configure(DEV)
    with gg.profiler.profile() as prof:
        a = gg.zeros(1000, device=DEV)  # 4096 bytes
        b = a + 1  # 8192
        del a  # 4096
    events = prof.trace()["traceEvents"]
    pid = next(e["pid"] for e in events if e["ph"] == "M" and e["name"] == "process_name"
               and DEV in e["args"]["name"])
    counters = [e for e in events if e["ph"] == "C" and e["pid"] == pid]
    values = [e["args"]["in_use_bytes"] for e in counters]
    assert values == [0, 4096, 8192, 4096]
    assert values[-1] == gg.sim.stats(DEV).in_use_bytes
    times = [e["ts"] for e in counters]
    assert times == sorted(times)
    del b


def test_devices_unused_in_the_block_stay_out_of_the_trace():
    gg.sim.configure(DEV)
    gg.sim.configure("sim:9")
    with gg.profiler.profile() as prof:
        gg.ones(4, device=DEV).sum()
    names = [e["args"]["name"] for e in prof.trace()["traceEvents"]
             if e["ph"] == "M" and e["name"] == "process_name"]
    assert len(names) == 1 and DEV in names[0]


# ---- cuda, on a stand-in for CuPy (conftest's fake_cuda; the real thing: tests/backends) ------
# The stand-in runs the backend's kernels compiled for the CPU: a step needs a C++ compiler.
_NO_KERNELS = fake_cupy.kernels_unavailable_reason()
needs_kernels = pytest.mark.skipif(_NO_KERNELS is not None, reason=f"fake CuPy: {_NO_KERNELS}")


def _cuda_step(rng):
    model = gg.nn.Sequential(gg.nn.Linear(6, 5, activation="relu"), gg.nn.Linear(5, 3))
    model.to("cuda")
    x = gg.tensor(rng.standard_normal((4, 6)).astype(np.float32), device="cuda")
    y = gg.tensor(rng.integers(0, 3, 4), device="cuda")
    loss = gg.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    return loss.item()


@needs_kernels
def test_cuda_outside_a_profile_records_nothing(fake_cuda, rng):
    fake, be = fake_cuda
    _cuda_step(rng)
    assert be._recorder is None and fake.events_made == 0 and fake.pool_reads == 0


@needs_kernels
def test_cuda_recorder_measures_kernels_copies_and_memory(fake_cuda, rng):
    fake, be = fake_cuda
    with gg.profiler.profile() as prof:
        _cuda_step(rng)
    assert fake.syncs == 1 and be._recorder is None  # resolved once, at the end
    events = prof.trace()["traceEvents"]
    assert [e["args"]["name"] for e in events if e.get("name") == "process_name"] \
        == ["cuda:0 (Fake GPU)"]
    spans = [e for e in events if e["ph"] == "X"]
    by_track = {}
    for e in spans:
        by_track.setdefault(e["cat"], []).append(e)
    stream = [e["name"] for e in by_track["stream"]]
    for kernel in ("matmul", "bias_act", "softmax_cross_entropy", "bias_act_grads",
                   "softmax_cross_entropy_backward"):
        assert kernel in stream
    assert any(name.startswith(("binary:", "reduce:")) for name in stream)
    assert not {"permute", "reshape", "getitem", "broadcast_to"} & set(stream)  # views
    copies = [e["name"] for e in by_track["copy"]]
    assert "h2d" in copies and copies[-1] == "d2h"  # parameters and data up, the loss back
    # one host span per recorded call, in the same order
    assert [e["name"] for e in by_track["host"]] == [
        e["name"] for e in sorted(by_track["stream"] + by_track["copy"], key=lambda e: e["ts"])]
    for track, track_spans in by_track.items():
        track_spans.sort(key=lambda e: e["ts"])
        for a, b in zip(track_spans, track_spans[1:]):
            assert a["ts"] + a["dur"] <= b["ts"] + 1e-9, track
        assert all(e["ts"] >= 0 and e["dur"] >= 0 for e in track_spans)
    gpu = by_track["stream"] + by_track["copy"]
    assert all(e["dur"] == pytest.approx(1.0) for e in gpu)  # 1 µs between its two events
    counters = [e["args"]["in_use_bytes"] for e in events if e["ph"] == "C"]
    assert counters == [512 * i for i in range(1, fake.pool_reads + 1)]
    assert len(counters) == len(gpu) + 1
    assert "matmul" in prof.table()


def test_cuda_nested_profiles_and_fallbacks(fake_cuda):
    """An inner block sees its own calls, the outer one all of them; a fused op's fallback (an
    integer bias_act is an add and a relu) is one span, named after the fused op."""
    fake, be = fake_cuda
    x = be.from_host(np.ones((2, 3), np.int64))
    with gg.profiler.profile() as outer:
        y = be.matmul(x, be.permute(x, (1, 0)))  # the permute is a view: not recorded
        with gg.profiler.profile() as inner:
            be.bias_act(y, be.from_host(np.arange(2)), "relu")
        assert be._recorder is not None and fake.syncs == 1
    assert be._recorder is None and fake.syncs == 2

    def stream(prof):
        return [name for _, track, name, *_ in prof.events if track == "stream"]

    assert stream(inner) == ["bias_act"]
    assert stream(outer) == ["matmul", "bias_act"]
    assert [name for _, track, name, *_ in inner.events if track == "copy"] == ["h2d"]
