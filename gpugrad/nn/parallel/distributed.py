"""``DistributedDataParallel``: one model replica per process, gradients averaged over the
processes during backward, as ``torch.nn.parallel.DistributedDataParallel``."""
from contextlib import contextmanager

from ... import distributed as dist
from ...device_registry import Device
from ...engine import is_grad_enabled
from ...tensor import Tensor
from ..module import Module
from .reducer import FIRST_BUCKET_BYTES, MIB, Reducer, assign_buckets, broadcast_coalesced


class DistributedDataParallel(Module):
    """Data parallelism: wrap the model in each process of a job (``gpugrad run -n N`` or
    ``mpiexec -n N``, after ``gg.distributed.init_process_group()``), give each process its own
    share of every batch (``gg.data.DistributedSampler``), and train as usual: after
    ``loss.backward()`` every process holds the gradients averaged over all of them, so the
    optimizer steps keep the replicas identical.

    - At wrap time the parameters and buffers of rank 0 are broadcast to every rank (so all
      replicas start equal); with ``broadcast_buffers`` the buffers (batch-norm statistics) are
      broadcast again before each forward.
    - Buckets and overlap: the parameters that require grad are grouped into buckets as
      PyTorch groups them: in reverse registration order, since backward yields the last
      layers' gradients first, each bucket closed once it holds ``bucket_cap_mb`` MiB (default
      25; the first bucket 1 MiB when ``bucket_cap_mb`` is left at its default, so
      communication starts early). When the last gradient of a bucket is accumulated, the
      bucket's gradients are concatenated into one flat tensor and its ``all_reduce`` (with
      ``ReduceOp.AVG``) starts asynchronously, overlapping the backward of the layers below; at
      the end of backward the wrapper waits for every bucket and copies the averages back into
      each ``.grad`` (with ``gradient_as_bucket_view=True`` each ``.grad`` becomes a view of its
      bucket instead). Buckets start in the same order on every rank.
    - ``no_sync()``: a context in which backward only accumulates local gradients (gradient
      accumulation); the next backward outside it reduces the accumulated sums.
    - Every parameter must receive a gradient in each synchronized backward, else RuntimeError
      names the ones that did not; with ``find_unused_parameters=True`` (or ``static_graph=True``)
      they count as zeros, as in PyTorch, and a parameter no rank used keeps its ``.grad``.

    ``module`` is the wrapped model; ``state_dict()`` keys carry the ``module.`` prefix, as
    PyTorch's do. ``device_ids`` (None, or one device: a single-device module), ``output_device``
    and ``dim`` are accepted as PyTorch takes them; with ``device_ids`` the tensor arguments of
    ``forward`` are moved to that device. ``process_group`` defaults to the world.
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0,
                 broadcast_buffers=True, init_sync=True, process_group=None, bucket_cap_mb=None,
                 find_unused_parameters=False, check_reduction=False,
                 gradient_as_bucket_view=False, static_graph=False):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel wraps a gg.nn.Module, got "
                            f"{type(module).__name__}")
        if not dist.is_initialized():
            raise RuntimeError("Default process group has not been initialized, please make "
                               "sure to call init_process_group.")
        named = [(name, p) for name, p in module.named_parameters() if p.requires_grad]
        if not named:
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't have "
                               "any parameter that requires a gradient.")
        first_cap_bytes = FIRST_BUCKET_BYTES if bucket_cap_mb is None else None
        if bucket_cap_mb is None:
            bucket_cap_mb = 25
        if not isinstance(bucket_cap_mb, (int, float)) or not bucket_cap_mb > 0:
            raise ValueError(f"bucket_cap_mb must be a positive number of MiB, got "
                             f"{bucket_cap_mb!r}")
        self.module = module
        self.device = self._check_device_ids(device_ids, named)
        self.output_device = output_device
        self.dim = dim
        self.broadcast_buffers = broadcast_buffers
        self.process_group = process_group
        self.bucket_bytes_cap = int(bucket_cap_mb * MIB)
        self.find_unused_parameters = find_unused_parameters
        self.gradient_as_bucket_view = gradient_as_bucket_view
        self.static_graph = static_graph
        self.require_backward_grad_sync = True
        if init_sync:
            broadcast_coalesced([t.detach() for t in module.state_dict().values()], 0,
                                process_group)
        params = [p for _, p in named]
        # PyTorch re-buckets in the order gradients become ready unless it must find unused
        # parameters in a graph that is not static
        buckets = assign_buckets(params, self.bucket_bytes_cap, first_cap_bytes,
                                 ready_order=static_graph or not find_unused_parameters)
        self.reducer = Reducer(params, [name for name, _ in named], buckets, process_group,
                               find_unused_parameters=find_unused_parameters or static_graph,
                               gradient_as_bucket_view=gradient_as_bucket_view)

    @staticmethod
    def _check_device_ids(device_ids, named):
        if device_ids is None:
            return None
        if not isinstance(device_ids, (list, tuple)) or len(device_ids) != 1:
            raise ValueError(f"device_ids must be None or a list of one device (each process "
                             f"drives one device), got {device_ids!r}")
        device = Device(device_ids[0]) if not isinstance(device_ids[0], int) else \
            Device(named[0][1].device.type, device_ids[0])
        elsewhere = [name for name, p in named if p.device != device]
        if elsewhere:
            raise ValueError(f"device_ids={device_ids!r} but parameters {elsewhere[:3]} are on "
                             f"{named[0][1].device}; move the module first (module.to(device))")
        return device

    @property
    def bucket_sizes(self):
        """The number of parameters in each bucket, in the order the buckets are reduced."""
        return [len(indices) for indices in self.reducer.buckets]

    def forward(self, *inputs, **kwargs):
        """Run the wrapped module (broadcasting buffers first when ``broadcast_buffers``) and
        arm the next backward for gradient reduction when grad is enabled and outside
        ``no_sync``."""
        if self.broadcast_buffers:
            buffers = [b.detach() for b in self.module.buffers()]
            if buffers:
                broadcast_coalesced(buffers, 0, self.process_group)
        if self.device is not None:
            inputs = tuple(self._to_device(x) for x in inputs)
            kwargs = {k: self._to_device(v) for k, v in kwargs.items()}
        if is_grad_enabled() and self.require_backward_grad_sync:
            self.reducer.prepare_for_backward()
        return self.module(*inputs, **kwargs)

    def _to_device(self, value):
        return value.to(self.device) if isinstance(value, Tensor) else value

    @contextmanager
    def no_sync(self):
        """A context for gradient accumulation: backward passes of forwards run inside it only
        accumulate each process's own gradients; the first backward after it all-reduces the
        sums::

            with ddp.no_sync():
                for micro in batches[:-1]:
                    loss_fn(ddp(micro)).backward()
            loss_fn(ddp(batches[-1])).backward()  # reduces everything accumulated
        """
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    def extra_repr(self):
        return f"bucket_cap_mb={self.bucket_bytes_cap / MIB:g}, buckets={len(self.bucket_sizes)}"
