"""logsumexp (``ops/softmax.py``), the shape helpers (``ops/broadcast.py``), ``rsqrt``, ``lerp``
and the window arguments of convolution where the common tests do not look: errors in PyTorch's
words or naming the op, empty inputs with ``keepdim``, the dtype of an in-place result, and
half-precision rounding. Kills mutation-testing survivors (``bench/mutation.toml``, ops)."""
import pytest

import gpugrad as gg
import gpugrad.nn.functional as F


# ---- logsumexp --------------------------------------------------------------------------------
def test_logsumexp_dim_out_of_range_names_the_op():
    with pytest.raises(IndexError) as info:
        gg.ones(2, 3).logsumexp(dim=5)
    assert str(info.value) == ("logsumexp: Dimension out of range (expected to be in range of "
                               "[-2, 1], but got 5)")


@pytest.mark.parametrize("keepdim", [False, True])
def test_logsumexp_of_an_empty_input_keeps_dims(torch, keepdim):
    out = gg.zeros(0, 3).logsumexp(dim=0, keepdim=keepdim)
    expected = torch.zeros(0, 3).logsumexp(dim=0, keepdim=keepdim)
    assert out.shape == tuple(expected.shape)
    assert out.tolist() == expected.tolist()


# ---- broadcast helpers: setitem and pow errors ---------------------------------------------------
def test_setitem_size_mismatch_names_the_dim_as_pytorch(torch):
    x, t = gg.zeros(3, 2, 3), torch.zeros(3, 2, 3)
    with pytest.raises(RuntimeError) as expected:
        t[0] = torch.ones(2)
    with pytest.raises(RuntimeError) as info:
        x[0] = gg.ones(2)
    assert str(info.value) == str(expected.value)
    assert "at non-singleton dimension 1." in str(info.value)


def test_int8_to_a_0d_uint8_power_keeps_the_int8_dtype(torch):
    """int8 ** a 0-d uint8 255 is int8 (a 0-d tensor does not promote): 255 is -1 as int8.
    gpugrad refuses the negative integer power NumPy sees; PyTorch computes it. Either way the
    result is never wider than int8."""
    try:
        out = gg.tensor([2, 3], dtype=gg.int8) ** gg.tensor(255, dtype=gg.uint8)
    except RuntimeError as exc:
        assert str(exc) == "pow: Integers to negative integer powers are not allowed."
    else:
        expected = torch.tensor([2, 3], dtype=torch.int8) ** torch.tensor(255, dtype=torch.uint8)
        assert out.dtype == gg.int8
        assert out.tolist() == expected.tolist()


# ---- rsqrt ------------------------------------------------------------------------------------
def test_rsqrt_in_place_refuses_an_integer_tensor(torch):
    with pytest.raises(RuntimeError, match="Float can't be cast to the desired output type Long"):
        torch.tensor([4]).rsqrt_()
    x = gg.tensor([4])
    with pytest.raises(RuntimeError) as info:
        x.rsqrt_()
    assert str(info.value) == "result type float32 can't be cast to the desired output type int64"
    assert x.tolist() == [4]


# ---- lerp -------------------------------------------------------------------------------------
def test_half_lerp_near_end_multiplies_by_1_minus_weight_in_float32(torch):
    """weight 0.7: ``end - (end - start) * 0.3`` with 0.3 kept in float32 (not rounded to
    float16 first), as PyTorch computes it; these pairs round differently otherwise."""
    start, end = [0.3, -3.3], [7.7, 22.2]
    out = gg.lerp(gg.tensor(start, dtype=gg.float16), gg.tensor(end, dtype=gg.float16), 0.7)
    expected = torch.lerp(torch.tensor(start, dtype=torch.float16),
                          torch.tensor(end, dtype=torch.float16), 0.7)
    assert out.dtype == gg.float16
    assert out.tolist() == expected.tolist()


# ---- window arguments (stride, padding...) -------------------------------------------------------
@pytest.mark.parametrize("stride,error,message", [
    (1.5, TypeError, "conv2d(): argument 'stride' must be an int or a tuple of 2 ints, not float"),
    ((2, 1.5), ValueError,
     "conv2d(): argument 'stride' must be an int or a tuple of 2 ints, got (2, 1.5)"),
    ((True, 1), ValueError,
     "conv2d(): argument 'stride' must be an int or a tuple of 2 ints, got (True, 1)"),
])
def test_conv_stride_must_be_ints(stride, error, message):
    with pytest.raises(error) as info:
        F.conv2d(gg.ones(1, 1, 4, 4), gg.ones(1, 1, 2, 2), stride=stride)
    assert str(info.value) == message
