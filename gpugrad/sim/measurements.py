"""Measurement files: what ``gpugrad sim fidelity`` and ``gpugrad sim calibrate`` read.

Two kinds of JSON file (every field, with its unit: docs/sim-model.md, "Measurement files"):

- a CuPy measurement, ``{"device": {...}, "records": [...]}``: raw CuPy calls timed one by one
  on a GPU by ``bench/results/measurements/measure.py`` (``h200-run1.json``, ``h200-run2.json``
  there). Each record names a CuPy program of measure.py (``op``) and its sizes; ``fidelity.py``
  knows what each launches.
- a ``bench/mlp.py`` result, ``{"gpugrad_version": ..., "configs": {name: {...}}, ...}``: training
  steps of gpugrad and of a hand-written CuPy peer, timed on a GPU. Each config carries
  ``gpugrad_kernels``, the kernels one gpugrad step launched (``kernel_to_dict``), so the step
  is replayed as the measured version ran it, whatever this checkout's step launches today.

``load(paths)`` turns both into flat records (dicts) and raises ``MeasurementError`` naming the
file, the record and what is wrong. ``recording_kernels(device)`` lists the kernels a block of
gpugrad code launches on a sim device (bench/mlp.py records a step's list with it), and
``dumps`` writes results with one kernel per line.
"""
import contextlib
import json
import math
import re

from ..backends.sim.costmodel import OP_CLASSES, KernelSpec
from ..device_registry import get_backend

#: CuPy measurement records: op -> the family the fidelity table groups it in
FAMILIES = {
    "add": "elementwise", "mul_scalar": "elementwise", "exp": "elementwise",
    "tanh": "elementwise", "relu": "elementwise", "relu_backward": "elementwise",
    "add_row_bias": "elementwise", "copy": "copy/layout", "transpose_copy": "copy/layout",
    "gather_rows": "copy/layout", "sum_all": "reduction", "sum_axis0": "reduction",
    "sum_axis1": "reduction", "max_axis1": "reduction", "softmax_composite": "softmax (5 ops)",
    "matmul": "matmul", "matmul_tn": "matmul", "matmul_nt": "matmul",
    "h2d_pageable": "transfer", "h2d_pinned": "transfer", "d2h_pageable": "transfer",
    "d2h_pinned": "transfer", "alloc_cold": "alloc", "alloc_pooled": "alloc",
    "mlp_step_handwritten": "mlp step",
}
#: bench/mlp.py results: one record per peer and timing, in these families
BENCH_FAMILIES = {"gpugrad_step": "gpugrad step", "cupy_step": "cupy step (bench)"}
#: the fields each CuPy record kind needs, and how they are checked
_NEEDS = {"per-op": (("shapes", "shapes"), ("gpu_us", "us")),
          "transfer": (("bytes", "count"), ("wall_us", "us")),
          "alloc": (("bytes", "count"), ("wall_us", "us")),
          "mlp step": (("sizes", "sizes"), ("batch", "count"), ("wall_us_synced", "us"))}
_KERNEL_INTS = ("bytes_read", "bytes_written", "flops", "elements", "scalars")
FORMAT_DOC = "docs/sim-model.md, section \"Measurement files\""


class MeasurementError(ValueError):
    """A measurement file that is missing, not JSON, or not in the documented format."""


def record_kind(op):
    """"per-op", "transfer", "alloc" or "mlp step" for a CuPy record's ``op``."""
    family = FAMILIES[op]
    return family if family in ("transfer", "alloc", "mlp step") else "per-op"


# ---- checks ------------------------------------------------------------------------------
def _is_count(x):
    return isinstance(x, int) and not isinstance(x, bool) and x >= 0


def _check(where, data, key, kind):
    """``data[key]``, checked as ``kind``; MeasurementError saying what is wrong otherwise."""
    if not isinstance(data, dict) or key not in data:
        raise MeasurementError(f"{where}: {key!r} is missing")
    value = data[key]
    positive = (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)
                and math.isfinite(v) and v > 0)
    ok = {
        "us": positive, "ms": positive,
        "count": _is_count,
        "str": lambda v: isinstance(v, str) and v != "",
        "shapes": lambda v: isinstance(v, list) and v and all(
            isinstance(s, list) and all(_is_count(d) for d in s) for s in v),
        "sizes": lambda v: isinstance(v, list) and len(v) >= 2 and all(
            _is_count(d) and d > 0 for d in v),
        "list": lambda v: isinstance(v, list) and v != [],
        "dict": lambda v: isinstance(v, dict),
    }[kind](value)
    if not ok:
        what = {"us": "a positive number of microseconds",
                "ms": "a positive number of milliseconds", "count": "a whole number >= 0",
                "str": "a non-empty string", "shapes": "a list of shapes (lists of whole numbers)",
                "sizes": "a list of at least two layer widths", "list": "a non-empty list",
                "dict": "an object"}[kind]
        raise MeasurementError(f"{where}: {key!r} should be {what}, got {value!r}")
    return value


def kernel_to_dict(spec):
    """A ``KernelSpec`` as the JSON object of a kernel list (``gemm`` only for a matmul)."""
    out = {"name": spec.name, "op_class": spec.op_class, "dtype": spec.dtype,
           "bytes_read": int(spec.bytes_read), "bytes_written": int(spec.bytes_written),
           "flops": int(spec.flops), "elements": int(spec.elements),
           "scalars": int(spec.scalars), "shapes": [[int(d) for d in s] for s in spec.shapes]}
    if spec.gemm is not None:
        out["gemm"] = [int(d) for d in spec.gemm]
    return out


def kernel_from_dict(data, where="kernel"):
    """The ``KernelSpec`` of one kernel-list entry (checked; other keys are ignored)."""
    name = _check(where, data, "name", "str")
    op_class = _check(where, data, "op_class", "str")
    if op_class not in OP_CLASSES:
        raise MeasurementError(f"{where}: op_class {op_class!r} is not one of "
                               f"{', '.join(OP_CLASSES)}")
    ints = [_check(where, data, key, "count") for key in _KERNEL_INTS]
    if "shapes" not in data:
        raise MeasurementError(f"{where}: 'shapes' is missing")
    shapes = data["shapes"]
    if not (isinstance(shapes, list) and all(isinstance(s, list) and all(map(_is_count, s))
                                             for s in shapes)):
        raise MeasurementError(f"{where}: 'shapes' should be a list of shapes, got {shapes!r}")
    gemm = data.get("gemm")
    if op_class == "matmul" and not (isinstance(gemm, list) and len(gemm) == 4
                                     and all(_is_count(d) and d > 0 for d in gemm)):
        raise MeasurementError(f"{where}: a matmul needs 'gemm': [batch, m, n, k], got {gemm!r}")
    bytes_read, bytes_written, flops, elements, scalars = ints
    return KernelSpec(name, op_class, _check(where, data, "dtype", "str"), bytes_read,
                      bytes_written, flops, tuple(tuple(s) for s in shapes), elements, scalars,
                      tuple(gemm) if op_class == "matmul" else None)


# ---- reading -----------------------------------------------------------------------------
def read_json(path):
    """The parsed JSON of ``path``; MeasurementError naming the file when it cannot be read."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise MeasurementError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise MeasurementError(f"{path}: is a folder, not a measurement file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise MeasurementError(f"{path}: cannot be read ({exc})") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise MeasurementError(f"{path}: not valid JSON ({exc})") from None


def load(paths):
    """The records of measurement files: CuPy records as they are (plus ``_file``), and four
    per bench/mlp.py config (``bench_records``). MeasurementError on the first problem."""
    records = []
    for path in paths:
        data = read_json(path)
        if isinstance(data, dict) and "records" in data:
            records += cupy_records(data, str(path))
        elif isinstance(data, dict) and "configs" in data:
            records += bench_records(data, str(path))
        else:
            raise MeasurementError(
                f"{path}: neither a CuPy measurement (an object with a 'records' list) nor "
                f"bench/mlp.py results (an object with a 'configs' object); the format is in "
                f"{FORMAT_DOC}")
    return records


def cupy_records(data, path):
    """The checked records of a CuPy measurement file."""
    rows = data["records"]
    if not isinstance(rows, list) or not rows:
        raise MeasurementError(f"{path}: 'records' should be a non-empty list")
    out = []
    for i, rec in enumerate(rows):
        op = rec.get("op") if isinstance(rec, dict) else None
        if op not in FAMILIES:
            raise MeasurementError(f"{path}: records[{i}]: unknown op {op!r}; known: "
                                   f"{', '.join(FAMILIES)}")
        where = f"{path}: records[{i}] ({op})"
        for key, kind in _NEEDS[record_kind(op)]:
            _check(where, rec, key, kind)
        if "dtype" in rec:
            _check(where, rec, "dtype", "str")
        if "cpu_us" in rec:
            _check(where, rec, "cpu_us", "us")
        if op in ("add", "add_row_bias", "relu_backward", "matmul", "matmul_tn", "matmul_nt",
                  "gather_rows") and len(rec["shapes"]) < 2:
            raise MeasurementError(f"{where}: 'shapes' should hold two operands' shapes")
        out.append(dict(rec, _file=path))
    return out


def bench_records(data, path):
    """One record per config, peer (gpugrad, cupy) and timing (``ms``: ``steps`` steps back to
    back, per step; ``ms_synced``: one step then a sync). A gpugrad record carries the config's
    kernel list as ``KernelSpec``s (``kernels``) and the file's gpugrad version (``version``)."""
    configs = _check(path, data, "configs", "dict")
    out = []
    for name, row in configs.items():
        where = f"{path}: configs.{name}"
        sizes, batch = _check(where, row, "sizes", "sizes"), _check(where, row, "batch", "count")
        timed = {timing: _check(where, row, timing, "dict")
                 for timing in ("ms", "ms_synced") if timing in row}
        if not timed:
            hint = (" (a bench/mlp.py --device sim file holds modeled times, not measurements)"
                    if "profile" in data else "")
            raise MeasurementError(f"{where}: neither 'ms' nor 'ms_synced' is there{hint}")
        for peer in ("gpugrad", "cupy"):
            if not any(peer in t for t in timed.values()):
                continue
            extra = {}
            if peer == "gpugrad":
                kernels = _check(where, row, "gpugrad_kernels", "list")
                extra = {"version": gpugrad_version(data, path),
                         "kernels": [kernel_from_dict(k, f"{where}.gpugrad_kernels[{i}]")
                                     for i, k in enumerate(kernels)]}
            for timing, times in timed.items():
                if peer not in times:
                    continue
                ms = _check(f"{where}.{timing}", times, peer, "ms")
                steps = _check(where, row, "steps", "count") if timing == "ms" else 1
                out.append({"op": f"{peer}_step", "config": name, "sizes": sizes,
                            "batch": batch, "timing": timing, "steps": max(steps, 1),
                            "wall_us_step": ms * 1e3, "_file": path, **extra})
    return out


def gpugrad_version(data, path):
    """"0.1.0 (commit abc123)", "0.1.0" or "commit abc123": which gpugrad a bench file timed
    (``gpugrad_version``, ``gpugrad_commit``; at least one must be there)."""
    version, commit = data.get("gpugrad_version"), data.get("gpugrad_commit")
    if not version and not commit:
        raise MeasurementError(f"{path}: neither 'gpugrad_version' nor 'gpugrad_commit' is "
                               f"there (which gpugrad the steps ran)")
    for key, value in (("gpugrad_version", version), ("gpugrad_commit", commit)):
        if value is not None:
            _check(path, data, key, "str")
    if version and commit:
        return f"{version} (commit {commit})"
    return version or f"commit {commit}"


# ---- recording ---------------------------------------------------------------------------
@contextlib.contextmanager
def recording_kernels(device):
    """``with recording_kernels("sim:0") as kernels: ...``: ``kernels`` lists the ``KernelSpec``
    of every kernel the block launches on that sim device, in order. The device models them as
    usual (its clocks and counters move); transfers and allocations are not listed."""
    timeline = get_backend(device).timeline
    kernels = []
    launch = timeline.kernel

    def kernel(spec, *costs):
        kernels.append(spec)
        return launch(spec, *costs)

    with timeline.placing_each():  # no launch deferred past the wrapper
        timeline.kernel = kernel   # an instance attribute over the method, removed below
        try:
            yield kernels
        finally:
            del timeline.kernel


def step_kernels(step, device, warmup=2):
    """The kernels of one steady-state call of ``step`` (a training step on sim ``device``):
    ``warmup`` calls first (the caching pool is warm after one), a sync, then one recorded."""
    for _ in range(warmup):
        step()
    get_backend(device).synchronize()
    with recording_kernels(device) as kernels:
        step()
    return kernels


def dumps(data):
    """JSON of ``data`` indented by one space, with each kernel-list entry on one line."""
    flat = {}

    def walk(x):
        if isinstance(x, dict) and "op_class" in x and "bytes_read" in x:
            key = f"@kernel{len(flat)}@"
            flat[key] = json.dumps(x)
            return key
        if isinstance(x, dict):
            return {k: walk(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [walk(v) for v in x]
        return x

    text = json.dumps(walk(data), indent=1)
    return re.sub(r'"(@kernel\d+@)"', lambda m: flat[m.group(1)], text) + "\n"
