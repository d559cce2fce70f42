"""A small CNN of the PyTorch blitz's LeNet shape (conv-relu-pool, conv-relu-pool, flatten, three
linear layers) learns the 8x8 handwritten digits, written as the PyTorch program would be.

    python examples/cnn.py [--epochs 15] [--batch-size 32] [--lr 5e-3] [--device cpu|sim]

The blitz's LeNet takes 32x32 images through 5x5 convolutions; the digits are 8x8, so both
convolutions here are 3x3 with padding 1 (8x8 -> pool -> 4x4 -> pool -> 2x2). On ``sim`` the
run ends with the simulated GPU's per-op report: convolutions show up as ``im2col`` and
``matmul`` (GEMM) kernels, their input gradients as ``col2im``.
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import gpugrad as gg  # noqa: E402
import gpugrad.nn as nn  # noqa: E402
import gpugrad.nn.functional as F  # noqa: E402


class Net(nn.Module):
    """The blitz's LeNet, sized for 1x8x8 inputs."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 3, padding=1)
        self.conv2 = nn.Conv2d(6, 16, 3, padding=1)
        self.fc1 = nn.Linear(16 * 2 * 2, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.flatten(1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


def accuracy(net, x, y, batch=512):
    """The fraction of ``x`` that ``net`` classifies as ``y``."""
    correct = 0
    with gg.no_grad():
        for i in range(0, x.shape[0], batch):
            correct += (net(x[i:i + batch]).argmax(dim=1) == y[i:i + batch]).sum().item()
    return correct / x.shape[0]


def train(device="cpu", epochs=15, batch_size=32, lr=5e-3, seed=0):
    """Train on 80% of the digits; returns the test accuracy on the other 20%."""
    gg.manual_seed(seed)
    x, y = gg.data.load_digits()
    x = x.reshape(-1, 1, 8, 8)
    x_train, x_test, y_train, y_test = gg.data.train_test_split(x, y, test_size=0.2, seed=seed)
    x_train, y_train = x_train.to(device), y_train.to(device)
    x_test, y_test = x_test.to(device), y_test.to(device)
    net = Net().to(device)
    optimizer = gg.optim.Adam(net.parameters(), lr=lr)
    order = np.random.default_rng(seed)
    n = x_train.shape[0]
    for epoch in range(epochs):
        # a linear decay to 0: the last epochs settle instead of bouncing between minima
        optimizer.param_groups[0]["lr"] = lr * (1 - epoch / epochs)
        perm = gg.tensor(order.permutation(n), device=device)
        total = 0.0
        for i in range(0, n, batch_size):
            idx = perm[i:i + batch_size]
            loss = F.cross_entropy(net(x_train[idx]), y_train[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * idx.shape[0]
        print(f"epoch {epoch + 1:2d}: loss {total / n:.4f}, "
              f"test accuracy {accuracy(net, x_test, y_test):.1%}")
    return accuracy(net, x_test, y_test)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=5e-3,
                        help="Adam's first learning rate (decays linearly to 0)")
    parser.add_argument("--device", default="cpu", help="cpu, sim or cuda")
    parser.add_argument("--seed", type=int, default=0, help="initialization, split and order")
    args = parser.parse_args(argv)
    try:
        gg.zeros(1, device=args.device)  # a bad or unusable --device fails now
    except (ValueError, gg.DeviceUnavailableError) as exc:
        parser.error(str(exc))
    simulated = gg.Device(args.device).type == "sim"
    if simulated:
        gg.sim.reset(args.device)
    start = time.perf_counter()
    result = train(args.device, args.epochs, args.batch_size, args.lr, args.seed)
    print(f"test accuracy {result:.1%} on {args.device} after {args.epochs} epochs in "
          f"{time.perf_counter() - start:.1f} s")
    if simulated:
        print(gg.sim.stats(args.device).table(top=12))
    return result


if __name__ == "__main__":
    main()
