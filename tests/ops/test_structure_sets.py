"""Set-like and counting functions (``tensor_structure_sets``): unique, unique_consecutive,
bincount, histc, bucketize, searchsorted, compared with PyTorch in values and dtypes on every
device; none carries a gradient."""
import numpy as np
import pytest

import gpugrad as gg
from support.fake_cupy import install_cupyx

R = np.random.default_rng(3)
INTS = R.integers(0, 5, (3, 6))
ROWS = np.array([[1, 2], [1, 2], [0, 5], [1, 2], [0, 5]])
NANS = np.array([[np.nan, 1.0, 5.0], [2.0, np.nan, -1.0]])


def _same(got, want):
    """gpugrad results (a tensor or a tuple) equal PyTorch's in values, shapes and dtypes."""
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want)
        for g, w in zip(got, want):
            _same(g, w)
        return
    assert got.dtype.name == str(want.dtype).split(".")[1], (got.dtype, want.dtype)
    assert tuple(got.shape) == tuple(want.shape)
    np.testing.assert_allclose(got.cpu().numpy(), want.numpy())
    assert not got.requires_grad


CALLS = [
    ("unique", lambda L, x: L.unique(x), INTS),
    ("unique_all", lambda L, x: x.unique(return_inverse=True, return_counts=True), INTS),
    ("unique_float", lambda L, x: L.unique(x.float(), return_counts=True), INTS),
    ("unique_dim", lambda L, x: L.unique(x, dim=0, return_inverse=True, return_counts=True),
     ROWS),
    ("unique_dim1", lambda L, x: x.T.unique(dim=1), ROWS),
    ("unique_consecutive", lambda L, x: L.unique_consecutive(x, return_inverse=True,
                                                             return_counts=True),
     np.array([[1, 1, 2], [2, 0, 0]])),
    ("unique_consecutive_dim", lambda L, x: x.unique_consecutive(return_inverse=True,
                                                                 return_counts=True, dim=0),
     ROWS),
    ("bincount", lambda L, x: L.bincount(x.reshape(-1)), INTS),
    ("bincount_minlength", lambda L, x: x.reshape(-1).bincount(minlength=9), INTS),
    ("bincount_weights", lambda L, x: x.reshape(-1).bincount(x.reshape(-1).float() * 0.5), INTS),
    ("bincount_int_weights", lambda L, x: x.reshape(-1).bincount(x.reshape(-1)), INTS),
    ("bincount_uint8", lambda L, x: x.reshape(-1).to(L.uint8).bincount(), INTS),
    ("bincount_int8_weights", lambda L, x: x.reshape(-1).to(L.int8).bincount(x.reshape(-1) * 2),
     INTS),
    ("histc", lambda L, x: L.histc(x.double(), bins=4), INTS),
    ("histc_range", lambda L, x: x.float().histc(5, 1, 3), INTS),
    ("bucketize", lambda L, x: L.bucketize(x, L.tensor([1, 3, 4])), INTS),
    ("bucketize_right", lambda L, x: L.bucketize(x.float(), L.tensor([1.0, 3.0]), right=True,
                                                 out_int32=True), INTS),
    ("searchsorted", lambda L, x: L.searchsorted(L.tensor([0, 2, 2, 4]), x), INTS),
    ("searchsorted_side", lambda L, x: L.searchsorted(L.tensor([0, 2, 2, 4]), x, side="right"),
     INTS),
    ("searchsorted_rows", lambda L, x: L.searchsorted(L.tensor([[0, 2, 4], [1, 1, 3],
                                                                [0, 5, 6]]), x), INTS),
    ("searchsorted_sorter", lambda L, x: L.searchsorted(L.tensor([4, 0, 2]), x,
                                                        sorter=L.tensor([1, 2, 0])), INTS),
    ("searchsorted_scalar", lambda L, x: L.searchsorted(L.tensor([0, 2, 4]), 3), INTS),
    # a NaN query goes after every entry (it went before them all)
    ("searchsorted_nan", lambda L, x: L.searchsorted(L.tensor([0.0, 2.0, 4.0]), x), NANS),
    ("searchsorted_nan_right", lambda L, x: L.searchsorted(L.tensor([[0.0, 2.0], [1.0, 3.0]]),
                                                           x, right=True), NANS),
    ("bucketize_nan", lambda L, x: L.bucketize(x, L.tensor([0.0, 2.0])), NANS),
]


class _OnDevice:
    """``gg`` with ``tensor`` making tensors on one device (the boundaries of the calls)."""

    def __init__(self, device):
        self.device = device

    def tensor(self, data, **kwargs):
        return gg.tensor(data, device=self.device, **kwargs)

    def __getattr__(self, name):
        return getattr(gg, name)


@pytest.mark.parametrize("call", CALLS, ids=[c[0] for c in CALLS])
def test_matches_torch(call, device, torch):
    _, f, data = call
    got = f(_OnDevice(device), gg.tensor(data, device=device))
    want = f(torch, torch.tensor(data))
    _same(got, want)
    for t in got if isinstance(got, tuple) else (got,):
        assert str(t.device) == str(gg.Device(device))


def test_no_grad_from_differentiable_input():
    x = gg.tensor([1.0, 2.0, 1.0], requires_grad=True)
    assert not x.unique().requires_grad
    assert not x.histc(3).requires_grad
    rows = x.reshape(3, 1).unique(dim=0)  # (it called numpy() on the tensor needing grad)
    assert rows.tolist() == [[1.0], [2.0]] and not rows.requires_grad


def test_errors():
    with pytest.raises(RuntimeError, match="non-negative integral"):
        gg.tensor([1, -1]).bincount()
    with pytest.raises(RuntimeError, match="non-negative integral"):
        gg.tensor([1.0]).bincount()
    with pytest.raises(RuntimeError, match="side and right can't be set to opposites"):
        gg.searchsorted(gg.tensor([1, 2]), gg.tensor([1]), right=True, side="left")
    with pytest.raises(RuntimeError, match="boundaries tensor must be 1 dimension"):
        gg.bucketize(gg.tensor([1]), gg.tensor([[1, 2]]))
    with pytest.raises(RuntimeError, match="bins must be > 0"):
        gg.tensor([1.0]).histc(0)


def test_calls_on_cuda_stand_in(fake_cuda, monkeypatch, torch):
    """Every call on the cuda backend (CuPy stood in by NumPy) matches PyTorch."""
    install_cupyx(monkeypatch)
    for _, f, data in CALLS:
        _same(f(_OnDevice("cuda"), gg.tensor(data, device="cuda")), f(torch, torch.tensor(data)))
