"""The ``cpu`` device: NumPy arrays in host memory, the reference every other device matches.

``backend.py`` implements the backend contract on NumPy; ``numpy_ops.py`` holds the NumPy
computations (PyTorch's dtype rules on NumPy arrays) that the ``sim`` device reuses for its
values. The device protocol (``gpugrad/device_registry.py``): one device, ``"cpu"``, always usable.
"""
import numpy as np

from .backend import NumpyBackend

INDEXED = False  # one host: "cpu", never "cpu:1"


def create_backend(device):
    """The backend serving ``device`` (always ``cpu``)."""
    return NumpyBackend(device)


def device_rows():
    """``gg.devices()``'s row: the NumPy that computes everything here."""
    return [("cpu", True, f"NumPy {np.__version__} (the reference backend)")]
