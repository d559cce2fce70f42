"""The "sim" process group: one process standing in for N identical ranks, with the values those
ranks would compute and each collective modeled on a sim device's communication stream."""
import math

import pytest

import gpugrad as gg
import gpugrad.distributed as dist
from gpugrad.nn import MLP
from gpugrad.nn.parallel import DistributedDataParallel as DDP

Op = dist.ReduceOp
DEVICE = "sim:6"


@pytest.fixture
def world_of(request):
    """``world_of(n)`` initializes a sim group of ``n`` ranks; destroyed after the test."""
    def init(size, **kwargs):
        dist.init_process_group("sim", world_size=size, **kwargs)
    yield init
    if dist.is_initialized():
        dist.destroy_process_group()


@pytest.fixture
def sim_device():
    gg.sim.configure(DEVICE)
    yield DEVICE
    gg.sim.configure(DEVICE)


@pytest.mark.parametrize("size", [1, 4])
@pytest.mark.parametrize("device", ["cpu", "sim"])
def test_collectives_give_what_identical_ranks_would(world_of, sim_device, size, device):
    device = sim_device if device == "sim" else device
    world_of(size)
    assert (dist.get_rank(), dist.get_world_size(), dist.get_backend()) == (0, size, "sim")

    def reduced(values, op, dtype=gg.float64):
        t = gg.tensor(values, dtype=dtype, device=device)
        dist.all_reduce(t, op=op)
        return t.tolist()

    x = [1.5, -2.0, 3.0]
    assert reduced(x, Op.SUM) == [v * size for v in x]
    assert reduced(x, Op.PRODUCT) == [v ** size for v in x]
    for op in (Op.AVG, Op.MAX, Op.MIN):
        assert reduced(x, op) == x
    assert reduced([3, -7, 5], Op.AVG, gg.int64) == [3, -7, 5]
    assert reduced([3, 6], Op.BXOR, gg.int32) == ([3, 6] if size % 2 else [0, 0])
    assert reduced([3, 6], Op.BAND, gg.int32) == [3, 6]
    assert reduced([100, 3], Op.SUM, gg.int8) == [(100 * size + 128) % 256 - 128, 3 * size]
    assert reduced([True, False], Op.SUM, gg.bool) == [True, False]
    assert reduced([True, False], Op.BXOR, gg.bool) == ([True, False] if size % 2 else
                                                        [False, False])
    assert reduced([1.5, -0.25], Op.SUM, gg.bfloat16) == [1.5 * size, -0.25 * size]

    t = gg.tensor(x, dtype=gg.float64, device=device)
    work = dist.broadcast(t, src=0, async_op=True)
    assert work.wait() and work.is_completed() and t.tolist() == x
    outs = [gg.zeros(3, dtype=gg.float64, device=device) for _ in range(size)]
    dist.all_gather(outs, t)
    assert [o.tolist() for o in outs] == [x] * size
    whole = gg.zeros(size, 3, dtype=gg.float64, device=device)
    dist.all_gather_into_tensor(whole, t)
    assert whole.tolist() == [x] * size
    blocks = [gg.full((3,), float(r + 1), dtype=gg.float64, device=device)
              for r in range(size)]
    out = gg.zeros(3, dtype=gg.float64, device=device)
    dist.reduce_scatter(out, blocks)  # rank 0's block, from every rank
    assert out.tolist() == [1.0 * size] * 3
    dist.reduce_scatter_tensor(out, gg.cat(blocks), op=Op.MAX)
    assert out.tolist() == [1.0] * 3
    dist.barrier()


def test_another_rank_reduces_its_own_block(world_of):
    world_of(4, rank=2)
    out = gg.zeros(2)
    dist.reduce_scatter_tensor(out, gg.arange(8, dtype=gg.float32))
    assert out.tolist() == [16.0, 20.0]  # block 2 (4, 5) from each of 4 ranks


def test_collectives_are_modeled_on_the_comm_stream(world_of, sim_device):
    world_of(4)
    t = gg.ones(1 << 20, device=sim_device)
    gg.sim.reset(sim_device)
    dist.all_reduce(t, op=Op.AVG)
    expected_us, _, _ = gg.sim.collective_time("all_reduce", 4 << 20, 4)
    stats = gg.sim.stats(sim_device)
    assert math.isclose(stats.comm_busy_us, expected_us)
    assert stats.comm_us >= expected_us > 0


def test_shape_only_devices_model_time_and_move_no_values(world_of):
    gg.sim.configure(DEVICE, compute=False)
    try:
        world_of(8)
        t = gg.zeros(1024, 1024, dtype=gg.bfloat16, device=DEVICE)
        outs = [gg.empty(16, device=DEVICE) for _ in range(8)]
        dist.all_reduce(t)
        dist.broadcast(t, src=3)
        dist.all_gather(outs, gg.empty(16, device=DEVICE))
        dist.reduce_scatter(gg.empty(16, device=DEVICE), outs)
        dist.all_reduce(t, async_op=True).wait()
        assert gg.sim.stats(DEVICE).comm_busy_us > 0
        assert t.shape == (1024, 1024)
    finally:
        gg.sim.configure(DEVICE)


def test_ddp_on_the_sim_group_trains_as_one_process(world_of):
    world_of(4)
    gg.manual_seed(0)
    model, reference = MLP([4, 8, 3]).double(), MLP([4, 8, 3]).double()
    reference.load_state_dict(model.state_dict())
    x, y = gg.randn(5, 4, dtype=gg.float64), gg.randn(5, 3, dtype=gg.float64)
    ((DDP(model)(x) - y) ** 2).mean().backward()
    ((reference(x) - y) ** 2).mean().backward()
    for p, q in zip(model.parameters(), reference.parameters()):
        assert p.grad.tolist() == q.grad.tolist()  # the average of 4 equal ranks


def test_point_to_point_and_bad_worlds_are_refused(world_of):
    with pytest.raises(ValueError, match="world_size=N"):
        dist.init_process_group("sim")
    with pytest.raises(ValueError, match="rank 4 is not in a world of 4"):
        dist.init_process_group("sim", world_size=4, rank=4)
    world_of(2)
    for call in (lambda: dist.send(gg.ones(2), dst=1), lambda: dist.recv(gg.ones(2), src=1),
                 lambda: dist.isend(gg.ones(2), dst=1), lambda: dist.irecv(gg.ones(2))):
        with pytest.raises(RuntimeError, match="no peer processes"):
            call()
