"""Shared fixtures. Tests that take ``device`` run once per device in DEVICES; a device that
this machine cannot run is skipped with the reason (cuda without a GPU, for example)."""
import importlib

import numpy as np
import pytest

import gpugrad as gg

# Later devices join every device-parametrized test by being listed here.
DEVICES = ["cpu", "sim", "cuda"]


def device_unavailable_reason(name):
    """None when ``name`` can run here, else why not."""
    if name not in gg.device.device_types():
        return f"the {name!r} backend is not part of this installation"
    if name == "cuda":
        cuda = importlib.import_module("gpugrad.backends.cuda")
        if not cuda.is_available():
            return f"cuda is not usable here: {cuda.unavailable_reason()}"
    return None


def _device_param(name):
    marks = [pytest.mark.cuda] if name == "cuda" else []
    return pytest.param(name, id=name, marks=marks)


@pytest.fixture(params=[_device_param(d) for d in DEVICES])
def device(request):
    reason = device_unavailable_reason(request.param)
    if reason:
        pytest.skip(reason)
    return request.param


@pytest.fixture
def torch():
    """PyTorch, for oracle tests; skipped with a reason when it is not installed."""
    return pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch)")


@pytest.fixture
def fake_cuda(monkeypatch):
    """``cuda:0`` on a NumPy stand-in for CuPy (tests/timed_fake_cupy.py), no GPU needed:
    ``(fake, backend)``; undone after the test."""
    from support.timed_fake_cupy import install

    return install(monkeypatch)


@pytest.fixture
def rng():
    return np.random.default_rng(0)
