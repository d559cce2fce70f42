"""Devices: parsing names such as ``"sim:1"`` and finding the package that serves each type.

A device type ``T`` is the package ``gpugrad.backends.T``. Adding a device type is adding that
one package, with no edit anywhere else: ``Device("T:N")``, ``Tensor.T()`` and ``Module.T()``,
``gg.T``, ``gg.devices()`` and the tests' ``device`` fixture all find it through this module.

The device protocol: what the package's ``__init__.py`` provides (only the first is required)

``create_backend(device)``
    The backend (the contract of ``backends/base.py``) serving ``device``, a ``Device`` of type
    T. Called once per device, on its first use.
``INDEXED = False``
    T is a single device spelled ``"T"``, whose only index is 0 (``cpu``). Default True: T has
    devices ``"T:0"``, ``"T:1"``... and ``"T"`` means ``"T:0"``.
``NEEDS_GPU = True``
    T runs only on GPU hardware (``cuda``): the tests mark its runs ``cuda``, so that
    ``pytest -m "not cuda"`` leaves them out. Default False.
``unavailable_reason()``
    None when T can run here, else a sentence saying why not (it must not raise). Default: T
    can always run.
``device_rows()``
    T's rows for ``gg.devices()``: ``(name, available, detail)``, or ``(name, available,
    detail, profile)`` when a row names a configuration of T (sim lists one row per GPU
    profile). Default: the one row ``(T, usable, detail)``, detail being the reason T cannot
    run or else the first line of the package's docstring.

Read the protocol through the functions here (``is_indexed``, ``needs_gpu``,
``unavailable_reason``, ``device_rows``, ``ordered_device_types``), which apply the defaults.
``device_types()`` lists the types without importing any package; the others import T's.
"""
from __future__ import annotations  # annotations stay strings (read by tests/support/stubgen.py)

import importlib
import pkgutil
import threading
from typing import Any, Protocol, TypeVar

from . import backends as _backends_pkg
from . import defaults as _defaults
from .errors import InvalidDeviceError


def device_types():
    """The device types this installation knows, e.g. ``["cpu", "cuda", "sim"]`` (sorted): every
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


def device_package(type_):
    """The package ``gpugrad.backends.<type_>`` serving a device type (imported on first use)."""
    return importlib.import_module(f"{_backends_pkg.__name__}.{type_}")


_INDEXED: dict[str, bool] = {}  # type -> bool, read once per type: every Device() parse asks


def is_indexed(type_):
    """Whether ``type_`` names several devices ``"T:N"`` (the package's ``INDEXED``, default
    True); False for a single device spelled ``"T"`` whose only index is 0."""
    indexed = _INDEXED.get(type_)
    if indexed is None:
        indexed = _INDEXED[type_] = bool(getattr(device_package(type_), "INDEXED", True))
    return indexed


def needs_gpu(type_):
    """Whether ``type_`` runs only on GPU hardware (the package's ``NEEDS_GPU``, default False)."""
    return bool(getattr(device_package(type_), "NEEDS_GPU", False))


def unavailable_reason(type_):
    """None when ``type_`` can run here, else why not (the package's ``unavailable_reason()``;
    a package without one can always run)."""
    reason = getattr(device_package(type_), "unavailable_reason", None)
    return None if reason is None else reason()


def device_rows(type_):
    """``type_``'s rows for ``gg.devices()``: ``[(name, available, detail, profile), ...]``, from
    the package's ``device_rows()`` (profile None where a row gives none), else one row built
    from ``unavailable_reason``."""
    package = device_package(type_)
    rows = getattr(package, "device_rows", None)
    if rows is not None:
        return [tuple(row) + (None,) * (4 - len(row)) for row in rows()]
    reason = unavailable_reason(type_)
    if reason is not None:
        return [(type_, False, reason, None)]
    summary = (package.__doc__ or "").strip().splitlines()
    return [(type_, True, summary[0] if summary else "available", None)]


def ordered_device_types():
    """The device types in the order ``gg.devices()`` and the tests list them: those that need
    no GPU before those that do, single (unindexed) devices first within each, then by name
    (``["cpu", "sim", "cuda"]``); a package that fails to import comes last. Imports every
    device package."""
    def rank(type_):
        try:
            return (needs_gpu(type_), is_indexed(type_))
        except Exception:  # noqa: BLE001  (gg.devices() reports the failure in its row)
            return (True, True)

    return sorted(device_types(), key=rank)


class _HasTo(Protocol):
    def to(self, device: str, /) -> Any: ...


# ``x.cuda()`` returns what ``x.to`` does: a Tensor for a Tensor, the Module for a Module
_Movable = TypeVar("_Movable", bound=_HasTo)


def add_device_methods(cls):
    """Give ``cls`` (``Tensor``, ``Module``: classes with ``to(device)``) a method
    ``T(device=None)`` for each device type T: ``self.to("T")``, or ``self.to("T:N")`` for
    ``device=N``. A name ``cls`` already has is left alone: the hand-written ``cpu()``, and a
    method that a device type happens to share its name with."""
    for type_ in device_types():
        if not hasattr(cls, type_):
            setattr(cls, type_, _device_method(type_, cls.__name__))


def _device_method(type_, owner):
    def move(self: _Movable, device: int | None = None) -> _Movable:
        return self.to(type_ if device is None else f"{type_}:{int(device)}")

    move.__name__ = type_
    move.__qualname__ = f"{owner}.{type_}"
    move.__doc__ = (f"``self.to('{type_}')``, or ``self.to('{type_}:N')`` for ``device=N`` "
                    f"(the ``{type_}`` device, ``gpugrad.backends.{type_}``).")
    return move


def _invalid(spec):
    """The error for a name that is no device, listing the forms that are."""
    forms = ", ".join(f'"{t}", "{t}:N"' if is_indexed(t) else f'"{t}"' for t in _known_types())
    return InvalidDeviceError(f"Invalid device string: {spec!r}; expected one of {forms} (N a "
                              f"non-negative integer written with the digits 0-9)")


class Device:
    """Where a tensor lives: ``Device("cpu")``, ``Device("sim:1")``, ``Device("cuda:0")``, or
    ``Device("sim", 1)``.

    ``type`` is the device type and ``index`` the ordinal (0 when omitted; always 0 for a type
    that is not indexed, such as cpu). A Device compares equal to its string form, so
    ``x.device == "sim:0"`` works.
    """

    __slots__ = ("type", "index", "_str")
    type: str
    index: int
    _str: str

    def __new__(cls, spec, index=None):
        if isinstance(spec, Device):
            return spec
        if not isinstance(spec, str):
            raise TypeError(f"device must be a string or gg.Device, got {type(spec).__name__}")
        text = spec.strip().lower()
        dtype_part, colon, idx_part = text.partition(":")
        if dtype_part not in _known_types():
            raise _invalid(spec)
        if colon:  # "sim:" or "sim:x" or "sim:١" (a non-ASCII digit) name no device
            if not (idx_part.isascii() and idx_part.isdigit()) or index is not None:
                raise _invalid(spec)
            index = int(idx_part)
        if index is not None and (isinstance(index, bool) or not isinstance(index, int)
                                  or index < 0):
            raise InvalidDeviceError(f"Device index must be a non-negative int, got {index!r}")
        index = 0 if index is None else index
        indexed = is_indexed(dtype_part)
        if not indexed and index != 0:
            raise _invalid(spec)
        key = (dtype_part, index)
        cached = _DEVICES.get(key)
        if cached is not None:
            return cached
        self = object.__new__(cls)
        self.type = dtype_part
        self.index = index
        self._str = f"{dtype_part}:{index}" if indexed else dtype_part
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

    def __enter__(self):
        """``with gg.device("sim"):`` makes this the default device of the creation functions
        in the block (PyTorch's device context manager)."""
        _defaults.push_device(self)
        return self

    def __exit__(self, *exc_info):
        _defaults.pop_device()
        return False

    def __hash__(self):
        return hash(self._str)

    def __reduce__(self):
        return (Device, (self._str,))


_DEVICES: dict[Any, Device] = {}
_BACKENDS: dict[Device, Any] = {}
_CREATING = threading.RLock()  # one backend per device, even when threads ask at once


def get_backend(device):
    """The backend instance serving ``device`` (created on first use, one per device)."""
    device = Device(device)
    backend = _BACKENDS.get(device)
    if backend is None:
        with _CREATING:
            backend = _BACKENDS.get(device)
            if backend is None:
                backend = device_package(device.type).create_backend(device)
                _BACKENDS[device] = backend
    return backend


def loaded_backends():
    """Backends created so far, by device."""
    return dict(_BACKENDS)
