"""Layout ops (gpugrad/ops/shape.py) at the edges the main tests pass over: ``cat`` of tensors of
several dtypes (result dtype, values and each input's gradient dtype, as ``torch.cat``; one cast
kernel on the sim), ``copy_``'s shape errors word for word, the third derivative through a
reduction's broadcast gradient (``Expand``'s own backward), and, on cuda, a write into a row of an
expanded tensor (its gradient replays the expand: ``ExpandView.view_array``)."""
import numpy as np
import pytest

import gpugrad as gg
from support.gradtools import assert_close


@pytest.mark.parametrize("first,second", [
    ("float32", "float64"),
    ("int64", "float16"),      # NumPy's own promotion would give float64
    ("float16", "bfloat16"),   # neither is the result dtype (float32)
    ("bool", "int64"),
], ids=str)
def test_cat_of_several_dtypes_as_torch(torch, first, second):
    a_np = np.array([[1, 0], [1, 1]]).astype(np.float64)
    b_np = np.array([[0, 3], [2, 1], [1, 0]]).astype(np.float64)
    ta = torch.tensor(a_np).to(getattr(torch, first))
    tb = torch.tensor(b_np).to(getattr(torch, second))
    want = torch.cat([ta, tb])
    a = gg.tensor(a_np).to(getattr(gg, first))
    b = gg.tensor(b_np).to(getattr(gg, second))
    got = gg.cat([a, b])
    assert got.dtype is getattr(gg, str(want.dtype).removeprefix("torch."))
    assert got.shape == tuple(want.shape)
    assert_close(got.to(gg.float64), want.double())


def test_cat_of_several_float_dtypes_gives_each_input_its_gradient_dtype(torch):
    rng = np.random.default_rng(2)
    x_np, y_np, w_np = rng.standard_normal((2, 3)), rng.standard_normal((1, 3)), \
        rng.standard_normal((3, 3))
    for first, second in [("float16", "bfloat16"), ("float32", "float64")]:
        tx = torch.tensor(x_np).to(getattr(torch, first)).requires_grad_()
        ty = torch.tensor(y_np).to(getattr(torch, second)).requires_grad_()
        (torch.cat([tx, ty]) * torch.tensor(w_np)).sum().backward()
        x = gg.tensor(x_np).to(getattr(gg, first)).requires_grad_()
        y = gg.tensor(y_np).to(getattr(gg, second)).requires_grad_()
        (gg.cat([x, y]) * gg.tensor(w_np)).sum().backward()
        assert x.grad.dtype is getattr(gg, first) and y.grad.dtype is getattr(gg, second)
        assert_close(x.grad.to(gg.float64), tx.grad.double(), atol=1e-2, rtol=1e-2)
        assert_close(y.grad.to(gg.float64), ty.grad.double(), atol=1e-2, rtol=1e-2)


def test_sim_cat_casts_only_the_inputs_of_another_dtype():
    backend = gg.device_registry.get_backend("sim")
    a = gg.ones(3, dtype=gg.float32, device="sim")
    b = gg.ones(2, dtype=gg.float64, device="sim")
    backend.reset()
    out = gg.cat([a, b])
    by_op, _ = backend.kernel_totals()
    assert out.dtype is gg.float64
    assert by_op["cast"][0] == 1  # the float32 operand; the float64 one is used as it is


@pytest.mark.parametrize("dst,src", [((3, 4), (3,)), ((3, 4), (2, 4)), ((2, 3, 4), (5, 1))],
                         ids=str)
def test_copy_shape_mismatch_word_for_word_as_torch(torch, dst, src):
    with pytest.raises(RuntimeError) as expected:
        torch.zeros(dst).copy_(torch.zeros(src))
    for write in (lambda d, s: d.copy_(s), lambda d, s: d.__setitem__(Ellipsis, s)):
        with pytest.raises(RuntimeError) as got:
            write(gg.zeros(dst), gg.zeros(src))
        assert str(got.value) == str(expected.value)


@pytest.mark.parametrize("dst,src", [((3,), (2, 3)), ((3,), (1, 3))], ids=str)
def test_copy_from_a_source_of_more_dimensions_is_refused(torch, dst, src):
    """PyTorch refuses it too ("output with shape [3] doesn't match the broadcast shape ...");
    gpugrad says which tensor has the extra dimensions."""
    with pytest.raises(RuntimeError):
        torch.zeros(dst).copy_(torch.zeros(src))
    with pytest.raises(RuntimeError) as got:
        gg.zeros(dst).copy_(gg.zeros(src))
    assert str(got.value) == (f"copy_: source of shape {list(src)} has more dimensions than the "
                              f"destination {list(dst)}")


@pytest.mark.parametrize("reduce", ["sum", "mean"])
def test_third_derivative_through_a_reduction_as_torch(torch, reduce):
    """d/dx of sum(d/dx (reduce(x) ** 3)), with the graph kept: the broadcast of the
    reduction's gradient is differentiated as an op of its own."""
    x_np = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])
    x = gg.tensor(x_np, requires_grad=True)
    tx = torch.tensor(x_np, requires_grad=True)
    grads = []
    for lib, t in ((gg, x), (torch, tx)):
        g, = lib.autograd.grad(getattr(t, reduce)() ** 3, t, create_graph=True)
        h, = lib.autograd.grad(g.sum(), t, create_graph=True)
        k, = lib.autograd.grad((h * h).sum(), t)
        grads.append((h, k))
    (h, k), (th, tk) = grads
    assert_close(h, th.detach())
    assert_close(k, tk)


def test_write_into_a_row_of_an_expanded_tensor_with_cupy_views(fake_cuda, monkeypatch, torch):
    """On cuda, CuPy's ``broadcast_to`` views are writable (CuPy has no read-only arrays): a
    write into one row of an expanded tensor, which overlaps nothing, lands in the base and
    differentiates as in PyTorch (the base's gradient replays the expand on its own copy)."""
    fake, _ = fake_cuda

    def cupy_broadcast_to(array, shape):  # the stand-in's view, writable as CuPy's is
        strides = np.broadcast_to(array, shape, subok=True).strides
        return np.lib.stride_tricks.as_strided(array, shape, strides, subok=True)

    monkeypatch.setattr(fake, "broadcast_to", cupy_broadcast_to)
    a_np, w_np = np.array([[1.0, 2.0, 3.0, 4.0]]), np.arange(12.0).reshape(3, 4)
    results = []
    for lib, kw in ((torch, {}), (gg, {"device": "cuda"})):
        a = lib.tensor(a_np, requires_grad=True, **kw)
        base = a * 1
        rows = base.expand(3, 4)
        rows[1].mul_(lib.tensor([2.0, 3.0, 4.0, 5.0], **kw))
        (rows * lib.tensor(w_np, **kw)).sum().backward()
        results.append((base.detach(), a.grad))
    (base, grad), (want_base, want_grad) = results[1], results[0]
    assert_close(base.cpu(), want_base)
    assert_close(grad.cpu(), want_grad)
