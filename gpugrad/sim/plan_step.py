"""One data-parallel training step of rank 0, run on a sim device with its all-reduces modeled.

``gg.sim.plan`` (planner.py) calls ``measure_step`` once per GPU count. Under a ``"sim"``
process group of that many ranks (``gg.distributed``: one process standing in for identical
ranks, each collective modeled on the device's communication stream at the cost the cluster
model gives it), the model is wrapped in the real ``DistributedDataParallel``, so the step is
what each rank of a job runs: the forward, the loss, the backward with DDP's bucketed
all-reduces overlapping it, then the optimizer step. Every rank does the same work on its own
batch, so rank 0's timeline is the job's.
"""
import gc
from contextlib import contextmanager
from typing import NamedTuple

from .. import distributed as dist
from .. import profiler
from ..device_registry import get_backend
from ..errors import OutOfMemoryError
from ..nn import functional as F
from ..nn.parallel import DistributedDataParallel
from ..optim import SGD, Adam, AdamW
from . import plan_models

#: the optimizers a plan can name, with their PyTorch defaults (the hyperparameters do not
#: change the step's cost)
OPTIMIZERS = {"adam": Adam, "adamw": AdamW, "sgd": SGD}


class StepResult(NamedTuple):
    """What one measured step took on rank 0 (µs of modeled time, bytes of device memory)."""
    step_us: float          # host time from a synchronize before the step to one after it
    compute_us: float       # kernels' time on the compute stream
    comm_us: float          # collectives' time on the communication stream
    exposed_comm_us: float  # time the GPU or the host waited for a collective, idle
    peak_bytes: int         # most device memory in use (the first step included)
    buckets: int            # all-reduces per step (0 on one GPU)
    samples: int            # the per-GPU batch (the inputs' first dimension)
    trace: object           # the gg.profiler.profile of the measured step


class OutOfMemory(NamedTuple):
    """A step that does not fit: ``needed`` bytes of device memory at its peak, of
    ``capacity``."""
    needed: int
    capacity: int


def _train_step(model, work, optimizer, loss_fn):
    optimizer.zero_grad()
    loss_fn(model(work.inputs), work.targets).backward()
    optimizer.step()


@contextmanager
def _data_parallel(module, world_size, bucket_cap_mb):
    """``module`` wrapped in DistributedDataParallel under a "sim" process group of
    ``world_size`` ranks, for the duration of the block (the bare module on one GPU)."""
    if world_size == 1:
        yield module
        return
    dist.init_process_group("sim", world_size=world_size)
    try:
        yield DistributedDataParallel(module, bucket_cap_mb=bucket_cap_mb)
    finally:
        dist.destroy_process_group()


def measure_step(configure, device, model, batch, dtype, world_size, optimizer="adam",
                 loss=None, bucket_cap_mb=None, input_shape=None):
    """Build ``model`` on the sim ``device`` (``configure(memory_bytes)`` sets it up first),
    run one warm-up step (it allocates the gradients and optimizer state) and one measured step,
    wrapped in DistributedDataParallel (``bucket_cap_mb``: its argument) for ``world_size``
    ranks when there is more than one. Returns a ``StepResult``, or
    ``OutOfMemory`` when the step does not fit in the device's memory."""
    try:
        return _measure(configure, device, model, batch, dtype, world_size, optimizer, loss,
                        bucket_cap_mb, input_shape, None)
    except OutOfMemoryError as err:
        capacity = err.capacity
    # again without a limit, to say how much it needs
    result = _measure(configure, device, model, batch, dtype, world_size, optimizer, loss,
                      bucket_cap_mb, input_shape, 2**62)
    return OutOfMemory(result.peak_bytes, capacity)


def _measure(configure, device, model, batch, dtype, world_size, optimizer, loss,
             bucket_cap_mb, input_shape, memory_bytes):
    backend = get_backend(device)
    gc.collect()  # the last run's tensors, some in reference cycles, before the restart
    configure(memory_bytes)
    work = plan_models.build_workload(model, device, batch, dtype, input_shape)
    optim = OPTIMIZERS[optimizer]([p for p in work.module.parameters() if p.requires_grad])
    loss_fn = loss or F.cross_entropy
    with _data_parallel(work.module, world_size, bucket_cap_mb) as trained:
        _train_step(trained, work, optim, loss_fn)  # warm-up: allocates grads, optimizer state
        backend.synchronize()
        first_peak = _peak(backend)
        backend.reset()  # clocks from 0, the peak from what the warm step left in use
        with profiler.profile(activities=[profiler.ProfilerActivity.CUDA]) as prof:
            _train_step(trained, work, optim, loss_fn)
            backend.synchronize()
        buckets = len(trained.bucket_sizes) if trained is not work.module else 0
    with backend.lock:  # the clocks count from the reset: the synchronize before the step
        clocks = backend.timeline.snapshot()
    return StepResult(clocks["host_us"], clocks["device_busy_us"], clocks["comm_busy_us"],
                      clocks["comm_exposed_us"], max(first_peak, _peak(backend)), buckets,
                      len(work.inputs), prof)


def _peak(backend):
    with backend.lock:
        backend.pool.settle()
        return backend.pool.peak
