"""float16 and bfloat16 on the cuda device, without a GPU: the fused kernels' 16-bit variants
(kernels/bias_act.cu, kernels/softmax_cross_entropy.cu) on the CUDA kernel emulator against a
float32 NumPy reference, the conversions of kernels/low_precision.cuh bit for bit against NumPy's
and ml_dtypes', bfloat16's feature detection, and the TF32 switch of float32 matmuls (on the
fake CuPy, whose matmul follows CuPy's GEMM compute types: tests/support/fake_cupy_gemm.py).
"""
import sys

import ml_dtypes
import numpy as np
import pytest

import gpugrad as gg
from gpugrad import defaults
from support import fake_cupy
from support.fake_cupy_gemm import COMPUTE_TYPE_DEFAULT, COMPUTE_TYPE_TF32, tf32

BF16 = np.dtype(ml_dtypes.bfloat16)
F16 = np.dtype(np.float16)
LOW = [F16, BF16]
EPS = {F16: 2.0 ** -10, BF16: 2.0 ** -7}  # one unit in the last place at 1.0
SUBNORMAL_STEP = {F16: 2.0 ** -24, BF16: 2.0 ** -133}  # the spacing of the smallest values
# (rows, cols): one-element rows (cols not a multiple of 8), packed rows, one slab and many
SHAPES = [(0, 4), (1, 1), (7, 10), (64, 128), (513, 1000), (512, 4096), (9, 1030)]
ACTS = ["identity", "relu", "tanh", "sigmoid"]


@pytest.fixture(scope="module")
def be():
    """The cuda backend on the fake CuPy posing as CuPy 14 (so with bfloat16), its kernels on
    the emulator."""
    from gpugrad.backends.cuda import backend as cuda_backend

    reason = fake_cupy.kernels_unavailable_reason()
    if reason:
        pytest.skip(reason)
    fake_cupy.compile_kernels([cuda_backend.kernel_source(gg.cuda.kernel_dir(), name)
                               for name in ("bias_act.cu", "softmax_cross_entropy.cu")],
                              options=("--std=c++17",))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fake_cupy.FakeCupy, "__version__", "14.2.0")
        _, backend = fake_cupy.install(patch)
        yield backend


def dev(be, a, offset=0):
    """``a`` on the device; with ``offset``, a view that many elements into a buffer (not
    16-byte aligned: the kernels' one-element paths)."""
    a = np.asarray(a)
    if not offset:
        return be.from_host(a)
    padded = be.from_host(np.concatenate([np.zeros(offset, a.dtype), a.ravel()]))
    return be.reshape(be.getitem(padded, (slice(offset, None),)), a.shape)


def f32(a):
    return np.asarray(a).astype(np.float32)


def within_ulps(got, want, dtype, ulps=1, atol=0.0):
    """``got`` (of ``dtype``) within ``ulps`` units in the last place of ``want`` (float), or of
    the subnormal spacing for tiny values."""
    got, want = f32(got).astype(np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=ulps * EPS[dtype],
                               atol=max(atol, ulps * SUBNORMAL_STEP[dtype]))


def _act_forward(v, act):
    if act == "relu":
        return np.where(v < 0, np.float32(0), v)
    if act == "tanh":
        return np.tanh(v)
    if act == "sigmoid":
        return (np.tanh(v * np.float32(0.5)) + np.float32(1)) * np.float32(0.5)
    return v


def _act_grad(g, o, act):
    if act == "relu":
        return g * (o > 0).astype(np.float32)
    if act == "tanh":
        return g * (np.float32(1) - o * o)
    if act == "sigmoid":
        return g * (o * (np.float32(1) - o))
    return g


# ---- the conversions ------------------------------------------------------------------------
_CONVERT = r"""
#include "low_precision.cuh"
extern "C" {
__global__ void round_half(const float* x, unsigned short* out, long long n) {
    for (long long i = 0; i < n; ++i) out[i] = float_to_half(x[i]);
}
__global__ void widen_half(const unsigned short* x, float* out, long long n) {
    for (long long i = 0; i < n; ++i) out[i] = half_to_float(x[i]);
}
__global__ void round_bf16(const float* x, unsigned short* out, long long n) {
    for (long long i = 0; i < n; ++i) out[i] = float_to_bf16(x[i]);
}
__global__ void widen_bf16(const unsigned short* x, float* out, long long n) {
    for (long long i = 0; i < n; ++i) out[i] = bf16_to_float(x[i]);
}
}
"""


def test_conversions_round_to_nearest_even_bit_for_bit(rng):
    """Every 16-bit pattern widens exactly; floats round as NumPy and ml_dtypes round them:
    ties to even, overflow to inf, subnormals, signed zeros; NaN stays NaN."""
    if fake_cupy.kernels_unavailable_reason():
        pytest.skip(fake_cupy.kernels_unavailable_reason())
    cupy = fake_cupy.FakeCupy()
    module = cupy.RawModule(code=_CONVERT, options=("-I", gg.cuda.kernel_dir()))
    every = np.arange(2 ** 16, dtype=np.uint16)
    bits = rng.integers(0, 2 ** 32, 200000, dtype=np.uint64).astype(np.uint32)
    near_ties = np.concatenate([(np.arange(-4, 5, dtype=np.int64) + t) for t in
                                (0x1000, 0x3000, 0x8000, 0x18000)]).astype(np.uint32)
    with np.errstate(over="ignore"):
        scaled = (every.astype(np.float16).astype(np.float32)[:, None] *
                  np.float32([1, 1 + 2 ** -11, 1 - 2 ** -12, 1 + 2 ** -12])).ravel()
    floats = np.concatenate([
        bits.view(np.float32),
        (every.astype(np.uint32) << 16 | near_ties[:, None] % 0x10000).ravel().view(np.float32),
        scaled,
        np.float32([0.0, -0.0, np.inf, -np.inf, 65504, 65519.99, 65520, 2 ** -25, 2 ** -24,
                    3 * 2 ** -26, 2 ** -14, 1e-45, 3.4e38])])
    n = len(floats)
    for name, dtype in (("half", F16), ("bf16", BF16)):
        out = cupy.empty(n, np.uint16)
        module.get_function(f"round_{name}")((1,), (1,), (cupy.asarray(floats), out, n))
        got = np.asarray(out).view(dtype).astype(np.float32)
        with np.errstate(over="ignore", invalid="ignore"):
            want = floats.astype(dtype).astype(np.float32)
        nan = np.isnan(want)
        np.testing.assert_array_equal(np.isnan(got), nan)
        np.testing.assert_array_equal(got[~nan].view(np.uint32), want[~nan].view(np.uint32))
        widened = cupy.empty(len(every), np.float32)
        module.get_function(f"widen_{name}")((1,), (1,), (cupy.asarray(every), widened,
                                                         len(every)))
        want = every.view(dtype).astype(np.float32)
        nan = np.isnan(want)
        np.testing.assert_array_equal(np.isnan(np.asarray(widened)), nan)
        np.testing.assert_array_equal(np.asarray(widened)[~nan].view(np.uint32),
                                      want[~nan].view(np.uint32))


# ---- the fused kernels --------------------------------------------------------------------
@pytest.mark.parametrize("dtype", LOW, ids=str)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("act", ACTS)
def test_bias_act_low_precision_matches_float32_reference(be, rng, dtype, shape, act):
    """Loaded in 16 bits, computed in float32, rounded once: identity and relu bit for bit,
    tanh and sigmoid within one unit (the device's tanhf may differ from NumPy's by one float32
    ulp); the misaligned one-element path gives the same bits as the 16-byte one."""
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    bias = rng.standard_normal(shape[1]).astype(dtype)
    want = _act_forward(f32(x) + f32(bias), act)
    out = be.bias_act(dev(be, x), dev(be, bias), act)
    assert out.dtype == dtype
    got = be.to_host(out)
    if act in ("identity", "relu"):
        np.testing.assert_array_equal(f32(got), f32(want.astype(dtype)))
    else:  # (tanh(v / 2) + 1) / 2 near 0 keeps tanh's float32 error near -1 as an absolute one
        within_ulps(got, want, dtype, atol=2.0 ** -23)
    if x.size:
        shifted = be.bias_act(dev(be, x, 1), dev(be, bias, 1), act)
        np.testing.assert_array_equal(f32(be.to_host(shifted)), f32(got))
    grad = rng.standard_normal(shape).astype(dtype)
    want_grad = _act_grad(f32(grad), f32(got), act)
    got_grad = be.to_host(be.bias_act_backward(dev(be, grad), out, act))
    assert got_grad.dtype == dtype
    within_ulps(got_grad, want_grad, dtype)


@pytest.mark.parametrize("dtype", LOW, ids=str)
@pytest.mark.parametrize("shape", SHAPES + [(3, 0), (2000, 8)], ids=str)
@pytest.mark.parametrize("act", ["relu", "sigmoid"])
def test_bias_act_grads_low_precision_sum_in_float32(be, rng, dtype, shape, act):
    """grad_x as bias_act_backward stores it; the bias gradient is the float32 sum of those
    stored values, rounded once (so within one unit of their exact sum), for one slab and
    many, on the vector and one-element paths alike."""
    out = _act_forward(rng.standard_normal(shape).astype(np.float32), act).astype(dtype)
    grad = rng.standard_normal(shape).astype(dtype)
    got_x, got_bias = be.bias_act_grads(dev(be, grad), dev(be, out), act)
    assert got_x.dtype == got_bias.dtype == dtype and got_bias.shape == (shape[1],)
    got_x = be.to_host(got_x)
    np.testing.assert_array_equal(f32(got_x), f32(be.to_host(
        be.bias_act_backward(dev(be, grad), dev(be, out), act))))
    exact = f32(got_x).astype(np.float64).sum(axis=0)
    scale = np.abs(f32(got_x)).astype(np.float64).sum(axis=0)
    np.testing.assert_allclose(f32(be.to_host(got_bias)), exact,
                               rtol=EPS[dtype], atol=1e-5 * scale.max(initial=0) + 1e-30)
    if grad.size:
        shifted_x, shifted_bias = be.bias_act_grads(dev(be, grad, 1), dev(be, out, 1), act)
        np.testing.assert_array_equal(f32(be.to_host(shifted_x)), f32(got_x))
        np.testing.assert_array_equal(f32(be.to_host(shifted_bias)), f32(be.to_host(got_bias)))


@pytest.mark.parametrize("dtype", LOW, ids=str)
@pytest.mark.parametrize("shape", [(1, 1), (7, 10), (64, 128), (3, 1025), (5, 5000)], ids=str)
def test_softmax_cross_entropy_low_precision(be, rng, dtype, shape):
    """Losses and gradients computed in float32 (lse in float64) from the 16-bit logits and
    rounded once; ignored rows give 0 and are not counted; a mean's count is read on the device."""
    rows, cols = shape
    logits = (rng.standard_normal(shape) * 4).astype(dtype)
    target = np.where(rng.random(rows) < 0.25, -100, rng.integers(0, cols, rows))
    target[0] = 0  # at least one counted row
    wide = f32(logits).astype(np.float64)
    lse = np.log(np.exp(wide - wide.max(1, keepdims=True)).sum(1)) + wide.max(1)
    counted = target != -100
    want_loss = np.where(counted, lse - wide[np.arange(rows), np.where(counted, target, 0)], 0)
    out, got_lse = be.softmax_cross_entropy(dev(be, logits), dev(be, target))
    assert out.dtype == dtype
    out = be.to_host(out)
    within_ulps(out[0], want_loss, dtype, atol=1e-6)
    np.testing.assert_array_equal(f32(out[1]), counted.astype(np.float32))
    np.testing.assert_allclose(np.where(counted, be.to_host(got_lse), 0),
                               np.where(counted, lse, 0), rtol=1e-6)
    grad_rows = rng.standard_normal(rows).astype(dtype)
    want = np.exp(wide - lse[:, None])
    want[np.arange(rows), target.clip(0)] -= counted
    want = np.where(counted[:, None], want * f32(grad_rows)[:, None], 0)
    got = be.to_host(be.softmax_cross_entropy_backward(dev(be, logits), dev(be, target),
                                                       got_lse, dev(be, grad_rows)))
    assert got.dtype == dtype
    within_ulps(got, want, dtype, atol=EPS[dtype] * 1e-3)
    count = be.from_host(np.array(counted.sum(), dtype))
    mean_grad = be.broadcast_to(be.from_host(np.ones((), dtype)), (rows,))
    got = be.to_host(be.softmax_cross_entropy_backward(dev(be, logits), dev(be, target),
                                                       got_lse, mean_grad, divisor=count))
    within_ulps(got, np.where(counted[:, None], want / f32(grad_rows)[:, None], 0) /
                f32(count.astype(np.float32)), dtype, ulps=2, atol=EPS[dtype] * 1e-3)


# ---- bfloat16 detection, dispatch, TF32 ------------------------------------------------------
def test_bfloat16_needs_cupy_14_with_ml_dtypes(monkeypatch):
    from gpugrad.backends.cuda import precision

    # restored afterwards: the module's backend (posing as CuPy 14) keeps its bfloat16
    monkeypatch.setitem(precision.bfloat16_refusal, "reason",
                        precision.bfloat16_refusal["reason"])
    monkeypatch.setattr(fake_cupy.FakeCupy, "__version__", "0.0+fake")
    _, be = fake_cupy.install(monkeypatch)
    with pytest.raises(TypeError, match=r"CuPy 14 or newer .* this is CuPy 0\.0\+fake"):
        be.full((2,), 0, gg.bfloat16)
    with pytest.raises(TypeError, match="float16 or float32 on cuda"):
        be.from_host(np.zeros(2, BF16))
    assert be.full((2,), 0, gg.float16).dtype == F16
    cupy_14 = type("Cupy14", (), {"__version__": "14.2.0"})
    assert precision.bfloat16_unsupported_reason(cupy_14) is None
    monkeypatch.setitem(sys.modules, "ml_dtypes", None)  # as if not installed
    assert "pip install ml_dtypes" in precision.bfloat16_unsupported_reason(cupy_14)


def test_bfloat16_arrays_and_gemms_on_cupy_14(be):
    a = be.from_host(np.arange(6, dtype=np.float32).reshape(2, 3).astype(BF16))
    assert a.dtype == BF16 and be.dtype(a) is gg.bfloat16
    b = be.cast(be.full((3, 2), 0.5, gg.float32), gg.bfloat16)
    product = be.matmul(a, b)  # tensor cores, float32 accumulation, one rounding
    assert product.dtype == BF16
    np.testing.assert_array_equal(f32(be.to_host(product)), [[1.5, 1.5], [6.0, 6.0]])
    assert be.full((2,), 1, gg.bfloat16).dtype == BF16
    assert be.unary("sigmoid", a).dtype == BF16


def test_matmul_follows_allow_tf32(be, rng, monkeypatch):
    """``gg.backends.cuda.matmul.allow_tf32`` switches CuPy's float32 compute type (once per
    change, not per call); float32 GEMMs then read their inputs as TF32."""
    from gpugrad.backends import cuda

    from gpugrad.backends.cuda import runtime

    monkeypatch.setattr(defaults, "_float32_matmul_precision", "highest")  # restored after
    settings = runtime.cupy._core._routines_linalg
    a = (rng.standard_normal((8, 16)) * 1.001).astype(np.float32)
    b = rng.standard_normal((16, 4)).astype(np.float32)
    exact = np.matmul(a, b)
    assert not np.array_equal(np.matmul(tf32(a), tf32(b)), exact)  # the test can tell them apart
    np.testing.assert_array_equal(be.to_host(be.matmul(dev(be, a), dev(be, b))), exact)
    assert settings.get_compute_type(np.float32) == COMPUTE_TYPE_DEFAULT
    cuda.matmul.allow_tf32 = True
    calls = len(settings.calls)
    for _ in range(3):
        got = be.to_host(be.matmul(dev(be, a), dev(be, b)))
    np.testing.assert_array_equal(got, np.matmul(tf32(a), tf32(b)))
    assert settings.calls[calls:] == [(np.dtype(np.float32), COMPUTE_TYPE_TF32)]
    cuda.matmul.allow_tf32 = False
    np.testing.assert_array_equal(be.to_host(be.matmul(dev(be, a), dev(be, b))), exact)
    assert settings.calls[-1] == (np.dtype(np.float32), COMPUTE_TYPE_DEFAULT)


def test_fused_kernels_have_16_bit_variants_and_the_others_refuse_them(be):
    from gpugrad.backends.cuda.fused import FUSED_SUFFIX

    assert FUSED_SUFFIX[F16] == "f16" and FUSED_SUFFIX[BF16] == "bf16"
    half = be.full((2, 3), 1.0, gg.float16)
    with pytest.raises(TypeError, match="only float32 and float64 parameters"):
        be.sgd_step([half], [half], [None], 0.1, 0.0, 0.0, 0.0, False)
