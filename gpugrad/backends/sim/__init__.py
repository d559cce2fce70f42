"""The ``sim`` device: a simulated GPU. The cpu backend computes the values; this package models
what a GPU would do with them: kernels and their cost (``costmodel``, ``profiles``), transfers,
memory (``memory``), streams and clocks (``timeline``, ``device_model``). ``gg.sim`` holds its
user-facing controls and reports.

The device protocol (``gpugrad/device_registry.py``): devices ``sim:N``, usable everywhere (no GPU
needed); ``gg.devices()`` lists one row per GPU profile, the default profile first.
"""
from . import profiles
from .backend import SimBackend
from .device_model import profile_name


def create_backend(device):
    """A new simulated GPU for ``sim:N``, with the default profile."""
    return SimBackend(device)


def profile_descriptions():
    """The GPU profiles the simulator knows: a dict name -> one-line description."""
    return {name: profiles.get_profile(name).describe() for name in profiles.PROFILE_NAMES}


def device_rows():
    """``gg.devices()``'s rows: ``("sim", ...)`` for the default profile (``configure``'s
    default, from ``$GPUGRAD_SIM_PROFILE``), then ``("sim[NAME]", ...)`` for each other profile,
    saying how to choose it. A bad ``$GPUGRAD_SIM_PROFILE`` is noted on every row."""
    try:
        default, note = profile_name(), ""
    except ValueError as exc:  # a bad $GPUGRAD_SIM_PROFILE: say so, list the profiles anyway
        default, note = None, f" ({exc})"
    rows = []
    for name, text in profile_descriptions().items():
        if name == default:
            rows.append(("sim", True, f"{text} [default profile]", name))
        else:
            how = f"gg.sim.configure('sim:0', profile='{name}')"
            rows.append((f"sim[{name}]", True, f"{text} [{how}]{note}", name))
    rows.sort(key=lambda row: row[0] != "sim")
    return rows
