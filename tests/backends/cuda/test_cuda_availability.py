"""Without a usable GPU, ``cuda`` fails clearly: three causes (no CuPy, no driver, no device),
each giving ``is_available() == False``, a reason in ``gg.devices()`` and a
``gg.DeviceUnavailableError`` naming it from ``.to("cuda")``; ``import gpugrad`` never imports CuPy.

The causes are produced with stand-in ``cupy`` modules that fail the way CuPy does (its
CUDARuntimeError carries the cudaError_t code in ``.status``), so these tests run on any machine.
"""
import os
import subprocess
import sys
import textwrap
import types

import pytest

import gpugrad as gg
from gpugrad.backends.cuda import availability as gg_cuda

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


class FakeCudaRuntimeError(RuntimeError):
    """Shaped like cupy_backends.cuda.api.runtime.CUDARuntimeError."""

    def __init__(self, status, text):
        self.status = status
        super().__init__(text)


def fake_cupy(device_count=None, error=None):
    cupy = types.ModuleType("cupy")
    cupy.__version__ = "14.2.0"
    runtime = types.SimpleNamespace()

    def get_device_count():
        if error is not None:
            raise error
        return device_count

    runtime.getDeviceCount = get_device_count
    cupy.cuda = types.SimpleNamespace(runtime=runtime)
    return cupy


NO_DRIVER = FakeCudaRuntimeError(
    35, "cudaErrorInsufficientDriver: CUDA driver version is insufficient for CUDA runtime version")
NO_DEVICE = FakeCudaRuntimeError(100, "cudaErrorNoDevice: no CUDA-capable device is detected")

CASES = {
    "no_cupy": (None, "CuPy is not installed"),
    "no_driver": (fake_cupy(error=NO_DRIVER), "no usable NVIDIA driver"),
    "no_device": (fake_cupy(error=NO_DEVICE), "no NVIDIA GPU found"),
    "zero_devices": (fake_cupy(device_count=0), "the driver reports 0 devices"),
}


@pytest.fixture(params=sorted(CASES))
def broken_cuda(request, monkeypatch):
    """A machine where cuda is unusable for one reason; yields the expected phrase."""
    module, phrase = CASES[request.param]
    monkeypatch.setitem(sys.modules, "cupy", module)  # None makes `import cupy` fail
    # on a GPU machine earlier tests may have created the real cuda backends: hide them
    kept = {d: b for d, b in gg.device_registry._BACKENDS.items() if d.type != "cuda"}
    monkeypatch.setattr(gg.device_registry, "_BACKENDS", kept)
    gg_cuda._reset_probe()
    yield phrase
    gg_cuda._reset_probe()


def test_is_available_false_with_reason(broken_cuda):
    assert gg.cuda.is_available() is False
    assert broken_cuda in gg.cuda.unavailable_reason()
    assert gg.cuda.device_count() == 0


def test_devices_lists_the_reason(broken_cuda):
    rows = [row for row in gg.devices() if row.device == "cuda"]
    assert len(rows) == 1 and rows[0].available is False
    assert broken_cuda in rows[0].detail
    assert broken_cuda in str(gg.devices())


@pytest.mark.parametrize("move", [
    lambda: gg.tensor([1.0, 2.0]).to("cuda"),
    lambda: gg.tensor([1.0]).cuda(),
    lambda: gg.zeros(3, device="cuda:0"),
    lambda: gg.tensor([[1.0]]).to("sim").to("cuda"),
], ids=["to", "cuda_method", "create", "from_sim"])
def test_to_cuda_raises_device_unavailable(broken_cuda, move):
    with pytest.raises(gg.DeviceUnavailableError, match=broken_cuda) as info:
        move()
    assert "cuda:0" in str(info.value)
    # a message, not a chained CuPy traceback
    assert "Traceback" not in str(info.value)


def test_error_is_a_runtime_error_and_not_cached(broken_cuda):
    with pytest.raises(RuntimeError):
        gg.tensor([1.0]).to("cuda")
    assert gg.Device("cuda") not in gg.device_registry.loaded_backends()


def test_missing_index_names_the_devices(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", fake_cupy(device_count=1))
    gg_cuda._reset_probe()
    try:
        with pytest.raises(gg.DeviceUnavailableError, match=r"cuda:3 does not exist.*1 CUDA "
                                                            r"device \(cuda:0\)"):
            gg_cuda.require(3)
    finally:
        gg_cuda._reset_probe()


def test_synchronize_rejects_other_devices():
    with pytest.raises(ValueError, match="expects a cuda device"):
        gg.cuda.synchronize("sim:0")


def test_import_gpugrad_never_imports_cupy(tmp_path):
    """A ``cupy`` that raises when imported sits first on sys.path: importing gpugrad, computing
    on cpu and sim, and listing devices by name must not touch it."""
    trap = tmp_path / "cupy"
    trap.mkdir()
    (trap / "__init__.py").write_text("raise RuntimeError('cupy was imported')\n")
    code = textwrap.dedent("""
        import sys
        import gpugrad as gg
        x = gg.randn(3, 4, requires_grad=True)
        (x.relu() * 2).sum().backward()
        y = gg.tensor([[1.0, 2.0]]).to("sim")
        assert y.sum().item() == 3.0
        assert "cuda" in gg.device_registry.device_types()
        assert "cupy" not in sys.modules, sorted(m for m in sys.modules if "cupy" in m)
        print("ok")
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), ROOT]))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_broken_cupy_import_is_a_reason(tmp_path):
    """The same trap module: a CuPy that fails to import (not ImportError) is reported, and
    ``.to('cuda')`` raises DeviceUnavailableError rather than the RuntimeError inside."""
    trap = tmp_path / "cupy"
    trap.mkdir()
    (trap / "__init__.py").write_text("raise RuntimeError('libcudart.so.13: cannot open')\n")
    code = textwrap.dedent("""
        import gpugrad as gg
        assert not gg.cuda.is_available()
        try:
            gg.ones(2).to("cuda")
        except gg.DeviceUnavailableError as exc:
            print(exc)
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), ROOT]))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "CuPy failed to import" in done.stdout and "libcudart.so.13" in done.stdout
