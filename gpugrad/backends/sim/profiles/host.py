"""A host profile: the CPU side of a simulated GPU machine, apart from the GPU itself.

A GPU profile (profile.py) models the card; the host profile models the machine it sits in: the
Python/CuPy call that launches each kernel, gpugrad's own Python per kernel, the driver calls the
CPU makes (events, synchronize, issuing a copy, a memory-pool hit) and the host-memory staging of
pageable copies. The same GPU in a faster or slower machine keeps its kernel times and changes
only these.

Which parameters are the host's (docs/sim-model.md, "The host profile", says why):

- scaled by ``speed`` (CPU time: Python, CuPy and driver code running on the host):
  ``host.<class>``, ``host_per_array_us``, ``host_per_scalar_us``, ``host_mix_us``,
  ``framework_us``, ``event_us``, ``sync_us``, ``xfer_host_us``, ``pool_alloc_us``,
  ``pageable_extra_us``;
- the host's, but not scaled (a fraction, or the host's memory system rather than its CPU
  speed): ``launch_point``, ``host_cache_bytes``, ``stage_gbps.<dir>``, ``stage_slow_gbps.<dir>``.

Kept in the GPU profile: the launch and copy-engine latencies, kernel and GEMM parameters, link
efficiencies and ``cudaMalloc`` (``malloc_base_us``, ``malloc_gbps``: the driver mapping device
memory, which depends on the card and driver more than on the CPU).

``speed`` is a single factor against the ``base`` values: a host with ``speed=2`` runs the
scaled costs in half the time. ``HostProfile.params`` gives the effective values.
"""
import json
import math
from pathlib import Path

from ....atomic import atomic_write
from ..costmodel import OP_CLASSES

#: host parameters whose time is CPU work: divided by ``speed``
SCALED = ("host_per_array_us", "host_per_scalar_us", "host_mix_us", "framework_us", "event_us",
          "sync_us", "xfer_host_us", "pool_alloc_us", "pageable_extra_us")
#: host parameters that do not follow CPU speed: a fraction and the host memory system's
UNSCALED = ("launch_point", "host_cache_bytes", "stage_gbps.h2d", "stage_slow_gbps.h2d",
            "stage_gbps.d2h", "stage_slow_gbps.d2h")
#: every host profile has these (a class without ``host.<class>`` uses ``host.elementwise``)
REQUIRED = SCALED + UNSCALED + ("host.elementwise",)
#: the ``format`` tag of a host profile file
FILE_FORMAT = "gpugrad-sim-host"
FILE_VERSION = 1


def is_host_param(name):
    """Whether model parameter ``name`` belongs to the host profile (else to the GPU's)."""
    return name.startswith("host.") or name in SCALED or name in UNSCALED


def _scales(name):
    return name.startswith("host.") or name in SCALED


class HostProfileError(ValueError):
    """A host profile (or its file) is missing a parameter, has a bad value or a bad format."""


def check_speed(speed, where="speed"):
    """``speed`` as a float if it is a finite number > 0, else HostProfileError."""
    if isinstance(speed, bool) or not isinstance(speed, (int, float)) \
            or not math.isfinite(speed) or speed <= 0:
        raise HostProfileError(f"{where} must be a finite number > 0 (2.0: a host twice as "
                               f"fast as the base), got {speed!r}")
    return float(speed)


def check_host_params(params, where="host profile"):
    """``params`` (a dict of base values) if complete and sane, else HostProfileError naming
    the parameter."""
    if not isinstance(params, dict):
        raise HostProfileError(f"{where}: params must be an object of name: number, got "
                               f"{type(params).__name__}")
    for name in REQUIRED:
        if name not in params:
            raise HostProfileError(f"{where}: host parameter {name!r} is missing")
    for name, value in params.items():
        if not is_host_param(name) or (name.startswith("host.")
                                       and name[5:] not in OP_CLASSES):
            raise HostProfileError(f"{where}: {name!r} is not a host parameter (expected "
                                   f"{', '.join(REQUIRED)} or host.<op class>)")
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value) or value < 0:
            raise HostProfileError(f"{where}: host parameter {name!r} must be a finite "
                                   f"number >= 0, got {value!r}")
    if not 0 <= params["launch_point"] <= 1:
        raise HostProfileError(f"{where}: launch_point must be within [0, 1], got "
                               f"{params['launch_point']!r}")
    return params


class HostProfile:
    """The host side of a simulated machine: ``base`` parameter values and a ``speed`` factor.

    ``params`` are the effective values: each CPU-time parameter is its base value divided by
    ``speed``; the others are the base values. ``source`` says where the numbers come from.
    """

    def __init__(self, name, title, base, speed=1.0, source=""):
        self.name = str(name)
        self.title = str(title)
        self.base = check_host_params(dict(base), f"host profile {name!r}")
        self.speed = check_speed(speed)
        self.source = str(source)
        self.params = {k: (v / self.speed if _scales(k) else v) for k, v in self.base.items()}

    def scaled(self, factor, name=None, title=None, source=None):
        """This host made ``factor`` times faster (0.5: half as fast)."""
        factor = check_speed(factor, "factor")
        return HostProfile(name or f"{self.name}x{factor:g}",
                           title or f"{self.title}, {factor:g}x as fast", self.base,
                           self.speed * factor, self.source if source is None else source)

    def with_params(self, **changes):
        """A copy with some base values changed (calibrate.py fits them)."""
        return HostProfile(self.name, self.title, {**self.base, **changes}, self.speed,
                           self.source)

    def to_dict(self):
        """The JSON object ``save_host`` writes and ``load_host`` reads."""
        return {"format": FILE_FORMAT, "version": FILE_VERSION, "name": self.name,
                "title": self.title, "speed": self.speed, "source": self.source,
                "base": dict(sorted(self.base.items()))}

    def __eq__(self, other):
        return isinstance(other, HostProfile) and self.to_dict() == other.to_dict()

    def __hash__(self):
        return hash((self.name, self.speed))

    def describe(self):
        """One line: name, title and speed."""
        return f"{self.name}: {self.title} (speed {self.speed:.3g})"

    def __repr__(self):
        return f"<gpugrad sim host {self.describe()}>"


def host_from_dict(data, where="host profile"):
    """The HostProfile of a ``to_dict`` object; HostProfileError naming what is wrong."""
    if not isinstance(data, dict):
        raise HostProfileError(f"{where}: expected a JSON object, got {type(data).__name__}")
    if data.get("format") != FILE_FORMAT:
        raise HostProfileError(f"{where}: not a host profile (\"format\" must be "
                               f"{FILE_FORMAT!r}, got {data.get('format')!r}); write one with "
                               f"`gpugrad sim probe-host --out FILE`")
    if data.get("version") != FILE_VERSION:
        raise HostProfileError(f"{where}: unsupported version {data.get('version')!r} "
                               f"(this gpugrad reads version {FILE_VERSION})")
    for key in ("name", "title", "speed", "base"):
        if key not in data:
            raise HostProfileError(f"{where}: field {key!r} is missing")
    for key in ("name", "title"):
        if not isinstance(data[key], str):
            raise HostProfileError(f"{where}: field {key!r} must be a string")
    speed = check_speed(data["speed"], f"{where}: speed")
    check_host_params(data["base"], where)
    return HostProfile(data["name"], data["title"], data["base"], speed,
                       data.get("source", ""))


def load_host(path):
    """The HostProfile saved in JSON file ``path``, checked whole before it is used."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise HostProfileError(f"cannot read host profile {path}: {exc.strerror or exc}") \
            from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise HostProfileError(f"{path}: not valid JSON ({exc})") from exc
    return host_from_dict(data, str(path))


def save_host(host, path, extra=None):
    """Write ``host`` to ``path`` as JSON, atomically; ``extra`` adds informational fields (the
    probe's measurements). Returns ``path``."""
    data = host.to_dict()
    data.update(extra or {})
    atomic_write(path, json.dumps(data, indent=1) + "\n")
    return path
