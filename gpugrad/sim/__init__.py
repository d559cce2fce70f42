"""``gg.sim``: the simulated GPU's controls and counters.

```python
gg.sim.configure("sim:0", profile="a100", memory_bytes=8 * 2**30)
x = gg.randn(1024, 1024, device="sim")
y = (x @ x).relu().sum().item()
print(gg.sim.stats("sim:0"))          # kernels, flops, bytes, transfers, memory, modeled µs
print(gg.sim.stats().table(top=10))   # per-op summary sorted by modeled time
gg.sim.reset("sim:0")
```

Each ``sim:N`` is an independent GPU with its own profile, clocks, memory and counters. The
profile comes from ``configure``, else the environment variable ``GPUGRAD_SIM_PROFILE``, else
``h100``. Host arrays copied to a sim device are pageable unless made with
``Tensor.pin_memory()`` (as in PyTorch), which makes the copy faster. Memory follows CuPy's
caching pool (sizes rounded to 512 bytes; see ``gpugrad/backends/sim/memory.py``). ``GPUGRAD_DEBUG=2``
(read when a device is created or configured) prints one line per modeled kernel to stderr, and
``gg.profiler.profile()`` records the modeled timeline as a Perfetto trace.
"""
import types

from ..device_registry import Device, get_backend, loaded_backends
from ..backends.sim import profile_descriptions, profiles
from ..backends.sim.meta_array import ValuesNotComputedError
from .cluster import bus_bandwidth, collective_time, configure_cluster, get_cluster
from .collectives import all_gather, all_reduce, broadcast, reduce_scatter
from .planner import plan
from .report import SimStats

__all__ = ["configure", "ValuesNotComputedError", "stats", "reset", "synchronize", "profiles",
           "device_count", "current_device", "get_device_name", "memory_allocated",
           "max_memory_allocated", "reset_peak_memory_stats", "is_available", "plan",
           "configure_cluster", "get_cluster", "collective_time", "bus_bandwidth", "all_reduce",
           "broadcast", "all_gather", "reduce_scatter"]


def _backend(device="sim:0"):
    """The ``SimBackend`` serving ``device`` (a sim device name or ``gg.Device``)."""
    dev = Device(device)
    if dev.type != "sim":
        raise ValueError(f"expected a sim device such as 'sim:0' or 'sim:1', got '{dev}'")
    return get_backend(dev)


def configure(device="sim:0", profile=None, memory_bytes=None, framework_overhead=True,
              host=None, compute=True):
    """Set ``device``'s GPU profile and memory capacity, and clear its counters and clocks.

    Each call sets the whole configuration: ``profile=None`` means ``$GPUGRAD_SIM_PROFILE`` or
    ``h100``, and ``memory_bytes=None`` the profile's memory. ``framework_overhead=True`` charges
    the host gpugrad's own Python time per kernel (the host profile's ``framework_us``);
    ``False`` models only the CuPy calls, as if written by hand (fidelity.py's replays of raw
    CuPy measurements). ``host`` is the machine's CPU side (docs/sim-model.md, "The host
    profile"): a name (``"h200-host"``, the CPU the H200 was measured in), the path of a JSON
    file written by ``gpugrad sim probe-host``, or a ``HostProfile``; ``None`` means
    ``$GPUGRAD_SIM_HOST`` or ``"h200-host"``. Live arrays keep their memory. Returns the
    device's description.

    ``compute=False`` makes the device shape-only, for planning (docs/sim-model.md, "Shape-only
    planning"): every op checks shapes and dtypes and is modeled exactly as with values (the
    same kernels, times, memory and ``OutOfMemoryError``), but no value is computed and no host
    memory is allocated for tensors, so a model far larger than this machine can be planned.
    Reading a value (``item()``, ``tolist()``, ``numpy()``, printing, ``bool()``, ``.cpu()``,
    boolean masks, ``nonzero``, ``unique``...) raises ``ValuesNotComputedError``.
    """
    b = _backend(device)
    b.configure(profile=profile, memory_bytes=memory_bytes, framework_overhead=framework_overhead,
                host=host, compute=compute)
    return b.describe()


def stats(device="sim:0"):
    """A ``SimStats`` snapshot of ``device``'s counters (see ``gpugrad.sim.report``)."""
    b = _backend(device)
    with b.lock:  # one consistent snapshot while other threads use the device
        b.pool.settle()
        return SimStats(b)


def reset(device="sim:0"):
    """Clear ``device``'s counters, timeline and peak memory. Live arrays keep their memory and
    the caching pool keeps its free blocks (a warm start; ``configure`` starts cold)."""
    _backend(device).reset()


def synchronize(device="sim:0"):
    """Wait for ``device``'s pending kernels and copies (``torch.cuda.synchronize``): the modeled
    host clock moves to when the device is idle. Returns that time in µs."""
    b = _backend(device)
    with b.lock:
        return b.timeline.synchronize()


def _list_profiles():
    """The GPU profiles the simulator knows: a dict name -> one-line description."""
    return profile_descriptions()


class _CallableModule(types.ModuleType):
    """``gg.sim.profiles`` is both the package of profiles (``gpugrad/backends/sim/profiles/``) and the
    function ``gg.sim.profiles()``: a submodule import rebinds the package attribute, so the
    module itself is made callable rather than shadowed by a function."""

    def __call__(self):
        return _list_profiles()

    __call__.__doc__ = _list_profiles.__doc__


profiles.__class__ = _CallableModule


# ---- torch.cuda's device and memory queries, on the modeled device ---------------------------
def device_count():
    """The number of sim devices in use so far (at least 1): any ``sim:N`` can be created, so
    this counts those this process has touched, as ``torch.cuda.device_count`` counts GPUs."""
    touched = [d.index for d in loaded_backends() if d.type == "sim"]
    return max(touched) + 1 if touched else 1


def current_device():
    """The index of the sim device used when none is named: 0 (``torch.cuda.current_device``)."""
    return 0


def get_device_name(device="sim:0"):
    """The modeled GPU, e.g. ``"simulated NVIDIA H100 SXM5"`` (``torch.cuda.get_device_name``)."""
    return f"simulated {_backend(device).profile.title}"


def memory_allocated(device="sim:0"):
    """Modeled bytes held by live arrays on ``device`` (``torch.cuda.memory_allocated``;
    sizes rounded to 512 bytes as CuPy's and PyTorch's pools round them)."""
    b = _backend(device)
    with b.lock:
        b.pool.settle()
        return b.pool.in_use


def max_memory_allocated(device="sim:0"):
    """The most modeled bytes held by live arrays on ``device`` since it was configured or
    ``reset_peak_memory_stats`` (``torch.cuda.max_memory_allocated``)."""
    b = _backend(device)
    with b.lock:
        b.pool.settle()
        return b.pool.peak


def reset_peak_memory_stats(device="sim:0"):
    """Start ``max_memory_allocated``'s peak over from the bytes in use now."""
    b = _backend(device)
    with b.lock:
        b.pool.settle()
        b.pool.reset_peak()


def is_available():
    """True: the simulated GPU needs no hardware (``torch.cuda.is_available``)."""
    return True
