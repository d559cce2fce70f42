"""Reductions: sum, mean, max, min, var (and std, amax, amin, logsumexp) over dims."""
import numpy as np
import pytest

import gpugrad as gg
from gradtools import OpCase, assert_close, op_tests

R = np.random.default_rng(7)
X = R.standard_normal((2, 3, 4))  # distinct values: max/min have no ties


def _case(name, fn, torch_fn=None, second_order=True):
    return OpCase(name, fn, torch_fn or fn, [X], second_order=second_order)


CASES = [
    _case("sum_all", lambda a: a.sum()),
    _case("sum_dim", lambda a: a.sum(dim=1)),
    _case("sum_neg_dim_keepdim", lambda a: a.sum(dim=-1, keepdim=True)),
    _case("sum_tuple", lambda a: a.sum(dim=(0, 2))),
    _case("sum_tuple_keepdim", lambda a: a.sum(dim=(0, -1), keepdim=True)),
    _case("mean_all", lambda a: a.mean()),
    _case("mean_dim", lambda a: a.mean(dim=2)),
    _case("mean_tuple_keepdim", lambda a: a.mean(dim=(1, 2), keepdim=True)),
    _case("var_all", lambda a: a.var()),
    _case("var_dim", lambda a: a.var(dim=1)),
    _case("var_biased_keepdim", lambda a: a.var(dim=2, unbiased=False, keepdim=True)),
    _case("var_correction_tuple", lambda a: a.var(dim=(0, 1), correction=0)),
    _case("std_dim", lambda a: a.std(dim=0)),
    _case("max_all", lambda a: a.max()),
    _case("min_all", lambda a: a.min()),
    _case("max_dim_values", lambda a: a.max(dim=1).values),
    _case("max_dim_keepdim", lambda a: a.max(dim=-1, keepdim=True)[0]),
    _case("min_dim_values", lambda a: a.min(dim=2).values),
    _case("amax_tuple", lambda a: a.amax(dim=(0, 2))),
    _case("amin_tuple_keepdim", lambda a: a.amin(dim=(1, 2), keepdim=True)),
    _case("logsumexp", lambda a: a.logsumexp(dim=1)),
]


test_gradcheck, test_matches_torch = op_tests(CASES)


def test_max_and_min_with_dim_return_values_and_indices(device, torch):
    x = gg.tensor(X, device=device)
    values, indices = x.max(dim=1)
    t_values, t_indices = torch.tensor(X).max(dim=1)
    assert_close(values, t_values.float(), atol=1e-6)
    assert indices.dtype == gg.int64 and indices.tolist() == t_indices.tolist()
    assert x.min(dim=0, keepdim=True).indices.tolist() == torch.tensor(X).min(
        dim=0, keepdim=True).indices.tolist()
    assert x.argmax().item() == int(np.argmax(X)) and x.argmin(dim=2).tolist() == \
        np.argmin(X, axis=2).tolist()


def test_max_ties_share_the_gradient_like_torch_amax(device, torch):
    data = [[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]]
    x = gg.tensor(data, device=device, requires_grad=True)
    x.amax(dim=1).sum().backward()
    t = torch.tensor(data, requires_grad=True)
    t.amax(dim=1).sum().backward()
    assert_close(x.grad, t.grad)


def test_reducing_a_zero_dim_tensor(device):
    x = gg.tensor(3.0, device=device, requires_grad=True)
    assert x.sum().item() == 3.0 and x.sum(0).item() == 3.0 and x.mean(dim=-1).item() == 3.0
    x.max().backward()
    assert x.grad.item() == 1.0


def test_reduction_dim_out_of_range_says_so(device):
    x = gg.ones(2, 3, device=device)
    with pytest.raises(IndexError, match=r"Dimension out of range.*\[-2, 1\].*got 2"):
        x.sum(dim=2)


def test_max_of_an_empty_dim_is_an_error(device):
    with pytest.raises(RuntimeError, match="empty"):
        gg.zeros(2, 0, device=device).amax(dim=1)


def test_mean_of_integers_is_an_error(device):
    with pytest.raises(RuntimeError, match="floating"):
        gg.arange(4, device=device).mean()


@pytest.mark.parametrize("op", ["sum", "mean", "amax", "amin", "var", "std"])
@pytest.mark.parametrize("dim", [(), []], ids=["tuple", "list"])
@pytest.mark.parametrize("keepdim", [False, True])
def test_an_empty_dim_list_reduces_every_dim_like_torch(device, torch, op, dim, keepdim):
    data = R.standard_normal((2, 3))
    x = gg.tensor(data, device=device, requires_grad=True)
    t = torch.tensor(data, requires_grad=True)
    out, expected = getattr(x, op)(dim=dim, keepdim=keepdim), getattr(t, op)(dim=dim, keepdim=keepdim)
    assert_close(out, expected)
    assert gg.gradcheck(lambda a: getattr(a, op)(dim=dim, keepdim=keepdim), [x])
    if op not in ("var", "std"):  # torch 2.13's var backward divides by 0 for dim=(): inf
        out.sum().backward()
        expected.sum().backward()
        assert_close(x.grad, t.grad)


def test_index_reductions_of_a_zero_dim_tensor_like_torch(device, torch):
    x, t = gg.tensor(3.0, device=device), torch.tensor(3.0)
    for dim in (0, -1):
        for keepdim in (False, True):
            for op in ("argmax", "argmin"):
                out = getattr(x, op)(dim, keepdim=keepdim)
                assert out.dtype == gg.int64 and out.shape == () and out.item() == 0
                assert getattr(t, op)(dim, keepdim=keepdim).shape == ()
    values, indices = x.max(0)
    assert values.item() == 3.0 and indices.shape == () and indices.item() == 0
    with pytest.raises(IndexError, match=r"Dimension out of range \(expected to be in range of "
                                         r"\[-1, 0\], but got 1\)"):
        x.argmax(1)
    with pytest.raises(IndexError, match="got 1"):
        t.argmax(1)


@pytest.mark.parametrize("dim", [(0, 0), (1, -1)])
def test_a_repeated_dim_is_an_error_like_torch(device, torch, dim):
    data = R.standard_normal((2, 3))
    with pytest.raises(RuntimeError, match="appears multiple times"):
        torch.tensor(data).sum(dim=dim)
    for op in ("sum", "mean", "amax"):
        with pytest.raises(RuntimeError, match=r"dim [01] appears multiple times in the list"):
            getattr(gg.tensor(data, device=device), op)(dim=dim)


@pytest.mark.parametrize("dim", [None, 1, (0, 2)])
def test_mean_is_one_kernel_forward_and_one_backward(dim):
    gg.sim.configure("sim:0")
    x = gg.randn(3, 4, 5, device="sim", requires_grad=True)
    gg.sim.reset("sim:0")
    out = x.mean(dim=dim)
    assert gg.sim.stats("sim:0").kernels == 1
    out.backward(gg.ones(*out.shape, device="sim"))
    # the seed, the division of the gradient by the count, and the leaf's .grad made dense
    # from the broadcast view (no kernel for the broadcast itself)
    assert gg.sim.stats("sim:0").kernels == 4
    np.testing.assert_allclose(x.grad.numpy(), np.full((3, 4, 5), 1 / (x.numel() / out.numel())),
                               rtol=1e-6)
