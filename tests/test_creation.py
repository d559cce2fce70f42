"""Creation functions and the seeded generator."""
import numpy as np
import pytest

import gpugrad as gg


def test_tensor_copies_its_data(device):
    data = np.array([1.0, 2.0])
    t = gg.tensor(data, device=device)
    data[0] = 9.0
    assert t.tolist() == [1.0, 2.0]
    u = gg.tensor(t)
    assert u.tolist() == [1.0, 2.0] and u._data is not t._data


def test_zeros_ones_full_empty(device):
    assert gg.zeros(2, 3, device=device).tolist() == [[0.0] * 3] * 2
    assert gg.ones((2,), device=device).tolist() == [1.0, 1.0]
    assert gg.full((2,), 7.0, device=device).tolist() == [7.0, 7.0]
    assert gg.full((2,), 7, device=device).dtype == gg.int64
    assert gg.full((1,), True, device=device).dtype == gg.bool
    assert gg.empty(2, device=device).shape == (2,)
    assert gg.zeros(2, dtype=gg.float64, device=device).dtype == gg.float64
    z = gg.zeros(3, device=device, requires_grad=True)
    assert z.requires_grad and z.is_leaf


def test_like_functions(device):
    x = gg.ones(2, 3, dtype=gg.float64, device=device)
    for fn, value in ((gg.zeros_like, 0.0), (gg.ones_like, 1.0)):
        y = fn(x)
        assert y.shape == (2, 3) and y.dtype == gg.float64 and y.device == x.device
        assert y.sum().item() == 6 * value
    assert gg.full_like(x, 2.5).tolist() == [[2.5] * 3] * 2
    assert gg.rand_like(x).shape == (2, 3) and gg.randn_like(x).dtype == gg.float64


def test_arange(device):
    assert gg.arange(4, device=device).tolist() == [0, 1, 2, 3]
    assert gg.arange(4, device=device).dtype == gg.int64
    assert gg.arange(1, 2, 0.5, device=device).tolist() == [1.0, 1.5]
    assert gg.arange(1, 2, 0.5, device=device).dtype == gg.float32
    with pytest.raises(RuntimeError, match="step must be nonzero"):
        gg.arange(0, 1, 0)


def test_from_numpy_keeps_dtype(device):
    for dtype, expected in ((np.float32, gg.float32), (np.float64, gg.float64),
                            (np.int64, gg.int64), (np.bool_, gg.bool)):
        t = gg.from_numpy(np.zeros(2, dtype=dtype), device=device)
        assert t.dtype == expected
    with pytest.raises(TypeError, match="numpy.ndarray"):
        gg.from_numpy([1.0])


def test_manual_seed_makes_draws_repeatable(device):
    gg.manual_seed(123)
    a, b = gg.rand(3, device=device), gg.randn(2, 2, device=device)
    gg.manual_seed(123)
    c, d = gg.rand(3, device=device), gg.randn(2, 2, device=device)
    assert a.tolist() == c.tolist() and b.tolist() == d.tolist()
    assert gg.initial_seed() == 123
    e = gg.rand(3, device=device)
    assert e.tolist() != a.tolist()


def test_random_draws_repeat_with_the_seed_and_sim_matches_cpu(device):
    gg.manual_seed(5)
    on_device = gg.randn(4, device=device).tolist()
    gg.manual_seed(5)
    assert gg.randn(4, device=device).tolist() == on_device
    if device != "cuda":
        # cuda draws on the GPU with CuPy's generator (as PyTorch's CUDA generator differs from
        # its CPU one); sim computes on the host, so it gives cpu's numbers
        gg.manual_seed(5)
        assert gg.randn(4).tolist() == on_device


def test_random_distributions_look_right():
    gg.manual_seed(0)
    u = gg.rand(20000).numpy()
    n = gg.randn(20000, dtype=gg.float64).numpy()
    assert 0.0 <= u.min() and u.max() < 1.0 and abs(u.mean() - 0.5) < 0.01
    assert abs(n.mean()) < 0.03 and abs(n.std() - 1.0) < 0.03
    r = gg.randint(3, 7, size=(1000,)).numpy()
    assert r.min() == 3 and r.max() == 6 and r.dtype == np.int64


def test_random_needs_a_float_dtype():
    with pytest.raises(TypeError, match="floating"):
        gg.randn(2, dtype=gg.int64)


def test_eye_and_shape_validation(device):
    assert gg.eye(2, 3, device=device).tolist() == [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    with pytest.raises(TypeError, match="argument 'size' must be tuple of ints"):
        gg.zeros(2.5)
    with pytest.raises(TypeError, match="fill_value"):
        gg.full((2,))


def test_manual_seed_needs_an_int():
    with pytest.raises(TypeError, match="int"):
        gg.manual_seed(1.5)


def test_ragged_nested_lists_are_a_clear_error(device):
    with pytest.raises(ValueError, match="tensor: the nested lists are ragged"):
        gg.tensor([[1.0, 2.0], [3.0]], device=device)


def test_negative_dimensions_are_refused_as_in_torch(device, torch):
    with pytest.raises(RuntimeError) as ours:
        gg.empty(2, -1, device=device)
    with pytest.raises(RuntimeError) as theirs:
        torch.empty(2, -1)
    assert str(ours.value) == str(theirs.value)
    for make in (gg.zeros, gg.ones, gg.randn):
        with pytest.raises(RuntimeError, match="negative dimension -1"):
            make(2, -1, device=device)


# ---- PyTorch's signatures and values -----------------------------------------------------------
def _close_to_torch(ours, theirs, torch):
    """Same shape and dtype as PyTorch's result, values within an ulp of the range (PyTorch's
    kernels use fused multiply-adds; ours round each step)."""
    assert ours.shape == tuple(theirs.shape)
    assert ours.dtype == str(theirs.dtype).replace("torch.", "")
    rtol = 4e-7 if theirs.dtype == torch.float32 else 1e-15
    scale = max([abs(v) for v in theirs.tolist()] + [1.0])  # cancellation near 0: the range's ulp
    np.testing.assert_allclose(ours.tolist(), theirs.tolist(), rtol=rtol, atol=rtol * scale)


@pytest.mark.parametrize("args", [(0, 1, 7), (0, 1, 0), (3, 3, 1), (-2.5, 7.1, 13), (0, 10, 5),
                                  (5, -5, 4)])
@pytest.mark.parametrize("dtype", [None, "float32", "float64"])
def test_linspace_matches_torch(device, torch, args, dtype):
    tdtype = None if dtype is None else getattr(torch, dtype)
    _close_to_torch(gg.linspace(*args, dtype=dtype, device=device),
                    torch.linspace(*args, dtype=tdtype), torch)


def test_linspace_to_an_integer_dtype_truncates_as_torch(device, torch):
    assert gg.linspace(0, 10, 5, dtype=gg.int64, device=device).tolist() == \
        torch.linspace(0, 10, 5, dtype=torch.int64).tolist()
    with pytest.raises(RuntimeError, match="number of steps must be non-negative"):
        gg.linspace(0, 1, -1)


@pytest.mark.parametrize("args, kwargs", [((0, 2, 3), {}), ((0, 3, 4), {"base": 2}),
                                          ((-1, 1.5, 9), {}), ((2, 0, 5), {"base": 3.0})])
@pytest.mark.parametrize("dtype", [None, "float64"])
def test_logspace_matches_torch(device, torch, args, kwargs, dtype):
    tdtype = None if dtype is None else getattr(torch, dtype)
    _close_to_torch(gg.logspace(*args, **kwargs, dtype=dtype, device=device),
                    torch.logspace(*args, **kwargs, dtype=tdtype), torch)


def test_logspace_rounds_once_to_a_low_precision_dtype(device):
    # the exponents and powers are computed in float64 and rounded once at the end, as
    # PyTorch's are (computed in float32, 10 ** (2/3) came out an ulp low)
    got = gg.logspace(1, 0, 4, device=device).tolist()
    assert got == np.float32(10.0 ** np.linspace(1, 0, 4)).tolist()


@pytest.mark.parametrize("args", [(5,), (2, 9), (2, 9, 3), (0, 1, 0.1), (-1, 1, 0.3),
                                  (5, 0, -0.7), (0.5,), (1, 2.5), (10, 0, -3)])
@pytest.mark.parametrize("dtype", [None, "float32", "float64", "int64"])
def test_arange_matches_torch(device, torch, args, dtype):
    if dtype == "int64" and any(isinstance(a, float) for a in args):
        pytest.skip("PyTorch's integer arange of float bounds is not needed here")
    tdtype = None if dtype is None else getattr(torch, dtype)
    ours, theirs = gg.arange(*args, dtype=dtype, device=device), torch.arange(*args, dtype=tdtype)
    assert ours.dtype == str(theirs.dtype).replace("torch.", "")
    if theirs.dtype == torch.float32 or not theirs.dtype.is_floating_point:
        assert ours.tolist() == theirs.tolist()  # start + step * i in float64, rounded once
    else:
        _close_to_torch(ours, theirs, torch)


def test_arange_takes_numpy_and_tensor_bounds_and_checks_the_step_sign(torch):
    assert gg.arange(np.int64(3)).dtype == gg.int64
    assert gg.arange(gg.tensor(3)).tolist() == [0, 1, 2]
    assert gg.arange(gg.tensor(1.5)).dtype == gg.float32
    with pytest.raises(RuntimeError, match="inconsistent with step sign"):
        gg.arange(0, 5, -1)


@pytest.mark.parametrize("n, m", [(3, None), (2, 4), (4, 2), (0, 3)])
def test_eye_matches_torch(device, torch, n, m):
    ours = gg.eye(n, m, device=device) if m is not None else gg.eye(n, device=device)
    theirs = torch.eye(n, m) if m is not None else torch.eye(n)
    assert ours.tolist() == theirs.tolist() and ours.dtype == gg.float32
    assert gg.eye(2, dtype=gg.int64, device=device).dtype == gg.int64
    with pytest.raises(RuntimeError, match="n must be greater or equal to 0"):
        gg.eye(-1)


@pytest.mark.parametrize("fn", ["zeros", "ones", "empty", "rand", "randn"])
def test_size_forms_as_torch(device, fn):
    make = getattr(gg, fn)
    for args, kwargs in (((2, 3), {}), (((2, 3),), {}), (([2, 3],), {}), ((), {"size": (2, 3)}),
                         ((gg.Size([2, 3]),), {}), (((np.int64(2), 3),), {}),
                         ((gg.zeros(2, 3).shape,), {})):
        t = make(*args, **kwargs, device=device)
        assert t.shape == (2, 3) and t.device == device and t.dtype == gg.float32
    assert make(device=device).shape == ()
    with pytest.raises(TypeError, match="multiple values for argument 'size'"):
        make(2, size=(2,))
    t = make(2, dtype=gg.float64, device=device, requires_grad=True)
    assert t.dtype == gg.float64 and t.requires_grad and t.is_leaf


def test_full_forms_and_dtype_inference_as_torch(device, torch):
    for value in (3, 3.0, True):
        assert gg.full((2,), value, device=device).dtype == \
            str(torch.full((2,), value).dtype).replace("torch.", "")
    assert gg.full(size=(2, 1), fill_value=1.5, device=device).tolist() == [[1.5], [1.5]]
    assert gg.full([2], 7, dtype=gg.float64, device=device).dtype == gg.float64


def test_randint_forms_as_torch(device):
    for args, kwargs, low, high in (((10, (3,)), {}, 0, 10), ((2, 10, (3,)), {}, 2, 10),
                                    ((10,), {"size": (3,)}, 0, 10),
                                    ((), {"low": 2, "high": 4, "size": (3,)}, 2, 4),
                                    ((), {"high": 4, "size": [3]}, 0, 4)):
        t = gg.randint(*args, **kwargs, device=device)
        assert t.shape == (3,) and t.dtype == gg.int64 and t.device == device
        assert all(low <= v < high for v in t.tolist())
    assert gg.randint(5, (2,), dtype=gg.float32, device=device).dtype == gg.float32
    with pytest.raises(TypeError, match="size"):
        gg.randint(10)
    with pytest.raises(RuntimeError, match="floating point"):
        gg.randint(10, (2,), requires_grad=True)
    with pytest.raises(RuntimeError, match="less than 'to'"):
        gg.randint(5, 5, (2,))


def test_like_functions_take_dtype_and_device(device):
    x = gg.ones(2, 3)
    for fn in (gg.zeros_like, gg.ones_like, gg.empty_like, gg.rand_like, gg.randn_like):
        y = fn(x, dtype=gg.float64, device=device)
        assert y.shape == (2, 3) and y.dtype == gg.float64 and y.device == device
    assert gg.empty_like(x).tolist() == [[0.0] * 3] * 2  # never uninitialized memory
    r = gg.randint_like(x, 2, 5, device=device)
    assert r.dtype == gg.float32 and r.device == device
    assert all(2 <= v < 5 for v in r.flatten().tolist())
    assert set(gg.randint_like(gg.zeros(50, dtype=gg.int64), 2).tolist()) <= {0, 1}
    assert gg.full_like(x, 7, dtype=gg.int64, device=device).tolist() == [[7] * 3] * 2


def test_new_methods_keep_dtype_and_device(device, torch):
    x = gg.ones(2, dtype=gg.float64, device=device)
    tx = torch.ones(2, dtype=torch.float64)
    for name, args in (("new_tensor", ([1, 2],)), ("new_zeros", (2, 3)), ("new_ones", ((3,),)),
                       ("new_empty", (2,)), ("new_full", ((2,), 3))):
        ours, theirs = getattr(x, name)(*args), getattr(tx, name)(*args)
        assert ours.shape == tuple(theirs.shape) and ours.dtype == gg.float64, name
        assert ours.device == device and ours.tolist() == theirs.tolist() or name == "new_empty"
    assert x.new_zeros(size=(2,)).shape == (2,)
    assert x.new_tensor([1.5], dtype=gg.int64).tolist() == [1]
    assert x.new_ones(2, device="cpu", requires_grad=True).requires_grad
    assert not hasattr(gg, "new_zeros")  # methods only, as in PyTorch


def test_normal_forms(device, torch):
    gg.manual_seed(0)
    assert gg.normal(2.0, 3.0, (4, 5), device=device).shape == (4, 5)
    mean = gg.zeros(2, 1, dtype=gg.float64, device=device, requires_grad=True)
    std = gg.ones(3, dtype=gg.float64, device=device, requires_grad=True)
    out = gg.normal(mean, std)
    assert out.shape == (2, 3) and out.dtype == gg.float64 and out.device == device
    out.sum().backward()  # PyTorch's gradients of normal are zeros
    assert mean.grad.tolist() == [[0.0], [0.0]] and std.grad.tolist() == [0.0] * 3
    assert gg.normal(gg.zeros(3), 1.0).shape == (3,) and gg.normal(0.0, gg.ones(3)).shape == (3,)
    big = gg.normal(gg.full((20000,), 5.0, device=device), 0.5)
    assert abs(big.mean().item() - 5.0) < 0.02 and abs(big.std().item() - 0.5) < 0.02
    with pytest.raises(RuntimeError, match="std >= 0.0"):
        gg.normal(gg.zeros(2), -1.0)
    with pytest.raises(TypeError, match="size"):
        gg.normal(0.0, 1.0)


def test_tensor_queries_and_size(torch):
    x = gg.zeros(2, 3)
    assert gg.is_tensor(x) and not gg.is_tensor([1]) and gg.numel(x) == 6 == x.numel()
    assert gg.is_floating_point(x) and not gg.arange(3).is_floating_point()
    size = gg.Size([2, 3])
    assert size == (2, 3) == x.shape and size.numel() == 6 and gg.Size().numel() == 1
    assert isinstance(size[1:], gg.Size) and size[0] == 2 and isinstance(size + (4,), gg.Size)
    assert repr(size) == "gpugrad.Size([2, 3])"
    with pytest.raises(TypeError, match="'float'"):
        gg.Size([2.5])
    assert gg.zeros(torch.Size([2, 3])).shape == (2, 3)


def test_a_python_int_beyond_int64_is_refused_not_wrapped(device):
    # NumPy reads [2**63] as uint64; cast to int64 it was -2**63
    with pytest.raises(OverflowError, match="9223372036854775808 does not fit in int64"):
        gg.tensor([2 ** 63], device=device)
    assert gg.tensor([2 ** 63 - 1, -2 ** 63], device=device).tolist() == [2 ** 63 - 1, -2 ** 63]


@pytest.mark.parametrize("value, dtype", [(np.int32(3), "int64"), (np.int64(3), "int64"),
                                          (np.float32(3.5), "float32"), (np.bool_(True), "bool"),
                                          (3, "int64"), (3.5, "float32"), (True, "bool")])
def test_full_infers_pytorchs_dtype_from_numpy_numbers_too(value, dtype):
    # (a NumPy integer filled float32)
    assert gg.full((2,), value).dtype == dtype


def test_randperm_is_a_seeded_uniform_permutation(device):
    gg.manual_seed(3)
    first = gg.randperm(6, device=device)
    assert first.dtype is gg.int64 and first.device == device
    assert sorted(first.tolist()) == list(range(6))
    gg.manual_seed(3)
    assert gg.randperm(6, device=device).tolist() == first.tolist()
    counts = {}
    for _ in range(3000):  # each of the 6 orders of 3 about 500 times
        key = tuple(gg.randperm(3, device=device).tolist())
        counts[key] = counts.get(key, 0) + 1
    assert len(counts) == 6 and min(counts.values()) > 380
    assert gg.randperm(0, device=device).shape == (0,)
    assert gg.randperm(4, dtype=gg.float32).dtype is gg.float32
    with pytest.raises(RuntimeError, match="n must be non-negative, got -1"):
        gg.randperm(-1)
