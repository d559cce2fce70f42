"""Writes through views whose gradients flow to the base (``CopySlices``, whose base gradient
is a ``ViewScatter``), differentiated twice: the second backward runs ``ViewScatter``'s own
backward, which sends the region's gradient to the written values. Values and gradients of
both passes against PyTorch. Kills the mutation-testing survivors of ``ViewScatter``."""
import numpy as np
import pytest

import gpugrad as gg

DEVICES = ["cpu", "sim"]

R = np.random.default_rng(11)
X = R.standard_normal((3, 4))
W_ROW = R.standard_normal(4)
W_COL = R.standard_normal(3)
V_ROW = R.standard_normal(4)


def _numpy(t):
    t = t.detach()
    return t.cpu().numpy() if isinstance(t, gg.Tensor) else t.numpy()


def _write_row_mul(y, w):
    y[1].mul_(w)  # a select view, multiplied in place: its region gradient is grad * w


def _write_col_mul_transposed(y, w):
    y.t()[2].mul_(w)  # a view of a view (transpose, then select): column 2


def _write_slice_add(y, w):
    y[:, 1:3].add_(w[1:3])  # broadcast along rows: region gradient passes as is


_WRITES = {"row_mul": (_write_row_mul, W_ROW), "col_mul_transposed":
           (_write_col_mul_transposed, W_COL), "slice_add": (_write_slice_add, W_ROW)}


def _double_backward(lib, write, w_values, **kw):
    """``g = d loss / d x`` with the graph kept, then ``(g * c).sum()`` differentiated: the
    first gradient, then the gradients of x and w from the second pass."""
    x = lib.tensor(X, requires_grad=True, **kw)
    w = lib.tensor(w_values, requires_grad=True, **kw)
    y = x * 1.5  # a non-leaf: a leaf that requires grad cannot be written in place
    write(y, w)
    loss = (y * y * x).sum()
    g, = lib.autograd.grad(loss, x, create_graph=True)
    (g * lib.tensor(X + 2.0, **kw)).sum().backward()
    return _numpy(g), _numpy(x.grad), _numpy(w.grad)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("write", list(_WRITES))
def test_double_backward_through_a_view_written_in_place_matches_pytorch(device, write):
    torch = pytest.importorskip("torch")
    fn, w_values = _WRITES[write]
    expected = _double_backward(torch, fn, w_values)
    got = _double_backward(gg, fn, w_values, device=device)
    for name, e, a in zip(("first gradient", "x.grad", "w.grad"), expected, got):
        np.testing.assert_allclose(a, e, rtol=1e-10, atol=1e-12, err_msg=name)


def _double_backward_of_copy(lib, value, **kw):
    """A view overwritten (by a number or a tensor), then differentiated twice through the
    base: returns x.grad, and v.grad when the value is a tensor."""
    x = lib.tensor(X, requires_grad=True, **kw)
    v = lib.tensor(V_ROW, requires_grad=True, **kw) if value == "tensor" else None
    y = x * x
    y[1:, :] = 2.5 if v is None else v * x[0]  # the value depends on x too
    loss = (y * y).sum()
    g, = lib.autograd.grad(loss, x, create_graph=True)
    (g * g).sum().backward()
    return _numpy(x.grad), None if v is None else _numpy(v.grad)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("value", ["number", "tensor"])
def test_double_backward_through_an_overwritten_view_matches_pytorch(device, value):
    torch = pytest.importorskip("torch")
    expected = _double_backward_of_copy(torch, value)
    got = _double_backward_of_copy(gg, value, device=device)
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-10, atol=1e-12)
    if value == "tensor":
        np.testing.assert_allclose(got[1], expected[1], rtol=1e-10, atol=1e-12)
