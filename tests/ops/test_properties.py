"""Property tests over random broadcastable shapes: binary ops agree with NumPy forward, and
their gradients are the broadcast local derivative summed back to each input's shape."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import gpugrad as gg
from gpugrad.ops.broadcast import broadcast_shapes, sum_to

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True)
# the ``device`` fixture is a plain string, safe to share across examples
DEVICE_SETTINGS = settings(SETTINGS, max_examples=25,
                           suppress_health_check=[HealthCheck.function_scoped_fixture])

# op -> (gpugrad expression, NumPy forward, d/da, d/db)
BINARY = {
    "add": (lambda a, b: a + b, np.add, lambda a, b: np.ones_like(a * b),
            lambda a, b: np.ones_like(a * b)),
    "sub": (lambda a, b: a - b, np.subtract, lambda a, b: np.ones_like(a * b),
            lambda a, b: -np.ones_like(a * b)),
    "mul": (lambda a, b: a * b, np.multiply, lambda a, b: b + 0 * a, lambda a, b: a + 0 * b),
    "div": (lambda a, b: a / b, np.divide, lambda a, b: 1 / b + 0 * a, lambda a, b: -a / b ** 2),
    "pow": (lambda a, b: a ** b, np.power, lambda a, b: b * a ** (b - 1),
            lambda a, b: a ** b * np.log(a)),
    "maximum": (lambda a, b: a.maximum(b), np.maximum,
                lambda a, b: (a > b).astype(float), lambda a, b: (a < b).astype(float)),
}


def _unsum(reduced, target_shape):
    """NumPy reference of sum_to: sum leading dims, then dims where the target has size 1."""
    lead = reduced.ndim - len(target_shape)
    out = reduced.sum(axis=tuple(range(lead)))
    axes = tuple(i for i, s in enumerate(target_shape) if s == 1 and out.shape[i] != 1)
    return out.sum(axis=axes, keepdims=True).reshape(target_shape)


@st.composite
def broadcastable_pair(draw):
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4,
                                                    max_side=4))
    a_shape, b_shape = shapes.input_shapes
    values = st.floats(0.5, 2.0)  # positive and away from 0: pow and div are smooth there
    a = draw(hnp.arrays(np.float64, a_shape, elements=values))
    b = draw(hnp.arrays(np.float64, b_shape, elements=values, unique=False))
    return a, b


@pytest.mark.parametrize("op", BINARY)
@DEVICE_SETTINGS
@given(pair=broadcastable_pair())
def test_binary_ops_broadcast_and_sum_gradients_back(op, pair, device):
    fn, forward, da, db = BINARY[op]
    a_np, b_np = pair
    if op == "maximum" and np.any(np.broadcast_arrays(a_np, b_np)[0] ==
                                  np.broadcast_arrays(a_np, b_np)[1]):
        return  # ties split the gradient; covered by a dedicated test
    a = gg.tensor(a_np, dtype=gg.float64, device=device, requires_grad=True)
    b = gg.tensor(b_np, dtype=gg.float64, device=device, requires_grad=True)
    out = fn(a, b)
    expected = forward(a_np, b_np)
    assert out.shape == expected.shape == broadcast_shapes(op, a_np.shape, b_np.shape)
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-12)
    out.sum().backward()
    assert a.grad.shape == a_np.shape and b.grad.shape == b_np.shape
    assert a.grad.device == a.device
    np.testing.assert_allclose(a.grad.numpy(), _unsum(da(a_np, b_np), a_np.shape), rtol=1e-10)
    np.testing.assert_allclose(b.grad.numpy(), _unsum(db(a_np, b_np), b_np.shape), rtol=1e-10)


@SETTINGS
@given(pair=broadcastable_pair())
def test_sum_to_inverts_broadcasting(pair):
    a_np, b_np = pair
    full = np.broadcast_shapes(a_np.shape, b_np.shape)
    grad = np.arange(1.0, 1.0 + np.prod(full)).reshape(full)
    for target in (a_np.shape, b_np.shape):
        got = sum_to(gg.tensor(grad, dtype=gg.float64), target)
        assert got.shape == target
        np.testing.assert_allclose(got.numpy(), _unsum(grad, target))


@SETTINGS
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=1, max_dims=3,
                                                 max_side=3))
def test_broadcast_shapes_agrees_with_numpy(shapes):
    a, b = shapes.input_shapes
    assert broadcast_shapes("add", a, b) == np.broadcast_shapes(a, b)


@SETTINGS
@given(a=hnp.array_shapes(min_dims=1, max_dims=3, max_side=4),
       b=hnp.array_shapes(min_dims=1, max_dims=3, max_side=4))
def test_incompatible_shapes_are_reported_with_both_shapes(a, b):
    try:
        np.broadcast_shapes(a, b)
    except ValueError:
        with pytest.raises(RuntimeError) as info:
            gg.ones(*a) + gg.ones(*b)
        assert str(a) in str(info.value) and str(b) in str(info.value) and "add" in str(info.value)
    else:
        assert (gg.ones(*a) + gg.ones(*b)).shape == np.broadcast_shapes(a, b)


@SETTINGS
@given(x=hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=4),
                    elements=st.floats(-3, 3)),
       data=st.data())
def test_reductions_over_random_dims_match_numpy(x, data):
    dims = data.draw(st.sets(st.integers(0, x.ndim - 1), min_size=1))
    dims = tuple(sorted(dims))
    keepdim = data.draw(st.booleans())
    t = gg.tensor(x, dtype=gg.float64, requires_grad=True)
    out = t.sum(dim=dims, keepdim=keepdim)
    np.testing.assert_allclose(out.detach().numpy(), x.sum(axis=dims, keepdims=keepdim))
    out.sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), np.ones_like(x))
    np.testing.assert_allclose(t.mean(dim=dims, keepdim=keepdim).detach().numpy(),
                               x.mean(axis=dims, keepdims=keepdim))
