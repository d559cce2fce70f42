"""Reductions (``ops/reduce.py``) where the common tests do not look: errors that name the op,
``keepdim`` of a full sum, the norm over dims of size 1, exact ``p``-norm gradients against
PyTorch's formulas, variance at the edges of its two algorithms, ``std``'s zero gradient where
the result underflows to 0, ``create_graph`` gradients of ``max(dim)``, and the kernels of the
1-norm on the simulated GPU. Kills mutation-testing survivors (``bench/mutation.toml``, ops)."""
import math
import warnings

import numpy as np
import pytest

import gpugrad as gg


# ---- errors name the op -----------------------------------------------------------------------
@pytest.mark.parametrize("name,call", [
    ("sum", lambda x: x.sum(dim=5)),
    ("mean", lambda x: x.mean(dim=5)),
    ("max", lambda x: x.amax(dim=5)),  # amax/amin name the backend reduction
    ("min", lambda x: x.amin(dim=5)),
    ("norm", lambda x: x.norm(dim=5)),
])
def test_dim_out_of_range_names_the_op(name, call):
    with pytest.raises(IndexError) as info:
        call(gg.ones(2, 3))
    assert str(info.value) == (f"{name}: Dimension out of range (expected to be in range of "
                               f"[-2, 1], but got 5)")


def test_repeated_dim_names_the_op():
    with pytest.raises(RuntimeError) as info:
        gg.ones(2, 3).sum(dim=(0, -2))
    assert str(info.value) == "sum: dim 0 appears multiple times in the list of dims"


# ---- sum --------------------------------------------------------------------------------------
def test_full_sum_keepdim_keeps_every_dim(torch):
    x = gg.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    out = x.sum(keepdim=True)
    expected = torch.tensor(x.tolist()).sum(dim=(0, 1), keepdim=True)
    assert out.shape == tuple(expected.shape) == (1, 1)
    assert out.tolist() == expected.tolist()


# ---- max(dim): the gradient picks one entry and is a constant of x ------------------------------
def test_max_along_dim_gradient_is_constant_under_create_graph(torch):
    values = [[1.0, 3.0, 2.0], [2.0, 5.0, 0.0]]
    x = gg.tensor(values, requires_grad=True)
    (grad,) = gg.autograd.grad(x.max(dim=1)[0].sum(), x, create_graph=True)
    t = torch.tensor(values, requires_grad=True)
    (expected,) = torch.autograd.grad(t.max(dim=1)[0].sum(), t, create_graph=True)
    assert grad.tolist() == expected.tolist()
    assert grad.requires_grad is expected.requires_grad is False


# ---- var / std ----------------------------------------------------------------------------------
@pytest.mark.parametrize("correction", [0, 1, 2, 3])
def test_var_of_0d_tensor_along_dim_0_gradient(torch, correction):
    """A 0-d input takes PyTorch's no-dim gradient formula even with ``dim=0``: NaN once the
    degrees of freedom are <= 0."""
    x = gg.tensor(1.5, requires_grad=True)
    t = torch.tensor(1.5, requires_grad=True)
    with warnings.catch_warnings():  # both warn that the degrees of freedom are <= 0
        warnings.simplefilter("ignore", UserWarning)
        x.var(dim=0, correction=correction).backward()
        t.var(dim=0, correction=correction).backward()
    expected = t.grad.item()
    assert (math.isnan(x.grad.item()) and math.isnan(expected)) or x.grad.item() == expected


def test_var_of_two_element_slices_is_exact_where_the_mean_rounds(torch):
    """Two-element slices are centered on their first element, as PyTorch's Welford pass is
    exact there: 1e7 + 1 and 1e7 + 2 in float32 have a variance of exactly 0.5."""
    values = [[1e7 + 1, 1e7 + 2], [16777216.0, 16777218.0], [3e38, 3e38]]
    out = gg.tensor(values).var(dim=1)
    assert out.tolist() == torch.tensor(values).var(dim=1).tolist() == [0.5, 2.0, 0.0]


@pytest.mark.parametrize("dim", [None, 1])
def test_std_gradient_is_zero_where_the_result_underflows_to_zero(torch, dim):
    """The squares of 1e-200-sized deviations underflow: std is 0 though x is not constant, and
    PyTorch's ``std_backward`` masks the gradient there to 0."""
    values = [[1e-200, 3e-200]]
    x = gg.tensor(values, dtype=gg.float64, requires_grad=True)
    t = torch.tensor(values, dtype=torch.float64, requires_grad=True)
    out, expected = (x.std(), t.std()) if dim is None else (x.std(dim=1), t.std(dim=1))
    assert out.tolist() == expected.tolist()
    out.sum().backward()
    expected.sum().backward()
    assert x.grad.tolist() == t.grad.tolist() == [[0.0, 0.0]]


# ---- norm -------------------------------------------------------------------------------------
@pytest.mark.parametrize("p", [0.0, 1.0, 3.0])
@pytest.mark.parametrize("keepdim", [False, True])
def test_norm_over_a_dim_of_size_1(torch, p, keepdim):
    """Over dims of size 1 the norm is |x| (x != 0 counted for p = 0), in x's dtype and shape."""
    values = [[0.0], [1.0], [-2.0]]
    out = gg.tensor(values).norm(p=p, dim=1, keepdim=keepdim)
    expected = torch.tensor(values).norm(p=p, dim=1, keepdim=keepdim)
    assert out.dtype == gg.float32
    assert out.shape == tuple(expected.shape)
    assert out.tolist() == expected.tolist()


@pytest.mark.skipif(int(np.__version__.split(".")[0]) < 2,
                    reason="NumPy 1's float64 power (SIMD, within 1 ulp) differs from C's pow, which "
                           "PyTorch and NumPy 2 match, in the last bit of some elements")
@pytest.mark.parametrize("p", [1.5, 2.5, 3.0, 3.5, 4.0])
def test_norm_gradient_is_pytorchs_formula_bit_for_bit(torch, p):
    """``norm_backward``: ``sgn(x) * |x| ** (p - 1)`` below p = 2, ``x * |x| ** (p - 2)`` above;
    the two round differently, so the gradients match PyTorch's exactly only with the right
    one."""
    values = [0.3, -1.7, 2.9, 0.011, -5.3, 7.77, 1e-3, -0.456]
    x = gg.tensor(values, dtype=gg.float64, requires_grad=True)
    t = torch.tensor(values, dtype=torch.float64, requires_grad=True)
    x.norm(p=p).backward()
    t.norm(p=p).backward()
    assert x.grad.tolist() == t.grad.tolist()


def test_one_norm_on_sim_is_abs_and_a_sum():
    """The 1-norm needs no powers: one ``abs`` kernel and one ``sum`` on the simulated GPU."""
    x = gg.tensor([[1.0, -2.0, 3.0], [-4.0, 5.0, -6.0]], device="sim")
    gg.sim.reset("sim:0")
    out = x.norm(p=1)
    by_op, _ = gg.device_registry.get_backend("sim:0").kernel_totals()
    assert {name: row[0] for name, row in by_op.items()} == {"unary:abs": 1, "reduce:sum": 1}
    assert out.item() == 21.0


@pytest.mark.parametrize("reduce", ["amax", "max", "norm_inf", "amax_dim", "max_dim_keep"])
def test_float16_ties_beyond_2048_share_the_gradient_as_pytorch(torch, reduce):
    # the tie count is an integer: in float16 2048 + 1 would round back to 2048
    results = []
    for lib in (gg, torch):
        x = lib.ones(2049, dtype=lib.float16, requires_grad=True)
        y = {"amax": lambda: x.amax(), "max": lambda: x.max(),
             "norm_inf": lambda: x.norm(float("inf")), "amax_dim": lambda: x.amax(0),
             "max_dim_keep": lambda: x.reshape(1, -1).amax(1, keepdim=True)}[reduce]()
        y.sum().backward()
        results.append(x.grad.float().numpy())
    np.testing.assert_array_equal(results[0], results[1])
    assert results[0][0] == np.float16(1 / 2049)
