"""Dtypes and PyTorch's type promotion: every pair of dtypes and scalar kinds against PyTorch,
the low-precision floats computing as PyTorch's CPU does, and ``dtype=`` spellings."""
import itertools

import numpy as np
import pytest

import gpugrad as gg
from gpugrad import dtypes

ALL = dtypes.ALL
NAMES = [d.name for d in ALL]
# scalar kinds: Python numbers and NumPy scalars (NumPy bool scalars count as bool, see below)
SCALARS = {"bool": True, "int": 3, "float": 2.5, "np.int8": np.int8(3), "np.int64": np.int64(3),
           "np.float16": np.float16(2.5), "np.float32": np.float32(2.5),
           "np.float64": np.float64(2.5)}
ARITHMETIC = ["add", "mul", "div", "maximum", "eq", "lt"]


def _values(dtype, shape):
    if dtype is dtypes.bool_:
        return np.ones(shape, dtype=bool)
    return np.full(shape, 2, dtype="float32")


def _gg_tensor(dtype, shape, device="cpu"):
    return gg.tensor(_values(dtype, shape), device=device).to(dtype)


def _torch_tensor(torch, dtype, shape):
    return torch.tensor(_values(dtype, shape)).to(getattr(torch, dtype.name))


def _apply(lib, op, a, b):
    if op in ("maximum",):
        b = b if hasattr(b, "dtype") and not isinstance(b, np.generic) else None
        return None if b is None else getattr(lib, op)(a, b) if lib is not gg else a.maximum(b)
    return {"add": lambda: a + b, "mul": lambda: a * b, "div": lambda: a / b,
            "eq": lambda: a == b, "lt": lambda: a < b}[op]()


def _outcome(fn):
    try:
        out = fn()
    except (RuntimeError, TypeError) as exc:
        return f"error ({type(exc).__name__})"
    return None if out is None else str(out.dtype).replace("torch.", "").replace("gpugrad.", "")


def test_promote_types_matches_torch_for_every_pair(torch):
    for a, b in itertools.product(ALL, ALL):
        expected = str(torch.promote_types(getattr(torch, a.name), getattr(torch, b.name)))
        assert f"torch.{gg.promote_types(a, b).name}" == expected, (a, b)


@pytest.mark.parametrize("op", ARITHMETIC)
def test_tensor_with_tensor_result_dtypes_match_torch(op, torch, device):
    # every pair of dtypes, each operand with dimensions or 0-d: the promotion classes
    mismatches = []
    for da, db in itertools.product(ALL, ALL):
        for sa, sb in (((2,), (2,)), ((2,), ()), ((), (2,)), ((), ())):
            if device != "cpu" and (sa, sb) != ((2,), ()):
                continue  # the rule is device-independent: sim re-checks one class pair
            ours = _outcome(lambda: _apply(gg, op, _gg_tensor(da, sa, device),
                                           _gg_tensor(db, sb, device)))
            theirs = _outcome(lambda: _apply(torch, op, _torch_tensor(torch, da, sa),
                                             _torch_tensor(torch, db, sb)))
            if ours != theirs:
                mismatches.append((da.name, sa, db.name, sb, ours, theirs))
    assert not mismatches, mismatches[:10]


@pytest.mark.parametrize("op", ["add", "mul", "div", "eq", "lt"])
def test_tensor_with_scalar_result_dtypes_match_torch(op, torch, device):
    mismatches = []
    for dtype, (kind, scalar) in itertools.product(ALL, SCALARS.items()):
        for shape in ((2,), ()):
            for reverse in (False, True):
                def run(lib, tensor):
                    return _apply(lib, op, scalar, tensor) if reverse else \
                        _apply(lib, op, tensor, scalar)
                ours = _outcome(lambda: run(gg, _gg_tensor(dtype, shape, device)))
                theirs = _outcome(lambda: run(torch, _torch_tensor(torch, dtype, shape)))
                if ours != theirs:
                    mismatches.append((dtype.name, shape, kind, reverse, ours, theirs))
    assert not mismatches, mismatches[:10]


def test_numpy_bool_scalars_count_as_bool():
    # PyTorch 2.13 reads np.bool_ as a float (int8 tensor * np.True_ is float32); gpugrad reads
    # it as the bool it is, as it reads Python's True
    x = gg.tensor([1, 2], dtype=gg.int8)
    assert (x * np.bool_(True)).dtype == gg.int8 == (x * True).dtype


def test_promotion_rules_without_torch(device):
    f32 = gg.ones(2, device=device)
    assert (f32 * np.float64(2)).dtype == gg.float32  # a float64 number does not promote
    assert (f32 * gg.tensor(2.0, dtype=gg.float64, device=device)).dtype == gg.float32
    assert (f32 * gg.ones(2, dtype=gg.float64, device=device)).dtype == gg.float64
    i64 = gg.ones(2, dtype=gg.int64, device=device)
    assert (i64 * f32).dtype == gg.float32 and (i64 / i64).dtype == gg.float32
    assert (i64 * 2.5).dtype == gg.float32 and (i64 * 2).dtype == gg.int64
    u8, i8 = gg.ones(2, dtype=gg.uint8, device=device), gg.ones(2, dtype=gg.int8, device=device)
    assert (u8 + i8).dtype == gg.int16
    assert (gg.ones(2, dtype=gg.float16, device=device) +
            gg.ones(2, dtype=gg.bfloat16, device=device)).dtype == gg.float32
    assert (i8 + 1000).tolist() == [-23, -23] and (u8 - 2).tolist() == [255, 255]  # wrap around
    assert gg.where(gg.tensor([True, False], device=device), i8, 2.5).dtype == gg.float32
    assert gg.cat([f32, i64]).dtype == gg.float32


def test_mixed_dtypes_compute_in_one_kernel_on_sim():
    gg.sim.reset("sim:0")
    a = gg.ones(1000, dtype=gg.int64, device="sim")
    b = gg.ones(1000, device="sim")
    before = gg.sim.stats("sim:0").kernels
    out = a * b
    assert out.dtype == gg.float32 and gg.sim.stats("sim:0").kernels == before + 1


def test_errors_for_unsupported_mixes(device):
    with pytest.raises(RuntimeError, match="Subtraction, the `-` operator, with two bool"):
        gg.ones(2, dtype=gg.bool, device=device) - True
    with pytest.raises(RuntimeError, match="Negation, the `-` operator, on a bool tensor"):
        -gg.ones(2, dtype=gg.bool, device=device)
    with pytest.raises(RuntimeError, match="Integers to negative integer powers"):
        gg.ones(2, dtype=gg.int64, device=device) ** -1
    with pytest.raises(RuntimeError, match="expected m1 and m2 to have the same dtype, but got: "
                                           "float32 != float64"):
        gg.ones(2, 2, device=device) @ gg.ones(2, 2, dtype=gg.float64, device=device)


def test_gradients_come_back_in_each_inputs_dtype(device):
    a = gg.ones(3, requires_grad=True, device=device)
    s = gg.tensor(2.0, dtype=gg.float64, requires_grad=True, device=device)
    h = gg.ones(3, dtype=gg.float16, requires_grad=True, device=device)
    ((a * s).sum() + (a + h).sum() + gg.where(a > 0, h, s).sum()).backward()
    assert (a.grad.dtype, s.grad.dtype, h.grad.dtype) == (gg.float32, gg.float64, gg.float16)
    assert s.grad.item() == 3.0 + 0.0 and h.grad.tolist() == [2.0, 2.0, 2.0]


# ---- float16 and bfloat16 --------------------------------------------------------------------
LOW = [gg.float16, gg.bfloat16]


@pytest.mark.parametrize("dtype", LOW, ids=str)
def test_low_precision_reductions_accumulate_in_float32(dtype, device):
    ones = gg.ones(4096, dtype=dtype, device=device)
    # a float16 accumulator stops at 2048 (2048 + 1 rounds back to 2048); float32 does not
    assert ones.sum().item() == 4096.0 and ones.sum().dtype == dtype
    assert ones.mean().item() == 1.0


@pytest.mark.parametrize("dtype", LOW, ids=str)
def test_low_precision_ops_match_torch_cpu(dtype, device, torch, rng):
    data = rng.standard_normal((16, 64)).astype(np.float32)
    other = rng.standard_normal((64, 8)).astype(np.float32)
    tdtype = getattr(torch, dtype.name)
    x, w = gg.tensor(data, device=device).to(dtype), gg.tensor(other, device=device).to(dtype)
    tx, tw = torch.tensor(data).to(tdtype), torch.tensor(other).to(tdtype)
    pairs = [(x @ w, tx @ tw), (x.sum(dim=1), tx.sum(dim=1)), (x * 3.3, tx * 3.3),
             (x / 7, tx / 7), (x.exp(), tx.exp()), (x.tanh(), tx.tanh()),
             (x.sigmoid(), tx.sigmoid()), (x.mean(), tx.mean()), (x.relu(), tx.relu())]
    for i, (ours, theirs) in enumerate(pairs):
        assert ours.dtype == dtype
        expected = theirs.float().numpy()
        got = ours.float().cpu().numpy()
        # at most one unit in the last place apart (libm differences in exp and tanh)
        ulp = np.spacing(np.abs(expected).astype(np.float16)).astype(np.float32) * \
            (1 if dtype is gg.float16 else 8)
        assert np.all(np.abs(got - expected) <= ulp + 1e-30), (i, np.max(np.abs(got - expected)))


def test_conversions_and_type_names(device):
    x = gg.tensor([1.5, -2.0], device=device)
    assert x.half().dtype == gg.float16 and x.bfloat16().dtype == gg.bfloat16
    assert x.double().dtype == gg.float64 and x.half().float().dtype == gg.float32
    assert x.long().tolist() == [1, -2] and x.int().dtype == gg.int32
    assert x.short().dtype == gg.int16 and x.char().dtype == gg.int8
    assert x.byte().dtype == gg.uint8 and x.bool().dtype == gg.bool
    place = "" if device == "cpu" else f"{device}."
    assert x.type() == f"gpugrad.{place}FloatTensor" and x.half().type().endswith("HalfTensor")
    assert x.type(gg.float64).dtype == gg.float64 and x.type("torch.HalfTensor").dtype == gg.half
    assert x.to(np.float16).dtype == gg.float16


def test_half_casts_keep_the_graph(device):
    x = gg.tensor([1.0, 2.0], requires_grad=True, device=device)
    (x.half() * 3).float().sum().backward()
    assert x.grad.tolist() == [3.0, 3.0] and x.grad.dtype == gg.float32


@pytest.mark.parametrize("spelling", [gg.float16, "float16", "half", np.float16,
                                      np.dtype("float16")], ids=str)
def test_dtype_argument_spellings(spelling):
    assert gg.zeros(2, dtype=spelling).dtype == gg.float16


def test_python_types_and_torch_dtypes_as_dtype(torch):
    assert dtypes.as_dtype(float) is gg.float64  # as torch.tensor([1], dtype=float)
    assert dtypes.as_dtype(int) is gg.int64 and dtypes.as_dtype(bool) is gg.bool
    for d in ALL:
        assert dtypes.as_dtype(getattr(torch, d.name)) is d
    with pytest.raises(TypeError, match="unsupported dtype.*gpugrad supports"):
        dtypes.as_dtype("complex64")


def test_small_and_half_numpy_arrays_keep_their_dtype():
    for name in ("uint8", "int8", "int16", "float16"):
        assert gg.tensor(np.zeros(2, dtype=name)).dtype.name == name
    import ml_dtypes

    assert gg.tensor(np.zeros(2, dtype=ml_dtypes.bfloat16)).dtype == gg.bfloat16


def test_cuda_refuses_bfloat16_clearly_before_cupy_14(fake_cuda):
    with pytest.raises(TypeError, match="bfloat16 arrays need CuPy 14 or newer"):
        gg.ones(2, dtype=gg.bfloat16, device="cuda")
    with pytest.raises(TypeError, match="bfloat16 arrays need CuPy 14 or newer"):
        gg.ones(2, dtype=gg.bfloat16).to("cuda")
