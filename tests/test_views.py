"""Views share storage and one version counter with their base, with or without autograd
recording, and ``view``/``reshape``/``contiguous`` follow PyTorch's rules (gpugrad/views.py,
the view ops in gpugrad/ops/shape.py)."""
import contextlib

import numpy as np
import pytest

import gpugrad as gg
from support.gradtools import assert_close

DATA = np.arange(24, dtype=np.float64).reshape(2, 3, 4)

# name -> how to take the view (the same code runs on gpugrad and PyTorch tensors)
VIEWS = {
    "reshape": lambda t: t.reshape(6, 4),
    "view": lambda t: t.view(4, 6),
    "view_minus_one": lambda t: t.view(-1),
    "int_index": lambda t: t[1],
    "int_int_index": lambda t: t[1, 2],
    "scalar_element": lambda t: t[1, 2, 3],
    "slice": lambda t: t[:, 1:3],
    "step_slice": lambda t: t[:, :, ::2],
    "ellipsis": lambda t: t[..., 1],
    "none_index": lambda t: t[None, 0],
    "transpose": lambda t: t.transpose(0, 2),
    "permute": lambda t: t.permute(2, 0, 1),
    "T_of_matrix": lambda t: t[0].T,
    "mT": lambda t: t.mT,
    "narrow": lambda t: t.narrow(2, 1, 2),
    "squeeze": lambda t: t[:, :1].squeeze(1),
    "unsqueeze": lambda t: t.unsqueeze(1),
    "flatten": lambda t: t.flatten(1),
    "detach": lambda t: t.detach(),
    "view_of_view": lambda t: t.transpose(0, 1)[1].narrow(1, 1, 2),
}


def _base(lib, device=None, recorded=False):
    if lib is gg:
        leaf = gg.tensor(DATA, device=device, requires_grad=recorded)
    else:
        leaf = lib.tensor(DATA, requires_grad=recorded)
    return leaf * 1.0 if recorded else leaf  # a non-leaf when recorded: it may be written


@pytest.mark.parametrize("recorded", [False, True], ids=["plain", "recorded"])
@pytest.mark.parametrize("name", list(VIEWS))
def test_a_write_through_a_view_is_seen_by_the_base_and_back(name, recorded, device):
    make = VIEWS[name]
    original = gg.tensor(DATA, device=device)
    base = _base(gg, device, recorded)
    view = make(base)
    assert view._version == base._version == 0
    with gg.no_grad() if name == "detach" and recorded else contextlib.nullcontext():
        view.mul_(-1.0)
    # the base changed exactly where the view looks: there, and nowhere else
    assert_close(make(base), -make(original).numpy())
    changed = (base != original).sum().item()
    assert changed == (make(original) != 0).sum().item()
    assert base._version == view._version == 1
    base.add_(100.0)  # and a write through the base is seen by the view
    assert_close(view, 100.0 - make(original).numpy())
    assert base._version == view._version == 2
    if name != "detach":
        assert view._is_view() and view._base is base
        assert make(base)._base is base  # a view of a view names the root base


def test_views_share_one_version_counter_with_each_other(device):
    base = gg.zeros(3, 4, device=device)
    row, column, flat = base[1], base[:, 2], base.view(-1)
    row.fill_(1.0)
    assert column.tolist() == [0.0, 1.0, 0.0] and flat.tolist()[4:8] == [1.0] * 4
    assert base._version == row._version == column._version == flat._version == 1


def test_views_match_torch_on_values_shapes_and_strides(device, torch):
    for name, make in VIEWS.items():
        ours, theirs = make(gg.tensor(DATA, device=device)), make(torch.tensor(DATA))
        assert ours.shape == tuple(theirs.shape), name
        assert_close(ours, theirs.numpy(), what=name)
        # strides of size-1 dimensions mean nothing (NumPy and PyTorch pick different ones)
        sized = [i for i, size in enumerate(ours.shape) if size > 1]
        assert [ours.stride(i) for i in sized] == [theirs.stride(i) for i in sized], name
        assert ours.is_contiguous() == theirs.is_contiguous(), name


def test_view_of_a_non_contiguous_tensor_raises_as_torch(device, torch):
    x = gg.tensor(DATA, device=device).transpose(0, 1)
    with pytest.raises(RuntimeError) as ours:
        x.view(-1)
    with pytest.raises(RuntimeError) as theirs:
        torch.tensor(DATA).transpose(0, 1).view(-1)
    assert str(ours.value) == str(theirs.value)
    x.view(3, 2, 2, 2)  # splitting one dimension keeps a view possible, as in PyTorch
    torch.tensor(DATA).transpose(0, 1).view(3, 2, 2, 2)


def test_reshape_copies_only_when_it_must(device):
    base = gg.tensor(DATA, device=device)
    assert base.reshape(4, 6)._is_view()  # contiguous: a view
    t = base.transpose(0, 1)
    copied = t.reshape(-1)  # no view can do this: a copy with storage of its own
    assert not copied._is_view()
    copied.fill_(0.0)
    assert_close(base, DATA)
    kept = t.reshape(3, 2, 2, 2)  # strides allow it: still a view
    assert kept._is_view() and kept._base is base


def test_contiguous_returns_self_or_a_copy(device):
    x = gg.tensor(DATA, device=device)
    assert x.contiguous() is x and x.is_contiguous()
    t = x.transpose(0, 2)
    c = t.contiguous()
    assert not t.is_contiguous() and c.is_contiguous() and not c._is_view()
    assert_close(c, np.ascontiguousarray(DATA.transpose(2, 1, 0)))


def test_expand_is_a_read_only_view(device, torch):
    base = gg.zeros(3, 1, device=device)
    wide = base.expand(3, 4)
    base.fill_(2.0)
    assert wide.tolist() == [[2.0] * 4] * 3 and wide.stride() == (1, 0)
    with pytest.raises(RuntimeError) as ours:
        wide.add_(1.0)
    with pytest.raises(RuntimeError) as theirs:
        torch.zeros(3, 1).expand(3, 4).add_(1.0)
    assert str(ours.value) == str(theirs.value)


def test_data_shares_storage_but_not_the_version_counter(device):
    x = gg.ones(2, device=device)
    d = x.data
    d.fill_(3.0)
    assert x.tolist() == [3.0, 3.0] and x._version == 0 and d._version == 1


def test_view_errors_name_the_problem(device):
    x = gg.zeros(2, 3, device=device)
    with pytest.raises(RuntimeError, match="shape '\\[4, 2\\]' is invalid for input of size 6"):
        x.view(4, 2)
    with pytest.raises(RuntimeError, match="start \\(2\\) \\+ length \\(2\\) exceeds dimension"):
        x.narrow(1, 2, 2)
    with pytest.raises(RuntimeError, match="flatten\\(\\) has invalid args: start_dim cannot come"):
        x.flatten(1, 0)
    with pytest.raises(RuntimeError, match="Can't detach views in-place"):
        x[0].detach_()
