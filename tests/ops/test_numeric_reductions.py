"""PyTorch's reduction long tail (gpugrad/tensor_numeric_reductions.py): nansum, nanmean,
nanmedian, aminmax, logcumsumexp, quantile/nanquantile, mode, msort and diff: gradcheck,
gradgradcheck and PyTorch (values and gradients) on every device, then NaN handling, dtypes
and errors against PyTorch."""
import math

import numpy as np
import pytest

import gpugrad as gg
from support.gradtools import OpCase, assert_close, op_tests, same_names_case

R = np.random.default_rng(5)


def distinct(*shape):
    """Values far enough apart that sorting (and so the gradient) is stable under eps."""
    n = int(np.prod(shape))
    return (R.permutation(n) * 0.37 + R.uniform(0, 0.05, n) - n * 0.15).reshape(shape)


_case = same_names_case


CASES = [
    _case("nansum", lambda m, x: m.nansum(x, 1), [distinct(3, 4)]),
    _case("nanmean_keepdim", lambda m, x: m.nanmean(x, (0, 1), keepdim=True), [distinct(2, 3)]),
    _case("nanmedian_all", lambda m, x: m.nanmedian(x), [distinct(3, 3)]),
    _case("nanmedian_dim", lambda m, x: m.nanmedian(x, 0).values, [distinct(4, 3)]),
    _case("aminmax", lambda m, x: m.aminmax(x, dim=1).min * 2 + m.aminmax(x, dim=1).max,
          [distinct(3, 4)]),
    _case("logcumsumexp", lambda m, x: m.logcumsumexp(x, 1), [distinct(2, 5)]),
    _case("logcumsumexp_dim0", lambda m, x: m.logcumsumexp(x, 0), [distinct(4, 2) * 10]),
    _case("mode", lambda m, x: m.mode(x, 0).values, [distinct(3, 2)]),
    _case("msort", lambda m, x: m.msort(x), [distinct(4, 3)]),
    _case("diff", lambda m, x, p: m.diff(x, 2, 0, prepend=p), [distinct(3, 2), distinct(1, 2)]),
    _case("diff_append", lambda m, x, a: m.diff(x, append=a), [distinct(2, 3), distinct(2, 2)]),
]
for _mode in ("linear", "lower", "higher", "midpoint", "nearest"):
    CASES.append(_case(f"quantile_{_mode}", lambda m, x, _mode=_mode: m.quantile(
        x, 0.3, dim=1, interpolation=_mode), [distinct(3, 6)]))
CASES += [
    OpCase("quantile_tensor_q_keepdim",
           lambda x: gg.quantile(x, gg.tensor([0.1, 0.5, 0.85], dtype=gg.float64,
                                              device=x.device), dim=0, keepdim=True),
           lambda x: __import__("torch").quantile(
               x, __import__("torch").tensor([0.1, 0.5, 0.85], dtype=x.dtype), dim=0,
               keepdim=True), [distinct(5, 2)]),
    _case("nanquantile_all", lambda m, x: m.nanquantile(x, 0.7), [distinct(2, 5)]),
]

test_gradcheck, test_matches_torch = op_tests(CASES)

WITH_NAN = np.array([[1.0, math.nan, 3.0, -2.0, 8.0], [math.nan] * 5, [4.0, 4.0, 1.0, 1.0, 7.0]])


def _same(ours, theirs):
    assert ours.dtype.name == str(theirs.dtype)[6:]
    assert ours.shape == tuple(theirs.shape)
    np.testing.assert_allclose(ours.cpu().numpy().astype(np.float64), theirs.double().numpy(),
                               rtol=1e-6, equal_nan=True)


@pytest.mark.parametrize("call", [
    lambda m, x: m.nansum(x), lambda m, x: m.nansum(x, 1, keepdim=True),
    lambda m, x: m.nanmean(x, 1), lambda m, x: m.nanmedian(x),
    lambda m, x: m.nanmedian(x, 1).values, lambda m, x: m.nanquantile(x, 0.4, dim=1),
    lambda m, x: m.quantile(x, 0.4, dim=1), lambda m, x: m.nanquantile(x, 0.5),
    lambda m, x: m.quantile(x[2], 0.6, interpolation="nearest"),
    lambda m, x: m.mode(x[2:], 1).values, lambda m, x: m.mode(x[2:], 1).indices,
    lambda m, x: m.aminmax(x[2]).max, lambda m, x: m.diff(x[2] > 3),
])
def test_nan_handling_and_dtypes_match_torch(call, device, torch):
    _same(call(gg, gg.tensor(WITH_NAN, dtype=gg.float32, device=device)),
          call(torch, torch.tensor(WITH_NAN, dtype=torch.float32)))


def test_integer_inputs_match_torch(device, torch):
    x = [[3, 1, 3, 2], [5, 5, 0, 0]]
    g, t = gg.tensor(x, device=device), torch.tensor(x)
    _same(gg.nansum(g), torch.nansum(t))
    _same(gg.diff(g, dim=0), torch.diff(t, dim=0))
    _same(gg.mode(g).values, torch.mode(t).values)
    _same(gg.mode(g).indices, torch.mode(t).indices)
    _same(gg.msort(g), torch.msort(t))
    result = gg.aminmax(g, dim=0)
    assert type(result).__name__ == "AminmaxResult" and result._fields == ("min", "max")


def test_errors_match_torch(torch):
    for fn, message in ((lambda m: m.quantile(m.tensor([1, 2]), 0.5), "float or double"),
                        (lambda m: m.quantile(m.tensor([1.0]), 1.5), "in the range"),
                        (lambda m: m.quantile(m.tensor([1.0]), 0.5, interpolation="x"),
                         "interpolation"),
                        (lambda m: m.nanmean(m.tensor([1, 2])), "floating point"),
                        (lambda m: m.diff(m.tensor(1.0)), "at least one-dimensional")):
        for module in (gg, torch):
            with pytest.raises(RuntimeError, match=message):
                fn(module)


def test_logcumsumexp_is_exact_for_a_wide_spread(device, torch):
    x = [-1000.0, 0.0, -2000.0, 5.0]
    _same(gg.logcumsumexp(gg.tensor(x, dtype=gg.float64, device=device), 0),
          torch.logcumsumexp(torch.tensor(x, dtype=torch.float64), 0))


def test_nanmedian_gradient_goes_to_its_index(device, torch):
    x = gg.tensor(WITH_NAN[0], dtype=gg.float64, device=device, requires_grad=True)
    t = torch.tensor(WITH_NAN[0], dtype=torch.float64, requires_grad=True)
    gg.nanmedian(x).backward()
    torch.nanmedian(t).backward()
    assert_close(x.grad, t.grad)


def test_the_reductions_run_on_emulated_cuda(fake_cuda, torch):
    for module, device in ((gg, "cuda"), (torch, "cpu")):
        x = module.tensor(WITH_NAN, dtype=module.float64, device=device)
        pieces = [module.nansum(x, 1), module.nanmedian(x, 1).values,
                  module.nanquantile(x, 0.3, dim=1), module.logcumsumexp(x[2], 0),
                  module.mode(x[2]).values.reshape(1), module.diff(x[2])]
        if module is gg:
            ours = pieces
        else:
            theirs = pieces
    for a, b in zip(ours, theirs):
        assert a.device.type == "cuda"
        np.testing.assert_allclose(a.cpu().numpy(), b.numpy(), equal_nan=True)


NAN = float("nan")


@pytest.mark.parametrize("values, value, index", [
    ([NAN, NAN], NAN, 1),  # (it failed: no entry equal to the NaN winner, so position -1)
    ([NAN, 1.0, NAN], NAN, 2),  # NaNs count together (it gave 1.0, each NaN counted once)
    ([1.0, NAN, NAN, 2.0], NAN, 2),
    ([3.0, NAN, NAN, 3.0], 3.0, 3),  # a tie: the smallest, NaN being the largest
    ([2.0, 1.0, 2.0, 1.0], 1.0, 3),
])
def test_mode_counts_nans_as_one_value(values, value, index, device):
    got = gg.tensor(values, device=device).mode()
    assert got.indices.item() == index
    np.testing.assert_equal(got.values.item(), value)
