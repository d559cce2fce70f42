"""Time a small conv net's training step (forward, cross-entropy, backward, SGD step) in gpugrad
and in PyTorch, in the same run, on the same data and initial weights, float32.

The net: conv(3->16, 3x3, pad 1)-relu-maxpool(2), conv(16->32, 3x3, pad 1)-relu-maxpool(2),
flatten, linear(32*8*8 -> 10), on a batch of 32x32 RGB images. The two libraries' steps are
timed in turns (interleaved repeats, so a noisy neighbour slows both alike); each repeat times
``--steps`` back-to-back steps, and the reported figure is the median ms per step. The ratio is
gpugrad / PyTorch (target on cpu: <= 2.0x PyTorch CPU time, both on ``--threads`` threads).

Current figure on cpu (1 thread, batch 64): about 1.6x PyTorch's time (median of 3 runs:
1.36x, 1.63x, 1.67x on a shared 2-core machine; 2.4-2.6x before max pooling got its own
kernel). Where the remaining gap comes from: PyTorch runs convolutions with oneDNN's direct
(and, for 3x3, Winograd) kernels, which read each input pixel from cache for all the taps and
never materialize the windows; gpugrad copies every window into an im2col matrix (9x the input
for a 3x3 kernel, ~15% of the step), runs one BLAS GEMM over it (the GEMMs, skinny with 16 or 32
output channels, are ~1/3 of the step), and on the way back scatters the column gradient into
the image with col2im, plus a transposing copy from the GEMM's (O, N*H*W) result to
(N, O, H, W). Max pooling is one pass each way (``Backend.max_pool2d``: a running maximum over
the taps' strided views; its backward one scatter), ~20% of the step together.

    python bench/conv.py [--device cpu|sim|cuda] [--batch 64] [--reps 7] [--steps 3]

On ``--device cuda`` both run on the GPU (PyTorch with cuDNN): the place to measure gpugrad's
im2col + cuBLAS GEMM against cuDNN. On ``sim`` the gpugrad step runs on the simulated GPU,
PyTorch stays on the cpu, and the modeled per-op table is printed.
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
import gpugrad as gg  # noqa: E402

LR = 0.01
WARMUP = 2


def make_problem(batch, seed=0):
    """Initial weights (PyTorch's layouts), inputs and integer targets, as NumPy arrays."""
    rng = np.random.default_rng(seed)

    def uniform(fan_in, *shape):
        bound = 1 / np.sqrt(fan_in)
        return rng.uniform(-bound, bound, shape).astype(np.float32)

    params = [uniform(27, 16, 3, 3, 3), uniform(27, 16), uniform(144, 32, 16, 3, 3),
              uniform(144, 32), uniform(2048, 10, 2048), uniform(2048, 10)]
    x = rng.standard_normal((batch, 3, 32, 32)).astype(np.float32)
    y = rng.integers(0, 10, batch).astype(np.int64)
    return params, x, y


def forward(F, params, x):
    """The net on either library (both have the same ``F`` functions and Tensor methods)."""
    w1, b1, w2, b2, w3, b3 = params
    h = F.max_pool2d(F.relu(F.conv2d(x, w1, b1, padding=1)), 2)
    h = F.max_pool2d(F.relu(F.conv2d(h, w2, b2, padding=1)), 2)
    return F.linear(h.flatten(1), w3, b3)


def training_step(lib, problem, device, synchronize):
    """``(step, synchronize)``: one SGD training step of the net in ``lib`` (gpugrad or torch:
    the same names) on ``device``, and the call that waits for its device."""
    arrays, x, y = problem
    params = [lib.tensor(a, device=device, requires_grad=True) for a in arrays]
    xt, yt = lib.tensor(x, device=device), lib.tensor(y, device=device)
    optimizer = lib.optim.SGD(params, lr=LR)
    F = lib.nn.functional

    def step():
        loss = F.cross_entropy(forward(F, params, xt), yt)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss

    return step, synchronize


def time_interleaved(steps_by_name, reps, steps):
    """Median ms per step for each (step, sync), the libraries taking turns every repeat."""
    for step, sync in steps_by_name.values():
        for _ in range(WARMUP):
            step()
        sync()
    samples = {name: [] for name in steps_by_name}
    for _ in range(reps):
        for name, (step, sync) in steps_by_name.items():
            sync()
            start = time.perf_counter()
            for _ in range(steps):
                step()
            sync()
            samples[name].append((time.perf_counter() - start) * 1e3 / steps)
    return {name: statistics.median(values) for name, values in samples.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu, sim or cuda")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--reps", type=int, default=7, help="timed repeats per library")
    parser.add_argument("--steps", type=int, default=3, help="steps per repeat")
    parser.add_argument("--threads", type=int, default=1,
                        help="PyTorch's intra-op threads (match OPENBLAS_NUM_THREADS)")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    problem = make_problem(args.batch)
    simulated = gg.Device(args.device).type == "sim"
    torch_device = "cuda" if gg.Device(args.device).type == "cuda" else "cpu"
    ours = training_step(gg, problem, args.device,
                         gg.device_registry.get_backend(args.device).synchronize)
    theirs = training_step(torch, problem, torch_device, torch.cuda.synchronize
                           if torch_device == "cuda" else (lambda: None))
    loss_ours, loss_theirs = ours[0]().item(), theirs[0]().item()
    print(f"first loss: gpugrad {loss_ours:.6f}, PyTorch {loss_theirs:.6f}")
    if simulated:
        gg.sim.reset(args.device)
    result = time_interleaved({"gpugrad": ours, "PyTorch": theirs}, args.reps, args.steps)
    print(f"conv net training step, batch {args.batch}, 3x32x32, float32, gpugrad on "
          f"{args.device}, PyTorch {torch.__version__} on {torch_device} "
          f"({args.threads} thread{'s' if args.threads > 1 else ''}):")
    print(f"  gpugrad  {result['gpugrad']:8.2f} ms/step (median of {args.reps} x "
          f"{args.steps} steps)")
    print(f"  PyTorch  {result['PyTorch']:8.2f} ms/step")
    ratio = result["gpugrad"] / result["PyTorch"]
    print(f"  ratio    {ratio:8.2f}x PyTorch's time (gpugrad / PyTorch)")
    if simulated:
        print(gg.sim.stats(args.device).table(top=12))
    return {**result, "ratio": ratio}


if __name__ == "__main__":
    main()
