"""Fused ops: ``bias_act`` (every activation) and softmax cross-entropy, with first and second
derivatives, against PyTorch's unfused equivalents."""
import numpy as np
import pytest

import gpugrad as gg
from gpugrad.ops.fused import SoftmaxCrossEntropy
from support.gradtools import OpCase, assert_close, op_tests

R = np.random.default_rng(9)
ACTS = {
    "identity": lambda t: t,
    "relu": lambda t: t.relu(),
    "tanh": lambda t: t.tanh(),
    "sigmoid": lambda t: t.sigmoid(),
}
X = R.standard_normal((3, 4))
X = np.sign(X) * (np.abs(X) + 0.3)  # away from relu's kink
B = R.standard_normal(4) * 0.1

BIAS_ACT = [OpCase(f"bias_act_{act}", (lambda a: lambda x, b: x.bias_act(b, a))(act),
                   (lambda f: lambda x, b: f(x + b))(fn), [X, B])
            for act, fn in ACTS.items()]
TARGET = [2, 0, 3]


def _gg_ce(logits):
    return SoftmaxCrossEntropy.apply(logits, gg.tensor(TARGET, device=logits.device))


def _torch_ce(logits):
    import torch

    return torch.nn.functional.cross_entropy(logits, torch.tensor(TARGET), reduction="none")


CE = [OpCase("softmax_cross_entropy", _gg_ce, _torch_ce, [R.standard_normal((3, 5))]),
      OpCase("softmax_cross_entropy_weighted",
             lambda z: _gg_ce(z) * gg.tensor([1.0, 2.0, -0.5], dtype=z.dtype, device=z.device),
             lambda z: _torch_ce(z) * __import__("torch").tensor([1.0, 2.0, -0.5],
                                                                dtype=z.dtype),
             [R.standard_normal((3, 5))])]
CASES = BIAS_ACT + CE


test_gradcheck, test_matches_torch = op_tests(CASES)


def test_cross_entropy_is_stable_for_huge_logits(device, torch):
    logits = [[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4 + 1.0]]
    z = gg.tensor(logits, device=device, requires_grad=True)
    loss = SoftmaxCrossEntropy.apply(z, gg.tensor([1, 2], device=device))
    t = torch.tensor(logits, requires_grad=True)
    expected = torch.nn.functional.cross_entropy(t, torch.tensor([1, 2]), reduction="none")
    assert_close(loss, expected, rtol=1e-6)
    loss.sum().backward()
    expected.sum().backward()
    assert_close(z.grad, t.grad, atol=1e-6)


def test_bias_act_rejects_unknown_activation(device):
    with pytest.raises(ValueError, match="gelu.*identity"):
        gg.ones(2, 3, device=device).bias_act(gg.ones(3, device=device), act="gelu")


def test_bias_act_checks_shapes(device):
    with pytest.raises(RuntimeError, match=r"\(N, F\).*\(2, 3\) and \(4,\)"):
        gg.ones(2, 3, device=device).bias_act(gg.ones(4, device=device), act="relu")


def test_cross_entropy_checks_shapes(device):
    with pytest.raises(RuntimeError, match=r"\(N, C\).*\(2, 3\) and \(3,\)"):
        SoftmaxCrossEntropy.apply(gg.ones(2, 3, device=device),
                                  gg.tensor([0, 1, 2], device=device))


@pytest.mark.parametrize("act", list(ACTS))
@pytest.mark.parametrize("bias_grad", [True, False])
def test_bias_act_backward_fused_and_graph_paths_agree(device, act, bias_grad):
    """Without create_graph the backward takes both gradients from one fused primitive
    (``bias_act_grads``); with it, the differentiable ops. Same gradients, and none for a bias
    that does not require one."""
    grads = []
    for create_graph in (False, True):
        x = gg.tensor(X, dtype=gg.float64, device=device, requires_grad=True)
        b = gg.tensor(B, dtype=gg.float64, device=device, requires_grad=bias_grad)
        out = x.bias_act(b, act)
        seed = gg.tensor(np.arange(12.0).reshape(X.shape) - 5, dtype=gg.float64, device=device)
        gx, *gb = gg.autograd.grad(out, [x, b] if bias_grad else [x], seed,
                                   create_graph=create_graph)
        grads.append([g.detach().numpy() for g in [gx, *gb]])
        assert b.grad is None
    for fused, graph in zip(*grads):
        np.testing.assert_allclose(fused, graph, rtol=1e-12, atol=1e-14)


def test_bias_act_backward_is_one_fused_launch_on_sim():
    gg.sim.configure("sim:0")
    x = gg.randn(64, 128, device="sim", requires_grad=True)
    b = gg.randn(128, device="sim", requires_grad=True)
    out = x.bias_act(b, "relu")
    grad = gg.ones(64, 128, device="sim")
    gg.sim.reset("sim:0")
    out.backward(grad)
    by_op, _ = gg.device_registry.get_backend("sim:0").kernel_totals()
    # grad_x and per-slab column sums in one kernel, the slabs added in a second (64 rows: 8)
    assert {name: row[0] for name, row in by_op.items()} == {"bias_act_grads": 1,
                                                             "bias_grad_sum": 1}
    np.testing.assert_allclose(b.grad.numpy(), (out.detach().numpy() > 0).sum(axis=0), rtol=1e-6)
