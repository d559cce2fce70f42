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


def test_cnn_example_learns_the_digits(device, capsys):
    """examples/cnn.py, shortened to 5 epochs (the full 15 reach >= 97%), learns the digits; on
    the sim it prints the per-op report with the convolution's kernels."""
    pytest.importorskip("sklearn", reason="the digits ship with scikit-learn")
    spec = importlib.util.spec_from_file_location(
        "cnn_example", os.path.join(os.path.dirname(__file__), "..", "examples", "cnn.py"))
    cnn = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cnn)
    assert cnn.main(["--epochs", "5", "--device", device]) >= 0.85
    if device.startswith("sim"):
        report = capsys.readouterr().out
        assert "per-op summary" in report and "im2col" in report and "max_pool2d" in report
