"""examples/moons.py runs both versions (Value and Tensor) and writes its plots."""
import importlib.util
import os

import pytest

pytest.importorskip("matplotlib", reason="the example plots with matplotlib")
_PATH = os.path.join(os.path.dirname(__file__), "..", "examples", "moons.py")


def _load_moons():
    spec = importlib.util.spec_from_file_location("moons_example", _PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_moons_example_value_and_tensor(device, tmp_path):
    moons = _load_moons()
    args = ["--out", str(tmp_path), "--steps", "3", "--samples", "20", "--device", device]
    results = moons.main(args)
    assert set(results) == {"value", "tensor"}
    for name in ("value", "tensor"):
        png = (tmp_path / f"moons_{name}.png").read_bytes()
        assert png.startswith(b"\x89PNG")
