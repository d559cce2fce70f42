"""Moving a ``Tensor`` between devices and dtypes: ``to``, ``cpu`` and one method per device type
(``sim``, ``cuda``: ``gpugrad.device_registry.add_device_methods``),
``pin_memory``, the dtype conversions (``float``, ``half``, ``bfloat16``, ``long``, ``type``...),
``clone`` and ``contiguous``. Bound onto ``Tensor`` as ``tensor_methods`` binds the ops.
"""
from __future__ import annotations  # annotations stay strings (read by tests/support/stubgen.py)

from typing import Any

from . import engine as _engine
from . import dtypes as _dtypes
from .device_registry import Device, add_device_methods, get_backend
from .ops import casts as CASTS
from .tensor import Tensor

_TYPE_NAMES = {_dtypes.float32: "FloatTensor", _dtypes.float64: "DoubleTensor",
               _dtypes.float16: "HalfTensor", _dtypes.bfloat16: "BFloat16Tensor",
               _dtypes.int64: "LongTensor", _dtypes.int32: "IntTensor",
               _dtypes.int16: "ShortTensor", _dtypes.int8: "CharTensor",
               _dtypes.uint8: "ByteTensor", _dtypes.bool_: "BoolTensor"}


def _bind(fn):
    setattr(Tensor, fn.__name__, fn)
    fn.__qualname__ = f"Tensor.{fn.__name__}"
    return fn


@_bind
def to(self, *args: Any, dtype: Any = None, device: Device | str | int | None = None,
       non_blocking: bool = False, copy: bool = False) -> Tensor:
    """A converted tensor: ``to(device)``, ``to(dtype)``, ``to(device, dtype)``, ``to(other)``
    (other's device and dtype) or keywords; self if nothing changes, unless ``copy=True``.

    Gradients flow back across device moves and float casts; a cast to an integer or bool
    dtype leaves the graph. ``non_blocking`` (also positional after device and dtype, then
    ``copy``, as PyTorch's) is accepted as PyTorch's hint; gpugrad's copies complete before
    ``to`` returns, so the result is ready to use either way.
    """
    flags = []
    for arg in args:
        if isinstance(arg, bool):
            flags.append(arg)
        elif isinstance(arg, (str, Device)):
            device = arg
        elif isinstance(arg, Tensor):
            device, dtype = arg.device, arg.dtype
        else:
            dtype = arg
    if len(flags) > 2:
        raise TypeError(f"to() takes at most two flags after the device and dtype "
                        f"(non_blocking, copy), got {len(flags)}")
    copy = flags[1] if len(flags) == 2 else copy
    out = self
    if device is not None:
        target = get_backend(device)
        if target is not self._backend:
            out = CASTS.ToDevice.apply(out, target=target)
    if dtype is not None:
        dtype = _dtypes.as_dtype(dtype)
        if dtype is not out.dtype:
            if dtype.is_floating_point:
                out = CASTS.Cast.apply(out, dtype=dtype)
            else:
                out = Tensor._make(out._backend.cast(out._data, dtype), out._backend, False)
    if copy and out is self:
        out = CASTS.Identity.apply(self)  # a new tensor with its own memory (recorded)
    return out


@_bind
def cpu(self) -> Tensor:
    """``self.to('cpu')``."""
    return self.to("cpu")


@_bind
def pin_memory(self) -> Tensor:
    """A copy of this cpu tensor in page-locked (pinned) host memory, as in PyTorch: copies
    from it to a GPU run at full speed (on sim, a modeled pinned transfer)."""
    out = CASTS.Identity.apply(self)  # a new tensor (recorded, as in PyTorch), then pinned
    out._data = self._backend.pin(out._data)
    return out


@_bind
def is_pinned(self) -> bool:
    """True for a cpu tensor made by ``pin_memory()``."""
    return self._backend.is_pinned(self._data)



# method -> (dtype, where it keeps the graph); each is ``self.to(dtype)``, as in PyTorch
_CONVERSIONS = {
    "float": (_dtypes.float32, ""), "double": (_dtypes.float64, ""),
    "half": (_dtypes.float16, ""), "bfloat16": (_dtypes.bfloat16, " (cpu and sim; CuPy has no "
                                                                   "bfloat16)"),
    "long": (_dtypes.int64, " (outside the graph)"), "int": (_dtypes.int32, " (outside the graph)"),
    "short": (_dtypes.int16, " (outside the graph)"), "char": (_dtypes.int8, " (outside the graph)"),
    "byte": (_dtypes.uint8, " (outside the graph)"), "bool": (_dtypes.bool_, " (outside the graph)"),
}


def _conversion(name, dtype, note):
    def convert(self) -> Tensor:
        return self.to(dtype)

    convert.__name__ = name
    convert.__doc__ = f"``self.to(gg.{dtype.name})``{note}."
    return _bind(convert)


for _name, (_dtype, _note) in _CONVERSIONS.items():
    _conversion(_name, _dtype, _note)


@_bind
def type(self, dtype: Any = None) -> str | Tensor:
    """Without ``dtype``, the type's name as PyTorch spells it (``'gpugrad.FloatTensor'``,
    ``'gpugrad.sim.FloatTensor'`` on sim); with one, ``self.to(dtype)``. ``dtype`` may also
    be such a name."""
    if dtype is None:
        place = "" if self.device.type == "cpu" else f"{self.device.type}."
        return f"gpugrad.{place}{_TYPE_NAMES[self.dtype]}"
    if isinstance(dtype, str) and dtype.endswith("Tensor"):
        name = dtype.rsplit(".", 1)[-1]
        found = [d for d, n in _TYPE_NAMES.items() if n == name]
        if not found:
            raise TypeError(f"invalid type: {dtype!r}; expected a dtype or one of "
                            f"{sorted(_TYPE_NAMES.values())}")
        dtype = found[0]
    return self.to(_dtypes.as_dtype(dtype))


@_bind
def type_as(self, other: Tensor) -> Tensor:
    """``self.to(other.dtype)``."""
    return self.to(other.dtype)


@_bind
def clone(self) -> Tensor:
    """A copy with its own storage; gradients flow back through it."""
    if self._requires_grad and _engine.modes.grad_enabled:
        return CASTS.Identity.apply(self)
    return Tensor._make(self._backend.contiguous(self._data), self._backend, False)


@_bind
def contiguous(self) -> Tensor:
    """Self when the values are dense in row-major order, else a dense copy (gradients flow
    back through it), as in PyTorch."""
    if self._backend.is_contiguous(self._data):
        return self
    return CASTS.Identity.apply(self)


# ``x.sim()``, ``x.cuda(1)``...: one method per device type, for each name Tensor does not use
# already (``cpu`` is written above)
add_device_methods(Tensor)
