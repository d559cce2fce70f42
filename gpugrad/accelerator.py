"""``gg.accelerator``: PyTorch's ``torch.accelerator``, the GPU this machine can use, if any.

An accelerator is a device type that needs GPU hardware (``NEEDS_GPU`` in its package: cuda)
and can run here. The simulated GPU (``sim``) is not one: it runs on the CPU, and code that
picks ``current_accelerator() or "cpu"`` should get the real hardware it is on, as in PyTorch.
"""
from . import device_registry as _registry


def _accelerator_type():
    """The first usable device type that needs a GPU, or None."""
    for type_ in _registry.ordered_device_types():
        if _registry.needs_gpu(type_) and _registry.unavailable_reason(type_) is None:
            return type_
    return None


def is_available():
    """Whether a GPU device type can run here (``torch.accelerator.is_available``)."""
    return _accelerator_type() is not None


def current_accelerator(check_available=False):
    """The usable GPU device (``gg.Device("cuda:0")``), or None when there is none, as
    ``torch.accelerator.current_accelerator`` (``check_available`` is accepted for its
    signature: only a usable device is ever returned)."""
    type_ = _accelerator_type()
    if type_ is None:
        return None
    package = _registry.device_package(type_)
    current = getattr(package, "current_device", None)
    return _registry.Device(type_, current() if current is not None else 0)


def device_count():
    """The number of usable GPUs (0 without one), as ``torch.accelerator.device_count``."""
    type_ = _accelerator_type()
    if type_ is None:
        return 0
    return int(_registry.device_package(type_).device_count())


def synchronize(device=None):
    """Wait for the GPU's queued work (``torch.accelerator.synchronize``); nothing to wait for
    without one."""
    type_ = _accelerator_type()
    if type_ is not None:
        _registry.device_package(type_).synchronize(device)
