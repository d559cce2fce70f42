"""Host profiles and the shipped GPU profiles' constructors, each field and message pinned."""
import json

import pytest

from gpugrad.backends.sim.profiles import HOST_NAMES, a100, get_host, h100, h200, l4
from gpugrad.backends.sim.profiles.host import (HostProfile, HostProfileError, host_from_dict,
                                                load_host, save_host)

HOST = get_host()
KEY = "sync_us"     # a host base value that the speed scales
TITLES = [(a100, "a100", "NVIDIA A100 SXM4 80GB"), (h100, "h100", "NVIDIA H100 SXM5 80GB"),
          (h200, "h200", "NVIDIA H200 SXM 141GB"), (l4, "l4", "NVIDIA L4 24GB")]


def _host(**kw):
    args = {"name": "box", "title": "A box", "base": dict(HOST.base), "speed": 2.0,
            "source": "measured"}
    args.update(kw)
    return HostProfile(**args)


@pytest.mark.parametrize("module,name,title", TITLES)
def test_make_profile_names_titles_params_and_host(module, name, title):
    host = _host()
    p = module.make_profile({"hbm_eff": 0.5, "mm_tile": 64}, host)
    assert (p.name, p.title) == (name, title)
    assert p.params["hbm_eff"] == 0.5 and p.params["mm_tile"] == 64
    assert p.host is host
    assert p.describe().startswith(f"{name}: {title}, ")


def test_scaled_names_title_speed_and_source():
    h = _host()
    fast = h.scaled(2.5)
    assert (fast.name, fast.title, fast.speed, fast.source) == \
        ("boxx2.5", "A box, 2.5x as fast", 5.0, "measured")
    assert fast.params[KEY] == HOST.base[KEY] / 5.0 and fast.base == h.base
    named = h.scaled(0.5, name="slow", title="Slow box", source="guess")
    assert (named.name, named.title, named.speed, named.source) == \
        ("slow", "Slow box", 1.0, "guess")
    assert h.scaled(1.0, source="").source == ""
    with pytest.raises(HostProfileError) as info:
        h.scaled(0)
    assert str(info.value).startswith("factor must be a finite number > 0")


def test_with_params_keeps_the_rest():
    h = _host()
    changed = h.with_params(**{KEY: 9.0})
    assert (changed.name, changed.title, changed.speed, changed.source) == \
        ("box", "A box", 2.0, "measured")
    assert changed.base == {**HOST.base, KEY: 9.0} and changed.params[KEY] == 4.5


def test_equality_and_hash():
    h = _host()
    assert h == _host() and h != _host(source="other")
    assert (h == "box") is False and (h == 5) is False
    assert hash(h) == hash(("box", 2.0))


def _errors(data, *args):
    with pytest.raises(HostProfileError) as info:
        host_from_dict(data, *args)
    return str(info.value)


def test_host_from_dict_messages():
    good = _host().to_dict()
    assert _errors([1]) == "host profile: expected a JSON object, got list"
    fmt = _errors({**good, "format": "nope"}, "f.json")
    assert fmt.startswith("f.json: not a host profile") and "got 'nope')" in fmt
    assert _errors({**good, "version": 99}, "f.json").startswith(
        "f.json: unsupported version 99 (this gpugrad reads version ")
    assert _errors({**good, "title": 3}, "f.json") == "f.json: field 'title' must be a string"
    assert _errors({**good, "speed": -1.0}, "f.json").startswith(
        "f.json: speed must be a finite number > 0")
    base = dict(good["base"])
    del base[KEY]
    assert "f.json" in _errors({**good, "base": base}, "f.json")
    del good["source"]
    assert host_from_dict(good).source == ""


def test_load_and_save_round_trip_and_messages(tmp_path):
    h = _host(title="Box \u00e9\u00e8")
    path = tmp_path / "host.json"
    assert save_host(h, path, {"probe": 1}) == path
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    assert text.endswith("}\n") and lines[1].startswith(' "') and not lines[1].startswith('  ')
    assert json.loads(text)["probe"] == 1
    assert load_host(path) == h
    missing = tmp_path / "none.json"
    with pytest.raises(HostProfileError) as info:
        load_host(missing)
    assert str(info.value) == f"cannot read host profile {missing}: No such file or directory"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**h.to_dict(), "version": 99}), encoding="utf-8")
    with pytest.raises(HostProfileError) as info:
        load_host(bad)
    assert str(info.value).startswith(f"{bad}: unsupported version 99")


def test_get_host_rejects_other_types():
    with pytest.raises(HostProfileError) as info:
        get_host(5)
    assert str(info.value) == (f"host must be a host profile name ({', '.join(HOST_NAMES)}), "
                               "a JSON file path or a HostProfile, got int")
