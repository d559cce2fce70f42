"""Devices: parsing names such as ``"sim:1"`` and finding the backend that runs them.

A device type ``T`` is served by the package ``gpugrad.backends.T``, which defines
``create_backend(device)``. Adding a device therefore takes one new package and no edits here.
"""
import importlib
import pkgutil
import threading

from . import backends as _backends_pkg
from .errors import InvalidDeviceError

_INDEXED_FORM = "{t}:N"


def device_types():
    """The device types this installation knows, e.g. ``["cpu", "cuda", "sim"]``: every
    package inside ``gpugrad.backends`` (its modules, such as ``base``, are shared code)."""
    return sorted(
        name for _, name, is_package in pkgutil.iter_modules(_backends_pkg.__path__)
        if is_package and not name.startswith("_")
    )


_TYPES = None


def _known_types():
    global _TYPES
    if _TYPES is None:
        _TYPES = device_types()
    return _TYPES


def _valid_forms():
    forms = []
    for t in _known_types():
        forms.append(f'"{t}"' if t == "cpu" else f'"{t}", "{t}:N"')
    return ", ".join(forms)


class Device:
    """Where a tensor lives: ``Device("cpu")``, ``Device("sim:1")``, ``Device("cuda:0")``.

    ``type`` is the device type and ``index`` the ordinal (0 when omitted; always 0 for cpu).
    A Device compares equal to its string form, so ``x.device == "sim:0"`` works.
    """

    __slots__ = ("type", "index", "_str")

    def __new__(cls, spec="cpu", index=None):
        if isinstance(spec, Device):
            return spec
        if not isinstance(spec, str):
            raise TypeError(f"device must be a string or gg.Device, got {type(spec).__name__}")
        text = spec.strip().lower()
        dtype_part, colon, idx_part = text.partition(":")
        bad = InvalidDeviceError(
            f"Invalid device string: {spec!r}; expected one of {_valid_forms()} (N a "
            f"non-negative integer written with the digits 0-9)"
        )
        if dtype_part not in _known_types():
            raise bad
        if colon:  # "sim:" or "sim:x" or "sim:١" (a non-ASCII digit) name no device
            if not (idx_part.isascii() and idx_part.isdigit()) or index is not None:
                raise bad
            index = int(idx_part)
        if index is not None and (isinstance(index, bool) or not isinstance(index, int)
                                  or index < 0):
            raise InvalidDeviceError(f"Device index must be a non-negative int, got {index!r}")
        index = 0 if index is None else index
        if dtype_part == "cpu" and index != 0:
            raise bad
        key = (dtype_part, index)
        cached = _DEVICES.get(key)
        if cached is not None:
            return cached
        self = object.__new__(cls)
        self.type = dtype_part
        self.index = index
        self._str = dtype_part if dtype_part == "cpu" else f"{dtype_part}:{index}"
        return _DEVICES.setdefault(key, self)  # atomic: threads racing here get one Device

    def __str__(self):
        return self._str

    def __repr__(self):
        return f'gpugrad.Device("{self._str}")'

    def __eq__(self, other):
        if isinstance(other, str):
            try:
                other = Device(other)
            except ValueError:
                return False
        return self is other

    def __hash__(self):
        return hash(self._str)

    def __reduce__(self):
        return (Device, (self._str,))


_DEVICES = {}
_BACKENDS = {}
_CREATING = threading.RLock()  # one backend per device, even when threads ask at once


def get_backend(device):
    """The backend instance serving ``device`` (created on first use, one per device)."""
    device = Device(device)
    backend = _BACKENDS.get(device)
    if backend is None:
        with _CREATING:
            backend = _BACKENDS.get(device)
            if backend is None:
                module = importlib.import_module(f"gpugrad.backends.{device.type}")
                backend = module.create_backend(device)
                _BACKENDS[device] = backend
    return backend


def loaded_backends():
    """Backends created so far, by device."""
    return dict(_BACKENDS)
