"""Reductions: sum, mean, max, min, var (and std, amax, amin, logsumexp) over dims, and their
values and gradients against PyTorch at the boundaries: ties, NaN, constant slices, N <= correction."""
import math
import warnings

import numpy as np
import pytest

import gpugrad as gg
from support.gradtools import OpCase, assert_close, op_tests

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
    _case("std_all", lambda a: a.std()),
    _case("std_tuple_keepdim_biased", lambda a: a.std(dim=(0, 2), keepdim=True, correction=0)),
    _case("var_unbiased_false_all", lambda a: a.var(unbiased=False)),
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


# ---- boundaries against PyTorch -------------------------------------------------------------
INF, NAN = math.inf, math.nan


def _matches(torch, device, fn, values, upstream=1.0, dtype="float64", rtol=1e-7, atol=1e-12):
    """``fn`` on gpugrad and on PyTorch: same values and gradients (NaN == NaN)."""
    x = gg.tensor(values, dtype=getattr(gg, dtype), device=device, requires_grad=True)
    t = torch.tensor(values, dtype=getattr(torch, dtype), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # both warn when N <= correction
        out, expected = fn(x), fn(t)
    np.testing.assert_allclose(out.detach().cpu().numpy(), expected.detach().numpy(), rtol=rtol,
                               atol=atol, equal_nan=True, err_msg="values")
    (out * upstream).sum().backward()
    (expected * upstream).sum().backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), t.grad.numpy(), rtol=rtol, atol=atol,
                               equal_nan=True, err_msg="gradient")


CONSTANT_ROWS = [[0.1, 0.1, 0.1], [0.1, 0.1, 0.1]]
MOMENTS = {
    # constant slices: exactly 0 (PyTorch's Welford pass), so std's gradient is 0, not NaN
    "std of constant rows": (lambda a: a.std(dim=1), CONSTANT_ROWS),
    "var of constant rows": (lambda a: a.var(dim=1), CONSTANT_ROWS),
    "std of exact constants": (lambda a: a.std(), [2.0, 2.0, 2.0]),
    "std of a zero": (lambda a: a.std(correction=0), [0.0]),
    # a reduction to one value centers on the rounded mean, as PyTorch's two-pass CPU kernel
    "std of inexact constants": (lambda a: a.std(), [0.1, 0.1, 0.1]),
    "std of one row of inexact constants": (lambda a: a.std(dim=1), [[0.1, 0.1, 0.1]]),
    # N <= correction: NaN or inf (no dim), 2 / (N - correction) (with dim)
    "var of one value": (lambda a: a.var(), [2.0]),
    "var with correction N": (lambda a: a.var(correction=2), [2.0, 3.0]),
    "var with correction N along a dim": (lambda a: a.var(0, correction=2), [2.0, 3.0]),
    "std with correction above N along a dim": (lambda a: a.std(0, correction=3), [2.0, 3.0]),
    "var of infinities": (lambda a: a.var(dim=1), [[INF, 1.0], [INF, INF]]),
    "std of NaN": (lambda a: a.std(), [NAN, 1.0]),
    "std of huge values": (lambda a: a.std(), [1e300, -1e300]),
    "var of huge equal values along a dim": (lambda a: a.var(1), [[1e300, 1e300], [1.0, 2.0]]),
}


@pytest.mark.parametrize("upstream", [1.0, 0.0], ids=["upstream 1", "upstream 0"])
@pytest.mark.parametrize("name", MOMENTS)
def test_var_and_std_boundaries_match_torch(device, torch, name, upstream):
    fn, values = MOMENTS[name]
    _matches(torch, device, fn, values, upstream)


@pytest.mark.parametrize("name", ["std of constant rows", "std of exact constants",
                                  "var of constant rows"])
def test_var_and_std_boundaries_in_float32(device, torch, name):
    fn, values = MOMENTS[name]
    _matches(torch, device, fn, values, dtype="float32", rtol=1e-5, atol=1e-6)


def test_std_of_a_constant_has_a_zero_gradient(device):
    x = gg.full(2, 3, fill_value=0.7, device=device, requires_grad=True)
    x.std(dim=1).sum().backward()
    assert x.grad.tolist() == [[0.0] * 3] * 2


def test_var_warns_like_torch_when_n_is_at_most_the_correction(device):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)  # (NumPy's 0 / 0 stays filtered)
        assert math.isnan(gg.tensor([2.0], device=device).var().item())
    assert any("degrees of freedom is <= 0" in str(w.message) for w in caught)


EXTREMES = {
    "max ties": (lambda a: a.max(), [[3.0, 1.0], [3.0, 3.0]]),
    "min ties": (lambda a: a.min(), [[1.0, 1.0, 3.0]]),
    "max with NaN": (lambda a: a.max(), [1.0, NAN, 3.0, NAN]),
    "max(dim) ties: the first index takes it all": (lambda a: a.max(1).values,
                                                    [[3.0, 1.0, 3.0], [2.0, 2.0, 2.0]]),
    "min(dim) ties, keepdim": (lambda a: a.min(0, keepdim=True).values,
                               [[3.0, 1.0, 3.0], [3.0, 1.0, 0.0]]),
    "max(dim) with NaN": (lambda a: a.max(-1).values, [[3.0, NAN, 1.0, NAN]]),
    "max of a 0-d tensor along dim 0": (lambda a: a.max(0).values, 2.0),
    "amax ties": (lambda a: a.amax(1), [[3.0, 1.0, 3.0], [2.0, 2.0, 2.0]]),
    "amin ties over a tuple": (lambda a: a.amin((0, 1)), [[1.0, 2.0], [1.0, 1.0]]),
    "amax with NaN": (lambda a: a.amax(), [1.0, NAN, 3.0]),
}


@pytest.mark.parametrize("upstream", [1.0, INF], ids=["upstream 1", "upstream inf"])
@pytest.mark.parametrize("name", EXTREMES)
def test_max_min_amax_amin_ties_match_torch(device, torch, name, upstream):
    fn, values = EXTREMES[name]
    _matches(torch, device, fn, values, upstream)


def test_max_with_dim_gives_the_gradient_to_the_returned_index(device, torch):
    data = [[3.0, 1.0, 3.0], [2.0, 2.0, 2.0], [0.0, 5.0, 5.0]]
    x = gg.tensor(data, device=device, requires_grad=True)
    values, indices = x.max(dim=1)
    assert indices.tolist() == torch.tensor(data).max(dim=1).indices.tolist() == [0, 0, 1]
    values.sum().backward()
    assert x.grad.tolist() == [[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    assert gg.gradgradcheck(lambda a: a.max(dim=0).values, [gg.tensor(
        X[0], dtype=gg.float64, device=device, requires_grad=True)])


def test_max_of_empty_input_is_an_error_like_torch(device):
    with pytest.raises(RuntimeError, match="Specify the reduction dim"):
        gg.zeros(0, device=device).max()
    with pytest.raises(IndexError, match="Expected reduction dim 1 to have non-zero size"):
        gg.zeros(2, 0, device=device).max(1)


# ---- prod, logical reductions, counts, moments with the mean ----------------------------------
ONE_ZERO = np.array([[1.5, -2.0, 0.0, 0.7], [0.5, 1.1, -0.9, 2.0], [0.3, -1.2, 0.8, 1.4]])
TWO_ZEROS = np.array([[0.0, -2.0, 0.0, 0.7], [0.5, 0.0, -0.9, 2.0], [0.0, 0.0, 0.0, 1.4]])
PROD_CASES = [
    OpCase("prod_all", lambda a: a.prod(), lambda a: a.prod(), [X]),
    OpCase("prod_dim", lambda a: gg.prod(a, 1), lambda a: a.prod(1), [X]),
    OpCase("prod_dim_keepdim", lambda a: a.prod(-1, keepdim=True),
           lambda a: a.prod(-1, keepdim=True), [X]),
    OpCase("prod_one_zero_dim", lambda a: a.prod(1), lambda a: a.prod(1), [ONE_ZERO]),
    OpCase("prod_one_zero_all", lambda a: a.prod(), lambda a: a.prod(), [ONE_ZERO]),
    OpCase("prod_zeros_dim0", lambda a: a.prod(0), lambda a: a.prod(0), [TWO_ZEROS]),
    OpCase("prod_zeros_all", lambda a: a.prod(), lambda a: a.prod(), [TWO_ZEROS]),
    OpCase("std_mean", lambda a: gg.std_mean(a, 1)[0] + gg.std_mean(a, 1)[1] ** 2,
           lambda a: a.std(1) + a.mean(1) ** 2, [X]),
]


test_prod_gradcheck, test_prod_matches_torch = op_tests(PROD_CASES)


@pytest.mark.parametrize("dtype", ["int32", "bool", "uint8"])
def test_prod_of_integers_is_int64(device, torch, dtype):
    data = np.array([[1, 2, 3], [2, 0, 1]]).astype(dtype)
    x, t = gg.tensor(data, device=device), torch.tensor(data)
    assert x.prod().dtype == gg.int64 and x.prod().item() == t.prod().item()
    assert x.prod(1).tolist() == t.prod(1).tolist()
    assert x.prod(0, dtype=gg.float64).tolist() == t.prod(0, dtype=torch.float64).tolist()


@pytest.mark.parametrize("dim", [None, 0, 1, (0, 1), -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_any_all_count_nonzero_match_torch(device, torch, dim, keepdim):
    data = np.array([[0.0, 1.0, 2.0], [0.0, 0.0, 0.0], [3.0, -1.0, 0.5]]).T
    x, t = gg.tensor(data, device=device), torch.tensor(data)
    kwargs = {} if dim is None else {"dim": dim}
    for name in ("any", "all"):
        if dim is None and keepdim:
            continue  # PyTorch's any() without dim takes no keepdim
        out = getattr(x, name)(**kwargs, keepdim=keepdim) if dim is not None else \
            getattr(x, name)()
        expected = getattr(t, name)(**kwargs, keepdim=keepdim) if dim is not None else \
            getattr(t, name)()
        assert out.dtype == gg.bool and out.tolist() == expected.tolist(), name
    if not keepdim:
        out = gg.count_nonzero(x, **kwargs)
        assert out.dtype == gg.int64 and out.tolist() == torch.count_nonzero(t, **kwargs).tolist()


def test_any_all_of_uint8_and_empty_like_torch(device, torch):
    data = np.array([[0, 3], [1, 1]], dtype=np.uint8)
    x, t = gg.tensor(data, device=device), torch.tensor(data)
    assert x.any(1).dtype == gg.uint8 and x.all(0).tolist() == t.all(0).tolist()
    empty = gg.zeros(0, device=device)
    assert empty.any().item() is False and empty.all().item() is True


def test_std_mean_and_var_mean_match_torch(device, torch):
    x, t = gg.tensor(X, device=device), torch.tensor(X)
    for name in ("std_mean", "var_mean"):
        for kwargs in ({}, {"dim": 1}, {"dim": (0, 2), "correction": 0, "keepdim": True},
                       {"dim": 2, "unbiased": False}):
            got = getattr(gg, name)(x, **kwargs)
            expected = getattr(torch, name)(t, **kwargs)
            assert_close(got[0], expected[0], what=f"{name} {kwargs}")
            assert_close(got[1], expected[1], what=f"{name} {kwargs} mean")


def test_norm_matches_linalg_vector_norm_and_is_zero_grad_at_zero(device, torch):
    x, t = gg.tensor(X, device=device), torch.tensor(X)
    for p in (2, 1, math.inf, -math.inf, 3.5, 0):
        assert_close(x.norm(p), torch.linalg.vector_norm(t, p), what=str(p))
        assert_close(gg.norm(x, p, dim=(0, 2)), torch.linalg.vector_norm(t, p, dim=(0, 2)))
    zero = gg.zeros(3, dtype=gg.float64, device=device, requires_grad=True)
    zero.norm().backward()
    assert zero.grad.tolist() == [0.0, 0.0, 0.0]


def test_argmax_argmin_are_functions_with_dim_and_keepdim(device, torch):
    x, t = gg.tensor(X, device=device), torch.tensor(X)
    for name in ("argmax", "argmin"):
        assert getattr(gg, name)(x).item() == getattr(torch, name)(t).item()
        assert getattr(gg, name)(x, dim=1, keepdim=True).tolist() == \
            getattr(torch, name)(t, dim=1, keepdim=True).tolist()
    assert gg.amax(x, 1).shape == (2, 4) and gg.logsumexp(x, 1).shape == (2, 4)


def test_prod_is_one_modeled_reduction():
    gg.sim.configure("sim:0")
    x = gg.tensor(np.ones((64, 100)), dtype=gg.float32, device="sim:0")
    gg.sim.reset("sim:0")
    x.prod(1)
    by_op, _ = gg.device_registry.get_backend("sim:0").kernel_totals()
    assert {name: (row[0], row[2], row[3]) for name, row in by_op.items()} == {
        "reduce:prod": (1, 6400, 4 * 6400 + 4 * 64)}


def test_cuda_backend_prod(fake_cuda, torch):
    data = np.array([[1.5, -2.0, 0.0], [0.5, 3.0, -0.9]])
    x = gg.tensor(data, device="cuda", requires_grad=True)
    t = torch.tensor(data, requires_grad=True)
    x.prod(1).sum().backward()
    t.prod(1).sum().backward()
    assert_close(x.grad, t.grad)
    assert gg.tensor([[1, 2], [3, 4]], dtype=gg.uint8, device="cuda").prod(0).dtype == gg.int64


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("name", ["var", "std"])
def test_low_precision_var_and_std_compute_in_float32_and_round_once(name, dtype, device):
    # 100,000 values: N - 1 passes float16's largest number, so dividing in float16 gave 0
    values = np.random.default_rng(0).uniform(0, 1, 100_000).astype(np.float32)
    x = gg.tensor(values, device=device).to(getattr(gg, dtype))
    got = getattr(x, name)()
    assert got.dtype == dtype
    want = getattr(x.float(), name)().to(getattr(gg, dtype))
    assert got.item() == want.item() and abs(got.item() - (1 / 12) ** (0.5 if name == "std"
                                                                       else 1)) < 2e-3
    rows = getattr(x.reshape(100, 1000), name)(1, correction=0)
    want_rows = getattr(x.float().reshape(100, 1000), name)(1, correction=0).to(x.dtype)
    assert rows.tolist() == want_rows.tolist()


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("p", [2.0, 1.0, 3.0])
def test_low_precision_norm_sums_powers_in_float32(p, dtype, device):
    # the squares of 70,000 normal values add up past float16's largest number: the norm was inf
    values = np.random.default_rng(0).standard_normal((2, 70_000)).astype(np.float32)
    x = gg.tensor(values, device=device).to(getattr(gg, dtype))
    got = x.norm(p, dim=1)
    want = x.float().norm(p, dim=1).to(x.dtype)
    assert got.dtype == dtype and got.tolist() == want.tolist()
    assert gg.nn.functional.normalize(x, dim=1).float().norm(dim=1).sub(1).abs().max() < 1e-2
