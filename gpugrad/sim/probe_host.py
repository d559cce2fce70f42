"""Measure this machine's host speed in a few seconds and write a sim host profile.

    gpugrad sim probe-host                      # print the speed factor
    gpugrad sim probe-host --out host.json      # and write the host profile
    gg.sim.configure("sim:0", profile="h100", host="host.json")

(``python -m gpugrad.sim.probe_host`` takes the same arguments.) The result is the measured H200
host (``h200-host``) with its ``speed`` set to this machine's: the GPU's kernels are unchanged,
the host's dispatch, framework and driver costs scale (docs/sim-model.md, "The host profile").

- **With a usable GPU and CuPy** (the CuPy probe): tiny elementwise CuPy calls (1,024 float32
  elements: ``a + b``, ``a * 2.0``, ``cupy.exp(a)``) timed with the host clock, as measure.py's
  ``cpu_us``, against the host dispatch the ``h200-host`` model gives the same calls. This is the
  same quantity the H200 measurements recorded, so the factor is relative to that host.
- **Otherwise** (the NumPy probe): tiny NumPy ufunc calls and gpugrad's own per-op time on the
  cpu device, against the same probe's values on a reference machine (``NUMPY_REFERENCE_US``,
  recorded in bench/results/hosts/). The H200 host never ran this probe, so the factor is
  relative to the reference machine, which is *taken* to be as fast as the H200 host (speed 1):
  an assumption, stated in the file the probe writes.

Each quantity is the time per call of the fastest of many short batches of calls (other work on
the machine only ever slows a batch); the speed is the geometric mean of the
reference-over-measured ratios.
"""
import datetime
import math
import platform
import sys
import time

import numpy as np

from .commands import module_main
from ..backends.cuda import availability
from ..backends.sim import costmodel
from ..backends.sim.profiles import get_host, get_profile, save_host
from ..creation import tensor

#: the NumPy probe's values on the reference machine (µs per call): the ``measured_us`` of
#: bench/results/hosts/reference-numpy-probe.json, which says which machine, when and how
NUMPY_REFERENCE_US = {"numpy_add": 0.3792, "gpugrad_add": 1.7668, "gpugrad_add_grad": 1.9392}
NUMPY_REFERENCE_FILE = "bench/results/hosts/reference-numpy-probe.json"
#: calls per timed batch
BATCH = 100
#: elements of the CuPy probe's arrays (measure.py's smallest records)
CUPY_ELEMENTS = 1024


def _time_per_call(call, seconds):
    """The host time per call in µs: the fastest of batches of ``BATCH`` calls, run until
    ``seconds`` have passed (at least 5 batches). The fastest, as ``timeit`` advises: a call's
    own cost does not vary, what slows a batch is other work on the machine."""
    for _ in range(BATCH):   # warm up: caches, lazy imports, the memory pool
        call()
    best, batches, clock = math.inf, 0, time.perf_counter
    deadline = clock() + seconds
    while batches < 5 or clock() < deadline:
        start = clock()
        for _ in range(BATCH):
            call()
        best = min(best, (clock() - start) / BATCH * 1e6)
        batches += 1
    return best


def numpy_probe(seconds):
    """{quantity: µs per call} of the NumPy probe: a 16-element ``np.add``, and gpugrad's
    ``x + y`` on 16-element cpu tensors without and with autograd."""
    a, b = np.ones(16, np.float32), np.ones(16, np.float32)
    x, y = tensor(a), tensor(b)
    xg = tensor(a, requires_grad=True)
    calls = {"numpy_add": lambda: np.add(a, b), "gpugrad_add": lambda: x + y,
             "gpugrad_add_grad": lambda: xg + y}
    return {name: _time_per_call(call, seconds / len(calls)) for name, call in calls.items()}


def cupy_probe(seconds):
    """({quantity: µs per call}, {quantity: the h200-host model's µs}) of the CuPy probe."""
    import cupy   # optional: only with a GPU
    a = cupy.full(CUPY_ELEMENTS, 1.0, "float32")
    b = cupy.full(CUPY_ELEMENTS, 1.0, "float32")
    calls = {"cupy_add": (lambda: a + b, "binary:add", [a, b]),
             "cupy_mul_scalar": (lambda: a * 2.0, "binary:mul", [a, 2.0]),
             "cupy_exp": (lambda: cupy.exp(a), "unary:exp", [a])}
    # the h200-host's modeled dispatch of each call in a loop of one op (no host_mix_us), as a
    # timed loop of one CuPy call measures it; host_dispatch_us does not depend on the GPU
    model = get_profile("h200", host=get_host())
    measured, reference = {}, {}
    for name, (call, kernel, inputs) in calls.items():
        measured[name] = _time_per_call(call, seconds / len(calls))
        host_inputs = [np.empty(CUPY_ELEMENTS, np.float32) if not isinstance(x, float) else x
                       for x in inputs]
        spec = costmodel.spec(kernel, host_inputs, np.empty(CUPY_ELEMENTS, np.float32))
        reference[name] = model.host_dispatch_us(spec)
    cupy.cuda.Device().synchronize()
    return measured, reference


def speed_factor(measured, reference):
    """Geometric mean of reference / measured over the quantities both have."""
    ratios = [reference[k] / measured[k] for k in measured if reference.get(k, 0) > 0]
    if not ratios:
        raise ValueError("the probe has no reference values to compare with")
    return math.exp(sum(math.log(r) for r in ratios) / len(ratios))


def _cpu_name():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def probe(seconds=3.0, use_gpu=None):
    """Run the probe for about ``seconds``; returns (HostProfile, the probe's record). The
    CuPy probe runs when ``use_gpu`` (default: a usable GPU is there), else the NumPy probe."""
    if use_gpu is None:
        use_gpu = availability.is_available()
    if use_gpu:
        measured, reference = cupy_probe(seconds)
        kind = "cupy"
        relative_to = ("the h200-host model's dispatch of the same calls (fitted on the H200 "
                       "measurements' cpu_us)")
    else:
        measured, reference = numpy_probe(seconds), dict(NUMPY_REFERENCE_US)
        kind = "numpy"
        relative_to = (f"the reference machine of {NUMPY_REFERENCE_FILE}, assumed as fast as "
                       f"the H200 host (never probed there)")
    speed = speed_factor(measured, reference)
    cpu = _cpu_name()
    base = get_host()
    host = base.scaled(speed, name="probed",
                       title=f"{cpu}, Python {platform.python_version()} ({kind} probe)",
                       source=f"{base.name} ({base.source}), speed from `gpugrad sim "
                              f"probe-host` ({kind} probe, relative to {relative_to})")
    record = {"kind": kind, "seconds": seconds, "relative_to": relative_to,
              "measured_us": {k: round(v, 4) for k, v in measured.items()},
              "reference_us": {k: round(v, 4) for k, v in reference.items()},
              "cpu": cpu, "python": platform.python_version(), "numpy": np.__version__,
              "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%MZ")}
    return host, record


def add_arguments(parser):
    """The options of ``gpugrad sim probe-host`` (and ``python -m gpugrad.sim.probe_host``)."""
    parser.add_argument("--out", default=None, metavar="FILE",
                        help="write the host profile here (JSON; gg.sim.configure(..., "
                             "host=FILE) and $GPUGRAD_SIM_HOST read it)")
    parser.add_argument("--seconds", type=float, default=3.0, metavar="N",
                        help="how long to measure (3)")
    parser.add_argument("--numpy", action="store_true",
                        help="run the NumPy probe even where a GPU is usable")
    return parser


def run(args, out=None):
    """Probe, print the result and write ``--out``; returns 0. ValueError for a bad option."""
    out = out or sys.stdout
    if not (isinstance(args.seconds, (int, float)) and 0 < args.seconds <= 600):
        raise ValueError(f"--seconds must be within (0, 600], got {args.seconds}")
    host, record = probe(args.seconds, use_gpu=False if args.numpy else None)
    print(f"{record['kind']} probe on {record['cpu']} (Python {record['python']}, "
          f"{args.seconds:g} s):", file=out)
    for name, us in record["measured_us"].items():
        print(f"  {name:<18}{us:>9.3f} us per call  (reference {record['reference_us'][name]:.3f})",
              file=out)
    print(f"host speed {host.speed:.3f} (relative to {record['relative_to']})", file=out)
    if args.out:
        save_host(host, args.out, {"probe": record})
        print(f"wrote {args.out}", file=out)
    return 0


def main(argv=None):
    """``python -m gpugrad.sim.probe_host``: the same as ``gpugrad sim probe-host``."""
    return module_main("gpugrad.sim.probe_host", __doc__, add_arguments, run, argv)


if __name__ == "__main__":
    sys.exit(main())
