"""``normal_`` and ``uniform_`` (the ``RandomFill`` op): reproducible under ``gg.manual_seed``,
their parameters applied as ``loc + scale * draw`` in the tensor's dtype, written into the
tensor itself (views included), and PyTorch-like errors for non-float tensors."""
import numpy as np
import pytest

import gpugrad as gg

SHAPE = (64, 32)


def _fill(device, dtype, method, *args, seed=7):
    gg.manual_seed(seed)
    t = gg.zeros(*SHAPE, device=device, dtype=dtype)
    assert getattr(t, method)(*args) is t  # in place: returns the tensor itself
    return t.numpy()


@pytest.mark.parametrize("dtype", [gg.float32, gg.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("method", ["normal_", "uniform_"])
def test_same_seed_same_values_other_seed_other_values(method, dtype, device):
    first = _fill(device, dtype, method)
    assert first.dtype == np.dtype(dtype.name) and first.shape == SHAPE
    np.testing.assert_array_equal(_fill(device, dtype, method), first)
    assert not np.array_equal(_fill(device, dtype, method, seed=8), first)


def test_uniform_and_normal_draw_differently(device):
    u = _fill(device, gg.float64, "uniform_")
    z = _fill(device, gg.float64, "normal_")
    assert u.min() >= 0.0 and u.max() < 1.0 and 0.45 < u.mean() < 0.55
    assert z.min() < -1.0 and z.max() > 1.0 and abs(z.mean()) < 0.1 and 0.9 < z.std() < 1.1


@pytest.mark.parametrize("dtype", [gg.float32, gg.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("low,high", [(1.0, 3.0), (-2.0, 0.5), (0.0, 2.0), (1.0, 2.0)])
def test_uniform_bounds_shift_and_scale_the_draw(low, high, dtype, device):
    unit = _fill(device, dtype, "uniform_")
    got = _fill(device, dtype, "uniform_", low, high)
    np_dtype = np.dtype(dtype.name)
    want = unit * np_dtype.type(high - low) + np_dtype.type(low)
    np.testing.assert_array_equal(got, want)
    assert got.min() >= low and got.max() < high


@pytest.mark.parametrize("dtype", [gg.float32, gg.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("mean,std", [(1.0, 2.0), (-3.0, 0.5), (0.0, 2.0), (1.0, 1.0)])
def test_normal_mean_and_std_shift_and_scale_the_draw(mean, std, dtype, device):
    unit = _fill(device, dtype, "normal_")
    got = _fill(device, dtype, "normal_", mean, std)
    np_dtype = np.dtype(dtype.name)
    np.testing.assert_array_equal(got, unit * np_dtype.type(std) + np_dtype.type(mean))
    assert abs(got.mean() - mean) < 0.1 * std and abs(got.std() - std) < 0.1 * std


def test_float64_draws_are_double_precision(device):
    """A float64 tensor gets float64 draws, not float32 ones widened."""
    for method in ("normal_", "uniform_"):
        x = _fill(device, gg.float64, method)
        assert np.any(x != x.astype(np.float32).astype(np.float64))


@pytest.mark.parametrize("dtype", [gg.float16, gg.bfloat16], ids=["float16", "bfloat16"])
def test_low_precision_fill_keeps_dtype_and_range(dtype, device):
    gg.manual_seed(3)
    t = gg.zeros(*SHAPE, device=device, dtype=dtype).uniform_(-1.0, 1.0)
    assert t.dtype is dtype
    values = t.float().numpy()
    assert values.min() >= -1.0 and values.max() <= 1.0 and values.std() > 0.3


@pytest.mark.parametrize("dtype", [gg.float16, gg.bfloat16], ids=["float16", "bfloat16"])
@pytest.mark.parametrize("method", ["normal_", "uniform_"])
def test_low_precision_parameters_apply_in_float32(method, dtype, device):
    """float16/bfloat16 compute in float32 and round once per step, as PyTorch's CPU does: the
    parameters are not rounded to the tensor's dtype first (1/3 and 0.1 are not representable)."""
    loc, scale = 0.1, 1 / 3
    args = (loc, scale) if method == "normal_" else (loc, loc + scale)
    unit = _fill(device, dtype, method)
    got = _fill(device, dtype, method, *args)
    f32 = np.float32
    step_scale = f32(scale if method == "normal_" else args[1] - args[0])
    scaled = (unit.astype(f32) * step_scale).astype(unit.dtype)
    want = (scaled.astype(f32) + f32(loc)).astype(unit.dtype)
    assert got.dtype == unit.dtype
    np.testing.assert_array_equal(got.astype(f32), want.astype(f32))


def test_fill_writes_through_a_view_into_its_base(device):
    base = gg.zeros(4, 6, device=device, dtype=gg.float64)
    gg.manual_seed(5)
    base[:, ::2].uniform_(2.0, 3.0)
    values = base.numpy()
    assert np.all(values[:, 1::2] == 0.0)
    assert np.all((values[:, ::2] >= 2.0) & (values[:, ::2] < 3.0))


def test_fill_in_a_graph_cuts_the_old_values_gradient(device):
    a = gg.ones(3, 4, device=device, requires_grad=True)
    b = a * 2
    gg.manual_seed(1)
    b.normal_(5.0, 0.01)
    assert b.requires_grad and b.grad_fn is not None
    assert np.all(np.abs(b.detach().numpy() - 5.0) < 0.1)
    (b * 3).sum().backward()
    assert a.grad is None or not np.any(a.grad.numpy())


@pytest.mark.parametrize("dtype", [gg.int64, gg.bool], ids=["int64", "bool"])
@pytest.mark.parametrize("method", ["normal_", "uniform_"])
def test_non_float_tensor_is_refused(method, dtype, device):
    t = gg.zeros(3, device=device, dtype=dtype)
    with pytest.raises(RuntimeError) as info:
        getattr(t, method)()
    assert str(info.value) == f"{method} expects a floating point tensor, got {dtype.name}"


@pytest.mark.parametrize("overwrite", ["normal_", "uniform_", "zero_", "fill_", "copy_",
                                       "setitem"])
def test_an_overwritten_non_leaf_gives_its_history_zeros_as_pytorch(overwrite, device, torch):
    # the old values are gone: PyTorch's zeros_like(grad), not None (an optimizer then still
    # applies weight decay and momentum to the parameter)
    grads = []
    for lib, dev in ((gg, device), (torch, "cpu")):
        a = lib.ones(3, requires_grad=True, device=dev)
        b = a * 2
        {"normal_": lambda: b.normal_(), "uniform_": lambda: b.uniform_(),
         "zero_": lambda: b.zero_(), "fill_": lambda: b.fill_(3.0),
         "copy_": lambda: b.copy_(lib.ones(3, device=dev)),
         "setitem": lambda: b.__setitem__(Ellipsis, 5.0)}[overwrite]()
        (b * 1.5).sum().backward()
        grads.append(a.grad)
    assert grads[0] is not None and grads[0].tolist() == grads[1].tolist() == [0.0, 0.0, 0.0]


def test_an_overwritten_tensor_outside_the_graph_costs_no_zeros_kernel():
    b = gg.ones(3, device="sim")
    c = gg.ones(3, device="sim", requires_grad=True)
    b.copy_(c)  # b had no history: only c needs a gradient
    gg.sim.reset("sim:0")
    b.sum().backward()
    assert gg.sim.stats("sim:0").by_op["full"]["count"] == 1  # the root's ones only
    assert c.grad.tolist() == [1.0, 1.0, 1.0]
    a = gg.ones(3, device="sim", requires_grad=True)
    b = a * 2
    b.copy_(c)  # now the old values have a history, which gets zeros: one more full
    gg.sim.reset("sim:0")
    b.sum().backward()
    assert gg.sim.stats("sim:0").by_op["full"]["count"] == 2 and a.grad.tolist() == [0.0] * 3
