"""One rank of tests/distributed/test_distributed_launch.py, started by a plain mpiexec: rank 1
raises an exception nothing catches while rank 0 waits in an all-reduce. The job must end at
once (rank 1 aborts it), not when rank 0's collective times out."""
import gpugrad as gg
import gpugrad.distributed as dist

dist.init_process_group("mpi")
t = gg.ones(3)
if dist.get_rank() == 1:
    raise ValueError("an error on rank 1")
dist.all_reduce(t)
print("rank 0 finished an all-reduce that rank 1 never joined")
