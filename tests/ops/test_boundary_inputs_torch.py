"""Inputs exactly on a boundary, compared with PyTorch value for value and gradient for gradient:
values on clamp's bounds, ties in max/min/maximum/minimum/median/sort, zeros in abs/sign/relu/
sqrt, and repeated backward passes (``retain_graph``) accumulating into leaves and into
``retain_grad`` non-leaves.

The upstream gradient is distinct per element (1, 2, 3, ...), so a gradient routed to the wrong
one of two tied elements, or split between them, shows."""
import numpy as np
import pytest

import gpugrad as gg


def _host(t):
    return None if t is None else t.detach().cpu().numpy()


def check(torch, device, fn, *inputs):
    """``fn`` gives the same values and input gradients on gpugrad (``device``) and PyTorch."""
    xs = [gg.tensor(a, dtype=gg.float64, device=device, requires_grad=True) for a in inputs]
    ts = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in inputs]
    out, want = fn(gg, *xs), fn(torch, *ts)
    # (1 ulp: NumPy's and PyTorch's sqrt may round differently)
    np.testing.assert_allclose(_host(out), want.detach().numpy(), rtol=1e-15, atol=0,
                               equal_nan=True, err_msg="values")
    seed = np.arange(1.0, want.numel() + 1).reshape(tuple(want.shape))
    out.backward(gg.tensor(seed, dtype=gg.float64, device=device))
    want.backward(torch.tensor(seed))
    for i, (x, t) in enumerate(zip(xs, ts)):
        got = np.zeros(np.shape(inputs[i])) if x.grad is None else _host(x.grad)
        expected = np.zeros(np.shape(inputs[i])) if t.grad is None else t.grad.numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-15, atol=0, equal_nan=True,
                                   err_msg=f"gradient of input {i}")


ON_BOUNDS = [-1.0, 0.0, 0.5, 1.0, 2.0, 0.0, 1.0]


@pytest.mark.parametrize("name, fn", [
    ("clamp", lambda m, x: m.clamp(x, 0.0, 1.0)),
    ("clamp min", lambda m, x: m.clamp(x, min=0.0)),
    ("clamp max", lambda m, x: m.clamp(x, max=1.0)),
    ("clamp_min", lambda m, x: x.clamp_min(0.0)),
    ("clamp_max", lambda m, x: x.clamp_max(1.0)),
    ("clip", lambda m, x: x.clip(0.0, 1.0)),
])
def test_values_on_clamp_bounds(device, torch, name, fn):
    check(torch, device, fn, ON_BOUNDS)


def test_values_on_tensor_clamp_bounds(device, torch):
    low, high = [0.0] * 7, [1.0] * 7
    check(torch, device, lambda m, x, lo, hi: m.clamp(x, lo, hi), ON_BOUNDS, low, high)


TIES = [[3.0, 1.0, 3.0, 2.0], [2.0, 2.0, 0.0, 2.0], [5.0, 5.0, 5.0, 5.0]]


@pytest.mark.parametrize("name, fn", [
    ("max", lambda m, x: x.max()),
    ("min", lambda m, x: x.min()),
    ("max dim", lambda m, x: x.max(1).values),
    ("min dim", lambda m, x: x.min(0).values),
    ("max dim indices", lambda m, x: x.max(1).indices.double() + x.sum() * 0),
    ("amax", lambda m, x: x.amax(1)),
    ("amin", lambda m, x: x.amin(0)),
    ("median", lambda m, x: x.median()),
    ("median dim", lambda m, x: x.median(1).values),
    ("median dim indices", lambda m, x: x.median(1).indices.double() + x.sum() * 0),
    ("sort", lambda m, x: x.sort(stable=True, dim=1).values),
    ("sort descending", lambda m, x: x.sort(stable=True, dim=1, descending=True).values),
    ("sort indices", lambda m, x: x.sort(stable=True, dim=0).indices.double() + x.sum() * 0),
    ("argmax", lambda m, x: x.argmax(1).double() + x.sum() * 0),
])
def test_ties(device, torch, name, fn):
    check(torch, device, fn, TIES)


@pytest.mark.parametrize("name", ["maximum", "minimum", "fmax", "fmin"])
def test_ties_between_two_tensors(device, torch, name):
    check(torch, device, lambda m, a, b: getattr(m, name)(a, b), [1.0, 2.0, 0.0, -0.0, 3.0],
          [1.0, 1.0, 0.0, 0.0, 3.0])


@pytest.mark.parametrize("name, fn", [
    ("abs", lambda m, x: x.abs()),
    ("sign", lambda m, x: x.sign() + x * 0),
    ("relu", lambda m, x: x.relu()),
    ("sqrt", lambda m, x: x.sqrt()),
    ("pow 0.5", lambda m, x: x ** 0.5),
    ("leaky_relu", lambda m, x: m.nn.functional.leaky_relu(x, 0.1)),
])
def test_zeros(device, torch, name, fn):
    check(torch, device, fn, [0.0, -0.0, 2.0, 0.0])


def _two_backwards(m, device=None):
    """Two backward passes over one retained graph; returns the leaf's and the retained
    non-leaf's gradients after the first and after the second (m: gpugrad or torch)."""
    kwargs = {} if device is None else {"device": device}
    x = m.tensor([1.0, -2.0, 3.0], dtype=m.float64, requires_grad=True, **kwargs)
    y = x * x
    y.retain_grad()
    z = (y * m.tensor([1.0, 2.0, 3.0], dtype=m.float64, **kwargs)).sum()
    z.backward(retain_graph=True)
    first = (x.grad.detach().cpu().numpy().copy(), y.grad.detach().cpu().numpy().copy())
    z.backward()
    return first, (x.grad.detach().cpu().numpy(), y.grad.detach().cpu().numpy())


def test_repeated_backward_accumulates_into_leaves_and_retained_grads(device, torch):
    got, want = _two_backwards(gg, device), _two_backwards(torch)
    for (g_x, g_y), (w_x, w_y) in zip(got, want):
        np.testing.assert_array_equal(g_x, w_x)
        np.testing.assert_array_equal(g_y, w_y)
    # by hand: dz/dy = [1, 2, 3], dz/dx = 2 x [1, 2, 3]; the second pass doubles both
    np.testing.assert_array_equal(got[1][1], [2.0, 4.0, 6.0])
    np.testing.assert_array_equal(got[1][0], [4.0, -16.0, 36.0])
