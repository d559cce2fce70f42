"""``einsum``: the contractions PyTorch programs write, against ``torch.einsum`` (values,
gradients, errors), and the kernels it costs on the simulated GPU."""
import numpy as np
import pytest

import gpugrad as gg
from gpugrad.ops.einsum import einsum
from support.gradtools import OpCase, op_tests

R = np.random.default_rng(17)


def _case(equation, *shapes, name=None):
    return OpCase(name or equation, lambda *xs: einsum(equation, *xs),
                  lambda *xs: __import__("torch").einsum(equation, *xs),
                  [R.standard_normal(s) for s in shapes])


CASES = [
    _case("ij,jk->ik", (2, 3), (3, 4)),
    _case("bij,bjk->bik", (2, 2, 3), (2, 3, 4)),
    _case("i,i->", (4,), (4,)),
    _case("ij->ji", (2, 3)),
    _case("ii->i", (3, 3)),
    _case("ii", (3, 3), name="trace_implicit"),
    _case("bi,bi->b", (3, 4), (3, 4)),
    _case("ij,j->i", (2, 3), (3,)),
    _case("i,j->ij", (2,), (3,)),
    _case("ij,jk", (2, 3), (3, 4), name="implicit_matmul"),
    _case("ba,ca", (2, 3), (4, 3), name="implicit_sorted_output"),
    _case("ij->", (2, 3)),
    _case("i,i", (4,), (4,), name="dot_implicit"),
    _case("ij,jk->k", (2, 3), (3, 4), name="summed_early"),
    _case("ij->j", (2, 3)),
    _case("...ij,...jk->...ik", (2, 2, 3), (3, 4), name="ellipsis_broadcast_batch"),
    _case("b...,b...->b", (2, 3, 2), (2, 3, 2), name="ellipsis_middle"),
    _case("...ij,...jk", (2, 2, 3), (1, 3, 4), name="ellipsis_implicit_size_one"),
    _case("bhqd,bhkd->bhqk", (2, 2, 3, 4), (2, 2, 5, 4), name="attention_scores"),
    _case("bhqk,bhkd->bhqd", (1, 2, 3, 5), (1, 2, 5, 4), name="attention_values"),
    _case("ijk,jl,kl->il", (2, 3, 4), (3, 5), (4, 5), name="three_operands"),
    _case("i j , j k -> i k", (2, 3), (3, 2), name="spaces"),
    _case("iij->ij", (2, 2, 3), name="diagonal_kept_dim"),
    _case("ij,ij->ij", (2, 3), (1, 3), name="elementwise_broadcast"),
]

test_gradcheck, test_matches_torch = op_tests(CASES)


def test_operands_as_a_list(device):
    a = gg.ones(2, 3, device=device)
    assert einsum("ij,jk->ik", [a, a.T]).tolist() == [[3.0, 3.0], [3.0, 3.0]]


BAD = [
    ("ij,jk->ik", [(2, 3), (4, 5)]),
    ("ij,jk", [(2, 3)]),
    ("ij->k", [(2, 3)]),
    ("ijk->ij", [(2, 3)]),
    ("ii->i", [(3, 2)]),
    ("i,i->ii", [(2,), (2,)]),
]


@pytest.mark.parametrize("equation,shapes", BAD, ids=[b[0] for b in BAD])
def test_errors_match_torch(equation, shapes, device, torch):
    with pytest.raises(RuntimeError) as theirs:
        torch.einsum(equation, *[torch.ones(*s) for s in shapes])
    with pytest.raises(RuntimeError) as ours:
        einsum(equation, *[gg.ones(*s, device=device) for s in shapes])
    assert str(ours.value).split(" ")[:4] == str(theirs.value).split(" ")[:4], \
        (str(ours.value), str(theirs.value))


def test_sublist_format_says_to_write_an_equation():
    with pytest.raises(TypeError, match="sublist format"):
        einsum(gg.ones(2), [0], gg.ones(2), [0])


def test_gg_einsum_is_the_function():
    assert gg.einsum is einsum


def _kernels():
    return gg.device_registry.get_backend("sim:0").kernel_totals()[0]


@pytest.mark.parametrize("equation,sa,sb", [("ij,jk->ik", (32, 16), (16, 8)),
                                            ("bij,bjk->bik", (4, 32, 16), (4, 16, 8)),
                                            ("ij,kj->ik", (32, 16), (8, 16))])
def test_sim_matmul_like_contractions_are_one_matmul_kernel(equation, sa, sb):
    a, b = gg.randn(*sa, device="sim"), gg.randn(*sb, device="sim")
    gg.sim.reset("sim:0")
    out = einsum(equation, a, b)
    assert set(_kernels()) == {"matmul"} and _kernels()["matmul"][0] == 1
    np.testing.assert_allclose(out.numpy(), np.einsum(equation, a.numpy(), b.numpy()),
                               rtol=1e-5, atol=1e-5)
