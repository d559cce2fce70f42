"""Fit a host profile's speed to measurements: ``gpugrad sim fidelity FILE --fit-host``.

The host speed (``HostProfile.speed``, docs/sim-model.md, "The host profile") is fitted alone,
every GPU parameter held, on the *probe records* of a CuPy measurement file: its smallest
elementwise per-op records (1,024 elements in measure.py's files: add, mul_scalar, exp, tanh,
relu, relu_backward), the calls a user can time on any machine in seconds. The objective is
calibrate.py's robust loss (``replay.residuals``: each record's ``gpu_us`` and, at half weight,
its host dispatch against ``cpu_us``), minimized over ``log(speed)`` by a coarse grid and a
golden-section search.

The other records are then reported apart, as the model classes them:

- **host-bound**: the host costs set the record's modeled time: making the host twice as fast
  shortens it by more than a quarter (a purely host-bound record halves, a device-bound one,
  whose kernels or copies take longer than their host dispatch, does not move);
- **device-bound**: the rest.

A good host fit moves the host-bound errors and leaves the device-bound ones as they were.
"""
import math

import numpy as np

from .measurements import FAMILIES, MeasurementError
from .replay import residuals, robust_loss, run_program

#: the family whose smallest records are the probe
PROBE_FAMILY = "elementwise"
#: the speed is searched within [1 / SPEED_RANGE, SPEED_RANGE] times the starting host's
SPEED_RANGE = 20.0
#: a record is host-bound when its ``host_share`` is above this (a twice-as-fast host shortens
#: it by more than a quarter)
HOST_BOUND_CUT = 0.5


def _elements(rec):
    return math.prod(rec["shapes"][0])


def split_probe(compiled):
    """(probe records, the others) of compiled records: the probe is the per-op records of
    ``PROBE_FAMILY`` with the fewest elements. MeasurementError if there are none."""
    candidates = [c for c in compiled
                  if FAMILIES.get(c[0]["op"]) == PROBE_FAMILY and "gpu_us" in c[0]]
    if not candidates:
        raise MeasurementError("--fit-host needs CuPy per-op measurements with elementwise "
                               "records (bench/results/measurements/h200-run*.json, written by "
                               "measure.py); these files have none")
    smallest = min(_elements(c[0]) for c in candidates)
    probe = [c for c in candidates if _elements(c[0]) == smallest]
    return probe, [c for c in compiled if not any(c is p for p in probe)]


def fit_speed(probe, profile):
    """The factor by which ``profile``'s host must be made faster for the model to fit the
    ``probe`` records best, and that loss: ``(factor, loss)``."""
    base = profile.host

    def loss(log_factor):
        return robust_loss(residuals(probe, profile.with_host(base.scaled(math.exp(log_factor)))))

    lo, hi = -math.log(SPEED_RANGE), math.log(SPEED_RANGE)
    grid = np.linspace(lo, hi, 41)
    losses = [loss(x) for x in grid]
    i = int(np.argmin(losses))
    a, b = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    ratio = (math.sqrt(5) - 1) / 2
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc, fd = loss(c), loss(d)
    while b - a > 1e-4:
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - ratio * (b - a)
            fc = loss(c)
        else:
            a, c, fc = c, d, fd
            d = a + ratio * (b - a)
            fd = loss(d)
    x = (a + b) / 2
    return math.exp(x), loss(x)


def host_share(actions, profile):
    """The fraction of a record's modeled time that a twice-as-fast host removes, over the
    half a purely host-bound record loses: 1 for host-bound, 0 for device-bound."""
    t1, _ = run_program(actions, profile)
    t2, _ = run_program(actions, profile.with_host(profile.host.scaled(2.0)))
    return (1.0 - t2 / t1) / 0.5


def errors_by_bound(compiled, before, after):
    """{"host-bound": [(error before, error after)...], "device-bound": [...]} of compiled
    records, each |modeled / measured - 1| under profiles ``before`` and ``after``; the class
    is taken under ``after``."""
    out = {"host-bound": [], "device-bound": []}
    for _rec, _family, measured, actions, _cpu in compiled:
        bound = "host-bound" if host_share(actions, after) > HOST_BOUND_CUT else "device-bound"
        e0 = abs(run_program(actions, before)[0] / measured - 1)
        e1 = abs(run_program(actions, after)[0] / measured - 1)
        out[bound].append((e0, e1))
    return out


def _row(label, pairs):
    """One table line: label, count, then median and p90 of the errors before and after."""
    cells = []
    for errs in ([e[0] for e in pairs], [e[1] for e in pairs]):
        e = np.asarray(errs) * 100
        cells.append(f"{np.median(e):>9.1f}%{np.percentile(e, 90):>7.1f}%" if len(e)
                     else f"{'-':>10}{'-':>8}")
    return f"{label:<14}{len(pairs):>5}{cells[0]}{cells[1]}"


def report(compiled, profile, out, title=""):
    """Fit the host speed on ``compiled`` records and print the report to ``out`` (``title``
    first; nothing is printed if the records hold no probe); returns the fitted profile
    (``profile`` in its fitted host)."""
    probe, others = split_probe(compiled)
    if title:
        print(title, file=out)
    factor, loss = fit_speed(probe, profile)
    fitted = profile.with_host(profile.host.scaled(factor, name=f"{profile.host.name}-fit"))
    ops = sorted({c[0]["op"] for c in probe})
    print(f"host fit: {len(probe)} probe records ({_elements(probe[0][0])} elements: "
          f"{', '.join(ops)})", file=out)
    print(f"  fitted host speed {fitted.host.speed:.3f} (x{factor:.3f} of {profile.host.name}, "
          f"speed {profile.host.speed:.3g}); loss {loss:.4f}", file=out)
    rows = errors_by_bound(probe, profile, fitted)
    print(f"{'':<19}{'before (median, p90)':>18}{'fitted (median, p90)':>22}", file=out)
    print(_row("probe (fit)", rows["host-bound"] + rows["device-bound"]), file=out)
    for bound, pairs in errors_by_bound(others, profile, fitted).items():
        print(_row(bound, pairs), file=out)
    return fitted
