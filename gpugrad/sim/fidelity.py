"""Replay real GPU measurements on the simulator and report how close the model is.

    gpugrad sim fidelity bench/results/measurements/h200-run1.json --profile h200
    gpugrad sim fidelity bench/results/h200-run1/mlp_cuda.json --profile h200

(``python -m gpugrad.sim.fidelity`` takes the same arguments.) Each record of a measurement file
(the format: docs/sim-model.md, "Measurement files"; ``measurements.load`` reads and checks it)
becomes a small program of simulator actions, run on a fresh Timeline as it ran on the GPU:

- CuPy per-op records: three warm-up calls, a sync, a CUDA event, the op's kernels, a CUDA event
  (``cupyx.profiler.benchmark``); predicts ``gpu_us``;
- transfers (a copy then a device sync) and allocations predict ``wall_us``;
- ``mlp_step_handwritten``: the hand-written CuPy training step of measure.py, op by op (matmul,
  bias add, ReLU, softmax cross-entropy, backward, SGD), once to warm up, then timed to the final
  sync; predicts ``wall_us_synced``.

Per-op records small enough to compute quickly run through the sim backend itself
(``--via backend``, the default): its primitives, its ``costmodel.spec`` calls, its memory pool
and timeline. The others (and all with ``--via direct``) replay the same ``costmodel.spec`` kernel
descriptions, built from ``np.empty`` arrays of the real shapes (their pages are never touched).
The table gives, per op family, the median and 90th percentile of ``|modeled / measured - 1|``;
the last line is ``overall: median X% p90 Y% (n=N)``.

A ``bench/mlp.py`` result file gives four records per MLP: gpugrad's step and the hand-written
CuPy peer's, each timed back to back (``ms``) and synced after every step (``ms_synced``). The
gpugrad step replays the kernel list the file records (``gpugrad_kernels``: what the measured
gpugrad version launched), with the framework cost ``framework_us`` charged per kernel; the CuPy
peer replays ``mlp_step_program`` without it.
"""
import sys

import numpy as np

from . import configure
from .commands import module_main
from .measurements import BENCH_FAMILIES, FAMILIES, load, record_kind
from ..backends.sim import costmodel
from ..backends.sim.profiles import PROFILE_NAMES, get_profile
from ..backends.sim.timeline import Timeline
from ..device_registry import Device, get_backend

# Program actions: ("kernel", spec) | ("event",) | ("transfer", kind, nbytes, pinned)
# | ("malloc", nbytes) | ("pool_alloc",) | ("host", us) | ("sync",) | ("mark",)
# | ("framework",): from here on the host pays framework_us per kernel (a gpugrad program)
# | ("per", n): the result is divided by n (n timed steps)
#: warm-up steps replayed before a bench/mlp.py timing (the caching pool is warm after one)
BENCH_WARMUP = 2


def _arr(shape, dtype="float32"):
    return np.empty(tuple(shape), dtype)


class _Builder:
    """Collects the kernels of one record as KernelSpecs (what the sim backend would launch)."""

    def __init__(self):
        self.actions = []

    def k(self, name, inputs, out, **info):
        self.actions.append(("kernel", costmodel.spec(name, inputs, out, **info)))
        return out

    def binary(self, op, a, b, out_dtype=None):
        shape = np.broadcast_shapes(*(x.shape for x in (a, b) if hasattr(x, "shape")))
        lead = a if hasattr(a, "dtype") else b
        return self.k("binary:" + op, [a, b], _arr(shape, out_dtype or lead.dtype))

    def unary(self, op, a):
        return self.k("unary:" + op, [a], _arr(a.shape, a.dtype))

    def reduce(self, op, a, axis=None, keepdims=False):
        if axis is None:
            shape = ()
        else:
            shape = tuple(1 if i == axis else d for i, d in enumerate(a.shape)) if keepdims \
                else tuple(d for i, d in enumerate(a.shape) if i != axis)
        return self.k("reduce:" + op, [a], _arr(shape, a.dtype), axis=axis)

    def matmul(self, a, b):
        return self.k("matmul", [a, b], _arr(a.shape[:-1] + b.shape[-1:], a.dtype))

    def gather(self, a, rows, cols):
        return self.k("getitem", [a, rows, cols], _arr(rows.shape, a.dtype))

    arr = staticmethod(_arr)

    @staticmethod
    def t(a):
        return a.T

    def copy(self, a):
        return self.k("copy", [a], _arr(a.shape, a.dtype))

    def scatter(self, values, rows, cols):
        return self.k("index_add", [values, rows, cols], _arr(values.shape, values.dtype))


def _per_op_record(b, op, shapes, dtype):
    """The kernels one per-op record timed, on builder ``b`` (direct specs or the sim backend)."""
    a = b.arr(shapes[0], dtype)
    if op in ("add", "add_row_bias"):
        b.binary("add", a, b.arr(shapes[1], dtype))
    elif op == "mul_scalar":
        b.binary("mul", a, 2.0)
    elif op in ("exp", "tanh"):
        b.unary(op, a)
    elif op == "relu":
        b.binary("maximum", a, 0)
    elif op == "relu_backward":
        mask = b.binary("gt", a, 0, out_dtype="bool")
        b.binary("mul", b.arr(shapes[1], dtype), mask)
    elif op == "copy":
        b.copy(a)
    elif op == "transpose_copy":
        b.copy(b.t(a))
    elif op == "sum_all":
        b.reduce("sum", a)
    elif op == "sum_axis0":
        b.reduce("sum", a, axis=0)
    elif op == "sum_axis1":
        b.reduce("sum", a, axis=1)
    elif op == "max_axis1":
        b.reduce("max", a, axis=1, keepdims=True)
    elif op == "softmax_composite":
        z = b.binary("sub", a, b.reduce("max", a, axis=1, keepdims=True))
        p = b.unary("exp", z)
        b.binary("div", p, b.reduce("sum", p, axis=1, keepdims=True))
    elif op == "gather_rows":
        m = shapes[0][0]
        b.gather(a, b.arr((m,), "int64"), b.arr((m,), "int64"))
    elif op == "matmul":
        b.matmul(a, b.arr(shapes[1], dtype))
    elif op == "matmul_tn":   # at.T @ b with at stored (k, m)
        b.matmul(b.t(a), b.arr(shapes[1], dtype))
    elif op == "matmul_nt":   # a @ bt.T with bt stored (n, k)
        b.matmul(a, b.t(b.arr(shapes[1], dtype)))
    else:
        raise ValueError(f"unknown per-op record {op!r}")


def mlp_step_program(b, sizes, batch):
    """measure.py's hand-written CuPy step, kernel by kernel, on the builder ``b``."""
    Ws = [_arr((sizes[i], sizes[i + 1])) for i in range(len(sizes) - 1)]
    bs = [_arr((s,)) for s in sizes[1:]]
    x = _arr((batch, sizes[0]))
    ar, y = _arr((batch,), "int64"), _arr((batch,), "int64")
    acts, h = [x], x
    for i, (W, bias) in enumerate(zip(Ws, bs)):
        h = b.binary("add", b.matmul(h, W), bias)
        if i < len(Ws) - 1:
            h = b.binary("maximum", h, 0)
        acts.append(h)
    z = b.binary("sub", h, b.reduce("max", h, axis=1, keepdims=True))
    p = b.unary("exp", z)
    b.binary("div", p, b.reduce("sum", p, axis=1, keepdims=True))           # p /= p.sum(...)
    picked = b.gather(p, ar, y)                                             # loss = -log(p[ar, y]).mean()
    b.unary("neg", b.reduce("mean", b.unary("log", picked)))
    b.scatter(b.binary("sub", b.gather(p, ar, y), 1), ar, y)                # g[ar, y] -= 1
    g = p
    b.binary("div", g, batch)                                               # g /= batch
    for i in reversed(range(len(Ws))):
        gW = b.matmul(acts[i].T, g)
        gb = b.reduce("sum", g, axis=0)
        if i > 0:
            g = b.binary("mul", b.matmul(g, Ws[i].T), b.binary("gt", acts[i], 0, "bool"))
        b.binary("sub", Ws[i], b.binary("mul", 1e-3, gW))                   # Ws[i] -= 1e-3 * gW
        b.binary("sub", bs[i], b.binary("mul", 1e-3, gb))                   # bs[i] -= 1e-3 * gb


WARMUP = 3   # cupyx.profiler.benchmark's n_warmup; the loop before a call leaves caches warm


def bench_step_program(rec):
    """Actions of one bench/mlp.py timing: ``steps`` steps back to back then a sync (``ms``), or
    one step then a sync (``ms_synced``), after warm-up steps; the result is per step.

    The gpugrad step is the kernel list its file records and pays ``framework_us`` per kernel;
    the CuPy peer is ``mlp_step_program``, raw calls.
    """
    if rec["op"] == "gpugrad_step":
        head, body = [("framework",)], [("kernel", spec) for spec in rec["kernels"]]
    else:
        b = _Builder()
        mlp_step_program(b, rec["sizes"], rec["batch"])
        head, body = [], b.actions
    n = rec["steps"]
    timed = (body + [("sync",)]) if rec["timing"] == "ms_synced" else body * n + [("sync",)]
    return head + body * BENCH_WARMUP + [("sync",), ("mark",)] + timed + [("per", n)]


def compile_record(rec):
    """(family, measured value, actions, measured host time or None) for one record (as
    ``measurements.load`` gives it).

    Per-op records and MLP steps first run their kernels as the measurement's warm-up did (the
    host's recent-kernel mix is then what the measured call saw), then sync.
    """
    op = rec["op"]
    if op in BENCH_FAMILIES:
        return BENCH_FAMILIES[op], rec["wall_us_step"], bench_step_program(rec), None
    kind = record_kind(op)
    b = _Builder()
    if kind == "per-op":
        _per_op_record(b, op, rec["shapes"], rec.get("dtype", "float32"))
        body = b.actions
        actions = body * WARMUP + [("sync",), ("event",)] + body + [("event",)]
        return FAMILIES[op], rec["gpu_us"], actions, rec.get("cpu_us")
    if kind == "transfer":
        direction, _, mem = op.partition("_")
        actions = [("mark",), ("transfer", direction, rec["bytes"], mem == "pinned"), ("sync",)]
        return "transfer", rec["wall_us"], actions, None
    if op == "alloc_cold":
        return "alloc", rec["wall_us"], [("mark",), ("malloc", rec["bytes"]), ("sync",)], None
    if op == "alloc_pooled":
        return "alloc", rec["wall_us"], [("mark",), ("pool_alloc",)], None
    mlp_step_program(b, rec["sizes"], rec["batch"])   # mlp_step_handwritten
    body = b.actions
    actions = body + [("sync",), ("mark",)] + body + [("sync",)]
    return "mlp step", rec["wall_us_synced"], actions, None


def run_program(actions, profile):
    """(modeled value, modeled host dispatch of the measured kernels) of one compiled record.

    With two events the value is the event-to-event time; otherwise it is the host time from
    the mark to the end. Dispatch is summed over the kernels after the first event or mark.
    """
    tl = Timeline(profile, record_events=False)
    events, mark, dispatch, per = [], 0.0, 0.0, 1
    for act in actions:
        tag = act[0]
        if tag == "kernel":
            h = tl.host_us
            tl.kernel(act[1])
            dispatch += tl.host_us - h
        elif tag == "event":
            if not events:
                dispatch = 0.0
            events.append(tl.record_event())
        elif tag == "transfer":
            tl.transfer(act[1], act[2], act[3])
        elif tag == "malloc":
            tl.malloc(act[1])
        elif tag == "pool_alloc":
            tl.host_work(profile.pool_alloc_us, "pool alloc")
        elif tag == "host":
            tl.host_work(act[1])
        elif tag == "framework":
            tl.framework_us = profile.framework_us
        elif tag == "per":
            per = act[1]
        elif tag == "sync":
            tl.synchronize()
        elif tag == "mark":
            mark, dispatch = tl.host_us, 0.0
    if len(events) == 2:
        return events[1] - events[0], dispatch
    return (tl.host_us - mark) / per, dispatch


class _BackendBuilder:
    """Runs a per-op record through the sim backend's own primitives (its specs, its timeline).

    Operand arrays are uploaded on the first run and reused afterwards, as measure.py made them
    once before timing; results are dropped at once, so the memory pool is warm after one run.
    """

    def __init__(self, backend):
        self.backend = backend
        self.cache, self.calls = [], 0

    def arr(self, shape, dtype="float32"):
        if self.calls < len(self.cache):
            x = self.cache[self.calls]
        else:
            x = self.backend.from_host(np.zeros(tuple(shape), dtype))
            self.cache.append(x)
        self.calls += 1
        return x

    def t(self, a):
        return self.backend.permute(a, (1, 0))

    def copy(self, a):
        return self.backend.contiguous(a)

    def binary(self, op, a, b, out_dtype=None):
        return self.backend.binary(op, a, b)

    def unary(self, op, a):
        return self.backend.unary(op, a)

    def reduce(self, op, a, axis=None, keepdims=False):
        return self.backend.reduce(op, a, axis=axis, keepdims=keepdims)

    def matmul(self, a, b):
        return self.backend.matmul(a, b)

    def gather(self, a, rows, cols):
        return self.backend.getitem(a, (rows, cols))


#: per-op records whose kernels move at most this many bytes and do at most this many flops replay
#: through the backend; larger ones would spend seconds in NumPy computing values nobody reads
BACKEND_MAX_BYTES = 64 << 20
BACKEND_MAX_FLOPS = 1 << 31


def backend_replayable(rec, actions):
    """Whether ``rec`` is a per-op record small enough to run through the sim backend."""
    if "gpu_us" not in rec:
        return False
    specs = [act[1] for act in actions if act[0] == "kernel"]
    return all(s.nbytes <= BACKEND_MAX_BYTES and s.flops <= BACKEND_MAX_FLOPS for s in specs)


def run_on_backend(rec, profile_name, device="sim:0"):
    """Modeled ``gpu_us`` of a per-op record replayed through the sim backend of ``device``.

    Reconfigures ``device`` (its clocks and counters restart) with ``profile_name``; ``evaluate``
    puts its configuration back afterwards.
    """
    configure(device, profile=profile_name, framework_overhead=False)   # raw CuPy calls
    backend = get_backend(device)
    builder = _BackendBuilder(backend)
    op, shapes, dtype = rec["op"], rec["shapes"], rec.get("dtype", "float32")
    for _ in range(WARMUP):
        builder.calls = 0
        _per_op_record(builder, op, shapes, dtype)
    backend.synchronize()
    builder.calls = 0
    start = backend.timeline.record_event()
    _per_op_record(builder, op, shapes, dtype)
    end = backend.timeline.record_event()
    return end - start


def load_records(paths):
    """The checked records of measurement files (``measurements.load``)."""
    return load(paths)


def compile_records(records):
    return [(rec,) + compile_record(rec) for rec in records]


def evaluate(compiled, profile, via="direct", device="sim:0"):
    """A list of (family, op, modeled, measured) for compiled records.

    ``via="backend"``: small per-op records run through the sim backend's primitives on
    ``device`` (its own spec accounting and timeline), which is then configured as it was
    before (profile, memory, framework switch; its counters restart); the others, and
    ``via="direct"``, replay the compiled specs on a fresh Timeline. Both give the same numbers
    (tests check it).
    """
    out, before = [], None
    try:
        for rec, family, measured, actions, _ in compiled:
            if via == "backend" and backend_replayable(rec, actions):
                if before is None:
                    backend = get_backend(device)
                    before = (backend.profile.name, backend.pool.capacity,
                              backend.framework_overhead)
                modeled = run_on_backend(rec, profile.name, device)
            else:
                modeled, _ = run_program(actions, profile)
            out.append((family, rec["op"], modeled, measured))
    finally:
        if before is not None:
            configure(device, profile=before[0], memory_bytes=before[1],
                      framework_overhead=before[2])
    return out


def summarize(rows):
    """Lines of the error table and the overall line (last)."""
    by_family = {}
    for family, _, modeled, measured in rows:
        by_family.setdefault(family, []).append(abs(modeled / measured - 1))
    lines = [f"{'family':<18}{'n':>5}{'median':>10}{'p90':>10}{'max':>10}"]
    for family, errs in by_family.items():
        e = np.asarray(errs) * 100
        lines.append(f"{family:<18}{len(e):>5}{np.median(e):>9.1f}%{np.percentile(e, 90):>9.1f}%"
                     f"{e.max():>9.1f}%")
    e = np.asarray([abs(m / x - 1) for _, _, m, x in rows]) * 100
    lines.append(f"overall: median {np.median(e):.1f}% p90 {np.percentile(e, 90):.1f}% (n={len(e)})")
    return lines


def add_arguments(parser):
    """The options of ``gpugrad sim fidelity`` (and ``python -m gpugrad.sim.fidelity``)."""
    parser.add_argument("files", nargs="+", metavar="FILE",
                        help="measurement files: CuPy records (bench/results/measurements/"
                             "h200-run*.json) or bench/mlp.py results (bench/results/*/"
                             "mlp_cuda.json)")
    parser.add_argument("--profile", default="h200", help=f"one of {', '.join(PROFILE_NAMES)} "
                                                          f"(default h200)")
    parser.add_argument("--worst", type=int, default=0, metavar="N",
                        help="also list the N worst records")
    parser.add_argument("--via", choices=("backend", "direct"), default="backend",
                        help="backend (default): small per-op records run through the sim "
                             "backend's primitives; direct: every record from costmodel specs")
    parser.add_argument("--device", default="sim:0",
                        help="sim device the backend replay borrows (default sim:0; its "
                             "configuration is put back afterwards)")
    return parser


def run(args, out=None):
    """Print the fidelity report for parsed ``args``; returns 0. Raises ``MeasurementError``
    (a file) or ``ValueError`` (an option) before printing anything."""
    out = out or sys.stdout
    profile = get_profile(args.profile)
    if args.worst < 0:
        raise ValueError(f"--worst must be 0 or more, got {args.worst}")
    if Device(args.device).type != "sim":
        raise ValueError(f"--device must be a sim device such as sim:0, got {args.device!r}")
    compiled = compile_records(load_records(args.files))
    rows = evaluate(compiled, profile, args.via, args.device)
    if args.worst:
        worst = sorted(zip(rows, compiled), key=lambda rc: -abs(rc[0][2] / rc[0][3] - 1))
        for (family, op, modeled, measured), (rec, *_rest) in worst[:args.worst]:
            what = rec.get("shapes") or rec.get("sizes") or rec.get("bytes")
            print(f"  {op:<22}{str(what):<34}{rec.get('dtype', ''):<9}"
                  f"measured {measured:>10.2f}  modeled {modeled:>10.2f}  "
                  f"{modeled / measured - 1:+.0%}", file=out)
    via = sum(args.via == "backend" and backend_replayable(c[0], c[3]) for c in compiled)
    print(f"profile {profile.name}: {len(rows)} records from {', '.join(map(str, args.files))}",
          file=out)
    if any(c[0]["op"] not in BENCH_FAMILIES for c in compiled):
        print(f"({via} replayed through the sim backend's primitives, the rest from their specs)",
              file=out)
    for (family, op, modeled, measured), (rec, *_rest) in zip(rows, compiled):
        if op in BENCH_FAMILIES:
            extra = (f"gpugrad {rec['version']}: {len(rec['kernels'])} kernels, framework_us "
                     f"{profile.framework_us:g}" if op == "gpugrad_step" else "raw CuPy calls")
            print(f"  {family:<18}{rec['config']:<6}{rec['timing']:<10}measured {measured:>8.1f} us"
                  f"  modeled {modeled:>8.1f} us  {modeled / measured - 1:+6.1%}  ({extra})",
                  file=out)
    for line in summarize(rows):
        print(line, file=out)
    return 0


def main(argv=None):
    """``python -m gpugrad.sim.fidelity``: the same as ``gpugrad sim fidelity``."""
    return module_main("gpugrad.sim.fidelity", __doc__, add_arguments, run, argv)


if __name__ == "__main__":
    sys.exit(main())
