"""Layout ops and indexing: reshape/view, transpose/.T/permute, unsqueeze/squeeze, expand,
flatten, cat, stack and ``__getitem__`` (ints, slices, None, ..., integer and bool tensors)."""
import numpy as np
import pytest

import gpugrad as gg
from support.gradtools import OpCase, assert_close, op_tests

R = np.random.default_rng(11)
X = R.standard_normal((2, 3, 4))
M = R.standard_normal((3, 4))


def _index(values):
    """An int64 index tensor on the device of the tensor being indexed."""
    return lambda like: gg.tensor(values, device=like.device)


def _tindex(values):
    return lambda like: __import__("torch").tensor(values)


IDX = [0, 2, 2, 1]  # repeated entries: their gradients must add up
CASES = [
    OpCase("reshape", lambda a: a.reshape(4, 6), lambda a: a.reshape(4, 6), [X]),
    OpCase("reshape_tuple_infer", lambda a: a.reshape((3, -1)), lambda a: a.reshape((3, -1)), [X]),
    OpCase("view", lambda a: a.view(-1), lambda a: a.view(-1), [X]),
    OpCase("transpose", lambda a: a.transpose(0, 2), lambda a: a.transpose(0, 2), [X]),
    OpCase("transpose_neg", lambda a: a.transpose(-1, -2), lambda a: a.transpose(-1, -2), [X]),
    OpCase("T", lambda a: a.T, lambda a: a.T, [M]),
    OpCase("t", lambda a: a.t(), lambda a: a.t(), [M]),
    OpCase("mT", lambda a: a.mT, lambda a: a.mT, [X]),
    OpCase("permute", lambda a: a.permute(2, 0, 1), lambda a: a.permute(2, 0, 1), [X]),
    OpCase("permute_tuple", lambda a: a.permute((1, 2, 0)), lambda a: a.permute((1, 2, 0)), [X]),
    OpCase("unsqueeze", lambda a: a.unsqueeze(1), lambda a: a.unsqueeze(1), [M]),
    OpCase("unsqueeze_neg", lambda a: a.unsqueeze(-1), lambda a: a.unsqueeze(-1), [M]),
    OpCase("squeeze", lambda a: a.squeeze(), lambda a: a.squeeze(),
           [R.standard_normal((1, 3, 1, 2))]),
    OpCase("squeeze_dim", lambda a: a.squeeze(2), lambda a: a.squeeze(2),
           [R.standard_normal((1, 3, 1, 2))]),
    OpCase("expand", lambda a: a.expand(2, 3, 4), lambda a: a.expand(2, 3, 4),
           [R.standard_normal((3, 1))]),
    OpCase("expand_minus_one", lambda a: a.expand(5, -1), lambda a: a.expand(5, -1),
           [R.standard_normal((1, 3))]),
    OpCase("flatten", lambda a: a.flatten(), lambda a: a.flatten(), [X]),
    OpCase("flatten_range", lambda a: a.flatten(1), lambda a: a.flatten(1), [X]),
    OpCase("cat", lambda a, b: gg.cat([a, b], dim=1),
           lambda a, b: __import__("torch").cat([a, b], dim=1), [M, R.standard_normal((3, 2))]),
    OpCase("cat_neg_dim", lambda a, b, c: gg.cat((a, b, c), dim=-2),
           lambda a, b, c: __import__("torch").cat((a, b, c), dim=-2), [M, M[:1], M]),
    OpCase("stack", lambda a, b: gg.stack([a, b]),
           lambda a, b: __import__("torch").stack([a, b]), [M, M * 2]),
    OpCase("stack_last", lambda a, b: gg.stack([a, b], dim=-1),
           lambda a, b: __import__("torch").stack([a, b], dim=-1), [M, M + 1]),
    # indexing
    OpCase("index_int", lambda a: a[1], lambda a: a[1], [X]),
    OpCase("index_neg_int", lambda a: a[-1, 2], lambda a: a[-1, 2], [X]),
    OpCase("index_slices", lambda a: a[:, 1:, ::2], lambda a: a[:, 1:, ::2], [X]),
    OpCase("index_neg_slice", lambda a: a[..., -3:-1], lambda a: a[..., -3:-1], [X]),
    OpCase("index_none", lambda a: a[None, :, None], lambda a: a[None, :, None], [M]),
    OpCase("index_ellipsis", lambda a: a[..., 1], lambda a: a[..., 1], [X]),
    OpCase("index_int_tensor", lambda a: a[_index(IDX)(a)], lambda a: a[_tindex(IDX)(a)], [M]),
    OpCase("index_int_tensor_dim1", lambda a: a[:, _index(IDX)(a)],
           lambda a: a[:, _tindex(IDX)(a)], [M]),
    OpCase("index_pairs", lambda a: a[_index([0, 2, 0])(a), _index([1, 3, 1])(a)],
           lambda a: a[_tindex([0, 2, 0])(a), _tindex([1, 3, 1])(a)], [M]),
    OpCase("index_2d_tensor", lambda a: a[_index([[0, 1], [1, 1]])(a)],
           lambda a: a[_tindex([[0, 1], [1, 1]])(a)], [M]),
    OpCase("index_bool_mask", lambda a: a[a > 0], lambda a: a[a > 0], [M]),
    OpCase("index_list", lambda a: a[[2, 0, 2]], lambda a: a[[2, 0, 2]], [M]),
]


test_gradcheck, test_matches_torch = op_tests(CASES)


def test_repeated_indices_accumulate(device):
    x = gg.tensor([1.0, 2.0, 3.0], device=device, requires_grad=True)
    x[gg.tensor([0, 0, 2, 0], device=device)].sum().backward()
    assert x.grad.tolist() == [3.0, 0.0, 1.0]


def test_iteration_and_len(device):
    x = gg.tensor([[1.0, 2.0], [3.0, 4.0]], device=device, requires_grad=True)
    rows = list(x)
    assert len(x) == 2 and [r.tolist() for r in rows] == [[1.0, 2.0], [3.0, 4.0]]
    (rows[0] * 2 + rows[1]).sum().backward()
    assert x.grad.tolist() == [[2.0, 2.0], [1.0, 1.0]]


def test_reshape_errors(device):
    x = gg.ones(2, 3, device=device)
    with pytest.raises(RuntimeError, match=r"shape '\[4, 2\]' is invalid for input of size 6"):
        x.reshape(4, 2)
    with pytest.raises(RuntimeError, match="only one dimension can be inferred"):
        x.reshape(-1, -1)


def test_expand_errors(device):
    with pytest.raises(RuntimeError, match="non-singleton dimension 1"):
        gg.ones(2, 3, device=device).expand(2, 4)


def test_cat_and_stack_errors(device):
    a, b = gg.ones(2, 3, device=device), gg.ones(2, 4, device=device)
    with pytest.raises(RuntimeError, match=r"cat: sizes of tensors must match.*\(2, 4\)"):
        gg.cat([a, b], dim=0)
    with pytest.raises(RuntimeError, match="stack expects each tensor to be equal size"):
        gg.stack([a, b])
    with pytest.raises(RuntimeError, match="non-empty"):
        gg.cat([])


def test_index_errors(device):
    x = gg.ones(2, 3, device=device)
    with pytest.raises(IndexError, match=r"out of range for shape \(2, 3\)"):
        x[5]
    with pytest.raises(IndexError, match="long, int or bool"):
        x[gg.tensor([0.0], device=device)]
    with pytest.raises(IndexError, match="valid indices"):
        x["a"]


def test_permute_needs_a_permutation(device):
    with pytest.raises(RuntimeError, match="not a permutation"):
        gg.ones(2, 3, device=device).permute(0, 0)


def test_getitem_then_index_add_second_order_matches_torch(device, torch):
    data = R.standard_normal((4,))
    x = gg.tensor(data, dtype=gg.float64, device=device, requires_grad=True)
    idx = gg.tensor([1, 1, 3], device=device)
    (g,) = gg.grad((x[idx] ** 3).sum(), x, create_graph=True)
    (h,) = gg.grad((g * g).sum(), x)
    t = torch.tensor(data, requires_grad=True)
    (tg,) = torch.autograd.grad((t[torch.tensor([1, 1, 3])] ** 3).sum(), t, create_graph=True)
    (th,) = torch.autograd.grad((tg * tg).sum(), t)
    assert_close(g, tg)
    assert_close(h, th)


def test_numpy_array_and_bool_indices_like_torch(device, torch):
    x = gg.tensor(M, device=device, requires_grad=True)
    t = torch.tensor(M, requires_grad=True)
    assert_close(x[np.array([2, 0])], t[np.array([2, 0])])
    assert x[True].shape == tuple(t[True].shape) == (1, 3, 4)
    assert x[None, False].shape == tuple(t[None, False].shape)
    x[True].sum().backward()
    assert x.grad.tolist() == np.ones((3, 4)).tolist()


def test_transpose_of_a_zero_dim_tensor_like_torch(device, torch):
    x, t = gg.tensor(2.5, device=device, requires_grad=True), torch.tensor(2.5)
    for d0, d1 in ((0, 0), (0, -1), (-1, -1)):
        assert x.transpose(d0, d1).shape == tuple(t.transpose(d0, d1).shape) == ()
    assert x.mT.shape == x.t().shape == x.T.shape == ()
    x.transpose(0, -1).backward()
    assert x.grad.item() == 1.0
    for d0, d1 in ((0, 1), (-2, 0)):
        with pytest.raises(IndexError, match=r"range of \[-1, 0\]"):
            x.transpose(d0, d1)
        with pytest.raises(IndexError, match=r"range of \[-1, 0\]"):
            t.transpose(d0, d1)
    with pytest.raises(RuntimeError, match="only supported on matrices or batches of matrices"):
        gg.ones(2, device=device).mT
    with pytest.raises(RuntimeError, match="only supported on matrices or batches of matrices"):
        torch.ones(2).mT


@pytest.mark.parametrize("position", [0, 1])
def test_cat_of_a_zero_dim_tensor_is_an_error_like_torch(device, torch, position):
    tensors = [gg.ones(2, device=device)] * 2
    tensors[position] = gg.tensor(1.0, device=device)
    with pytest.raises(RuntimeError) as ours:
        gg.cat(tensors)
    ttensors = [torch.ones(2)] * 2
    ttensors[position] = torch.tensor(1.0)
    with pytest.raises(RuntimeError) as theirs:
        torch.cat(ttensors)
    assert str(ours.value).startswith(str(theirs.value))
    assert gg.stack(tensors[position:position + 1]).shape == (1,)  # stack is the fix


# ---- rearranging: unflatten, movedim, split/chunk/unbind, repeat/tile, roll, flip ------------
def _both(expr):
    """An OpCase pair of functions running ``expr`` (a method chain on ``a``) in both libraries,
    with ``lib`` naming gpugrad or torch for function calls."""
    def fn(lib):
        return lambda a: eval(expr, {"a": a, "lib": lib})
    return fn(gg), lambda a: eval(expr, {"a": a, "lib": __import__("torch")})


def _layout_case(name, expr, x=X):
    ours, theirs = _both(expr)
    return OpCase(name, ours, theirs, [x])


LAYOUT_CASES = [
    _layout_case("unflatten", "a.unflatten(2, (2, 2))"),
    _layout_case("unflatten_infer", "lib.unflatten(a, -1, (-1, 1, 2))"),
    _layout_case("flatten_function", "lib.flatten(a, 0, 1)"),
    _layout_case("movedim", "a.movedim(0, 2)"),
    _layout_case("movedim_tuple", "lib.movedim(a, (0, 1), (2, 0))"),
    _layout_case("moveaxis", "lib.moveaxis(a, -1, 0)"),
    _layout_case("swapaxes", "lib.swapaxes(a, 0, 2)"),
    _layout_case("swapdims", "a.swapdims(1, -1)"),
    _layout_case("squeeze_unsqueeze_functions", "lib.squeeze(lib.unsqueeze(a, 1), 1)"),
    _layout_case("permute_transpose_reshape_functions",
                 "lib.reshape(lib.transpose(lib.permute(a, (2, 0, 1)), 0, 1), (6, 4))"),
    _layout_case("select", "a.select(1, -1)"),
    _layout_case("split_int", "lib.cat(a.split(3, dim=2)[::-1], 2)"),
    _layout_case("split_sections", "a.split([1, 3], -1)[1] * a.split([1, 3], -1)[0]"),
    _layout_case("chunk", "lib.chunk(a, 2, 1)[1]"),
    _layout_case("unbind", "lib.stack(lib.unbind(a, 1)[::-1], 0)"),
    _layout_case("repeat", "a.repeat(2, 1, 3)"),
    _layout_case("repeat_new_dims", "a.repeat(2, 1, 1, 2)"),
    _layout_case("tile", "lib.tile(a, (2,))"),
    _layout_case("tile_more_dims", "a.tile((2, 1, 1, 1))"),
    _layout_case("roll", "a.roll(1, 2)"),
    _layout_case("roll_dims", "lib.roll(a, (-1, 5), (0, 2))"),
    _layout_case("roll_flat", "a.roll(3)"),
    _layout_case("flip", "a.flip(0, 2)"),
    _layout_case("flip_function", "lib.flip(a, (-1,))"),
    _layout_case("fliplr", "lib.fliplr(a)"),
    _layout_case("flipud", "a.flipud()"),
]

test_layout_gradcheck, test_layout_matches_torch = op_tests(LAYOUT_CASES)


def test_split_chunk_unbind_give_views_like_torch(device, torch):
    x = gg.arange(10, device=device)
    assert [p.tolist() for p in x.split(4)] == [p.tolist() for p in torch.arange(10).split(4)]
    assert [p.tolist() for p in x.chunk(4)] == [p.tolist() for p in torch.arange(10).chunk(4)]
    assert [p.tolist() for p in gg.arange(6).chunk(4)] == \
        [p.tolist() for p in torch.arange(6).chunk(4)]
    piece = x.split(4)[1]
    piece[0] = 100  # a view: the write reaches x, as in PyTorch
    assert x.tolist()[4] == 100
    row = gg.zeros(2, 3, device=device).unbind(0)[1]
    row[1] = 1.0
    assert row._view is not None


def test_flip_roll_and_repeat_copy_like_torch(device):
    x = gg.arange(4, device=device)
    for out in (x.flip(0), x.roll(1), x.roll(0), x.repeat(1)):
        out[0] = 100
        assert x.tolist() == [0, 1, 2, 3]


def _layout_errors():
    return [
        ("unflatten_sizes", lambda a: a.unflatten(1, (3, 2))),
        ("repeat_too_few", lambda a: a.repeat(2)),
        ("roll_misaligned", lambda a: a.roll(1, (0, 1))),
        ("flip_repeated", lambda a: a.flip(0, 0)),
        ("fliplr_vector", lambda a: a[0].fliplr()),
        ("movedim_lengths", lambda a: a.movedim((0, 1), (1,))),
        ("split_zero", lambda a: a.split(0)),
        ("split_sizes", lambda a: a.split([1, 1], 0)),
        ("chunk_zero", lambda a: a.chunk(0)),
        ("select_range", lambda a: a.select(0, 5)),
        ("unbind_dim", lambda a: a.unbind(2)),
    ]


@pytest.mark.parametrize("name,call", _layout_errors(), ids=[e[0] for e in _layout_errors()])
def test_layout_errors_match_torch(name, call, device, torch):
    with pytest.raises(Exception) as expected:
        call(torch.ones(3, 4))
    with pytest.raises(type(expected.value)) as got:
        call(gg.ones(3, 4, device=device))
    theirs = str(expected.value)
    assert theirs in str(got.value) or str(got.value).endswith(theirs.split(": ", 1)[-1]), \
        (str(got.value), theirs)


def test_sim_repeat_is_one_copy_and_its_backward_one_sum():
    x = gg.randn(16, 8, device="sim", requires_grad=True)
    gg.sim.reset("sim:0")
    out = x.repeat(3, 2)
    assert set(gg.device_registry.get_backend("sim:0").kernel_totals()[0]) == {"copy"}
    gg.sim.reset("sim:0")
    out.backward(gg.ones(48, 16, device="sim"))
    kernels = gg.device_registry.get_backend("sim:0").kernel_totals()[0]
    assert kernels["reduce:sum"][0] == 1
