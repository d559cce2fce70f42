"""Tolerance comparisons, tensor facts and random sampling
(gpugrad/tensor_numeric_queries.py, tensor_numeric_random.py) against PyTorch: values, dtypes,
errors; the samplers' distributions, seeding and devices."""
import math

import numpy as np
import pytest

import gpugrad as gg

A = [1.0, math.nan, math.inf, -math.inf, 1e-9, 100.0]
B = [1.0 + 1e-6, math.nan, math.inf, math.inf, 0.0, 100.01]


@pytest.mark.parametrize("kwargs", [{}, {"equal_nan": True}, {"rtol": 1e-3},
                                    {"rtol": 0, "atol": 0}, {"atol": 0.1, "rtol": 0}])
def test_isclose_and_allclose_match_torch(kwargs, device, torch):
    a, b = gg.tensor(A, device=device), gg.tensor(B, device=device)
    ta, tb = torch.tensor(A), torch.tensor(B)
    np.testing.assert_array_equal(gg.isclose(a, b, **kwargs).cpu().numpy(),
                                  torch.isclose(ta, tb, **kwargs).numpy())
    assert gg.isclose(a, b, **kwargs).dtype is gg.bool
    assert gg.allclose(a[:1], b[:1], **kwargs) == torch.allclose(ta[:1], tb[:1], **kwargs)
    assert a.allclose(a, equal_nan=True) is True


def test_isclose_on_integers_and_mismatched_dtypes(torch):
    ints = [0, 5, -3]
    np.testing.assert_array_equal(gg.isclose(gg.tensor(ints), gg.tensor([0, 6, -3])).numpy(),
                                  torch.isclose(torch.tensor(ints),
                                                torch.tensor([0, 6, -3])).numpy())
    with pytest.raises(RuntimeError):
        gg.isclose(gg.tensor([1.0]), gg.tensor([1]))
    with pytest.raises(RuntimeError):
        torch.isclose(torch.tensor([1.0]), torch.tensor([1]))


def test_equal_and_is_nonzero_match_torch(device, torch):
    for a, b in (([1, 2], [1, 2]), ([1, 2], [1, 3]), ([1.0], [1.0, 1.0]),
                 ([math.nan], [math.nan])):
        assert gg.equal(gg.tensor(a, device=device), gg.tensor(b, device=device)) == \
            torch.equal(torch.tensor(a), torch.tensor(b))
    for value in ([0.0], [2], [[True]]):
        assert gg.is_nonzero(gg.tensor(value)) == torch.is_nonzero(torch.tensor(value))
    for value, message in (([1, 2], "more than one value"), ([], "no values")):
        for module in (gg, torch):
            with pytest.raises(RuntimeError, match=message):
                module.is_nonzero(module.tensor(value))


@pytest.mark.parametrize("dtype", ["bool", "uint8", "int8", "int16", "int32", "int64",
                                   "float16", "bfloat16", "float32", "float64"])
def test_tensor_facts_match_torch(dtype, torch):
    x = gg.zeros(2, 3, dtype=getattr(gg, dtype))
    t = torch.zeros(2, 3, dtype=getattr(torch, dtype))
    for name in ("element_size", "nelement", "ndimension", "get_device", "is_signed"):
        assert getattr(x, name)() == getattr(t, name)(), name
    for name in ("nbytes", "itemsize", "is_cpu", "is_cuda"):
        assert getattr(x, name) == getattr(t, name), name
    assert gg.is_signed(x) == torch.is_signed(t)
    assert gg.is_same_size(x, gg.ones(2, 3)) and not x.is_same_size(gg.ones(3, 2))


def test_facts_on_the_simulator():
    x = gg.ones(4, device="sim")
    assert not x.is_cpu and not x.is_cuda and x.get_device() == 0


# ---- random ----------------------------------------------------------------------------------
def _host(x):
    return x.cpu().numpy()


def test_bernoulli_probabilities_and_dtypes(device):
    gg.manual_seed(0)
    p = gg.full((20000,), 0.3, device=device)
    sample = gg.bernoulli(p)
    assert sample.dtype is gg.float32 and sample.device == p.device
    assert set(np.unique(_host(sample))) <= {0.0, 1.0}
    assert abs(_host(sample).mean() - 0.3) < 0.02
    assert abs(_host(p.bernoulli(0.8)).mean() - 0.8) < 0.02
    x = gg.zeros(20000, dtype=gg.float64, device=device)
    assert x.bernoulli_(0.25) is x and abs(_host(x).mean() - 0.25) < 0.02
    x.bernoulli_(gg.tensor([0.0, 1.0], device=device).repeat(10000))
    assert _host(x)[0::2].sum() == 0 and _host(x)[1::2].sum() == 10000
    with pytest.raises(RuntimeError):
        gg.bernoulli(gg.tensor([1.5]))


def test_samples_repeat_under_a_seed_on_every_device(device):
    draws = []
    for _ in range(2):
        gg.manual_seed(7)
        draws.append([_host(gg.bernoulli(gg.full((8,), 0.5, device=device))),
                      _host(gg.ones(5, 3, device=device).multinomial(2)),
                      _host(gg.zeros(6, device=device).exponential_())])
    for a, b in zip(*draws):
        np.testing.assert_array_equal(a, b)


def test_multinomial_with_and_without_replacement(device, torch):
    gg.manual_seed(1)
    weights = gg.tensor([[0.0, 1.0, 3.0], [5.0, 0.0, 0.0]], device=device)
    drawn = weights.multinomial(4000, replacement=True)
    assert drawn.dtype is gg.int64 and drawn.shape == (2, 4000)
    counts = np.bincount(_host(drawn)[0], minlength=3)
    assert counts[0] == 0 and abs(counts[2] / 4000 - 0.75) < 0.03
    assert (_host(drawn)[1] == 0).all()
    unique = gg.multinomial(gg.ones(10, device=device), 10)
    assert sorted(_host(unique).tolist()) == list(range(10))
    first = np.bincount([_host(gg.multinomial(gg.tensor([1.0, 3.0], device=device), 2))[0]
                         for _ in range(400)], minlength=2)
    assert abs(first[1] / 400 - 0.75) < 0.08
    # more samples than positive weights: the zero-weight categories come last, as in PyTorch
    assert _host(gg.multinomial(gg.tensor([0.0, 1.0, 0.0], device=device), 3))[0] == 1
    for call, message in ((lambda m: m.multinomial(m.ones(3), 4), "without replacement"),
                          (lambda m: m.multinomial(m.tensor([1.0, -1.0]), 1), "element < 0"),
                          (lambda m: m.multinomial(m.zeros(2), 1), "sum of probabilities")):
        for module in (gg, torch):
            with pytest.raises(RuntimeError, match=message):
                call(module)


def test_random_and_exponential(device, torch):
    gg.manual_seed(3)
    x = gg.zeros(5000, device=device)
    assert x.random_(3, 7) is x
    assert set(np.unique(_host(x))) == {3.0, 4.0, 5.0, 6.0}
    assert set(np.unique(_host(x.random_(2)))) == {0.0, 1.0}
    small = gg.zeros(4000, dtype=gg.uint8, device=device).random_()
    assert _host(small).max() > 200
    assert _host(gg.zeros(100, dtype=gg.bool, device=device).random_()).any()
    e = gg.zeros(20000, dtype=gg.float64, device=device).exponential_(2.0)
    assert (_host(e) >= 0).all() and abs(_host(e).mean() - 0.5) < 0.02
    for module in (gg, torch):
        with pytest.raises(RuntimeError, match="from"):
            module.zeros(2).random_(5, 5)
    with pytest.raises(NotImplementedError, match="generator"):
        gg.zeros(2).exponential_(generator=object())


def test_sampling_runs_on_emulated_cuda(fake_cuda):
    gg.manual_seed(0)
    p = gg.full((1000,), 0.5, device="cuda")
    assert p.bernoulli().device.type == "cuda"
    assert gg.multinomial(p, 5).device.type == "cuda"
    assert set(np.unique(gg.zeros(200, device="cuda").random_(3).cpu().numpy())) == {0, 1, 2}
    assert (gg.zeros(10, device="cuda").exponential_().cpu().numpy() >= 0).all()
    assert gg.isclose(p, p).all() and p.get_device() == 0 and p.is_cuda
