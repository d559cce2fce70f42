"""The sim's broadcast views (backend.py makes them directly, not through ``np.broadcast_to``'s
wrapper) have exactly NumPy's layout, so every kernel reading them is modeled as before, and
bad shapes still raise NumPy's error."""
import itertools

import numpy as np
import pytest

import gpugrad as gg
from gpugrad.device_registry import get_backend


def _layout(x):
    return x.shape, x.strides, x.dtype, x.flags.c_contiguous, x.flags.f_contiguous, \
        x.flags.writeable


@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.bool_])
def test_broadcast_views_have_numpys_layout(dtype):
    backend = get_backend("sim:0")
    for ndim in range(3):
        for shape in itertools.product((1, 2, 3, 0), repeat=ndim):
            a = backend.from_host(np.ones(shape, dtype))
            for lead in range(2):
                for target in itertools.product((1, 3, 0), repeat=ndim + lead):
                    try:
                        want = np.broadcast_to(a.data, target)
                    except ValueError:
                        with pytest.raises(ValueError):
                            backend.broadcast_to(a, target)
                        continue
                    got = backend.broadcast_to(a, target)
                    assert _layout(got.data) == _layout(want), (shape, target)
                    assert got.alloc is a.alloc  # a view: the same modeled memory
                    np.testing.assert_array_equal(got.data, want)


def test_a_broadcast_view_of_a_strided_array_and_its_values():
    x = gg.arange(6.0, device="sim").reshape(2, 3).T  # (3, 2), not contiguous
    got = x.expand(2, 3, 2)
    want = np.broadcast_to(np.arange(6.0, dtype=np.float32).reshape(2, 3).T, (2, 3, 2))
    assert got._data.data.strides == want.strides
    np.testing.assert_array_equal(got.numpy(), want)
    col = gg.ones(3, 1, device="sim")
    assert col.expand(3, 4)._data.data.strides == \
        np.broadcast_to(np.ones((3, 1), np.float32), (3, 4)).strides
