"""``gg.devices()``: what this machine can run gpugrad on, and why a device is missing.

```python
>>> print(gg.devices())
cpu          available    cpu: NumPy 2.4.0
sim          available    sim (default profile h100): h100: NVIDIA H100 SXM5 ...
sim[h200]    available    ...
cuda         unavailable  no NVIDIA driver found ...
```
"""
import importlib
from typing import NamedTuple


class DeviceInfo(NamedTuple):
    """One row of ``gg.devices()``: ``device`` is what to pass to ``.to(...)``."""

    name: str  # "cpu", "sim", "sim[a100]", "cuda"
    device: str  # "cpu", "sim", "cuda"
    available: bool
    detail: str  # a description, or why the device is unavailable
    profile: str = None  # the sim profile, for sim rows


class DeviceList(list):
    """A list of ``DeviceInfo`` that prints as a table."""

    def __str__(self):
        return "\n".join(
            f"{d.name:<12} {'available' if d.available else 'unavailable':<12} {d.detail}"
            for d in self
        )

    def available(self):
        """The rows that can run here."""
        return DeviceList(d for d in self if d.available)


def _cpu():
    import numpy as np

    return DeviceInfo("cpu", "cpu", True, f"NumPy {np.__version__} (the reference backend)")


def _sims():
    from . import sim
    from .backends.sim.device_model import profile_name

    try:
        default = profile_name()
        note = ""
    except ValueError as exc:  # a bad $GPUGRAD_SIM_PROFILE: say so, list the profiles anyway
        default, note = None, f" ({exc})"
    rows = []
    for name, text in sim.profiles().items():
        label = "sim" if name == default else f"sim[{name}]"
        how = (f"default profile{note}" if name == default
               else f"gg.sim.configure('sim:0', profile='{name}')")
        rows.append(DeviceInfo(label, "sim", True, f"{text} [{how}]", name))
    rows.sort(key=lambda r: r.name != "sim")
    if default is None:
        rows = [r._replace(detail=r.detail + note) for r in rows]
    return rows


def _cuda():
    try:
        cuda = importlib.import_module("gpugrad.backends.cuda")
        if cuda.is_available():
            describe = getattr(cuda, "describe", None)
            return DeviceInfo("cuda", "cuda", True, describe() if describe else "CUDA is usable")
        return DeviceInfo("cuda", "cuda", False, str(cuda.unavailable_reason()))
    except Exception as exc:  # noqa: BLE001  (a broken install is reported, not raised)
        return DeviceInfo("cuda", "cuda", False, f"gpugrad.backends.cuda failed to load: {exc}")


def devices():
    """Every device gpugrad knows, whether it can run here, and a description or the reason."""
    return DeviceList([_cpu()] + _sims() + [_cuda()])
