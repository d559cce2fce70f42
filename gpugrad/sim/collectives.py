"""Collectives over several sim devices of one process (``torch.cuda.nccl``'s single-process
form, as NCCL's group calls run them).

```python
xs = [gg.full((1024,), float(i), device=f"sim:{i}") for i in range(4)]
gg.sim.all_reduce(xs)                      # each xs[i] now holds 0 + 1 + 2 + 3, in place
gg.sim.stats("sim:0")                      # ...and sim:0's comm stream ran one all-reduce
```

Each function takes one tensor per rank, each on its own sim device, and computes the result
for real (with NumPy, in place). On every device it charges the collective NCCL would run for
that many ranks on the configured cluster (``gg.sim.configure_cluster``) to the comm stream,
starting when the last device is ready; later work on each device waits for it (the collective
runs on the current stream, as ``torch.cuda.nccl``'s do). On shape-only sim devices only the
time is charged.
"""
import numpy as np

from ..backends.sim.comm import run_group
from ..tensor import Tensor

__all__ = ["all_reduce", "broadcast", "all_gather", "reduce_scatter"]

_REDUCE = {"sum": np.sum, "prod": np.prod, "max": np.max, "min": np.min, "avg": np.mean}


def all_reduce(inputs, outputs=None, op="sum"):
    """Reduce ``inputs`` (one tensor per sim device, same shape and dtype) with ``op`` ("sum",
    "prod", "max", "min" or "avg") into ``outputs`` (default: ``inputs``, in place)."""
    backends = _ranks(inputs, "inputs")
    outputs = inputs if outputs is None else outputs
    _like(outputs, inputs, "outputs", 1)
    reduce = _reducer(op, inputs[0])
    _charge(backends, "all_reduce", inputs[0])
    values = _values(inputs)
    if values is not None:
        result = reduce(np.stack(values), axis=0)
        for t in outputs:
            _write(t, result)


def broadcast(inputs, root=0):
    """``inputs[root]`` into every tensor of ``inputs`` (one per sim device), in place."""
    backends = _ranks(inputs, "inputs")
    if isinstance(root, bool) or not isinstance(root, int) or not 0 <= root < len(inputs):
        raise ValueError(f"root={root!r} is not a rank: expected 0 to {len(inputs) - 1}")
    _charge(backends, "broadcast", inputs[0])
    values = _values(inputs)
    if values is not None:
        source = values[root].copy()
        for i, t in enumerate(inputs):
            if i != root:
                _write(t, source)


def all_gather(inputs, outputs):
    """Every tensor of ``inputs`` (one per sim device) into each of ``outputs``, rank by rank:
    ``outputs[i]`` sits on ``inputs[i]``'s device and holds len(inputs) times its elements."""
    backends = _ranks(inputs, "inputs")
    _like(outputs, inputs, "outputs", len(inputs))
    _charge(backends, "all_gather", inputs[0])
    values = _values(inputs)
    if values is not None:
        gathered = np.concatenate([v.reshape(-1) for v in values])
        for t in outputs:
            _write(t, gathered)


def reduce_scatter(inputs, outputs, op="sum"):
    """Reduce ``inputs`` (one tensor per sim device) with ``op``; ``outputs[i]`` (on
    ``inputs[i]``'s device, 1/len(inputs) of its elements) gets block ``i`` of the result."""
    backends = _ranks(inputs, "inputs")
    _like(outputs, inputs, "outputs", 1 / len(inputs))
    reduce = _reducer(op, inputs[0])
    _charge(backends, "reduce_scatter", inputs[0])
    values = _values(inputs)
    if values is not None:
        result = reduce(np.stack([v.reshape(-1) for v in values]), axis=0)
        for i, t in enumerate(outputs):
            n = t.numel()
            _write(t, result[i * n:(i + 1) * n])


# ---- checks and helpers ---------------------------------------------------------------------
def _ranks(tensors, what):
    """The backends of ``tensors``: one tensor per distinct sim device, one shape and dtype."""
    if not isinstance(tensors, (list, tuple)) or not tensors:
        raise TypeError(f"{what} must be a non-empty list of tensors, one per sim device")
    devices = set()
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{what}[{i}] must be a gg.Tensor, got {type(t).__name__}")
        if t.device.type != "sim":
            raise ValueError(f"{what}[{i}] is on {t.device}; these collectives run over sim "
                             f"devices (move it with .to('sim:{i}'))")
        if str(t.device) in devices:
            raise ValueError(f"{what}[{i}] is on {t.device}, as an earlier tensor is: each "
                             f"rank needs its own device")
        devices.add(str(t.device))
        if tuple(t.shape) != tuple(tensors[0].shape) or t.dtype != tensors[0].dtype:
            raise ValueError(f"{what}[{i}] has shape {tuple(t.shape)} and dtype "
                             f"{t.dtype.name}; {what}[0] has {tuple(tensors[0].shape)} and "
                             f"{tensors[0].dtype.name}: every rank's must match")
    backends = [t._backend for t in tensors]
    names = {b.profile.name for b in backends}
    if len(names) > 1:
        raise ValueError(f"{what} are on sim devices of different GPU profiles "
                         f"({', '.join(sorted(names))}); configure them alike with "
                         f"gg.sim.configure(device, profile=...)")
    return backends


def _like(outputs, inputs, what, scale):
    """Check ``outputs``: one tensor per input, on its device, of its dtype, with ``scale``
    times its elements."""
    if not isinstance(outputs, (list, tuple)) or len(outputs) != len(inputs):
        raise ValueError(f"{what} must be a list of {len(inputs)} tensors, one per input")
    for i, (out, src) in enumerate(zip(outputs, inputs)):
        if not isinstance(out, Tensor):
            raise TypeError(f"{what}[{i}] must be a gg.Tensor, got {type(out).__name__}")
        want = src.numel() * scale
        if out.device != src.device or out.dtype != src.dtype or out.numel() != want:
            raise ValueError(f"{what}[{i}] must be on {src.device} with dtype "
                             f"{src.dtype.name} and {want:g} elements; got {out.device}, "
                             f"{out.dtype.name}, {out.numel()}")


def _reducer(op, like):
    if op not in _REDUCE:
        raise ValueError(f"unknown reduction op={op!r}; expected one of {', '.join(_REDUCE)}")
    if op == "avg" and not like.dtype.is_floating_point:
        raise ValueError(f"op='avg' needs a floating-point dtype, got {like.dtype.name}")
    return _REDUCE[op]


def _charge(backends, op, like):
    """Each rank's comm stream runs ``op`` on ``like``'s bytes (its input)."""
    run_group(backends, op, like.numel() * like.dtype.itemsize)


def _values(tensors):
    """The host arrays holding ``tensors``' values, or None on shape-only devices."""
    buffers = [t._backend.host_buffer(t._data) for t in tensors]
    return None if any(b is None for b in buffers) else buffers


def _write(tensor, values):
    """Write ``values`` into ``tensor``'s memory in place (an in-place write for autograd)."""
    buf = tensor._backend.host_buffer(tensor._data)
    buf[...] = np.asarray(values, dtype=buf.dtype).reshape(buf.shape)
    tensor._bump_version()
