"""Shared fixtures. Tests that take ``device`` run once per device type in DEVICES; a device that
this machine cannot run is skipped with the reason (cuda without a GPU, for example)."""
import numpy as np
import pytest

import gpugrad as gg

# Every device type the installation has (a package in gpugrad/backends/), cpu first: a new
# device joins every device-parametrized test by existing.
DEVICES = gg.device_registry.ordered_device_types()


def device_unavailable_reason(name):
    """None when ``name`` can run here, else why not (the package's ``unavailable_reason()``)."""
    if name not in gg.device_registry.device_types():
        return f"the {name!r} backend is not part of this installation"
    reason = gg.device_registry.unavailable_reason(name)
    return None if reason is None else f"{name} is not usable here: {reason}"


def _device_param(name):
    # a device that needs GPU hardware (NEEDS_GPU) carries the ``cuda`` mark: -m "not cuda"
    marks = [pytest.mark.cuda] if gg.device_registry.needs_gpu(name) else []
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
    """``cuda:0`` on the tests' stand-in for CuPy (tests/support/fake_cupy.py: NumPy arrays,
    kernels compiled for the CPU), no GPU needed: ``(fake, backend)``; undone after the test."""
    from support.fake_cupy import install

    return install(monkeypatch)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def ctrl_c():
    """Ctrl-C (SIGINT) raises KeyboardInterrupt in this test, as in an interactive run, even
    where the test process started with SIGINT ignored (a job started in the background by a
    non-interactive shell)."""
    import signal
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)
