"""Writing a number into a tensor whose dtype cannot hold it (``finfo.check_fits``, called by
the ops that write numbers): refused as PyTorch refuses it, where it was wrapped (300 into int8
was 44) or saturated; compared with PyTorch where it is installed."""
import math

import pytest

import gpugrad as gg

WRITES = {  # each writes the number into an int8, float16 or uint8 tensor of two elements
    "full": lambda L, dtype, v: L.full((2,), v, dtype=dtype),
    "full_like": lambda L, dtype, v: L.full_like(L.zeros(2, dtype=dtype), v),
    "new_full": lambda L, dtype, v: L.zeros(2, dtype=dtype).new_full((2,), v),
    "fill_": lambda L, dtype, v: L.zeros(2, dtype=dtype).fill_(v),
    "masked_fill": lambda L, dtype, v: L.zeros(2, dtype=dtype).masked_fill(
        L.tensor([True, False]), v),
    "index_fill": lambda L, dtype, v: L.zeros(2, dtype=dtype).index_fill(0, L.tensor([1]), v),
    "scatter": lambda L, dtype, v: L.zeros(2, dtype=dtype).scatter(0, L.tensor([1]), v),
    "setitem": lambda L, dtype, v: _assigned(L.zeros(2, dtype=dtype), 1, v),
    "setitem_index_array": lambda L, dtype, v: _assigned(L.zeros(2, dtype=dtype), L.tensor([1]),
                                                        v),
    "fill_diagonal_": lambda L, dtype, v: L.zeros(2, 2, dtype=dtype).fill_diagonal_(v)[0],
    "clamp_max": lambda L, dtype, v: L.zeros(2, dtype=dtype).clamp(max=v),
    "clamp_min": lambda L, dtype, v: L.zeros(2, dtype=dtype).clamp(min=v),
    "where": lambda L, dtype, v: L.where(L.tensor([True, False]), L.zeros(2, dtype=dtype), v),
    "where_number_first": lambda L, dtype, v: L.where(L.tensor([False, True]), v,
                                                      L.zeros(2, dtype=dtype)),
}
def _assigned(tensor, index, value):
    tensor[index] = value
    return tensor


# (dtype, a number it holds, one it does not): 300 into int8 was 44, 1e5 into float16 inf,
# and clamp(int8, 0, 200) clamped everything to -56
FITS = [("int8", 127, 300), ("int8", -128, -129), ("int8", 2.5, 127.9), ("float16", 65504.0, 1e5),
        ("float16", float("inf"), 70000), ("int32", 7, float("nan")), ("uint8", 255, 256),
        ("uint8", -255, -0.5)]


@pytest.mark.parametrize("write", WRITES.values(), ids=list(WRITES))
@pytest.mark.parametrize("dtype, holds, overflows", FITS)
def test_a_number_a_dtype_cannot_hold_is_refused_where_it_is_written(write, dtype, holds,
                                                                      overflows):
    dtype = getattr(gg, dtype)
    write(gg, dtype, holds)  # no error
    if _promotes_or_saturates(write, dtype, overflows):
        return
    with pytest.raises(RuntimeError, match=f"value cannot be converted to type {dtype.name} "
                                           f"without overflow: {overflows!r} does not fit"):
        write(gg, dtype, overflows)


@pytest.mark.parametrize("write", WRITES.values(), ids=list(WRITES))
@pytest.mark.parametrize("dtype, holds, overflows", FITS)
def test_refusals_match_pytorchs(write, dtype, holds, overflows, torch):
    refused = []
    for lib in (gg, torch):
        write(lib, getattr(lib, dtype), holds)
        try:
            write(lib, getattr(lib, dtype), overflows)
            refused.append(False)
        except RuntimeError as err:
            assert "without overflow" in str(err)
            refused.append(True)
    if write is WRITES["scatter"] and dtype.startswith("int") and isinstance(overflows, float):
        pytest.skip("PyTorch's scatter(value=) converts a float into an int dtype unchecked")
    assert refused[0] == refused[1]


def _promotes_or_saturates(write, dtype, number):
    """Whether writing ``number`` is no overflow at all: clamp and where with a float beside an
    integer tensor compute in float, and where and item assignment into a float dtype saturate
    to inf, as in PyTorch."""
    wheres = (WRITES["where"], WRITES["where_number_first"])
    computes = (WRITES["clamp_max"], WRITES["clamp_min"]) + wheres
    promotes = write in computes and isinstance(number, float) and not dtype.is_floating_point
    saturating = wheres + (WRITES["setitem"], WRITES["setitem_index_array"])
    saturates = write in saturating and dtype.is_floating_point
    if not (promotes or saturates):
        return False
    result = write(gg, dtype, number)
    if saturates:
        assert result.tolist()[1] == math.copysign(math.inf, number)
    else:
        assert result.dtype.is_floating_point
    return True


@pytest.mark.parametrize("write", WRITES.values(), ids=list(WRITES))
def test_unsigned_dtypes_take_negative_integers_down_to_minus_their_max_wrapping(write, device):
    if write in (WRITES["clamp_max"], WRITES["clamp_min"]):
        pytest.skip("a clamp bound is compared, not written")
    gg.set_default_device(device)
    try:
        assert 255 in write(gg, gg.uint8, -1).tolist()  # fill_ and item assignment refused it
        assert 1 in write(gg, gg.uint8, -255).tolist()
        with pytest.raises(RuntimeError, match="from 0 to 255, and integers down to -255"):
            write(gg, gg.uint8, -256)
    finally:
        gg.set_default_device("cpu")


def test_the_cuda_backend_wraps_negative_integers_into_unsigned_dtypes(fake_cuda):
    x = gg.zeros(3, dtype=gg.uint8, device="cuda")
    x.fill_(-1)
    x[0] = -2
    assert x.tolist() == [254, 255, 255]


def test_bool_takes_any_number_and_tensors_pass_unchecked():
    assert gg.full((1,), 300, dtype=gg.bool).tolist() == [True]
    assert gg.zeros(2, dtype=gg.int8).masked_fill(gg.tensor([True, False]),
                                                   gg.tensor(7, dtype=gg.int8)).tolist() == [7, 0]


@pytest.mark.parametrize("device", ["cpu", "sim"])
def test_integer_arithmetic_wraps_within_64_bits_and_refuses_larger_numbers(device):
    x = gg.tensor([1, 2], dtype=gg.int8, device=device)
    assert (x + 300).tolist() == [45, 46]  # wraps, as PyTorch's integer ops do
    with pytest.raises(OverflowError, match="does not fit in 64 bits"):
        gg.tensor([1, 2], device=device) + 2 ** 70  # (it gave [1, 2]: 2**70 wrapped to 0)
