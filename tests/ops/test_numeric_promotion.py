"""PyTorch's result dtypes and values where the numeric long tail (tensor_numeric_methods.py)
mixes integer, bool and low-precision operands: the result is the promoted floating dtype
(float16 beside an integer stays float16), a Python number joins in that dtype, and
low-precision results are computed in float32 and rounded once."""
import numpy as np
import pytest

import gpugrad as gg


def _pair(torch, expr, a, b, a_dtype, b_dtype):
    results = []
    for lib in (gg, torch):
        x = lib.tensor(a, dtype=getattr(lib, a_dtype))
        y = b if not isinstance(b, list) else lib.tensor(b, dtype=getattr(lib, b_dtype))
        results.append(eval(expr, {"lib": lib, "x": x, "y": y}))
    return results


CASES = [
    ("lib.xlogy(x, y)", [3, 0, -2], 1.5, "int64", None),  # a float number, not int(1.5) = 1
    ("lib.xlogy(x, y)", [True, False], 2, "bool", None),
    ("lib.xlogy(x, y)", [1.5, 0.0, 2.0], [3, 0, 250], "float16", "uint8"),
    ("lib.copysign(x, y)", [3, 0, 250], [-1.0, 2.0, -0.0], "uint8", "float16"),
    ("lib.copysign(x, y)", [True, False], [-1.0, 2.0], "bool", "float64"),
    ("lib.logaddexp(x, y)", [True, False], [1.5, -2.0], "bool", "bfloat16"),
    ("lib.logaddexp2(x, y)", [1.5, -2.0], [3, 4], "float16", "int32"),
    ("lib.hypot(x, y)", [True, False], [1.5, 2.0], "bool", "float32"),
    ("lib.hypot(x, y)", [-3, 2, 300], [1.5, 0.5, 2.25], "int16", "float16"),  # 300**2 > f16 max
    ("lib.remainder(x, y)", [250, 7, 100], [2.25, 0.75, 3.5], "uint8", "bfloat16"),
    ("lib.fmod(x, y)", [-250, 7, 100], [2.25, -0.75, 3.5], "int16", "bfloat16"),
    ("lib.pow(x, y)", [True, False, True, False], [-100, 1, 5, -2], "bool", "int8"),
]


@pytest.mark.parametrize("expr,a,b,a_dtype,b_dtype", CASES,
                         ids=[f"{c[0][4:c[0].index('(')]}-{c[3]}-{c[4]}" for c in CASES])
def test_mixed_operands_match_pytorch(torch, expr, a, b, a_dtype, b_dtype):
    ours, theirs = _pair(torch, expr, a, b, a_dtype, b_dtype)
    assert ours.dtype.name == str(theirs.dtype).split(".")[1]
    # low precision: within one unit in the last place (PyTorch's CPU kernels round some
    # intermediates to the low dtype, so a correctly rounded result may differ by one)
    ulp = {"float16": 2.0 ** -10, "bfloat16": 2.0 ** -7}.get(ours.dtype.name, 0.0)
    np.testing.assert_allclose(ours.float().numpy(), theirs.float().numpy(), rtol=ulp, atol=0)


def test_xlogy_of_an_integer_tensor_and_a_float_number_by_hand():
    out = gg.xlogy(gg.tensor([2, 0, -1]), 1.5)
    assert out.dtype is gg.float32
    np.testing.assert_allclose(out.numpy(), [2 * np.log(1.5), 0.0, -np.log(1.5)], rtol=1e-6)


def test_hypot_of_integers_is_still_refused():
    with pytest.raises(RuntimeError, match="\"hypot_cpu\" not implemented for 'int64'"):
        gg.hypot(gg.tensor([3]), gg.tensor([4]))
    assert gg.hypot(gg.tensor([3]), gg.tensor([4.0])).tolist() == [5.0]


def test_low_precision_remainder_is_rounded_once_by_hand():
    # 250 % 2.25 is 0.25 exactly; computed step by step in bfloat16 it would round to 0
    out = gg.remainder(gg.tensor([250], dtype=gg.uint8), gg.tensor([2.25], dtype=gg.bfloat16))
    assert out.dtype is gg.bfloat16 and out.float().tolist() == [0.25]


def test_mixed_gradients_reach_the_floating_operand():
    x = gg.tensor([1.5, -2.0], dtype=gg.float64, requires_grad=True)
    gg.logaddexp(gg.tensor([True, False]), x).sum().backward()
    expected = np.exp([1.5, -2.0]) / (np.exp([1.0, 0.0]) + np.exp([1.5, -2.0]))
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-12)


def test_remainder_and_fmod_by_an_infinite_divisor(device, torch):
    a = [2.25, -2.25, float("inf"), 2.25, 0.0, -0.0, -1.0, 5.0]
    b = [float("inf"), float("inf"), 2.0, float("-inf"), float("inf"), float("-inf"),
         float("-inf"), 3.0]
    for name in ("remainder", "fmod"):
        ours = getattr(gg, name)(gg.tensor(a, device=device), gg.tensor(b, device=device))
        theirs = getattr(torch, name)(torch.tensor(a), torch.tensor(b))
        np.testing.assert_array_equal(ours.cpu().numpy(), theirs.numpy())
        assert np.array_equal(np.signbit(ours.cpu().numpy()), np.signbit(theirs.numpy()))
        number = getattr(gg, name)(gg.tensor(a, device=device), float("-inf"))
        np.testing.assert_array_equal(number.cpu().numpy(),
                                      getattr(torch, name)(torch.tensor(a), float("-inf")))
    # by hand: Python's modulus keeps a finite value whose sign agrees with the divisor's
    assert gg.remainder(gg.tensor([-2.25, 2.25]), float("inf")).tolist() == [float("inf"), 2.25]
    x = gg.tensor([2.25, -1.0], requires_grad=True)
    gg.fmod(x, float("inf")).sum().backward()
    assert x.grad.tolist() == [1.0, 1.0]
