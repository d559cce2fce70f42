"""One rank of ``gpugrad demo --procs N``: the demo trained data-parallel over N processes.

``gpugrad demo --procs N`` launches this file as N MPI ranks (``gg.distributed.launch``); each
rank runs the demo (``gpugrad.cli_demo.run_demo``) on its own device (``sim:R``/``cuda:R`` for local
rank R; cpu stays cpu) with ``DistributedDataParallel`` and a ``DistributedSampler`` share of
every epoch (``--batch-size`` examples per rank per step). Rank 0 prints the demo's report,
each rank's throughput and the total, and writes the outputs; the other ranks stay quiet.
"""
import contextlib
import io
import os
import sys
import time

from gpugrad import distributed as dist
from gpugrad.cli import build_parser, report_failures
from gpugrad.cli_args import UsageError
from gpugrad.cli_demo import run_demo
from gpugrad.creation import tensor
from gpugrad.data import DataLoader, DistributedSampler
from gpugrad.device_registry import Device
from gpugrad.dtypes import float64
from gpugrad.nn.parallel import DistributedDataParallel


class DataParallelJob:
    """This process's part in a data-parallel demo: the hooks ``run_demo(args, job)`` calls to
    shard the data (``loader``), wrap the model (``wrap``), start each epoch (``start_epoch``)
    and report throughput (``finish_training``); ``writes`` is True on rank 0 only."""

    def __init__(self):
        self.rank, self.world_size = dist.get_rank(), dist.get_world_size()
        self.writes = self.rank == 0
        self.sampler = None
        self.started, self.epochs = None, 0

    def loader(self, dataset, args):
        """Batches of ``args.batch_size`` from this rank's share of ``dataset``."""
        self.sampler = DistributedSampler(dataset, self.world_size, self.rank, shuffle=True,
                                          seed=args.seed)
        return DataLoader(dataset, batch_size=args.batch_size, sampler=self.sampler)

    def wrap(self, model):
        """``model`` in ``DistributedDataParallel`` (rank 0's initial weights everywhere)."""
        return DistributedDataParallel(model)

    def start_epoch(self, epoch):
        """A new shuffle of the shares for ``epoch``; the clock starts with the first epoch."""
        self.sampler.set_epoch(epoch)
        if self.started is None:
            self.started = time.perf_counter()
        self.epochs = epoch + 1

    def finish_training(self):
        """Print (on rank 0) each rank's training throughput and the total, in examples/s:
        every rank's examples over the slowest rank's time."""
        elapsed = time.perf_counter() - self.started
        examples = len(self.sampler) * self.epochs
        table = tensor([0.0] * (2 * self.world_size), dtype=float64)
        table[self.rank] = examples
        table[self.world_size + self.rank] = elapsed
        dist.all_reduce(table)
        counts, times = table.tolist()[:self.world_size], table.tolist()[self.world_size:]
        if self.writes:
            for rank, (count, seconds) in enumerate(zip(counts, times)):
                print(f"rank {rank}: {count / seconds:,.0f} examples/s "
                      f"({int(count)} examples in {seconds:.2f} s)")
            print(f"total: {sum(counts) / max(times):,.0f} examples/s over {self.world_size} "
                  f"processes")


def rank_device(name, local_rank):
    """The device this rank trains on: ``sim``/``cuda`` without an index become the local
    rank's (one GPU per process); an explicit index or ``cpu`` is kept."""
    device = Device(name)
    if device.type == "cpu" or ":" in name:
        return name
    return str(Device(device.type, local_rank))


def main(argv):
    """Run one rank of ``gpugrad demo --procs N`` (``argv`` as the ``gpugrad`` command gets
    it); returns the exit status."""
    args = build_parser().parse_args(argv)
    dist.init_process_group("nccl" if Device(args.device).type == "cuda" else "mpi")
    args.device = rank_device(args.device, int(os.environ.get("LOCAL_RANK", "0")))  # set by init
    job = DataParallelJob()
    if not job.writes:
        args.no_progress = True
    quiet = (contextlib.nullcontext() if job.writes and not args.quiet
             else contextlib.redirect_stdout(io.StringIO()))

    def train():
        with quiet:
            run_demo(args, job)
        return 0

    try:
        return report_failures(f"gpugrad demo (rank {job.rank})", (UsageError,), train)
    except KeyboardInterrupt:
        return 130  # the launcher reports the interruption once
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
