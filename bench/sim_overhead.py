"""The simulator's overhead: one training step of a 784-256-256-10 MLP at batch 128 on ``sim``
against the same step on ``cpu``, measured in this run. Goal (issue 3): sim / cpu <= 1.3.

The step is plain Tensor ops (matmul, bias add, relu, log_softmax, gather, mean), backward, and a
manual SGD update under ``gg.no_grad()``, ending with ``loss.item()`` (a read-back that waits for
the device). Steps alternate between the devices so both see the same machine load; the ratio
is of the median step times.

    python bench/sim_overhead.py [--steps N]
"""
import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

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
    args = parser.parse_args()
    setups = {dev: make_model(dev) for dev in ("cpu", "sim")}
    for _ in range(3):  # warm up: NumPy buffers, the sim memory pool
        for setup in setups.values():
            step(*setup)
    times = {"cpu": [], "sim": []}
    losses = {}
    for _ in range(args.steps):
        for dev, setup in setups.items():
            start = time.perf_counter()
            losses[dev] = step(*setup)
            times[dev].append(time.perf_counter() - start)
    cpu_ms = statistics.median(times["cpu"]) * 1e3
    sim_ms = statistics.median(times["sim"]) * 1e3
    stats = gg.sim.stats("sim:0")
    gg.sim.reset("sim:0")
    step(*setups["sim"])
    one = gg.sim.stats("sim:0")
    print(f"MLP {'-'.join(map(str, SIZES))}, batch {BATCH}, {args.steps} steps per device")
    print(f"cpu: {cpu_ms:.3f} ms/step   sim: {sim_ms:.3f} ms/step   (last loss cpu "
          f"{losses['cpu']:.6f}, sim {losses['sim']:.6f})")
    print(f"one sim step: {one.kernels} modeled kernels, modeled host {one.host_us:.1f} µs, "
          f"device busy {one.device_us:.1f} µs ({stats.kernels} kernels in the whole run)")
    print(f"ratio sim/cpu wall time: {sim_ms / cpu_ms:.3f}  (goal <= 1.3)")


if __name__ == "__main__":
    main()
