"""One epoch of the digits MLP (64-128-64-10, ReLU, Adam, batch 64) three ways: gpugrad on
``cpu``, PyTorch on CPU and hand-written NumPy. Prints each time and the ratios, all measured in
this run. The goal is gpugrad within 1.3x of PyTorch.

    python bench/train.py [--repeats 7] [--batch-size 64]

Each implementation does the same work per step: forward, softmax cross-entropy, backward,
Adam update; the data order is the same fixed permutation. Times are the median over
``--repeats`` epochs after one warm-up epoch; the three take turns within each repeat.
"""
import argparse
import os
import statistics
import sys
import time

# One thread for every library: at these sizes threads only add synchronization, and the
# machine may be shared. Set before NumPy loads its BLAS.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SIZES = [64, 128, 64, 10]
LR = 1e-2


def _digits():
    from sklearn.datasets import load_digits

    d = load_digits()
    return (d.data / 16.0).astype(np.float32), d.target.astype(np.int64)


def _batches(n, batch_size, seed=0):
    order = np.random.default_rng(seed).permutation(n)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


def _timed(epochs, repeats):
    """Median seconds per epoch of each ``epochs[name]()``. The implementations take turns
    within each repeat, so a busy moment on a shared machine hits all of them alike."""
    for run_epoch in epochs.values():
        run_epoch()  # warm-up: first-call costs (allocations, imports, caches)
    times = {name: [] for name in epochs}
    for _ in range(repeats):
        for name, run_epoch in epochs.items():
            start = time.perf_counter()
            run_epoch()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


# ---- gpugrad ---------------------------------------------------------------------------------
def gpugrad_epoch(x, y, batches):
    import gpugrad as gg
    from gpugrad.nn import functional as F

    gg.manual_seed(0)
    model = gg.nn.MLP(SIZES)
    opt = gg.optim.Adam(model.parameters(), lr=LR)
    xt, yt = gg.tensor(x), gg.tensor(y)
    index = [gg.tensor(b) for b in batches]

    def epoch():
        for idx in index:
            loss = F.cross_entropy(model(xt[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        return loss.item()

    return epoch


# ---- PyTorch ---------------------------------------------------------------------------------
def torch_epoch(x, y, batches):
    import torch

    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    torch.manual_seed(0)
    layers = []
    for i, (n_in, n_out) in enumerate(zip(SIZES, SIZES[1:])):
        layers.append(torch.nn.Linear(n_in, n_out))
        if i < len(SIZES) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    index = [torch.from_numpy(b) for b in batches]

    def epoch():
        for idx in index:
            loss = torch.nn.functional.cross_entropy(model(xt[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        return loss.item()

    return epoch


# ---- NumPy by hand ---------------------------------------------------------------------------
def numpy_epoch(x, y, batches):
    rng = np.random.default_rng(0)
    params = []
    for n_in, n_out in zip(SIZES, SIZES[1:]):
        bound = 1 / np.sqrt(n_in)
        params += [rng.uniform(-bound, bound, (n_in, n_out)).astype(np.float32),
                   rng.uniform(-bound, bound, n_out).astype(np.float32)]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    state = {"t": 0}
    n_layers = len(SIZES) - 1

    def step(xb, yb):
        acts = [xb]
        for i in range(n_layers):
            z = acts[-1] @ params[2 * i] + params[2 * i + 1]
            acts.append(np.maximum(z, 0) if i < n_layers - 1 else z)
        logits = acts[-1]
        shifted = logits - logits.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        total = e.sum(axis=1, keepdims=True)
        rows = np.arange(len(yb))
        loss = float(np.mean(np.log(total[:, 0]) - shifted[rows, yb]))
        grad = e / total
        grad[rows, yb] -= 1
        grad /= len(yb)
        grads = [None] * len(params)
        for i in reversed(range(n_layers)):
            grads[2 * i] = acts[i].T @ grad
            grads[2 * i + 1] = grad.sum(axis=0)
            if i:
                grad = (grad @ params[2 * i].T) * (acts[i] > 0)
        state["t"] += 1
        t = state["t"]
        c1, c2 = 1 - 0.9 ** t, (1 - 0.999 ** t) ** 0.5
        for p, g, mi, vi in zip(params, grads, m, v):
            mi *= 0.9
            mi += 0.1 * g
            vi *= 0.999
            vi += 0.001 * (g * g)
            p -= (LR / c1) * mi / (np.sqrt(vi) / c2 + 1e-8)
        return loss

    def epoch():
        for idx in batches:
            loss = step(x[idx], y[idx])
        return loss

    return epoch


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args(argv)
    x, y = _digits()
    batches = _batches(len(x), args.batch_size)
    print(f"one epoch of the digits MLP {SIZES}: {len(x)} examples, {len(batches)} steps of "
          f"{args.batch_size}, Adam; median of {args.repeats} epochs")
    epochs = {"gpugrad cpu": gpugrad_epoch(x, y, batches)}
    label = None
    try:
        import torch

        label = f"PyTorch {torch.__version__} CPU ({os.environ['OMP_NUM_THREADS']} thread)"
        epochs[label] = torch_epoch(x, y, batches)
    except ImportError:
        print("PyTorch is not installed: no PyTorch baseline (pip install torch)")
    epochs["NumPy by hand"] = numpy_epoch(x, y, batches)
    times = _timed(epochs, args.repeats)
    base = times["gpugrad cpu"]
    for name, seconds in times.items():
        per_step = seconds / len(batches) * 1e6
        print(f"  {name:<40} {seconds * 1e3:8.2f} ms/epoch {per_step:8.1f} µs/step "
              f"  gpugrad/this = {base / seconds:5.2f}x")
    if label:
        ratio = base / times[label]
        print(f"gpugrad cpu / PyTorch CPU = {ratio:.2f}x (goal <= 1.3x: "
              f"{'met' if ratio <= 1.3 else 'not met'})")


if __name__ == "__main__":
    main()
