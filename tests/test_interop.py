"""NumPy and DLPack interop (gpugrad/interop.py, gg.from_numpy, gg.from_dlpack, Tensor.numpy).

Zero-copy claims are checked by writing through one side and reading the other. The cuda device
runs here on the NumPy stand-in for CuPy (``fake_cuda``), which checks the plumbing; the test at
the end that needs a real GPU skips without one.
"""
import gc
import sys
import warnings

import numpy as np
import pytest

import gpugrad as gg
from gpugrad.backends.base import Backend

GRAD_ERROR = ("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
              "instead.")
EXPORT_ERROR = "Can't export tensors that require gradient, use tensor.detach()"
NUMPY_2 = int(np.__version__.split(".")[0]) >= 2


def _values(t):
    return np.array(t.tolist())


@pytest.fixture
def fake_gpu_memory(fake_cuda, monkeypatch):
    """The fake CuPy's arrays report GPU memory (kDLCUDA), as CuPy's do; returns the fake."""
    fake, _ = fake_cuda
    monkeypatch.setattr(fake.ndarray, "__dlpack_device__", lambda self: (2, 0), raising=False)
    return fake


# ---- np.asarray(t) and Tensor.numpy -----------------------------------------------------------
def test_asarray_gives_a_numeric_array_per_device(device):
    t = gg.tensor([[1.0, 2.0], [3.0, 4.0]], device=device)
    if device == "cuda":
        with pytest.raises(TypeError, match=r"can't convert cuda:0 device type tensor to numpy\. "
                                            r"Use Tensor\.cpu\(\)"):
            np.asarray(t)
        return
    if device == "sim":
        before = gg.sim.stats("sim:0").d2h_bytes
    array = np.asarray(t)
    assert type(array) is np.ndarray and array.dtype == np.float32
    np.testing.assert_array_equal(array, [[1.0, 2.0], [3.0, 4.0]])
    if device == "cpu":  # the tensor's own array: a write through either shows in both
        assert array is t._data
        array[0, 0] = 10.0
        assert t.tolist()[0][0] == 10.0
    else:  # a modeled device-to-host copy, as numpy() makes
        assert gg.sim.stats("sim:0").d2h_bytes == before + 16
        array[0, 0] = 10.0
        assert t.tolist()[0][0] == 1.0


def test_asarray_of_cuda_is_refused_on_the_fake_gpu(fake_gpu_memory):
    t = gg.ones(3, device="cuda")
    with pytest.raises(TypeError, match=r"cuda:0 device type tensor.*Tensor\.cpu\(\) to copy"):
        np.asarray(t)
    np.testing.assert_array_equal(t.numpy(), [1.0, 1.0, 1.0])  # numpy() still reads back
    np.testing.assert_array_equal(np.asarray(t.cpu()), [1.0, 1.0, 1.0])


def test_asarray_dtype_and_copy_keywords_on_cpu():
    t = gg.tensor([1.0, 2.0])
    same = np.asarray(t, dtype=np.float32)
    assert np.shares_memory(same, t.numpy())
    wider = np.asarray(t, dtype=np.float64)
    assert wider.dtype == np.float64 and not np.shares_memory(wider, t.numpy())
    copied = np.array(t, copy=True)
    assert not np.shares_memory(copied, t.numpy())
    np.testing.assert_array_equal(copied, [1.0, 2.0])
    # NumPy 1.x calls __array__() and __array__(dtype) without the copy keyword
    assert t.__array__() is t._data
    assert t.__array__(np.dtype(np.float64)).dtype == np.float64
    assert t.__array__(copy=False) is t._data
    with pytest.raises(ValueError, match="Unable to avoid copy.*float32 to float64"):
        t.__array__(np.float64, copy=False)
    if NUMPY_2:
        assert np.shares_memory(np.asarray(t, copy=False), t.numpy())
        with pytest.raises(ValueError, match="Unable to avoid copy"):
            np.asarray(t, dtype=np.float64, copy=False)


def test_asarray_copy_false_on_sim_raises_because_reading_back_copies():
    t = gg.ones(2, device="sim")
    with pytest.raises(ValueError, match="sim:0 tensor is read back with a device-to-host copy"):
        t.__array__(copy=False)
    assert t.__array__(copy=True).tolist() == [1.0, 1.0]


def test_asarray_of_zero_d_tensors_is_numeric_not_object():
    array = np.array([gg.tensor(1.5), gg.tensor(2.5)])
    assert array.dtype == np.float32 and array.tolist() == [1.5, 2.5]
    assert np.asarray(gg.tensor(3)).dtype == np.int64


def test_a_tensor_that_requires_grad_is_refused_as_in_pytorch(device):
    x = gg.tensor([1.0, 2.0], device=device, requires_grad=True)
    for t in (x, x * 2):  # a leaf and a result alike
        with pytest.raises(RuntimeError) as info:
            t.numpy()
        assert str(info.value) == GRAD_ERROR
        with pytest.raises(RuntimeError, match=r"Use tensor\.detach\(\)\.numpy\(\) instead"):
            np.asarray(t)
        assert t.detach().numpy().tolist() == t.tolist()
        assert t.numpy(force=True).tolist() == t.tolist()
    with gg.no_grad():
        assert (x * 2).numpy().tolist() == [2.0, 4.0]


def test_numpy_shares_memory_on_cpu_even_with_force():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    forced = x.numpy(force=True)
    assert np.shares_memory(forced, x.detach().numpy())
    forced[0] = 5.0
    assert x.tolist() == [5.0, 2.0]
    assert x.requires_grad  # force detaches the array, not the tensor


def test_numpy_copies_on_sim_and_cuda(device):
    if device == "cpu":
        pytest.skip("cpu shares memory (test_asarray_gives_a_numeric_array_per_device)")
    t = gg.tensor([1.0, 2.0], device=device, requires_grad=True)
    array = t.numpy(force=True)
    array[0] = 9.0
    assert t.tolist() == [1.0, 2.0]


def test_error_words_match_pytorch(torch):
    r = torch.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError) as theirs:
        r.numpy()
    assert str(theirs.value) == GRAD_ERROR
    with pytest.raises(BufferError) as theirs:
        r.__dlpack__()
    assert str(theirs.value) == EXPORT_ERROR
    ours = gg.ones(2, requires_grad=True)
    with pytest.raises(BufferError) as info:
        ours.__dlpack__()
    assert str(info.value) == EXPORT_ERROR


def test_library_readers_accept_tensors_that_require_grad(tmp_path):
    from gpugrad import anomaly, viz

    w = gg.tensor([1.0, float("nan")], requires_grad=True)
    assert anomaly._count_bad(w) == ("nan", "1 NaN of 2 values")
    assert viz._values(w) == "[1.0000, nan]"
    gg.save({"w": w}, tmp_path / "w.npz")
    back = gg.load(tmp_path / "w.npz")["w"]
    assert back.requires_grad and np.isnan(back.tolist()[1])
    x = gg.tensor([1.0, 2.0], dtype=gg.float64, requires_grad=True)
    assert gg.gradcheck(lambda t: (t * t).sum(), (x,))


def test_numpy_docstring_states_pytorchs_rule():
    doc = gg.Tensor.numpy.__doc__
    assert "Unlike PyTorch, works on tensors that require grad" not in doc
    assert "force=True" in doc and "detach" in doc


# ---- NumPy ufuncs -----------------------------------------------------------------------------
UNARY = [np.negative, np.positive, np.exp, np.log, np.sqrt, np.absolute, np.tanh, np.sign,
         np.square, np.log1p, np.expm1]
BINARY = [np.add, np.subtract, np.multiply, np.divide, np.power, np.maximum, np.minimum,
          np.equal, np.not_equal, np.less, np.less_equal, np.greater, np.greater_equal]


def _method_exists(ufunc):
    from gpugrad.interop import UNARY_UFUNCS

    return hasattr(gg.Tensor, UNARY_UFUNCS[ufunc.__name__])


@pytest.mark.parametrize("ufunc", UNARY, ids=lambda u: u.__name__)
def test_unary_ufuncs_return_tensors(ufunc, device):
    values = np.array([0.5, 1.0, 2.0], dtype=np.float32)
    t = gg.tensor(values, device=device)
    if not _method_exists(ufunc):  # an op another change is adding: refused by name until then
        with pytest.raises(TypeError, match=f"np.{ufunc.__name__} is not supported"):
            ufunc(t)
        return
    out = ufunc(t)
    assert isinstance(out, gg.Tensor) and out.device == t.device and out.dtype == gg.float32
    np.testing.assert_allclose(_values(out), ufunc(values), rtol=1e-6)


@pytest.mark.parametrize("ufunc", BINARY, ids=lambda u: u.__name__)
def test_binary_ufuncs_take_tensors_arrays_and_numbers_in_either_order(ufunc, device):
    a = np.array([0.5, 1.0, 2.0], dtype=np.float32)
    b = np.array([1.0, 1.0, 3.0], dtype=np.float32)
    ta, tb = gg.tensor(a, device=device), gg.tensor(b, device=device)
    for args, expected in (((ta, tb), ufunc(a, b)), ((ta, b), ufunc(a, b)),
                           ((a, tb), ufunc(a, b)), ((ta, 2.0), ufunc(a, np.float32(2.0))),
                           ((2.0, tb), ufunc(np.float32(2.0), b))):
        out = ufunc(*args)
        assert isinstance(out, gg.Tensor) and out.device == ta.device, args
        np.testing.assert_allclose(_values(out), expected, rtol=1e-6)


def test_logical_ufuncs():
    a = gg.tensor([True, False, True])
    b = np.array([True, True, False])
    assert np.logical_and(a, b).tolist() == [True, False, False]
    assert np.logical_or(b, a).tolist() == [True, True, True]
    assert np.logical_not(a).tolist() == [False, True, False]


def test_matmul_ufunc_and_operator_with_arrays(device):
    m = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = gg.tensor(m.T.copy(), device=device)
    for out in (np.matmul(m, t), m @ t, np.matmul(t, m)):
        assert isinstance(out, gg.Tensor) and out.device == t.device
    np.testing.assert_allclose(_values(m @ t), m @ m.T)
    np.testing.assert_allclose(_values(t @ m), m.T @ m)


def test_ufuncs_record_autograd(device):
    x = gg.tensor([0.5, 1.0, 2.0], device=device, requires_grad=True)
    w = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    loss = np.sum(w * np.exp(x) + np.maximum(x, 1.0))
    loss.backward()
    expected = np.exp([0.5, 1.0, 2.0]) * w + np.array([0.0, 0.5, 1.0])  # max's tie: half each
    np.testing.assert_allclose(_values(x.grad), expected, rtol=1e-5)


@pytest.mark.filterwarnings("ignore:__array_wrap__:DeprecationWarning")  # PyTorch's own
def test_ndarray_times_tensor_is_a_tensor_with_pytorchs_dtypes(device, torch):
    t = gg.tensor([1.0, 2.0], device=device)
    out = np.array([3.0, 4.0]) * t  # a float64 array with dimensions: float64, as in PyTorch
    assert isinstance(out, gg.Tensor) and out.dtype == gg.float64 and out.tolist() == [3.0, 8.0]
    assert str((torch.tensor([1.0, 2.0]) * np.array([3.0, 4.0])).dtype) == "torch.float64"
    for scalar in (np.float32(2), np.float64(2), np.int64(2)):  # NumPy scalars are weak
        out = scalar * t
        assert isinstance(out, gg.Tensor) and out.dtype == gg.float32
        assert str((scalar * torch.tensor([1.0, 2.0])).dtype) == "torch.float32"
        assert out.tolist() == [2.0, 4.0]
    assert (np.float32(5) - t).tolist() == [4.0, 3.0]  # order kept
    assert (np.array([4.0, 4.0]) / t).tolist() == [4.0, 2.0]
    assert (np.array([2.0, 2.0]) > t).tolist() == [True, False]


def test_tensor_times_ndarray_is_a_tensor(device, torch):
    # the array joins as a tensor of its own dtype on the tensor's device, as in PyTorch
    out = gg.tensor([1.0, 2.0], device=device) * np.array([3.0, 4.0])
    expected = torch.tensor([1.0, 2.0]) * np.array([3.0, 4.0])
    assert isinstance(out, gg.Tensor) and out.tolist() == expected.tolist() == [3.0, 8.0]
    assert out.device == gg.Device(device) and out.dtype.name == str(expected.dtype)[6:]


def test_ufunc_reduce_maps_onto_reductions(device):
    values = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = gg.tensor(values, device=device)
    np.testing.assert_array_equal(_values(np.add.reduce(t)), np.add.reduce(values))
    np.testing.assert_array_equal(_values(np.add.reduce(t, axis=None)), values.sum())
    np.testing.assert_array_equal(_values(np.add.reduce(t, axis=1, keepdims=True)),
                                  values.sum(axis=1, keepdims=True))
    np.testing.assert_array_equal(_values(np.maximum.reduce(t, axis=1)), values.max(axis=1))
    np.testing.assert_array_equal(_values(np.minimum.reduce(t)), values.min(axis=0))
    assert np.add.reduce(t, dtype=np.float64).dtype == gg.float64


@pytest.mark.parametrize("call, name", [
    (lambda t: np.spacing(t), "np.spacing"),
    (lambda t: np.nextafter(t, 1.0), "np.nextafter"),
    (lambda t: np.add.accumulate(t), "np.add.accumulate"),
    (lambda t: np.multiply.reduce(t), "np.multiply.reduce"),
    (lambda t: np.add.outer(t, t), "np.add.outer"),
    (lambda t: np.exp(t, out=np.empty(2, np.float32)), r"np.exp\(\.\.\., out=\.\.\.\)"),
    (lambda t: np.add(t, 1.0, dtype=np.float64), "np.add: the keyword dtype"),
    (lambda t: np.add.reduce(t, initial=1.0), "np.add.reduce: the keyword initial"),
], ids=["unary", "binary", "accumulate", "reduce", "outer", "out", "dtype", "initial"])
def test_ufuncs_without_a_gpugrad_op_raise_a_clear_type_error(call, name):
    t = gg.tensor([1.0, 2.0])
    with pytest.raises(TypeError, match=name) as info:
        call(t)
    assert "detach().numpy()" in str(info.value)


# ---- NumPy functions --------------------------------------------------------------------------
M = np.array([[1.0, -2.0, 3.0], [-4.0, 5.0, -6.0]], dtype=np.float32)
FUNCTIONS = {  # id: (numpy call on x, which is the tensor or the array M)
    "sum": lambda x: np.sum(x), "sum_axis": lambda x: np.sum(x, axis=0, keepdims=True),
    "mean": lambda x: np.mean(x, axis=1), "max": lambda x: np.max(x),
    "amax_axis": lambda x: np.amax(x, axis=0), "min": lambda x: np.min(x, axis=1, keepdims=True),
    "amin": lambda x: np.amin(x), "argmax": lambda x: np.argmax(x, axis=1),
    "argmin": lambda x: np.argmin(x), "var": lambda x: np.var(x, axis=1, ddof=1),
    "std": lambda x: np.std(x), "any": lambda x: np.any(x > 4), "all": lambda x: np.all(x > -7),
    "reshape": lambda x: np.reshape(x, (3, 2)), "reshape_int": lambda x: np.reshape(x, -1),
    "ravel": lambda x: np.ravel(x), "transpose": lambda x: np.transpose(x),
    "transpose_axes": lambda x: np.transpose(x, (1, 0)),
    "swapaxes": lambda x: np.swapaxes(x, 0, 1), "squeeze": lambda x: np.squeeze(x[None]),
    "expand_dims": lambda x: np.expand_dims(x, (0, -1)),
    "broadcast_to": lambda x: np.broadcast_to(x, (2, 2, 3)),
    "concatenate": lambda x: np.concatenate([x, M], axis=1),
    "concatenate_none": lambda x: np.concatenate([M, x], axis=None),
    "stack": lambda x: np.stack([x, x], axis=1),
    "where": lambda x: np.where(x > 0, x, 0.0), "where_array": lambda x: np.where(M > 0, M, x),
    "dot": lambda x: np.dot(x, M.T), "clip": lambda x: np.clip(x, -1.5, 2.5),
    "clip_upper": lambda x: np.clip(x, None, 2.5), "clip_arrays": lambda x: np.clip(M, x - 1, 2),
    "zeros_like": lambda x: np.zeros_like(x), "ones_like": lambda x: np.ones_like(x),
    "full_like": lambda x: np.full_like(x, 7.0), "empty_like": lambda x: np.empty_like(x) * 0,
    "zeros_like_shape": lambda x: np.zeros_like(x, shape=(4,)),
}


@pytest.mark.parametrize("name", FUNCTIONS)
def test_numpy_functions_map_onto_gpugrad_ops(name, device):
    call = FUNCTIONS[name]
    t = gg.tensor(M, device=device)
    out = call(t)
    assert isinstance(out, gg.Tensor) and out.device == t.device
    expected = np.asarray(call(M))
    assert out.shape == expected.shape
    np.testing.assert_allclose(_values(out), expected, rtol=1e-6)


def test_metadata_and_comparison_functions(device):
    t = gg.tensor(M, device=device)
    assert np.shape(t) == (2, 3) and np.ndim(t) == 2 and np.size(t) == 6
    assert np.size(t, 1) == 3
    if device == "cuda":
        return  # allclose and array_equal read values as np.asarray(t) does: refused on cuda
    assert np.allclose(t, M) is True and np.allclose(M + 1, t) is False
    assert np.array_equal(t, M) is True


def test_numpy_functions_record_autograd(device):
    x = gg.tensor(M, device=device, requires_grad=True)
    loss = np.sum(np.concatenate([x, x * 2], axis=0)) + np.mean(np.reshape(x, -1))
    loss.backward()
    np.testing.assert_allclose(_values(x.grad), np.full((2, 3), 3.0 + 1 / 6), rtol=1e-6)


@pytest.mark.parametrize("call, name", [
    (lambda t: np.percentile(t, 50), "np.percentile"),
    (lambda t: np.cumsum(t), "np.cumsum"),
    (lambda t: np.sum(t, out=np.empty(())), "np.sum: the keyword out"),
    (lambda t: np.max(t, initial=0.0), "np.amax: the keyword initial"),
    (lambda t: np.reshape(t, (3, 2), order="F"), "np.reshape: the keyword order"),
    (lambda t: np.where(t > 0), r"np.where\(condition\) with one argument"),
    (lambda t: np.dot(t[None, None], t), "np.dot of arrays with more than 2 dimensions"),
], ids=["percentile", "cumsum", "out", "initial", "order", "where1", "dot3d"])
def test_other_numpy_functions_raise_a_type_error_naming_them(call, name):
    t = gg.tensor([[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(TypeError, match=name):
        call(t)


def test_numpy_function_errors_list_the_mapped_functions():
    with pytest.raises(TypeError, match=r"maps onto its ops: .*np\.concatenate.*np\.sum") as info:
        np.median(gg.tensor([1.0, 2.0]))
    assert "t.detach().numpy()" in str(info.value)


# ---- DLPack -------------------------------------------------------------------------------------
def test_torch_and_gpugrad_share_cpu_memory_both_ways(torch):
    t = gg.tensor([1.0, 2.0, 3.0])
    theirs = torch.from_dlpack(t)
    theirs[0] = 10.0
    assert t.tolist() == [10.0, 2.0, 3.0]
    t.fill_(5.0)  # a write through gpugrad's side
    assert theirs.tolist() == [5.0, 5.0, 5.0]

    source = torch.arange(4, dtype=torch.float64)
    ours = gg.from_dlpack(source)
    assert ours.device == "cpu" and ours.dtype == gg.float64
    source[1] = 42.0
    assert ours.tolist() == [0.0, 42.0, 2.0, 3.0]
    ours[2] = -1.0
    assert source.tolist() == [0.0, 42.0, -1.0, 3.0]


def test_numpy_and_gpugrad_share_memory_both_ways():
    t = gg.tensor([[1, 2], [3, 4]])
    array = np.from_dlpack(t)
    assert np.shares_memory(array, t.numpy()) and array.dtype == np.int64
    t.fill_(7)
    assert array.tolist() == [[7, 7], [7, 7]]
    if array.flags.writeable:  # NumPy 1.x imports every DLPack array read-only
        array[0, 0] = 1
        assert t.tolist()[0][0] == 1

    source = np.arange(6, dtype=np.float32).reshape(2, 3)[:, ::2]  # strided: still shared
    ours = gg.from_dlpack(source)
    assert np.shares_memory(ours.numpy(), source)
    source[1, 1] = 100.0
    assert ours.tolist() == [[0.0, 2.0], [3.0, 100.0]]
    if NUMPY_2:  # NumPy 1.x imports read-only, and cannot export read-only arrays again
        again = gg.from_dlpack(gg.from_dlpack(source))
        assert np.shares_memory(again.numpy(), source)


def test_dlpack_device_and_protocol_keywords():
    t = gg.tensor([1.0, 2.0])
    assert tuple(int(v) for v in t.__dlpack_device__()) == (1, 0)
    assert "dltensor" in repr(t.__dlpack__())
    assert "dltensor" in repr(t.__dlpack__(stream=None, max_version=(1, 0), dl_device=(1, 0)))
    if NUMPY_2:
        assert "dltensor_versioned" in repr(t.__dlpack__(max_version=(1, 0)))
        copied = np.from_dlpack(t, copy=True)
        assert not np.shares_memory(copied, t.numpy()) and copied.tolist() == [1.0, 2.0]


class _OldStyleArray:
    """An array whose ``__dlpack__`` takes only ``stream`` (NumPy 1.x, CuPy 12)."""

    def __init__(self, array):
        self.array = array
        self.calls = []

    def __dlpack__(self, stream=None):
        self.calls.append(stream)
        return self.array.__dlpack__()

    def __dlpack_device__(self):
        return (1, 0)

    def copy(self):
        return _OldStyleArray(self.array.copy())


def test_old_producers_get_only_stream():
    backend = Backend()
    old = _OldStyleArray(np.arange(3.0))
    capsule = backend._array_dlpack(old, max_version=(1, 0), dl_device=(1, 0))
    assert "dltensor" in repr(capsule) and old.calls == [None]
    backend._array_dlpack(old, copy=True)  # the copy is exported, not the original
    assert old.calls == [None]
    with pytest.raises(BufferError, match=r"only on their own device \(1, 0\)"):
        backend._array_dlpack(old, dl_device=(2, 0))


def test_dlpack_refuses_tensors_that_require_grad(device):
    t = gg.ones(2, device=device, requires_grad=True)
    with pytest.raises(BufferError, match=r"Can't export tensors that require gradient"):
        t.__dlpack__()


def test_sim_tensors_refuse_dlpack_with_a_pointer_to_cpu(torch):
    t = gg.ones(2, device="sim")
    for export in (t.__dlpack__, t.__dlpack_device__, lambda: torch.from_dlpack(t),
                   lambda: np.from_dlpack(t), lambda: gg.from_dlpack(t)):
        with pytest.raises(BufferError, match=r"simulated GPU has no real device memory.*\.cpu\(\)"):
            export()
    assert torch.from_dlpack(t.cpu()).tolist() == [1.0, 1.0]


def test_bool_round_trips_without_copies(torch):
    try:
        np.ones(1, dtype=bool).__dlpack__()
    except BufferError:
        pytest.skip(f"NumPy {np.__version__} cannot export bool arrays through DLPack")
    t = gg.tensor([True, False, True])
    theirs = torch.from_dlpack(t)
    assert theirs.dtype == torch.bool
    theirs[1] = True
    assert t.tolist() == [True, True, True]
    source = torch.tensor([False, True])
    ours = gg.from_dlpack(source)
    source[0] = True
    assert ours.dtype == gg.bool and ours.tolist() == [True, True]


def test_bfloat16_goes_through_pytorch_without_copies(torch):
    t = gg.tensor([1.0, 2.0, 3.0], dtype=gg.bfloat16)
    theirs = torch.from_dlpack(t)
    assert theirs.dtype == torch.bfloat16
    theirs[0] = 8.0
    assert t.float().tolist() == [8.0, 2.0, 3.0]
    source = torch.tensor([1.5, -2.0], dtype=torch.bfloat16)
    ours = gg.from_dlpack(source)
    assert ours.dtype == gg.bfloat16
    source[1] = 4.0
    assert ours.float().tolist() == [1.5, 4.0]


def test_bfloat16_export_without_pytorch_says_what_to_do(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # as if PyTorch were not imported
    t = gg.tensor([1.0], dtype=gg.bfloat16)
    with pytest.raises(BufferError, match=r"NumPy cannot export bfloat16.*\.float\(\)"):
        t.__dlpack__()


def test_from_dlpack_refuses_dtypes_gpugrad_lacks(torch):
    with pytest.raises(TypeError, match="unsupported dtype uint16; gpugrad supports"):
        gg.from_dlpack(torch.zeros(2, dtype=torch.uint16))
    with pytest.raises(TypeError, match="complex64"):
        gg.from_dlpack(np.zeros(2, np.complex64))


class _Exporter:
    def __init__(self, device_type, array=None):
        self.device_type = device_type
        self.array = np.zeros(2, np.float32) if array is None else array

    def __dlpack__(self, **kwargs):
        return self.array.__dlpack__()

    def __dlpack_device__(self):
        return (self.device_type, 0)


@pytest.mark.parametrize("kind, name", [(10, "kDLROCM"), (8, "kDLMetal"), (99, "an unknown")])
def test_from_dlpack_names_an_unsupported_device_type(kind, name):
    with pytest.raises(BufferError, match=rf"DLPack device type {kind} \({name}.*cannot read"):
        gg.from_dlpack(_Exporter(kind))


def test_from_dlpack_needs_the_protocol_not_a_capsule():
    with pytest.raises(TypeError, match="__dlpack__ and __dlpack_device__.*not a capsule"):
        gg.from_dlpack(np.zeros(2).__dlpack__())
    with pytest.raises(TypeError, match="got list"):
        gg.from_dlpack([1.0, 2.0])


def test_from_dlpack_of_cuda_memory_without_a_gpu_says_why():
    if gg.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(gg.DeviceUnavailableError, match="cuda:0 is unavailable"):
        gg.from_dlpack(_Exporter(2))


def test_cuda_dlpack_goes_through_cupys_protocol(fake_gpu_memory, monkeypatch):
    fake = fake_gpu_memory
    t = gg.tensor([1.0, 2.0], device="cuda")
    assert t.__dlpack_device__() == (2, 0)
    assert "dltensor" in repr(t.__dlpack__())  # the fake's array exports through NumPy's method
    with pytest.raises(BufferError, match="require gradient"):
        t.requires_grad_().__dlpack__()

    received = []

    def from_dlpack(obj):  # CuPy's import, which shares the producer's GPU memory
        received.append(obj)
        return fake.ndarray.__new__(fake.ndarray, obj.array.shape, obj.array.dtype,
                                    buffer=obj.array)

    monkeypatch.setattr(fake, "from_dlpack", from_dlpack, raising=False)
    source = _Exporter(2, np.array([3.0, 4.0], np.float32))
    ours = gg.from_dlpack(source)
    assert received == [source] and ours.device == "cuda:0" and ours.tolist() == [3.0, 4.0]
    source.array[0] = 30.0
    assert ours.tolist() == [30.0, 4.0]


@pytest.mark.parametrize("device", ["cpu", "sim"])
def test_cuda_array_interface_is_cupys_and_only_on_cuda(device, fake_cuda):
    t = gg.ones(2, device=device)
    assert not hasattr(t, "__cuda_array_interface__")
    with pytest.raises(AttributeError, match=f"on a {t.device} tensor.*\\.cuda\\(\\)"):
        t.__cuda_array_interface__  # noqa: B018
    on_gpu = gg.ones(2, device="cuda")
    assert on_gpu.__cuda_array_interface__ is on_gpu._data.__cuda_array_interface__
    with pytest.raises(RuntimeError, match="requires grad.*detach"):
        on_gpu.requires_grad_().__cuda_array_interface__  # noqa: B018


@pytest.mark.cuda
def test_real_gpu_shares_memory_with_cupy():
    if not gg.cuda.is_available():
        pytest.skip(f"needs a GPU: {gg.cuda.unavailable_reason()}")
    import cupy

    t = gg.arange(4, device="cuda", dtype=gg.float32)
    theirs = cupy.from_dlpack(t)
    theirs[0] = 7.0
    assert t.tolist() == [7.0, 1.0, 2.0, 3.0]
    assert t.__cuda_array_interface__["data"][0] == theirs.data.ptr
    source = cupy.arange(3, dtype=cupy.float64)
    ours = gg.from_dlpack(source)
    source[2] = 9.0
    assert ours.device == "cuda:0" and ours.tolist() == [0.0, 1.0, 9.0]
    with pytest.raises(TypeError, match=r"Use Tensor\.cpu\(\)"):
        np.asarray(t)


@pytest.mark.cuda
def test_real_gpu_shares_memory_with_torch_cuda(torch):
    if not gg.cuda.is_available() or not torch.cuda.is_available():
        pytest.skip("needs a GPU usable by both CuPy and PyTorch")
    t = gg.zeros(3, device="cuda")
    theirs = torch.from_dlpack(t)
    assert theirs.is_cuda
    theirs[1] = 5.0
    assert t.tolist() == [0.0, 5.0, 0.0]
    source = torch.ones(2, device="cuda")
    ours = gg.from_dlpack(source)
    source[0] = 3.0
    assert ours.device == "cuda:0" and ours.tolist() == [3.0, 1.0]


# ---- gg.from_numpy --------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int64", "int32", "int16",
                                   "int8", "uint8", "bool", "bfloat16"])
def test_from_numpy_shares_memory(dtype):
    if dtype == "bfloat16":
        import ml_dtypes

        dtype = ml_dtypes.bfloat16
    array = np.zeros(3, dtype=dtype)
    t = gg.from_numpy(array)
    assert t.device == "cpu" and np.shares_memory(t.numpy(), array)
    assert str(t.dtype) == f"gpugrad.{np.dtype(dtype).name}"
    array[1] = 1
    assert t.tolist()[1] == 1
    t.fill_(True if dtype == "bool" else 1)
    assert array.tolist() == [1, 1, 1]


@pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")
def test_from_numpy_keeps_the_array_alive_and_shares_views():
    t = gg.from_numpy(np.arange(4.0))
    gc.collect()
    assert t.tolist() == [0.0, 1.0, 2.0, 3.0]
    base = np.arange(12.0).reshape(3, 4)
    for view in (base[:, 1::2], base[::-1], base.T):  # strided, negative strides, transposed
        t = gg.from_numpy(view)
        assert np.shares_memory(t.numpy(), base) and t.tolist() == view.tolist()
    base[0, 1] = -5.0
    assert gg.from_numpy(base[:, 1::2]).tolist()[0][0] == -5.0
    matrix = np.asmatrix(np.ones((2, 2)))
    t = gg.from_numpy(matrix)
    assert type(t._data) is np.ndarray and np.shares_memory(t.numpy(), matrix)


def test_from_numpy_in_place_ops_show_in_the_array():
    array = np.ones(3, dtype=np.float32)
    t = gg.from_numpy(array)
    with gg.no_grad():
        t.mul_(4.0)
    assert array.tolist() == [4.0, 4.0, 4.0]


@pytest.mark.parametrize("array, error, match", [
    (np.zeros(2, np.uint16), TypeError, "can't convert np.ndarray of type uint16"),
    (np.zeros(2, np.complex64), TypeError, "type complex64. The only supported types are"),
    (np.zeros(2, object), TypeError, "type object"),
    (np.zeros(2, ">f4"), ValueError, "byte order different from the native byte order"),
    ([1.0, 2.0], TypeError, r"expected np.ndarray \(got list\)"),
    (np.float32(1.0), TypeError, r"expected np.ndarray \(got numpy.float32\)"),
], ids=["uint16", "complex", "object", "big-endian", "list", "numpy-scalar"])
def test_from_numpy_refuses_what_it_cannot_share(array, error, match):
    with pytest.raises(error, match=match):
        gg.from_numpy(array)


def test_from_numpy_byte_order_and_scalars_as_in_pytorch(torch):
    for bad in (np.zeros(2, ">f4"),):
        with pytest.raises(ValueError, match="byte order"):
            torch.from_numpy(bad)
    with pytest.raises(TypeError, match=r"expected np.ndarray \(got numpy.float32\)"):
        torch.from_numpy(np.float32(1.0))


def test_from_numpy_of_a_read_only_array_warns_and_shares(torch):
    array = np.arange(3.0)
    array.flags.writeable = False
    with pytest.warns(UserWarning, match="not writable"):
        t = gg.from_numpy(array)
    assert np.shares_memory(t.numpy(), array)
    with pytest.raises((RuntimeError, ValueError)):  # NumPy refuses the write
        with gg.no_grad():
            t.add_(1.0)
    with warnings.catch_warnings(record=True) as theirs:
        warnings.simplefilter("always")
        torch.from_numpy(array)
    assert any("not writable" in str(w.message) for w in theirs)


def test_from_numpy_to_another_device_copies(device):
    if device == "cpu":
        pytest.skip("cpu shares (test_from_numpy_shares_memory)")
    array = np.arange(3.0)
    t = gg.from_numpy(array, device=device)
    assert t.device.type == device and t.dtype == gg.float64
    array[0] = 9.0
    assert t.tolist() == [0.0, 1.0, 2.0]
