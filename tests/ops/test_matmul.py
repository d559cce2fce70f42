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
