"""``gg.devices()``: what this machine can run gpugrad on, and why a device is missing.

```python
>>> print(gg.devices())
cpu          available    NumPy 2.4.0 (the reference backend)
sim          available    h100: NVIDIA H100 SXM5 ... [default profile]
sim[h200]    available    h200: NVIDIA H200 SXM 141GB ... [gg.sim.configure('sim:0', profile='h200')]
cuda         unavailable  CuPy is not installed ...
```

The rows come from the device packages themselves (``device_rows()`` and
``unavailable_reason()`` of the device protocol, ``gpugrad/device_registry.py``), in
``ordered_device_types()`` order; nothing here knows a device by name.
"""
from typing import NamedTuple

from .device_registry import device_rows, ordered_device_types


class DeviceInfo(NamedTuple):
    """One row of ``gg.devices()``: ``device`` is what to pass to ``.to(...)``."""

    name: str  # "cpu", "sim", "sim[a100]", "cuda"
    device: str  # the device type: "cpu", "sim", "cuda"
    available: bool
    detail: str  # a description, or why the device is unavailable
    profile: str | None = None  # the configuration the row names (sim: the GPU profile), else None


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


def _rows(type_):
    """``type_``'s rows; a package that fails to load or answer is a row saying so."""
    try:
        return [DeviceInfo(name, type_, bool(available), str(detail), profile)
                for name, available, detail, profile in device_rows(type_)]
    except Exception as exc:  # noqa: BLE001  (a broken install is reported, not raised)
        return [DeviceInfo(type_, type_, False, f"gpugrad.backends.{type_} failed to load: {exc}")]


def devices():
    """Every device gpugrad knows, whether it can run here, and a description or the reason."""
    return DeviceList(row for type_ in ordered_device_types() for row in _rows(type_))
