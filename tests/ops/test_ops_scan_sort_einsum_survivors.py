"""Scans, sorting, random fills and einsum against PyTorch (float64): cumsum/cumprod values and
gradients (first and second order) with zeros along the dim, cummax/cummin tie indices,
topk/median shapes, seeded random fills and einsum's labels, broadcasting and error texts."""
import re

import numpy as np
import pytest

import gpugrad as gg
from gpugrad.ops.random import RandomFill
from gpugrad.ops.scan import Cumprod, Cumsum

torch = pytest.importorskip("torch", reason="the reference values come from PyTorch")

DEVICES = ["cpu", "sim"]
R = np.random.default_rng(11)


def _pair(data, device, requires_grad=False):
    data = np.asarray(data, dtype=np.float64)
    return (gg.tensor(data, device=device, requires_grad=requires_grad),
            torch.tensor(data, requires_grad=requires_grad))


def _close(ours, theirs):
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-10,
                               atol=1e-12)
    assert tuple(ours.shape) == tuple(theirs.shape)


# ---- cumsum / cumprod ---------------------------------------------------------------------
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", [Cumsum, Cumprod])
def test_scan_function_default_dim_is_zero(device, op):
    x, t = _pair(R.standard_normal((2, 3)), device)
    ref = torch.cumsum(t, 0) if op is Cumsum else torch.cumprod(t, 0)
    _close(op.apply(x), ref)


def _with_zeros(shape, dim, zeros):
    """Random data with ``zeros`` zeros along ``dim`` in every slice (at positions 1 and 3)."""
    data = R.uniform(0.5, 1.5, shape) * R.choice([-1.0, 1.0], shape)
    moved = np.moveaxis(data, dim, -1)
    for at in (1, 3)[:zeros]:
        moved[..., at] = 0.0
    return data


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dim", [0, 2])
@pytest.mark.parametrize("zeros", [0, 1, 2])
def test_cumprod_gradients_with_zeros_match_torch(device, dim, zeros):
    shape = (4, 3, 5)
    data = _with_zeros(shape, dim, zeros)
    weights = R.standard_normal(shape)
    x, t = _pair(data, device, requires_grad=True)
    w, tw = _pair(weights, device)
    out, ref = x.cumprod(dim), t.cumprod(dim)
    _close(out, ref)
    # first order without a graph (PyTorch's O(n) rule around the first zero)
    (g,) = gg.autograd.grad((out * w).sum(), x)
    (tg,) = torch.autograd.grad((ref * tw).sum(), t)
    _close(g, tg)
    # with create_graph: the O(n^2) polynomial, then its own gradient
    (g,) = gg.autograd.grad((x.cumprod(dim) * w).sum(), x, create_graph=True)
    (tg,) = torch.autograd.grad((t.cumprod(dim) * tw).sum(), t, create_graph=True)
    _close(g, tg)
    assert g.requires_grad
    (gg2,) = gg.autograd.grad((g * g).sum(), x)
    (tg2,) = torch.autograd.grad((tg * tg).sum(), t)
    _close(gg2, tg2)


@pytest.mark.parametrize("device", DEVICES)
def test_cumsum_with_zeros_and_its_gradient(device):
    x, t = _pair(_with_zeros((3, 5), 1, 2), device, requires_grad=True)
    w = R.standard_normal((3, 5))
    out, ref = x.cumsum(1), t.cumsum(1)
    _close(out, ref)
    (out * gg.tensor(w, device=device)).sum().backward()
    (ref * torch.tensor(w)).sum().backward()
    _close(x.grad, t.grad)


# ---- cummax / cummin ---------------------------------------------------------------------
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", ["cummax", "cummin"])
@pytest.mark.parametrize("dim", [0, 1])
def test_cum_extreme_tie_indices_match_torch(device, name, dim):
    data = [[1.0, 3.0, 3.0, 0.0, 3.0], [2.0, 2.0, -1.0, -1.0, 5.0], [2.0, 3.0, -1.0, 0.0, 3.0]]
    x, t = _pair(data, device, requires_grad=True)
    out, ref = getattr(x, name)(dim), getattr(t, name)(dim)
    _close(out.values, ref.values)
    assert out.indices.dtype is gg.int64
    assert out.indices.tolist() == ref.indices.tolist()
    w = R.standard_normal((3, 5))
    (out.values * gg.tensor(w, device=device)).sum().backward()
    (ref.values * torch.tensor(w)).sum().backward()
    _close(x.grad, t.grad)


# ---- sort / argsort / topk / median -------------------------------------------------------
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_sort_argsort_stable_ties_match_torch(device, descending, dim):
    data = [[2.0, 1.0, 2.0, 0.0], [1.0, 1.0, -1.0, 2.0], [2.0, 0.0, -1.0, 2.0]]
    x, t = _pair(data, device)
    out = x.sort(dim=dim, descending=descending, stable=True)
    ref = t.sort(dim=dim, descending=descending, stable=True)
    _close(out.values, ref.values)
    assert out.indices.tolist() == ref.indices.tolist()
    assert out.indices.requires_grad is False
    assert (x.argsort(dim=dim, descending=descending, stable=True).tolist()
            == t.argsort(dim=dim, descending=descending, stable=True).tolist())


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("largest", [True, False])
@pytest.mark.parametrize("k,dim", [(1, 0), (1, 1), (2, 1)])
def test_topk_keeps_the_dim_even_for_k_one(device, largest, k, dim):
    x, t = _pair(R.standard_normal((3, 4)), device, requires_grad=True)
    out, ref = x.topk(k, dim=dim, largest=largest), t.topk(k, dim=dim, largest=largest)
    _close(out.values, ref.values)
    assert out.indices.tolist() == ref.indices.tolist()
    assert tuple(out.indices.shape) == tuple(ref.indices.shape)
    assert out.indices.requires_grad is False and ref.indices.requires_grad is False
    out.values.sum().backward()
    ref.values.sum().backward()
    _close(x.grad, t.grad)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("shape,dim", [((1, 3, 1), 1), ((2, 1, 3), 2), ((1, 5), 1)])
def test_median_without_keepdim_drops_only_dim(device, shape, dim):
    x, t = _pair(R.standard_normal(shape), device)
    for keepdim in (False, True):
        out, ref = x.median(dim, keepdim=keepdim), t.median(dim, keepdim=keepdim)
        _close(out.values, ref.values)
        assert tuple(out.indices.shape) == tuple(ref.indices.shape)
        assert out.indices.tolist() == ref.indices.tolist()


# ---- random fills ------------------------------------------------------------------------
@pytest.mark.parametrize("device", DEVICES)
def test_random_fill_defaults_are_seed_zero_standard_uniform(device):
    x = gg.zeros(2, 3, dtype=gg.float64, device=device)
    default = RandomFill.apply(x)
    explicit = RandomFill.apply(gg.zeros(2, 3, dtype=gg.float64, device=device),
                                kind="uniform", loc=0.0, scale=1.0, seed=0)
    assert default.tolist() == explicit.tolist()
    assert x.tolist() == [[0.0] * 3] * 2  # out of place: the input is untouched
    assert all(0.0 <= v < 1.0 for v in default.flatten().tolist())
    other = RandomFill.apply(x, kind="uniform", loc=0.0, scale=1.0, seed=1)
    assert other.tolist() != default.tolist()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("method,args", [("normal_", (2.0, 3.0)), ("uniform_", (-2.0, 4.0))])
def test_seeded_fills_reproduce_and_scale(device, method, args):
    gg.manual_seed(7)
    a = getattr(gg.empty(4, 5, dtype=gg.float64, device=device), method)(*args)
    gg.manual_seed(7)
    b = getattr(gg.empty(4, 5, dtype=gg.float64, device=device), method)(*args)
    assert a.tolist() == b.tolist()
    gg.manual_seed(7)
    unit = getattr(gg.empty(4, 5, dtype=gg.float64, device=device), method)()
    lo, span = (args[0], args[1]) if method == "normal_" else (args[0], args[1] - args[0])
    np.testing.assert_allclose(a.numpy(), lo + span * unit.numpy(), rtol=1e-12)


# ---- einsum ------------------------------------------------------------------------------
EINSUM_CASES = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]),
    ("ij,jk,kl", [(2, 3), (3, 4), (4, 2)]),
    ("i,ij,j->", [(3,), (3, 4), (4,)]),
    ("ab,bc,cd,da->", [(2, 3), (3, 4), (4, 2), (2, 2)]),
    ("jii->ji", [(2, 3, 3)]),
    ("iji->j", [(3, 2, 3)]),
    ("iij,jk->ik", [(3, 3, 2), (2, 4)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("...ij,...jk->...ik", [(2, 1, 3, 4), (5, 4, 2)]),
    ("...ij,...jk", [(2, 1, 3, 4), (5, 4, 2)]),
    ("i...,i...->i", [(2, 3), (2, 1)]),
    ("ij,ij->ji", [(2, 1), (1, 3)]),
    ("ij,kj->ki", [(1, 3), (4, 1)]),
    ("ba,cb", [(3, 2), (4, 3)]),
    ("i,j->ji", [(2,), (3,)]),
    ("ij->ij", [(2, 3)]),
    ("ij->", [(2, 3)]),
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("equation,shapes", EINSUM_CASES)
def test_einsum_values_and_gradients_match_torch(device, equation, shapes):
    pairs = [_pair(R.standard_normal(s), device, requires_grad=True) for s in shapes]
    out = gg.einsum(equation, *[p[0] for p in pairs])
    ref = torch.einsum(equation, *[p[1] for p in pairs])
    _close(out, ref)
    w = R.standard_normal(tuple(ref.shape))
    (out * gg.tensor(w, device=device)).sum().backward()
    (ref * torch.tensor(w)).sum().backward()
    for x, t in pairs:
        _close(x.grad, t.grad)


def _raises(exc, message, f):
    with pytest.raises(exc, match="^" + re.escape(message) + "$"):
        f()


@pytest.mark.parametrize("device", DEVICES)
def test_einsum_error_messages(device):
    a = gg.ones(2, 3, device=device)
    v = gg.ones(2, device=device)
    _raises(TypeError, "einsum(): the sublist format (einsum(a, [0, 1], b, [1, 2])) is not "
            "supported; write the equation as a string, e.g. einsum('ij,jk', a, b)",
            lambda: gg.einsum(a, [0, 1]))
    _raises(RuntimeError, "einsum(): must provide at least one operand", lambda: gg.einsum("i"))
    _raises(TypeError, "einsum(): operand 1 must be a Tensor, not float",
            lambda: gg.einsum("i,i", v, 1.0))
    _raises(RuntimeError, "einsum(): more operands were provided than specified in the "
            "equation", lambda: gg.einsum("i", v, v))
    _raises(RuntimeError, "einsum(): found '.' for operand 1 for which an ellipsis was already "
            "found", lambda: gg.einsum("i,...j...", v, a))
    _raises(RuntimeError, "einsum(): found '.' for operand 0 for which an ellipsis was already "
            "found", lambda: gg.einsum("......", a))
    _raises(RuntimeError, "einsum(): the number of subscripts in the equation (2) is more than "
            "the number of dimensions (1) for operand 1", lambda: gg.einsum("i,...ij", v, v))
    _raises(RuntimeError, "einsum(): the number of subscripts in the equation (3) is more than "
            "the number of dimensions (2) for operand 0", lambda: gg.einsum("...ijk", a))
    _raises(RuntimeError, "einsum(): invalid subscript given at index 2 in the equation string, "
            "subscripts must be in [a-zA-Z]", lambda: gg.einsum("ij1", a))
    with pytest.raises(RuntimeError, match=r"^einsum\(\): subscript i is repeated for operand 1 "
                       r"but the sizes don't match, \d != \d$"):
        gg.einsum("i,ii", v, a)


def test_einsum_messages_match_torch_where_copied():
    t2, t1 = torch.ones(2, 3), torch.ones(2)
    for eq, ops in [("i", (t1, t1)), ("i,...j...", (t1, t2)), ("i,...ij", (t1, t1)),
                    ("ij1", (t2,))]:
        with pytest.raises(RuntimeError) as theirs:
            torch.einsum(eq, *ops)
        with pytest.raises(RuntimeError) as ours:
            gg.einsum(eq, *[gg.tensor(o.numpy()) for o in ops])
        assert str(ours.value) == str(theirs.value)


def _sim_matmul_flops(equation, shapes):
    gg.sim.configure("sim:0")
    xs = [gg.ones(*s, device="sim:0") for s in shapes]
    gg.sim.reset("sim:0")
    gg.einsum(equation, *xs)
    by_op, _ = gg.device_registry.get_backend("sim:0").kernel_totals()
    return by_op["matmul"][2]


def test_einsum_keeps_a_size_one_dim_unbroadcast_until_it_is_contracted():
    # i is size 1 in the first operand and 5 in the third: the first matmul stays 1-row, so
    # the whole einsum costs fewer flops than with the first operand already 5 rows
    broadcast = _sim_matmul_flops("ij,jk,i->ik", [(1, 3), (3, 4), (5,)])
    full = _sim_matmul_flops("ij,jk,i->ik", [(5, 3), (3, 4), (5,)])
    assert broadcast < full


@pytest.mark.parametrize("equation", ["ij->ij", "ij", "...->..."])
def test_einsum_that_changes_nothing_returns_a_new_view_as_pytorch(equation):
    torch = pytest.importorskip("torch", reason="compares with PyTorch")
    a = gg.ones(2, 3, requires_grad=True)
    ta = torch.ones(2, 3, requires_grad=True)
    out, theirs = gg.einsum(equation, a), torch.einsum(equation, ta)
    assert out is not a and not out.is_leaf
    assert out.grad_fn.name() == theirs.grad_fn.name() == "PermuteBackward0"
    out.sum().backward()
    assert a.grad.tolist() == [[1.0] * 3] * 2
