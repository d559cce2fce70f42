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

``--host NAME|FILE`` replays in another host profile; ``--fit-host`` fits only the host's speed
on the files' smallest elementwise records and reports the other records' errors, host-bound and
device-bound apart (fit_host.py). The replay engine is replay.py; its functions are importable
from here too, as calibrate.py and the tests use them.
"""
import sys

import numpy as np

from . import fit_host
from .commands import module_main
from .measurements import BENCH_FAMILIES
from .replay import (BENCH_WARMUP, WARMUP, backend_replayable, bench_step_program,
                     compile_record, compile_records, evaluate, load_records,
                     mlp_step_program, run_on_backend, run_program, _Builder, _per_op_record)
from ..backends.sim.profiles import PROFILE_NAMES, get_profile
from ..device_registry import Device

#: the report, and the replay engine's functions it re-exports (calibrate.py and tests use them)
__all__ = ["summarize", "add_arguments", "run", "main", "BENCH_WARMUP", "WARMUP",
           "backend_replayable", "bench_step_program", "compile_record", "compile_records",
           "evaluate", "load_records", "mlp_step_program", "run_on_backend", "run_program",
           "_Builder", "_per_op_record"]

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
    parser.add_argument("--host", default=None, metavar="HOST",
                        help="host profile: a name (h200-host, the default) or a JSON file "
                             "(gpugrad sim probe-host --out FILE)")
    parser.add_argument("--fit-host", action="store_true",
                        help="fit only the host speed on the files' smallest elementwise "
                             "records and report the other records' errors, host-bound and "
                             "device-bound apart (CuPy measurement files)")
    return parser


def run(args, out=None):
    """Print the fidelity report for parsed ``args``; returns 0. Raises ``MeasurementError``
    (a file) or ``ValueError`` (an option) before printing anything."""
    out = out or sys.stdout
    profile = get_profile(args.profile, host=args.host)
    if args.worst < 0:
        raise ValueError(f"--worst must be 0 or more, got {args.worst}")
    if Device(args.device).type != "sim":
        raise ValueError(f"--device must be a sim device such as sim:0, got {args.device!r}")
    compiled = compile_records(load_records(args.files))
    if args.fit_host:
        fit_host.report(compiled, profile, out, f"profile {profile.name}: {len(compiled)} "
                        f"records from {', '.join(map(str, args.files))}")
        return 0
    rows = evaluate(compiled, profile, args.via, args.device)
    if args.worst:
        worst = sorted(zip(rows, compiled), key=lambda rc: -abs(rc[0][2] / rc[0][3] - 1))
        for (family, op, modeled, measured), (rec, *_rest) in worst[:args.worst]:
            what = rec.get("shapes") or rec.get("sizes") or rec.get("bytes")
            print(f"  {op:<22}{str(what):<34}{rec.get('dtype', ''):<9}"
                  f"measured {measured:>10.2f}  modeled {modeled:>10.2f}  "
                  f"{modeled / measured - 1:+.0%}", file=out)
    via = sum(args.via == "backend" and backend_replayable(c[0], c[3]) for c in compiled)
    host = "" if args.host is None else f" in host {profile.host.describe()}"
    print(f"profile {profile.name}{host}: {len(rows)} records from "
          f"{', '.join(map(str, args.files))}", file=out)
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
