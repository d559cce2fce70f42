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

from ..device_registry import Device, get_backend
from ..backends.sim import profile_descriptions, profiles
from .report import SimStats

__all__ = ["configure", "stats", "reset", "synchronize", "profiles"]


def _backend(device="sim:0"):
    """The ``SimBackend`` serving ``device`` (a sim device name or ``gg.Device``)."""
    dev = Device(device)
    if dev.type != "sim":
        raise ValueError(f"expected a sim device such as 'sim:0' or 'sim:1', got '{dev}'")
    return get_backend(dev)


def configure(device="sim:0", profile=None, memory_bytes=None, framework_overhead=True):
    """Set ``device``'s GPU profile and memory capacity, and clear its counters and clocks.

    Each call sets the whole configuration: ``profile=None`` means ``$GPUGRAD_SIM_PROFILE`` or
    ``h100``, and ``memory_bytes=None`` the profile's memory. ``framework_overhead=True`` charges
    the host gpugrad's own Python time per kernel (the profile's ``framework_us``, measured on
    one host CPU); ``False`` models only the CuPy calls, as if written by hand (fidelity.py's
    replays of raw CuPy measurements). Live arrays keep their memory. Returns the device's
    description.
    """
    b = _backend(device)
    b.configure(profile=profile, memory_bytes=memory_bytes, framework_overhead=framework_overhead)
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
