"""``costmodel.spec`` at its edges: 1-D and broadcast matmul operands, kernels with no array
input or output, ops missing from the FLOP tables, Python-number operands, scans and sorts,
the optimizer step with no or one-byte parameters, array-likes without ``strides``/``flags``,
and dtype names worked out on a cold cache.

Expected values are literal arithmetic on the shapes and dtypes (see the counting rules in the
docstring of gpugrad/backends/sim/costmodel.py), never read from the cost model's tables.
"""
import numpy as np
import pytest

from gpugrad.backends.sim import costmodel

F4, F8, I8 = 4, 8, 8   # bytes of float32, float64, int64


def zeros(shape, dtype=np.float32):
    return np.zeros(shape, dtype)


def fields(s):
    """The counted fields of a spec, in one comparable tuple."""
    return (s.op_class, s.dtype, s.bytes_read, s.bytes_written, s.flops, s.elements, s.scalars)


class _Duck:
    """An array-like with only shape, dtype, itemsize and nbytes (no ``strides``, no ``flags``)."""

    def __init__(self, shape, dtype):
        self.shape, self.dtype = shape, dtype
        self.itemsize = np.dtype(dtype).itemsize if isinstance(dtype, np.dtype) else 4
        self.nbytes = int(np.prod(shape)) * self.itemsize


class _NamelessDtype:
    """A dtype-like object with no ``name`` attribute: its ``str`` names it."""

    def __str__(self):
        return "nameless32"


# ---- matmul: NumPy's promotion of 1-D operands and broadcasting of batches ---------------------
def test_matrix_times_vector_has_one_output_column():
    s = costmodel.spec("matmul", [zeros((5, 3)), zeros(3)], zeros(5))
    assert s.gemm == (1, 5, 1, 3)   # (5,3) @ (3,) is (5,3) @ (3,1): n = 1
    assert (s.flops, s.elements) == (2 * 5 * 1 * 3, 5)


def test_vector_times_matrix_has_one_output_row():
    s = costmodel.spec("matmul", [zeros(3), zeros((3, 2))], zeros(2))
    assert s.gemm == (1, 1, 2, 3) and s.flops == 2 * 1 * 2 * 3


def test_matrix_times_batched_matrix_takes_the_right_operands_batch():
    # (4,3) @ (6,3,2): the left operand is broadcast over the right one's batch of 6
    s = costmodel.spec("matmul", [zeros((4, 3)), zeros((6, 3, 2))], zeros((6, 4, 2)))
    assert s.gemm == (6, 4, 2, 3)
    assert (s.flops, s.elements) == (2 * 6 * 4 * 2 * 3, 6 * 4 * 2)


# ---- no array input and no output --------------------------------------------------------------
@pytest.mark.parametrize("name", ["full", "arange", "random"])
def test_a_kernel_with_no_arrays_counts_nothing_and_defaults_to_float32(name):
    s = costmodel.spec(name, [], None)
    assert (s.dtype, s.bytes_read, s.bytes_written, s.flops, s.elements, s.scalars) == (
        "float32", 0, 0, 0, 0, 0)


# ---- ops missing from the FLOP tables cost one FLOP per element ---------------------------------
def test_an_unknown_binary_op_costs_one_flop_per_output_element():
    s = costmodel.spec("binary:hypot", [zeros(6), zeros(6)], zeros(6))
    assert fields(s) == ("elementwise", "float32", 2 * 6 * F4, 6 * F4, 6, 6, 0)


def test_an_unknown_unary_op_costs_one_flop_per_output_element():
    s = costmodel.spec("unary:digamma", [zeros(7)], zeros(7))
    assert fields(s) == ("elementwise", "float32", 7 * F4, 7 * F4, 7, 7, 0)


def test_an_unknown_reduction_costs_one_flop_per_input_element():
    s = costmodel.spec("reduce:any", [zeros((2, 3))], zeros(()), axis=None)
    assert fields(s) == ("reduce_all", "float32", 6 * F4, F4, 6, 6, 0)


# ---- every kind keeps its name and counts a Python-number operand ------------------------------
IDX = np.zeros(4, np.int64)
CASES = {
    "unary:neg": ([zeros(4), 2.0], zeros(4), {}),
    "reduce:sum": ([zeros(4), 2.0], zeros(()), {"axis": None}),
    "scan:sum": ([zeros(4), 2.0], zeros(4), {"axis": 0}),
    "sort": ([zeros(4), 2.0], (zeros(4), IDX), {}),
    "copy": ([zeros(4), 2.0], zeros(4), {}),
    "getitem": ([zeros(8), IDX, 2.0], zeros(4), {}),
    "index_add": ([zeros(4), IDX, 2.0], zeros(8), {}),
    "index_put": ([zeros(4), IDX, 2.0], zeros(4), {}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_each_kind_keeps_its_name_and_counts_a_number_operand(name):
    inputs, outputs, info = CASES[name]
    s = costmodel.spec(name, inputs, outputs, **info)
    assert s.name == name
    assert s.scalars == 1
    assert s.shapes == tuple(getattr(a, "shape", ()) for a in inputs)


# ---- index_add: one thread per value, the destination's itemsize -------------------------------
def test_index_add_moves_values_of_the_destination_dtype():
    s = costmodel.spec("index_add", [zeros(5, np.float64), np.zeros(5, np.int64)],
                       zeros(10, np.float64))
    # reads values and indices, then read-modify-writes 5 float64 destination elements
    assert fields(s) == ("scatter", "float64", 5 * F8 + 5 * I8 + 5 * F8, 5 * F8, 5, 5, 0)


def test_index_add_without_an_output_assumes_four_byte_elements():
    s = costmodel.spec("index_add", [zeros(5), np.zeros(5, np.int64)], None)
    assert (s.bytes_read, s.bytes_written, s.elements) == (5 * F4 + 5 * I8 + 5 * 4, 5 * 4, 5)


# ---- scans: cumsum/cumprod one pass, cummax/cummin ceil(log2 n) doubling passes -----------------
def test_cumprod_is_a_single_pass_scan():
    s = costmodel.spec("scan:prod", [zeros(5)], zeros(5), axis=0)
    assert fields(s) == ("reduce_all", "float32", 5 * F4, 5 * F4, 5, 5, 0)


@pytest.mark.parametrize("length, passes", [(2, 1), (4, 2), (5, 3), (8, 3), (9, 4)])
def test_cummax_takes_ceil_log2_doubling_passes(length, passes):
    s = costmodel.spec("scan:max", [zeros(length)], zeros(length), axis=0)
    nread = length * F4
    read = nread if passes == 1 else 2 * nread * passes
    assert fields(s) == ("reduce_all", "float32", read, nread * passes,
                         length * passes, length * passes, 0)


def test_cummax_of_a_zero_dim_array_is_one_pass():
    s = costmodel.spec("scan:max", [zeros(())], zeros(()), axis=0)
    assert fields(s) == ("reduce_all", "float32", F4, F4, 1, 1, 0)


def test_sort_is_named_sort():
    s = costmodel.spec("sort", [zeros(3, np.float64)], (zeros(3, np.float64), IDX[:3]))
    assert s.name == "sort" and s.op_class == "scatter"


# ---- stored size and read order of broadcast views and bare array-likes -------------------------
def test_a_broadcast_input_counts_its_stored_elements_once():
    row = np.broadcast_to(zeros(3), (4, 3))   # strides (0, 4): 3 stored elements
    s = costmodel.spec("binary:add", [row, zeros((4, 3))], zeros((4, 3)))
    assert s.bytes_read == 3 * F4 + 12 * F4


def test_an_array_like_without_strides_or_flags_is_read_whole_and_in_order():
    duck = _Duck((2, 3), np.dtype(np.float32))
    s = costmodel.spec("copy", [duck], zeros((2, 3)))
    assert fields(s) == ("copy", "float32", 6 * F4, 6 * F4, 0, 6, 0)


# ---- optimizer steps -------------------------------------------------------------------------
def test_an_optimizer_step_with_no_parameters_keeps_the_input_shapes():
    s = costmodel.spec("sgd_step", [zeros(3)], None, params=[], grads=[])
    assert fields(s) == ("optimizer", "float32", 0, 0, 0, 0, 0)
    assert s.shapes == ((3,),)


def test_an_optimizer_step_takes_its_dtype_and_shapes_from_the_parameters():
    p, g, buf = zeros(3, np.float64), zeros(3, np.float64), zeros(3, np.float64)
    s = costmodel.spec("sgd_step", [p, g, buf], None, params=[p], grads=[g], bufs=[buf])
    # reads param, grad and buffer, writes param and buffer; 4 flops per element; a double2
    # access carries 2 float64, so 3 elements take 2 accesses
    assert fields(s) == ("optimizer", "float64", 3 * 3 * F8, 2 * 3 * F8, 4 * 3, 2, 0)
    assert s.shapes == ((3,),)
    assert type(s.elements) is int


def test_one_byte_parameters_pack_sixteen_to_an_access():
    p = np.zeros(33, np.uint8)
    s = costmodel.spec("sgd_step", [p], None, params=[p], grads=[p])
    assert s.elements == 3   # ceil(33 / 16)
    assert type(s.elements) is int


# ---- dtype names on a cold cache ------------------------------------------------------------
def test_dtype_names_are_worked_out_when_not_cached(monkeypatch):
    monkeypatch.setattr(costmodel, "_DTYPE_NAMES", {})
    big_endian = np.zeros(4, np.dtype(">f4"))   # str() is ">f4", name "float32"
    assert costmodel.spec("unary:neg", [big_endian], zeros(4)).dtype == "float32"
    assert costmodel.spec("unary:neg", [big_endian], zeros(4)).dtype == "float32"   # cached


def test_a_dtype_without_a_name_is_named_by_its_str(monkeypatch):
    monkeypatch.setattr(costmodel, "_DTYPE_NAMES", {})
    duck = _Duck((4,), _NamelessDtype())
    assert costmodel.spec("unary:neg", [duck], zeros(4)).dtype == "nameless32"
