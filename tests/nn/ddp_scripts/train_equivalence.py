"""One rank of the data-parallel equivalence job that tests/nn/test_distributed_data_parallel.py
launches with ``mpiexec -n N``. On cpu and on sim, each rank checks, to float64 rounding, that
DistributedDataParallel training on its share of each batch leaves the same parameters as one
process training on the whole batch (which every rank computes itself), with and without
``no_sync`` accumulation, and that unused parameters are handled as PyTorch does. Prints
``rank R/N: ok`` on success; raises (non-zero exit) otherwise."""
import numpy as np

import gpugrad as gg
import gpugrad.distributed as dist
from gpugrad import nn
from gpugrad.nn.parallel import DistributedDataParallel as DDP
from gpugrad.nn.parallel.reducer import MIB

PER_RANK = 3  # examples per rank per step
STEPS = 3


def mlp(seed, device):
    gg.manual_seed(seed)
    return nn.MLP([5, 16, 16, 3], activation="tanh").to(device).double()


def loss_fn(out, y):
    return ((out - y) ** 2).mean()


def assert_same(what, params, reference):
    for (name, p), q in zip(params, reference):
        a, b = p.detach().cpu().numpy(), q.detach().cpu().numpy()
        if not np.allclose(a, b, rtol=1e-12, atol=1e-15):
            raise AssertionError(f"{what}: {name} differs by {np.abs(a - b).max():.3g}")


def check_training(rank, world, device):
    reference = mlp(0, device)
    ddp = DDP(mlp(0 if rank == 0 else 100 + rank, device), bucket_cap_mb=300 / MIB)  # three buckets
    assert len(ddp.bucket_sizes) >= 3, ddp.bucket_sizes
    assert_same("after wrap (rank 0's parameters)", ddp.module.named_parameters(),
                reference.parameters())
    rng = np.random.default_rng(42)  # the same global batches on every rank
    xs = gg.tensor(rng.standard_normal((STEPS, world * PER_RANK, 5)), device=device)
    ys = gg.tensor(rng.standard_normal((STEPS, world * PER_RANK, 3)), device=device)
    mine = slice(rank * PER_RANK, (rank + 1) * PER_RANK)
    opt = gg.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
    ref_opt = gg.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9)
    for step in range(STEPS):
        for model, optimizer, rows in ((ddp, opt, mine), (reference, ref_opt, slice(None))):
            optimizer.zero_grad()
            loss_fn(model(xs[step][rows]), ys[step][rows]).backward()
            optimizer.step()
    assert_same(f"after {STEPS} steps", ddp.module.named_parameters(), reference.parameters())

    opt.zero_grad()
    with ddp.no_sync():
        loss_fn(ddp(xs[0][mine]), ys[0][mine]).backward()
    loss_fn(ddp(xs[1][mine]), ys[1][mine]).backward()
    ref_opt.zero_grad()
    loss_fn(reference(xs[0]), ys[0]).backward()
    loss_fn(reference(xs[1]), ys[1]).backward()
    opt.step()
    ref_opt.step()
    assert_same("after no_sync accumulation", ddp.module.named_parameters(),
                reference.parameters())


class Branches(nn.Module):
    """``a`` always used, ``b`` only where ``use_b``, ``never`` never."""

    def __init__(self):
        super().__init__()
        self.a, self.b, self.never = nn.Linear(5, 3), nn.Linear(5, 3), nn.Linear(5, 3)

    def forward(self, x, use_b):
        return self.a(x) + self.b(x) if use_b else self.a(x)


def check_unused(rank, world, device):
    gg.manual_seed(1)
    net = Branches().to(device).double()
    gg.manual_seed(1)
    reference = Branches().to(device).double()
    rng = np.random.default_rng(7)
    x = gg.tensor(rng.standard_normal((world, 2, 5)), device=device)
    y = gg.tensor(rng.standard_normal((world, 2, 3)), device=device)
    strict = DDP(net)
    try:
        loss_fn(strict(x[rank], True), y[rank]).backward()
    except RuntimeError as error:
        assert "never.weight, never.bias" in str(error) and "find_unused_parameters=True" in \
            str(error), error
    else:
        raise AssertionError("an unused parameter raised no error")
    strict.reducer.remove_hooks()
    net.zero_grad()
    ddp = DDP(net, find_unused_parameters=True)
    loss_fn(ddp(x[rank], rank == 0), y[rank]).backward()  # only rank 0 uses b
    for r in range(world):  # the average of every rank's gradients, computed here
        loss_fn(reference(x[r], r == 0), y[r]).backward()
    for name, q in reference.named_parameters():
        if q.grad is not None:
            q.grad.div_(world)
    grads = [(name, p.grad) for name, p in net.named_parameters() if p.grad is not None]
    assert [name for name, _ in grads] == ["a.weight", "a.bias", "b.weight", "b.bias"], grads
    assert_same("unused parameters", grads,
                [q.grad for q in reference.parameters() if q.grad is not None])


def main():
    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    for device in ("cpu", "sim"):
        check_training(rank, world, device)
        check_unused(rank, world, device)
    dist.destroy_process_group()
    print(f"rank {rank}/{world}: ok", flush=True)


if __name__ == "__main__":
    main()
