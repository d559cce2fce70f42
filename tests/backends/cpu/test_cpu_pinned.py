"""Pinned host memory: ``Tensor.pin_memory()`` marks a cpu array as page-locked, and copies it into
CUDA's page-locked memory when CuPy is loaded and a GPU answers (stood in for here)."""
import sys
import types

import numpy as np
import pytest

import gpugrad as gg


class _CUDARuntimeError(RuntimeError):
    pass


def _install_cupy(monkeypatch, empty_pinned):
    cupy = types.ModuleType("cupy")
    cupy.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(
        CUDARuntimeError=_CUDARuntimeError))
    cupyx = types.ModuleType("cupyx")
    cupyx.empty_pinned = empty_pinned
    monkeypatch.setitem(sys.modules, "cupy", cupy)
    monkeypatch.setitem(sys.modules, "cupyx", cupyx)


def test_without_cupy_pinning_marks_the_tensor_and_keeps_its_values(monkeypatch):
    monkeypatch.delitem(sys.modules, "cupyx", raising=False)
    x = gg.arange(6.0).reshape(2, 3)
    p = x.pin_memory()
    assert p.is_pinned() and not x.is_pinned()
    np.testing.assert_array_equal(p.numpy(), x.numpy())


def test_with_cupy_loaded_the_values_move_into_page_locked_memory(monkeypatch):
    made = []

    def empty_pinned(shape, dtype):
        out = np.empty(shape, dtype)
        made.append(out)
        return out

    _install_cupy(monkeypatch, empty_pinned)
    x = gg.arange(6.0, dtype=gg.float32).reshape(2, 3)
    p = x.pin_memory()
    assert len(made) == 1 and made[0].shape == (2, 3) and made[0].dtype == np.float32
    assert p._data is made[0] and p.is_pinned()
    np.testing.assert_array_equal(p.numpy(), x.numpy())


def test_with_cupy_but_no_gpu_pinning_falls_back_to_marking(monkeypatch):
    def empty_pinned(shape, dtype):
        raise _CUDARuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected")

    _install_cupy(monkeypatch, empty_pinned)
    p = gg.ones(3).pin_memory()
    assert p.is_pinned()
    np.testing.assert_array_equal(p.numpy(), np.ones(3, np.float32))


def test_a_device_tensor_cannot_be_pinned():
    with pytest.raises(RuntimeError, match="only cpu tensors can be pinned"):
        gg.ones(2, device="sim").pin_memory()
