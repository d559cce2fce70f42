"""An in-place op on a view of a non-leaf tensor, then backward: the base's gradient gets the
view's region replaced (``CopySlices``, which selects that region again with each view op's
``view_array``). Checked against PyTorch for reshape/view, permute and expand views, chained."""
import numpy as np
import pytest

import gpugrad as gg

BASE = (2, 3, 4)
# each view: (name, function of the base); none repeats an element, so the in-place product
# below writes each selected element once
VIEWS = [
    ("reshape", lambda b: b.reshape(6, 4)),
    ("view", lambda b: b.view(4, 6)),
    ("permute", lambda b: b.permute(1, 0, 2)),       # not the reversed order: axes matter
    ("permute_cycle", lambda b: b.permute(2, 0, 1)),
    ("expand_same", lambda b: b.expand(2, 3, 4)),     # no dimension grows: writable
    ("expand_minus_one", lambda b: b.expand(-1, 3, -1)),
    ("reshape_then_permute", lambda b: b.reshape(6, 4).permute(1, 0)),
    ("permute_then_view", lambda b: b.permute(1, 0, 2)[:, :1].view(3, 4)),
    ("expand_then_permute", lambda b: b.expand(2, 3, 4).permute(2, 0, 1)),
]


def _grads(lib, view_fn, a_values, c_values, g_values, device=None):
    kw = {} if device is None else {"device": device}
    a = lib.tensor(a_values, requires_grad=True, **kw)
    base = a * 1.5                                   # a non-leaf base: in place is allowed
    view = view_fn(base)
    shape = tuple(view.shape)
    c = lib.tensor(c_values.ravel()[:int(np.prod(shape))].reshape(shape), requires_grad=True,
                   **kw)
    view.mul_(c)                                     # the view's region of the base is rewritten
    (base * lib.tensor(g_values, **kw)).sum().backward()
    return base.detach().numpy(), a.grad.numpy(), c.grad.numpy()


@pytest.mark.parametrize("name,view_fn", VIEWS, ids=[v[0] for v in VIEWS])
def test_inplace_on_a_view_gives_torchs_gradients(name, view_fn, device, torch):
    rng = np.random.default_rng(0)
    a, c, g = (rng.standard_normal(BASE) for _ in range(3))
    got = _grads(gg, view_fn, a, c, g, device)
    want = _grads(torch, view_fn, a, c, g)
    for x, y in zip(got, want):
        np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-6)


# PyTorch writes into an expanded view that repeats no element (new leading size-1 dimensions,
# or a size-1 dimension expanded to 0); gpugrad refuses every write into an expand's output
REFUSED_EXPANDS = [
    ("expand_new_dim", lambda b: b.expand(1, 2, 3, 4)),
    ("expand_to_zero", lambda b: b[:1].expand(0, 3, 4)),
]


@pytest.mark.xfail(strict=True, raises=RuntimeError,
                   reason="gpugrad refuses in-place writes into any expanded view (read-only), "
                          "even one that repeats no element, where PyTorch allows them")
@pytest.mark.parametrize("name,view_fn", REFUSED_EXPANDS, ids=[v[0] for v in REFUSED_EXPANDS])
def test_inplace_on_an_expand_that_repeats_nothing(name, view_fn, torch):
    rng = np.random.default_rng(1)
    a, c, g = (rng.standard_normal(BASE) for _ in range(3))
    want = _grads(torch, view_fn, a, c, g)
    got = _grads(gg, view_fn, a, c, g, "cpu")
    for x, y in zip(got, want):
        np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-6)
