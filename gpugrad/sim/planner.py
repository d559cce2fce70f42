"""``gg.sim.plan``: predict data-parallel training on a cluster of simulated GPUs, computing
nothing.

```python
p = gg.sim.plan("mlp:7B", batch=8, dtype="bfloat16", profile="h100",
                gpus_per_node=8, nodes=8, trace="plan-trace.json")
print(p.table())       # per GPU count: step, compute, communication, memory, throughput
p.rows[-1].step_us     # the largest count's modeled step time
```

For each GPU count the planner runs rank 0's training step on a shape-only sim device (shapes,
modeled time and memory, no values and no host memory): a warm-up step (the first allocates the
gradients and the optimizer state), then one measured step, timed from a synchronize before it to
one after, as a benchmark would time it. With more than one GPU the model is wrapped in the
real ``DistributedDataParallel`` under a ``"sim"`` process group of that many ranks
(plan_step.py), so its bucketed all-reduces run on the communication stream as they would on
each rank, priced by the cluster model. The per-GPU batch is fixed (weak scaling), so every
count computes the same and only the communication differs. The models a plan can train:
plan_models.py.
"""
import json
import math
from typing import NamedTuple

from .. import distributed as dist
from ..atomic import atomic_write
from ..backends.sim import interconnect
from ..device_registry import Device, get_backend, loaded_backends
from ..dtypes import as_dtype
from ..errors import format_bytes
from . import plan_models
from .plan_step import OPTIMIZERS, OutOfMemory, measure_step


class PlanRow(NamedTuple):
    """One GPU count of a plan. Times are modeled µs per training step on each GPU; ``oom``
    rows (the step does not fit) carry only ``needed_bytes`` and the capacity."""
    gpus: int
    nodes: int
    step_us: float
    compute_us: float        # kernels' time on the compute stream
    comm_us: float           # all-reduces' time on the communication stream
    exposed_comm_us: float   # communication during which no kernel runs (not hidden)
    peak_bytes: int          # most device memory in use on one GPU
    capacity_bytes: int
    samples_per_s: float     # all GPUs together
    efficiency: float        # throughput over gpus x the 1-GPU throughput (weak scaling)
    buckets: int             # all-reduces per step
    oom: bool

    def as_dict(self):
        """The row as plain JSON-ready values (None where an OOM row has no number)."""
        return {key: None if isinstance(value, float) and math.isnan(value) else value
                for key, value in self._asdict().items()}


class Plan:
    """The result of ``gg.sim.plan``: ``rows`` (one ``PlanRow`` per GPU count, ascending),
    what was planned (``model``, ``parameters``, ``batch``, ``dtype``, ``optimizer``,
    ``profile``, ``gpus_per_node``, ``nodes``, ``inter_node``), and ``trace`` (the Perfetto
    trace file written, or None). ``table()`` formats it."""

    def __init__(self, rows, setup, trace=None):
        self.rows = rows
        self.setup = setup
        self.trace = trace
        for key, value in setup.items():
            setattr(self, key, value)

    def row(self, gpus):
        """The row of ``gpus`` GPUs (KeyError if the plan has none)."""
        for row in self.rows:
            if row.gpus == gpus:
                return row
        raise KeyError(f"this plan has no row for {gpus} GPUs; it has "
                       f"{[r.gpus for r in self.rows]}")

    def as_dict(self):
        """The plan as plain JSON-ready values (setup, rows, trace path)."""
        return {**self.setup, "rows": [r.as_dict() for r in self.rows], "trace": self.trace}

    def table(self):
        """The plan as a text table, one line per GPU count."""
        s = self.setup
        inter = f", {s['inter_node']} between nodes" if s["nodes"] > 1 else ""
        lines = [f"plan: {s['model']}, {s['dtype']}, {s['optimizer']}, per-GPU batch "
                 f"{s['batch']}",
                 f"      on {s['profile']} ({s['gpus_per_node']} GPUs per node x {s['nodes']} "
                 f"node{'s' if s['nodes'] > 1 else ''}{inter}), {_buckets_text(s)}",
                 f"{'GPUs':>5} {'nodes':>5} {'step ms':>9} {'compute':>9} {'comm':>9} "
                 f"{'exposed':>9} {'peak mem/GPU':>13} {'samples/s':>11} {'efficiency':>10}"]
        for r in self.rows:
            head = f"{r.gpus:>5} {r.nodes:>5} "
            if r.oom:
                lines.append(head + f"OOM: a GPU needs {format_bytes(r.peak_bytes)} of "
                                    f"{format_bytes(r.capacity_bytes)}")
                continue
            lines.append(head + f"{r.step_us / 1e3:>9.3f} {r.compute_us / 1e3:>9.3f} "
                         f"{r.comm_us / 1e3:>9.3f} {r.exposed_comm_us / 1e3:>9.3f} "
                         f"{format_bytes(r.peak_bytes):>13} {r.samples_per_s:>11.1f} "
                         f"{r.efficiency:>10.1%}")
        lines.append("(ms of modeled time per step; compute: kernels; comm: all-reduces, on "
                     "their own stream; exposed: time the GPU waited for them, idle)")
        if self.trace:
            lines.append(f"trace of one {self.rows[-1].gpus}-GPU step: {self.trace} "
                         f"(open in ui.perfetto.dev)")
        return "\n".join(lines)

    def __str__(self):
        return self.table()

    def __repr__(self):
        return f"<Plan {self.setup['model']}: {[r.gpus for r in self.rows]} GPUs>"


def gpu_counts(gpus, total):
    """The GPU counts to plan, ascending, always with 1 (the efficiency baseline): ``gpus`` (an
    int, a list of ints, or None for the powers of two up to ``total`` and ``total``)."""
    if gpus is None:
        counts = {2 ** k for k in range(int(math.log2(total)) + 1)} | {total}
    else:
        counts = set([gpus] if isinstance(gpus, int) else gpus)
        bad = [n for n in counts if not isinstance(n, int) or isinstance(n, bool) or n < 1]
        if bad:
            raise ValueError(f"gpus: GPU counts must be positive ints, got {bad}")
        large = [n for n in counts if n > total]
        if large:
            raise ValueError(f"gpus: {large} exceed the cluster's {total} GPUs; raise "
                             f"nodes or gpus_per_node")
    return sorted(counts | {1})


def _positive_int(name, value):
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


def _free_sim_device():
    """The first ``sim:N`` whose modeled memory holds no tensors (one not yet used holds none)."""
    loaded = loaded_backends()
    index = 0
    while True:
        device = Device(f"sim:{index}")
        backend = loaded.get(device)
        if backend is None:
            return device
        with backend.lock:
            backend.pool.settle()
            if not backend.pool.in_use:
                return device
        index += 1


def plan(model="mlp:4096x8", batch=32, *, dtype="bfloat16", optimizer="adam", loss=None,
         input_shape=None, profile="h100", gpus_per_node=8, nodes=1, inter_node="ndr", gpus=None,
         bucket_cap_mb=None, memory_bytes=None, host=None, trace=None, device=None):
    """Predict one data-parallel training step on 1 to ``gpus_per_node * nodes`` GPUs.

    - ``model``: an MLP spec (``"mlp:4096x8"``, ``"mlp:7B"``, a dict), or a callable
      ``build(device)`` returning a module built on ``device`` (with ``input_shape``) or
      ``(module, inputs, targets)``; see ``gpugrad.sim.plan_models``.
    - ``batch``: samples per GPU per step (fixed as GPUs are added: weak scaling).
    - ``dtype``: the parameters' and inputs' dtype. ``optimizer``: ``"adam"`` (default),
      ``"adamw"`` or ``"sgd"``, with PyTorch's defaults; its state has the parameters' dtype,
      as gpugrad keeps it. ``loss``: ``loss(output, targets)``, cross-entropy by default.
    - ``profile``: the GPU (``gg.sim.profiles()``); ``memory_bytes``: its capacity (default the
      profile's); ``host``: the host CPU profile, as ``gg.sim.configure`` takes it.
      ``gpus_per_node``, ``nodes``, ``inter_node``: the cluster, ranks filling nodes in order
      (``inter_node``: the network between nodes, "ndr" (InfiniBand 400 Gb/s), "hdr",
      "roce-400" or "roce-200"; see ``gg.sim.configure_cluster``).
    - ``gpus``: the GPU counts to plan (an int or a list; default the powers of two up to
      the cluster's size, and its size); 1 is always planned, as the efficiency baseline.
    - ``bucket_cap_mb``: DDP's argument (default DDP's: 25 MiB buckets, the first 1 MiB).
      ``trace``: a path to write the Perfetto trace of one step of the largest count that fits.
    - ``device``: the sim device to run on (default: the first ``sim:N`` holding no tensors);
      it must hold no tensors, and gets its configuration
      back (counters cleared) when the plan ends, as does the process's cluster. The plan
      creates its own process group, so none may be initialized when it is called.

    Returns a ``Plan``; ``print(plan.table())``.
    """
    spec = plan_models.parse_model(model)
    for name, value in (("batch", batch), ("gpus_per_node", gpus_per_node), ("nodes", nodes)):
        _positive_int(name, value)
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; expected one of {list(OPTIMIZERS)}")
    if bucket_cap_mb is not None and not bucket_cap_mb > 0:
        raise ValueError(f"bucket_cap_mb must be positive, got {bucket_cap_mb!r}")
    if dist.is_initialized():
        raise ValueError("plan runs DistributedDataParallel under a 'sim' process group of its "
                         "own, but a process group is initialized here: call plan before "
                         "init_process_group or after destroy_process_group")
    dtype = as_dtype(dtype)
    counts = gpu_counts(gpus, gpus_per_node * nodes)
    device = _free_sim_device() if device is None else Device(device)
    if device.type != "sim":
        raise ValueError(f"plan runs on a sim device such as 'sim:0', got '{device}'")
    backend = get_backend(device)
    with backend.lock:
        backend.pool.settle()
        if backend.pool.in_use:
            raise ValueError(f"plan needs a sim device that holds no tensors, but {device} holds "
                             f"{format_bytes(backend.pool.in_use)}: free them or pass "
                             f"device='sim:N' with an unused N")
    saved = dict(profile=backend.profile.name, host=backend.profile.host,
                 memory_bytes=backend.pool.capacity,
                 framework_overhead=backend.framework_overhead, compute=backend.computes)
    saved_cluster = interconnect.cluster()
    interconnect.set_cluster(interconnect.Cluster.make(gpus_per_node, nodes, inter_node))

    def configure(limit):  # shape-only: nothing computed, no host memory
        backend.configure(profile=profile, framework_overhead=True, host=host, compute=False,
                          memory_bytes=memory_bytes if limit is None else limit)

    try:
        results = {n: measure_step(configure, device, spec, batch, dtype, n, optimizer, loss,
                                   bucket_cap_mb, input_shape) for n in counts}
    finally:
        backend.configure(**saved)
        interconnect.set_cluster(saved_cluster)
    rows = _rows(results, gpus_per_node,
                 memory_bytes if memory_bytes is not None else backend.profile.memory_bytes)
    setup = {"model": spec.describe() if isinstance(spec, plan_models.MLPSpec)
             else getattr(model, "__name__", "custom model"),
             "parameters": spec.parameters if isinstance(spec, plan_models.MLPSpec) else None,
             "batch": batch, "dtype": dtype.name, "optimizer": optimizer, "profile": profile,
             "gpus_per_node": gpus_per_node, "nodes": nodes, "inter_node": inter_node,
             "bucket_cap_mb": bucket_cap_mb}
    written = None
    fitting = [n for n in counts if not isinstance(results[n], OutOfMemory)]
    if trace and fitting:
        written = results[fitting[-1]].trace.export_chrome_trace(trace)
    return Plan(rows, setup, written)


def _buckets_text(setup):
    cap = setup["bucket_cap_mb"]
    return ("DDP's default buckets (25 MiB, the first 1 MiB)" if cap is None
            else f"DDP buckets of {cap:g} MiB")


def _rows(results, gpus_per_node, capacity):
    """``PlanRow``s from ``measure_step``'s results by GPU count."""
    rows = []
    base = results[1]
    for n, r in results.items():
        nodes = -(-n // gpus_per_node)
        if isinstance(r, OutOfMemory):
            rows.append(PlanRow(n, nodes, math.nan, math.nan, math.nan, math.nan, r.needed,
                                r.capacity, math.nan, math.nan, 0, True))
            continue
        efficiency = base.step_us / r.step_us if not isinstance(base, OutOfMemory) else math.nan
        rows.append(PlanRow(n, nodes, r.step_us, r.compute_us, r.comm_us, r.exposed_comm_us,
                            r.peak_bytes, capacity, n * r.samples * 1e6 / r.step_us, efficiency,
                            r.buckets, False))
    return rows


# ---- the ``gpugrad plan`` command ---------------------------------------------------------------
CLI_HELP = """\
Predict one data-parallel (DDP) training step on 1 to GPUS_PER_NODE x NODES simulated GPUs,
computing nothing: step time, compute, communication, exposed communication, peak memory per
GPU (OOM where the step does not fit), throughput and scaling efficiency.

--model takes an MLP spec: mlp:WIDTHxDEPTH (DEPTH Linear layers WIDTH wide, e.g. mlp:8192x100),
mlp:SIZE (a parameter count, width 8192: mlp:7B, mlp:350M, mlp:1.3B@4096 for width 4096).

--script FILE plans your own model instead. FILE defines build(device), which builds the model
on the given device and returns (module, inputs, targets) for one GPU's batch, all on it (or the
module alone, with --input-shape); it may define loss(output, targets) (cross-entropy otherwise):

    import gpugrad as gg
    def build(device):
        model = gg.nn.MLP([784, 4096, 4096, 10], device=device, dtype=gg.bfloat16)
        x = gg.zeros(64, 784, device=device, dtype=gg.bfloat16)
        y = gg.zeros(64, dtype=gg.int64, device=device)
        return model, x, y
"""


def add_arguments(parser):
    """The ``gpugrad plan`` options."""
    parser.add_argument("--model", default="mlp:4096x8",
                        help="MLP spec: mlp:WIDTHxDEPTH or mlp:SIZE (default mlp:4096x8)")
    parser.add_argument("--script", help="a Python file defining build(device) (see above)")
    parser.add_argument("--input-shape", help="one sample's shape, e.g. 784 or 3,32,32, when "
                                              "build(device) returns a bare module")
    parser.add_argument("--batch", type=int, default=32, help="samples per GPU per step (32)")
    parser.add_argument("--dtype", default="bfloat16", help="parameter dtype (bfloat16)")
    parser.add_argument("--optimizer", default="adam", choices=sorted(OPTIMIZERS),
                        help="optimizer (adam)")
    parser.add_argument("--profile", default="h100", help="GPU profile: h100 (default), h200, "
                                                          "a100, l4")
    parser.add_argument("--gpus-per-node", type=int, default=8, help="GPUs per node (8)")
    parser.add_argument("--nodes", type=int, default=1, help="nodes (1)")
    parser.add_argument("--inter-node", default="ndr",
                        help="network between nodes: ndr (InfiniBand 400 Gb/s, default), hdr, "
                             "roce-400, roce-200")
    parser.add_argument("--gpus", help="GPU counts to plan, e.g. 1,8,64 (default: powers of "
                                       "two up to the cluster's size, and its size)")
    parser.add_argument("--bucket-cap-mb", type=float, default=None,
                        help="DDP gradient bucket size in MiB (default DDP's: 25, the first "
                             "bucket 1)")
    parser.add_argument("--host", default=None,
                        help="host CPU profile (a name or JSON file; default $GPUGRAD_SIM_HOST "
                             "or the measured H200 host)")
    parser.add_argument("--memory-gb", type=float, default=None,
                        help="GPU memory in GiB (default: the profile's)")
    parser.add_argument("--trace", help="write the Perfetto trace of one step of the largest "
                                        "GPU count that fits to this file")
    parser.add_argument("--json", help="write the plan as JSON to this file")


def _int_list(text, option):
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"{option} takes comma-separated ints, got {text!r}") from None


def run(args):
    """Run ``gpugrad plan`` with parsed ``args``: print the table; returns the exit status."""
    model, loss = args.model, None
    if args.memory_gb is not None and not (math.isfinite(args.memory_gb) and args.memory_gb > 0):
        raise ValueError(f"--memory-gb must be a positive number of GiB, got {args.memory_gb}")
    if args.script:
        model, loss = plan_models.load_script(args.script)
    result = plan(model, args.batch, dtype=args.dtype, optimizer=args.optimizer, loss=loss,
                  input_shape=(tuple(_int_list(args.input_shape, "--input-shape"))
                               if args.input_shape else None),
                  profile=args.profile, gpus_per_node=args.gpus_per_node, nodes=args.nodes,
                  inter_node=args.inter_node,
                  gpus=_int_list(args.gpus, "--gpus") if args.gpus else None,
                  bucket_cap_mb=args.bucket_cap_mb, host=args.host,
                  memory_bytes=(int(args.memory_gb * 2**30) if args.memory_gb is not None
                                else None),
                  trace=args.trace)
    print(result.table())
    if args.json:
        atomic_write(args.json, json.dumps(result.as_dict(), indent=1, default=str, allow_nan=False).encode())
    return 0
