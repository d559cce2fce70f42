"""Joining, splitting and layout long tail (``tensor_structure_methods``,
``tensor_structure_layout``): gradcheck/gradgradcheck on every device and PyTorch as the oracle
(values and gradients), plus PyTorch's errors and in-place shape forms."""
import numpy as np
import pytest

import gpugrad as gg
from support.fake_cupy import install_cupyx
from support.gradtools import (assert_close, check_against_torch, op_tests,
                               same_names_case)

R = np.random.default_rng(5)
V = R.standard_normal(4)
M = R.standard_normal((3, 4))
X = R.standard_normal((2, 3, 4))


case = same_names_case


def _cat(lib, pieces):
    return lib.cat([p.reshape(-1) for p in pieces])


CASES = [
    case("hstack_1d", lambda L, a, b: L.hstack([a, b]), [V, V[:2]]),
    case("hstack_2d", lambda L, a, b: L.hstack((a, b)), [M, M[:, :2]]),
    case("vstack", lambda L, a, b: L.vstack([a, b]), [V, V * 2]),
    case("row_stack", lambda L, a, b: L.row_stack([a, b]), [M, V]),
    case("column_stack", lambda L, a, b: L.column_stack([a, b]), [V[:3], M[:, :2]]),
    case("dstack", lambda L, a, b: L.dstack([a, b]), [M, M]),
    case("atleast_3d", lambda L, a: L.atleast_3d(a), [V]),
    case("atleast_2d_many", lambda L, a, b: L.cat([t.reshape(-1) for t in L.atleast_2d(a, b)]),
         [V, M]),
    case("tensor_split_int", lambda L, a: _cat(L, [p * (i + 1) for i, p in
                                                   enumerate(L.tensor_split(a, 3, 1))]), [X]),
    case("tensor_split_indices", lambda L, a: _cat(L, [p * (i + 1) for i, p in
                                                       enumerate(a.tensor_split([1, 3], 2))]),
         [X]),
    case("hsplit", lambda L, a: _cat(L, [p * (i + 1) for i, p in enumerate(a.hsplit(2))]), [M]),
    case("vsplit", lambda L, a: _cat(L, [p * (i + 1) for i, p in enumerate(L.vsplit(a, [1]))]),
         [M]),
    case("dsplit", lambda L, a: _cat(L, [p * (i + 1) for i, p in enumerate(a.dsplit(2))]), [X]),
    case("split_with_sizes", lambda L, a: _cat(L, [p * (i + 1) for i, p in
                                                   enumerate(a.split_with_sizes([1, 3], 1))]),
         [M]),
    case("block_diag", lambda L, a, b, c: L.block_diag(a, b, c), [M, V[:2], np.array(3.0)]),
    case("cartesian_prod", lambda L, a, b: L.cartesian_prod(a, b), [V[:3], V]),
    case("meshgrid_ij", lambda L, a, b: L.stack(L.meshgrid(a, b, indexing="ij")), [V[:3], V]),
    case("meshgrid_xy", lambda L, a, b, c: L.cat([g.reshape(-1) for g in
                                                  L.meshgrid(a, b, c, indexing="xy")]),
         [V[:3], V, V[:2]]),
    case("broadcast_tensors", lambda L, a, b: L.stack(L.broadcast_tensors(a, b)),
         [M[:, :1], V]),
    case("rot90", lambda L, a: L.rot90(a), [X]),
    case("rot90_k", lambda L, a: a.rot90(3, (2, 0)), [X]),
    case("rot90_2", lambda L, a: L.rot90(a, -2, [1, 2]), [X]),
    case("ravel", lambda L, a: L.ravel(a.transpose(0, 1)), [X]),
    case("reshape_as", lambda L, a, b: a.reshape_as(b), [M, M.reshape(6, 2)]),
    case("unfold", lambda L, a: a.unfold(1, 2, 1), [X]),
    case("unfold_step", lambda L, a: a.unfold(-1, 2, 2), [X]),
    case("repeat_interleave", lambda L, a: L.repeat_interleave(a, 2), [M]),
    case("repeat_interleave_dim", lambda L, a: a.repeat_interleave(
        L.tensor([1, 0, 3]), dim=0), [M]),
    case("sum_to_size", lambda L, a: a.sum_to_size(3, 1), [X]),
    case("sum_to_size_lead", lambda L, a: a.sum_to_size((1, 4)), [X]),
]
test_gradcheck, test_matches_torch = op_tests(CASES)


def test_split_views_and_shapes(torch):
    x = gg.arange(12).reshape(3, 4)
    t = torch.arange(12).reshape(3, 4)
    for args in ((3, 1), ([0, 2, 9], 1), (torch.tensor([1, 2]), 0), (torch.tensor(2), 1)):
        ga = gg.tensor(args[0].numpy()) if isinstance(args[0], torch.Tensor) else args[0]
        got = gg.tensor_split(x, ga, args[1])
        want = torch.tensor_split(t, *args)
        assert [p.tolist() for p in got] == [p.tolist() for p in want]
    pieces = x.tensor_split(2, 1)
    pieces[0][0, 0] = 100  # a view: the write reaches x
    assert x[0, 0].item() == 100


def test_broadcast_shapes_and_atleast(torch):
    assert gg.broadcast_shapes((3, 1), (1, 4), 4) == torch.broadcast_shapes((3, 1), (1, 4), 4)
    assert isinstance(gg.broadcast_shapes((2,)), gg.Size)
    with pytest.raises(RuntimeError, match="Shape mismatch"):
        gg.broadcast_shapes((2,), (3,))
    assert gg.atleast_1d(gg.tensor(1.0)).shape == (1,)
    assert gg.atleast_2d(gg.ones(3)).shape == (1, 3)
    assert [t.shape for t in gg.atleast_3d([gg.ones(3), gg.ones(2, 2)])] == [(1, 3, 1), (2, 2, 1)]


def test_block_diag_dtype_and_repeat_interleave_forms(torch):
    got = gg.block_diag(gg.ones(1, 2, dtype=gg.int64), gg.ones(2, dtype=gg.float32))
    want = torch.block_diag(torch.ones(1, 2, dtype=torch.int64), torch.ones(2))
    assert got.dtype.name == str(want.dtype).split(".")[1] and got.tolist() == want.tolist()
    counts = gg.tensor([2, 0, 1])
    assert gg.repeat_interleave(counts).tolist() == torch.repeat_interleave(
        torch.tensor([2, 0, 1])).tolist()
    with pytest.raises(RuntimeError, match="allocated size"):
        gg.ones(3).repeat_interleave(2, output_size=5)


def test_errors():
    with pytest.raises(RuntimeError, match="not divisible"):
        gg.ones(3, 3).hsplit(2)
    with pytest.raises(RuntimeError, match="at least 3 dimension"):
        gg.ones(3, 3).dsplit(1)
    with pytest.raises(RuntimeError, match="rotation dims to be different"):
        gg.ones(3, 3).rot90(1, (0, 0))
    with pytest.raises(RuntimeError, match="not expandable"):
        gg.ones(3, 3).sum_to_size(2, 3)
    with pytest.raises(RuntimeError, match="maximum size"):
        gg.ones(3).unfold(0, 4, 1)


@pytest.mark.parametrize("name,args", [("unsqueeze_", (1,)), ("squeeze_", ()), ("t_", ()),
                                       ("transpose_", (0, 1)), ("swapaxes_", (1, 0)),
                                       ("swapdims_", (0, 1))])
def test_inplace_shape_forms(name, args, device, torch):
    data = R.standard_normal((3, 1))
    leaf = gg.tensor(data, device=device, requires_grad=True)
    x = leaf * 2
    out = getattr(x, name)(*args)
    assert out is x
    tleaf = torch.tensor(data, requires_grad=True)
    tx = getattr(tleaf * 2, name)(*args)
    assert x.shape == tuple(tx.shape)
    w = R.standard_normal(tuple(tx.shape))
    (x * gg.tensor(w, device=device)).sum().backward()
    (tx * torch.tensor(w)).sum().backward()
    assert_close(leaf.grad, tleaf.grad)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        getattr(leaf, name)(*args)


@pytest.mark.parametrize("name", ["tril_", "triu_"])
def test_inplace_triangles(name, device, torch):
    leaf = gg.tensor(M, device=device, requires_grad=True)
    x = leaf * 1
    assert getattr(x, name)(1) is x
    tleaf = torch.tensor(M, requires_grad=True)
    tx = getattr(tleaf * 1, name)(1)
    assert_close(x, tx)
    x.sum().backward()
    tx.sum().backward()
    assert_close(leaf.grad, tleaf.grad)


def test_sim_costs_come_from_composed_ops():
    """hstack is one concatenation kernel; rot90 a flip (one copy kernel) and a transpose view."""
    gg.sim.configure("sim:0")
    x = gg.randn(64, 64, device="sim")
    gg.sim.reset("sim:0")
    y = gg.hstack([x, x])
    assert gg.sim.stats("sim:0").kernels == 1
    gg.sim.reset("sim:0")
    z = y.rot90()
    assert z.shape == (128, 64) and gg.sim.stats("sim:0").kernels >= 1
    assert gg.sim.stats("sim:0").bytes >= 2 * y.numel() * 4


def test_cases_on_cuda_stand_in(fake_cuda, monkeypatch, torch):
    """Every case on the cuda backend (CuPy stood in by NumPy): PyTorch's values and gradients."""
    install_cupyx(monkeypatch)
    for c in CASES:
        check_against_torch(c, "cuda", torch)
