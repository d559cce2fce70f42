"""Sim GPU profiles: one module per GPU, each citing the public spec numbers it uses; and the host
profiles (host.py) that hold the machine's CPU side.

``get_profile(name)`` returns a fresh ``Profile``; ``PROFILE_NAMES`` lists the names. ``h100`` is
the default. The model parameters were fitted on an H200 (see h200.py and calibrate.py).

The other profiles carry the H200 fit over unchanged: efficiencies are fractions of each card's own
spec numbers and per-SM rates scale with its SM count and clock. Nothing in them is tuned to the
H200 data. The host costs (the Python/CuPy dispatch, ``framework_us``, driver calls, pageable
staging) are not the GPU's: every profile takes them from a ``HostProfile``, by default
``h200-host``, the CPU of the machine the H200 measurements ran on. ``get_host`` gives another
(a built-in name, a JSON file written by ``gpugrad sim probe-host``, or a ``HostProfile``).
"""
import importlib
import os
from pathlib import Path

from .h200 import MEASURED_HOST, measured_host
from .host import HostProfile, HostProfileError, load_host, save_host
from .profile import Profile

PROFILE_NAMES = ("h100", "h200", "a100", "l4")
DEFAULT_PROFILE = "h100"
#: built-in host profiles, by name (only measured hosts: no invented machines)
HOST_NAMES = (MEASURED_HOST,)
DEFAULT_HOST = MEASURED_HOST
#: the environment variable naming the host profile when ``configure`` gets none
ENV_HOST = "GPUGRAD_SIM_HOST"


def get_profile(name=DEFAULT_PROFILE, host=None):
    """The profile called ``name`` (case-insensitive); ValueError naming the choices if unknown.
    ``host`` (anything ``get_host`` takes) replaces the default host."""
    if isinstance(name, Profile):
        return name if host is None else name.with_host(get_host(host))
    key = str(name).strip().lower()
    if key not in PROFILE_NAMES:
        raise ValueError(f"unknown sim profile {name!r}; choose one of {', '.join(PROFILE_NAMES)}")
    return importlib.import_module(f"{__name__}.{key}").make_profile(
        host=None if host is None else get_host(host))


def get_host(host=None):
    """A ``HostProfile``: ``host`` itself, a built-in name (``HOST_NAMES``), or the path of a
    host profile JSON file (``gpugrad sim probe-host --out FILE``); None gives the default.
    ValueError (``HostProfileError``) saying what is wrong, before anything is used."""
    if host is None:
        return measured_host()
    if isinstance(host, HostProfile):
        return host
    if not isinstance(host, (str, os.PathLike)):
        raise HostProfileError(f"host must be a host profile name ({', '.join(HOST_NAMES)}), "
                               f"a JSON file path or a HostProfile, got {type(host).__name__}")
    key = str(host).strip()
    if key.lower() in HOST_NAMES:
        return measured_host()
    if key.lower().endswith(".json") or Path(key).exists():
        return load_host(key)
    raise HostProfileError(f"unknown sim host {host!r}: give one of {', '.join(HOST_NAMES)} or "
                           f"the path of a .json host profile (gpugrad sim probe-host --out "
                           f"FILE)")


def configured_host(host=None):
    """The host ``configure`` uses: ``host``, else ``$GPUGRAD_SIM_HOST``, else the default."""
    if host is not None:
        return get_host(host)
    env = os.environ.get(ENV_HOST)
    if not env:
        return get_host()
    try:
        return get_host(env)
    except HostProfileError as exc:
        raise HostProfileError(f"{exc} (from ${ENV_HOST})") from exc


__all__ = ["Profile", "PROFILE_NAMES", "DEFAULT_PROFILE", "get_profile", "HostProfile",
           "HostProfileError", "HOST_NAMES", "DEFAULT_HOST", "ENV_HOST", "get_host",
           "configured_host", "load_host", "save_host"]
