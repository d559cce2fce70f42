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


def test_events_on_each_device_track_never_overlap(trace):
    _, data = trace
    by_track = {}
    for e in data["traceEvents"]:
        if e["ph"] == "X" and e["cat"] != "cpu_op":  # measured host spans nest instead
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
    assert names[1:] == [gg.profiler.HOST_PROCESS] and DEV in names[0]


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
        == ["cuda:0 (Fake GPU)", gg.profiler.HOST_PROCESS]
    spans = [e for e in events if e["ph"] == "X" and e["cat"] != "cpu_op"]
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


# ---- PyTorch's idioms: activities, record_function, key_averages().table ---------------------
def _host_rows(prof, **kwargs):
    return {r.key: r for r in prof.key_averages(**kwargs)}


def test_pytorch_idioms_measure_ops_and_spans_on_every_device(device, tmp_path):
    from gpugrad.profiler import ProfilerActivity, profile, record_function

    x = gg.randn(8, 4, device=device, requires_grad=True)
    w = gg.randn(4, 3, device=device, requires_grad=True)
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA],
                 record_shapes=True) as prof:
        with record_function("forward_pass"):
            loss = (x @ w).relu().sum()
        loss.backward()
    rows = _host_rows(prof)
    assert {"forward_pass", "matmul", "sum"} <= set(rows)
    span, mm = rows["forward_pass"], rows["matmul"]
    assert span.count == 1 and mm.count >= 1
    # the span holds the forward ops: its total covers them, its self time leaves them out
    assert span.cpu_time_total >= span.self_cpu_time_total >= 0
    assert span.cpu_time_total >= rows["sum"].cpu_time_total
    assert span.self_cpu_time_total <= span.cpu_time_total - rows["sum"].cpu_time_total + 1e-6
    for sort_by in ("self_cpu_time_total", "cpu_time_total", "cuda_time_total",
                    "self_cuda_time_total", "count"):
        text = prof.key_averages().table(sort_by=sort_by, row_limit=5)
        assert "Self CPU time total" in text and "Name" in text
        body = [ln for ln in text.splitlines()[3:] if ln and not ln.startswith(("-", "Self"))]
        assert len(body) == min(5, len(rows))
    by_shape = prof.key_averages(group_by_input_shape=True)
    assert any(r.key == "matmul" and r.input_shapes == [[8, 4], [4, 3]] for r in by_shape)
    assert "Input Shapes" in by_shape.table()
    path = prof.export_chrome_trace(str(tmp_path / "t.json"))
    with open(path) as f:
        spans = [e for e in json.load(f)["traceEvents"] if e.get("cat") == "cpu_op"]
    assert {"forward_pass", "matmul"} <= {e["name"] for e in spans}
    if device == "sim":  # device times: the sim's modeled kernels, in the CUDA columns
        assert sum(r.self_cuda_time_total for r in prof.key_averages()) > 0


def test_sort_orders_rows_and_rejects_unknown_keys():
    from gpugrad.profiler import profile

    x = gg.randn(64, 64)
    with profile() as prof:
        for _ in range(3):
            x = x.exp()
        x.sum()
    averages = prof.key_averages()
    assert [r.key for r in averages] == ["exp", "sum"]  # first-seen order without sort_by
    assert averages[0].count == 3
    first = averages.table(sort_by="count").splitlines()[3].split()[0]
    assert first == "exp"
    with pytest.raises(ValueError, match="sort_by='bogus'"):
        averages.table(sort_by="bogus")


def test_activities_choose_what_is_recorded():
    from gpugrad.profiler import ProfilerActivity, profile

    gg.sim.configure(DEV)
    with profile(activities=[ProfilerActivity.CUDA]) as devices_only:
        gg.ones(4, device=DEV).sum()
    assert devices_only.events and not devices_only.host_spans
    with profile(activities=[ProfilerActivity.CPU]) as host_only:
        gg.ones(4, device=DEV).sum()
    assert host_only.host_spans and not host_only.events


def test_apply_is_the_engines_outside_a_profile():
    from gpugrad.engine import Function

    engine_apply = Function.__dict__["apply"]
    with gg.profiler.profile():
        assert Function.__dict__["apply"] is not engine_apply
        with gg.profiler.record_function("inner"):
            pass
    assert Function.__dict__["apply"] is engine_apply
    with gg.profiler.record_function("ignored"):  # costs nothing, records nothing
        gg.ones(2) + 1


def test_on_trace_ready_and_unsupported_arguments():
    seen = []
    with gg.profiler.profile(on_trace_ready=seen.append) as prof:
        prof.step()
    assert seen == [prof]
    with pytest.raises(ValueError, match="schedule"):
        gg.profiler.profile(schedule=lambda step: None)
    with pytest.raises(RuntimeError, match="record_shapes=True"):
        prof.key_averages(group_by_input_shape=True)


# ---- device time attributed by launch nesting; backward nodes; the table's totals ------------
def _mlp_step(device):
    from gpugrad.profiler import ProfilerActivity, profile, record_function

    model = gg.nn.Sequential(gg.nn.Linear(64, 128), gg.nn.ReLU(), gg.nn.Linear(128, 10))
    model.to(device)
    x = gg.randn(32, 64, device=device)
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA],
                 record_shapes=True) as prof:
        with record_function("step"):
            loss = model(x).sum()
            loss.backward()
    return prof


def _rows(prof, kind, **kwargs):
    from gpugrad.profiler_averages import DeviceType

    want = DeviceType.CPU if kind == "cpu" else DeviceType.CUDA
    return {r.key: r for r in prof.key_averages(**kwargs) if r.device_type is want}


def _device_us(prof, name=None):
    """Device time of the profile's kernels and copies (named ``name``), from its raw events."""
    return sum(e[4] for e in prof.events if e[1] != "host" and (name is None or e[2] == name))


def test_a_span_is_charged_the_device_time_of_everything_launched_in_it():
    gg.sim.configure(DEV)
    prof = _mlp_step(DEV)
    ops, kernels = _rows(prof, "cpu"), _rows(prof, "cuda")
    kernel_us = sum(r.self_cuda_time_total for r in kernels.values())
    assert kernel_us == pytest.approx(_device_us(prof)) and kernel_us > 0
    assert ops["step"].cuda_time_total == pytest.approx(kernel_us)  # all of it ran inside
    assert ops["step"].device_time_total == ops["step"].cuda_time_total
    for r in ops.values():  # a kernel's time is its own row's: ops have CUDA total only
        assert r.self_cuda_time_total == 0 and r.cuda_time_total <= kernel_us + 1e-9
    for r in kernels.values():
        assert r.cpu_time_total == 0 and r.cuda_time_total == r.self_cuda_time_total
    # the forward ops launch kernels: each is charged something, never more than the step
    assert ops["linear"].cuda_time_total > 0 and ops["relu"].cuda_time_total > 0
    text = prof.key_averages().table(sort_by="cuda_time_total", row_limit=3)
    assert text.splitlines()[3].split()[0] == "step"


def test_an_ops_cuda_total_is_its_kernels_modeled_time():
    from gpugrad.profiler import profile

    gg.sim.configure(DEV)
    a = gg.randn(256, 512, device=DEV)
    b = gg.randn(512, 256, device=DEV)
    with profile(record_shapes=True) as prof:
        for _ in range(3):
            (a @ b).relu()
    ops, kernels = _rows(prof, "cpu"), _rows(prof, "cuda")
    assert ops["matmul"].count == 3 and kernels["matmul"].count == 3
    assert ops["matmul"].cuda_time_total == pytest.approx(_device_us(prof, "matmul"))
    assert ops["relu"].cuda_time_total == pytest.approx(_device_us(prof, "unary:relu"))
    assert ops["matmul"].cuda_time_total > ops["relu"].cuda_time_total  # matmul-heavy
    assert ops["matmul"].cuda_time == pytest.approx(ops["matmul"].cuda_time_total / 3)


def test_kernels_launched_outside_host_spans_are_their_own_rows_only():
    from gpugrad.profiler import ProfilerActivity, profile

    gg.sim.configure(DEV)
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        gg.ones(8, device=DEV).exp()
    rows = list(prof.key_averages())
    assert rows and all(r.cpu_time_total == 0 for r in rows)
    assert sum(r.self_cuda_time_total for r in rows) == pytest.approx(_device_us(prof))


def test_backward_nodes_are_rows_named_as_pytorch_names_them():
    gg.sim.configure(DEV)
    prof = _mlp_step(DEV)
    ops = _rows(prof, "cpu")
    for node in ("LinearBackward0", "ReluBackward0", "SumBackward0"):
        outer = ops[f"autograd::engine::evaluate_function: {node}"]
        inner = ops[node]
        assert outer.count == inner.count >= 1
        assert outer.cpu_time_total >= inner.cpu_time_total > 0
        assert outer.cuda_time_total == pytest.approx(inner.cuda_time_total)
    assert ops["LinearBackward0"].count == 2
    assert ops["LinearBackward0"].cuda_time_total > 0  # its matmuls
    by_shape = prof.key_averages(group_by_input_shape=True)
    assert any(r.key == "ReluBackward0" and r.input_shapes == [[32, 128]] for r in by_shape)
    # the forward ops and the backward nodes are the step's children: their device time adds up
    top = [r for k, r in ops.items() if k.startswith("autograd::engine::evaluate_function")]
    assert sum(r.cuda_time_total for r in top) < ops["step"].cuda_time_total


def test_profiling_backward_leaves_the_engine_as_it_was():
    from gpugrad.engine import hooks

    assert hooks.backward_pre_hooks == [] and hooks.backward_hooks == []
    with gg.profiler.profile():
        assert len(hooks.backward_pre_hooks) == 1 and len(hooks.backward_hooks) == 1
    assert hooks.backward_pre_hooks == [] and hooks.backward_hooks == []


def test_a_backward_that_raises_leaves_the_spans_around_it_whole():
    class Broken(gg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            raise ValueError("broken backward")

    x = gg.ones(3, requires_grad=True)
    with gg.profiler.profile() as prof:
        with gg.profiler.record_function("outer"):
            with pytest.raises(ValueError, match="broken backward"):
                Broken.apply(x).sum().backward()
            gg.ones(2).exp()
        gg.ones(2).exp()
    parents = {s[6]: s[7] for s in prof.host_spans}
    outer = next(s[6] for s in prof.host_spans if s[0] == "outer")
    assert parents[outer] is None
    first, second = [s[6] for s in prof.host_spans if s[0] == "exp"]
    assert parents[second] is None  # closing "outer" closed what the error left open in it
    chain = [first]
    while chain[-1] is not None:
        chain.append(parents.get(chain[-1]))
    assert outer in chain


def _percent_column(text, column):
    lines = text.splitlines()
    head = lines[1]
    end = head.index(column) + len(column)  # columns are right-aligned: cells end with heads
    return [float(ln[end - 12:end].strip().rstrip("%")) for ln in lines[3:]
            if ln and not ln.startswith(("-", "Self"))]


def test_table_totals_percentages_sort_and_row_limit():
    gg.sim.configure(DEV)
    prof = _mlp_step(DEV)
    averages = prof.key_averages()
    everything = averages.table(row_limit=-1)
    assert sum(_percent_column(everything, "Self CPU %")) == pytest.approx(100, abs=0.2)
    assert sum(_percent_column(everything, "Self CUDA %")) == pytest.approx(100, abs=0.2)
    self_cpu = sum(r.self_cpu_time_total for r in averages)
    assert f"Self CPU time total: {self_cpu:.3f}us" in everything or "ms" in everything
    assert "Self CUDA time total:" in everything
    for key in ("self_cpu_time_total", "cpu_time_total", "cuda_time_total",
                "self_cuda_time_total", "device_time_total", "count"):
        text = averages.table(sort_by=key, row_limit=7)
        body = [ln for ln in text.splitlines()[3:] if ln and not ln.startswith(("-", "Self"))]
        assert len(body) == 7
        shown = [ln.split()[0] for ln in body]  # names are right-aligned
        best = sorted(averages, key=lambda r: getattr(r, key), reverse=True)[:7]
        values = [getattr(r, key) for r in best]
        assert values == sorted(values, reverse=True)
        assert [name[:10] for name in shown] == [r.key[:10] for r in best]
    assert "Input Shapes" not in everything
    assert "Input Shapes" in prof.key_averages(group_by_input_shape=True).table()
    assert "Self CUDA" not in _cpu_only_table()


def _cpu_only_table():
    with gg.profiler.profile() as prof:
        gg.ones(3).exp()
    return prof.key_averages().table()


def test_trace_links_each_kernel_to_the_op_that_launched_it(tmp_path):
    gg.sim.configure(DEV)
    prof = _mlp_step(DEV)
    with open(prof.export_chrome_trace(str(tmp_path / "t.json"))) as f:
        trace = json.load(f)["traceEvents"]
    spans = {e["args"]["External id"]: e for e in trace if e.get("cat") == "cpu_op"}
    kernels = [e for e in trace if e["ph"] == "X" and e["cat"] == "stream"]
    starts = {e["id"]: e for e in trace if e["ph"] == "s"}
    ends = [e for e in trace if e["ph"] == "f"]
    assert kernels and len(ends) == len(starts) >= len(kernels)
    for end in ends:
        start = starts[end["id"]]
        span = next(s for s in spans.values() if s["ts"] == start["ts"]
                    and s["tid"] == start["tid"])
        kernel = next(e for e in trace if e["ph"] == "X" and e["pid"] == end["pid"]
                      and e["tid"] == end["tid"] and e["ts"] == end["ts"])
        assert spans[kernel["args"]["correlation"]]["ts"] == span["ts"]


@needs_kernels
def test_cuda_kernels_measured_by_events_are_charged_to_their_ops(fake_cuda, rng):
    from gpugrad.profiler import ProfilerActivity, profile, record_function

    fake, _be = fake_cuda
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        with record_function("step"):
            _cuda_step(rng)
    assert fake.syncs == 1  # resolved once, at the end of the block
    ops, kernels = _rows(prof, "cpu"), _rows(prof, "cuda")
    for name in ("matmul", "bias_act", "softmax_cross_entropy", "h2d", "d2h"):
        assert kernels[name].self_cuda_time_total == pytest.approx(kernels[name].count)  # 1 µs
    total = sum(r.self_cuda_time_total for r in kernels.values())
    assert total > 0 and total == pytest.approx(_device_us(prof))
    assert ops["step"].cuda_time_total == pytest.approx(total)
    assert ops["linear"].cuda_time_total >= 2  # a matmul and a bias_act per call, 1 µs each
    assert ops["autograd::engine::evaluate_function: LinearBackward0"].cuda_time_total > 0
