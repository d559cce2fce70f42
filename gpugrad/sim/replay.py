"""The replay engine of the sim tools: measurement records compiled into simulator programs and
run on the model (``gpugrad sim fidelity`` reports them, ``gpugrad sim calibrate`` fits on them,
``--fit-host`` fits the host speed on them).

Each record of a measurement file (``measurements.load`` reads and checks it) becomes a small
program of simulator actions, run on a fresh Timeline as it ran on the GPU (fidelity.py's
docstring and docs/sim-model.md, "Fidelity", say how each kind is timed). Per-op records small
enough to compute quickly can also run through the sim backend itself (``evaluate(...,
via="backend")``): its primitives, its ``costmodel.spec`` calls, its memory pool and timeline.
"""
import math

import numpy as np

from . import configure
from .measurements import BENCH_FAMILIES, FAMILIES, load, record_kind
from ..backends.sim import costmodel
from ..backends.sim.timeline import Timeline
from ..device_registry import get_backend

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


def run_on_backend(rec, profile_name, device="sim:0", host=None):
    """Modeled ``gpu_us`` of a per-op record replayed through the sim backend of ``device``.

    Reconfigures ``device`` (its clocks and counters restart) with ``profile_name`` and ``host``
    (a host profile; None: the default); ``evaluate`` puts its configuration back afterwards.
    """
    configure(device, profile=profile_name, framework_overhead=False, host=host)   # raw calls
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
    """``(record,) + compile_record(record)`` for each record."""
    return [(rec,) + compile_record(rec) for rec in records]


def evaluate(compiled, profile, via="direct", device="sim:0"):
    """A list of (family, op, modeled, measured) for compiled records.

    ``via="backend"``: small per-op records run through the sim backend's primitives on
    ``device`` (its own spec accounting and timeline), which is then configured as it was
    before (profile, host, memory, framework switch; its counters restart); the others, and
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
                              backend.framework_overhead, backend.profile.host)
                modeled = run_on_backend(rec, profile.name, device, profile.host)
            else:
                modeled, _ = run_program(actions, profile)
            out.append((family, rec["op"], modeled, measured))
    finally:
        if before is not None:
            configure(device, profile=before[0], memory_bytes=before[1],
                      framework_overhead=before[2], host=before[3])
    return out


#: weight of a record's host-dispatch residual (modeled dispatch vs measured ``cpu_us``)
HOST_WEIGHT = 0.5
#: soft-L1 scale in log ratio: errors beyond ~15% count linearly, not squared
SOFT = 0.15


def residuals(compiled, profile):
    """(log(modeled / measured), weight) per compiled record, plus at ``HOST_WEIGHT`` the log
    ratio of modeled host dispatch to the measured ``cpu_us`` where a record has one (it pins
    the host costs apart from the device costs)."""
    res = []
    for _rec, _family, measured, actions, cpu_us in compiled:
        modeled, dispatch = run_program(actions, profile)
        res.append((math.log(modeled / measured), 1.0))
        if cpu_us:
            res.append((math.log(dispatch / cpu_us), HOST_WEIGHT))
    return res


def robust_loss(weighted):
    """The soft-L1 loss (scale ``SOFT``) of (residual, weight) pairs: the fits' objective."""
    total = 0.0
    for r, w in weighted:
        z = r / SOFT
        total += w * (math.sqrt(1.0 + z * z) - 1.0)
    return total
