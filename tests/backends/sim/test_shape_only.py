"""The shape-only sim device (``compute=False``): ``MetaBackend`` gives every primitive's result
the shape, dtype and layout NumPy gives it (the model reads them), allocates no host memory, and
every read of a value raises ``ValuesNotComputedError``."""
import copy
import itertools
import tracemalloc

import numpy as np
import pytest

import gpugrad as gg
from gpugrad import dtypes as D
from gpugrad.backends.cpu.backend import NumpyBackend
from gpugrad.backends.sim.meta import MetaBackend
from gpugrad.backends.sim.meta_array import MetaArray, ValuesNotComputedError, meta_of

CPU, META = NumpyBackend("cpu"), MetaBackend("sim:0")
RNG = np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _devices_compute_afterwards():
    yield
    for device in ("sim:0", "sim:1"):
        gg.sim.configure(device)


# ---- the same result as NumPy's, without values --------------------------------------------
def _layouts(shape):
    """Arrays of ``shape`` in several memory layouts: row-major, every axis order, strided,
    reversed."""
    base = RNG.standard_normal(shape).astype(np.float32)
    yield "c", base
    for perm in itertools.permutations(range(len(shape))):
        if list(perm) != sorted(perm):
            yield f"perm{perm}", np.transpose(np.ascontiguousarray(
                np.transpose(base, np.argsort(perm))), perm)
    big = RNG.standard_normal(tuple(2 * s for s in shape)).astype(np.float32)
    yield "step2", big[tuple(slice(None, None, 2) for _ in shape)]
    yield "flip", base[::-1]


def _layout(x):
    """What the model reads of an array: shape, dtype, the strides of its dimensions longer
    than 1, contiguity, and whether it owns its memory."""
    return (x.shape, x.dtype, tuple((d, s) for d, s in zip(x.shape, x.strides) if d != 1),
            bool(x.flags.c_contiguous), x.base is None)


def _assert_same(fn, *arrays):
    """``fn(backend, *arrays)`` on NumPy and on MetaArrays: the same results' layouts, or the
    same exception type."""
    try:
        want = fn(CPU, *arrays)
    except Exception as exc:  # noqa: BLE001
        with pytest.raises(type(exc)):
            fn(META, *[meta_of(a) if isinstance(a, np.ndarray) else a for a in arrays])
        return
    got = fn(META, *[meta_of(a) if isinstance(a, np.ndarray) else a for a in arrays])
    want = want if isinstance(want, (tuple, list)) else (want,)
    got = got if isinstance(got, (tuple, list)) else (got,)
    assert all(type(g) is MetaArray for g in got if g is not None)
    assert [_layout(w) for w in want] == [_layout(g) for g in got]


ELEMENTWISE = {
    "exp": lambda b, a: b.unary("exp", a),
    "relu": lambda b, a: b.unary("relu", a),
    "exp_to_float16": lambda b, a: b.unary("exp", a, D.float16),
    "add_number": lambda b, a: b.binary("add", a, 2.0),
    "mul_self": lambda b, a: b.binary("mul", a, a),
    "add_dense": lambda b, a: b.binary("add", a, np.ones(a.shape, np.float32)),
    "add_dense_first": lambda b, a: b.binary("add", np.ones(a.shape, np.float32), a),
    "add_row": lambda b, a: b.binary("add", a, np.ones(a.shape[-1:], np.float32)),
    "compare": lambda b, a: b.binary("lt", a, 0.5, D.float32),
    "add_float64": lambda b, a: b.binary("add", a, 1, D.float64),
    "cast_float16": lambda b, a: b.cast(a, D.float16),
    "cast_bfloat16": lambda b, a: b.cast(a, D.bfloat16),
    "where": lambda b, a: b.where(b.binary("gt", a, 0.0), a, 0.0),
    "contiguous": lambda b, a: b.contiguous(a),
    "from_host": lambda b, a: b.from_host(a),
    "from_host_float16": lambda b, a: b.from_host(a, D.float16),
    "reshape_flat": lambda b, a: b.reshape(a, (-1,)),
    "reshape_2d": lambda b, a: b.reshape(a, (a.shape[0], -1)),
    "permute": lambda b, a: b.permute(a, tuple(reversed(range(a.ndim)))),
    "broadcast": lambda b, a: b.broadcast_to(a, (2,) + a.shape, True),
    "slice": lambda b, a: b.getitem(a, (slice(None, None, 2), 0)),
    "int": lambda b, a: b.getitem(a, (1,)),
    "newaxis": lambda b, a: b.getitem(a, (None, Ellipsis, slice(1, None))),
    "sum_float16": lambda b, a: b.reduce("sum", b.cast(a, D.float16), 0),
    "sum_int": lambda b, a: b.reduce("sum", b.cast(a, D.int32), -1),
}
for _axis, _keep, _op in itertools.product([None, 0, -1, (0, 1)], [False, True],
                                            ["sum", "max", "argmax", "mean"]):
    if not (_op == "argmax" and isinstance(_axis, tuple)):
        ELEMENTWISE[f"{_op}_{_axis}_{_keep}"] = \
            lambda b, a, op=_op, axis=_axis, keep=_keep: b.reduce(op, a, axis, keep)
for _axis in range(2):
    ELEMENTWISE[f"cumsum_{_axis}"] = lambda b, a, axis=_axis: b.scan("sum", a, axis)
    ELEMENTWISE[f"cummax_{_axis}"] = lambda b, a, axis=_axis: b.scan("max", a, axis)
    ELEMENTWISE[f"sort_{_axis}"] = lambda b, a, axis=_axis: b.sort(a, axis, _axis == 1)
    ELEMENTWISE[f"concatenate_{_axis}"] = lambda b, a, axis=_axis: b.concatenate([a, a], axis)
_IDX, _IDX2 = np.array([0, 1, 0]), np.array([[0], [1]])
for _index in [(_IDX,), (slice(None), _IDX), (Ellipsis, _IDX), (_IDX2,), (slice(1, None), _IDX2),
               (None, _IDX), (slice(None), None, _IDX), (0, slice(None), _IDX),
               (_IDX, slice(None), _IDX[:1])]:
    ELEMENTWISE[f"gather{_index}"] = lambda b, a, index=_index: b.getitem(a, index)


@pytest.mark.parametrize("shape", [(3, 4, 5), (2, 2, 3), (4, 5)], ids=str)
@pytest.mark.parametrize("case", sorted(ELEMENTWISE))
def test_results_have_numpys_shape_dtype_and_layout(case, shape):
    for _, a in _layouts(shape):
        _assert_same(ELEMENTWISE[case], a)


@pytest.mark.parametrize("shape", [(4, 5), (3, 4, 5), (2, 3, 4, 5)], ids=str)
def test_matmul_layouts(shape):
    for _, a in _layouts(shape):
        m = np.ones((shape[-1], 6), np.float32)
        _assert_same(lambda b, a, m: b.matmul(a, m), a, m)
        _assert_same(lambda b, a, m: b.matmul(b.cast(a, D.bfloat16), b.cast(m, D.bfloat16)), a, m)
    _assert_same(lambda b, a, v: b.matmul(a, v), np.ones((4, 5), np.float32),
                 np.ones(5, np.float32))
    _assert_same(lambda b, a, v: b.matmul(a, v), np.ones((4, 5), np.float32),
                 np.ones(4, np.float32))  # mismatched inner dimensions: ValueError


def test_fused_kernels_results():
    target = np.array([1, 2, 0, 3, 7, 5])
    for _, x in _layouts((6, 8)):
        bias = np.ones(8, np.float32)
        for act in ("identity", "relu", "tanh", "sigmoid"):
            _assert_same(lambda b, x, bias: b.bias_act(x, bias, act), x, bias)
            _assert_same(lambda b, x: b.bias_act_backward(x, x, act), x)
            _assert_same(lambda b, x: b.bias_act_grads(x, x, act), x)
        _assert_same(lambda b, x, t: b.softmax_cross_entropy(x, t), x, target)
        _assert_same(lambda b, x, t, lse, g: b.softmax_cross_entropy_backward(x, t, lse, g, 6),
                     x, target, np.ones(6, np.float32), np.ones((), np.float32))
    grad = np.ones((3, 4), np.float32).T.copy().T
    _assert_same(lambda b, p, g: b.sgd_step([p], [g], [None], 0.1, 0.9, 0, 0, False),
                 np.ones((3, 4), np.float32), grad)


@pytest.mark.parametrize("window", [((3, 3), (1, 1), ((1, 1), (1, 1))),
                                    ((2, 2), (2, 2), ((0, 0), (0, 0))),
                                    ((3, 3), (2, 2), ((0, 0), (0, 0)))], ids=str)
def test_sliding_window_results(window):
    kernel, stride, padding = window
    for _, img in _layouts((2, 3, 7, 7)):
        _assert_same(lambda b, a: b.im2col(a, kernel, stride, padding, (1, 1)), img)
        _assert_same(lambda b, a: b.max_pool2d(a, kernel, stride, padding, (1, 1)), img)
        cols = CPU.im2col(img, kernel, stride, padding, (1, 1))
        _assert_same(lambda b, c: b.col2im(c, img.shape, kernel, stride, padding, (1, 1)), cols)
        values, indices = CPU.max_pool2d(img, kernel, stride, padding, (1, 1))
        _assert_same(lambda b, g, i: b.max_pool2d_backward(g, i, img.shape, kernel, stride,
                                                           padding, (1, 1)), values, indices)


def test_creation_and_dtype_errors():
    _assert_same(lambda b: b.full((3, 4), 1.5, D.float16))
    _assert_same(lambda b: b.arange(0.0, 1.0, 0.3, D.float32))
    _assert_same(lambda b: b.random("normal", (3, 4), D.bfloat16, 1))
    _assert_same(lambda b: b.randint(0, 5, (7,), 1))
    _assert_same(lambda b, i, v: b.index_add((5, 3), (i,), v, D.float32), np.array([0, 1, 1]),
                 np.ones((3, 3), np.float32))
    _assert_same(lambda b: b.from_host([[1.0, 2.0]]))
    _assert_same(lambda b, a: b.from_host(a), np.ones(3, np.uint16))  # unsupported: TypeError
    _assert_same(lambda b, a: b.unary("neg", a), np.ones(3, bool))  # NumPy's TypeError
    _assert_same(lambda b, a, c: b.binary("add", a, c), np.ones((3, 4), np.float32),
                 np.ones(3, np.float32))  # not broadcastable: ValueError


# ---- on the device: no values, no host memory, clear errors ---------------------------------
def test_factories_on_a_shape_only_device_allocate_no_host_memory():
    gg.sim.configure("sim:0", compute=False)
    tracemalloc.start()
    try:
        made = [gg.zeros(50_000, 50_000, device="sim:0"), gg.ones(2**30, device="sim:0"),
                gg.randn(40_000, 40_000, device="sim:0", dtype=gg.float16),
                gg.rand(2**31, device="sim:0", dtype=gg.bfloat16),
                gg.empty(30_000, 30_000, device="sim:0"),
                gg.full((20_000, 20_000), 3.0, device="sim:0", dtype=gg.float64)]
        _, traced_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    modeled = sum(t.numel() * t.element_size() for t in made)
    assert modeled > 25 * 2**30 and traced_peak < 1e6
    assert gg.sim.memory_allocated("sim:0") >= modeled
    assert [t.dtype for t in made][2:4] == [gg.float16, gg.bfloat16]


READS = {
    "item": lambda x: x.sum().item(),
    "tolist": lambda x: x.tolist(),
    "numpy": lambda x: x.numpy(),
    "repr": repr,
    "str": str,
    "bool": lambda x: bool(x.sum() > 0),
    "float": lambda x: float(x.sum()),
    "int": lambda x: int(x.argmax()),
    "cpu": lambda x: x.cpu(),
    "to_cpu": lambda x: x.to("cpu"),
    "np.asarray": np.asarray,
    "boolean_mask": lambda x: x[x > 0],
    "masked_select": lambda x: x.masked_select(x > 0),
    "nonzero": lambda x: x.nonzero(),
    "unique": lambda x: x.unique(),
    "to_a_computing_sim": lambda x: x.to("sim:1"),
}


@pytest.mark.parametrize("read", sorted(READS))
def test_reading_values_raises_a_clear_error(read):
    gg.sim.configure("sim:0", compute=False)
    x = gg.randn(3, 4, device="sim:0")
    with pytest.raises(ValuesNotComputedError) as info:
        READS[read](x)
    message = str(info.value)
    assert "sim:0" in message and "compute=False" in message and \
        "gg.sim.configure('sim:0', compute=True)" in message
    assert isinstance(info.value, RuntimeError)
    assert gg.sim.ValuesNotComputedError is ValuesNotComputedError


def test_what_needs_no_values_works():
    gg.sim.configure("sim:0", compute=False)
    host = gg.ones(2, 3)
    x = host.to("sim:0")  # an upload: modeled, counted
    assert x.shape == (2, 3) and gg.sim.stats("sim:0").h2d_bytes == 24
    y = gg.tensor([1.0, 2.0], device="sim:1").to("sim:0")  # from a computing sim: a peer copy
    assert y.shape == (2,) and gg.sim.stats("sim:0").p2p_bytes == 8
    layer = gg.nn.Linear(4, 5, device="sim:0", dtype=gg.bfloat16)
    clone = copy.deepcopy(layer)
    assert clone.weight.shape == (5, 4) and clone.weight.dtype is gg.bfloat16
    assert x.T.is_contiguous() is False and x.T.contiguous().is_contiguous()


def test_arrays_of_a_shape_only_device_refuse_a_computing_one():
    gg.sim.configure("sim:0", compute=False)
    x = gg.randn(3, device="sim:0")
    gg.sim.configure("sim:0")  # computes again: the planned array has no values to compute on
    with pytest.raises(ValuesNotComputedError, match="compute=True"):
        x + 1


def test_compute_must_be_a_bool():
    with pytest.raises(TypeError, match="compute must be True"):
        gg.sim.configure("sim:0", compute="no")
