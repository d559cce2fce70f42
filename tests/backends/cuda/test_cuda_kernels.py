"""The cuda backend's fused kernels (kernels/*.cu) and the host code that launches them, against the
NumPy reference on random data, run twice:

- ``gpu``: the real backend on a real GPU (marked ``cuda``; skipped, with the reason, without one);
- ``emulated``: the same ``CupyBackend`` on the tests' fake CuPy (tests/support/fake_cupy.py),
  whose ``RawModule`` compiles the kernels for the CPU (tests/support/cuda_emulator; skipped
  without a C++ compiler), so CI checks launch shapes, argument lists and kernel logic without a
  GPU.

Shapes reach every launch shape and code path: one warp per row and several, 1024-thread rows,
grid-stride loops, optimizer tensors spanning several blocks, empty tensors, and both the 16-byte
vector paths (fresh, aligned arrays whose sizes are multiples of 16 bytes) and the one-element
paths (odd sizes, and views that start one element into a buffer).
"""

import numpy as np
import pytest

from support import fake_cupy
from gpugrad.backends.cpu import numpy_ops as ref

TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-12, atol=1e-13)}
DTYPES = [np.float32, np.float64]
BIG = (600000, 3)  # more rows than bias_act's grid holds in one pass (65535 blocks of 8 rows)
# (rows, cols) reaching each launch shape: narrow and wide rows, one warp per row and several
SHAPES = [(0, 4), (1, 1), (7, 10), (64, 128), (513, 1000), (3, 1025), (5, 5000), (2, 20000), BIG]
# The emulator runs a row kernel's threads as fibers (a dozen switches per thread: BIG would take
# ~35 s per case): fewer rows there, still enough for many blocks. bias_act's threads run as
# plain calls, but BIG still takes ~0.5 s per case there, so its grid-stride loop (the same code
# for every activation and dtype) is checked on one.
EMULATED_ROW_SHAPE = {BIG: (6000, 3)}
EMULATED_BIG_BIAS_ACT = ("relu", np.float32)


@pytest.fixture(scope="module", params=[pytest.param("gpu", marks=pytest.mark.cuda),
                                        "emulated"])
def backend_kind(request):
    return request.param


@pytest.fixture(scope="module")
def be(backend_kind):
    from gpugrad.backends.cuda import backend as cuda_backend

    yield from fake_cupy.kernel_backend(backend_kind,
                                        sorted(set(cuda_backend._KERNEL_FILES.values())))


def dev(be, a, offset=0):
    """``a`` on the device; with ``offset``, a view starting ``offset`` elements into a buffer
    (so not 16-byte aligned: the kernels' one-element paths)."""
    a = np.asarray(a)
    if not offset:
        return be.from_host(a)
    padded = be.from_host(np.concatenate([np.zeros(offset, a.dtype), a.ravel()]))
    return be.reshape(be.getitem(padded, (slice(offset, None),)), a.shape)


def close(got, want, dtype):
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("act", ["identity", "relu", "tanh", "sigmoid"])
def test_bias_act_matches_reference(be, backend_kind, rng, dtype, shape, act):
    if backend_kind == "emulated" and shape == BIG and (act, dtype) != EMULATED_BIG_BIAS_ACT:
        pytest.skip("on the emulator the grid-stride rows of BIG run for relu/float32 only")
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    bias = rng.standard_normal(shape[1]).astype(dtype)
    out = be.bias_act(dev(be, x), dev(be, bias), act)
    want = ref.bias_act_numpy(x, bias, act)
    close(be.to_host(out), want, dtype)
    grad = rng.standard_normal(shape).astype(dtype)
    got = be.bias_act_backward(dev(be, grad), out, act)
    close(be.to_host(got), ref.bias_act_backward_numpy(grad, want, act), dtype)


# (rows, cols) for bias_act_grads: one slab and many, a last slab shorter than the others,
# more slabs than bias_grad_sum's block, packed and one-element rows, empty
GRAD_SHAPES = [(0, 4), (3, 0), (1, 1), (5, 8), (7, 10), (64, 128), (513, 1000), (512, 4096),
               (2000, 3), (9, 1030)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", GRAD_SHAPES, ids=str)
@pytest.mark.parametrize("act", ["identity", "relu", "tanh", "sigmoid"])
def test_bias_act_grads_match_reference(be, rng, dtype, shape, act):
    from gpugrad.backends.launch_plans import bias_grad_slabs

    out = ref.bias_act_numpy(rng.standard_normal(shape).astype(dtype), np.zeros(shape[1], dtype),
                             act)
    grad = rng.standard_normal(shape).astype(dtype)
    want_x, want_bias = ref.bias_act_grads_numpy(grad, out, act)
    got_x, got_bias = be.bias_act_grads(dev(be, grad), dev(be, out), act)
    close(be.to_host(got_x), want_x, dtype)
    # a column sum of up to 4096 values: float32 rounding grows with the count
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else TOL[dtype]
    np.testing.assert_allclose(be.to_host(got_bias), want_bias, **tol)
    assert be.to_host(got_bias).shape == (shape[1],)
    # the one-element path (views one element into a buffer) adds in the same order: same bits
    if shape[0] and shape[1]:
        shifted_x, shifted_bias = be.bias_act_grads(dev(be, grad, 1), dev(be, out, 1), act)
        np.testing.assert_array_equal(be.to_host(shifted_x), be.to_host(got_x))
        np.testing.assert_array_equal(be.to_host(shifted_bias), be.to_host(got_bias))
        itemsize = np.dtype(dtype).itemsize
        assert bias_grad_slabs(*shape, itemsize)[2:] == bias_grad_slabs(*shape, itemsize,
                                                                        aligned=False)[2:]


def test_bias_grad_slabs_plan():
    from gpugrad.backends.launch_plans import bias_grad_slabs

    packed, blocks_x, slabs, rows_per_slab = bias_grad_slabs(512, 4096, 4)
    assert packed and blocks_x == 32 and rows_per_slab % 8 == 0
    assert slabs * rows_per_slab >= 512 > (slabs - 1) * rows_per_slab and blocks_x * slabs >= 512
    assert bias_grad_slabs(512, 4095, 4)[:2] == (False, 128)  # rows not of whole 16 bytes
    assert bias_grad_slabs(5, 8, 4)[2:] == (1, 8)  # few rows: one slab, no second kernel
    _, _, slabs, rows_per_slab = bias_grad_slabs(10**7, 1, 8)
    assert slabs <= 65535 and slabs * rows_per_slab >= 10**7  # grid.y's limit


def test_bias_act_relu_keeps_nan_and_takes_views(be):
    x = np.array([[np.nan, -1.0, 2.0], [0.5, -0.5, 3.0]], np.float32)
    bias = np.zeros(3, np.float32)
    out = be.to_host(be.bias_act(dev(be, x).T.copy().T, dev(be, bias), "relu"))
    np.testing.assert_array_equal(out, ref.bias_act_numpy(x, bias, "relu"))
    # a broadcast gradient (stride 0), as the backward of sum() produces
    grad = be.broadcast_to(be.from_host(np.float32(2.0)), x.shape)
    out = np.array([[np.nan, 1.0, 0.0], [0.5, -0.0, 3.0]], np.float32)
    got = be.to_host(be.bias_act_backward(grad, dev(be, out), "relu"))
    # PyTorch's threshold_backward: 0 where out <= 0, and a NaN output passes the gradient
    np.testing.assert_array_equal(got, [[2, 2, 0], [2, 0, 2]])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(33, 64), (4, 1030)], ids=str)
def test_bias_act_misaligned_views_give_the_aligned_bits(be, rng, dtype, shape):
    """Views one element into a buffer take the one-element path; a bias_act of whole 16-byte
    rows on fresh arrays takes the vector path; both give the same bits."""
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    bias = rng.standard_normal(shape[1]).astype(dtype)
    grad = rng.standard_normal(shape).astype(dtype)
    for act in ("relu", "sigmoid"):
        aligned = be.bias_act(dev(be, x), dev(be, bias), act)
        shifted = be.bias_act(dev(be, x, 1), dev(be, bias, 1), act)
        np.testing.assert_array_equal(be.to_host(shifted), be.to_host(aligned))
        close(be.to_host(aligned), ref.bias_act_numpy(x, bias, act), dtype)
        want = be.to_host(be.bias_act_backward(dev(be, grad), aligned, act))
        for g_offset, o_offset in ((1, 1), (0, 1), (1, 0)):
            got = be.bias_act_backward(dev(be, grad, g_offset), dev(be, be.to_host(aligned),
                                                                     o_offset), act)
            np.testing.assert_array_equal(be.to_host(got), want)


def _ce_targets(rng, rows, cols, ignore_index=-100):
    """Random classes with about a quarter of the rows set to ``ignore_index``."""
    return np.where(rng.random(rows) < 0.25, ignore_index, rng.integers(0, cols, rows))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_softmax_cross_entropy_matches_reference(be, backend_kind, rng, dtype, shape):
    if backend_kind == "emulated":
        shape = EMULATED_ROW_SHAPE.get(shape, shape)
    rows, cols = shape
    logits = (rng.standard_normal(shape) * 4).astype(dtype)
    target = _ce_targets(rng, rows, cols)
    out, lse = be.softmax_cross_entropy(dev(be, logits), dev(be, target))
    want_out, want_lse = ref.softmax_cross_entropy_numpy(logits, target)
    close(be.to_host(out), want_out, dtype)  # losses (0 where ignored) and counted-row flags
    counted = target != -100
    close(be.to_host(lse)[counted], want_lse[counted], dtype)  # any value on ignored rows
    grad_rows = rng.standard_normal(rows).astype(dtype)
    got = be.softmax_cross_entropy_backward(dev(be, logits), dev(be, target), lse,
                                            dev(be, grad_rows))
    want = ref.softmax_cross_entropy_backward_numpy(logits, target, want_lse, grad_rows)
    close(be.to_host(got), want, dtype)


@pytest.mark.parametrize("ignore_index", [-100, 0, 3])
def test_softmax_cross_entropy_ignore_index_values(be, rng, ignore_index):
    """Any ignore_index (also a valid class): its rows get loss 0, flag 0, gradient rows 0."""
    logits = (rng.standard_normal((9, 6)) * 3).astype(np.float64)
    target = _ce_targets(rng, 9, 6, ignore_index)
    target[:2] = ignore_index, 5
    out, lse = be.softmax_cross_entropy(dev(be, logits), dev(be, target), ignore_index)
    want_out, want_lse = ref.softmax_cross_entropy_numpy(logits, target, ignore_index)
    close(be.to_host(out), want_out, np.float64)
    got = be.softmax_cross_entropy_backward(dev(be, logits), dev(be, target), lse,
                                            dev(be, np.ones(9)), ignore_index=ignore_index)
    want = ref.softmax_cross_entropy_backward_numpy(logits, target, want_lse, np.ones(9),
                                                    ignore_index=ignore_index)
    close(be.to_host(got), want, np.float64)
    assert not be.to_host(got)[target == ignore_index].any()


def test_softmax_cross_entropy_large_logits_and_strided_inputs(be, rng):
    logits = (rng.standard_normal((33, 17)) * 1e4).astype(np.float32)
    every_other = _ce_targets(rng, 66, 17)
    target = every_other[::2]
    target_view = be.getitem(dev(be, every_other), (slice(None, None, 2),))  # stride 2
    want_out, want_lse = ref.softmax_cross_entropy_numpy(logits, target)
    out, lse = be.softmax_cross_entropy(dev(be, logits), target_view)
    np.testing.assert_allclose(be.to_host(out), want_out, rtol=1e-5, atol=1e-3)
    mean_grad = be.broadcast_to(be.from_host(np.float32(1 / 33)), (33,))  # stride 0, as mean's
    got = be.softmax_cross_entropy_backward(dev(be, logits), target_view, lse, mean_grad)
    want = ref.softmax_cross_entropy_backward_numpy(logits, target, want_lse,
                                                    np.full(33, 1 / 33, np.float32))
    np.testing.assert_allclose(be.to_host(got), want, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_cross_entropy_backward_of_the_mean(be, rng, dtype):
    """The mean's backward: one gradient value (a 0-d array, stride 0) divided by the count of
    rows not ignored, which the kernel reads from device memory (or by a number)."""
    logits = (rng.standard_normal((37, 300)) * 4).astype(dtype)
    target = _ce_targets(rng, 37, 300)
    out, lse = be.softmax_cross_entropy(dev(be, logits, 1), dev(be, target, 1))
    _, want_lse = ref.softmax_cross_entropy_numpy(logits, target)
    count = be.getitem(be.reduce("sum", out, axis=1), (1,))  # as the op takes the count
    assert be.to_host(count) == (target != -100).sum()
    one = np.asarray(0.75, dtype)
    got = be.softmax_cross_entropy_backward(dev(be, logits, 1), dev(be, target), lse,
                                            be.from_host(one), divisor=count)
    want = ref.softmax_cross_entropy_backward_numpy(logits, target, want_lse, one,
                                                    divisor=(target != -100).sum())
    close(be.to_host(got), want, dtype)
    rows = rng.standard_normal(37).astype(dtype)
    got = be.softmax_cross_entropy_backward(dev(be, logits), dev(be, target), lse,
                                            dev(be, rows), divisor=3)
    close(be.to_host(got), ref.softmax_cross_entropy_backward_numpy(logits, target, want_lse,
                                                                    rows, divisor=3), dtype)


def test_softmax_cross_entropy_every_row_ignored(be):
    """A zero count: the mean's backward divides by 0 only on rows it then zeroes."""
    logits = np.arange(6.0).reshape(2, 3)
    out, lse = be.softmax_cross_entropy(dev(be, logits), dev(be, np.array([-100, -100])))
    np.testing.assert_array_equal(be.to_host(out), np.zeros((2, 2)))
    count = be.getitem(be.reduce("sum", out, axis=1), (1,))
    got = be.softmax_cross_entropy_backward(dev(be, logits), dev(be, np.array([-100, -100])),
                                            lse, be.from_host(np.asarray(1.0)), divisor=count)
    np.testing.assert_array_equal(be.to_host(got), np.zeros((2, 3)))


def test_cross_entropy_bad_target_gives_nan(be):
    """A class outside [0, C) that is not ignore_index: a NaN loss row (counted, so a mean is
    NaN) and a NaN gradient row; a kernel cannot raise."""
    logits, target = np.zeros((3, 3), np.float32), np.array([1, 7, -100])
    out, lse = be.softmax_cross_entropy(dev(be, logits), dev(be, target))
    got = be.to_host(out)
    assert np.isfinite(got[0, 0]) and np.isnan(got[0, 1]) and got[0, 2] == 0
    np.testing.assert_array_equal(got[1], [1, 1, 0])
    grad = be.to_host(be.softmax_cross_entropy_backward(
        dev(be, logits), dev(be, target), lse, dev(be, np.ones(3, np.float32))))
    assert np.isfinite(grad[0]).all() and np.isnan(grad[1]).all() and not grad[2].any()


# sizes: odd, several 4096-element blocks with a ragged end, empty, one element, 16-byte multiples
def _params(rng, dtype, sizes=((3, 4), (5000,), (0,), (4097, 3), (1,), (2, 4096))):
    return [rng.standard_normal(s).astype(dtype) for s in sizes]


LAYOUTS = {"aligned": (0, 0), "offset": (1, 1), "offset_params": (1, 0)}  # (params, the rest)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("momentum,dampening,nesterov,weight_decay,maximize", [
    (0.0, 0.0, False, 0.0, False), (0.9, 0.0, False, 0.0, False), (0.9, 0.1, False, 1e-2, True),
    (0.9, 0.0, True, 1e-2, False),
])
def test_sgd_step_matches_reference(be, rng, dtype, layout, momentum, dampening, nesterov,
                                    weight_decay, maximize):
    p_offset, offset = LAYOUTS[layout]
    params = _params(rng, dtype)
    want_p = [p.copy() for p in params]
    got_p = [dev(be, p, p_offset) for p in params]
    want_bufs = [None] * len(params)
    got_bufs = [None] * len(params)
    for _ in range(3):  # the first step starts the buffers, later ones use them
        grads = [rng.standard_normal(p.shape).astype(dtype) for p in params]
        want_bufs = ref.sgd_step_numpy(want_p, grads, want_bufs, 0.1, momentum, dampening,
                                       weight_decay, nesterov, maximize)
        got_bufs = be.sgd_step(got_p, [dev(be, g, offset) for g in grads], got_bufs, 0.1,
                               momentum, dampening, weight_decay, nesterov, maximize)
    for got, want in zip(got_p, want_p):
        close(be.to_host(got), want, dtype)
    for got, want in zip(got_bufs, want_bufs):
        assert (got is None) == (want is None)
        if want is not None:
            close(be.to_host(got), want, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("decoupled,weight_decay,maximize", [
    (False, 0.0, False), (False, 0.1, False), (True, 0.1, False), (True, 0.0, True),
])
def test_adam_step_matches_reference(be, rng, dtype, layout, decoupled, weight_decay, maximize):
    p_offset, offset = LAYOUTS[layout]
    params = _params(rng, dtype)
    want = [p.copy() for p in params]
    want_m = [np.zeros_like(p) for p in params]
    want_v = [np.zeros_like(p) for p in params]
    got = [dev(be, p, p_offset) for p in params]
    got_m = [dev(be, m, offset) for m in want_m]
    got_v = [dev(be, v, offset) for v in want_v]
    for step in range(1, 4):
        grads = [rng.standard_normal(p.shape).astype(dtype) for p in params]
        ref.adam_step_numpy(want, grads, want_m, want_v, step, 1e-2, 0.9, 0.999, 1e-8,
                            weight_decay, decoupled, maximize)
        be.adam_step(got, [dev(be, g, offset) for g in grads], got_m, got_v, step, 1e-2, 0.9,
                     0.999, 1e-8, weight_decay, decoupled, maximize)
    for g_list, w_list in ((got, want), (got_m, want_m), (got_v, want_v)):
        for g, w in zip(g_list, w_list):
            close(be.to_host(g), w, dtype)


def test_optimizer_updates_non_dense_parameters(be, rng):
    base = rng.standard_normal((6, 8)).astype(np.float32)
    grad = rng.standard_normal((8, 6)).astype(np.float32)
    whole = dev(be, base)
    view = be.permute(whole, (1, 0))  # a transposed view updated in place
    be.sgd_step([view], [dev(be, grad)], [None], 0.5, 0.0, 0.0, 0.0, False)
    np.testing.assert_allclose(be.to_host(whole), base - 0.5 * grad.T, rtol=1e-6)
