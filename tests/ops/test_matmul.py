"""``@``: 1-D, 2-D, batched and broadcast-batch operands, forward and backward."""
import numpy as np
import pytest

import gpugrad as gg
from support.gradtools import OpCase, op_tests

R = np.random.default_rng(3)
SHAPES = [
    ("vec_vec", (3,), (3,)),
    ("mat_vec", (2, 3), (3,)),
    ("vec_mat", (3,), (3, 4)),
    ("mat_mat", (2, 3), (3, 4)),
    ("batched", (2, 2, 3), (2, 3, 4)),
    ("broadcast_batch", (2, 1, 2, 3), (3, 3, 2)),
    ("batch_mat", (2, 2, 3), (3, 2)),
    ("batch_vec", (2, 2, 3), (3,)),
    ("vec_batch", (3,), (2, 3, 2)),
]
CASES = [OpCase(name, lambda a, b: a @ b, lambda a, b: a @ b,
                [R.standard_normal(sa), R.standard_normal(sb)]) for name, sa, sb in SHAPES]
CASES.append(OpCase("matmul_method", lambda a, b: a.matmul(b).tanh(),
                    lambda a, b: a.matmul(b).tanh(),
                    [R.standard_normal((3, 2)), R.standard_normal((2, 2))]))


test_gradcheck, test_matches_torch = op_tests(CASES)


@pytest.mark.parametrize("sa,sb", [((2, 3), (4, 5)), ((3,), (4,)), ((2, 3), (2,)),
                                   ((5,), (4, 2))])
def test_inner_dimensions_must_agree(sa, sb, device):
    a, b = gg.ones(*sa, device=device), gg.ones(*sb, device=device)
    with pytest.raises(RuntimeError) as info:
        a @ b
    message = str(info.value)
    assert "matmul" in message and str(sa) in message and str(sb) in message
    assert "inner dimensions differ" in message


def test_batch_dimensions_must_broadcast(device):
    with pytest.raises(RuntimeError, match=r"batch dimensions.*\(2, 2, 3\).*\(3, 3, 2\)"):
        gg.ones(2, 2, 3, device=device) @ gg.ones(3, 3, 2, device=device)


def test_zero_dim_operand_is_an_error(device):
    with pytest.raises(RuntimeError, match="at least 1 dimension"):
        gg.tensor(2.0, device=device) @ gg.ones(3, device=device)


def test_non_tensor_operands_name_the_argument(device, torch):
    t = gg.ones(2, 2, device=device)
    with pytest.raises(TypeError, match=r"unsupported operand type\(s\) for @: 'Tensor' and 'list'"):
        t @ [[1.0], [2.0]]
    with pytest.raises(TypeError, match=r"matmul\(\): argument 'other' \(position 1\) must be "
                                        r"Tensor, not list") as ours:
        t.matmul([[1.0]])
    with pytest.raises(TypeError) as theirs:
        torch.ones(2, 2).matmul([[1.0]])
    assert str(ours.value) == str(theirs.value)
    with pytest.raises(TypeError, match="add\\(\\): argument 'other' must be Tensor or Number, "
                                        "not list"):
        t + [1.0, 2.0]


# ---- fixed-rank products: mm, bmm, mv, dot, vdot, outer, ger, addmm, addmv, baddbmm ----------
def _fn(name, **kwargs):
    """The same call in both libraries: ``lib.<name>(*tensors, **kwargs)``, through the method
    on the first tensor for gpugrad and torch alike."""
    return lambda *xs: getattr(xs[0], name)(*xs[1:], **kwargs)


def _function(name):
    """``gg.<name>(...)`` and ``torch.<name>(...)``: the function forms."""
    return (lambda *xs: getattr(gg, name)(*xs),
            lambda *xs: getattr(__import__("torch"), name)(*xs))


FIXED = [
    ("mm", (2, 3), (3, 4)),
    ("bmm", (2, 2, 3), (2, 3, 4)),
    ("mv", (2, 3), (3,)),
    ("dot", (3,), (3,)),
    ("vdot", (4,), (4,)),
    ("outer", (3,), (2,)),
    ("ger", (2,), (3,)),
]
FIXED_CASES = [OpCase(name, _fn(name), _fn(name), [R.standard_normal(sa), R.standard_normal(sb)])
               for name, sa, sb in FIXED]
FIXED_CASES += [OpCase(f"{name}_function", *_function(name),
                       [R.standard_normal(sa), R.standard_normal(sb)]) for name, sa, sb in FIXED]
FIXED_CASES += [
    OpCase("addmm", _fn("addmm"), _fn("addmm"),
           [R.standard_normal(4), R.standard_normal((2, 3)), R.standard_normal((3, 4))]),
    OpCase("addmm_scaled", _fn("addmm", beta=0.5, alpha=-2.0), _fn("addmm", beta=0.5, alpha=-2.0),
           [R.standard_normal((2, 4)), R.standard_normal((2, 3)), R.standard_normal((3, 4))]),
    OpCase("addmm_function", *_function("addmm"),
           [R.standard_normal((2, 1)), R.standard_normal((2, 3)), R.standard_normal((3, 4))]),
    OpCase("addmv", _fn("addmv", alpha=3), _fn("addmv", alpha=3),
           [R.standard_normal(2), R.standard_normal((2, 3)), R.standard_normal(3)]),
    OpCase("baddbmm", _fn("baddbmm", beta=2), _fn("baddbmm", beta=2),
           [R.standard_normal((2, 1, 4)), R.standard_normal((2, 2, 3)),
            R.standard_normal((2, 3, 4))]),
]

test_fixed_gradcheck, test_fixed_matches_torch = op_tests(FIXED_CASES)


def test_addmm_with_beta_zero_ignores_input_like_torch(device, torch):
    bias = [float("nan")] * 2
    ours = gg.tensor(bias, device=device).addmm(gg.ones(1, 3, device=device),
                                                gg.ones(3, 2, device=device), beta=0)
    theirs = torch.tensor(bias).addmm(torch.ones(1, 3), torch.ones(3, 2), beta=0)
    assert ours.tolist() == theirs.tolist() == [[3.0, 3.0]]


BAD_PRODUCTS = [
    ("mm_shapes", "mm", (2, 3), (4, 5)),
    ("mm_self_vector", "mm", (3,), (4, 5)),
    ("mm_mat2_vector", "mm", (2, 3), (3,)),
    ("bmm_rank1", "bmm", (2, 3), (4, 5)),
    ("bmm_rank2", "bmm", (2, 2, 3), (4, 5)),
    ("bmm_inner", "bmm", (2, 2, 3), (2, 4, 5)),
    ("bmm_batch", "bmm", (2, 2, 3), (3, 3, 5)),
    ("dot_rank", "dot", (3, 4), (3,)),
    ("dot_sizes", "dot", (3,), (4,)),
    ("mv_size", "mv", (2, 3), (4,)),
    ("mv_rank", "mv", (2, 3), (3, 3)),
    ("outer_rank", "outer", (3,), (2, 3)),
]


@pytest.mark.parametrize("name,op,sa,sb", BAD_PRODUCTS, ids=[b[0] for b in BAD_PRODUCTS])
def test_wrong_ranks_and_shapes_raise_torchs_errors(name, op, sa, sb, device, torch):
    with pytest.raises(RuntimeError) as theirs:
        getattr(torch.ones(*sa), op)(torch.ones(*sb))
    with pytest.raises(RuntimeError) as ours:
        getattr(gg.ones(*sa, device=device), op)(gg.ones(*sb, device=device))
    assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize("op,sa,sb", [("mm", (2, 3), (3, 2)), ("dot", (3,), (3,)),
                                      ("bmm", (1, 2, 3), (1, 3, 2))])
def test_mixed_dtypes_are_an_error_like_torch(op, sa, sb, device):
    a = gg.ones(*sa, device=device)
    b = gg.ones(*sb, dtype=gg.float64, device=device)
    with pytest.raises(RuntimeError, match="dtype"):
        getattr(a, op)(b)
    with pytest.raises(TypeError, match=rf"{op}\(\): argument '\w+' \(position 1\) must be "
                                        rf"Tensor, not list"):
        getattr(a, op)([1.0])


def test_sim_mm_is_one_matmul_kernel():
    a, b = gg.randn(32, 16, device="sim"), gg.randn(16, 8, device="sim")
    gg.sim.reset("sim:0")
    gg.mm(a, b)
    assert set(gg.device_registry.get_backend("sim:0").kernel_totals()[0]) == {"matmul"}
