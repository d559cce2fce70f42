"""Indexing long tail (``tensor_structure_index``): index_put, masked_scatter, put,
scatter_reduce, diag_embed, diagflat, fill_diagonal_; gradcheck/gradgradcheck on every device
and PyTorch as the oracle."""
import numpy as np
import pytest

import gpugrad as gg
from support.fake_cupy import install_cupyx
from support.gradtools import (assert_close, check_against_torch, op_tests,
                               same_names_case)

R = np.random.default_rng(8)
V = R.standard_normal(4)
M = R.standard_normal((3, 4))
X = R.standard_normal((2, 3, 4))


case = same_names_case


def _t(lib, like, values, dtype=None):
    """An index tensor of ``values`` for ``lib`` on ``like``'s device."""
    if lib is gg:
        return gg.tensor(values, dtype=dtype, device=like.device)
    return lib.tensor(values, dtype=dtype and getattr(lib, dtype.name))


ROWS, COLS = [0, 2, 0], [1, 3, 1]  # a repeated position: accumulate adds, assignment overwrites
MASK = (R.standard_normal((3, 4)) > 0).tolist()
SCATTER_INDEX = [[0, 1, 0, 2], [2, 0, 0, 1]]
# amax/amin must have no ties for a finite-difference check: distinct values throughout
DISTINCT = (np.arange(12.0).reshape(3, 4) * 0.37 % 1.0) + np.arange(12).reshape(3, 4)
SRC = R.permutation(8).reshape(2, 4) + 0.5


def _scatter_reduce(reduce, include_self, dim=0):
    return case(f"scatter_reduce_{reduce}_{include_self}_{dim}",
                lambda L, a, s: a.scatter_reduce(dim, _t(L, a, SCATTER_INDEX if dim == 0 else
                                                        [[0, 3], [1, 1]]),
                                                 s if dim == 0 else s[:, :2], reduce,
                                                 include_self=include_self),
                [DISTINCT, SRC])


CASES = [
    case("index_put", lambda L, a, v: a.index_put((_t(L, a, ROWS[:2]), _t(L, a, COLS[:2])), v),
         [M, V[:2]]),
    case("index_put_accumulate", lambda L, a, v: L.index_put(
        a, (_t(L, a, ROWS), _t(L, a, COLS)), v, accumulate=True), [M, V[:3]]),
    case("index_put_rows_broadcast", lambda L, a, v: a.index_put((_t(L, a, [2, 0]),), v,
                                                                 accumulate=True), [M, V]),
    case("index_put_mask", lambda L, a, v: a.index_put((_t(L, a, MASK),), v), [M, V[:1]]),
    case("index_put__", lambda L, a, v: (a * 1).index_put_((_t(L, a, ROWS), _t(L, a, COLS)), v,
                                                            accumulate=True), [M, V[:3]]),
    case("put", lambda L, a, v: a.put(_t(L, a, [0, -1, 5]), v), [M, V[:3]]),
    case("put_accumulate", lambda L, a, v: L.put(a, _t(L, a, [[0, 5], [5, 11]]), v,
                                                 accumulate=True), [M, M[:2, :2]]),
    case("put_", lambda L, a, v: (a * 1).put_(_t(L, a, [1, 7]), v), [X, V[:2]]),
    case("masked_scatter", lambda L, a, s: a.masked_scatter(_t(L, a, MASK), s),
         [M, R.standard_normal(13)]),
    case("masked_scatter_broadcast", lambda L, a, s: L.masked_scatter(
        a, _t(L, a, [True, False, True, True]), s), [M, R.standard_normal((3, 4))]),
    case("masked_scatter_", lambda L, a, s: (a * 1).masked_scatter_(_t(L, a, MASK), s),
         [M, R.standard_normal(12)]),
    _scatter_reduce("sum", True), _scatter_reduce("sum", False),
    _scatter_reduce("mean", True), _scatter_reduce("mean", False),
    _scatter_reduce("amax", True), _scatter_reduce("amax", False),
    _scatter_reduce("amin", True), _scatter_reduce("amin", False),
    _scatter_reduce("prod", True), _scatter_reduce("prod", False),
    _scatter_reduce("amax", False, dim=1), _scatter_reduce("mean", True, dim=1),
    case("diag_embed", lambda L, a: L.diag_embed(a), [M]),
    case("diag_embed_offset_dims", lambda L, a: a.diag_embed(-1, 0, 2), [M]),
    case("diag_embed_pos", lambda L, a: a.diag_embed(2, dim1=-1, dim2=0), [X]),
    case("diagflat", lambda L, a: L.diagflat(a, 1), [M[:2, :2]]),
    case("fill_diagonal_", lambda L, a: (a * 1).fill_diagonal_(2.5), [M]),
    case("fill_diagonal_wrap", lambda L, a: (a * 1).fill_diagonal_(-1.0, wrap=True),
         [R.standard_normal((7, 3))]),
    case("fill_diagonal_3d", lambda L, a: (a * 1).fill_diagonal_(0.0),
         [R.standard_normal((3, 3, 3))]),
]
test_gradcheck, test_matches_torch = op_tests(CASES)


def test_scatter_reduce_ties_and_ints(torch):
    """Ties share the amax gradient evenly, self included; integer means floor."""
    x = gg.tensor([1.0, 5.0, 2.0], requires_grad=True)
    src = gg.tensor([5.0, 5.0, 3.0], requires_grad=True)
    tx = torch.tensor([1.0, 5.0, 2.0], requires_grad=True)
    tsrc = torch.tensor([5.0, 5.0, 3.0], requires_grad=True)
    index = [1, 1, 2]
    out = x.scatter_reduce(0, gg.tensor(index), src, "amax")
    tout = tx.scatter_reduce(0, torch.tensor(index), tsrc, "amax")
    out.sum().backward()
    tout.sum().backward()
    assert_close(out, tout)
    assert_close(x.grad, tx.grad)
    assert_close(src.grad, tsrc.grad)
    ints = gg.tensor([1, 2, 3]).scatter_reduce(0, gg.tensor([0, 0]), gg.tensor([4, 6]), "mean")
    tints = torch.tensor([1, 2, 3]).scatter_reduce(0, torch.tensor([0, 0]),
                                                    torch.tensor([4, 6]), "mean")
    assert ints.tolist() == tints.tolist() and ints.dtype is gg.int64


def test_errors():
    x = gg.zeros(3, 4)
    with pytest.raises(RuntimeError, match="reduce argument must be"):
        x.scatter_reduce(0, gg.tensor([[0]]), gg.ones(1, 1), "max")
    with pytest.raises(RuntimeError, match="same number of elements"):
        x.put(gg.tensor([0, 1]), gg.ones(3))
    with pytest.raises(IndexError, match="out of range"):
        x.put_(gg.tensor([12]), gg.ones(1))
    with pytest.raises(RuntimeError, match="at least as many elements"):
        x.masked_scatter(gg.ones(3, 4, dtype=gg.bool), gg.ones(5))
    with pytest.raises(RuntimeError, match="dtypes match"):
        x.index_put((gg.tensor([0]),), gg.ones(1, dtype=gg.float64))
    with pytest.raises(RuntimeError, match="equal length"):
        gg.zeros(2, 3, 3).fill_diagonal_(1)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        gg.zeros(3, 3, requires_grad=True).fill_diagonal_(1)


def test_index_put_in_place_writes_self(device):
    x = gg.zeros(3, device=device)
    assert x.index_put_((gg.tensor([0, 0], device=device),), gg.tensor(2.0, device=device),
                        accumulate=True) is x
    assert x.tolist() == [4.0, 0.0, 0.0]


def test_cases_on_cuda_stand_in(fake_cuda, monkeypatch, torch):
    """Every case on the cuda backend (CuPy stood in by NumPy): PyTorch's values and gradients."""
    install_cupyx(monkeypatch)
    for c in CASES:
        check_against_torch(c, "cuda", torch)
