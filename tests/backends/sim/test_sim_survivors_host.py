"""Host profiles checked to the letter: the bounds each check accepts, the exact messages
(naming where the bad value came from), how ``get_host`` tells a file from a name, the
built-in host's provenance, and a profile file with non-ASCII text read as UTF-8 whatever
the locale."""
import json
import os
import re
import subprocess
import sys

import pytest

from gpugrad.backends.sim.profiles import HostProfileError, get_host, load_host
from gpugrad.backends.sim.profiles.h200 import MEASURED_HOST, measured_host
from gpugrad.backends.sim.profiles.host import (REQUIRED, HostProfile, check_host_params,
                                                host_from_dict)
from support.round_profile import ROUND

BASE = {k: ROUND[k] for k in REQUIRED}


def _raises(message):
    return pytest.raises(HostProfileError, match=r"^" + re.escape(message) + r"$")


@pytest.mark.parametrize("speed", [0, -1.0, float("inf"), float("nan"), True])
def test_a_bad_speed_is_refused_naming_speed(speed):
    with _raises(f"speed must be a finite number > 0 (2.0: a host twice as fast as the base), "
                 f"got {speed!r}"):
        HostProfile("h", "t", BASE, speed=speed)


def test_a_speed_that_is_not_a_number_is_a_host_profile_error():
    with _raises("speed must be a finite number > 0 (2.0: a host twice as fast as the base), "
                 "got '2'"):
        HostProfile("h", "t", BASE, speed="2")


def test_params_that_are_not_an_object_are_refused_naming_their_type():
    with _raises("host profile: params must be an object of name: number, got list"):
        check_host_params([])
    data = {"format": "gpugrad-sim-host", "version": 1, "name": "h", "title": "t", "speed": 1.0,
            "base": [1, 2]}
    with _raises("my.json: params must be an object of name: number, got list"):
        host_from_dict(data, "my.json")


def test_errors_name_the_host_profile():
    base = dict(BASE)
    del base["sync_us"]
    with _raises("host profile 'mine': host parameter 'sync_us' is missing"):
        HostProfile("mine", "t", base)
    with _raises("host profile: host parameter 'sync_us' is missing"):
        check_host_params(base)


@pytest.mark.parametrize("name", ["host.nonsense", "HOST.matmul", "malloc_gbps"])
def test_a_parameter_that_is_not_the_hosts_is_refused_listing_the_right_ones(name):
    expected = (f"host profile 'h': {name!r} is not a host parameter (expected "
                f"{', '.join(REQUIRED)} or host.<op class>)")
    assert expected.count(", ") == len(REQUIRED) - 1
    with _raises(expected):
        HostProfile("h", "t", {**BASE, name: 1.0})


def test_zero_costs_and_both_ends_of_the_launch_point_are_accepted():
    host = HostProfile("h", "t", {**BASE, "host_mix_us": 0, "host.matmul": 0.0})
    assert host.params["host_mix_us"] == 0 and host.params["host.matmul"] == 0.0
    for point in (0, 1):
        assert HostProfile("h", "t", {**BASE, "launch_point": point}).params["launch_point"] \
            == point
    with _raises("host profile 'h': launch_point must be within [0, 1], got 1.5"):
        HostProfile("h", "t", {**BASE, "launch_point": 1.5})


def test_a_host_without_a_source_has_an_empty_one():
    host = HostProfile("h", "t", BASE)
    assert host.source == "" and host.to_dict()["source"] == ""


def test_the_built_in_host_names_its_measurements():
    host = measured_host()
    assert host.name == MEASURED_HOST
    assert host.title == "host CPU of the H200 measurements (Python 3.12.3, CuPy 14.2.0)"
    assert host.source == ("fitted by gpugrad/sim/calibrate.py on bench/results/measurements/"
                           "h200-run1.json, h200-run2.json and bench/results/h200-run1/"
                           "mlp_cuda.json (framework_us)")
    assert host.describe() == ("h200-host: host CPU of the H200 measurements (Python 3.12.3, "
                               "CuPy 14.2.0) (speed 1)")


@pytest.mark.parametrize("name", ["missing.json", "MISSING.JSON", "Missing.Json"])
def test_a_json_path_is_read_as_a_file_even_when_missing(tmp_path, name):
    path = tmp_path / name
    with pytest.raises(HostProfileError, match=r"^" + re.escape(f"cannot read host profile "
                                                                f"{path}: ")):
        get_host(str(path))


def test_an_existing_file_is_read_whatever_its_suffix(tmp_path):
    path = tmp_path / "host.profile"
    path.write_text(json.dumps(HostProfile("mine", "t", BASE, 2.0).to_dict()), encoding="utf-8")
    host = get_host(str(path))
    assert (host.name, host.speed) == ("mine", 2.0)


def test_an_unknown_host_name_says_what_to_give():
    with _raises("unknown sim host 'nonesuch': give one of h200-host or the path of a .json "
                 "host profile (gpugrad sim probe-host --out FILE)"):
        get_host("nonesuch")


TITLE = "Jürgen's host — ½ speed"


def _write_utf8(tmp_path):
    data = HostProfile("utf8-host", TITLE, BASE, 0.5).to_dict()
    path = tmp_path / "utf8.json"
    path.write_bytes(json.dumps(data, ensure_ascii=False).encode("utf-8"))  # JSON is UTF-8
    assert not path.read_bytes().isascii()
    return path


def test_a_host_file_is_read_as_utf8(tmp_path):
    assert load_host(_write_utf8(tmp_path)).title == TITLE


def test_a_host_file_is_read_as_utf8_under_an_ascii_locale(tmp_path):
    path = _write_utf8(tmp_path)
    assert load_host(path).title == TITLE
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONIOENCODING", "LANG")}
    env.update(LC_ALL="C", PYTHONUTF8="0", PYTHONCOERCECLOCALE="0")
    code = ("import locale, sys\n"
            "from gpugrad.backends.sim.profiles import load_host\n"
            "print(locale.getpreferredencoding(False))\n"
            "sys.stdout.flush()\n"
            "sys.stdout.buffer.write(load_host(sys.argv[1]).title.encode('utf-8'))\n")
    out = subprocess.run([sys.executable, "-c", code, str(path)], env=env, capture_output=True,
                         timeout=60)
    encoding, _, title = out.stdout.partition(b"\n")
    if encoding.decode().lower().replace("-", "") in ("utf8", ""):
        pytest.skip("no non-UTF-8 locale here")
    assert out.returncode == 0, out.stderr.decode(errors="replace")
    assert title.decode("utf-8") == TITLE
