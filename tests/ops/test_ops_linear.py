"""``nn.functional.linear`` (the ``Linear`` op): values and gradients against PyTorch for 1-D to
4-D inputs, with and without bias and ``create_graph``, each operand in or out of the graph, and
its shape and dtype errors word for word."""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.nn.functional as F

IN, OUT = 3, 5
# every size differs from the others, so a dimension taken from the wrong place shows
INPUT_SHAPES = [(IN,), (4, IN), (2, 4, IN), (2, 1, 4, IN)]
# which of (input, weight) require grad: a network's first layer has an input outside the graph
GRAD_NEEDS = [(True, True), (False, True), (True, False)]


def _data(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape)


def _run(lib, x, w, b, g, dtype, device, needs, create_graph):
    """linear's output and the gradients of (x, w, b) for upstream gradient ``g``."""
    kw = {} if lib is not gg else {"device": device}
    tx = lib.tensor(x, dtype=dtype, requires_grad=needs[0], **kw)
    tw = lib.tensor(w, dtype=dtype, requires_grad=needs[1], **kw)
    tb = None if b is None else lib.tensor(b, dtype=dtype, requires_grad=True, **kw)
    functional = F if lib is gg else lib.nn.functional
    out = functional.linear(tx, tw, tb)
    out.backward(lib.tensor(g, dtype=dtype, **kw), create_graph=create_graph)
    grads = [None if t is None or t.grad is None else t.grad.detach().numpy()
             for t in (tx, tw, tb)]
    return out.detach().numpy(), grads


@pytest.mark.parametrize("create_graph", [False, True], ids=["arrays", "create_graph"])
@pytest.mark.parametrize("needs", GRAD_NEEDS, ids=["both", "weight_only", "input_only"])
@pytest.mark.parametrize("bias", [False, True], ids=["nobias", "bias"])
@pytest.mark.parametrize("shape", INPUT_SHAPES, ids=lambda s: f"{len(s)}d")
def test_linear_matches_torch(shape, bias, needs, create_graph, device, torch):
    x, w = _data(shape, 1), _data((OUT, IN), 2)
    b = _data((OUT,), 3) if bias else None
    g = _data(shape[:-1] + (OUT,), 4)
    out, grads = _run(gg, x, w, b, g, gg.float64, device, needs, create_graph)
    want_out, want_grads = _run(torch, x, w, b, g, torch.float64, None, needs, False)
    assert out.shape == want_out.shape
    np.testing.assert_allclose(out, want_out, rtol=1e-12, atol=1e-12)
    for got, want in zip(grads, want_grads):
        assert (got is None) == (want is None)
        if want is not None:
            assert got.shape == want.shape
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("create_graph", [False, True], ids=["arrays", "create_graph"])
def test_linear_float32_keeps_dtype(create_graph, device, torch):
    x, w, g = _data((2, 4, IN), 5), _data((OUT, IN), 6), _data((2, 4, OUT), 7)
    out, grads = _run(gg, x, w, None, g, gg.float32, device, (True, True), create_graph)
    want_out, want_grads = _run(torch, x, w, None, g, torch.float32, None, (True, True), False)
    assert out.dtype == np.float32 and all(gr.dtype == np.float32 for gr in grads[:2])
    np.testing.assert_allclose(out, want_out, rtol=1e-5, atol=1e-6)
    for got, want in zip(grads[:2], want_grads[:2]):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape", INPUT_SHAPES, ids=lambda s: f"{len(s)}d")
def test_linear_gradcheck_and_gradgradcheck(shape):
    x = gg.tensor(_data(shape, 8), dtype=gg.float64, requires_grad=True)
    w = gg.tensor(_data((OUT, IN), 9), dtype=gg.float64, requires_grad=True)
    assert gg.gradcheck(lambda a, b: F.linear(a, b), (x, w))
    assert gg.gradgradcheck(lambda a, b: F.linear(a, b).tanh(), (x, w))


@pytest.mark.parametrize("shape", INPUT_SHAPES, ids=lambda s: f"{len(s)}d")
def test_linear_double_backward_matches_torch(shape, device, torch):
    """The input's gradient, itself differentiated: backward runs on Tensors."""
    x, w, h = _data(shape, 10), _data((OUT, IN), 11), _data(shape, 12)
    grads = []
    for lib, kw in ((gg, {"device": device}), (torch, {})):
        tx = lib.tensor(x, dtype=lib.float64, requires_grad=True, **kw)
        tw = lib.tensor(w, dtype=lib.float64, requires_grad=True, **kw)
        functional = F if lib is gg else lib.nn.functional
        out = functional.linear(tx, tw).tanh().sum()
        (gx,) = lib.autograd.grad(out, (tx,), create_graph=True)
        (gx * lib.tensor(h, dtype=lib.float64, **kw)).sum().backward()
        grads.append((tx.grad.detach().numpy(), tw.grad.detach().numpy()))
    for got, want in zip(*grads):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_nn_linear_module_is_functional_linear(device):
    gg.manual_seed(0)
    layer = gg.nn.Linear(IN, OUT, device=device)
    x = gg.tensor(_data((2, 4, IN), 13), device=device, dtype=gg.float32)
    np.testing.assert_allclose(layer(x).detach().numpy(),
                               F.linear(x, layer.weight, layer.bias).detach().numpy())


def test_linear_dtype_mismatch_message(device):
    x = gg.ones(2, IN, device=device)
    w = gg.ones(OUT, IN, device=device, dtype=gg.float64)
    with pytest.raises(RuntimeError) as info:
        F.linear(x, w)
    assert str(info.value) == ("expected input and weight to have the same dtype, but got: "
                               "float32 != float64; convert one first, e.g. b.to(a.dtype)")


@pytest.mark.parametrize("x_shape,w_shape,in_features", [
    ((2, 3), (4, 5), "5"),
    ((2, 3, 4), (5, 3), "3"),    # the second dimension matches in_features: not the last one
    ((4, 2), (5, 4), "4"),       # the rows match in_features: not the last dimension
    ((4,), (5, 3), "3"),
    ((), (4, 5), "5"),           # a 0-d input
    ((2, 3), (2, 4, 3), "?"),
])
def test_linear_shape_error_message(x_shape, w_shape, in_features, device):
    x, w = gg.ones(*x_shape, device=device), gg.ones(*w_shape, device=device)
    with pytest.raises(RuntimeError) as info:
        F.linear(x, w)
    assert str(info.value) == (
        f"linear: input of shape {x_shape} does not match weight of shape {w_shape}: the last "
        f"input dimension must equal in_features={in_features}")


@pytest.mark.parametrize("create_graph", [False, True], ids=["arrays", "create_graph"])
@pytest.mark.parametrize("needs", GRAD_NEEDS, ids=["both", "weight_only", "input_only"])
def test_backward_launches_only_the_needed_products(needs, create_graph):
    """An operand outside the graph gets no product: on a GPU it is a full matmul nobody reads
    (the simulated device lists the kernels)."""
    from gpugrad.profiler import ProfilerActivity, profile

    x = gg.ones(4, IN, device="sim", requires_grad=needs[0])
    w = gg.ones(OUT, IN, device="sim", requires_grad=needs[1])
    out = F.linear(x, w)
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        out.backward(gg.ones(4, OUT, device="sim"), create_graph=create_graph)
    launched = sorted(meta["shapes"] for _, lane, name, _, _, meta in prof.events
                      if lane == "stream" and name == "matmul")
    wanted = [((4, OUT), (OUT, IN))] * needs[0] + [((OUT, 4), (4, IN))] * needs[1]
    assert launched == sorted(wanted)
