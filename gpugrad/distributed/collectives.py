"""The collectives of ``gg.distributed``, with PyTorch's names, arguments and semantics.

Every collective writes its result into the tensors it is given (in place), on any device: the
process group reads and writes a tensor's memory directly where it can (``host_buffer`` on cpu
and sim; device pointers for NCCL or a CUDA-aware MPI) and stages through host copies
otherwise (the sim group, which stands in for identical ranks in one process, computes the
result they would give). Each tells the tensors' device that a collective of so many bytes per
rank starts (``collective_launch``) and, when it completes, that later work follows it
(``collective_wait``), so the simulator can charge the time to its communication stream.
``async_op=True`` returns a ``Work``; without it the call returns when the result is in place.
"""
from ..tensor import Tensor
from .process_group import world
from .reduce_op import ReduceOp, check_op
from .sim_group import SimGroup, holds_values
from .work import Work


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce ``tensor`` over all ranks with ``op``; every rank gets the result in ``tensor``."""
    group = world(group)
    _check(group, tensor, "tensor")
    op = check_op(op, tensor.dtype.name)
    buf, writeback = group.buffer_of(tensor)
    return _run("all_reduce", group, tensor, _nbytes(tensor), async_op,
                lambda: [group.all_reduce(buf, op)], [writeback], [tensor])


def broadcast(tensor, src=0, group=None, async_op=False):
    """Rank ``src``'s ``tensor`` into ``tensor`` on every rank."""
    group = world(group)
    _check(group, tensor, "tensor")
    _check_rank(group, src, "src")
    buf, writeback = group.buffer_of(tensor)
    return _run("broadcast", group, tensor, _nbytes(tensor), async_op,
                lambda: [group.broadcast(buf, src)], [writeback], [tensor])


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """Every rank's ``tensor`` into ``tensor_list[rank]`` on every rank (``tensor_list`` holds
    world-size tensors of ``tensor``'s shape and dtype)."""
    group = world(group)
    _check(group, tensor, "tensor")
    _check_list(group, tensor_list, tensor, "tensor_list")
    send, _ = group.buffer_of(tensor)
    gathered = group.empty((group.size,) + tuple(tensor.shape), send)
    outputs = [group.buffer_of(t) for t in tensor_list]

    def scatter_into_list():
        for i, (buf, writeback) in enumerate(outputs):
            buf[...] = gathered[i]
            if writeback is not None:
                writeback()
    return _run("all_gather", group, tensor, _nbytes(tensor), async_op,
                lambda: [group.all_gather(send, gathered)], [scatter_into_list], tensor_list)


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    """Every rank's ``input_tensor`` into ``output_tensor``, rank by rank: ``output_tensor``
    holds world-size times its elements (concatenated along dim 0 or stacked)."""
    group = world(group)
    _check(group, input_tensor, "input_tensor")
    _check(group, output_tensor, "output_tensor")
    _check_sizes(group, output_tensor, input_tensor, "output_tensor", "input_tensor")
    send, _ = group.buffer_of(input_tensor)
    recv, writeback = group.buffer_of(output_tensor)
    return _run("all_gather", group, input_tensor, _nbytes(input_tensor), async_op,
                lambda: [group.all_gather(send.reshape(-1), recv.reshape(-1))], [writeback],
                [output_tensor])


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce ``input_list`` (world-size tensors of ``output``'s shape) over all ranks with
    ``op``; rank ``r`` gets the reduction of every rank's ``input_list[r]`` in ``output``."""
    group = world(group)
    _check(group, output, "output")
    _check_list(group, input_list, output, "input_list")
    op = check_op(op, output.dtype.name)
    send = group.stack([group.buffer_of(t)[0] for t in input_list])
    recv, writeback = group.buffer_of(output)
    return _run("reduce_scatter", group, output, _nbytes(output) * group.size, async_op,
                lambda: [group.reduce_scatter(send, recv, op)], [writeback], [output])


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce ``input`` (world-size times ``output``'s elements) over all ranks with ``op``;
    rank ``r`` gets block ``r`` of the reduction in ``output``."""
    group = world(group)
    _check(group, output, "output")
    _check(group, input, "input")
    _check_sizes(group, input, output, "input", "output")
    op = check_op(op, output.dtype.name)
    send, _ = group.buffer_of(input)
    recv, writeback = group.buffer_of(output)
    return _run("reduce_scatter", group, input, _nbytes(input), async_op,
                lambda: [group.reduce_scatter(send.reshape(-1), recv.reshape(-1), op)],
                [writeback], [output])


def barrier(group=None, async_op=False, device_ids=None):
    """Wait until every rank has called ``barrier``."""
    group = world(group)
    return _run("barrier", group, None, 0, async_op, lambda: [group.barrier()], [], [])


def isend(tensor, dst, group=None, tag=0):
    """Start sending ``tensor`` to rank ``dst``; returns a Work (``wait()`` until it is sent)."""
    group = world(group)
    _check_peers_exist(group)
    _check(group, tensor, "tensor")
    _check_peer(group, dst, "dst")
    buf, _ = group.buffer_of(tensor)
    return _run("send", group, tensor, _nbytes(tensor), True,
                lambda: [group.send(buf, dst, tag)], [], [])


def send(tensor, dst, group=None, tag=0):
    """Send ``tensor`` to rank ``dst`` (returns once the group has taken it)."""
    isend(tensor, dst, group, tag).wait()


def irecv(tensor, src=None, group=None, tag=0):
    """Start receiving into ``tensor`` from rank ``src`` (None: any rank); returns a Work."""
    return _receive(tensor, src, group, tag)[0]


def recv(tensor, src=None, group=None, tag=0):
    """Receive into ``tensor`` from rank ``src`` (None: any rank); returns the sender's rank."""
    work, sender = _receive(tensor, src, group, tag)
    work.wait()
    return sender()


def _receive(tensor, src, group, tag):
    group = world(group)
    _check_peers_exist(group)
    _check(group, tensor, "tensor")
    if src is not None:
        _check_peer(group, src, "src")
    buf, writeback = group.buffer_of(tensor)
    status = group.new_status()
    work = _run("recv", group, tensor, _nbytes(tensor), True,
                lambda: [group.recv(buf, src, tag, status)], [writeback], [tensor])
    return work, lambda: src if src is not None else group.sender(status)


def _run(name, group, tensor, nbytes, async_op, start, finish, outputs):
    """Start a collective (after telling ``tensor``'s device) and wait for it unless
    ``async_op``; ``finish`` steps (None entries skipped) run once it completes. Tensors of a
    shape-only device hold no values: for them only the device hears of the collective."""
    backend = tensor._backend if tensor is not None else None
    handle = backend.collective_launch(name, nbytes, group.size) if backend else None
    moves_values = tensor is None or holds_values(tensor)
    steps = [step for step in finish if step is not None] if moves_values else []
    if backend is not None:
        steps.append(lambda: backend.collective_wait(handle))
    work = Work(name, group, start() if moves_values else [], steps, outputs)
    if async_op:
        return work
    work.wait()
    return None


def _nbytes(tensor):
    return tensor.numel() * tensor.dtype.itemsize


def _check(group, tensor, what):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{what} must be a gg.Tensor, got {type(tensor).__name__}")
    if not tensor.is_contiguous():
        raise RuntimeError(f"Tensors must be contiguous ({what} is not; pass "
                           f"{what}.contiguous() and copy the result back)")
    group.check_device(tensor, what)


def _check_list(group, tensors, like, what):
    if not isinstance(tensors, (list, tuple)) or len(tensors) != group.size:
        count = len(tensors) if isinstance(tensors, (list, tuple)) else type(tensors).__name__
        raise ValueError(f"{what} must be a list of world_size ({group.size}) tensors, got "
                         f"{count}")
    for i, t in enumerate(tensors):
        _check(group, t, f"{what}[{i}]")
        if tuple(t.shape) != tuple(like.shape) or t.dtype != like.dtype:
            raise ValueError(f"{what}[{i}] has shape {tuple(t.shape)} and dtype "
                             f"{t.dtype.name}; every tensor must match the other argument's "
                             f"shape {tuple(like.shape)} and dtype {like.dtype.name}")


def _check_sizes(group, big, small, big_name, small_name):
    if big.dtype != small.dtype:
        raise TypeError(f"{big_name} ({big.dtype.name}) and {small_name} "
                        f"({small.dtype.name}) must have the same dtype")
    if big.numel() != small.numel() * group.size:
        raise ValueError(f"{big_name} must hold world_size ({group.size}) times the elements "
                         f"of {small_name}: {big.numel()} != {group.size} * {small.numel()}")


def _check_rank(group, rank, what):
    if isinstance(rank, bool) or not isinstance(rank, int) or not 0 <= rank < group.size:
        raise ValueError(f"{what}={rank!r} is not a rank of this group (0 to {group.size - 1})")


def _check_peers_exist(group):
    if isinstance(group, SimGroup):  # identical ranks in one process: there is no peer
        raise RuntimeError(SimGroup.NO_PEERS)


def _check_peer(group, rank, what):
    _check_rank(group, rank, what)
    if rank == group.rank:
        raise ValueError(f"{what}={rank} is this process's own rank; send to and receive from "
                         f"another rank")
