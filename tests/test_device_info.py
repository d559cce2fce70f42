"""gg.devices(): cpu, each sim profile, and cuda (or why it is absent)."""
import gpugrad as gg


def test_devices_lists_cpu_every_sim_profile_and_cuda():
    rows = gg.devices()
    names = [r.name for r in rows]
    assert names[0] == "cpu" and rows[0].available
    sims = [r for r in rows if r.device == "sim"]
    assert {r.profile for r in sims} == set(gg.sim.profiles())
    assert sims[0].name == "sim" and sims[0].profile == "h100"  # the default profile first
    assert all(r.available and r.profile in r.detail for r in sims)
    cuda = [r for r in rows if r.device == "cuda"]
    assert len(cuda) == 1 and cuda[0].detail  # available, or the reason it is not
    if not cuda[0].available:
        assert cuda[0].detail.strip()
    text = str(rows)
    assert len(text.splitlines()) == len(rows)
    assert rows.available()[0].name == "cpu"


def test_default_profile_follows_the_environment(monkeypatch):
    monkeypatch.setenv("GPUGRAD_SIM_PROFILE", "l4")
    rows = [r for r in gg.devices() if r.name == "sim"]
    assert rows[0].profile == "l4"
    monkeypatch.setenv("GPUGRAD_SIM_PROFILE", "bogus")
    rows = [r for r in gg.devices() if r.device == "sim"]
    assert len(rows) == 4 and all("bogus" in r.detail for r in rows)


def test_rows_come_from_the_device_packages_in_order():
    rows = gg.devices()
    types = [r.device for r in rows]
    assert sorted(set(types), key=types.index) == gg.device_registry.ordered_device_types()
    for type_ in gg.device_registry.device_types():
        assert [(r.name, r.available, r.detail, r.profile) for r in rows if r.device == type_] \
            == gg.device_registry.device_rows(type_)


def test_a_package_that_fails_is_a_row_not_an_exception(monkeypatch):
    def broken():
        raise RuntimeError("driver exploded")

    monkeypatch.setattr(gg.device_registry.device_package("cuda"), "device_rows", broken)
    rows = [r for r in gg.devices() if r.device == "cuda"]
    assert len(rows) == 1 and not rows[0].available and "driver exploded" in rows[0].detail
