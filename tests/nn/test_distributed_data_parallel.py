"""DistributedDataParallel: bucketing, overlap with backward, no_sync, unused parameters and the
wrapper's surface, in one process against a stand-in world; then real MPI jobs (``mpiexec -n 2``
and ``-n 4``) that must train exactly as one process does on the whole batch."""
import importlib.util
import os
import shutil
import subprocess
import sys

import pytest

import gpugrad as gg
import gpugrad.distributed as dist
from gpugrad import nn
from gpugrad.nn.parallel import DistributedDataParallel as DDP
from gpugrad.nn.parallel.reducer import FIRST_BUCKET_BYTES, MIB, assign_buckets

SCRIPT = os.path.join(os.path.dirname(__file__), "ddp_scripts", "train_equivalence.py")


class FakeWorld:
    """``size`` ranks that all hold this process's values: a SUM all-reduce multiplies by
    ``size``, AVG and MAX change nothing. Records each collective with what was ready at the
    time."""

    def __init__(self, monkeypatch, size=4, watch=None):
        self.size, self.watch = size, watch
        self.reduces, self.broadcasts, self.waits = [], [], 0
        for name in ("is_initialized", "get_world_size", "get_rank", "all_reduce", "broadcast"):
            monkeypatch.setattr(dist, name, getattr(self, name))

    def is_initialized(self):
        return True

    def get_world_size(self, group=None):
        return self.size

    def get_rank(self, group=None):
        return 0

    def all_reduce(self, tensor, op=dist.ReduceOp.SUM, group=None, async_op=False):
        ready = [p.grad is not None for p in self.watch] if self.watch else None
        self.reduces.append((tensor.numel(), op, async_op, ready))
        if op == dist.ReduceOp.SUM:
            tensor.mul_(self.size)
        return self if async_op else None

    def broadcast(self, tensor, src=0, group=None, async_op=False):
        self.broadcasts.append((tensor.numel(), src))

    def wait(self):
        self.waits += 1
        return True


def mlp(seed=0, device="cpu"):
    gg.manual_seed(seed)
    return nn.MLP([4, 8, 8, 3], activation="tanh").to(device).double()


def batch(seed=1, n=6, device="cpu"):
    gg.manual_seed(seed)
    return gg.randn(n, 4, dtype=gg.float64, device=device), gg.randn(n, 3, dtype=gg.float64,
                                                                      device=device)


def loss_of(model, x, y):
    return ((model(x) - y) ** 2).mean()


CAP_300_BYTES = 300 / MIB  # 37.5 float64s: the MLP's six parameters fall into two buckets


def test_buckets_fill_in_reverse_order_until_they_reach_the_cap(monkeypatch):
    FakeWorld(monkeypatch)
    ddp = DDP(mlp(), bucket_cap_mb=CAP_300_BYTES)
    # 2.bias, 2.weight, 1.bias (280 bytes), 1.weight (792: closed) | 0.bias, 0.weight (320)
    assert ddp.reducer.buckets == [[5, 4, 3, 2], [1, 0]]
    assert ddp.bucket_sizes == [4, 2]
    assert DDP(mlp()).bucket_sizes == [6]  # 1 MiB (the default first bucket) holds everything
    # finding unused parameters, PyTorch keeps the buckets it filled in registration order:
    # 0.weight, 0.bias (320: closed) | 1.weight (512) | 1.bias, 2.weight, 2.bias; reversed
    assert DDP(mlp(), bucket_cap_mb=CAP_300_BYTES,
               find_unused_parameters=True).reducer.buckets == [[3, 4, 5], [2], [0, 1]]


def test_buckets_split_by_dtype_and_the_first_is_small():
    params = [gg.zeros(4, dtype=gg.float32), gg.zeros(4, dtype=gg.float64),
              gg.zeros(4, dtype=gg.float32)]
    assert assign_buckets(params, cap_bytes=1000) == [[2, 0], [1]]
    # each dtype fills its own bucket; buckets come in the order they closed
    assert assign_buckets(params, cap_bytes=32) == [[1], [2, 0]]
    # ...and each dtype's first bucket has the first cap
    assert assign_buckets(params, cap_bytes=32, first_cap_bytes=16) == [[2], [1], [0]]
    layers = [gg.zeros(n) for n in (2 ** 18, 8, 2 ** 18, 8, 2 ** 18, 8)]  # 1 MiB weights
    assert assign_buckets(layers, 25 * MIB, FIRST_BUCKET_BYTES) == [[5, 4], [3, 2, 1, 0]]


SIZES = [(1000, "float32"), (10, "float32"), (70000, "float64"), (3, "float64"),
         (300000, "float32"), (7, "float16"), (2 ** 20, "float32"), (5, "float32"),
         (2 ** 19, "float16"), (64, "float64")]


def _partition(buckets):
    return sorted(sorted(b) for b in buckets)


@pytest.mark.parametrize("first_mb, cap_mb", [(1, 25), (0.25, 1), (0.5, 0.5)])
def test_buckets_match_pytorchs_assignment(first_mb, cap_mb):
    torch = pytest.importorskip("torch")
    torch_dist = pytest.importorskip("torch.distributed")
    assign = getattr(torch_dist, "_compute_bucket_assignment_by_size", None)
    if assign is None:
        pytest.skip("this torch has no distributed support")
    limits = [int(first_mb * MIB), int(cap_mb * MIB)]
    for sizes in (SIZES, [(n, "float32") for n, _ in SIZES]):
        ours = [gg.zeros(n, dtype=getattr(gg, d)) for n, d in sizes]
        theirs = [torch.zeros(n, dtype=getattr(torch, d)) for n, d in sizes]
        # after its first iteration PyTorch re-buckets the parameters in the order their
        # gradients became ready (here: reverse registration order), the first bucket smaller
        ready = list(reversed(range(len(sizes))))
        rebuilt, _ = assign([theirs[i] for i in ready], limits, [], ready)
        # with find_unused_parameters it keeps its initial assignment, reversed
        initial, _ = assign(theirs, limits)
        got = (assign_buckets(ours, limits[1], limits[0]),
               assign_buckets(ours, limits[1], limits[0], ready_order=False))
        if len({d for _, d in sizes}) == 1:
            assert got == (rebuilt, initial[::-1])
        else:  # PyTorch appends the partly filled buckets of several dtypes in hash order
            assert tuple(map(_partition, got)) == (_partition(rebuilt), _partition(initial))


def test_wrap_broadcasts_rank_zero_state_and_reduces_while_backward_runs(monkeypatch):
    model, reference = mlp(), mlp()
    world = FakeWorld(monkeypatch, watch=list(model.parameters()))
    ddp = DDP(model, bucket_cap_mb=CAP_300_BYTES)
    assert world.broadcasts == [(32 + 8 + 64 + 8 + 24 + 3, 0)]  # one coalesced float64 group
    x, y = batch()
    loss_of(ddp, x, y).backward()
    loss_of(reference, x, y).backward()
    assert [(n, op, async_op) for n, op, async_op, _ in world.reduces] == \
        [(99, dist.ReduceOp.AVG, True), (40, dist.ReduceOp.AVG, True)]
    # The first bucket started before the first layer's gradients existed: it overlaps them.
    assert world.reduces[0][3] == [False, False, True, True, True, True]
    assert world.waits == 2
    for p, q in zip(model.parameters(), reference.parameters()):
        assert p.grad.tolist() == q.grad.tolist()  # the average of 4 equal ranks


def test_no_sync_accumulates_locally_then_reduces_the_sum(monkeypatch):
    model, reference = mlp(), mlp()
    world = FakeWorld(monkeypatch)
    ddp = DDP(model, bucket_cap_mb=CAP_300_BYTES)
    (x1, y1), (x2, y2) = batch(1), batch(2)
    with ddp.no_sync():
        loss_of(ddp, x1, y1).backward()
        assert ddp.require_backward_grad_sync is False
    assert world.reduces == [] and ddp.require_backward_grad_sync is True
    loss_of(ddp, x2, y2).backward()
    assert len(world.reduces) == 2
    loss_of(reference, x1, y1).backward()
    loss_of(reference, x2, y2).backward()
    for p, q in zip(model.parameters(), reference.parameters()):
        assert p.grad.tolist() == q.grad.tolist()


def test_a_backward_without_a_forward_through_the_wrapper_is_not_reduced(monkeypatch):
    model = mlp()
    world = FakeWorld(monkeypatch)
    ddp = DDP(model)
    x, y = batch()
    loss_of(model, x, y).backward()  # the inner module, not the wrapper
    with gg.no_grad():
        ddp(x)
    assert world.reduces == []


class TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.used = nn.Linear(4, 3).double()
        self.unused = nn.Linear(4, 3).double()

    def forward(self, x):
        return self.used(x)


def test_unused_parameters_raise_pytorchs_error(monkeypatch):
    FakeWorld(monkeypatch)
    ddp = DDP(TwoHeads())
    x, y = batch()
    with pytest.raises(RuntimeError) as error:
        loss_of(ddp, x, y).backward()
    message = str(error.value)
    assert "parameters that were not used in producing loss" in message
    assert "find_unused_parameters=True" in message
    assert "Parameters which did not receive grad for rank 0: unused.weight, unused.bias" in message
    assert "Parameter indices which did not receive grad for rank 0: 2 3" in message
    with pytest.raises(RuntimeError, match="unused.weight"):  # the next iteration still checks
        loss_of(ddp, x, y).backward()


def test_find_unused_parameters_reduces_zeros_and_leaves_unused_grads(monkeypatch):
    world = FakeWorld(monkeypatch)
    net = TwoHeads()
    ddp = DDP(net, find_unused_parameters=True)
    x, y = batch()
    loss_of(ddp, x, y).backward()
    # the bucket (zeros for the unused head) and which parameters any rank used
    assert [(n, op) for n, op, _, _ in world.reduces] == [(30, dist.ReduceOp.AVG),
                                                        (4, dist.ReduceOp.MAX)]
    assert net.unused.weight.grad is None and net.used.weight.grad is not None
    assert DDP(TwoHeads(), static_graph=True).reducer.find_unused_parameters


def test_gradient_as_bucket_view_points_grads_into_the_bucket(monkeypatch):
    FakeWorld(monkeypatch)
    model, reference = mlp(), mlp()
    ddp = DDP(model, gradient_as_bucket_view=True)
    x, y = batch()
    loss_of(ddp, x, y).backward()
    loss_of(reference, x, y).backward()
    for p, q in zip(model.parameters(), reference.parameters()):
        assert p.grad.tolist() == q.grad.tolist()
    flat = model[0].weight.grad._base  # one bucket holds every gradient
    assert flat is not None and all(p.grad._base is flat for p in model.parameters())
    flat.zero_()
    assert all(not p.grad.any().item() for p in model.parameters())
    loss_of(DDP(reference), x, y).backward()
    assert all(q.grad._base is None for q in reference.parameters())  # copied back


def test_wrapper_surface(monkeypatch):
    world = FakeWorld(monkeypatch)
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3)).double()
    ddp = DDP(model)
    assert ddp.module is model
    assert list(ddp.state_dict()) == ["module." + k for k in model.state_dict()]
    x = batch()[0]
    before = len(world.broadcasts)
    assert ddp(x).tolist() == model(x).tolist()
    # the buffers before each forward: BatchNorm's float64 statistics and its int64 counter
    assert world.broadcasts[before:] == [(6, 0), (1, 0)]
    DDP(model, broadcast_buffers=False)(x)
    assert len(world.broadcasts) == before + 4  # only the wrap-time broadcasts


def test_bad_arguments_are_named(monkeypatch):
    with pytest.raises(RuntimeError, match="Default process group has not been initialized"):
        monkeypatch.setattr(dist, "is_initialized", lambda: False)
        DDP(mlp())
    FakeWorld(monkeypatch)
    with pytest.raises(TypeError, match="wraps a gg.nn.Module"):
        DDP(lambda x: x)
    with pytest.raises(RuntimeError, match="doesn't have any parameter that requires a gradient"):
        DDP(nn.ReLU())
    with pytest.raises(ValueError, match="bucket_cap_mb must be a positive number"):
        DDP(mlp(), bucket_cap_mb=0)
    with pytest.raises(ValueError, match="device_ids must be None or a list of one device"):
        DDP(mlp(), device_ids=[0, 1])
    with pytest.raises(ValueError, match="move the module first"):
        DDP(mlp(), device_ids=["sim:0"])
    assert DDP(mlp(), device_ids=["cpu"]).device == gg.Device("cpu")


def _mpiexec():
    return shutil.which("mpiexec", path=os.path.dirname(sys.executable)) or \
        shutil.which("mpiexec")


@pytest.mark.slow  # real MPI launches (CI's lowest-NumPy run leaves them out)
@pytest.mark.parametrize("ranks", [2, 4])
def test_data_parallel_training_matches_one_process_on_the_whole_batch(ranks):
    if importlib.util.find_spec("mpi4py") is None or _mpiexec() is None:
        pytest.skip("needs mpi4py and mpiexec (pip install 'gpugrad[mpi]')")
    mpiexec = _mpiexec()
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    done = subprocess.run([mpiexec, "-n", str(ranks), sys.executable, SCRIPT],
                          capture_output=True, text=True, timeout=120, env=env)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    for rank in range(ranks):
        assert f"rank {rank}/{ranks}: ok" in done.stdout, output
