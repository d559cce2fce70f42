"""Fused ops: ``bias_act`` (every activation) and softmax cross-entropy, with first and second
derivatives, against PyTorch's unfused equivalents."""
import numpy as np
import pytest

import gpugrad as gg
from gpugrad.ops.fused import SoftmaxCrossEntropy
from gradtools import OpCase, assert_close, op_tests

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
