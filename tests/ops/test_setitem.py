"""``Tensor.__setitem__``: every index form of ``__getitem__`` with a number or a (broadcast)
tensor value, in place outside autograd, recorded as a differentiable op (PyTorch's CopySlices)
inside it; values, gradients and errors against PyTorch."""
import numpy as np
import pytest

import gpugrad as gg
from support.gradtools import OpCase, assert_close, op_tests

R = np.random.default_rng(5)
X = R.standard_normal((3, 4))
X3 = R.standard_normal((2, 3, 4))
MASK = X > 0


def _put(index, value=None):
    """``fn(a[, v])``: a copy of ``a`` with ``copy[index(a)] = v`` (or ``value``), in either library."""

    def fn(a, v=None):
        out = a * 1  # a non-leaf: a leaf that requires grad cannot be written in place
        out[index(a)] = value if v is None else v
        return out

    return fn


def _long(values):
    """An int64 index tensor of the library (and device) of the tensor being indexed."""
    def make(like):
        if isinstance(like, gg.Tensor):
            return gg.tensor(values, device=like.device)
        return __import__("torch").tensor(values)
    return make


def _mask(like):
    if isinstance(like, gg.Tensor):
        return gg.tensor(MASK, device=like.device)
    return __import__("torch").tensor(MASK)


def _case(name, index, inputs, value=None):
    return OpCase(name, _put(index, value), _put(index, value), inputs)


CASES = [
    _case("int_row_tensor", lambda a: 1, [X, R.standard_normal(4)]),
    _case("int_row_broadcast", lambda a: 1, [X, R.standard_normal(1)]),
    _case("int_pair_0d_value", lambda a: (2, -1), [X, np.array(0.5)]),
    _case("slices_broadcast_row", lambda a: (slice(None), slice(1, 3)), [X, R.standard_normal(2)]),
    _case("strided_slices", lambda a: (slice(None, None, 2), slice(0, 4, 3)),
          [X, R.standard_normal((2, 2))]),
    _case("ellipsis_none", lambda a: (Ellipsis, None, 0), [X3, R.standard_normal((3, 1))]),
    _case("long_tensor", lambda a: _long([2, 0])(a), [X, R.standard_normal((2, 4))]),
    _case("long_tensor_and_slice", lambda a: (_long([0, 2])(a), slice(1, None)),
          [X, R.standard_normal(3)]),
    _case("two_long_tensors", lambda a: (_long([0, 1, 2])(a), _long([3, 0, 1])(a)),
          [X, R.standard_normal(3)]),
    _case("bool_mask", _mask, [X, R.standard_normal(int(MASK.sum()))]),
    _case("bool_mask_scalar_value", _mask, [X, np.array(2.0)]),
    _case("number_value", lambda a: (slice(1, None), 2), [X], value=3.5),
    _case("number_value_mask", _mask, [X], value=-1.0),
]
test_gradcheck, test_matches_torch = op_tests(CASES)


@pytest.mark.parametrize("index", [
    1, -1, (0, 2), slice(1, None), (slice(None), slice(None, None, 2)), (Ellipsis, 1),
    (None, 1), [2, 0], np.array([0, 2]), MASK, MASK[:, 0], (slice(None), [1, 3]), (1, [0, 3]),
], ids=str)
@pytest.mark.parametrize("value", ["number", "tensor"])
def test_in_place_writes_match_torch(device, torch, index, value):
    x, t = gg.tensor(X, device=device), torch.tensor(X, dtype=torch.float32)
    target = tuple(t[index].shape)
    v = R.standard_normal(target[-1:]).astype(np.float32)  # broadcast along the leading dims
    data = x._data
    if value == "number":
        x[index], t[index] = 7.0, 7.0
    else:
        x[index], t[index] = gg.tensor(v, device=device), torch.tensor(v)
    assert_close(x, t)
    assert x._data is data and x.is_leaf and not x.requires_grad  # in place: the same array


def test_writes_through_a_view_reach_the_base(device, torch):
    x, t = gg.zeros(3, 4, device=device), torch.zeros(3, 4)
    row, trow = x[1], t[1]
    row[2:], trow[2:] = 5.0, 5.0
    assert_close(x, t)


def test_values_are_cast_to_the_tensor_dtype_like_torch(device, torch):
    x, t = gg.zeros(3, dtype=gg.int64, device=device), torch.zeros(3, dtype=torch.int64)
    x[0], t[0] = gg.tensor(2.7, device=device), torch.tensor(2.7)
    x[1:], t[1:] = np.int64(4), np.int64(4)
    assert x.dtype == gg.int64 and x.tolist() == t.tolist()
    y, u = gg.zeros(2, device=device), torch.zeros(2)
    y[:], u[:] = gg.tensor([1, 2], device=device), torch.tensor([1, 2])
    assert y.dtype == gg.float32 and y.tolist() == u.tolist()


@pytest.mark.parametrize("index", [0, slice(1, None), None, Ellipsis, [0, 2], [True, False, True]],
                         ids=str)
def test_a_leaf_that_requires_grad_cannot_be_written(device, torch, index):
    w = gg.ones(3, device=device, requires_grad=True)
    with pytest.raises(RuntimeError) as ours:
        w[index if not isinstance(index, list) else gg.tensor(index, device=device)] = 2.0
    with pytest.raises(RuntimeError) as theirs:
        torch.ones(3, requires_grad=True)[index if not isinstance(index, list)
                                          else torch.tensor(index)] = 2.0
    assert str(ours.value) == str(theirs.value).split("\n")[0]
    w = gg.ones(3, device=device, requires_grad=True)
    with gg.no_grad():  # outside autograd, as in PyTorch
        w[0] = 2.0
    assert w.tolist() == [2.0, 1.0, 1.0] and w.is_leaf and w.grad_fn is None


def test_a_value_that_requires_grad_makes_the_tensor_a_non_leaf(device, torch):
    v_data = R.standard_normal(2)
    x = gg.zeros(3, 2, dtype=gg.float64, device=device)
    v = gg.tensor(v_data, device=device, requires_grad=True)
    t, tv = torch.zeros(3, 2, dtype=torch.float64), torch.tensor(v_data, requires_grad=True)
    x[1:] = v * 2
    t[1:] = tv * 2
    assert (x.requires_grad, x.is_leaf) == (t.requires_grad, t.is_leaf) == (True, False)
    x[0, 0] = 5.0  # a second write on the recorded tensor
    t[0, 0] = 5.0
    weights = R.standard_normal((3, 2))
    (x * gg.tensor(weights, device=device)).sum().backward()
    (t * torch.tensor(weights)).sum().backward()
    assert_close(x, t)
    assert_close(v.grad, tv.grad)


def test_recorded_write_to_a_saved_output_is_caught_like_torch(device, torch):
    # exp's backward reads its output: writing into it in place makes backward raise, as in
    # PyTorch, rather than give a silently wrong gradient
    w = gg.tensor([0.5, 1.0, 2.0], dtype=gg.float64, device=device, requires_grad=True)
    y = w.exp()
    y[0] = 0.0
    with pytest.raises(RuntimeError, match="modified by an inplace operation") as ours:
        y.sum().backward()
    tw = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64, requires_grad=True)
    ty = tw.exp()
    ty[0] = 0.0
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        ty.sum().backward()
    assert "is at version 1; expected version 0" in str(ours.value)
    y = w.exp().clone()  # writing into a clone is fine
    y[0] = 0.0
    y.sum().backward()
    assert_close(w.grad, [0.0, np.exp(1.0), np.exp(2.0)])


def test_write_errors_name_the_problem(device, torch):
    x = gg.zeros(3, 4, device=device)
    with pytest.raises(RuntimeError) as ours:
        x[0] = gg.ones(3, device=device)
    with pytest.raises(RuntimeError) as theirs:
        torch.zeros(3, 4)[0] = torch.ones(3)
    assert str(ours.value) == str(theirs.value)
    with pytest.raises(RuntimeError, match=r"shape mismatch: value tensor of shape \[3\] cannot be "
                                           r"broadcast to indexing result of shape \[1, 4\]"):
        x[gg.tensor([0], device=device)] = gg.ones(3, device=device)
    with pytest.raises(IndexError, match="out of range for shape"):
        x[3] = 1.0
    with pytest.raises(IndexError, match="valid indices"):
        x["a"] = 1.0
    with pytest.raises(TypeError, match="can't assign a list to a Tensor"):
        x[0] = [1.0, 2.0, 3.0, 4.0]
    with pytest.raises(TypeError, match="can't assign a list"):
        torch.zeros(3, 4)[0] = [1.0, 2.0, 3.0, 4.0]
    other = "cpu" if device != "cpu" else "sim"
    with pytest.raises(RuntimeError, match="same device"):
        x[0] = gg.ones(4, device=other)


def test_sim_models_one_index_put_kernel_per_write():
    x = gg.zeros(64, 32, device="sim")
    idx = gg.tensor([1, 5, 9], device="sim")
    gg.sim.reset("sim:0")
    x[idx] = 1.0  # index arrays: one scatter kernel
    by_op = gg.device_registry.get_backend("sim").kernel_totals()[0]
    assert by_op["index_put"][0] == 1 and "copy" not in by_op
    x[:, 3] = gg.ones(64, device="sim")  # a slice: one copy into the view, as on a GPU
    by_op = gg.device_registry.get_backend("sim").kernel_totals()[0]
    assert by_op["index_put"][0] == 1 and by_op["copy"][0] == 1
    assert by_op["full"][0] == 1  # the ones() value: the writes add no copies of x
    gg.sim.reset("sim:0")
    w = gg.ones(32, device="sim", requires_grad=True)
    x[0] = w  # recorded, still in place: one copy into the view, nothing else
    by_op = gg.device_registry.get_backend("sim").kernel_totals()[0]
    assert by_op["copy"][0] == 1 and "index_put" not in by_op and x.grad_fn is not None


def test_writing_into_an_expanded_view_says_to_clone_like_torch(torch):
    x = gg.ones(3, 1, device="sim").expand(3, 4)  # sim's expand is a view, as on a GPU
    with pytest.raises(RuntimeError) as ours:
        x[0] = 2.0
    with pytest.raises(RuntimeError) as theirs:
        torch.ones(3, 1).expand(3, 4)[0] = 2.0
    assert str(ours.value) == str(theirs.value)
    y = x.clone()
    y[0] = 2.0
    assert y.tolist()[0] == [2.0] * 4


def test_a_value_with_extra_leading_unit_dims_is_written_as_pytorch(device, torch):
    for lib in (gg, torch):
        x, y = lib.zeros(4), lib.zeros(2, 3)
        x[0:2] = lib.ones(1, 2)
        y[0] = lib.ones(1, 1, 3) * 2
        assert x.tolist() == [1.0, 1.0, 0.0, 0.0] and y.tolist() == [[2.0] * 3, [0.0] * 3]
    w = gg.zeros(3, device=device, requires_grad=True)
    v = gg.ones(1, 2, device=device, requires_grad=True)
    z = w * 1
    z[1:] = v * 2
    z.sum().backward()
    assert v.grad.tolist() == [[2.0, 2.0]] and w.grad.tolist() == [1.0, 0.0, 0.0]
    with pytest.raises(RuntimeError, match=r"^expand\(tensor of shape \[2, 2\], size=\[2\]\): the "
                                           r"number of sizes provided \(1\) must be greater or "
                                           r"equal to the number of dimensions in the tensor "
                                           r"\(2\)$"):
        gg.zeros(4, device=device)[0:2] = gg.ones(2, 2, device=device)
