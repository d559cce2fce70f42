"""The gradient reducer behind ``DistributedDataParallel``: buckets, hooks and all-reduces.

Parameters are grouped into buckets as PyTorch's reducer groups them (``assign_buckets``): in
reverse registration order (backward produces the last layer's gradients first), by dtype and
device (one bucket is one flat tensor), each bucket closed once it holds ``bucket_cap_mb`` MiB
(the first one 1 MiB with the default cap). Each parameter's post-accumulate-grad hook marks it
ready; when every parameter of a bucket is ready, the bucket's gradients are concatenated into
one flat tensor and its ``all_reduce(op=AVG, async_op=True)`` starts at once, while the backward
continues with the layers below. Buckets start in index order, the same on every rank, as
collectives must. A callback queued at the first hook runs when the backward pass ends: it
waits for every bucket and copies the averages back into each ``.grad``.
"""
import weakref

from ... import distributed as dist
from ...creation import tensor, zeros
from ...dtypes import int32
from ...engine import no_grad
from ...engine.graph import queue_callback
from ...tensor_shape_methods import cat

MIB = 1024 * 1024
#: PyTorch's ``dist._DEFAULT_FIRST_BUCKET_BYTES``: the first bucket's cap with the default
#: ``bucket_cap_mb``
FIRST_BUCKET_BYTES = 1 * MIB
#: PyTorch DDP's ``broadcast_bucket_size``: the parameters and buffers are broadcast in chunks
#: of this many bytes, so the broadcast needs little memory beyond the model
BROADCAST_BUCKET_BYTES = 250 * MIB


def _ready_hook(reducer_ref, index):
    def hook(_param):
        reducer = reducer_ref()
        if reducer is not None:
            reducer.mark_ready(index)
    return hook


def assign_by_size(tensors, limits, tensor_indices=None):
    """PyTorch's ``dist._compute_bucket_assignment_by_size`` (the index lists only): buckets of
    indices into ``tensors`` (or of ``tensor_indices[i]`` for ``tensors[i]``). Each dtype and
    device fills its own bucket, tensor by tensor, and closes it once it holds at least its
    limit of bytes (so a bucket exceeds the limit by at most its last tensor): the first bucket
    of each dtype and device has ``limits[0]``, the next ``limits[1]``..., the last limit
    repeating. Closed buckets come in the order they closed, then the partly filled ones; without
    ``tensor_indices`` all are sorted by their smallest index."""
    buckets = []
    filling, limit_of = {}, {}  # per (dtype, device): [indices, bytes]; position in limits
    for i, t in enumerate(tensors):
        key = (t.dtype, t.device)
        current = filling.setdefault(key, [[], 0])
        current[0].append(i if tensor_indices is None else tensor_indices[i])
        current[1] += t.numel() * t.element_size()
        position = limit_of.setdefault(key, 0)
        if current[1] >= limits[position]:
            buckets.append(current[0])
            filling[key] = [[], 0]
            limit_of[key] = min(position + 1, len(limits) - 1)
    buckets += [indices for indices, _ in filling.values() if indices]
    if tensor_indices is None:
        buckets.sort(key=min)
    return buckets


def assign_buckets(params, cap_bytes, first_cap_bytes=None, ready_order=True):
    """DDP's buckets of ``params`` (lists of indices, in the order they are reduced), as
    PyTorch's reducer has them from the second iteration on. Gradients are expected to become
    ready in reverse registration order (the last layer's first), and the first bucket to fill
    is capped at ``first_cap_bytes`` (default ``cap_bytes``), the others at ``cap_bytes``, so
    communication starts early. ``ready_order=False`` gives the assignment PyTorch keeps with
    ``find_unused_parameters=True`` (and no ``static_graph``) instead: buckets filled in
    registration order (the first capped at ``first_cap_bytes``: a small bucket for the first
    layers, reduced last), then reversed. (PyTorch's very first backward reduces all gradients
    in one bucket, while it records the order they become ready in; gpugrad assumes that order
    from the start.)"""
    limits = [cap_bytes] if first_cap_bytes is None else [first_cap_bytes, cap_bytes]
    if not ready_order:
        return assign_by_size(params, limits)[::-1]
    expected = list(reversed(range(len(params))))  # the order gradients become ready in
    return assign_by_size([params[i] for i in expected], limits, expected)


def flatten(tensors):
    """One 1-D tensor holding ``tensors`` one after the other (all of one dtype and device)."""
    return cat([t.reshape(-1) for t in tensors])


def unflatten_into(flat, tensors):
    """Copy consecutive slices of ``flat`` back into ``tensors``, in place."""
    offset = 0
    for t in tensors:
        n = t.numel()
        t.copy_(flat[offset:offset + n].reshape(t.shape))
        offset += n


def broadcast_coalesced(tensors, src, group):
    """Broadcast ``tensors`` from rank ``src``, flattened together in chunks of one dtype and
    device of about ``BROADCAST_BUCKET_BYTES`` (one collective each), copied back in place."""
    with no_grad():
        for chunk in assign_by_size(tensors, [BROADCAST_BUCKET_BYTES]):
            same = [tensors[i] for i in chunk]
            flat = flatten(same)
            dist.broadcast(flat, src=src, group=group)
            unflatten_into(flat, same)


class Reducer:
    """All-reduces the gradients of ``params`` (named ``names``) during each backward pass that
    follows ``prepare_for_backward()``, in ``buckets`` (lists of indices into ``params``, in
    the order they are reduced: ``assign_buckets``); see the module docstring for the schedule.

    ``find_unused_parameters``: parameters whose gradient never became ready by the end of the
    backward count as zeros (after an all-reduce of which parameters each rank used, a parameter
    unused on every rank keeps its ``.grad`` untouched); without it, they raise RuntimeError.
    ``gradient_as_bucket_view``: each ``.grad`` becomes a view of its bucket's reduced flat
    tensor instead of receiving a copy.
    """

    def __init__(self, params, names, buckets, group, find_unused_parameters=False,
                 gradient_as_bucket_view=False):
        self.params, self.names, self.group = params, names, group
        self.find_unused_parameters = find_unused_parameters
        self.gradient_as_bucket_view = gradient_as_bucket_view
        self.buckets = buckets
        self.bucket_of = {}
        for b, indices in enumerate(self.buckets):
            for index in indices:
                self.bucket_of[index] = b
        self.expecting = False  # a forward armed the next backward for reduction
        self._reset()
        me = weakref.ref(self)  # the parameters' hooks must not keep a dropped wrapper alive
        self.handles = [param.register_post_accumulate_grad_hook(_ready_hook(me, index))
                        for index, param in enumerate(params)]

    def _reset(self):
        self.ready = [False] * len(self.params)
        self.waiting = [len(indices) for indices in self.buckets]
        self.flats, self.works = [], []  # of the buckets started so far, in index order
        self.finalize_queued = False

    def prepare_for_backward(self):
        """Reduce the gradients of the next backward pass (``DistributedDataParallel`` calls
        this on each forward with grad enabled, outside ``no_sync``)."""
        self._reset()
        self.expecting = True

    def mark_ready(self, index):
        """Hook: parameter ``index``'s ``.grad`` is complete for this backward pass."""
        if not self.expecting:
            return
        if self.ready[index]:
            raise RuntimeError(
                f"Expected to mark a variable ready only once. Parameter "
                f"{self.names[index]} (index {index}) was marked ready twice in one backward "
                f"pass; run one backward per forward of the DistributedDataParallel module")
        self.ready[index] = True
        if not self.finalize_queued:
            queue_callback(self.finalize)
            self.finalize_queued = True
        bucket = self.bucket_of[index]
        self.waiting[bucket] -= 1
        # Start every bucket that is complete and whose predecessors have started.
        while len(self.works) < len(self.buckets) and not self.waiting[len(self.works)]:
            self._start(len(self.works))

    def _start(self, bucket):
        grads = [self._grad_or_zeros(self.params[i]) for i in self.buckets[bucket]]
        with no_grad():
            flat = flatten(grads)
        self.flats.append(flat)
        # AVG, not SUM and a divide: NCCL averages inside its reduction kernel (ncclAvg), so no
        # pass over the gradients is added; the mpi group divides the host buffer it reduced
        # in, the one pass a divide kernel would make. (PyTorch folds the divide into the copy
        # into its bucket, which our flatten cannot.)
        self.works.append(dist.all_reduce(flat, op=dist.ReduceOp.AVG, group=self.group,
                                          async_op=True))

    @staticmethod
    def _grad_or_zeros(param):
        return param.grad if param.grad is not None else zeros(
            param.shape, dtype=param.dtype, device=param.device)

    def finalize(self):
        """End of backward: start what is left, wait for every bucket, write the averages."""
        self.expecting = False
        unused = [i for i, ready in enumerate(self.ready) if not ready]
        if unused and not self.find_unused_parameters:
            self._wait()  # every rank started the same buckets: let them finish before raising
            raise RuntimeError(self._unused_message(unused))
        for bucket in range(len(self.works), len(self.buckets)):
            self._start(bucket)  # unused parameters contribute zeros
        used_anywhere = self._used_anywhere() if unused else None
        self._wait()
        with no_grad():
            for flat, indices in zip(self.flats, self.buckets):
                self._write_back(flat, indices, used_anywhere)
        self.flats, self.works = [], []  # the buckets live on only as views in .grad, if so

    def _used_anywhere(self):
        """Per parameter, whether any rank used it in this backward pass (one all-reduce)."""
        used = tensor([int(ready) for ready in self.ready], dtype=int32,
                      device=self.params[0].device)
        dist.all_reduce(used, op=dist.ReduceOp.MAX, group=self.group)
        return [bool(v) for v in used.tolist()]

    def _wait(self):
        for work in self.works:
            work.wait()

    def _write_back(self, flat, indices, used_anywhere):
        offset = 0
        for index in indices:
            param = self.params[index]
            n = param.numel()
            if used_anywhere is None or used_anywhere[index]:
                average = flat[offset:offset + n].reshape(param.shape)
                if self.gradient_as_bucket_view or param.grad is None:
                    param.grad = average
                else:
                    param.grad.copy_(average)
            offset += n

    def _unused_message(self, unused):
        rank = dist.get_rank(self.group)
        return (
            "Expected every parameter to receive a gradient in this backward pass, but some did "
            "not. This error indicates that your module has parameters that were not used in "
            "producing loss. You can enable unused parameter detection by passing the keyword "
            "argument `find_unused_parameters=True` to "
            "`gg.nn.parallel.DistributedDataParallel`, and by making sure all `forward` "
            "function outputs participate in calculating loss.\n"
            f"Parameters which did not receive grad for rank {rank}: "
            f"{', '.join(self.names[i] for i in unused)}\n"
            f"Parameter indices which did not receive grad for rank {rank}: "
            f"{' '.join(str(i) for i in unused)}")

    def remove_hooks(self):
        """Unregister the parameters' hooks (the wrapper is being discarded)."""
        for handle in self.handles:
            handle.remove()
