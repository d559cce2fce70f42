"""``pin_memory``: the batches of ``DataLoader(pin_memory=True)`` in page-locked host memory,
through the backend's pinning (``Tensor.pin_memory()``), so copies to a GPU run at full speed
(on ``sim``, a modeled pinned transfer; on ``cpu`` only a mark)."""
from ..tensor import Tensor
from .collate import map_structure


def _pin_leaf(data):
    return data.pin_memory() if isinstance(data, Tensor) else data


def pin_memory(data):
    """``data`` with every Tensor inside replaced by its pinned copy (containers as in
    ``default_convert``). Only cpu tensors can be pinned: a tensor already on a device raises
    the backend's error, as in PyTorch."""
    return map_structure(_pin_leaf, data)
