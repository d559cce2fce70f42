"""Data-parallel training of the digits MLP, written as the PyTorch DDP program would be.

    gpugrad run -n 2 examples/ddp.py [--epochs 10] [--batch-size 32] [--lr 1e-2] [--device cpu|sim]
    mpiexec -n 2 python examples/ddp.py          (the same, started by MPI directly)

Every process builds the same model; ``DistributedDataParallel`` broadcasts rank 0's weights at
wrap time and averages the gradients over the processes during ``backward()`` (bucketed
all-reduces that overlap the backward pass). ``DistributedSampler`` gives each process its own
share of every epoch, so N processes go through the data N times faster. Each rank prints its
throughput; rank 0 prints the total and the test accuracy. On ``sim`` rank R trains on
``sim:R`` (one simulated GPU per process).
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import gpugrad as gg  # noqa: E402
import gpugrad.distributed as dist  # noqa: E402
import gpugrad.nn.functional as F  # noqa: E402
from gpugrad.data import DataLoader, DistributedSampler, TensorDataset  # noqa: E402
from gpugrad.nn.parallel import DistributedDataParallel as DDP  # noqa: E402


def main(argv=None):
    """Train on this rank's shares; returns the test accuracy (the same on every rank)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32, help="examples per process per step")
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--device", default="cpu", help="cpu or sim (sim:RANK per process)")
    args = parser.parse_args(argv)

    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    device = args.device
    if device != "cpu" and ":" not in device:  # one simulated GPU per process on this node
        device = f"{device}:{os.environ.get('LOCAL_RANK', '0')}"  # set by init_process_group

    gg.manual_seed(0)  # the same split on every rank
    x, y = gg.data.load_digits()
    x_train, x_test, y_train, y_test = gg.data.train_test_split(x, y, test_size=0.2, seed=0)
    train = TensorDataset(x_train.to(device), y_train.to(device))
    sampler = DistributedSampler(train, seed=0)  # this rank's share of each epoch
    loader = DataLoader(train, batch_size=args.batch_size, sampler=sampler)
    gg.manual_seed(rank)  # different initial weights per rank: DDP broadcasts rank 0's
    model = DDP(gg.nn.MLP([64, 128, 64, 10], activation="relu").to(device))
    optimizer = gg.optim.Adam(model.parameters(), lr=args.lr)

    start = time.perf_counter()
    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)  # a new shuffle, the same on every rank
        for xb, yb in loader:
            loss = F.cross_entropy(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()  # gradients come back averaged over the processes
            optimizer.step()
    loss.item()  # wait for the device before reading the clock
    elapsed = time.perf_counter() - start
    examples = len(sampler) * args.epochs
    print(f"rank {rank}/{world} on {device}: {examples / elapsed:,.0f} examples/s "
          f"({examples} examples in {elapsed:.2f} s)", flush=True)

    total, slowest = gg.tensor([float(examples)]), gg.tensor([elapsed])
    dist.all_reduce(total)
    dist.all_reduce(slowest, op=dist.ReduceOp.MAX)
    with gg.no_grad():
        predictions = model(x_test.to(device)).argmax(dim=1)
    accuracy = (predictions == y_test.to(device)).float().mean().item()
    if rank == 0:
        print(f"total: {total.item() / slowest.item():,.0f} examples/s over {world} processes; "
              f"test accuracy {accuracy:.4f}", flush=True)
    dist.destroy_process_group()
    return accuracy


if __name__ == "__main__":
    main()
