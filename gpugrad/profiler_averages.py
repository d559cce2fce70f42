"""``prof.key_averages()``: PyTorch's per-name summary of a profile, and its ``table``.

Rows come from two sources, as PyTorch's do:

- host spans (``device_type`` CPU): ops, autograd nodes run in backward and ``record_function``
  blocks, measured on every device. Self and total CPU time; *CUDA total* is the device time
  of every kernel and copy launched while the span was open on the launching thread (the
  devices tag each event with the innermost open span, see ``gpugrad/backends/events.py``;
  the chain of parents gives the spans around it). Their *Self CUDA* is 0: a kernel's time is
  its own row's.
- device events (``device_type`` CUDA): kernels and copies, the sim's modeled times or cuda's
  times from CUDA events. Self CUDA time, and no CPU time.

So the Self CPU column sums to "Self CPU time total" over the host rows, Self CUDA to "Self CUDA
time total" over the device rows, and a span's CUDA total is the device time of everything in
it. Times are microseconds.
"""
import enum

SORT_KEYS = ("cpu_time", "cuda_time", "cpu_time_total", "cuda_time_total", "self_cpu_time_total",
             "self_cuda_time_total", "device_time", "device_time_total",
             "self_device_time_total", "count")


class DeviceType(enum.Enum):
    """Where a row's events ran, as PyTorch's ``FunctionEventAvg.device_type``."""

    CPU = "CPU"
    CUDA = "CUDA"


class FunctionEventAvg:
    """One row of ``key_averages()``: a name and kind (and input shapes when grouped by
    them), with PyTorch's attributes: ``count``, ``self_cpu_time_total``, ``cpu_time_total``,
    ``self_device_time_total``, ``device_time_total`` (``*_cuda_*`` are the same), their
    per-call averages ``cpu_time`` and ``device_time``, ``input_shapes`` and ``device_type``."""

    def __init__(self, key, device_type, input_shapes=None, top_level=True):
        self.key = key
        self.device_type = device_type
        self.input_shapes = input_shapes if input_shapes is not None else []
        self.is_top_level = top_level  # its first event nests in no span (top_level_events_only)
        self.count = 0
        self.self_cpu_time_total = 0.0
        self.cpu_time_total = 0.0
        self.self_device_time_total = 0.0
        self.device_time_total = 0.0

    @property
    def cpu_time(self):
        """Average total CPU time per call."""
        return self.cpu_time_total / self.count if self.count else 0.0

    @property
    def device_time(self):
        """Average total device time per call."""
        return self.device_time_total / self.count if self.count else 0.0

    # the CUDA names of PyTorch 1, still what most scripts sort by
    cuda_time = device_time
    cuda_time_total = property(lambda self: self.device_time_total)
    self_cuda_time_total = property(lambda self: self.self_device_time_total)

    def __repr__(self):
        return (f"<FunctionEventAvg key={self.key} self_cpu_time={self.self_cpu_time_total:.3f}us "
                f"cpu_time={self.cpu_time:.3f}us self_cuda_time={self.self_device_time_total:.3f}"
                f"us cuda_time={self.device_time:.3f}us input_shapes={self.input_shapes} "
                f"calls={self.count}>")


class KeyAverages(list):
    """The rows of ``key_averages()`` (a list of ``FunctionEventAvg``), with ``table``."""

    def table(self, sort_by=None, row_limit=100, max_name_column_width=55, header=None,
              top_level_events_only=False, max_shapes_column_width=80, time_unit=None):
        """The rows as text, laid out as PyTorch prints them; ``sort_by`` is one of
        ``SORT_KEYS`` (largest first; None keeps first-seen order), ``row_limit`` the rows
        shown (-1: all), ``top_level_events_only`` keeps rows whose events nest in no span,
        ``time_unit`` ("s", "ms", "us") fixes the unit of every time."""
        if sort_by is not None and sort_by not in SORT_KEYS:
            raise ValueError(f"sort_by={sort_by!r} is not one of {', '.join(SORT_KEYS)}")
        if time_unit not in (None, "s", "ms", "us"):
            raise ValueError(f"time_unit={time_unit!r} is not one of 's', 'ms', 'us' or None")
        rows = list(self)
        if sort_by is not None:
            rows.sort(key=lambda r: getattr(r, sort_by), reverse=True)
        if top_level_events_only:
            rows = [r for r in rows if r.is_top_level]
        if row_limit is not None and row_limit >= 0:
            rows = rows[:row_limit]
        return _Table(self, max_name_column_width, max_shapes_column_width, time_unit).format(
            rows, header)


def _time(us, unit=None):
    """PyTorch's time format: the largest unit under which the number is >= 1."""
    if unit == "s" or (unit is None and us >= 1e6):
        return f"{us / 1e6:.3f}s"
    if unit == "ms" or (unit is None and us >= 1e3):
        return f"{us / 1e3:.3f}ms"
    return f"{us:.3f}us"


def _share(part, whole):
    return f"{100 * part / whole:.2f}%" if whole else "NaN"


class _Table:
    """PyTorch's table layout: a right-aligned name column, 12-wide columns two spaces apart,
    the CUDA columns only when some row has device time, Input Shapes when rows have shapes."""

    WIDTH = 12

    def __init__(self, every, max_name, max_shapes, unit):
        self.unit = unit
        self.self_cpu = sum(r.self_cpu_time_total for r in every)
        self.self_device = sum(r.self_device_time_total for r in every)
        self.device = any(r.self_device_time_total > 0 or r.device_time_total > 0
                          for r in every)
        self.shapes = any(r.input_shapes for r in every)
        self.max_name = max_name
        self.name_w = min(max([len(r.key) for r in every] + [0]) + 4, max_name)
        self.shapes_w = min(max([len(str(r.input_shapes)) for r in every] + [0]) + 4, max_shapes)

    def headers(self):
        names = ["Self CPU %", "Self CPU", "CPU total %", "CPU total", "CPU time avg"]
        if self.device:
            names += ["Self CUDA", "Self CUDA %", "CUDA total", "CUDA time avg"]
        return [("Name", self.name_w)] + [(n, self.WIDTH) for n in names + ["# of Calls"]] + (
            [("Input Shapes", self.shapes_w)] if self.shapes else [])

    def cells(self, r):
        t = self.unit
        name = r.key
        if len(name) >= self.max_name - 3:
            name = name[:self.max_name - 3] + "..."
        out = [name, _share(r.self_cpu_time_total, self.self_cpu),
               _time(r.self_cpu_time_total, t), _share(r.cpu_time_total, self.self_cpu),
               _time(r.cpu_time_total, t), _time(r.cpu_time, t)]
        if self.device:
            out += [_time(r.self_device_time_total, t),
                    _share(r.self_device_time_total, self.self_device),
                    _time(r.device_time_total, t), _time(r.device_time, t)]
        out.append(str(r.count))
        if self.shapes:
            out.append(str(r.input_shapes)[:self.shapes_w])
        return out

    def format(self, rows, header):
        columns = self.headers()

        def line(values):
            return "".join(f"{v:>{w}}  " for v, (_, w) in zip(values, columns))

        rule = "".join("-" * w + "  " for _, w in columns)
        lines = [] if header is None else ["=" * (len(rule) - 2), header]
        lines += [rule, line([name for name, _ in columns]), rule]
        lines += [line(self.cells(r)) for r in rows]
        lines += [rule, f"Self CPU time total: {_time(self.self_cpu, self.unit)}"]
        if self.device:
            lines.append(f"Self CUDA time total: {_time(self.self_device, self.unit)}")
        return "\n".join(lines) + "\n"


def key_averages(host_spans, device_events, group_by_input_shape=False):
    """Rows from ``host_spans`` ((name, thread, start_us, dur_us, self_us, shapes, span id,
    parent span id)) and ``device_events`` ((device, track, name, start_us, dur_us, args);
    host tracks skipped; ``args["correlation"]``, when present, is the id of the span that
    launched the event), in first-seen order."""
    rows = {}

    def row(name, kind, shapes, top_level):
        shapes = shapes if group_by_input_shape else []
        key = (name, kind, str(shapes))
        r = rows.get(key)
        if r is None:
            r = rows[key] = FunctionEventAvg(name, kind, shapes, top_level)
        return r

    spans = {}  # span id -> (its row, parent span id)
    for name, _thread, _start, dur, self_us, shapes, span_id, parent in host_spans:
        r = row(name, DeviceType.CPU, [list(s) for s in shapes], parent is None)
        r.count += 1
        r.cpu_time_total += dur
        r.self_cpu_time_total += self_us
        spans[span_id] = (r, parent)
    for _device, track, name, _start, dur, args in device_events:
        if track == "host":  # the sim's modeled host costs: the CPU columns are measured
            continue
        span = args.get("correlation") if args else None
        r = row(name, DeviceType.CUDA, [], span not in spans)
        r.count += 1
        r.self_device_time_total += dur
        r.device_time_total += dur
        while span in spans:  # the launching span and every span it nests in
            span_row, span = spans[span]
            span_row.device_time_total += dur
    return KeyAverages(rows.values())


__all__ = ["DeviceType", "FunctionEventAvg", "KeyAverages", "key_averages", "SORT_KEYS"]
