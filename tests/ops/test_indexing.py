"""Indexing along dimensions: gather, scatter, scatter_add, index_select/add/copy/fill,
masked_select, take, take_along_dim, tril/triu, diag/diagonal and nonzero/argwhere/where(cond),
against PyTorch (values, gradients, errors) and on the simulated GPU (kernels)."""
import numpy as np
import pytest

import gpugrad as gg
from support.fake_cupy import install_cupyx
from support.gradtools import OpCase, op_tests

R = np.random.default_rng(5)
X = R.standard_normal((3, 4))
X3 = R.standard_normal((2, 3, 4))
V = R.standard_normal(4)


def _i(values):
    """An int64 index tensor made on the device of the tensor it indexes (gg or torch)."""
    def make(like):
        if isinstance(like, gg.Tensor):
            return gg.tensor(values, device=like.device)
        return __import__("torch").tensor(values)
    return make


def _case(name, method, inputs, *args, second_order=True, **kwargs):
    """An OpCase calling ``x.method(*args)`` in both libraries; index arguments are ``_i``s
    (made on the first input's device) and ``"input1"``... name the other inputs."""
    def call(*xs):
        resolved = [a(xs[0]) if callable(a) else xs[int(a[5:])] if isinstance(a, str) and
                    a.startswith("input") else a for a in args]
        return getattr(xs[0], method)(*resolved, **kwargs)
    return OpCase(name, call, call, inputs, second_order=second_order)


G0 = _i([[0, 2, 2, 1], [1, 1, 0, 0]])  # repeated rows: gradients add up
CASES = [
    _case("gather_dim0", "gather", [X], 0, G0),
    _case("gather_dim1", "gather", [X], 1, _i([[3, 3], [0, 1], [2, 2]])),
    _case("gather_neg_dim_smaller_index", "gather", [X3], -1, _i([[[0, 0]], [[3, 1]]])),
    _case("scatter_src", "scatter", [X, R.standard_normal((2, 4))], 0,
          _i([[0, 2, 1, 1], [2, 0, 0, 2]]), "input1"),
    # (PyTorch's own backward fails for a src larger than index: it reads src's block)
    OpCase("scatter_src_larger", lambda a, s: a.scatter(1, _i([[3], [0], [1]])(a), s),
           lambda a, s: a.scatter(1, _i([[3], [0], [1]])(a), s[:, :1]),
           [X, R.standard_normal((3, 5))]),
    _case("scatter_value", "scatter", [X], 1, _i([[0, 2], [1, 3], [3, 0]]), 2.5),
    _case("scatter_add", "scatter_add", [X, R.standard_normal((2, 4))], 0, G0, "input1"),
    OpCase("scatter_add_src_larger", lambda a, s: a.scatter_add(2, _i([[[0, 0, 3]] * 3] * 2)(a), s),
           lambda a, s: a.scatter_add(2, _i([[[0, 0, 3]] * 3] * 2)(a), s[..., :3]),
           [X3, R.standard_normal((2, 3, 5))]),
    _case("index_select", "index_select", [X], 1, _i([3, 0, 3, 1])),
    _case("index_select_0d_index", "index_select", [X], 0, _i(2)),
    _case("index_add", "index_add", [X, R.standard_normal((3, 3))], 1, _i([0, 0, 2]),
          "input1"),
    _case("index_add_alpha", "index_add", [X, R.standard_normal((2, 4))], 0, _i([2, 2]),
          "input1", alpha=-1.5),
    _case("index_copy", "index_copy", [X, R.standard_normal((3, 2))], 1, _i([3, 0]), "input1"),
    _case("index_fill", "index_fill", [X], 0, _i([1, 2]), -3.0),
    _case("take", "take", [X], _i([[0, 11, -1], [5, 5, 2]])),
    _case("take_along_dim", "take_along_dim", [X], _i([[0, 3], [1, 1], [2, 0]]), 1),
    _case("take_along_dim_broadcast", "take_along_dim", [X], _i([[2, 0, 0, 1]]), 0),
    _case("take_along_dim_flat", "take_along_dim", [X], _i([7, 7, 0])),
    _case("tril", "tril", [X]),
    _case("tril_offset", "tril", [X3], 1),
    _case("triu", "triu", [X]),
    _case("triu_negative", "triu", [X3], -1),
    _case("diag_of_matrix", "diag", [X]),
    _case("diag_of_matrix_offset", "diag", [X], 2),
    _case("diag_of_matrix_below", "diag", [X], -1),
    _case("diag_of_vector", "diag", [V]),
    _case("diag_of_vector_offset", "diag", [V], -2),
    _case("diagonal", "diagonal", [X3]),
    _case("diagonal_dims_offset", "diagonal", [X3], 1, 0, 2),
    _case("diagonal_negative_dims", "diagonal", [X3], -1, -1, -2),
    OpCase("masked_select", lambda a: a.masked_select(a > 0), lambda a: a.masked_select(a > 0),
           [X]),
    OpCase("masked_select_broadcast", lambda a, b: a.masked_select(b > 0),
           lambda a, b: a.masked_select(b > 0), [X, R.standard_normal(4)]),
    OpCase("masked_fill_function", lambda a: gg.masked_fill(a, a > 0, 2.0),
           lambda a: __import__("torch").masked_fill(a, a > 0, 2.0), [X]),
    OpCase("gather_function", lambda a: gg.gather(a, 0, G0(a)),
           lambda a: __import__("torch").gather(a, 0, G0(a)), [X]),
    OpCase("scatter_inplace", lambda a, s: (a * 1).scatter_(1, _i([[0], [3], [1]])(a), s),
           lambda a, s: (a * 1).scatter_(1, _i([[0], [3], [1]])(a), s),
           [X, R.standard_normal((3, 1))]),
    OpCase("scatter_add_inplace", lambda a, s: (a * 1).scatter_add_(0, G0(a), s),
           lambda a, s: (a * 1).scatter_add_(0, G0(a), s), [X, R.standard_normal((2, 4))]),
    OpCase("index_add_inplace", lambda a, s: (a * 1).index_add_(0, _i([1, 1])(a), s, alpha=2),
           lambda a, s: (a * 1).index_add_(0, _i([1, 1])(a), s, alpha=2),
           [X, R.standard_normal((2, 4))]),
]

test_gradcheck, test_matches_torch = op_tests(CASES)


def test_repeated_indices_accumulate_gradients(device):
    x = gg.tensor([1.0, 2.0, 3.0], device=device, requires_grad=True)
    x.gather(0, gg.tensor([0, 0, 2, 0], device=device)).sum().backward()
    assert x.grad.tolist() == [3.0, 0.0, 1.0]
    src = gg.ones(4, device=device, requires_grad=True)
    out = gg.zeros(3, device=device).scatter_add(0, gg.tensor([1, 1, 1, 0], device=device), src)
    assert out.tolist() == [1.0, 3.0, 0.0]
    (out * gg.tensor([10.0, 20.0, 30.0], device=device)).sum().backward()
    assert src.grad.tolist() == [20.0, 20.0, 20.0, 10.0]


@pytest.mark.parametrize("values", [[[0.0, 1.5, 0.0], [2.0, 0.0, -1.0]], [0.0, 0.0], 3.0, 0.0,
                                    [[True, False], [False, True]]])
def test_nonzero_matches_torch(values, device, torch):
    x, t = gg.tensor(values, device=device), torch.tensor(values)
    assert x.nonzero().tolist() == t.nonzero().tolist()
    assert x.nonzero().shape == tuple(t.nonzero().shape) and x.nonzero().dtype is gg.int64
    assert [c.tolist() for c in x.nonzero(as_tuple=True)] == \
        [c.tolist() for c in t.nonzero(as_tuple=True)]
    assert gg.argwhere(x).tolist() == torch.argwhere(t).tolist()
    if x.ndim:
        assert [c.tolist() for c in gg.where(x != 0)] == [c.tolist() for c in torch.where(t != 0)]


def test_zero_dim_gather_like_torch(device, torch):
    for data, index in ((5.0, 0), (5.0, [0, 0]), ([1.0, 2.0], 1)):
        ours = gg.tensor(data, device=device).gather(0, gg.tensor(index, device=device))
        theirs = torch.tensor(data).gather(0, torch.tensor(index))
        assert ours.tolist() == theirs.tolist() and ours.shape == tuple(theirs.shape)
    with pytest.raises(RuntimeError, match="same number of dimensions"):
        gg.ones(2, 3, device=device).gather(0, gg.tensor(0, device=device))


def test_where_condition_indexes(device):
    x = gg.tensor([[1.0, -2.0], [-3.0, 4.0]], device=device, requires_grad=True)
    x[gg.where(x < 0)].sum().backward()
    assert x.grad.tolist() == [[0.0, 1.0], [1.0, 0.0]]


def test_results_keep_integer_and_bool_dtypes(device, torch):
    x = gg.tensor([[1, 2], [3, 4]], device=device)
    assert x.tril().tolist() == [[1, 0], [3, 4]] and x.tril().dtype is gg.int64
    b = gg.ones(2, 3, dtype=gg.bool, device=device)
    assert b.triu().tolist() == torch.ones(2, 3, dtype=torch.bool).triu().tolist()
    assert x.scatter(0, gg.tensor([[1, 0]], device=device), 9).tolist() == [[1, 9], [9, 4]]


def _errors():
    """(name, call on gg, call on torch) of bad calls whose PyTorch messages we repeat."""
    def both(fn):
        return fn, fn
    return [
        ("gather_float_index", *both(lambda m, x: x.gather(0, m.tensor([[0.0]])))),
        ("gather_rank", *both(lambda m, x: x.gather(0, m.tensor([0, 1])))),
        ("gather_too_large", *both(lambda m, x: x.gather(1, m.zeros(4, 2, dtype=m.int64)))),
        ("scatter_src_too_small", *both(lambda m, x: x.scatter(0, m.tensor([[0, 1], [2, 0]]),
                                                               m.ones(1, 1)))),
        ("index_select_matrix", *both(lambda m, x: x.index_select(0, m.tensor([[0]])))),
        ("index_add_shape", *both(lambda m, x: x.index_add(0, m.tensor([0, 0]), m.ones(2, 5)))),
        ("index_add_count", *both(lambda m, x: x.index_add(0, m.tensor([0, 0]), m.ones(3, 4)))),
        ("masked_select_float_mask", *both(lambda m, x: x.masked_select(m.ones(4)))),
        ("tril_vector", *both(lambda m, x: x[0].tril())),
        ("diag_3d", *both(lambda m, x: x.reshape(1, 3, 4).diag())),
        ("diagonal_same_dims", *both(lambda m, x: x.diagonal(0, 0, 0))),
        ("take_along_dim_rank", *both(lambda m, x: m.take_along_dim(x, m.tensor([0]), 1))),
    ]


class _OnDevice:
    """``gg`` whose ``tensor``, ``ones`` and ``zeros`` make tensors on one device."""

    def __init__(self, device):
        self.device = device

    def __getattr__(self, name):
        fn = getattr(gg, name)
        if name in ("tensor", "ones", "zeros"):
            return lambda *args, **kwargs: fn(*args, device=self.device, **kwargs)
        return fn


@pytest.mark.parametrize("name,ours,theirs", _errors(), ids=[e[0] for e in _errors()])
def test_errors_match_torch(name, ours, theirs, device, torch):
    with pytest.raises(Exception) as expected:
        theirs(torch, torch.ones(3, 4))
    with pytest.raises(type(expected.value)) as got:
        ours(_OnDevice(device), gg.ones(3, 4, device=device))
    assert str(got.value).startswith(str(expected.value).split(";")[0][:40])


def test_index_arguments_must_be_tensors_on_the_same_device(device):
    x = gg.ones(3, 4, device=device)
    with pytest.raises(TypeError, match=r"gather\(\): argument 'index' \(position 2\) must be "
                                        r"Tensor, not list"):
        x.gather(0, [[0]])
    other = "sim" if device == "cpu" else "cpu"
    with pytest.raises(RuntimeError, match="same device"):
        x.index_select(0, gg.tensor([0], device=other))
    with pytest.raises(RuntimeError, match="scatter.*self.dtype to be equal to src.dtype"):
        x.scatter(0, gg.tensor([[0]], device=device), gg.ones(1, 1, dtype=gg.float64,
                                                               device=device))
    with pytest.raises(RuntimeError, match="use scatter_add"):
        x.scatter(0, gg.tensor([[0]], device=device), 1.0, reduce="add")


def _kernels():
    return gg.device_registry.get_backend("sim:0").kernel_totals()[0]


def test_sim_gather_is_one_gather_kernel_and_its_backward_one_scatter_add():
    x = gg.randn(64, 32, device="sim", requires_grad=True)
    index = gg.randint(0, 64, (16, 32), device="sim")
    gg.sim.reset("sim:0")
    out = x.gather(0, index)
    kernels = _kernels()
    assert kernels["getitem"][0] == 1 and set(kernels) <= {"getitem", "arange"}
    gg.sim.reset("sim:0")
    out.backward(gg.ones(16, 32, device="sim"))
    assert _kernels()["index_add"][0] == 1


def test_sim_index_select_launches_only_the_gather():
    x = gg.randn(64, 32, device="sim")
    index = gg.tensor([3, 1, 3], device="sim")
    gg.sim.reset("sim:0")
    x.index_select(0, index)
    assert set(_kernels()) == {"getitem"}


# ---- cuda, on the tests' stand-in for CuPy ----------------------------------------------------
def test_cuda_backend_runs_the_indexing_ops(fake_cuda, monkeypatch, torch):
    """gather's gradient (and scatter_add, index_add) accumulate with ``cupyx.scatter_add``
    (stood in for by NumPy's ``add.at``)."""
    from gpugrad.ops.einsum import einsum

    install_cupyx(monkeypatch)

    data = R.standard_normal((3, 4))
    x = gg.tensor(data, device="cuda", requires_grad=True)
    t = torch.tensor(data, requires_grad=True)
    index = [[0, 2, 2, 1], [1, 1, 0, 0]]
    outs = [x.gather(0, gg.tensor(index, device="cuda")).sum() * 2,
            x.scatter_add(0, gg.tensor(index, device="cuda"), x[:2]).tril().sum(),
            x.index_select(1, gg.tensor([3, 3], device="cuda")).roll(1, 0).flip(1).sum(),
            einsum("ij,kj->ik", x, x).diagonal().sum()]
    expected = [t.gather(0, torch.tensor(index)).sum() * 2,
                t.scatter_add(0, torch.tensor(index), t[:2]).tril().sum(),
                t.index_select(1, torch.tensor([3, 3])).roll(1, 0).flip(1).sum(),
                torch.einsum("ij,kj->ik", t, t).diagonal().sum()]
    sum(outs).backward()
    sum(expected).backward()
    np.testing.assert_allclose([o.item() for o in outs], [e.item() for e in expected])
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy())
    assert x.nonzero().tolist() == t.nonzero().tolist()


def test_a_uint8_index_is_a_mask_with_pytorchs_warning(device, torch):
    values = np.arange(12.0).reshape(3, 4)
    rows = [1, 0, 1]
    mask = [[1, 0, 1, 0], [0, 0, 0, 0], [1, 1, 1, 1]]
    for lib, dev in ((gg, device), (torch, "cpu")):
        x = lib.tensor(values, device=dev)
        with pytest.warns(UserWarning, match="indexing with dtype .*uint8 is now deprecated"):
            picked = x[lib.tensor(rows, dtype=lib.uint8, device=dev)]
        with pytest.warns(UserWarning) as caught:
            masked = x[lib.tensor(mask, dtype=lib.uint8, device=dev)]
        assert caught[0].filename == __file__  # the warning names the user's line
        assert picked.tolist() == [[0.0, 1.0, 2.0, 3.0], [8.0, 9.0, 10.0, 11.0]]
        assert masked.tolist() == [0.0, 2.0, 8.0, 9.0, 10.0, 11.0]


def test_an_empty_list_index_selects_nothing(device):
    x = gg.arange(12.0, device=device).reshape(3, 4)
    assert x[[]].shape == (0, 4) and x[:, []].shape == (3, 0)


NEGATIVE = {  # the index ops PyTorch refuses a negative index in: it wrapped to the end here
    "gather": (lambda L, x, i: x.gather(0, i.reshape(1, 1).expand(1, 2)), RuntimeError),
    "take_along_dim_flat": (lambda L, x, i: x.take_along_dim(i, None), RuntimeError),
    "scatter": (lambda L, x, i: x.scatter(0, i.reshape(1, 1), 5.0), RuntimeError),
    "scatter_add": (lambda L, x, i: x.scatter_add(0, i.reshape(1, 1), L.ones(1, 1, device=x.device)),
                    RuntimeError),
    "scatter_reduce": (lambda L, x, i: x.scatter_reduce(0, i.reshape(1, 1), L.ones(1, 1, device=x.device),
                                                        "amax"), RuntimeError),
    "index_select": (lambda L, x, i: x.index_select(0, i), IndexError),
    "index_add": (lambda L, x, i: x.index_add(0, i, L.ones(1, 2, device=x.device)), RuntimeError),
    "index_copy": (lambda L, x, i: x.index_copy(0, i, L.ones(1, 2, device=x.device)), IndexError),
    "embedding": (lambda L, x, i: L.nn.functional.embedding(i, x), IndexError),
}
WRAPPING = {  # and those where it counts from the end, in PyTorch too
    "getitem": lambda L, x, i: x[i],
    "index_put": lambda L, x, i: x.index_put((i,), L.tensor(5.0)),
    "index_fill": lambda L, x, i: x.index_fill(0, i, 5.0),
    "take": lambda L, x, i: x.take(i),
    "take_along_dim": lambda L, x, i: x.take_along_dim(i.reshape(1, 1), 0),
}


@pytest.mark.parametrize("name", list(NEGATIVE))
def test_a_negative_index_is_refused_where_pytorch_refuses_it(name, device):
    f, error = NEGATIVE[name]
    x = gg.arange(6.0, device=device).reshape(3, 2)
    f(gg, x, gg.tensor([2], device=device))  # in range: fine
    with pytest.raises(error, match=f"index -1 is out of bounds for dimension 0 with size "
                                    f"{6 if name.endswith('flat') else 3}"):
        f(gg, x, gg.tensor([-1], device=device))


@pytest.mark.parametrize("name", list(NEGATIVE) + list(WRAPPING))
def test_negative_indices_are_refused_or_wrap_as_in_pytorch(name, torch):
    f = NEGATIVE[name][0] if name in NEGATIVE else WRAPPING[name]
    results = []
    for lib in (gg, torch):
        x = lib.arange(6.0).reshape(3, 2)
        try:
            results.append(f(lib, x, lib.tensor([-1])).tolist())
        except (IndexError, RuntimeError):
            results.append("refused")
    assert results[0] == results[1]


LIST_INDICES = {  # a list holding sequences is a tuple of indices, as PyTorch reads it
    "rows_cols": ([[0, 1], [1, 2]], [1.0, 6.0]),  # (it took rows [0, 1] and [1, 2]: (2, 2, 4))
    "one_list": ([[0, 2]], [[0.0, 1.0, 2.0, 3.0], [8.0, 9.0, 10.0, 11.0]]),
    "with_slice": ([[0, 1], slice(1, 3)], [[1.0, 2.0], [5.0, 6.0]]),
    "with_int": ([[0, 2], 3], [3.0, 11.0]),
    "with_none": ([None, 2], [[8.0, 9.0, 10.0, 11.0]]),
}


@pytest.mark.parametrize("name", list(LIST_INDICES))
def test_a_list_of_sequences_indexes_as_a_tuple(name, device):
    index, want = LIST_INDICES[name]
    x = gg.arange(12.0, device=device).reshape(3, 4)
    with pytest.warns(UserWarning, match="use x\\[tuple\\(seq\\)\\] instead of x\\[seq\\]"):
        assert x[index].tolist() == want
    with pytest.warns(UserWarning):
        x[index] = -1.0
    assert x.sum().item() == 66.0 - sum(np.ravel(want)) - np.size(want)


def test_a_list_of_ints_or_bools_stays_one_index():
    x = gg.arange(12.0).reshape(3, 4)
    assert x[[0, 2]].shape == (2, 4) and x[[True, False, True]].shape == (2, 4)
    assert x[gg.tensor([[0, 1], [1, 2]])].shape == (2, 2, 4)  # a tensor is one index


@pytest.mark.parametrize("name", list(LIST_INDICES))
def test_list_indices_match_torch(name, torch):
    index = LIST_INDICES[name][0]
    with pytest.warns(UserWarning):
        ours = gg.arange(12.0).reshape(3, 4)[index]
    with pytest.warns(UserWarning):
        theirs = torch.arange(12.0).reshape(3, 4)[index]
    assert ours.tolist() == theirs.tolist()
