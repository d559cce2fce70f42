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
    with pytest.raises(TypeError, match="shape entries must be ints"):
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
