"""The ``sim`` device: a simulated GPU. The cpu backend computes the values; this package models
what a GPU would do with them: kernels and their cost (``costmodel``, ``profiles``), transfers,
memory (``memory``), streams and clocks (``timeline``, ``device_model``). ``gg.sim`` holds its
user-facing controls and reports.
"""
from .backend import SimBackend


def create_backend(device):
    """A new simulated GPU for ``sim:N``, with the default profile."""
    return SimBackend(device)
