"""One rank of the dead-rank test (tests/distributed/test_distributed_launch.py): after one
all-reduce that every rank completes, rank 1 dies without a word (os._exit); the others must
fail their next all-reduce with DistBackendError, which they print. The group's timeout
(GPUGRAD_DIST_TIMEOUT) is generous, so slow starts on a loaded machine pass; the wait after
the death has its own short one."""
import os

import gpugrad as gg
import gpugrad.distributed as dist

dist.init_process_group("mpi")
t = gg.ones(4)
dist.all_reduce(t)
if dist.get_rank() == 1:
    os._exit(3)
try:
    dist.all_reduce(t, async_op=True).wait(timeout=2)
except dist.DistBackendError as exc:
    print(f"rank {dist.get_rank()} caught: {exc}", flush=True)
    raise
