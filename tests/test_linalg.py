"""gg.linalg: PyTorch's vector, matrix and dispatching norms, values and gradients."""
import math

import numpy as np
import pytest

import gpugrad as gg
from support.gradtools import assert_close

A = np.array([[1.0, -2.0, 0.5], [3.0, 0.25, -4.0]])
CASES = [("vector_norm", {}), ("vector_norm", {"ord": 1, "dim": 1}),
         ("vector_norm", {"ord": math.inf}), ("vector_norm", {"ord": 3, "dim": 0, "keepdim": True}),
         ("matrix_norm", {}), ("matrix_norm", {"ord": 1}), ("matrix_norm", {"ord": -1}),
         ("matrix_norm", {"ord": math.inf}), ("matrix_norm", {"ord": -math.inf, "keepdim": True}),
         ("norm", {}), ("norm", {"ord": "fro"}), ("norm", {"ord": 1, "dim": 0})]


@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}-{k}" for n, k in CASES])
def test_norms_match_pytorch(name, kwargs, device, torch):
    x = gg.tensor(A, device=device, requires_grad=True)
    tx = torch.tensor(A, requires_grad=True)
    ours, theirs = getattr(gg.linalg, name)(x, **kwargs), getattr(torch.linalg, name)(tx, **kwargs)
    assert_close(ours, theirs)
    ours.sum().backward()
    theirs.sum().backward()
    assert_close(x.grad, tx.grad, what="gradient")


def test_gradcheck_of_matrix_norms(device):
    x = gg.tensor(A, dtype=gg.float64, device=device, requires_grad=True)
    assert gg.gradcheck(lambda t: gg.linalg.matrix_norm(t, ord=math.inf), [x])
    assert gg.gradgradcheck(lambda t: gg.linalg.matrix_norm(t), [x])


def test_unsupported_norms_and_decompositions_say_so():
    x = gg.tensor(A)
    with pytest.raises(NotImplementedError, match="singular values"):
        gg.linalg.matrix_norm(x, ord="nuc")
    with pytest.raises(NotImplementedError, match="gg.linalg.svd"):
        gg.linalg.svd(x)


@pytest.mark.parametrize("name,args,kwargs", [("vecdot", (A, A), {"dim": 0}),
                                              ("cross", (A, A[::-1].copy()), {}),
                                              ("matrix_power", (A[:, :2], 3), {})])
def test_products_match_pytorch(name, args, kwargs, device, torch):
    """vecdot, cross and matrix_power (gradients: tests/ops/test_structure_linalg.py)."""
    def convert(a, make):
        return make(a) if isinstance(a, np.ndarray) else a
    got = getattr(gg.linalg, name)(*(convert(a, lambda v: gg.tensor(v, device=device))
                                     for a in args), **kwargs)
    want = getattr(torch.linalg, name)(*(convert(a, torch.tensor) for a in args), **kwargs)
    assert_close(got, want)
