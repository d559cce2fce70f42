"""Linear-algebra long tail (``tensor_structure_linalg``): trace, cross, kron, inner, tensordot,
cdist, dist, renorm, matrix_power, cov, corrcoef; gradcheck/gradgradcheck on every device and PyTorch as the
oracle (values and gradients)."""
import numpy as np
import pytest

import gpugrad as gg
from support.fake_cupy import install_cupyx
from support.gradtools import check_against_torch, op_tests, same_names_case

R = np.random.default_rng(13)
V = R.standard_normal(4)
M = R.standard_normal((3, 4))
S = R.standard_normal((3, 3))
X = R.standard_normal((2, 3, 4))
A = R.standard_normal((5, 4))


case = same_names_case


def _weights(lib, like, values):
    return (gg.tensor(values, device=like.device) if lib is gg else lib.tensor(values))


CASES = [
    case("trace", lambda L, a: L.trace(a), [M]),
    case("cross", lambda L, a, b: L.cross(a, b, dim=1), [M[:, :3].T.copy(), S]),
    case("cross_default_dim", lambda L, a, b: a.cross(b), [R.standard_normal((2, 3, 4)),
                                                          R.standard_normal((2, 3, 4))]),
    case("cross_broadcast", lambda L, a, b: L.linalg.cross(a, b), [S, V[:3].reshape(1, 3)]),
    case("kron", lambda L, a, b: L.kron(a, b), [M[:2, :3], S[:2]]),
    case("kron_ranks", lambda L, a, b: a.kron(b), [V[:2], X]),
    case("inner", lambda L, a, b: L.inner(a, b), [M, X]),
    case("inner_vectors", lambda L, a, b: a.inner(b), [V, V * 2]),
    case("inner_scalar", lambda L, a, b: L.inner(a, b), [np.array(1.5), M]),
    case("tensordot_int", lambda L, a, b: L.tensordot(a, b, 2), [X, R.standard_normal((3, 4, 2))]),
    case("tensordot_lists", lambda L, a, b: L.tensordot(a, b, dims=([0, 2], [2, 1])),
         [X, R.standard_normal((5, 4, 2))]),
    case("tensordot_zero", lambda L, a, b: L.tensordot(a, b, dims=0), [V[:2], S]),
    case("cdist", lambda L, a, b: L.cdist(a, b), [M, A]),
    case("cdist_p1", lambda L, a, b: L.cdist(a, b, p=1), [X, R.standard_normal((2, 5, 4))],
         second_order=False),
    case("cdist_p3", lambda L, a, b: L.cdist(a, b, p=3.0), [M, A]),
    case("cdist_inf", lambda L, a, b: L.cdist(a, b, p=float("inf")), [M, A],
         second_order=False),
    case("dist", lambda L, a, b: L.dist(a, b), [M, V]),
    case("dist_p3", lambda L, a, b: a.dist(b, 3), [M, A[:3]]),
    case("renorm", lambda L, a: L.renorm(a, 2, 0, 1.5), [M]),  # (some rows scaled, some not)
    case("renorm_p1_last_dim", lambda L, a: a.renorm(1, -1, 2.0), [X], second_order=False),
    case("matrix_power_0", lambda L, a: L.matrix_power(a, 0) + a, [S]),
    case("matrix_power_1", lambda L, a: a.matrix_power(1), [S]),
    case("matrix_power_5", lambda L, a: L.matrix_power(a, 5), [S * 0.5]),
    case("matrix_power_batched", lambda L, a: L.linalg.matrix_power(a, 3),
         [R.standard_normal((2, 3, 3))]),
    case("cov", lambda L, a: L.cov(a), [M]),
    case("cov_vector", lambda L, a: a.cov(correction=0), [V]),
    case("cov_weights", lambda L, a: a.cov(fweights=_weights(L, a, [1, 2, 1, 3]),
                                           aweights=_weights(L, a, [0.5, 1.0, 2.0, 0.1])), [M]),
    case("cov_fweights", lambda L, a: L.cov(a, correction=2,
                                            fweights=_weights(L, a, [1, 2, 1, 3])), [M]),
    case("corrcoef", lambda L, a: L.corrcoef(a), [M]),
    case("vecdot", lambda L, a, b: L.linalg.vecdot(a, b, dim=0), [M, V[:3].reshape(3, 1)]),
]
test_gradcheck, test_matches_torch = op_tests(CASES)


def test_dtypes_and_errors(torch):
    ints = [[1, 2], [3, 5]]
    assert gg.tensor(ints).trace().dtype is gg.int64
    assert gg.tensor(ints).cov().dtype.name == str(torch.tensor(ints).cov().dtype).split(".")[1]
    with pytest.raises(NotImplementedError, match="inverse"):
        gg.eye(2).matrix_power(-1)
    with pytest.raises(RuntimeError, match="square matrices"):
        gg.ones(2, 3).matrix_power(2)
    with pytest.raises(RuntimeError, match="must have length 3"):
        gg.ones(4).cross(gg.ones(4), dim=0)
    with pytest.raises(RuntimeError, match="last dimension must match"):
        gg.ones(2, 3).inner(gg.ones(2))
    with pytest.raises(RuntimeError, match="contracted dimensions need to match"):
        gg.tensordot(gg.ones(2, 3), gg.ones(2, 3), 1)
    with pytest.raises(RuntimeError, match="same number of columns"):
        gg.cdist(gg.ones(2, 3), gg.ones(2, 4))


def test_cdist_zero_distance_gradient_is_zero(torch):
    x = gg.tensor([[1.0, 2.0]], requires_grad=True)
    gg.cdist(x, gg.tensor([[1.0, 2.0]])).sum().backward()
    assert x.grad.tolist() == [[0.0, 0.0]]


def test_tensordot_is_one_matmul_kernel():
    gg.sim.configure("sim:0")
    a, b = gg.randn(8, 16, device="sim"), gg.randn(16, 4, device="sim")
    gg.sim.reset("sim:0")
    gg.tensordot(a, b, 1)
    stats = gg.sim.stats("sim:0")
    assert stats.flops >= 2 * 8 * 16 * 4 and stats.kernels == 1


def test_cross_needs_equal_ranks():
    with pytest.raises(RuntimeError, match="same number of dimensions"):
        gg.linalg.cross(gg.ones(3, 3), gg.ones(3))


def test_cases_on_cuda_stand_in(fake_cuda, monkeypatch, torch):
    """Every case on the cuda backend (CuPy stood in by NumPy): PyTorch's values and gradients."""
    install_cupyx(monkeypatch)
    for c in CASES:
        check_against_torch(c, "cuda", torch)


def test_dist_and_renorm_errors_match_torch(torch):
    for call in (lambda L: L.renorm(L.ones(3), 2, 0, 1.0),
                 lambda L: L.renorm(L.ones(2, 3), 0, 0, 1.0),
                 lambda L: L.renorm(L.ones(2, 3), 2, 0, -1.0)):
        with pytest.raises(RuntimeError) as ours:
            call(gg)
        with pytest.raises(RuntimeError) as theirs:
            call(torch)
        assert str(ours.value) == str(theirs.value)
    with pytest.raises(IndexError, match="renorm"):
        gg.renorm(gg.ones(2, 3), 2, 5, 1.0)
    with pytest.raises(RuntimeError, match="cannot be broadcast"):
        gg.dist(gg.ones(2), gg.ones(3))
    with pytest.raises(RuntimeError, match="floating point"):
        gg.dist(gg.ones(2, dtype=gg.int64), gg.ones(2, dtype=gg.int64))
