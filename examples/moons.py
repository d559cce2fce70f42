"""micrograd's demo, twice: a 2-16-16-1 MLP separates the two moons with an SVM max-margin loss,
first with scalar ``gg.Value`` nodes (as micrograd does), then with ``gg.Tensor`` batches on any
device. Each run draws its decision boundary.

    python examples/moons.py [--out moons-out] [--steps 100] [--samples 100] [--device cpu|sim]
                             [--skip-value]

The scalar version builds one graph node per multiply and add: about 50,000 nodes per step,
which is why tensors (one node per layer) exist. A quick run: ``--steps 5 --samples 40``.
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import gpugrad as gg  # noqa: E402
from gpugrad.value import MLP  # noqa: E402


# ---- the scalar version: gpugrad.value's micrograd-style MLP of Values ----------------------
def train_value(x, y, steps, alpha=1e-4):
    """micrograd's loop: full batch, hinge loss + L2, SGD with a decaying learning rate."""
    model = MLP(2, [16, 16, 1], seed=1337)
    params = model.parameters()
    rows = [[gg.Value(float(a)) for a in row] for row in x]
    labels = [1.0 if label else -1.0 for label in y]
    for k in range(steps):
        scores = [model(row) for row in rows]
        losses = [(1 + -yi * si).relu() for yi, si in zip(labels, scores)]
        data_loss = sum(losses) * (1.0 / len(losses))
        reg_loss = alpha * sum(p * p for p in params)
        loss = data_loss + reg_loss
        accuracy = np.mean([(yi > 0) == (si.data > 0) for yi, si in zip(labels, scores)])
        model.zero_grad()
        loss.backward()
        lr = 1.0 - 0.9 * k / steps
        for p in params:
            p.data -= lr * p.grad
        if k % 10 == 0 or k == steps - 1:
            print(f"  Value  step {k:3d} loss {loss.data:.4f}, accuracy {accuracy:.0%}")

    def predict(points):
        return np.array([model([gg.Value(float(a)) for a in p]).data for p in points])

    return predict, accuracy


# ---- the tensor version: the same model as one gg.nn.MLP ------------------------------------
def train_tensor(x, y, steps, device, alpha=1e-4):
    gg.manual_seed(1337)
    model = gg.nn.MLP([2, 16, 16, 1], activation="relu").to(device)
    params = list(model.parameters())
    optimizer = gg.optim.SGD(params, lr=1.0)
    xt = gg.tensor(x, device=device)
    yt = gg.tensor(np.where(y > 0, 1.0, -1.0).astype(np.float32), device=device).reshape(-1, 1)
    for k in range(steps):
        scores = model(xt)
        data_loss = (1 - yt * scores).relu().mean()
        loss = data_loss + alpha * sum((p * p).sum() for p in params)
        optimizer.zero_grad()
        loss.backward()
        optimizer.param_groups[0]["lr"] = 1.0 - 0.9 * k / steps
        optimizer.step()
        if k % 10 == 0 or k == steps - 1:
            accuracy = ((scores > 0) == (yt > 0)).float().mean().item()
            print(f"  Tensor step {k:3d} loss {loss.item():.4f}, accuracy {accuracy:.0%}")

    def predict(points):
        with gg.no_grad():
            return model(gg.tensor(points.astype(np.float32), device=device)).numpy()[:, 0]

    return predict, accuracy


def plot_boundary(predict, x, y, title, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    h = 0.25
    xx, yy = np.meshgrid(np.arange(x[:, 0].min() - 1, x[:, 0].max() + 1, h),
                         np.arange(x[:, 1].min() - 1, x[:, 1].max() + 1, h))
    grid = np.c_[xx.ravel(), yy.ravel()]
    zz = (predict(grid) > 0).reshape(xx.shape)
    fig, ax = plt.subplots(figsize=(5, 4.5))
    ax.contourf(xx, yy, zz, cmap=plt.cm.Spectral, alpha=0.8)
    ax.scatter(x[:, 0], x[:, 1], c=y, s=40, cmap=plt.cm.Spectral, edgecolors="k")
    ax.set(xlim=(xx.min(), xx.max()), ylim=(yy.min(), yy.max()), title=title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="moons-out", help="folder for the PNGs")
    parser.add_argument("--steps", type=int, default=100, help="SGD steps (100, as micrograd)")
    parser.add_argument("--samples", type=int, default=100, help="points (100, as micrograd)")
    parser.add_argument("--device", default="cpu", help="device of the Tensor version")
    parser.add_argument("--skip-value", action="store_true", help="only the Tensor version")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error("--steps must be at least 1")
    if args.samples < 2:
        parser.error("--samples must be at least 2")
    try:
        gg.zeros(1, device=args.device)  # a bad or unusable --device fails now, not after training
    except (ValueError, gg.DeviceUnavailableError) as exc:
        parser.error(str(exc))
    os.makedirs(args.out, exist_ok=True)
    x_t, y_t = gg.data.make_moons(args.samples, noise=0.1, seed=0)
    x, y = x_t.numpy(), y_t.numpy()
    results = {}
    runs = [("tensor", lambda: train_tensor(x, y, args.steps, args.device))]
    if not args.skip_value:
        runs.insert(0, ("value", lambda: train_value(x, y, args.steps)))
    for name, run in runs:
        start = time.perf_counter()
        predict, accuracy = run()
        seconds = time.perf_counter() - start
        label = "gg.Value (scalars)" if name == "value" else f"gg.Tensor on {args.device}"
        path = plot_boundary(predict, x, y, f"{label}: accuracy {accuracy:.0%}",
                             os.path.join(args.out, f"moons_{name}.png"))
        print(f"{label}: accuracy {accuracy:.0%} after {args.steps} steps in {seconds:.1f} s "
              f"-> {path}")
        results[name] = accuracy
    return results


if __name__ == "__main__":
    main()
