"""The simulator's overhead: one training step of a 784-256-256-10 MLP at batch 128 on ``sim``
against the same step on ``cpu``, measured in this run. Goal (issue 3): sim / cpu <= 1.3.

The step is plain Tensor ops (matmul, bias add, relu, log_softmax, gather, mean), backward, and a
manual SGD update under ``gg.no_grad()``, ending with ``loss.item()`` (a read-back that waits for
the device). Steps alternate between the devices (in both orders), so each sim step has a cpu
step beside it that saw the same machine load; the ratio is the median over those pairs of sim
time / cpu time (robust to the load of a shared machine); the fastest steps are printed too.

    python bench/sim_overhead.py [--steps N] [--blas-threads N]

``--blas-threads 1`` runs NumPy's BLAS on one thread (for both devices): on a small shared machine
a multi-threaded BLAS fights other processes for cores and the step times scatter widely.
"""
import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BLAS_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
if "--blas-threads" in sys.argv[:-1]:  # must be set before NumPy loads its BLAS
    for _name in BLAS_ENV:
        os.environ[_name] = sys.argv[sys.argv.index("--blas-threads") + 1]

import gpugrad as gg  # noqa: E402

SIZES = (784, 256, 256, 10)
BATCH = 128
LR = 0.05


def make_model(device):
    gg.manual_seed(0)
    params = []
    for fan_in, fan_out in zip(SIZES, SIZES[1:]):
        w = (gg.randn(fan_in, fan_out) * fan_in ** -0.5).to(device).requires_grad_()
        b = gg.zeros(fan_out, device=device, requires_grad=True)
        params += [w, b]
    x = gg.randn(BATCH, SIZES[0]).to(device)
    y = gg.randint(0, SIZES[-1], size=(BATCH,)).to(device)
    rows = gg.arange(BATCH, device=device)
    return params, x, y, rows


def step(params, x, y, rows):
    h = x
    for i in range(0, len(params), 2):
        h = h @ params[i] + params[i + 1]
        if i + 2 < len(params):
            h = h.relu()
    loss = -h.log_softmax(dim=1)[rows, y].mean()
    loss.backward()
    with gg.no_grad():
        for p in params:
            p.copy_(p - LR * p.grad)
            p.grad = None
    return loss.item()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40, help="timed steps per device")
    parser.add_argument("--blas-threads", type=int, default=None,
                        help="BLAS threads for NumPy (default: NumPy's own choice)")
    args = parser.parse_args()
    setups = {dev: make_model(dev) for dev in ("cpu", "sim")}
    for _ in range(3):  # warm up: NumPy buffers, the sim memory pool
        for setup in setups.values():
            step(*setup)
    times = {"cpu": [], "sim": []}
    losses = {}
    for i in range(args.steps):
        for dev in ("cpu", "sim") if i % 2 == 0 else ("sim", "cpu"):
            start = time.perf_counter()
            losses[dev] = step(*setups[dev])
            times[dev].append(time.perf_counter() - start)
    cpu_ms, sim_ms = (statistics.median(times[d]) * 1e3 for d in ("cpu", "sim"))
    cpu_best, sim_best = min(times["cpu"]) * 1e3, min(times["sim"]) * 1e3
    ratio = statistics.median(s / c for s, c in zip(times["sim"], times["cpu"]))
    stats = gg.sim.stats("sim:0")
    gg.sim.reset("sim:0")
    step(*setups["sim"])
    one = gg.sim.stats("sim:0")
    threads = args.blas_threads or "NumPy's default"
    print(f"MLP {'-'.join(map(str, SIZES))}, batch {BATCH}, {args.steps} steps per device, "
          f"BLAS threads: {threads}")
    print(f"cpu: {cpu_ms:.3f} ms/step   sim: {sim_ms:.3f} ms/step   (medians; fastest "
          f"{cpu_best:.3f} and {sim_best:.3f}; last loss cpu {losses['cpu']:.6f}, "
          f"sim {losses['sim']:.6f})")
    print(f"one sim step: {one.kernels} modeled kernels, modeled host {one.host_us:.1f} µs, "
          f"device busy {one.device_us:.1f} µs ({stats.kernels} kernels in the whole run)")
    print(f"modeling overhead: {(sim_ms - cpu_ms) * 1e3 / one.kernels:.1f} µs per modeled kernel")
    print(f"ratio sim/cpu wall time: {ratio:.3f}  (goal <= 1.3; median of paired steps; "
          f"fastest steps give {sim_best / cpu_best:.3f})")


if __name__ == "__main__":
    main()
