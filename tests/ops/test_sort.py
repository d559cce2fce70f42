"""Sorting and selection (sort, argsort, topk, kthvalue, median) against PyTorch: values,
indices, gradients, stability, NaN; the sim's modeled sort kernel; the cuda path on the CuPy
stand-in."""
import math

import numpy as np
import pytest

import gpugrad as gg
from gpugrad.backends.sim import costmodel
from support.gradtools import OpCase, assert_close, op_tests

R = np.random.default_rng(5)
X = R.standard_normal((3, 6))  # distinct values: no ties
X3 = R.standard_normal((2, 5, 3))

CASES = [
    OpCase("sort", lambda a: a.sort().values, lambda a: a.sort().values, [X]),
    OpCase("sort_descending_dim0", lambda a: gg.sort(a, 0, descending=True)[0],
           lambda a: a.sort(0, descending=True)[0], [X]),
    OpCase("sort_3d_dim1", lambda a: a.sort(dim=1).values, lambda a: a.sort(dim=1).values,
           [X3]),
    OpCase("topk", lambda a: a.topk(3).values, lambda a: a.topk(3).values, [X]),
    OpCase("topk_smallest_dim0", lambda a: a.topk(2, dim=0, largest=False)[0],
           lambda a: a.topk(2, dim=0, largest=False)[0], [X]),
    OpCase("kthvalue", lambda a: a.kthvalue(2).values, lambda a: a.kthvalue(2).values, [X]),
    OpCase("kthvalue_keepdim", lambda a: a.kthvalue(3, 1, True)[0],
           lambda a: a.kthvalue(3, 1, True)[0], [X3]),
    OpCase("median_dim", lambda a: a.median(1).values, lambda a: a.median(1).values, [X]),
    OpCase("median_all", lambda a: a.median(), lambda a: a.median(), [X]),
]

test_gradcheck, test_matches_torch = op_tests(CASES)


def test_sort_indices_and_stability_match_torch(device, torch):
    data = [[2.0, 1.0, 2.0, 0.0, 1.0, 2.0], [3.0, 3.0, -1.0, 3.0, 0.0, -1.0]]
    x, t = gg.tensor(data, device=device), torch.tensor(data)
    for descending in (False, True):
        values, indices = x.sort(dim=1, descending=descending, stable=True)
        expected = t.sort(dim=1, descending=descending, stable=True)
        assert_close(values, expected.values, atol=0)
        assert indices.dtype == gg.int64 and indices.tolist() == expected.indices.tolist()
        assert x.argsort(1, descending=descending).tolist() == expected.indices.tolist()
    assert gg.argsort(x, dim=0).tolist() == torch.argsort(t, dim=0, stable=True).tolist()


def test_nan_sorts_above_every_number(device, torch):
    data = [1.0, math.nan, -math.inf, 3.0, math.nan, math.inf]
    x, t = gg.tensor(data, device=device), torch.tensor(data)
    for descending in (False, True):
        values, indices = x.sort(descending=descending)
        expected = t.sort(descending=descending, stable=True)
        np.testing.assert_array_equal(values.numpy(), expected.values.numpy())
        assert indices.tolist() == expected.indices.tolist()
    assert x.topk(2).indices.tolist() == [1, 4]


def test_integer_and_bool_sorts(device, torch):
    data = np.array([[3, -1, 2, 2], [0, 5, -7, 1]], dtype=np.int32)
    values, indices = gg.tensor(data, device=device).sort(descending=True)
    expected = torch.tensor(data).sort(descending=True, stable=True)
    assert values.dtype == gg.int32 and values.tolist() == expected.values.tolist()
    assert indices.tolist() == expected.indices.tolist()
    flags = gg.tensor([True, False, True, False], device=device)
    assert flags.sort().values.tolist() == [False, False, True, True]


def test_sorted_values_gradient_goes_to_indices(device, torch):
    data = [[0.5, -1.0, 2.0, -1.0]]
    x = gg.tensor(data, dtype=gg.float64, device=device, requires_grad=True)
    t = torch.tensor(data, dtype=torch.float64, requires_grad=True)
    w = [[1.0, 2.0, 3.0, 4.0]]
    (x.sort(stable=True).values * gg.tensor(w, device=device)).sum().backward()
    (t.sort(stable=True).values * torch.tensor(w)).sum().backward()
    assert_close(x.grad, t.grad)
    assert not x.sort().indices.requires_grad and not x.argsort().requires_grad


def test_median_is_the_lower_one_and_propagates_nan(device, torch):
    data = [[4.0, 1.0, 3.0, 2.0], [2.0, math.nan, 1.0, 5.0], [1.0, 1.0, 0.0, 1.0]]
    x, t = gg.tensor(data, device=device), torch.tensor(data)
    values, indices = x.median(dim=1, keepdim=True)
    expected = t.median(dim=1, keepdim=True)
    np.testing.assert_array_equal(values.numpy(), expected.values.numpy())
    assert indices.tolist() == expected.indices.tolist()
    assert math.isnan(x.median().item()) and x[0].median().item() == 2.0
    assert math.isnan(gg.tensor([], device=device).median().item())


def test_median_all_ties_share_the_gradient(device, torch):
    data = [1.0, 2.0, 2.0, 3.0, 2.0]
    x = gg.tensor(data, dtype=gg.float64, device=device, requires_grad=True)
    t = torch.tensor(data, dtype=torch.float64, requires_grad=True)
    x.median().backward()
    t.median().backward()
    assert_close(x.grad, t.grad)


def test_zero_d_and_errors(device):
    scalar = gg.tensor(1.5, device=device)
    values, indices = scalar.sort()
    assert values.shape == () and values.item() == 1.5 and indices.item() == 0
    assert scalar.topk(1).values.item() == 1.5 and scalar.kthvalue(1).indices.item() == 0
    x = gg.tensor([[1.0, 2.0], [3.0, 4.0]], device=device)
    with pytest.raises(RuntimeError, match="out of range"):
        x.topk(3)
    with pytest.raises(RuntimeError, match="out of range"):
        x.kthvalue(0)
    with pytest.raises(IndexError):
        x.sort(dim=2)
    with pytest.raises(IndexError, match="non-zero size"):
        gg.zeros(2, 0, device=device).median(dim=1)


# ---- the sim's modeled sort -----------------------------------------------------------------
def test_sort_is_one_modeled_radix_sort_launch():
    gg.sim.configure("sim:0")
    x = gg.tensor(np.ones((4, 250)), dtype=gg.float32, device="sim:0")
    gg.sim.reset("sim:0")
    x.sort(dim=1)
    by_op, _ = gg.device_registry.get_backend("sim:0").kernel_totals()
    n, passes = 1000, 4  # one pass per byte of a float32 key
    moved = passes * n * (4 + 8)  # each pass reads and writes every key and int64 index
    assert by_op["sort"][0] == 1
    assert by_op["sort"][2] == costmodel.SORT_PASS_FLOPS * passes * n
    assert by_op["sort"][3] == (4 * n + moved) + (4 * n + 8 * n + moved)


# ---- cuda, on the tests' stand-in for CuPy ----------------------------------------------------
def test_cuda_backend_sorts(fake_cuda, torch):
    data = np.array([[2.0, 1.0, 2.0, math.nan, 1.0], [3.0, -1.0, 3.0, 0.0, -1.0]])
    x, t = gg.tensor(data, device="cuda"), torch.tensor(data)
    for descending in (False, True):
        values, indices = x.sort(descending=descending)
        expected = t.sort(descending=descending, stable=True)
        np.testing.assert_array_equal(values.numpy(), expected.values.numpy())
        assert indices.tolist() == expected.indices.tolist()
    assert x.topk(2, dim=0).indices.tolist() == t.topk(2, dim=0).indices.tolist()
    ints = gg.tensor([[3, 1, 2]], dtype=gg.int64, device="cuda")
    assert ints.prod(1).tolist() == [6] and ints.median().item() == 2
