"""clamp's and maximum's result and gradient dtypes with mixed inputs, number operands on either
side, and bounds that meet, compared with PyTorch (each case kills a mutant of
gpugrad/ops/selection.py that bench/mutation.py found surviving the other tests)."""
import numpy as np
import pytest

import gpugrad as gg


@pytest.mark.parametrize("kwargs", [dict(min=0.5), dict(max=2.5), dict(min=0.5, max=2.5),
                                    dict(min=1), dict(max=2)])
def test_integer_tensor_clamped_by_numbers_promotes_as_pytorch(torch, device, kwargs):
    values = [0, 1, 2, 3]
    got = gg.tensor(values, device=device).clamp(**kwargs)
    want = torch.tensor(values).clamp(**kwargs)
    assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1]
    np.testing.assert_array_equal(got.cpu().numpy(), want.numpy())


def _leaves(lib, device, values, dtypes):
    """Leaf tensors of ``values`` in ``dtypes`` (on ``device`` for gpugrad), requiring grad."""
    made = [lib.tensor(v, dtype=d, requires_grad=True) for v, d in zip(values, dtypes)]
    return [t.to(device).detach().requires_grad_() for t in made] if lib is gg else made


def _host(t):
    """Values as float64 NumPy (NumPy has no bfloat16 of PyTorch's)."""
    return None if t is None else t.detach().cpu().double().numpy()


@pytest.mark.parametrize("bound", ["min", "max", "both"])
@pytest.mark.parametrize("x_dtype, bound_dtype", [("float32", "float64"),
                                                  ("float16", "bfloat16")])  # both -> float32
def test_gradients_keep_each_inputs_dtype_with_a_tensor_bound_of_another_dtype(
        torch, device, bound, x_dtype, bound_dtype):
    values = [[0.0, 1.0, 2.0, 3.0], [0.5] * 4, [2.5] * 4]
    found = []
    for lib in (gg, torch):
        kinds = [getattr(lib, name) for name in (x_dtype, bound_dtype, bound_dtype)]
        x, lo, hi = _leaves(lib, device, values, kinds)
        out = x.clamp(min=lo if bound != "max" else None, max=hi if bound != "min" else None)
        out.backward(lib.ones_like(out))
        found.append([out, x.grad, lo.grad, hi.grad])
    for got, want in zip(*found):
        assert (got is None) == (want is None)
        if want is not None:
            assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1]
            np.testing.assert_array_equal(_host(got), _host(want))


def test_bounds_that_meet_give_pytorchs_gradients(torch, device):
    # x below, on and above min == max: the result is max, and neither bound binds alone
    values = [[0.0, 1.0, 2.0], [1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    found = []
    for lib in (gg, torch):
        x, lo, hi = _leaves(lib, device, values, [lib.float64] * 3)
        out = lib.clamp(x, lo, hi)
        out.backward(lib.tensor([1.0, 2.0, 4.0], dtype=lib.float64).to(out.device))
        found.append([x.grad, lo.grad, hi.grad])
    for got, want in zip(*found):
        np.testing.assert_array_equal(_host(got), _host(want))


@pytest.mark.parametrize("op", ["maximum", "minimum"])
def test_a_number_first_operand_gets_no_gradient_and_ties_split(device, op):
    t = gg.tensor([1.0, 2.0, 3.0], device=device, requires_grad=True)
    out = getattr(gg, op)(2.0, t)
    out.backward(gg.tensor([1.0, 2.0, 4.0], device=device))
    beaten = [0.0, 1.0, 4.0] if op == "maximum" else [1.0, 1.0, 0.0]
    np.testing.assert_array_equal(t.grad.cpu().numpy(), beaten)
    assert out.tolist() == ([2.0, 2.0, 3.0] if op == "maximum" else [1.0, 2.0, 2.0])


@pytest.mark.parametrize("kwargs", [dict(min=1.5), dict(max=2.5), dict(min=1.5, max=2.5)])
def test_clamp_in_place_writes_through_a_view_into_its_base(torch, device, kwargs):
    base = gg.tensor([0.0, 1.0, 2.0, 3.0], device=device)
    view = base[1:]
    assert view.clamp_(**kwargs) is view
    want = torch.tensor([0.0, 1.0, 2.0, 3.0])
    want[1:].clamp_(**kwargs)
    np.testing.assert_array_equal(base.cpu().numpy(), want.numpy())


def test_clamp_in_place_refuses_a_result_its_dtype_cannot_hold(device):
    x = gg.tensor([0, 1, 2, 3], device=device)
    with pytest.raises(RuntimeError, match="result type float32 can't be cast to the desired "
                                           "output type int64"):
        x.clamp_(min=0.5)
    assert x.tolist() == [0, 1, 2, 3]
