"""Bool operands as PyTorch takes them (gpugrad/ops/elementwise.py's Sub and Pow, and the
integer division of tensor_numeric_methods.py): ``-`` and ``t ** t`` refuse them, ``//``, ``%``
and ``fmod`` of two bools are not implemented, a bool beside an integer counts as 0 or 1, and
``square`` of a bool tensor is int64."""
import numpy as np
import pytest

import gpugrad as gg

MASK_SUB = ("Subtraction, the `-` operator, with a bool tensor is not supported. If you are "
            "trying to invert a mask, use the `~` or `logical_not()` operator instead.")
TWO_BOOL_SUB = ("Subtraction, the `-` operator, with two bool tensors is not supported. Use "
                "the `^` or `logical_xor()` operator instead.")


@pytest.mark.parametrize("expr", ["1 - t", "t - 1", "t - 1.5", "f - True", "True - f", "i - t",
                                  "t - i", "gg.sub(i, t)", "t.sub(i, alpha=2)"])
def test_subtracting_a_bool_operand_is_refused(device, expr):
    t = gg.tensor([True, False], device=device)
    f, i = gg.tensor([1.5, 2.0], device=device), gg.tensor([3, 4], device=device)
    with pytest.raises(RuntimeError, match=f"^{MASK_SUB.replace('(', r'[(]').replace(')', r'[)]')}$"):
        eval(expr)


def test_subtracting_two_bool_tensors_is_refused():
    t = gg.tensor([True, False])
    with pytest.raises(RuntimeError, match="two bool tensors is not supported"):
        t - t
    with pytest.raises(RuntimeError, match=r"Use the `\^` or `logical_xor\(\)` operator"):
        t.sub_(t)
    assert (~t).tolist() == [False, True]  # the advice works
    assert ((t ^ t) == t.logical_xor(t)).all()


def test_bool_refusals_match_pytorch(torch):
    for expr in ("1 - t", "t - t", "t - 1.5", "i - t"):
        for lib in (gg, torch):
            t, i = lib.tensor([True, False]), lib.tensor([3, 4])
            with pytest.raises(RuntimeError) as caught:
                eval(expr)
            assert str(caught.value) == (TWO_BOOL_SUB if expr == "t - t" else MASK_SUB), lib


@pytest.mark.parametrize("expr,kernel", [("t // t", "div_floor"), ("t % t", "remainder"),
                                         ("gg.fmod(t, t)", "fmod"),
                                         ("t.div(t, rounding_mode='trunc')", "div_trunc"),
                                         ("t ** t", "pow")])
def test_bool_only_integer_ops_are_not_implemented(expr, kernel):
    t = gg.tensor([True, True])
    suffix = "" if kernel == "pow" else "_cpu"
    with pytest.raises(NotImplementedError, match=f"\"{kernel}{suffix}\" not implemented for "
                                                   f"'bool'"):
        eval(expr)


def test_a_bool_beside_an_integer_counts_as_0_or_1(torch):
    for expr in ("t % i", "i % t2", "gg.fmod(-i, t2)", "t // i", "i ** t", "t ** i",
                 "lib.square(t)", "t.square()", "t * 2"):
        results = []
        for lib in (gg, torch):
            t, t2, i = lib.tensor([True, False]), lib.tensor([True, True]), lib.tensor([5, 2])
            results.append(eval(expr.replace("gg.", "lib."), {"lib": lib, "t": t, "t2": t2,
                                                              "i": i}))
        ours, theirs = results
        assert str(ours.dtype).split(".")[1] == str(theirs.dtype).split(".")[1], expr
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy(), err_msg=expr)


def test_square_of_bool_is_int64():
    out = gg.tensor([True, False]).square()
    assert out.dtype is gg.int64 and out.tolist() == [1, 0]
    with pytest.raises(RuntimeError, match="result type int64 can't be cast to the desired "
                                           "output type bool"):
        gg.tensor([True]).square_()


def test_in_place_power_of_a_bool_tensor_refuses_the_integer_result():
    with pytest.raises(RuntimeError, match="result type int64 can't be cast to the desired "
                                           "output type bool"):
        gg.tensor([True, False]).pow_(gg.tensor([2, 3]))
    x = gg.tensor([2, 3], dtype=gg.int8)
    assert x.pow_(gg.tensor([2, -1])) is x and x.tolist() == [4, 0]  # int64 fits back: as torch
