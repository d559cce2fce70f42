"""The sim reserves a result's modeled memory before NumPy allocates it.

Every primitive that allocates device memory infers its result's shape and dtype from its
operands' shapes, asks the modeled pool, and only then lets NumPy compute. So a request over the
modeled capacity is ``gg.OutOfMemoryError`` at once, whatever the host's RAM: the requests below
are terabytes (far beyond this machine), and they must fail in well under a second with no host
allocation (a NumPy attempt would raise a plain MemoryError or take the machine down, and fail
these tests loudly). When the model has room but the host does not, the error says so and hands
the reservation back.
"""
import gc
import time
import traceback
import tracemalloc

import numpy as np
import pytest

import gpugrad as gg
from gpugrad.backends.cpu.backend import NumpyBackend
from gpugrad.device_registry import get_backend
from gpugrad.errors import HostMemoryError
from gpugrad.backends.sim import shapes

DEV = "sim:6"  # a device of its own (default h100 profile: 80 GB)
PEER = "sim:7"
T = 10**13 // 4  # elements: 10 TB of float32
N = 4 * 10**6  # an N x N result: 16 TB of float32
F32 = gg.float32


@pytest.fixture
def sim():
    gc.collect()  # arrays of earlier tests, kept by reference cycles through tracebacks
    gg.sim.configure(DEV)
    yield get_backend(DEV)
    gg.sim.configure(DEV)


def huge(b, shape, dtype=F32, value=1.0):
    """A broadcast view of ``shape``: one element of modeled and host memory."""
    return b.broadcast_to(b.full((1,) * len(shape), value, dtype), shape, True)


def ints(b, shape):
    return b.full(shape, 0, gg.int64)


def caught(info):
    """The exception of ``pytest.raises``, without its traceback (whose frames would keep the
    operands alive, and their memory in use)."""
    err = info.value
    traceback.clear_frames(info.tb)
    if err.__cause__ is not None:
        traceback.clear_frames(err.__cause__.__traceback__)
    gc.collect()
    return err


# (name, function of the backend -> the primitive call); each asks for >= 10**13 bytes
CASES = [
    ("full", lambda b: b.full((T,), 0.0, F32)),
    ("full of an int shape", lambda b: b.full(T, 0.0, F32)),
    ("arange", lambda b: b.arange(0, T, 1, gg.int64)),
    ("arange of floats", lambda b: b.arange(0.0, T / 2, 0.5, gg.float64)),
    ("random", lambda b: b.random("normal", (T,), F32, 1)),
    ("randint", lambda b: b.randint(0, 10, (T,), 1)),
    ("unary", lambda b: b.unary("exp", huge(b, (T,)))),
    ("unary to float", lambda b: b.unary("sqrt", huge(b, (T,), gg.int32, 4))),
    ("binary broadcasting", lambda b: b.binary("add", b.full((N, 1), 1.0, F32),
                                               b.full((1, N), 1.0, F32))),
    ("binary compare", lambda b: b.binary("lt", b.full((N, 1), 1.0, F32),
                                          b.full((1, N), 1.0, F32))),
    ("binary with a number", lambda b: b.binary("mul", huge(b, (T,)), 2.0)),
    ("binary number first", lambda b: b.binary("sub", 2.0, huge(b, (T,)))),
    ("where", lambda b: b.where(b.full((N, 1), True, gg.bool),
                                b.full((1, N), 1.0, F32), 0.0)),
    ("cast", lambda b: b.cast(huge(b, (T,)), gg.float64)),
    ("reduce", lambda b: b.reduce("sum", huge(b, (T, 2)), 1, False)),
    ("reduce keepdims", lambda b: b.reduce("max", huge(b, (2, T)), 0, True)),
    ("reduce argmax", lambda b: b.reduce("argmax", huge(b, (T, 2)), -1, False)),
    ("matmul", lambda b: b.matmul(b.full((N, 1), 1.0, F32),
                                  b.full((1, N), 1.0, F32))),
    ("batched matmul", lambda b: b.matmul(huge(b, (10**10, 2, 2)), b.full((2, 1000), 1.0, F32))),
    ("contiguous", lambda b: b.contiguous(huge(b, (T,)))),
    ("reshape that copies", lambda b: b.reshape(b.broadcast_to(b.full((2, 1), 1.0, F32),
                                                               (2, T // 2), True), (-1,))),
    ("concatenate", lambda b: b.concatenate([huge(b, (T,)), huge(b, (T,))], 0)),
    ("gather with index arrays", lambda b: b.getitem(b.full((10, 10), 1.0, F32),
                                                     (ints(b, (N, 1)),
                                                      ints(b, (1, N))))),
    ("gather with a bool mask", lambda b: b.getitem(b.full((N, 1), 1.0, F32),
                                                    (b.full((N,), True, gg.bool),
                                                     ints(b, (N, 1))))),
    ("index_add", lambda b: b.index_add((T,), (ints(b, (3,)),), b.full((3,), 1.0, F32), F32)),
    ("upload of a NumPy array", lambda b: b.from_host(np.broadcast_to(np.float32(1), (T,)))),
    ("upload with a dtype", lambda b: b.from_host(np.broadcast_to(np.float32(1), (T,)),
                                                  gg.float64)),
    ("copy on the device", lambda b: b.from_host(huge(b, (T,)))),
    ("cast on the device", lambda b: b.from_host(huge(b, (T,)), gg.float64)),
    ("from cpu", lambda b: b.from_backend(np.broadcast_to(np.float32(1), (T,)),
                                          get_backend("cpu"))),
    ("from another sim device", lambda b: b.from_backend(huge(get_backend(PEER), (T,)),
                                                         get_backend(PEER))),
    ("reading back a strided array", lambda b: b.to_host(huge(b, (T,)))),
    ("bias_act", lambda b: b.bias_act(huge(b, (T, 2)), b.full((2,), 0.0, F32), "relu")),
    ("bias_act_backward", lambda b: b.bias_act_backward(huge(b, (T, 2)), huge(b, (T, 2)),
                                                        "tanh")),
    ("bias_act_grads", lambda b: b.bias_act_grads(huge(b, (T, 2)), huge(b, (T, 2)), "relu")),
    ("softmax_cross_entropy", lambda b: b.softmax_cross_entropy(
        huge(b, (T, 2)), huge(b, (T,), gg.int64, 0))),
    ("softmax_cross_entropy_backward", lambda b: b.softmax_cross_entropy_backward(
        huge(b, (T, 2)), huge(b, (T,), gg.int64, 0), huge(b, (T,)), huge(b, (T,)))),
    ("sgd_step's new momentum buffer", lambda b: b.sgd_step(
        [huge(b, (T,))], [huge(b, (T,))], [None], 0.1, 0.9, 0.0, 0.0, False)),
]


@pytest.mark.parametrize("name,call", CASES, ids=[c[0] for c in CASES])
def test_over_capacity_raises_before_numpy_allocates(sim, name, call):
    in_use = gg.sim.stats(DEV).in_use_bytes
    tracemalloc.start()
    try:
        start = time.perf_counter()
        with pytest.raises(gg.OutOfMemoryError) as info:
            call(sim)
        elapsed = time.perf_counter() - start
        host_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    err = caught(info)
    assert err.requested >= 10**13 and err.device == DEV
    assert err.capacity == gg.sim.profiles.get_profile("h100").memory_bytes
    assert err.free == err.capacity - err.in_use
    assert elapsed < 1.0, f"{name}: {elapsed:.2f} s to refuse"
    assert host_peak < 128 << 20, f"{name}: the host allocated {host_peak} bytes"  # operands
    assert gg.sim.stats(DEV).in_use_bytes == in_use  # nothing leaked, operands freed


def test_tensor_programs_over_capacity(sim):
    """The user's view of the same: tensors far larger than the host's RAM."""
    in_use = gg.sim.stats(DEV).in_use_bytes
    with pytest.raises(gg.OutOfMemoryError):
        gg.zeros(T, device=DEV)
    with pytest.raises(gg.OutOfMemoryError):
        gg.ones(4 * 10**6, 1, device=DEV) + gg.ones(1, 4 * 10**6, device=DEV)
    with pytest.raises(gg.OutOfMemoryError):
        gg.ones(N, 1, device=DEV) @ gg.ones(1, N, device=DEV)
    with pytest.raises(gg.OutOfMemoryError):
        gg.ones(1, device=DEV).expand(T).contiguous()
    x = gg.ones(10, 10, device=DEV, requires_grad=True)
    rows = gg.zeros(N, 1, dtype=gg.int64, device=DEV)
    with pytest.raises(gg.OutOfMemoryError):
        x[rows, rows.reshape(1, -1)]
    del x, rows
    gc.collect()
    assert gg.sim.stats(DEV).in_use_bytes == in_use


def test_the_message_names_device_request_in_use_free_and_capacity(sim):
    gg.sim.configure(DEV, memory_bytes=10 * 2**20)
    keep = gg.zeros(2**20, device=DEV)  # 4 MiB in use
    with pytest.raises(gg.OutOfMemoryError) as info:
        gg.zeros(2 * 2**20, device=DEV)  # 8 MiB more
    err = caught(info)
    assert (err.requested, err.in_use, err.free, err.capacity) == \
        (8 * 2**20, 4 * 2**20, 6 * 2**20, 10 * 2**20)
    text = str(err)
    for part in (DEV, "8.00 MiB (8388608 bytes)", "4.00 MiB (4194304 bytes) in use",
                 "6.00 MiB (6291456 bytes) free", "capacity of 10.00 MiB (10485760 bytes)"):
        assert part in text, (part, text)
    assert isinstance(err, MemoryError)
    del keep


def test_an_error_after_the_reservation_hands_it_back(sim):
    x = sim.full((4, 4), 1.0, F32)
    index = sim.from_host(np.array([0, 99]))
    in_use = gg.sim.stats(DEV).in_use_bytes
    with pytest.raises(IndexError) as info:  # NumPy finds the bad index while computing
        sim.getitem(x, (index,))
    caught(info)
    with pytest.raises(ValueError) as info:  # and the inner dimensions of a matmul
        sim.matmul(x, sim.full((3, 2), 1.0, F32))
    caught(info)
    assert gg.sim.stats(DEV).in_use_bytes == in_use


def _fail(*args, **kwargs):
    raise MemoryError("Unable to allocate 3.64 TiB for an array")  # as NumPy says


HOST_FAILURES = [
    ("unary", "unary", lambda b: b.unary("exp", huge(b, (T,)))),
    ("binary", "binary", lambda b: b.binary("add", huge(b, (T,)), 1.0)),
    ("matmul", "matmul", lambda b: b.matmul(huge(b, (T, 2)), b.full((2, 2), 1.0, F32))),
    ("upload", "from_host", lambda b: b.from_host(np.broadcast_to(np.float32(1), (T,)))),
    ("softmax_cross_entropy", "softmax_cross_entropy",
     lambda b: b.softmax_cross_entropy(huge(b, (T, 2)), huge(b, (T,), gg.int64, 0))),
]


@pytest.mark.parametrize("name,helper,call", HOST_FAILURES, ids=[c[0] for c in HOST_FAILURES])
def test_host_ram_too_small_is_reported_and_releases_the_reservation(sim, monkeypatch, name,
                                                                     helper, call):
    gg.sim.configure(DEV, memory_bytes=10**15)  # the model has room for petabytes
    in_use = gg.sim.stats(DEV).in_use_bytes
    # the cpu backend, which computes the sim's values, cannot allocate (without really trying)
    monkeypatch.setattr(NumpyBackend, helper, _fail)
    with pytest.raises(HostMemoryError) as info:
        call(sim)
    err = caught(info)
    assert isinstance(err, MemoryError) and not isinstance(err, gg.OutOfMemoryError)
    assert err.requested >= 10**12 and err.device == DEV
    text = str(err)
    assert f"({err.requested} bytes)" in text and DEV in text
    assert "host memory" in text and "smaller problem" in text
    assert isinstance(err.__cause__, MemoryError)
    assert gg.sim.stats(DEV).in_use_bytes == in_use


def test_host_ram_too_small_for_a_fill(sim, monkeypatch):
    gg.sim.configure(DEV, memory_bytes=10**15)
    monkeypatch.setattr(NumpyBackend, "full", _fail)
    with pytest.raises(HostMemoryError) as info:
        gg.zeros(T, device=DEV)
    caught(info)
    monkeypatch.undo()
    assert gg.sim.stats(DEV).in_use_bytes == 0
    x = gg.zeros(10**6, device=DEV)  # the device still works, and counts right
    assert gg.sim.stats(DEV).in_use_bytes == 4 * 10**6 + 256  # rounded up to 512 bytes
    del x


# ---- shape inference agrees with NumPy --------------------------------------------------------
def _random_index(rng, shape):
    index, dim, ellipsis = [], 0, False
    for _ in range(rng.integers(0, 6)):
        size = shape[dim] if dim < len(shape) else 3
        kind = rng.random()
        if kind < 0.15:
            index.append(None)
        elif kind < 0.25 and not ellipsis:
            index.append(Ellipsis)
            ellipsis = True
        elif kind < 0.4:
            index.append(int(rng.integers(-size, size)) if size else 0)
            dim += 1
        elif kind < 0.55:
            index.append(slice(*(rng.choice([None, -2, 0, 1, 5]), rng.choice([None, -1, 2, 7]),
                                 rng.choice([None, 1, 2, -1, -3]))))
            dim += 1
        elif kind < 0.62:
            index.append(bool(rng.random() < 0.5))
        elif kind < 0.85:
            shape_ = [(), (2,), (1,), (3, 1), (1, 2), (2, 2)][rng.integers(0, 6)]
            index.append(rng.integers(0, max(size, 1), size=shape_))
            dim += 1
        else:
            k = int(rng.integers(0, 3))
            dims = tuple(shape[dim:dim + k]) + (2,) * max(0, dim + k - len(shape))
            index.append(rng.random(dims) < 0.5)
            dim += k
    return tuple(index)


def _outcome(fn):
    try:
        return fn()
    except (IndexError, ValueError) as err:
        return type(err)


# NumPy 1 warns about some random index forms (lists read as tuples) that it still accepts
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_getitem_shapes_match_numpy():
    rng = np.random.default_rng(0)
    checked = 0
    for _ in range(5000):
        shape = tuple(int(d) for d in rng.integers(0, 4, size=rng.integers(0, 5)))
        index = _random_index(rng, shape)
        want = _outcome(lambda: np.zeros(shape)[index].shape)
        got = _outcome(lambda: shapes.getitem(shape, index))
        if want is IndexError and isinstance(got, tuple):
            continue  # an index out of bounds: found by NumPy when it computes
        assert got == want, (shape, index)
        checked += 1
    assert checked > 4000


def test_other_shapes_match_numpy():
    rng = np.random.default_rng(1)
    for _ in range(2000):
        ndim = int(rng.integers(0, 4))
        a = tuple(int(d) for d in rng.integers(0, 4, size=ndim))
        b = tuple(int(d) if rng.random() < 0.7 else 1 for d in a[int(rng.integers(0, ndim + 1)):])
        assert _outcome(lambda: shapes.broadcast(a, b)) == \
            _outcome(lambda: np.broadcast_shapes(a, b))
        x = np.zeros(a)
        for axis in [None] + list(range(-ndim, ndim)) + ([(0, ndim - 1)] if ndim > 1 else []):
            for keepdims in (False, True):
                assert shapes.reduce(a, axis, keepdims) == \
                    np.sum(x, axis=axis, keepdims=keepdims).shape
        if ndim:
            target = list(a)
            target[int(rng.integers(0, ndim))] = -1
            assert _outcome(lambda: shapes.reshape(x.size, tuple(target))) == \
                _outcome(lambda: x.reshape(target).shape)
            axis = int(rng.integers(-ndim, ndim))
            other = list(a)
            other[axis] = int(rng.integers(0, 3))
            assert shapes.concatenate([a, tuple(other)], axis) == \
                np.concatenate([x, np.zeros(other)], axis).shape
    for a, b in [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)),
                 ((5, 2, 3), (3, 4)), ((3,), (5, 3, 4)), ((5, 1, 2, 3), (4, 3, 2)),
                 ((1, 2, 3), (5, 3, 4))]:
        assert shapes.matmul(a, b) == np.matmul(np.zeros(a), np.zeros(b)).shape
    for args in [(0, 10, 3), (10, 0, -3), (5, 5, 1), (0.0, 1.0, 0.1), (1.5, -2.0, -0.25),
                 (-3, 3, 0.5), (0, 1, 0.3), (1e-3, 0.9, 1 / 3)]:
        assert shapes.arange_length(*args) == len(np.arange(*args))
    assert shapes.arange_length(0, 10**12, 7) == 142857142858


DTYPES = [gg.bool, gg.uint8, gg.int8, gg.int32, gg.int64, gg.float16, gg.bfloat16, gg.float32,
          gg.float64]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_inferred_sizes_are_exact_for_every_dtype(sim, dtype):
    """Inference never disagrees with what NumPy then computes (``shape_misses`` counts it)."""
    cpu = get_backend("cpu")
    values = np.arange(12).reshape(3, 4) % 3
    for b in (sim, cpu):
        x = b.from_host(values, dtype)
        row = b.from_host(values[:1], dtype)
        mask = b.from_host(values > 0)
        results = [b.cast(x, gg.float32), b.binary("eq", x, row), b.where(mask, x, row),
                   b.contiguous(b.permute(x, (1, 0))), b.concatenate([x, row], 0),
                   b.getitem(x, (mask,)), b.getitem(x, (b.from_host(np.array([2, 0])),)),
                   b.reduce("max", x, 0, True), b.reduce("argmin", x, None, False)]
        if dtype is not gg.bool:
            results += [b.binary("add", x, row, dtype), b.binary("mul", x, 2, dtype),
                        b.reduce("sum", x, 1, False), b.unary("neg", x)]
            if dtype.is_floating_point:
                results += [b.unary("exp", x), b.reduce("mean", x, (0, 1), False),
                            b.matmul(x, b.permute(x, (1, 0)))]
            else:
                results += [b.unary("sqrt", x)]  # int -> float
        if b is sim:
            got = [sim.to_host(r) for r in results]
        else:
            expected = results
    assert sim.shape_misses == 0
    for g, e in zip(got, expected):
        assert g.dtype == e.dtype and g.shape == e.shape
