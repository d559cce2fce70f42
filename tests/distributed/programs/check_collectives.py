"""One rank of tests/distributed/test_distributed_launch.py: every collective on cpu and sim
tensors, async and sync, against what NumPy computes from all ranks' inputs. Prints
"rank R of N: ok" when every check passed."""
import os

import numpy as np

import gpugrad as gg
import gpugrad.distributed as dist

dist.init_process_group("mpi")
RANK, SIZE = dist.get_rank(), dist.get_world_size()
# gpugrad run gives every rank torchrun's variables (one machine: local = global)
for name, value in (("RANK", RANK), ("WORLD_SIZE", SIZE), ("LOCAL_RANK", RANK),
                    ("LOCAL_WORLD_SIZE", SIZE)):
    assert os.environ[name] == str(value), (name, os.environ.get(name), value)
OPS = {dist.ReduceOp.SUM: lambda a: a.sum(0), dist.ReduceOp.MAX: lambda a: a.max(0),
       dist.ReduceOp.MIN: lambda a: a.min(0), dist.ReduceOp.PRODUCT: lambda a: a.prod(0)}


def values(rank, dtype, shape=(3, 5)):
    """Rank ``rank``'s input: small integers, so sums and products are exact in every dtype."""
    return np.random.default_rng(rank).integers(-4, 5, size=shape).astype(dtype)


def every_rank(dtype, shape=(3, 5)):
    return np.stack([values(r, dtype, shape) for r in range(SIZE)])


def check(tensor, expected, what):
    got = tensor.float().numpy() if tensor.dtype in (gg.bfloat16, gg.float16) else tensor.numpy()
    assert got.dtype == expected.dtype or tensor.dtype in (gg.bfloat16, gg.float16), what
    np.testing.assert_allclose(got, expected, rtol=1e-6, err_msg=what)


def mine(dtype, device, shape=(3, 5)):
    return gg.tensor(values(RANK, dtype, shape), device=device)


for device in ("cpu", "sim"):
    for dtype in ("float64", "float32", "int64"):
        where = f"{device} {dtype}"
        for async_op in (False, True):
            for op, reduce in OPS.items():
                t = mine(dtype, device)
                work = dist.all_reduce(t, op=op, async_op=async_op)
                if async_op:
                    assert work.wait() and work.is_completed()
                check(t, reduce(every_rank(dtype)), f"all_reduce {op} {where} async={async_op}")
        t = mine(dtype, device)
        dist.all_reduce(t, op=dist.ReduceOp.AVG)
        total = every_rank(dtype).sum(0)
        average = total / SIZE if dtype != "int64" else np.trunc(total / SIZE).astype(dtype)
        check(t, average, f"all_reduce AVG {where}")

        t = mine(dtype, device)
        dist.broadcast(t, src=SIZE - 1, async_op=True).wait()
        check(t, values(SIZE - 1, dtype), f"broadcast {where}")

        outs = [gg.zeros(3, 5, dtype=getattr(gg, dtype), device=device) for _ in range(SIZE)]
        dist.all_gather(outs, mine(dtype, device))
        for r, out in enumerate(outs):
            check(out, values(r, dtype), f"all_gather [{r}] {where}")
        out = gg.zeros(SIZE * 3, 5, dtype=getattr(gg, dtype), device=device)
        dist.all_gather_into_tensor(out, mine(dtype, device), async_op=True).wait()
        check(out, every_rank(dtype).reshape(SIZE * 3, 5), f"all_gather_into_tensor {where}")

        inputs = [mine(dtype, device) * (i + 1) for i in range(SIZE)]
        out = gg.zeros(3, 5, dtype=getattr(gg, dtype), device=device)
        dist.reduce_scatter(out, inputs)
        check(out, every_rank(dtype).sum(0) * (RANK + 1), f"reduce_scatter {where}")
        out = gg.zeros(2, 5, dtype=getattr(gg, dtype), device=device)
        dist.reduce_scatter_tensor(out, mine(dtype, device, (2 * SIZE, 5)),
                                   op=dist.ReduceOp.MAX)
        check(out, every_rank(dtype, (2 * SIZE, 5)).max(0)[2 * RANK:2 * RANK + 2],
              f"reduce_scatter_tensor {where}")

        # a ring: send to the next rank, receive from the previous one
        received = gg.zeros(3, 5, dtype=getattr(gg, dtype), device=device)
        works = [dist.isend(mine(dtype, device), (RANK + 1) % SIZE),
                 dist.irecv(received, (RANK - 1) % SIZE)]
        for work in works:
            work.wait()
        check(received, values((RANK - 1) % SIZE, dtype), f"isend/irecv {where}")
        if RANK == 0:
            dist.send(mine(dtype, device), 1, tag=7)
        elif RANK == 1:
            received = gg.zeros(3, 5, dtype=getattr(gg, dtype), device=device)
            assert dist.recv(received, tag=7) == 0
            check(received, values(0, dtype), f"send/recv from any rank {where}")

    for low in ("bfloat16", "float16"):  # MPI has no such types: reduced in float32
        t = gg.tensor(values(RANK, "float32") + 0.25, device=device).to(getattr(gg, low))
        dist.all_reduce(t)
        check(t, (every_rank("float32") + 0.25).sum(0), f"all_reduce SUM {device} {low}")
        t = gg.tensor(values(RANK, "float32"), device=device).to(getattr(gg, low))
        dist.broadcast(t, src=0)
        check(t, values(0, "float32"), f"broadcast {device} {low}")
    dist.barrier()

print(f"rank {RANK} of {SIZE}: ok", flush=True)
dist.destroy_process_group()
