"""Integer ``a ** b`` as PyTorch computes it (gpugrad/ops/integer_power.py): negative integer
exponents in a tensor, number exponents that are negative or overflow the dtype, on every
device."""
import pytest

import gpugrad as gg

torch = pytest.importorskip("torch", reason="these tests compare with PyTorch")

DEVICES = ["cpu", "sim"]

BASES = [0, 1, -1, -1, 2, -2, 3, 7, -5]
EXPONENTS = [-1, -5, -3, -2, -2, -1, 0, 2, 3]


def _same(ours, theirs):
    assert ours.tolist() == theirs.tolist()
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "int64"])
def test_tensor_exponents_below_zero_give_pytorchs_values(device, dtype):
    a = gg.tensor(BASES, dtype=getattr(gg, dtype), device=device)
    b = gg.tensor(EXPONENTS, dtype=getattr(gg, dtype), device=device)
    ta = torch.tensor(BASES, dtype=getattr(torch, dtype))
    tb = torch.tensor(EXPONENTS, dtype=getattr(torch, dtype))
    _same(a ** b, ta ** tb)
    _same(a.pow(b), ta.pow(tb))


@pytest.mark.parametrize("device", DEVICES)
def test_the_dtypes_minimum_as_an_exponent(device):
    # -(-128) does not fit int8: the parity (even) is what a base of -1 needs
    a = gg.tensor([-1, -1, 1, 2, 0], dtype=gg.int8, device=device)
    b = gg.tensor([-128, -127, -128, -128, -128], dtype=gg.int8, device=device)
    _same(a ** b, torch.tensor([-1, -1, 1, 2, 0], dtype=torch.int8) **
          torch.tensor([-128, -127, -128, -128, -128], dtype=torch.int8))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("base", [2, 1, -1, 0, -3])
def test_a_number_base_to_tensor_exponents(device, base):
    b = gg.tensor([-2, -1, 0, 3], device=device)
    _same(base ** b, base ** torch.tensor([-2, -1, 0, 3]))


@pytest.mark.parametrize("device", DEVICES)
def test_mixed_integer_dtypes_promote_as_pytorch(device):
    _same(gg.tensor([2, 1], dtype=gg.uint8, device=device) ** gg.tensor([-1, -3], device=device),
          torch.tensor([2, 1], dtype=torch.uint8) ** torch.tensor([-1, -3]))
    _same(gg.tensor([2, -1], dtype=gg.int16, device=device) **
          gg.tensor([-1, -3], dtype=gg.int8, device=device),
          torch.tensor([2, -1], dtype=torch.int16) ** torch.tensor([-1, -3], dtype=torch.int8))


@pytest.mark.parametrize("device", DEVICES)
def test_broadcast_exponents(device):
    a = gg.tensor([[2], [-1], [1]], device=device)
    b = gg.tensor([-2, -1, 2], device=device)
    _same(a ** b, torch.tensor([[2], [-1], [1]]) ** torch.tensor([-2, -1, 2]))


@pytest.mark.parametrize("device", DEVICES)
def test_in_place_power_writes_pytorchs_values(device):
    x = gg.tensor([2, 1, -1, 3], device=device)
    x **= gg.tensor([-1, -4, -3, 2], device=device)
    t = torch.tensor([2, 1, -1, 3])
    t **= torch.tensor([-1, -4, -3, 2])
    _same(x, t)


@pytest.mark.parametrize("device", DEVICES)
def test_float_and_unsigned_exponents_keep_the_plain_path(device):
    _same(gg.tensor([2.0, 4.0], device=device) ** gg.tensor([-1, -2], device=device),
          torch.tensor([2.0, 4.0]) ** torch.tensor([-1, -2]))
    _same(gg.tensor([2, 3], device=device) ** gg.tensor([3, 2], dtype=gg.uint8, device=device),
          torch.tensor([2, 3]) ** torch.tensor([3, 2], dtype=torch.uint8))
    _same(gg.tensor([2, 3], device=device) ** 2, torch.tensor([2, 3]) ** 2)
    _same(gg.tensor([2, 3], device=device) ** 0, torch.tensor([2, 3]) ** 0)


def _torch_error(fn):
    with pytest.raises(RuntimeError) as err:
        fn()
    return str(err.value)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype, exponent", [("int8", 128), ("uint8", 256), ("int16", 32768),
                                             ("int32", 2 ** 31)])
def test_number_exponents_that_overflow_the_dtype_raise_pytorchs_error(device, dtype, exponent):
    text = _torch_error(lambda: torch.tensor([2], dtype=getattr(torch, dtype)) ** exponent)
    assert text.startswith("value cannot be converted to type ")
    with pytest.raises(RuntimeError) as err:
        gg.tensor([2], dtype=getattr(gg, dtype), device=device) ** exponent
    assert str(err.value) == text


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype, exponent", [("int8", 127), ("uint8", 255), ("int16", 32767)])
def test_the_largest_exponent_that_fits_is_computed(device, dtype, exponent):
    ours = gg.tensor([1, 0], dtype=getattr(gg, dtype), device=device) ** exponent
    _same(ours, torch.tensor([1, 0], dtype=getattr(torch, dtype)) ** exponent)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", ["uint8", "int8", "int64"])
def test_negative_number_exponents_are_refused_before_any_wrap(device, dtype):
    text = _torch_error(lambda: torch.tensor([2], dtype=getattr(torch, dtype)) ** -1)
    with pytest.raises(RuntimeError) as err:
        gg.tensor([2], dtype=getattr(gg, dtype), device=device) ** -1
    assert str(err.value) == "pow: " + text


def test_the_sim_models_the_kernels_of_an_integer_power():
    a, b = gg.tensor([2, -1], device="sim"), gg.tensor([-1, -3], device="sim")
    gg.sim.reset("sim")
    a ** b
    # lt, sub, where, lt, where (|b|), pow, eq, eq, logical_or, eq, logical_and, where
    assert gg.sim.stats("sim").kernels == 12
