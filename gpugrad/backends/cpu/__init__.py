"""The ``cpu`` device: NumPy arrays in host memory, the reference every other device matches.

``backend.py`` implements the backend contract on NumPy; ``numpy_ops.py`` holds the NumPy
computations (PyTorch's dtype rules on NumPy arrays) that the ``sim`` device reuses for its
values.
"""
from .backend import NumpyBackend


def create_backend(device):
    """The backend serving ``device`` (always ``cpu``)."""
    return NumpyBackend(device)
