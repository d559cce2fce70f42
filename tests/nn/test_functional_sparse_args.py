"""embedding and one_hot argument by argument against PyTorch: padding_idx at both ends of its
range (negative included) for values and gradients, the unsupported options' messages, and
one_hot's inferred and given class counts, empty inputs and PyTorch's errors."""
import re

import numpy as np
import pytest

import gpugrad as gg
from gpugrad.nn import functional as F

INDICES = np.array([[0, 4, 1], [4, 2, 0]])


@pytest.mark.parametrize("padding_idx", [None, 0, 4, -1, -4, -5])
def test_embedding_padding_idx_matches_torch(torch, padding_idx):
    weight = np.random.default_rng(0).standard_normal((5, 3))
    ours_w, theirs_w = gg.tensor(weight, requires_grad=True), torch.tensor(weight,
                                                                          requires_grad=True)
    ours = F.embedding(gg.tensor(INDICES), ours_w, padding_idx=padding_idx)
    theirs = torch.nn.functional.embedding(torch.tensor(INDICES), theirs_w,
                                           padding_idx=padding_idx)
    np.testing.assert_array_equal(ours.detach().numpy(), theirs.detach().numpy())
    g = np.linspace(0.5, 1.5, theirs.numel()).reshape(tuple(theirs.shape))
    (ours * gg.tensor(g)).sum().backward()
    (theirs * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(ours_w.grad.numpy(), theirs_w.grad.numpy(), rtol=1e-14)


@pytest.mark.parametrize("padding_idx", [5, -6])
def test_embedding_padding_idx_out_of_range_is_torchs_error(torch, padding_idx):
    message = "^" + re.escape("Padding_idx must be within num_embeddings") + "$"
    with pytest.raises(AssertionError, match=message):
        F.embedding(gg.tensor([1]), gg.ones(5, 3), padding_idx=padding_idx)
    with pytest.raises(AssertionError, match=message):
        torch.nn.functional.embedding(torch.tensor([1]), torch.ones(5, 3),
                                      padding_idx=padding_idx)


@pytest.mark.parametrize("kwargs,message", [
    (dict(max_norm=1.0), "embedding: max_norm is not supported (PyTorch renormalizes the "
     "looked-up rows of weight in place); renormalize the rows yourself under gg.no_grad() "
     "before the lookup"),
    (dict(max_norm=1.0, norm_type=1.0), "embedding: max_norm is not supported (PyTorch "
     "renormalizes the looked-up rows of weight in place); renormalize the rows yourself under "
     "gg.no_grad() before the lookup"),
    (dict(scale_grad_by_freq=True), "embedding: scale_grad_by_freq is not supported; scale "
     "the loss or the gradient instead"),
    (dict(sparse=True), "embedding: sparse gradients are not supported; use sparse=False "
     "(dense gradients)")])
def test_embedding_unsupported_options_say_so(kwargs, message):
    with pytest.raises(NotImplementedError, match="^" + re.escape(message) + "$"):
        F.embedding(gg.tensor([1]), gg.ones(5, 3), **kwargs)


def test_embedding_argument_errors_name_embedding():
    with pytest.raises(RuntimeError, match="^" + re.escape(
            "embedding: expected an index tensor of dtype int64 or int32, got gpugrad.float32")):
        F.embedding(gg.tensor([1.0]), gg.ones(5, 3))
    with pytest.raises(RuntimeError, match="^" + re.escape(
            "embedding: 'weight' must be 2-D, got [5]") + "$"):
        F.embedding(gg.tensor([1]), gg.ones(5))


@pytest.mark.parametrize("values,num_classes", [([3, 0, 1], -1), ([3, 0, 1], 4),
                                                ([[2], [0]], 5), ([], 3), (0, -1)])
def test_one_hot_matches_torch(torch, values, num_classes):
    ours = F.one_hot(gg.tensor(np.array(values, dtype=np.int64)), num_classes)
    theirs = torch.nn.functional.one_hot(torch.tensor(np.array(values, dtype=np.int64)),
                                         num_classes)
    assert ours.dtype == gg.int64 and ours.shape == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize("values,dtype,num_classes", [([], np.int64, -1),
                                                      ([1.0], np.float32, -1),
                                                      ([1], np.int32, 3),
                                                      ([2, -1], np.int64, -1),
                                                      ([2, -1], np.int64, 4),
                                                      ([0, 3], np.int64, 3)])
def test_one_hot_errors_are_torchs(torch, values, dtype, num_classes):
    with pytest.raises(RuntimeError) as theirs:
        torch.nn.functional.one_hot(torch.tensor(np.array(values, dtype=dtype)), num_classes)
    with pytest.raises(RuntimeError, match="^" + re.escape(str(theirs.value)) + "$"):
        F.one_hot(gg.tensor(np.array(values, dtype=dtype)), num_classes)


def test_embedding_refuses_a_negative_index_as_torch(device):
    # (it looked up the last row)
    weight = gg.ones((3, 4), device=device)
    with pytest.raises(IndexError, match=re.escape(
            "embedding(): index -1 is out of bounds for dimension 0 with size 3 (embedding "
            "takes no negative index, unlike x[index])")):
        F.embedding(gg.tensor([[0, -1]], device=device), weight)
    assert F.embedding(gg.tensor([[0, 2]], device=device), weight).shape == (1, 2, 4)
