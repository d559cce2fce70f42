"""``gg.profiler``: record what each device did during a block, as a table or a Perfetto trace.

```python
with gg.profiler.profile() as prof:
    loss = model(x).sum(); loss.backward()
print(prof.table())                      # per-op summary, most device time first
prof.export_chrome_trace("trace.json")   # open in https://ui.perfetto.dev
```

The trace is Trace Event Format JSON: per device one process, with ``host``, ``stream`` and
``copy`` tracks (``M`` metadata names them), ``X`` events on them, and a ``C`` counter of device
memory in use. Times are microseconds from the start of the ``profile`` block.

Which devices report: ``sim`` (its modeled timeline) and ``cuda`` (measured: host wall clock,
kernel and copy times from CUDA events, CuPy's pool bytes; see ``gpugrad/backends/cuda/recorder.py``).
``cpu`` records nothing yet, so a block that runs only on it gives an empty table and a trace
without events.

Devices report through ``gpugrad.backends.events`` (the same interface for modeled and
measured times); this module collects their events and turns them into tables and traces.
"""
import json

from .atomic import atomic_write
from .backends import events
from .sim.report import format_table


class profile:  # noqa: N801  (PyTorch's name: torch.profiler.profile)
    """Context manager recording every device's events; see the module docstring."""

    def __init__(self):
        self.events = []  # (device, track, name, start_us, dur_us, args)
        self.counters = []  # (device, name, ts_us, value)
        self.labels = {}  # device -> process name in the trace
        self._tokens = []

    def __enter__(self):
        events.start(self)
        return self

    def __exit__(self, *exc):
        events.stop(self)
        return False

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
                    if args:
                        event["args"] = args
                    out.append(event)
            for dev, name, ts, value in self.counters:
                if dev == device:
                    out.append({"ph": "C", "name": name, "pid": pid, "tid": 0, "ts": ts,
                                "args": {"in_use_bytes": value}})
        return {"traceEvents": out, "displayTimeUnit": "ms"}

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
