"""The simulator's own cost: host time the ``sim`` device spends modeling, against ``cpu``.

The sim computes every value with the cpu backend and models the GPU around it, so what it adds
over ``cpu`` is the modeling. Four cases, each run on ``sim`` and on ``cpu`` alternately (in both
orders), so that every sim sample has a cpu sample beside it that saw the same machine load;
each figure is the median over those pairs, with the spread (25th-75th percentile) beside it:

- **per kernel, one tiny op**: ``x + y`` on 4-element tensors, repeated; (sim - cpu) time per
  op is the host time of modeling one kernel (one Tensor op is one modeled kernel). Also the
  backend primitive alone (``binary("add")``: no Tensor, no autograd), the model's cost in
  isolation from the engine's. Target: <= 1.5 µs;
- **tiny 4-op chain**: ``(a * b + c).tanh().sum()`` and its backward on 4-element tensors.
  Target: sim / cpu <= 1.3;
- **small MLP step**: bench/mlp.py's "small" step (64-128-128-10, batch 64: forward,
  cross-entropy, backward, SGD). Target: sim / cpu <= 1.1;
- **784 MLP step** (``--mlp784``, off by default): the 784-256-256-10 MLP at batch 128, as plain
  Tensor ops (matmul, bias add, relu, log_softmax, gather, mean), ending with ``loss.item()``.

    python bench/sim_overhead.py [--repeats N] [--blas-threads 1] [--mlp784] [--null-model]

``--null-model`` times the two ratio cases a second time with the model taken out of the hot
paths (no memory reservation, no lock, no launch: ``_planned`` keeps only the plan-key
lookup, the cpu backend's computation and the ``SimArray`` around its result, and the fused
kernels' ``_reserve`` and ``_launch`` do nothing). Those ratios are the floor a pure-Python
simulator that wraps every result cannot go below, however cheap its model; an analysis aid,
not a device mode.

``--blas-threads 1`` runs NumPy's BLAS on one thread for both devices (set before NumPy loads):
on a small shared machine a multi-threaded BLAS fights other processes for cores and the times
scatter widely.
"""
import argparse
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)
BLAS_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
if "--blas-threads" in sys.argv[:-1]:  # must be set before NumPy loads its BLAS
    for _name in BLAS_ENV:
        os.environ[_name] = sys.argv[sys.argv.index("--blas-threads") + 1]

import gpugrad as gg  # noqa: E402
import mlp  # noqa: E402  (bench/mlp.py: the small MLP step)
from gpugrad.device_registry import get_backend  # noqa: E402

DEVICES = ("cpu", "sim")
TINY_OPS = 200  # ops per timed sample of the per-kernel cases
MLP784 = {"sizes": (784, 256, 256, 10), "batch": 128, "lr": 0.05}


# ---- the cases: each makes, per device, a callable running one timed sample ---------------
def tiny_op(device):
    """``TINY_OPS`` additions of two 4-element tensors (each one modeled kernel on sim)."""
    x, y = gg.ones(4, device=device), gg.ones(4, device=device)

    def sample():
        for _ in range(TINY_OPS):
            x + y
    return sample


def tiny_primitive(device):
    """``TINY_OPS`` backend ``binary("add")`` calls: on sim, the model and the cpu backend's
    NumPy call; on cpu, that NumPy call alone."""
    backend = get_backend("sim:0")
    x = gg.ones(4, device="sim")._data
    if device == "cpu":
        backend, x = backend.cpu, x.data
    binary = backend.binary

    def sample():
        for _ in range(TINY_OPS):
            binary("add", x, x)
    return sample


def tiny_chain(device):
    """``(a * b + c).tanh().sum()`` and its backward, on 4-element tensors."""
    gg.manual_seed(0)
    a = gg.randn(4, device=device, requires_grad=True)
    b, c = gg.randn(4, device=device), gg.randn(4, device=device)

    def sample():
        (a * b + c).tanh().sum().backward()
        a.grad = None
    return sample


def small_mlp(device):
    """bench/mlp.py's small training step."""
    cfg = mlp.CONFIGS["small"]
    step, _ = mlp.gpugrad_step(mlp.make_problem(cfg["sizes"], cfg["batch"]), device)
    return step


def mlp784(device):
    """The 784-256-256-10 MLP step as plain Tensor ops, a manual SGD update, ``loss.item()``."""
    gg.manual_seed(0)
    sizes, batch, lr = MLP784["sizes"], MLP784["batch"], MLP784["lr"]
    params = []
    for fan_in, fan_out in zip(sizes, sizes[1:]):
        params.append((gg.randn(fan_in, fan_out) * fan_in ** -0.5).to(device).requires_grad_())
        params.append(gg.zeros(fan_out, device=device, requires_grad=True))
    x = gg.randn(batch, sizes[0]).to(device)
    y = gg.randint(0, sizes[-1], size=(batch,)).to(device)
    rows = gg.arange(batch, device=device)

    def sample():
        h = x
        for i in range(0, len(params), 2):
            h = h @ params[i] + params[i + 1]
            if i + 2 < len(params):
                h = h.relu()
        loss = -h.log_softmax(dim=1)[rows, y].mean()
        loss.backward()
        with gg.no_grad():
            for p in params:
                p.copy_(p - lr * p.grad)
                p.grad = None
        return loss.item()
    return sample


# ---- timing ------------------------------------------------------------------------------
def paired_times(make, repeats, warmup=3):
    """``{device: [seconds per sample]}``, samples alternating between the devices. A sim
    sample ends by placing its deferred kernels on the clocks (``Timeline.flush``), so all of
    its modeling is timed."""
    samples = {dev: make(dev) for dev in DEVICES}
    flush = get_backend("sim:0").timeline.flush
    for _ in range(warmup):  # NumPy's buffers, the sim's memory pool and kernel rows
        for sample in samples.values():
            sample()
    times = {dev: [] for dev in DEVICES}
    for i in range(repeats):
        for dev in DEVICES if i % 2 == 0 else DEVICES[::-1]:
            start = time.perf_counter()
            samples[dev]()
            if dev == "sim":
                flush()
            times[dev].append(time.perf_counter() - start)
    return times


def quartiles(values):
    """(median, 25th percentile, 75th percentile)."""
    q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return median, q1, q3


def kernels_per_sample(make):
    """Kernels one sample launches on sim:0 (after a warm-up sample)."""
    sample = make("sim")
    sample()
    gg.sim.reset("sim:0")
    sample()
    return gg.sim.stats("sim:0").kernels


def report_per_kernel(name, make, repeats):
    times = paired_times(make, repeats)
    kernels = kernels_per_sample(make)
    extra = [(s - c) * 1e6 / kernels for s, c in zip(times["sim"], times["cpu"])]
    cpu = [t * 1e6 / kernels for t in times["cpu"]]
    med, q1, q3 = quartiles(extra)
    print(f"{name:<34} sim - cpu: {med:6.2f} µs per modeled kernel (IQR {q1:.2f}-{q3:.2f}; "
          f"cpu alone {statistics.median(cpu):.2f} µs)   target <= 1.5")
    return med


def report_ratio(name, make, repeats, target, kernels=None):
    """sim / cpu for ``make``'s sample (``kernels``: its modeled kernels, counted when None)."""
    times = paired_times(make, repeats)
    kernels = kernels or kernels_per_sample(make)
    ratios = [s / c for s, c in zip(times["sim"], times["cpu"])]
    med, q1, q3 = quartiles(ratios)
    cpu_us, sim_us = (statistics.median(times[d]) * 1e6 for d in DEVICES)
    per_kernel = (sim_us - cpu_us) / kernels
    goal = f"target <= {target}" if target else ""
    print(f"{name:<34} sim / cpu: {med:6.3f} (IQR {q1:.3f}-{q3:.3f}); cpu {cpu_us:.0f} µs, "
          f"sim {sim_us:.0f} µs, {kernels} kernels, {per_kernel:.2f} µs each   {goal}")
    return med


def without_model():
    """Take the model out of the sim's hot paths (see ``--null-model``): ``_planned`` only
    looks its row up, computes and wraps; the fused kernels' ``_reserve`` reserves nothing and
    ``_launch`` launches nothing. Returns a callable that puts the real ones back. Plans not
    yet made take the real path once."""
    from gpugrad.backends.sim import device_model, results
    from gpugrad.backends.sim.memory import new_array

    mixin, model = results.ModeledResults, device_model.DeviceModel
    real = {(mixin, "_planned"): mixin._planned, (mixin, "_reserve"): mixin._reserve,
            (model, "_launch"): model._launch}
    real_planned = mixin._planned

    def unmodeled(self, key, primitive, *args):
        row = self._rows.get(key)
        if row is None:
            return real_planned(self, key, primitive, *args)
        return new_array(row.compute(*args), None, row.sig)

    mixin._planned = unmodeled
    mixin._reserve = lambda self, *sizes: [None] * len(sizes)
    model._launch = lambda self, name, inputs, outputs, info=None, key=None: None

    def restore():
        for (owner, name), method in real.items():
            setattr(owner, name, method)
    return restore


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=31,
                        help="paired samples per case and device (default 31)")
    parser.add_argument("--blas-threads", type=int, default=None,
                        help="BLAS threads for NumPy (default: NumPy's own choice)")
    parser.add_argument("--mlp784", action="store_true",
                        help="also time the 784-256-256-10 MLP step (slower)")
    parser.add_argument("--null-model", action="store_true",
                        help="also time the ratio cases with the model taken out of the hot "
                             "path: the floor of a simulator that wraps every result")
    args = parser.parse_args()
    if args.repeats < 2:
        parser.error(f"--repeats must be at least 2 (paired samples for quartiles), got "
                     f"{args.repeats}")
    threads = args.blas_threads or "NumPy's default"
    print(f"sim ({get_backend('sim:0').profile.name}) against cpu, {args.repeats} interleaved "
          f"paired samples per case, BLAS threads: {threads}; median (IQR)")
    report_per_kernel("tiny op (x + y, 4 elements)", tiny_op, args.repeats)
    report_per_kernel("  backend primitive alone", tiny_primitive, args.repeats)
    report_ratio("tiny 4-op chain + backward", tiny_chain, args.repeats, 1.3)
    report_ratio("small MLP step (64-128-128-10, b64)", small_mlp, args.repeats, 1.1)
    if args.mlp784:
        report_ratio("MLP step (784-256-256-10, b128)", mlp784, max(2, args.repeats // 2), None)
    if args.null_model:  # (the kernels a sample models, counted before the model goes)
        counts = [kernels_per_sample(make) for make in (tiny_chain, small_mlp)]
        restore = without_model()
        try:
            report_ratio("  chain, no model (the floor)", tiny_chain, args.repeats, None,
                         counts[0])
            report_ratio("  MLP step, no model (the floor)", small_mlp, args.repeats, None,
                         counts[1])
        finally:
            restore()


if __name__ == "__main__":
    main()
