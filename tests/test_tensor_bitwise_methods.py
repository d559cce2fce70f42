"""Bitwise ops (gpugrad/tensor_bitwise_methods.py): values and dtypes against hand-computed
numbers and PyTorch, PyTorch's refusals, the in-place and reflected forms, every device, and the
sim's kernel for each."""
import numpy as np
import pytest

import gpugrad as gg

INTS = [gg.int8, gg.uint8, gg.int16, gg.int32, gg.int64]
A = [0, 1, 3, 5, 12, 100, 127]
B = [7, 2, 6, 1, 10, 27, 64]


def _np(op, a, b):
    return {"and": a & b, "or": a | b, "xor": a ^ b}[op]


@pytest.mark.parametrize("dtype", INTS, ids=str)
@pytest.mark.parametrize("op,symbol", [("and", "&"), ("or", "|"), ("xor", "^")])
def test_and_or_xor_are_bitwise_on_integers(device, dtype, op, symbol):
    a = gg.tensor(A, dtype=dtype, device=device)
    b = gg.tensor(B, dtype=dtype, device=device)
    expected = _np(op, np.array(A), np.array(B)).tolist()
    for result in (eval(f"a {symbol} b"), getattr(a, f"bitwise_{op}")(b),
                   getattr(gg, f"bitwise_{op}")(a, b)):
        assert result.dtype is dtype and result.device == gg.device(device)
        assert result.tolist() == expected and not result.requires_grad


def test_hand_computed_values():
    a, b = gg.tensor([12, -8, 255]), gg.tensor([10, 3, 15])
    assert (a & b).tolist() == [8, 0, 15]
    assert (a | b).tolist() == [14, -5, 255]
    assert (a ^ b).tolist() == [6, -5, 240]
    assert (~a).tolist() == [-13, 7, -256]
    assert (~gg.tensor([0, 200], dtype=gg.uint8)).tolist() == [255, 55]
    assert (a << 2).tolist() == [48, -32, 1020]
    assert (a >> 2).tolist() == [3, -2, 63]  # arithmetic shift: the sign is kept


def test_bool_tensors_give_logical_results():
    t, f = gg.tensor([True, True, False]), gg.tensor([True, False, False])
    assert (t & f).tolist() == [True, False, False] and (t & f).dtype is gg.bool
    assert (t | f).tolist() == [True, True, False]
    assert (t ^ f).tolist() == [False, True, False]
    assert (~t).tolist() == [False, False, True] and (~t).dtype is gg.bool


@pytest.mark.parametrize("a_dtype,b,expected", [
    (gg.int8, gg.uint8, gg.int16), (gg.bool, gg.int32, gg.int32), (gg.int16, gg.int64, gg.int64),
    (gg.uint8, gg.bool, gg.uint8)], ids=str)
def test_tensors_promote_as_pytorch(a_dtype, b, expected):
    x, y = gg.tensor([1, 0], dtype=a_dtype), gg.tensor([1, 1], dtype=b)
    assert (x & y).dtype is expected and (x | y).dtype is expected and (y ^ x).dtype is expected


def test_numbers_and_zero_dim_tensors_keep_the_tensor_dtype():
    u = gg.tensor([3, 4], dtype=gg.uint8)
    assert (u & 255).dtype is gg.uint8 and (u & 255).tolist() == [3, 4]
    assert (6 & u).tolist() == [2, 4] and (6 & u).dtype is gg.uint8
    assert (gg.tensor(5) ^ gg.tensor([1, 2], dtype=gg.int8)).dtype is gg.int8
    t = gg.tensor([True, False])
    assert (t & 1).dtype is gg.int64 and (t & 1).tolist() == [1, 0]
    assert (t & True).dtype is gg.bool
    # a number out of the dtype's range wraps, as in PyTorch: 255 is -1 in int8
    assert (gg.tensor([1, 6], dtype=gg.int8) & 255).tolist() == [1, 6]


def test_shifts():
    i = gg.tensor([3, 4])
    assert (i << 1).tolist() == [6, 8] and (i >> 1).tolist() == [1, 2]
    assert (1 << i).tolist() == [8, 16] and (64 >> i).tolist() == [8, 4]
    assert gg.bitwise_left_shift(3, i).tolist() == [24, 48]
    assert gg.bitwise_right_shift(i, gg.tensor([0, 2])).tolist() == [3, 1]
    assert (gg.tensor([255], dtype=gg.uint8) << 1).tolist() == [254]  # wraps in its dtype
    assert (gg.tensor([1], dtype=gg.int8) << 7).tolist() == [-128]
    # shifting by the width or more, or by a negative amount: 0, or -1 for negative values
    assert (i << 64).tolist() == [0, 0] and (i >> -1).tolist() == [0, 0]
    assert (gg.tensor([1], dtype=gg.int16) << 20).tolist() == [0]
    assert ((-i) >> 64).tolist() == [-1, -1] and ((-i) >> -1).tolist() == [-1, -1]
    assert (gg.tensor([True, False]) << 1).tolist() == [2, 0]  # bool and int: int64


def test_in_place_forms_write_into_the_tensor():
    x = gg.tensor([12, 5])
    same = x
    x &= gg.tensor([10, 4])
    assert x is same and x.tolist() == [8, 4]
    x |= 1
    x ^= gg.tensor([0, 2])
    assert x.tolist() == [9, 7]
    x <<= 2
    x >>= 1
    assert x is same and x.tolist() == [18, 14]
    assert x.bitwise_xor_(3) is x and x.tolist() == [17, 13]
    assert x.bitwise_not_() is x and x.tolist() == [-18, -14]
    assert x.bitwise_left_shift_(1).tolist() == [-36, -28]
    view = gg.tensor([[1, 2], [3, 4]])[0]
    view.bitwise_or_(4)
    assert view._view.base.tolist() == [[5, 6], [3, 4]]


def test_in_place_refuses_what_pytorch_refuses():
    with pytest.raises(RuntimeError, match="result type int64 can't be cast to the desired "
                                           "output type bool"):
        gg.tensor([True]).bitwise_and_(gg.tensor([3]))
    with pytest.raises(RuntimeError, match="result type float32 can't be cast to the desired "
                                           "output type int64"):
        gg.tensor([3]).__ixor__(1.5)
    with pytest.raises(RuntimeError, match=r"output with shape \[2\] doesn't match the "
                                           r"broadcast shape \[2, 2\]"):
        gg.tensor([1, 2]).bitwise_or_(gg.tensor([[1, 2], [3, 4]]))


@pytest.mark.parametrize("expr,kernel,dtype", [
    ("f & i", "bitwise_and", "float32"), ("i | f", "bitwise_or", "float32"),
    ("f ^ 1", "bitwise_xor", "float32"), ("i & 1.5", "bitwise_and", "float32"),
    ("h | h", "bitwise_or", "float16"), ("f << 1", "lshift", "float32"),
    ("1.5 >> i", "rshift", "float32"), ("t << t", "lshift", "bool"),
    ("t >> t", "rshift", "bool"), ("gg.bitwise_not(f)", "bitwise_not", "float32"),
    ("gg.tensor([1.0], requires_grad=True) & 1", "bitwise_and", "float32")])
def test_floating_operands_are_refused_not_read_as_truth_values(expr, kernel, dtype):
    f, h, i, t = gg.tensor([1.5]), gg.tensor([1.5], dtype=gg.float16), gg.tensor([3]), \
        gg.tensor([True])
    with pytest.raises(NotImplementedError, match=f"\"{kernel}_cpu\" not implemented for "
                                                   f"'{dtype}': bitwise ops take integer or "
                                                   f"bool tensors"):
        eval(expr)


def test_invert_of_a_float_is_pytorch_type_error():
    with pytest.raises(TypeError, match=r"~ \(operator.invert\) is only implemented on integer "
                                        r"and Boolean-type tensors"):
        ~gg.tensor([1.5])


def test_operand_errors():
    with pytest.raises(TypeError, match="argument 'other' must be Tensor or Number, not str"):
        gg.tensor([3]) & "a"
    with pytest.raises(RuntimeError, match="same device"):
        gg.tensor([3]) & gg.tensor([1], device="sim")
    with pytest.raises(RuntimeError, match=r"bitwise_xor: shapes \(2,\) and \(3,\) cannot be "
                                           r"broadcast together"):
        gg.tensor([1, 2]) ^ gg.tensor([1, 2, 3])


def test_out_argument():
    out = gg.empty(2, dtype=gg.int64)
    assert gg.bitwise_and(gg.tensor([6, 7]), 3, out=out) is out and out.tolist() == [2, 3]
    assert gg.bitwise_not(gg.tensor([0, 1]), out=out) is out and out.tolist() == [-1, -2]


def test_sim_models_one_elementwise_kernel_per_op():
    gg.sim.reset("sim:0")
    a = gg.tensor([1, 2, 3, 4], dtype=gg.int32, device="sim")
    b = gg.tensor([4, 3, 2, 1], dtype=gg.int32, device="sim")
    gg.sim.reset("sim:0")
    a & b, a << b, ~a
    stats = gg.sim.stats("sim:0")
    assert stats.kernels == 3
    for name in ("binary:bitwise_and", "binary:bitwise_left_shift", "unary:bitwise_not"):
        row = stats.by_op[name]
        assert row["count"] == 1
        # 4 int32 elements: two operands read (one for not), one result written
        reads = 1 if name.startswith("unary") else 2
        assert row["bytes"] == (reads + 1) * 4 * 4 and row["flops"] == 4


def test_shape_only_sim_gives_shapes_and_dtypes():
    gg.sim.configure("sim:1", compute=False)
    try:
        a = gg.zeros(3, 5, dtype=gg.uint8, device="sim:1")
        b = gg.zeros(5, dtype=gg.int16, device="sim:1")
        out = (a ^ b) >> 1
        assert out.shape == (3, 5) and out.dtype is gg.int16 and (~a).dtype is gg.uint8
    finally:
        gg.sim.configure("sim:1", compute=True)


def test_against_pytorch(torch, device, rng):
    a = rng.integers(-100, 100, (3, 4)).astype(np.int32)
    b = rng.integers(0, 9, (4,)).astype(np.int16)
    ga, gb = gg.tensor(a, device=device), gg.tensor(b, device=device)
    ta, tb = torch.tensor(a), torch.tensor(b)
    for expr in ("x & y", "x | y", "x ^ y", "~x", "x << y", "x >> y", "y << 3", "7 ^ x",
                 "x & 0x5A", "(x > 0) & (y < 5)", "~(x > 0)"):
        ours = eval(expr, {"x": ga, "y": gb})
        theirs = eval(expr, {"x": ta, "y": tb})
        assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "gpugrad."), expr
        np.testing.assert_array_equal(ours.cpu().numpy(), theirs.numpy(), err_msg=expr)


def test_cuda_backend_runs_them_through_cupy(fake_cuda):
    a = gg.tensor([12, -8, 255], device="cuda")
    b = gg.tensor([10, 3, 15], dtype=gg.int8, device="cuda")
    assert (a & b).tolist() == [8, 0, 15] and (a ^ b).dtype is gg.int64
    assert (~a).tolist() == [-13, 7, -256] and (a >> 2).tolist() == [3, -2, 63]
    assert (gg.tensor([3], dtype=gg.uint8, device="cuda") | 4).tolist() == [7]
    with pytest.raises(NotImplementedError, match="\"bitwise_or_cuda\" not implemented for "
                                                   "'float32'"):
        gg.tensor([1.5], device="cuda") | 1
