"""In-place ops (gpugrad/inplace.py, gpugrad/tensor_inplace_methods.py): they write into the
tensor's storage, keep its identity, and autograd records them as PyTorch does, rebasing the
history of a view's base. Every program runs on gpugrad and PyTorch in float64 and must agree
on values and gradients; gradcheck covers the same programs without PyTorch."""
import numpy as np
import pytest

import gpugrad as gg
from support.gradtools import assert_close

R = np.random.default_rng(7)
W = R.standard_normal((3, 4))
X = R.standard_normal((3, 4)) + 2.0  # positive: log_, sqrt_, pow_ and div_ stay real
V = R.standard_normal(4)


def _leaves(lib, device):
    if lib is gg:
        make = lambda a: gg.tensor(a, dtype=gg.float64, device=device, requires_grad=True)  # noqa: E731
    else:
        make = lambda a: lib.tensor(a, dtype=lib.float64, requires_grad=True)  # noqa: E731
    return make(W), make(X), make(V)


# Each program takes leaves (w, x, v) and returns a scalar; ``w * 1.0`` makes a non-leaf that
# may be written in place. The same code runs on both libraries.
PROGRAMS = {
    "add_": lambda w, x, v: (w * 1.0).add_(x).mul(x).sum(),
    "add_alpha": lambda w, x, v: (w * 1.0).add_(x, alpha=-0.5).pow(2).sum(),
    "sub_": lambda w, x, v: (w * 1.0).sub_(x * 2).mul(w).sum(),
    "mul_tensor": lambda w, x, v: (w * 1.0).mul_(x).mul(w).sum(),
    "mul_scalar": lambda w, x, v: (w * 1.0).mul_(3.0).exp().sum(),
    "div_": lambda w, x, v: (w * 1.0).div_(x).mul(w).sum(),
    "pow_": lambda w, x, v: (x * 1.0).pow_(1.5).sum() + (x * 1.0).pow_(w).sum(),
    "neg_": lambda w, x, v: (w * x).neg_().mul(w).sum(),
    "exp_": lambda w, x, v: (w * 0.5).exp_().mul(x).sum(),
    "log_": lambda w, x, v: (x * 1.0).log_().mul(w).sum(),
    "sqrt_": lambda w, x, v: (x * 1.0).sqrt_().mul(w).sum(),
    "abs_": lambda w, x, v: (w * 1.0).abs_().mul(x).sum(),
    "relu_": lambda w, x, v: (w * 1.0).relu_().mul(x).sum(),
    "sigmoid_": lambda w, x, v: (w * 1.0).sigmoid_().mul(x).sum(),
    "tanh_": lambda w, x, v: (w * 1.0).tanh_().mul(x).sum(),
    "clamp_": lambda w, x, v: (w * 1.0).clamp_(-0.5, 0.5).mul(x).sum(),
    "clamp_min_": lambda w, x, v: (w * 1.0).clamp_min_(0.1).mul(x).sum(),
    "clamp_tensor_bounds": lambda w, x, v: (w * 1.0).clamp_(min=-x * 0.1, max=x * 0.2).sum(),
    "masked_fill_": lambda w, x, v: (w * 1.0).masked_fill_(x > 2.0, 0.25).mul(x).sum(),
    "copy_": lambda w, x, v: (w * 1.0).copy_(x * v).mul(w).sum(),
    "fill_tensor": lambda w, x, v: (w * 1.0).fill_(v[1]).mul(x).sum(),
    "zero_": lambda w, x, v: (w * 1.0).zero_().add(x).mul(w).sum(),
    "square_": lambda w, x, v: (w * 1.0).square_().mul(x).sum(),
    "addcmul_": lambda w, x, v: (w * 1.0).addcmul_(x, v, value=0.5).mul(w).sum(),
    "addcdiv_": lambda w, x, v: (w * 1.0).addcdiv_(v, x, value=2.0).mul(w).sum(),
    "lerp_": lambda w, x, v: (w * 1.0).lerp_(x, 0.25).mul(w).sum(),
    "iadd": lambda w, x, v: _aug(w, x, "+"),
    "isub": lambda w, x, v: _aug(w, x, "-"),
    "imul": lambda w, x, v: _aug(w, x, "*"),
    "idiv": lambda w, x, v: _aug(w, x, "/"),
    "ipow": lambda w, x, v: _aug(x, w, "**"),
    # views
    "row_then_column_write": lambda w, x, v: _chain_write(w, x),
    "transpose_view_mul_": lambda w, x, v: _transposed(w, x),
    "column_add_": lambda w, x, v: _column(w, x, v),
    "stale_view_after_base_write": lambda w, x, v: _stale(w, x),
    "two_views_of_one_base": lambda w, x, v: _two_views(w, x),
    "view_of_view": lambda w, x, v: _view_of_view(w, v),
    "strided_zero_": lambda w, x, v: _strided(w, x),
    "setitem_slice_tensor": lambda w, x, v: _setitem(w, x, v),
    "setitem_index_array": lambda w, x, v: _setitem_index(w, x, v),
    "masked_fill_on_view": lambda w, x, v: _masked_view(w, x),
    "base_written_twice": lambda w, x, v: _twice(w, x, v),
}


def _aug(a, b, op):
    y = a * 1.0
    y2 = y
    if op == "+":
        y += b
    elif op == "-":
        y -= b
    elif op == "*":
        y *= b
    elif op == "/":
        y /= b
    else:
        y **= 0.5
        y **= b
    assert y is y2  # the same tensor: written in place, not rebound
    return (y * b).sum()


def _chain_write(w, x):
    b = w * 1.0
    b[0][1] = 5.0  # b[0] is a view; its element 1 another; the write reaches b
    b[1][2] = x[0, 0] * 3
    return (b * x).sum()


def _transposed(w, x):
    b = w * 1.0
    b.t().mul_(x.t())
    return (b * b).sum()


def _column(w, x, v):
    b = w * 1.0
    col = b[:, 1]
    col.add_(x[:, 0])
    return (b * x).sum() + col.sum()


def _stale(w, x):
    b = w * 1.0
    row = b[1]  # a view made before the base is written
    b.mul_(x)
    return (row * 2.0).sum() + b.sum()


def _two_views(w, x):
    b = w * 1.0
    first, second = b[0], b[2]
    first.mul_(x[0])
    second.add_(first[:2].sum())  # reads the first view after its write
    return (b * x).sum() + (first * second).sum()


def _view_of_view(w, v):
    b = w * 1.0
    b.view(2, 6)[1].view(3, 2)[:, 1].mul_(v[:3])
    return (b * b).sum()


def _strided(w, x):
    b = w * 1.0
    b.view(-1)[::3].zero_()
    return (b * x).sum()


def _setitem(w, x, v):
    b = x * 1.0
    b[1:, 1:3] = w[:2, :2] * 2.0
    b[0] = v
    return (b * w).sum()


def _setitem_index(w, x, v):
    b = x * 1.0
    rows = (gg.tensor([0, 2], device=b.device) if isinstance(b, gg.Tensor) else
            __import__("torch").tensor([0, 2]))
    b[rows] = w[1] * 3.0
    return (b * v).sum()


def _masked_view(w, x):
    b = w * 1.0
    b[1:].masked_fill_(x[1:] > 2.0, 0.0)
    return (b * x).sum()


def _twice(w, x, v):
    b = w * 1.0
    b[0].mul_(2.0)
    b.add_(x)
    b[:, 0].sub_(v[:3])
    return (b * b).sum()


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_program_matches_torch(name, device, torch):
    ours, theirs = _leaves(gg, device), _leaves(torch, None)
    out, expected = PROGRAMS[name](*ours), PROGRAMS[name](*theirs)
    assert_close(out, expected, what=f"{name} value")
    out.backward()
    expected.backward()
    for i, (a, b) in enumerate(zip(ours, theirs)):
        # no gradient and a zero gradient mean the same (PyTorch's copy_ hands out zeros)
        got = a.grad if a.grad is not None else gg.zeros_like(a)
        expected_grad = b.grad if b.grad is not None else torch.zeros_like(b)
        assert_close(got, expected_grad, what=f"{name} grad of input {i}")


GRADCHECKED = ["add_alpha", "mul_tensor", "div_", "pow_", "exp_", "log_", "sqrt_", "sigmoid_",
               "copy_", "fill_tensor", "addcdiv_", "lerp_", "idiv", "row_then_column_write",
               "transpose_view_mul_", "column_add_", "stale_view_after_base_write",
               "two_views_of_one_base", "view_of_view", "setitem_slice_tensor",
               "base_written_twice"]


@pytest.mark.parametrize("name", GRADCHECKED)
def test_program_gradcheck_and_gradgradcheck(name, device):
    inputs = _leaves(gg, device)
    assert gg.gradcheck(PROGRAMS[name], inputs)
    assert gg.gradgradcheck(PROGRAMS[name], inputs)


def test_in_place_keeps_identity_and_storage(device):
    x = gg.ones(3, device=device)
    data = x._data
    for method, args in (("add_", (1.0,)), ("mul_", (2.0,)), ("sub_", (1.0,)), ("div_", (3.0,)),
                         ("pow_", (2.0,)), ("neg_", ()), ("exp_", ()), ("log_", ()),
                         ("sqrt_", ()), ("abs_", ()), ("relu_", ()), ("sigmoid_", ()),
                         ("tanh_", ()), ("clamp_", (0.0, 0.5)), ("fill_", (2.0,)),
                         ("zero_", ()), ("normal_", ()), ("uniform_", ())):
        assert getattr(x, method)(*args) is x, method
        assert x._data is data, method
    assert x._version == 18


def test_update_under_no_grad_keeps_the_leaf_on_every_device(device):
    p = gg.tensor([1.0, -2.0, 3.0], device=device, requires_grad=True)
    same = p
    for _ in range(3):
        p.grad = None
        (p * p).sum().backward()
        with gg.no_grad():
            p -= 0.25 * p.grad
    assert p is same and p.is_leaf and p.requires_grad and p.grad_fn is None
    assert_close(p, np.array([1.0, -2.0, 3.0]) * 0.5 ** 3)


def test_manual_sgd_equals_the_optimizer(device):
    gg.manual_seed(0)
    model = gg.nn.Linear(4, 2).to(device)
    twin = gg.nn.Linear(4, 2).to(device)
    twin.load_state_dict(model.state_dict())
    x = gg.randn(8, 4, device=device)
    optimizer = gg.optim.SGD(twin.parameters(), lr=0.1)
    for _ in range(5):
        for p in model.parameters():
            p.grad = None
        model(x).pow(2).mean().backward()
        with gg.no_grad():
            for p in model.parameters():
                p.sub_(p.grad, alpha=0.1)
        optimizer.zero_grad()
        twin(x).pow(2).mean().backward()
        optimizer.step()
    for a, b in zip(model.parameters(), twin.parameters()):
        assert_close(a, b.detach().cpu().numpy(), atol=1e-6, rtol=1e-5)


# ---- errors, as PyTorch words them ----------------------------------------------------------
def test_leaf_and_view_of_leaf_errors_match_torch(device, torch):
    cases = [lambda t: t.add_(1.0), lambda t: t[0].mul_(2.0), lambda t: t.view(-1).zero_(),
             lambda t: t.T.fill_(1.0), lambda t: t.__iadd__(1.0)]
    for case in cases:
        with pytest.raises(RuntimeError) as ours:
            case(gg.ones(2, 2, device=device, requires_grad=True))
        with pytest.raises(RuntimeError) as theirs:
            case(torch.ones(2, 2, requires_grad=True))
        assert str(ours.value) == str(theirs.value).split("\n")[0]


def test_view_made_in_no_grad_cannot_be_written_with_grad_on(device, torch):
    def run(lib, t):
        base = t * 1.0
        with lib.no_grad():
            view = base[0]
        view.mul_(2.0)

    with pytest.raises(RuntimeError) as ours:
        run(gg, gg.ones(2, 2, device=device, requires_grad=True))
    with pytest.raises(RuntimeError) as theirs:
        run(torch, torch.ones(2, 2, requires_grad=True))
    assert str(ours.value).split(".")[0] == str(theirs.value).split(".")[0]


def test_writing_a_saved_tensor_or_any_view_of_it_is_caught(device):
    w = gg.tensor([1.0, 2.0, 3.0], device=device, requires_grad=True)
    for write in (lambda b: b.add_(1.0), lambda b: b[1:].zero_(), lambda b: b.view(3, 1).exp_(),
                  lambda b: b.detach().fill_(0.0)):
        b = w * 1.0
        loss = (b * b).sum()  # mul saved b
        write(b)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            loss.backward()


def test_dtype_and_shape_errors_of_in_place_ops(device, torch):
    for make in (lambda lib, d: lib.ones(2, dtype=lib.int64).add_(1.5),
                 lambda lib, d: lib.ones(2, dtype=lib.int64).div_(2),
                 lambda lib, d: lib.ones(2, dtype=lib.int64).exp_(),
                 lambda lib, d: lib.ones(2, dtype=lib.bool).add_(1),
                 lambda lib, d: lib.ones(2).add_(lib.ones(3, 2))):
        with pytest.raises(RuntimeError) as ours:
            make(gg, device) if device == "cpu" else make(_OnDevice(device), device)
        with pytest.raises(RuntimeError) as theirs:
            make(torch, None)
        assert _words(ours.value) == _words(theirs.value)


class _OnDevice:
    """gg's creation functions on one device, for the shared lambdas above."""

    def __init__(self, device):
        self.device = device
        self.int64, self.bool = gg.int64, gg.bool

    def ones(self, *shape, dtype=None):
        return gg.ones(*shape, dtype=dtype, device=self.device)


def _words(error):
    # PyTorch names dtypes as C types (Float, Long); gpugrad by their names (float32, int64)
    text = str(error)
    for ours, theirs in (("float32", "Float"), ("int64", "Long"), ("bool", "Bool")):
        text = text.replace(ours, theirs)
    return text


def test_non_tensor_operands_are_refused(device):
    x = gg.ones(2, device=device)
    with pytest.raises(TypeError, match="must be Tensor or Number, not list"):
        x.add_([1.0, 2.0])
    with pytest.raises(TypeError, match="must be Tensor or Number, not list"):
        x += [1.0, 2.0]


def test_imatmul_is_in_place_for_a_square_right_operand(device):
    a = gg.tensor([[1.0, 2.0], [3.0, 4.0]], device=device)
    same = a
    a @= gg.tensor([[0.0, 1.0], [1.0, 0.0]], device=device)
    assert a is same and a.tolist() == [[2.0, 1.0], [4.0, 3.0]]
    b = gg.ones(2, 3, device=device)
    before = b
    b @= gg.ones(3, 1, device=device)  # another shape: rebound, as PyTorch always does
    assert b is not before and b.shape == (2, 1)


def test_random_fills_stay_in_place_and_give_no_gradient(device):
    gg.manual_seed(1)
    x = gg.zeros(20000, device=device, dtype=gg.float64)
    x.normal_(2.0, 0.5)
    assert abs(x.mean().item() - 2.0) < 0.02 and abs(x.std().item() - 0.5) < 0.02
    x.uniform_(-1.0, 3.0)
    assert -1.0 <= x.min().item() and x.max().item() < 3.0
    w = gg.ones(3, device=device, requires_grad=True)
    y = w * 2.0
    y.normal_()
    (y * w).sum().backward()
    assert_close(w.grad, y.detach().cpu().numpy())  # only through the later product


# ---- optimizers and modules through views of parameters -------------------------------------
def test_optimizers_update_parameters_that_are_views_of_one_buffer(device):
    gg.manual_seed(3)
    reference = gg.nn.Linear(3, 2).to(device)
    flat = gg.zeros(8, device=device)
    viewed = gg.nn.Linear(3, 2).to(device)
    with gg.no_grad():
        for name, size, shape in (("weight", 6, (2, 3)), ("bias", 2, (2,))):
            start = 0 if name == "weight" else 6
            param = flat[start:start + size].view(*shape)
            param.copy_(getattr(reference, name))
            param.requires_grad_()
            setattr(viewed, name, gg.nn.Parameter(param))
    x = gg.randn(5, 3, device=device)
    for model in (reference, viewed):
        optimizer = gg.optim.Adam(model.parameters(), lr=0.05)
        for _ in range(4):
            optimizer.zero_grad()
            model(x).pow(2).sum().backward()
            optimizer.step()
    assert_close(viewed.weight, reference.weight.detach().cpu().numpy(), atol=1e-6)
    # the buffer holds the trained values: the optimizer wrote through the views
    assert_close(flat[:6].view(2, 3), reference.weight.detach().cpu().numpy(), atol=1e-6)
    assert_close(flat[6:], reference.bias.detach().cpu().numpy(), atol=1e-6)


def test_views_of_parameters_follow_optimizer_steps_and_loading(device):
    model = gg.nn.Linear(2, 2).to(device)
    transposed, first_row = model.weight.detach().T, model.weight.detach()[0]
    optimizer = gg.optim.SGD(model.parameters(), lr=0.5)
    model(gg.ones(1, 2, device=device)).sum().backward()
    optimizer.step()
    weight = model.weight.detach().cpu().numpy().copy()
    assert_close(transposed, weight.T)
    assert_close(first_row, weight[0])
    state = {k: v.clone() + 1.0 for k, v in model.state_dict().items()}
    model.load_state_dict(state)
    assert_close(first_row, weight[0] + 1.0)
