"""Fit the H200 profile's model parameters to real measurements (reproducible; NumPy only).

    gpugrad sim calibrate bench/results/measurements/h200-run1.json \\
        bench/results/measurements/h200-run2.json       # fit on both, print FITTED
    gpugrad sim calibrate --fit RUN1.json --check RUN2.json      # hold-out check
    gpugrad sim calibrate FILE... --write        # also rewrite FITTED in profiles/h200.py

(``python -m gpugrad.sim.calibrate`` takes the same arguments.) The objective is a robust
(soft-L1) sum over records of the squared log ratio ``log(modeled / measured)`` of what
fidelity.py predicts (event-to-event ``gpu_us``, ``wall_us``, ``wall_us_synced``), plus, at half
weight, the log ratio of modeled host dispatch to the measured ``cpu_us`` of per-op records (it
pins the host costs apart from the device costs). The optimizer is a pattern search of our own:
each parameter in turn is moved up and down by a step (in log space for positive parameters,
linearly for fractions), improvements are kept, and the step halves when a sweep finds none. It
starts from ``INITIAL`` (rough values read off the data), so a rerun reproduces the committed
FITTED exactly. ``ASSUMED`` parameters in h200.py stay fixed.

``--fit-framework`` is a separate, later fit of one parameter, ``framework_us`` (gpugrad's own
Python host time per kernel it dispatches), on bench/mlp.py results of gpugrad's training steps:

    gpugrad sim calibrate --fit-framework bench/results/h200-run1/mlp_cuda.json --write

It holds FITTED (the raw-CuPy model) at its committed values, replays the "gpugrad step" records
(``fidelity.bench_step_program``: the kernel list each file records for the gpugrad version it
measured) and minimizes the same robust loss over ``framework_us`` alone; ``--write`` rewrites
the FRAMEWORK block of profiles/h200.py. Raw-CuPy records never pay ``framework_us``.
"""
import math
import re
import sys
from pathlib import Path

from . import fidelity, replay
from .commands import module_main
from .measurements import MeasurementError
from .replay import HOST_WEIGHT, SOFT  # noqa: F401  (the loss's weight and scale)
from ..atomic import atomic_write
from ..backends.sim.profiles import h200

# name: (low, high, scale) -- "log" moves multiplicatively, "lin" additively (fractions)
FREE = {
    "host_mix_us": (0.0, 10.0, "log"),
    "event_us": (0.1, 6.0, "log"),
    "sync_us": (0.3, 10.0, "log"),
    "launch_point": (0.0, 1.0, "lin"),
    "min_kernel_us": (0.3, 6.0, "log"),
    "kernel_fixed_us": (0.0, 6.0, "log"),
    "hbm_eff": (0.4, 1.0, "lin"),
    "elem_rate.elementwise": (0.05, 8.0, "log"),
    "elem_rate.reduce_all": (0.05, 64.0, "log"),
    "elem_rate.reduce_inner": (0.05, 64.0, "log"),
    "elem_rate.reduce_outer": (0.05, 64.0, "log"),
    "elem_rate.copy": (0.05, 8.0, "log"),
    "elem_rate.transpose": (0.05, 8.0, "log"),
    "bw.transpose": (0.1, 1.2, "lin"),
    "bw.reduce_outer": (0.05, 1.2, "lin"),
    "bw.reduce_all": (0.3, 1.2, "lin"),
    "bw.reduce_inner": (0.3, 1.2, "lin"),
    "row_latency_ns.l2": (0.5, 100.0, "log"),
    "row_latency_ns.hbm": (0.5, 100.0, "log"),
    "fixed.reduce_all": (0.0, 10.0, "log"),
    "fixed.transpose": (0.0, 10.0, "log"),
    "fixed.copy": (0.0, 10.0, "log"),
    "fixed.reduce_outer": (0.0, 10.0, "log"),
    "host.elementwise": (1.0, 40.0, "log"),
    "host.reduce_all": (1.0, 40.0, "log"),
    "host.reduce_inner": (1.0, 40.0, "log"),
    "host.reduce_outer": (1.0, 40.0, "log"),
    "host.matmul": (1.0, 60.0, "log"),
    "host.copy": (1.0, 40.0, "log"),
    "host.transpose": (1.0, 40.0, "log"),
    "host.gather": (1.0, 120.0, "log"),
    "host_per_array_us": (0.0, 5.0, "log"),
    "host_per_scalar_us": (0.0, 8.0, "log"),
    "mm_tile_min": (4.0, 128.0, "log"),
    "mm_split_k": (32.0, 4096.0, "log"),
    "mm_small_tile_exp": (0.0, 1.5, "lin"),
    "mm_fixed_us": (0.0, 20.0, "log"),
    "mm_eff.float32": (0.3, 1.0, "lin"),
    "mm_eff.float64": (0.3, 1.0, "lin"),
    "pcie_eff": (0.5, 1.0, "lin"),
    "xfer_latency_us": (0.5, 20.0, "log"),
    "xfer_host_us": (0.1, 10.0, "log"),
    "pageable_extra_us": (0.0, 20.0, "log"),
    "host_cache_bytes": (1 << 20, 1 << 30, "log"),
    "stage_gbps.h2d": (1.0, 100.0, "log"),
    "stage_slow_gbps.h2d": (0.5, 100.0, "log"),
    "stage_gbps.d2h": (1.0, 100.0, "log"),
    "stage_slow_gbps.d2h": (0.5, 100.0, "log"),
    "malloc_base_us": (0.1, 50.0, "log"),
    "malloc_gbps": (100.0, 1e6, "log"),
    "pool_alloc_us": (0.1, 10.0, "log"),
}
# The starting point: rough values read off the measurements by eye. Fitting always starts here,
# so the result does not depend on what profiles/h200.py holds now.
INITIAL = {
    "event_us": 1.5, "host_mix_us": 0.4, "sync_us": 2.0, "launch_point": 1.0,
    "min_kernel_us": 1.5, "kernel_fixed_us": 1.5, "hbm_eff": 0.85,
    "elem_rate.elementwise": 0.8, "elem_rate.reduce_all": 4.0, "elem_rate.reduce_inner": 4.0,
    "elem_rate.reduce_outer": 2.0, "elem_rate.copy": 0.8, "elem_rate.transpose": 0.8,
    "bw.transpose": 0.6, "bw.reduce_outer": 0.4, "bw.reduce_all": 1.0, "bw.reduce_inner": 1.0,
    "row_latency_ns.l2": 10.0, "row_latency_ns.hbm": 20.0,
    "fixed.reduce_all": 3.0, "fixed.reduce_outer": 2.0, "fixed.transpose": 1.5, "fixed.copy": 1.5,
    "host.elementwise": 7.0, "host.reduce_all": 14.0, "host.reduce_inner": 10.0,
    "host.reduce_outer": 14.0, "host.matmul": 15.0, "host.copy": 9.0, "host.transpose": 9.0,
    "host.gather": 38.0, "host_per_array_us": 1.0, "host_per_scalar_us": 2.5,
    "mm_tile_min": 16.0, "mm_split_k": 256.0, "mm_small_tile_exp": 0.5, "mm_fixed_us": 3.0,
    "mm_eff.float32": 0.76, "mm_eff.float64": 0.93,
    "pcie_eff": 0.87, "xfer_latency_us": 6.0, "xfer_host_us": 2.0, "pageable_extra_us": 5.0,
    "host_cache_bytes": 32 << 20, "stage_gbps.h2d": 20.0, "stage_slow_gbps.h2d": 9.0,
    "stage_gbps.d2h": 20.0, "stage_slow_gbps.d2h": 4.0,
    "malloc_base_us": 5.0, "malloc_gbps": 5400.0, "pool_alloc_us": 2.0,
}
#: the framework fit: bounds, and where it starts (it is 1-D; the start barely matters)
FRAMEWORK_FREE = {"framework_us": (0.0, 200.0, "log")}
FRAMEWORK_INITIAL = {"framework_us": 20.0}


class Objective:
    """Robust loss (``replay.robust_loss``) of a parameter dict over compiled records."""

    def __init__(self, compiled):
        self.compiled = compiled

    def residuals(self, params):
        """``replay.residuals`` of the H200 profile with ``params`` (ASSUMED values under the
        fitted ones)."""
        return replay.residuals(self.compiled, h200.make_profile(params))

    def __call__(self, params):
        return replay.robust_loss(self.residuals(params))


def _step(value, name, direction, step):
    low, high, scale = FREE[name] if name in FREE else FRAMEWORK_FREE[name]
    if scale == "log":
        new = max(value, low * 1e-3 if low > 0 else 1e-3) * math.exp(direction * step)
    else:
        new = value + direction * step * 0.25 * (high - low)
    return min(high, max(low, new))


def fit(compiled, start, rounds=150, step=0.5, min_step=0.01, verbose=True, names=None):
    """Pattern search from ``start`` over ``names`` (default: FREE); returns (params, loss)."""
    objective = Objective(compiled)
    params = dict(start)
    best = objective(params)
    for it in range(rounds):
        improved = False
        for name in names or FREE:
            for direction in (1, -1):
                trial = dict(params)
                trial[name] = _step(params[name], name, direction, step)
                if trial[name] == params[name]:
                    continue
                loss = objective(trial)
                if loss < best - 1e-9:
                    params, best, improved = trial, loss, True
                    break
        if verbose:
            print(f"round {it:2d} step {step:.3f} loss {best:.3f}", file=sys.stderr)
        if not improved:
            step /= 2
            if step < min_step:
                break
    return params, best


def _rounded(params):
    out = {}
    for k, v in params.items():
        if k == "host_cache_bytes":
            out[k] = int(round(v))
        elif isinstance(v, float):
            out[k] = float(f"{v:.4g}")
        else:
            out[k] = v
    return out


def format_fitted(params):
    lines = ["FITTED = {"]
    for k, v in params.items():
        lines.append(f"    {k!r}: {v!r},".replace("'", '"'))
    lines.append("}")
    return "\n".join(lines)


#: the file ``--write`` rewrites (the H200 profile's source)
H200_PATH = Path(h200.__file__)


def write_h200(params, block="FITTED", path=None):
    """Replace the FITTED (or FRAMEWORK) block of profiles/h200.py (or ``path``), atomically:
    a reader sees the old file or the new one. ValueError when the block's markers are gone."""
    path = Path(path or H200_PATH)
    text = path.read_text(encoding="utf-8")
    pattern = (r"(# --- fitted by gpugrad/sim/calibrate.py[^\n]* \(BEGIN " + block
               + r"\) ---\n).*?(\n# --- fitted by gpugrad/sim/calibrate.py[^\n]* \(END "
               + block + r"\) ---)")
    new, count = re.subn(pattern, lambda m: m.group(1) + format_fitted(params).replace(
        "FITTED", block, 1) + m.group(2), text, flags=re.S)
    if count != 1:
        raise ValueError(f"{path}: no '(BEGIN {block})' ... '(END {block})' block to rewrite")
    atomic_write(path, new)
    return path


def fit_framework(paths, verbose=True):
    """Fit ``framework_us`` on the "gpugrad step" records of bench/mlp.py result files, the
    raw-CuPy parameters held at h200.py's values; returns (params, loss, compiled records)."""
    records = [r for r in fidelity.load_records(paths) if r["op"] == "gpugrad_step"]
    if not records:
        raise MeasurementError(f"no gpugrad step records in {', '.join(map(str, paths))} "
                               f"(expected bench/mlp.py --device cuda results)")
    compiled = fidelity.compile_records(records)
    start = dict(h200.FITTED, **FRAMEWORK_INITIAL)
    params, loss = fit(compiled, start, step=1.0, min_step=1e-3, verbose=verbose,
                       names=list(FRAMEWORK_FREE))
    return _rounded({k: params[k] for k in FRAMEWORK_FREE}), loss, compiled


def report(compiled, params, label, out=None):
    rows = fidelity.evaluate(compiled, h200.make_profile(params))
    print(f"-- {label}", file=out or sys.stdout)
    for line in fidelity.summarize(rows):
        print(line, file=out or sys.stdout)


def add_arguments(parser):
    """The options of ``gpugrad sim calibrate`` (and ``python -m gpugrad.sim.calibrate``)."""
    parser.add_argument("files", nargs="*", metavar="FILE",
                        help="measurement files to fit on (CuPy records, e.g. bench/results/"
                             "measurements/h200-run*.json; with --fit-framework, bench/mlp.py "
                             "results)")
    parser.add_argument("--fit", nargs="+", default=None, metavar="FILE",
                        help="fit on these files (instead of FILE...)")
    parser.add_argument("--check", nargs="+", default=(), metavar="FILE",
                        help="also report (not fit) on these files: a hold-out check")
    parser.add_argument("--write", action="store_true",
                        help="rewrite the FITTED (or FRAMEWORK) block of "
                             "gpugrad/backends/sim/profiles/h200.py")
    parser.add_argument("--rounds", type=int, default=150,
                        help="most pattern-search sweeps (150)")
    parser.add_argument("--fit-framework", action="store_true",
                        help="fit framework_us on bench/mlp.py results (gpugrad steps) instead")
    parser.add_argument("--quiet", action="store_true", help="no per-round progress on stderr")
    return parser


def run(args, out=None):
    """Fit, print the parameters and the report for parsed ``args``; returns 0. Raises
    ``MeasurementError`` (a file) or ``ValueError`` (the options) before fitting."""
    out = out or sys.stdout
    if args.rounds < 1:
        raise ValueError(f"--rounds must be at least 1, got {args.rounds}")
    if args.fit_framework:
        if not args.files or args.fit or args.check:
            raise ValueError("--fit-framework takes bench/mlp.py result files as FILE... "
                             "(e.g. bench/results/h200-run1/mlp_cuda.json), without --fit or "
                             "--check")
        params, loss, compiled = fit_framework(args.files, verbose=not args.quiet)
        print(format_fitted(params).replace("FITTED", "FRAMEWORK", 1), file=out)
        report(compiled, dict(h200.FITTED, **params), f"gpugrad steps (loss {loss:.4f})", out)
        if args.write:
            print(f"wrote {write_h200(params, 'FRAMEWORK')}", file=sys.stderr)
        return 0
    if args.fit and args.files:
        raise ValueError("give the files to fit on either as FILE... or after --fit, not both")
    fit_files = args.fit or args.files
    if not fit_files:
        raise ValueError("give measurement files to fit on, e.g. "
                         "bench/results/measurements/h200-run1.json")
    fit_set = fidelity.compile_records(fidelity.load_records(fit_files))
    checks = [(path, fidelity.compile_records(fidelity.load_records([path])))
              for path in args.check]   # every file is read and checked before the fit
    params, loss = fit(fit_set, INITIAL, rounds=args.rounds, verbose=not args.quiet)
    params = _rounded(params)
    print(format_fitted(params), file=out)
    report(fit_set, params, f"fit on {', '.join(map(str, fit_files))} (loss {loss:.3f})", out)
    for path, compiled in checks:
        report(compiled, params, f"held out: {path}", out)
    if args.write:
        print(f"wrote {write_h200(params)}", file=sys.stderr)
    return 0


def main(argv=None):
    """``python -m gpugrad.sim.calibrate``: the same as ``gpugrad sim calibrate``."""
    return module_main("gpugrad.sim.calibrate", __doc__, add_arguments, run, argv)


if __name__ == "__main__":
    sys.exit(main())
