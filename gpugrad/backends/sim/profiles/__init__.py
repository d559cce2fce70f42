"""Sim GPU profiles: one module per GPU, each citing the public spec numbers it uses.

``get_profile(name)`` returns a fresh ``Profile``; ``PROFILE_NAMES`` lists the names. ``h100`` is
the default. The model parameters were fitted on an H200 (see h200.py and calibrate.py).

The other profiles carry the H200 fit over unchanged: efficiencies are fractions of each card's own
spec numbers and per-SM rates scale with its SM count and clock; host costs are the same
Python/CuPy host. Nothing in them is tuned to the H200 data. The host costs include
``framework_us`` (gpugrad's own Python time per kernel), fitted on the H200 machine's host CPU: it
belongs to that CPU, not to any GPU, and holds for a card in another machine only as far as its
CPU runs Python as fast.
"""
import importlib

from .profile import Profile

PROFILE_NAMES = ("h100", "h200", "a100", "l4")
DEFAULT_PROFILE = "h100"


def get_profile(name=DEFAULT_PROFILE):
    """The profile called ``name`` (case-insensitive); ValueError naming the choices if unknown."""
    if isinstance(name, Profile):
        return name
    key = str(name).strip().lower()
    if key not in PROFILE_NAMES:
        raise ValueError(f"unknown sim profile {name!r}; choose one of {', '.join(PROFILE_NAMES)}")
    return importlib.import_module(f"{__name__}.{key}").make_profile()


__all__ = ["Profile", "PROFILE_NAMES", "DEFAULT_PROFILE", "get_profile"]
