"""Every primitive's ``KernelSpec`` pinned to numbers worked out by hand.

``costmodel.spec`` counts each input read once (a broadcast input at its stored size, a Python
number free), each output written once, and FLOP-equivalents per element by op (docstring of
gpugrad/backends/sim/costmodel.py). The expected values below are literal arithmetic on the
shapes and dtypes, never read from the cost model's own tables, so a wrong count fails here.
The ops launched through a sim device (the second half) pin what the backend hands the cost
model, too.
"""
import numpy as np
import pytest

import gpugrad as gg
from gpugrad.backends.sim import costmodel
from gpugrad.device_registry import get_backend

F4, F8, H2, I8 = 4, 8, 2, 8   # bytes of float32, float64, float16, int64


def zeros(shape, dtype=np.float32):
    return np.zeros(shape, dtype)


def fields(s):
    """The counted fields of a spec, in one comparable tuple."""
    return (s.op_class, s.dtype, s.bytes_read, s.bytes_written, s.flops, s.elements, s.scalars)


# ---- matmul ------------------------------------------------------------------------------------
def test_matmul_reads_both_operands_and_writes_the_product():
    s = costmodel.spec("matmul", [zeros((65536, 64)), zeros((64, 256))], zeros((65536, 256)))
    assert fields(s) == ("matmul", "float32", (65536 * 64 + 64 * 256) * F4, 65536 * 256 * F4,
                         2 * 65536 * 256 * 64, 65536 * 256, 0)
    assert s.gemm == (1, 65536, 256, 64) and s.nbytes == 16842752 + 67108864


def test_batched_half_and_vector_matmuls():
    s = costmodel.spec("matmul", [zeros((3, 8, 16)), zeros((16, 4))], zeros((3, 8, 4)))
    assert fields(s) == ("matmul", "float32", (3 * 8 * 16 + 16 * 4) * F4, 3 * 8 * 4 * F4,
                         2 * 3 * 8 * 4 * 16, 3 * 8 * 4, 0)
    assert s.gemm == (3, 8, 4, 16)
    h = costmodel.spec("matmul", [zeros((128, 64), np.float16), zeros((64, 32), np.float16)],
                       zeros((128, 32), np.float16))
    assert fields(h) == ("matmul", "float16", (128 * 64 + 64 * 32) * H2, 128 * 32 * H2,
                         2 * 128 * 32 * 64, 128 * 32, 0)
    v = costmodel.spec("matmul", [zeros(16), zeros((16, 4))], zeros(4))
    assert v.gemm == (1, 1, 4, 16) and v.flops == 128 and v.bytes_read == (16 + 64) * F4


# ---- elementwise -------------------------------------------------------------------------------
@pytest.mark.parametrize("op, per_element", [
    ("neg", 1), ("abs", 1), ("sign", 1), ("relu", 1), ("floor", 1), ("sqrt", 4), ("exp", 8),
    ("log", 8), ("log1p", 8), ("sin", 8), ("tanh", 12), ("sigmoid", 12), ("tan", 12),
    ("cosh", 12), ("asin", 16), ("atanh", 16), ("erf", 16), ("erfc", 16)])
def test_unary_flops_per_element(op, per_element):
    a = zeros(1000)
    s = costmodel.spec(f"unary:{op}", [a], a)
    assert fields(s) == ("elementwise", "float32", 4000, 4000, per_element * 1000, 1000, 0)


@pytest.mark.parametrize("op, per_element, out_itemsize", [
    ("add", 1, 4), ("sub", 1, 4), ("mul", 1, 4), ("div", 4, 4), ("pow", 20, 4),
    ("atan2", 20, 4), ("maximum", 1, 4), ("fmax", 2, 4), ("fmin", 2, 4), ("eq", 1, 1),
    ("lt", 1, 1), ("logical_and", 1, 1)])
def test_binary_flops_per_element(op, per_element, out_itemsize):
    a, b = zeros((20, 50)), zeros((20, 50))
    out = zeros((20, 50), np.bool_ if out_itemsize == 1 else np.float32)
    s = costmodel.spec(f"binary:{op}", [a, b], out)
    assert fields(s) == ("elementwise", "float32", 2 * 4000, 1000 * out_itemsize,
                         per_element * 1000, 1000, 0)


def test_broadcast_operand_counts_its_stored_size_and_numbers_are_free():
    a, bias = zeros((64, 128)), zeros(128)
    for b in (bias, np.broadcast_to(bias, (64, 128))):   # a stride-0 view reads 128 floats
        s = costmodel.spec("binary:add", [a, b], zeros((64, 128)))
        assert fields(s) == ("elementwise", "float32", (8192 + 128) * F4, 8192 * F4, 8192,
                             8192, 0)
    s = costmodel.spec("binary:mul", [zeros(1000, np.float64), 2.0], zeros(1000, np.float64))
    assert fields(s) == ("elementwise", "float64", 8000, 8000, 1000, 1000, 1)
    assert s.shapes == ((1000,), ())


@pytest.mark.parametrize("dtype, itemsize", [(np.float16, 2), (np.float32, 4), (np.float64, 8),
                                             (np.int32, 4), (np.int64, 8), (np.int8, 1)])
def test_dtypes_set_the_bytes(dtype, itemsize):
    a = zeros((10, 10), dtype)
    s = costmodel.spec("binary:add", [a, a], a)
    assert fields(s) == ("elementwise", np.dtype(dtype).name, 200 * itemsize, 100 * itemsize,
                         100, 100, 0)


def test_where_cast_fill_arange_and_random():
    cond, a = zeros(100, np.bool_), zeros(100)
    assert fields(costmodel.spec("where", [cond, a, 0.0], a)) == \
        ("elementwise", "bool", 100 + 400, 400, 100, 100, 1)
    assert fields(costmodel.spec("cast", [a], zeros(100, np.float16))) == \
        ("elementwise", "float32", 400, 200, 0, 100, 0)
    assert fields(costmodel.spec("full", [], zeros((4, 5), np.int32))) == \
        ("elementwise", "int32", 0, 80, 0, 20, 0)
    assert fields(costmodel.spec("arange", [], zeros(7, np.int64))) == \
        ("elementwise", "int64", 0, 56, 7, 7, 0)
    assert fields(costmodel.spec("random", [], zeros((3, 10)))) == \
        ("random", "float32", 0, 120, 20 * 30, 30, 0)


# ---- layout: copies, strided views, gathers ------------------------------------------------------
def test_copies_of_dense_and_strided_views():
    a = zeros((8, 16))
    assert fields(costmodel.spec("copy", [a], zeros((8, 16)))) == \
        ("copy", "float32", 512, 512, 0, 128, 0)
    assert fields(costmodel.spec("copy", [a.T], zeros((16, 8)))) == \
        ("transpose", "float32", 512, 512, 0, 128, 0)
    sliced = a[:, ::2]   # a strided view reads only its own 64 elements
    assert fields(costmodel.spec("copy", [sliced], zeros((8, 8)))) == \
        ("transpose", "float32", 256, 256, 0, 64, 0)
    row = np.broadcast_to(zeros(16), (8, 16))   # stride 0: read in order, once
    assert fields(costmodel.spec("copy", [row], zeros((8, 16)))) == \
        ("copy", "float32", 64, 512, 0, 128, 0)
    cat = costmodel.spec("copy", [zeros((2, 3)), zeros((4, 3))], zeros((6, 3)))
    assert fields(cat) == ("copy", "float32", 72, 72, 0, 18, 0)


def test_gather_reads_the_selected_elements_and_the_indices():
    idx = zeros(10, np.int64)
    s = costmodel.spec("getitem", [zeros((1000, 100)), idx], zeros(10))
    assert fields(s) == ("gather", "float32", 10 * F4 + 10 * I8, 10 * F4, 0, 10, 0)


def test_index_add_reads_values_indices_and_the_hit_destination():
    values, idx = zeros((6, 4)), zeros(6, np.int64)
    s = costmodel.spec("index_add", [values, idx], zeros((10, 4)))
    # 24 values: read them (96 B) and their index (48 B), read-modify-write 24 destinations
    assert fields(s) == ("scatter", "float32", 96 + 48 + 24 * F4, 24 * F4, 24, 24, 0)


# ---- reductions and scans ----------------------------------------------------------------------
@pytest.mark.parametrize("shape, axis, cls, out_elems", [
    ((4, 5), None, "reduce_all", 1), ((4, 5), 1, "reduce_inner", 4),
    ((4, 5), -1, "reduce_inner", 4), ((4, 5), 0, "reduce_outer", 5),
    ((4, 5), (0, 1), "reduce_all", 1), ((20,), 0, "reduce_all", 1),
    ((2, 3, 4), (1, 2), "reduce_inner", 2), ((2, 3, 4), (0, 1), "reduce_outer", 4),
    ((2, 3, 4), (0, 2), "reduce_outer", 3), ((2, 3, 4), 1, "reduce_outer", 8)])
def test_reduction_class_bytes_and_flops(shape, axis, cls, out_elems):
    a = zeros(shape)
    s = costmodel.spec("reduce:sum", [a], zeros(out_elems), axis=axis)
    assert fields(s) == (cls, "float32", a.size * F4, out_elems * F4, a.size, a.size, 0)


def test_reduction_ops_and_dtypes():
    a = zeros((8, 16), np.float64)
    assert fields(costmodel.spec("reduce:max", [a], zeros(8, np.float64), axis=1)) == \
        ("reduce_inner", "float64", 1024, 64, 128, 128, 0)
    assert fields(costmodel.spec("reduce:argmax", [a], zeros(8, np.int64), axis=1)) == \
        ("reduce_inner", "float64", 1024, 64, 2 * 128, 128, 0)
    ints = zeros((4, 5), np.int32)   # an int32 sum accumulates into int64, as PyTorch's does
    assert fields(costmodel.spec("reduce:sum", [ints], zeros((), np.int64))) == \
        ("reduce_all", "int32", 80, 8, 20, 20, 0)


def test_scans_single_pass_and_doubling():
    a = zeros((4, 8))
    assert fields(costmodel.spec("scan:sum", [a], zeros((4, 8)), axis=1)) == \
        ("reduce_inner", "float32", 128, 128, 32, 32, 0)
    # cummax along a length-8 axis: ceil(log2 8) = 3 passes, each reading two copies
    assert fields(costmodel.spec("scan:max", [a], zeros((4, 8)), axis=1)) == \
        ("reduce_inner", "float32", 2 * 128 * 3, 128 * 3, 32 * 3, 32 * 3, 0)
    assert costmodel.spec("scan:max", [a], zeros((4, 8)), axis=0).op_class == "reduce_outer"


@pytest.mark.parametrize("dtype, itemsize", [(np.float32, 4), (np.float16, 2),
                                             (np.float64, 8)])
def test_sort_is_one_radix_pass_per_key_byte(dtype, itemsize):
    a = zeros(1000, dtype)
    moved = itemsize * 1000 * (itemsize + 8)   # every pass moves every key and int64 index
    s = costmodel.spec("sort", [a], (zeros(1000, dtype), zeros(1000, np.int64)))
    assert fields(s) == ("scatter", np.dtype(dtype).name, 1000 * itemsize + moved,
                         1000 * itemsize + 8000 + moved, 4 * itemsize * 1000,
                         itemsize * 1000, 0)


# ---- fused and optimizer kernels ---------------------------------------------------------------
def test_softmax_cross_entropy_forward_and_backward():
    logits, target = zeros((64, 128)), zeros(64, np.int64)
    s = costmodel.spec("softmax_cross_entropy", [logits, target, -100],
                       (zeros((2, 64)), zeros(64)))
    assert fields(s) == ("fused", "float32", 8192 * F4 + 64 * I8, 3 * 64 * F4, 12 * 8192, 8192,
                         1)
    b = costmodel.spec("softmax_cross_entropy_backward",
                       [logits, target, zeros(64), zeros((2, 64)), 1, -100], zeros((64, 128)))
    assert fields(b) == ("fused", "float32", (8192 + 64 + 128) * F4 + 64 * I8, 8192 * F4,
                         12 * 8192, 8192, 2)


@pytest.mark.parametrize("act, per_element", [("identity", 1), ("relu", 2), ("tanh", 13),
                                              ("sigmoid", 13)])
def test_bias_act_counts_the_add_and_the_activation_in_16_byte_vectors(act, per_element):
    s = costmodel.spec("bias_act", [zeros((64, 128)), zeros(128)], zeros((64, 128)), act=act)
    assert fields(s) == ("fused", "float32", (8192 + 128) * F4, 8192 * F4, per_element * 8192,
                         8192 // 4, 0)
    # a row of 130 floats is not a whole number of float4s: one thread per element
    odd = costmodel.spec("bias_act", [zeros((64, 130)), zeros(130)], zeros((64, 130)), act=act)
    assert odd.elements == 64 * 130 and odd.flops == per_element * 64 * 130


def test_bias_act_backward_and_double_vectors():
    s = costmodel.spec("bias_act_backward", [zeros((64, 130)), zeros((64, 130))],
                       zeros((64, 130)), act="tanh")
    assert fields(s) == ("fused", "float32", 2 * 8320 * F4, 8320 * F4, 12 * 8320, 8320 // 4, 0)
    d = costmodel.spec("bias_act", [zeros((4, 6), np.float64), zeros(6, np.float64)],
                       zeros((4, 6), np.float64), act="relu")
    assert d.elements == 24 // 2 and d.flops == 48   # double2: two per access


def test_optimizer_steps_are_one_launch_over_every_parameter():
    params = [zeros(10), zeros((3, 3))]                    # 19 floats, 76 bytes
    grads = [zeros(10), zeros((3, 3))]
    sgd = costmodel.spec("sgd_step", grads, params, params=params, grads=grads,
                         bufs=[zeros(10), None])
    # reads param and grad (2 x 76) and the one buffer (40); writes param (76) and buffer (40)
    assert fields(sgd) == ("optimizer", "float32", 2 * 76 + 40, 76 + 40, 4 * 19,
                           3 + 3, 0)   # ceil(10/4) + ceil(9/4) float4 accesses
    adam = costmodel.spec("adam_step", grads, params, params=params, grads=grads,
                          exp_avgs=[zeros(10), zeros((3, 3))],
                          exp_avg_sqs=[zeros(10), zeros((3, 3))])
    assert fields(adam) == ("optimizer", "float32", 2 * 76 + 2 * 76, 76 + 2 * 76, 14 * 19, 6, 0)


def test_index_put_is_a_scatter_with_index_arrays_else_elementwise():
    value, idx = zeros(5), zeros(5, np.int64)
    assert fields(costmodel.spec("index_put", [value, idx], zeros(5))) == \
        ("scatter", "float32", 5 * F4 + 5 * I8, 5 * F4, 0, 5, 0)
    assert fields(costmodel.spec("index_put", [2.0], zeros(5, np.float64))) == \
        ("elementwise", "float64", 0, 5 * F8, 0, 5, 1)


def test_sliding_window_kernels():
    image = zeros((2, 3, 8, 8))                      # 384 floats
    cols = zeros(2 * 3 * 9 * 6 * 6)                  # 3x3 windows, stride 1: 6x6 of them
    assert fields(costmodel.spec("im2col", [image], cols)) == \
        ("gather", "float32", 384 * F4, 1944 * F4, 0, 1944, 0)
    # one thread per image element, one add per column entry
    assert fields(costmodel.spec("col2im", [cols], image)) == \
        ("gather", "float32", 1944 * F4, 384 * F4, 1944, 384, 0)
    windows = 2 * 3 * 4 * 4                          # 2x2 pooling: 96 windows of 4 taps
    pooled = (zeros(windows), zeros(windows, np.int64))
    assert fields(costmodel.spec("max_pool2d", [image], pooled, taps=4)) == \
        ("gather", "float32", 384 * F4, windows * (F4 + I8), 4 * windows, windows, 0)
    assert fields(costmodel.spec("max_pool2d_backward", list(pooled), image)) == \
        ("gather", "float32", windows * (F4 + I8), 384 * F4, windows, 384, 0)


def test_bias_grad_sum_adds_the_slabs_per_column():
    s = costmodel.spec("bias_grad_sum", [zeros((4, 128))], zeros(128))
    assert fields(s) == ("fused", "float32", 512 * F4, 128 * F4, 512, 512, 0)


def test_an_unknown_primitive_is_named_in_the_error():
    with pytest.raises(ValueError, match="unknown primitive 'warp'"):
        costmodel.spec("warp", [zeros(3)], zeros(3))


# ---- through a sim device: what the backend hands the cost model --------------------------------
DEV = "sim:5"


def launched(fn):
    """The specs of the kernels ``fn`` launches on a freshly configured sim device."""
    gg.sim.configure(DEV)
    try:
        fn()
        gg.sim.stats(DEV)   # places deferred launches, so every row is counted
        specs = []
        for row in get_backend(DEV)._rows.values():
            if row.count and row.spec not in specs:
                specs.append(row.spec)
        return specs
    finally:
        gg.sim.configure(DEV)


def on_dev(*shape, dtype=None):
    return gg.ones(*shape, dtype=dtype, device=DEV)


def test_device_matmul_and_tanh():
    a, b = on_dev(65536, 64), on_dev(64, 256)
    [mm] = launched(lambda: a @ b)
    assert (mm.name, mm.bytes_read, mm.bytes_written, mm.flops) == \
        ("matmul", 16842752, 67108864, 2147483648)
    x = on_dev(64, 128)
    [t] = launched(lambda: x.tanh())
    assert (t.name, t.flops, t.bytes_read, t.bytes_written) == ("unary:tanh", 12 * 8192,
                                                                 32768, 32768)


def test_device_broadcast_strided_reductions_and_casts():
    x, bias = on_dev(64, 128), on_dev(128)
    [add] = launched(lambda: x + bias)
    assert fields(add) == ("elementwise", "float32", 33280, 32768, 8192, 8192, 0)
    [exp] = launched(lambda: x[:, ::2].exp())
    assert fields(exp) == ("elementwise", "float32", 16384, 16384, 8 * 4096, 4096, 0)
    [tr] = launched(lambda: x.t().contiguous())
    assert fields(tr) == ("transpose", "float32", 32768, 32768, 0, 8192, 0)
    for axis, cls, written in ((0, "reduce_outer", 512), (1, "reduce_inner", 256)):
        [red] = launched(lambda: x.sum(axis))
        assert fields(red) == (cls, "float32", 32768, written, 8192, 8192, 0)
    for dtype, itemsize in ((gg.float16, 2), (gg.bfloat16, 2), (gg.float64, 8)):
        [cast] = launched(lambda: x.to(dtype))
        assert fields(cast) == ("elementwise", "float32", 32768, 8192 * itemsize, 0, 8192, 0)
    n = on_dev(4, 5, dtype=gg.int32)
    [iadd] = launched(lambda: n + 1)
    assert fields(iadd) == ("elementwise", "int32", 80, 80, 20, 20, 1)


def test_device_cross_entropy_is_one_fused_kernel():
    logits = on_dev(64, 128)
    target = gg.zeros(64, dtype=gg.int64, device=DEV)
    specs = launched(lambda: gg.nn.functional.cross_entropy(logits, target, reduction="none"))
    [ce] = [s for s in specs if s.op_class == "fused"]
    assert fields(ce) == ("fused", "float32", 33280, 768, 12 * 8192, 8192, 1)


def test_device_transfers_count_their_bytes():
    host = gg.ones(1000, 3)
    def move():
        y = host.to(DEV)
        y.cpu()
    assert launched(move) == []   # copies run on the copy engine, not as kernels
    gg.sim.configure(DEV)
    host.to(DEV).to(gg.float64).cpu()
    stats = gg.sim.stats(DEV)
    assert (stats.h2d_bytes, stats.d2h_bytes) == (12000, 24000)
    gg.sim.configure(DEV)
