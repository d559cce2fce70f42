"""The cost model: kernel specs from primitive calls, and the profiles' numbers."""
import numpy as np
import pytest

from gpugrad.backends.sim import costmodel
from gpugrad.backends.sim.profiles import PROFILE_NAMES, get_profile


def f32(*shape):
    return np.zeros(shape, np.float32)


def test_binary_counts_each_operand_once_and_broadcast_at_real_size():
    a, bias, out = f32(64, 128), f32(128), f32(64, 128)
    s = costmodel.spec("binary:add", [a, bias], out)
    assert s.op_class == "elementwise" and s.dtype == "float32"
    assert s.bytes_read == a.nbytes + bias.nbytes
    assert s.bytes_written == out.nbytes
    assert s.elements == 64 * 128 and s.flops == 64 * 128
    view = np.broadcast_to(bias, (64, 128))   # a stride-0 view still reads 128 floats
    assert costmodel.spec("binary:add", [a, view], out).bytes_read == a.nbytes + bias.nbytes


def test_python_numbers_cost_no_bytes_and_are_counted():
    a = f32(1000)
    s = costmodel.spec("binary:mul", [a, 2.0], a)
    assert s.bytes_read == a.nbytes and s.scalars == 1 and s.shapes == ((1000,), ())


def test_transcendentals_cost_more_flops():
    a = f32(1000)
    assert costmodel.spec("unary:exp", [a], a).flops > costmodel.spec("unary:neg", [a], a).flops


def test_matmul_flops_and_dims():
    a, b = f32(3, 8, 16), f32(16, 4)
    s = costmodel.spec("matmul", [a, b], f32(3, 8, 4))
    assert s.gemm == (3, 8, 4, 16) and s.flops == 2 * 3 * 8 * 4 * 16
    assert costmodel.spec("matmul", [f32(16), f32(16, 4)], f32(4)).gemm == (1, 1, 4, 16)


@pytest.mark.parametrize("axis, cls", [(None, "reduce_all"), (1, "reduce_inner"),
                                       (0, "reduce_outer"), ((0, 1), "reduce_all"),
                                       (-1, "reduce_inner")])
def test_reduction_classes(axis, cls):
    assert costmodel.spec("reduce:sum", [f32(4, 5)], f32(4), axis=axis).op_class == cls


def test_copy_of_a_transposed_view_is_a_transpose():
    a = f32(8, 16)
    assert costmodel.spec("copy", [a], f32(8, 16)).op_class == "copy"
    assert costmodel.spec("copy", [a.T], f32(16, 8)).op_class == "transpose"


def test_gather_reads_selected_elements_plus_indices():
    a, idx = f32(1000, 100), np.zeros(10, np.int64)
    s = costmodel.spec("getitem", [a, idx], f32(10))
    assert s.op_class == "gather" and s.bytes_read == 40 + idx.nbytes and s.bytes_written == 40


def test_optimizer_step_is_one_launch_over_all_params():
    params = [f32(10, 10), f32(10)]
    grads = [f32(10, 10), f32(10)]
    s = costmodel.spec("sgd_step", grads, params, params=params, grads=grads, bufs=[])
    # work counted in 16-byte vectors, as kernels/optimizers.cu moves them: 25 + 3 per tensor
    assert s.op_class == "optimizer" and s.elements == 100 // 4 + (10 + 3) // 4
    wide = [np.zeros((10, 10))]  # float64: two lanes per vector
    d = costmodel.spec("sgd_step", wide, wide, params=wide, grads=wide, bufs=[])
    assert d.elements == 100 // 2
    adam = costmodel.spec("adam_step", grads, params, params=params, grads=grads,
                          exp_avgs=params, exp_avg_sqs=params)
    assert adam.bytes_read > s.bytes_read and adam.flops > s.flops


@pytest.mark.parametrize("name", ["full", "arange", "random", "cast", "where", "bias_act",
                                  "bias_act_backward", "softmax_cross_entropy",
                                  "softmax_cross_entropy_backward", "index_add", "index_put"])
def test_every_primitive_has_a_spec(name):
    x = f32(4, 5)
    inputs = [] if name in ("full", "arange", "random") else [x, f32(5)]
    s = costmodel.spec(name, inputs, x, act="relu")
    assert s.op_class in costmodel.OP_CLASSES
    assert get_profile("h100").kernel_us(s) > 0


def test_fused_bias_act_counts_vectors_where_the_kernel_packs():
    # rows of a multiple of 4 floats go 16 bytes per thread access; others one element at a time
    packed = costmodel.spec("bias_act", [f32(8, 12), f32(12)], f32(8, 12), act="relu")
    ragged = costmodel.spec("bias_act", [f32(8, 10), f32(10)], f32(8, 10), act="relu")
    assert packed.elements == 8 * 12 // 4 and ragged.elements == 8 * 10
    backward = costmodel.spec("bias_act_backward", [f32(8, 10), f32(8, 10)], f32(8, 10),
                              act="relu")
    assert backward.elements == 8 * 10 // 4  # the flat backward packs any size, tail apart
    h200 = get_profile("h200")
    big_packed = costmodel.spec("bias_act", [f32(512, 4096), f32(4096)], f32(512, 4096))
    big_ragged = costmodel.spec("bias_act", [f32(512, 4095), f32(4095)], f32(512, 4095))
    assert h200.kernel_us(big_packed) < h200.kernel_us(big_ragged)


def test_unknown_primitive_names_the_choices():
    with pytest.raises(ValueError, match="unknown primitive 'frobnicate'.*matmul"):
        costmodel.spec("frobnicate", [f32(2)], f32(2))


def test_spec_depends_only_on_shapes_and_dtypes():
    a = np.random.default_rng(0).standard_normal((32, 32)).astype(np.float32)
    assert costmodel.spec("unary:exp", [a], a) == costmodel.spec("unary:exp", [f32(32, 32)], a)


# ---- profiles --------------------------------------------------------------------------
def test_profile_names_and_unknown_profile():
    assert PROFILE_NAMES == ("h100", "h200", "a100", "l4")
    assert get_profile("H100").name == "h100"
    with pytest.raises(ValueError, match="h100, h200, a100, l4"):
        get_profile("v100")


@pytest.mark.parametrize("name", PROFILE_NAMES)
def test_profile_spec_numbers_are_sane(name):
    p = get_profile(name)
    assert 16 * 2**30 <= p.memory_bytes <= 192 * 2**30
    assert 20 << 20 <= p.l2_bytes <= 128 << 20
    assert 40 <= p.sm_count <= 200 and 1.0 <= p.clock_ghz <= 2.5
    assert 200 <= p.hbm_gbps <= 6000
    assert p.fp64_tflops <= p.fp32_tflops <= p.tf32_tflops <= p.bf16_tflops
    assert p.fp64_tflops <= p.fp64_tensor_tflops
    assert p.pcie_gen in (4, 5) and p.launch_latency_us > 0
    assert p.describe().startswith(name + ":") and "\n" not in p.describe()
    for key, value in p.params.items():
        assert value >= 0, key


def test_profiles_rank_as_their_spec_sheets():
    """A bandwidth-bound kernel: H200 > H100 > A100 > L4; FP64 matmul is slow on L4."""
    a = f32(1 << 24)
    big_copy = costmodel.spec("copy", [a], a)
    times = [get_profile(n).kernel_us(big_copy) for n in ("h200", "h100", "a100", "l4")]
    assert times == sorted(times)
    d = np.zeros((2048, 2048))
    mm64 = costmodel.spec("matmul", [d, d], d)
    assert get_profile("l4").kernel_us(mm64) > 20 * get_profile("a100").kernel_us(mm64)


@pytest.mark.parametrize("name", PROFILE_NAMES)
def test_larger_matmul_costs_more(name):
    p = get_profile(name)
    times = [p.kernel_us(costmodel.spec("matmul", [f32(n, n), f32(n, n)], f32(n, n)))
             for n in (64, 256, 1024, 4096, 8192)]
    assert all(t1 < t2 for t1, t2 in zip(times, times[1:]))


@pytest.mark.parametrize("name", PROFILE_NAMES)
@pytest.mark.parametrize("kind", ["h2d", "d2h"])
def test_pinned_beats_pageable(name, kind):
    p = get_profile(name)
    for nbytes in (4096, 1 << 20, 1 << 28):
        assert p.transfer_us(kind, nbytes, pinned=True) < p.transfer_us(kind, nbytes, pinned=False)


def test_transfer_kinds_and_malloc():
    p = get_profile("h100")
    assert p.transfer_us("d2d", 1 << 30) < p.transfer_us("p2p", 1 << 30) < p.transfer_us(
        "h2d", 1 << 30, True)
    with pytest.raises(ValueError, match="transfer kind"):
        p.transfer_us("h2h", 10)
    assert 0 < p.malloc_us(1 << 20) < p.malloc_us(1 << 30)


def test_l4_peer_copies_go_over_pcie():
    assert get_profile("l4").transfer_us("p2p", 1 << 30) > 5 * get_profile("a100").transfer_us(
        "p2p", 1 << 30)


def test_every_model_parameter_is_documented():
    from gpugrad.backends.sim.profiles import h200
    from gpugrad.backends.sim.profiles.profile import check_params, describe_param

    check_params(h200.MODEL_PARAMS)
    for name in h200.MODEL_PARAMS:
        unit, meaning = describe_param(name)
        assert unit and meaning
    assert not set(h200.ASSUMED) & set(h200.FITTED)


def test_scatter_add_touches_only_the_destinations_it_hits():
    values, idx, table = f32(32, 16), np.zeros(32, np.int64), f32(50_000, 16)
    s = costmodel.spec("index_add", [values, idx], table)
    assert s.op_class == "scatter" and s.elements == 32 * 16
    assert s.bytes_written == values.nbytes
    assert s.bytes_read == 2 * values.nbytes + idx.nbytes
    assert costmodel.spec("index_add", [1.0, idx], table).elements == 32


def test_copy_from_a_broadcast_view_is_not_a_transpose():
    src = np.broadcast_to(f32(1, 16), (8, 16))
    assert costmodel.spec("copy", [src], f32(8, 16)).op_class == "copy"


def test_index_put_writes_only_the_selected_elements():
    region, value, idx = f32(3, 16), f32(16), np.zeros(3, np.int64)
    s = costmodel.spec("index_put", [value, idx], region)
    assert s.op_class == "scatter" and s.elements == 3 * 16 and s.dtype == "float32"
    assert s.bytes_written == region.nbytes and s.bytes_read == value.nbytes + idx.nbytes
    fill = costmodel.spec("index_put", [0.0], np.zeros((4, 4), np.float64)[:, 1])  # a view
    assert fill.op_class == "elementwise" and fill.bytes_read == 0 and fill.scalars == 1
    assert fill.bytes_written == 4 * 8 and fill.dtype == "float64"
