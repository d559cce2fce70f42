"""``gg.profiler``: record what each device did during a block, as a table or a Perfetto trace.

```python
from gpugrad.profiler import profile, ProfilerActivity, record_function

with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA],
             record_shapes=True) as prof:
    with record_function("step"):        # a named span: a row and a span in the trace
        loss = model(x).sum(); loss.backward()
print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=10))
print(prof.table())                      # gpugrad's device summary, most device time first
prof.export_chrome_trace("trace.json")   # open in https://ui.perfetto.dev
```

``ProfilerActivity.CPU`` records every op's host time (self and total, measured with
``perf_counter_ns`` on every device, see ``gpugrad/profiler_host.py``), every autograd node run
in backward (``autograd::engine::evaluate_function: MulBackward0`` around ``MulBackward0``, as
PyTorch names them) and ``record_function`` spans; ``ProfilerActivity.CUDA`` records the
devices' events (the sim's modeled timeline, cuda's CUDA events). Both by default.
``key_averages()`` sums them per name (``group_by_input_shape`` with ``record_shapes``), as
PyTorch's does: kernels and copies are rows of their own (Self CUDA), and each kernel's device
time is also charged, as CUDA total, to the op that launched it and to every span open around
it on the launching thread (by launch nesting: devices tag each event with the innermost open
span), so ``sort_by="cuda_time_total"`` lists the ops that cost the device most and a
``record_function`` span's CUDA total is the device time of everything inside it.

The trace is Trace Event Format JSON: per device one process, with ``host``, ``stream`` and
``copy`` tracks (``M`` metadata names them), ``X`` events on them, and a ``C`` counter of device
memory in use; the measured host spans form one more process, ``python (host, measured)``, with
a track per thread. A span's ``External id`` is the ``correlation`` of the kernels and copies it
launched, and a flow arrow (PyTorch's ``ac2g``) joins them. Times are microseconds from the
start of the ``profile`` block.

Which devices report: ``sim`` (its modeled timeline) and ``cuda`` (measured: host wall clock,
kernel and copy times from CUDA events, CuPy's pool bytes; see ``gpugrad/backends/cuda/recorder.py``).
``cpu`` has no device timeline: a block that runs only on it has host spans (the CPU
activity) but an empty ``table()``.

Devices report through ``gpugrad.backends.events`` (the same interface for modeled and
measured times); this module collects their events and turns them into tables and traces.
"""
import enum
import json
import time

from . import profiler_host
from .atomic import atomic_write
from .backends import events
from .profiler_averages import key_averages as _key_averages
from .profiler_host import record_function
from .sim.report import format_table

HOST_PROCESS = "python (host, measured)"


class ProfilerActivity(enum.Enum):
    """What a ``profile`` records: ``CPU`` (host spans of ops and ``record_function``) and
    ``CUDA`` (the devices' kernels, copies and memory: sim and cuda)."""

    CPU = "cpu"
    CUDA = "cuda"


class profile:  # noqa: N801  (PyTorch's name: torch.profiler.profile)
    """Context manager recording host spans and every device's events; see the module
    docstring. Takes PyTorch's arguments: ``activities`` (default both), ``record_shapes``
    (input shapes of each op, for ``key_averages(group_by_input_shape=True)``) and
    ``on_trace_ready`` (called with the profile when the block ends). ``profile_memory``,
    ``with_stack``, ``with_flops`` and ``with_modules`` are accepted (the device memory counter
    and the sim's flops are always recorded); ``schedule`` is not supported."""

    def __init__(self, activities=None, schedule=None, on_trace_ready=None, record_shapes=False,
                 profile_memory=False, with_stack=False, with_flops=False, with_modules=False,
                 experimental_config=None):
        if schedule is not None:
            raise ValueError("profile(schedule=...) is not supported: put the steps to record "
                             "inside the profile block instead")
        activities = set(ProfilerActivity if activities is None else activities)
        self.record_cpu = ProfilerActivity.CPU in activities
        self.record_devices = ProfilerActivity.CUDA in activities
        self.record_shapes = bool(record_shapes)
        self.on_trace_ready = on_trace_ready
        self.events = []  # (device, track, name, start_us, dur_us, args)
        self.counters = []  # (device, name, ts_us, value)
        self.labels = {}  # device -> process name in the trace
        # (name, thread, start_us, dur_us, self_us, input shapes, span id, parent span id)
        self.host_spans = []
        self._tokens = []
        self._origin_ns = 0

    def __enter__(self):
        self._origin_ns = time.perf_counter_ns()
        if self.record_devices:
            events.start(self)
        if self.record_cpu:
            profiler_host.start(self)
        return self

    def __exit__(self, *exc):
        if self.record_cpu:
            profiler_host.stop(self)
        if self.record_devices:
            events.stop(self)
        if self.on_trace_ready is not None:
            self.on_trace_ready(self)
        return False

    def step(self):
        """Mark a step boundary (PyTorch's, for schedules; without one it does nothing)."""

    def add_host_span(self, name, thread, start_ns, dur_ns, self_ns, shapes, span_id=None,
                      parent_id=None):
        """Record one measured host span (``profiler_host``'s recorder interface)."""
        self.host_spans.append((name, thread, (start_ns - self._origin_ns) / 1e3, dur_ns / 1e3,
                                self_ns / 1e3, shapes, span_id, parent_id))

    def key_averages(self, group_by_input_shape=False, group_by_stack_n=0):
        """PyTorch's per-name summary (``.table(sort_by=..., row_limit=...)``): host spans
        (ops, backward nodes, ``record_function``) with self and total CPU time and, as CUDA
        total, the device time of every kernel launched inside them; kernels and copies with
        their own device time (Self CUDA). See ``gpugrad/profiler_averages.py``."""
        if group_by_input_shape and not self.record_shapes:
            raise RuntimeError("key_averages(group_by_input_shape=True) needs the input shapes: "
                               "profile(record_shapes=True)")
        if group_by_stack_n:
            raise ValueError("key_averages(group_by_stack_n=...) is not supported: gpugrad's "
                             "profiler records no stacks")
        return _key_averages(self.host_spans, self.events, group_by_input_shape)

    # ---- the sink interface ----------------------------------------------------------------
    def add_event(self, device, track, name, start_us, dur_us, args=None):
        """Record one event on ``track`` of ``device`` (sink interface)."""
        self.events.append((str(device), track, name, float(start_us), float(dur_us), args))

    def add_counter(self, device, name, ts_us, value):
        """Record one sample of counter ``name`` of ``device`` (sink interface)."""
        self.counters.append((str(device), name, float(ts_us), value))

    def set_label(self, device, text):
        """Name ``device``'s process in the trace (sink interface)."""
        self.labels[str(device)] = text

    # ---- output ----------------------------------------------------------------------------
    def table(self, top=None):
        """A per-op summary by op name: device time (stream and copy tracks), flops and bytes
        when the events' args give them, and host time (host track), most device time first."""
        rows = {}
        for _device, track, name, _start, dur, args in self.events:
            row = rows.get(name)
            if row is None:
                row = rows[name] = {"count": 0, "device_us": 0.0, "host_us": 0.0, "flops": 0,
                                    "bytes": 0, "op_class": ""}
            if track == "host":
                row["host_us"] += dur
            else:  # a kernel (stream) or a transfer (copy); args may say what it did
                args = args or {}
                row["count"] += 1
                row["device_us"] += dur
                row["flops"] += args.get("flops", 0)
                row["bytes"] += args.get("bytes", 0)
                row["op_class"] = args.get("op_class", track)
        rows = {name: r for name, r in rows.items() if r["count"]}
        return format_table(rows, top, title="profile: per-op summary")

    def trace(self):
        """The trace as a dict in Trace Event Format (what ``export_chrome_trace`` writes)."""
        devices = sorted({e[0] for e in self.events} | {c[0] for c in self.counters})
        out = []
        launched = []  # (pid, tid, ts, span id): device events a host span launched
        # span ids numbered from 1 in this profile, so a replayed program gives the same ids
        span_ids = {span[6]: n for n, span in enumerate(self.host_spans, 1)}
        for pid, device in enumerate(devices, 1):
            out.append({"ph": "M", "name": "process_name", "pid": pid, "tid": 0,
                        "args": {"name": self.labels.get(device, device)}})
            out.append({"ph": "M", "name": "process_sort_index", "pid": pid, "tid": 0,
                        "args": {"sort_index": pid}})
            tracks = list(events.TRACKS) + sorted({e[1] for e in self.events if e[0] == device}
                                           - set(events.TRACKS))
            tids = {track: tid for tid, track in enumerate(tracks, 1)}
            for track, tid in tids.items():
                out.append({"ph": "M", "name": "thread_name", "pid": pid, "tid": tid,
                            "args": {"name": track}})
                out.append({"ph": "M", "name": "thread_sort_index", "pid": pid, "tid": tid,
                            "args": {"sort_index": tid}})
            for dev, track, name, start, dur, args in self.events:
                if dev == device:
                    event = {"ph": "X", "name": name, "cat": track, "pid": pid,
                             "tid": tids[track], "ts": start, "dur": dur}
                    if args and "correlation" in args:
                        args = {**args, "correlation": span_ids.get(args["correlation"])}
                        if args["correlation"] is None:  # launched in no span it recorded
                            del args["correlation"]
                        elif track != "host":
                            launched.append((pid, tids[track], start, args["correlation"]))
                    if args:
                        event["args"] = args
                    out.append(event)
            for dev, name, ts, value in self.counters:
                if dev == device:
                    out.append({"ph": "C", "name": name, "pid": pid, "tid": 0, "ts": ts,
                                "args": {"in_use_bytes": value}})
        if self.host_spans:
            out += self._host_trace(len(devices) + 1, launched)
        return {"traceEvents": out, "displayTimeUnit": "ms"}

    def _host_trace(self, pid, launched):
        """The measured host spans as one process, a track per thread (nested spans nest),
        and a flow arrow from each span to the kernels and copies launched directly in it
        (``launched``: (pid, tid, ts, span id) of each)."""
        out = [{"ph": "M", "name": "process_name", "pid": pid, "tid": 0,
                "args": {"name": HOST_PROCESS}},
               {"ph": "M", "name": "process_sort_index", "pid": pid, "tid": 0,
                "args": {"sort_index": pid}}]
        tids = {}
        where = {}  # span id (numbered from 1 in this profile) -> (tid, start)
        for span_id, (name, thread, start, dur, self_us, shapes, *_ids) in enumerate(
                self.host_spans, 1):
            if thread not in tids:
                tids[thread] = len(tids) + 1
                out.append({"ph": "M", "name": "thread_name", "pid": pid, "tid": tids[thread],
                            "args": {"name": f"thread {thread}"}})
            event = {"ph": "X", "name": name, "cat": "cpu_op", "pid": pid,
                     "tid": tids[thread], "ts": start, "dur": dur,
                     "args": {"self_us": self_us, "External id": span_id}}
            if shapes:
                event["args"]["Input Dims"] = [list(s) for s in shapes]
            out.append(event)
            where[span_id] = (tids[thread], start)
        # PyTorch's "ac2g" arrows: from the launching span to each of its kernels and copies
        for flow_id, (kernel_pid, kernel_tid, ts, span_id) in enumerate(launched, 1):
            tid, start = where[span_id]
            out.append({"ph": "s", "id": flow_id, "name": "ac2g", "cat": "ac2g",
                        "pid": pid, "tid": tid, "ts": start})
            out.append({"ph": "f", "id": flow_id, "name": "ac2g", "cat": "ac2g",
                        "pid": kernel_pid, "tid": kernel_tid, "ts": ts, "bp": "e"})
        return out

    def export_chrome_trace(self, path):
        """Write the trace as JSON to ``path`` (atomically); open it in ui.perfetto.dev."""
        atomic_write(path, json.dumps(self.trace(), default=_plain))
        return path


def _plain(value):
    """JSON for NumPy numbers, tuples of them and other odd values found in event args."""
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


__all__ = ["profile", "ProfilerActivity", "record_function", "HOST_PROCESS"]
