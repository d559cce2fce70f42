"""Empty inputs (a dim of size 0), as PyTorch treats them: softmax and log_softmax over an
empty dim, split and chunk of an empty dim, cat beside a 1-d empty tensor, batch_norm of an
empty batch. Each gives PyTorch's shapes (and no error); the PyTorch comparison runs where it
is installed."""
import numpy as np
import pytest

import gpugrad as gg

CASES = {
    "softmax_empty_dim": lambda L, x: x.softmax(1),
    "log_softmax_empty_dim": lambda L, x: x.log_softmax(-1),
    "softmax_empty_other_dim": lambda L, x: x.T.softmax(1),
    "split_empty_dim": lambda L, x: x.split(2, 1),
    "split_zero_size": lambda L, x: x.split(0, 1),
    "chunk_empty_dim": lambda L, x: x.chunk(3, 1),
    "tensor_split_empty_dim": lambda L, x: x.tensor_split(3, 1),
    "cat_beside_1d_empty": lambda L, x: L.cat([L.zeros(0, dtype=x.dtype), x.T, x.T], 1),
    "cat_1d_empty_only": lambda L, x: L.cat([L.zeros(0, dtype=x.dtype)] * 2),
    "batch_norm_empty_batch": lambda L, x: L.nn.functional.batch_norm(
        x.T, None, None, L.ones(2, dtype=x.dtype, device=x.device),
        L.zeros(2, dtype=x.dtype, device=x.device), training=True),
}


def _shapes(result):
    results = result if isinstance(result, tuple) else (result,)
    return [tuple(r.shape) for r in results]


@pytest.mark.parametrize("name", list(CASES))
def test_gives_pytorchs_shapes(name, device, torch):
    f = CASES[name]
    x = gg.zeros(2, 0, device=device, requires_grad=True)
    theirs = f(torch, torch.zeros(2, 0, requires_grad=True))
    ours = f(gg, x)
    assert _shapes(ours) == _shapes(theirs)


@pytest.mark.parametrize("name", list(CASES))
def test_backward_through_an_empty_result(name, device):
    x = gg.zeros(2, 0, dtype=gg.float64, device=device, requires_grad=True)
    results = CASES[name](gg, x)
    total = sum(r.sum() for r in (results if isinstance(results, tuple) else (results,)))
    if not total.requires_grad:  # (cat of empties alone does not read x)
        return
    total.backward()
    assert x.grad is None or x.grad.shape == (2, 0)


def test_chunk_of_an_empty_dim_gives_every_chunk():
    # (it gave none: ``a, b = x.chunk(2)`` failed to unpack)
    assert _shapes(gg.zeros(0, 3).chunk(2)) == [(0, 3), (0, 3)]
    assert _shapes(gg.zeros(0, 3).split(4)) == [(0, 3)]


@pytest.mark.parametrize("op", ["split", "chunk"])
def test_split_and_chunk_refuse_a_0d_tensor_by_name(op):
    with pytest.raises(RuntimeError, match=f"{op} expects at least a 1-dimensional tensor"):
        getattr(gg.tensor(1.0), op)(1)


def test_cat_skips_1d_empty_tensors_only_beside_other_shapes():
    assert gg.cat([gg.zeros(0), gg.ones(2, 3), gg.zeros(0)]).shape == (2, 3)
    assert gg.cat([gg.ones(2), gg.zeros(0)]).tolist() == [1.0, 1.0]
    with pytest.raises(RuntimeError, match="sizes of tensors must match"):
        gg.cat([gg.zeros(0, 2), gg.ones(2, 3)])  # (only shape (0,) is skipped)


def test_batch_norm_of_an_empty_batch_leaves_the_running_stats():
    mean, var = gg.tensor([0.5, 1.0]), gg.tensor([2.0, 3.0])
    out = gg.nn.functional.batch_norm(gg.zeros(0, 2), mean, var, training=True)
    assert out.shape == (0, 2)
    assert mean.tolist() == [0.5, 1.0] and var.tolist() == [2.0, 3.0]
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        gg.nn.functional.batch_norm(gg.zeros(1, 2), mean, var, training=True)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dtype", ["int64", "bool"])
def test_softmax_of_integers_computes_in_the_default_float(name, dtype):
    # (log_softmax of int64 was float64: the int64 shifted input minus a float32 sum)
    x = gg.tensor([1, 0, 1]).to(getattr(gg, dtype))
    got = getattr(x, name)(0)
    assert got.dtype is gg.float32
    want = getattr(x.float(), name)(0)
    np.testing.assert_array_equal(got.numpy(), want.numpy())
