"""Fused ops: ``bias_act`` (every activation) and softmax cross-entropy, with first and second
derivatives, against PyTorch's unfused equivalents."""
import numpy as np
import pytest

import gpugrad as gg
from gpugrad.ops.fused import SoftmaxCrossEntropy
from support import fake_cupy
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


# ---- ignore_index: ignored rows count for nothing, on every device -----------------------------
IGNORED_TARGETS = {"none_ignored": [2, 0, 3, 1], "some_ignored": [2, -100, 3, -100],
                   "all_ignored": [-100] * 4}
CE_LOGITS = R.standard_normal((4, 5)) * 2


def _check_ce_against_torch(torch, device, target, reduction, ignore_index=-100):
    """Value and logits gradient of F.cross_entropy on ``device`` against PyTorch's (float64)."""
    x = gg.tensor(CE_LOGITS, dtype=gg.float64, device=device, requires_grad=True)
    tx = torch.tensor(CE_LOGITS, requires_grad=True)
    ours = gg.nn.functional.cross_entropy(x, gg.tensor(target, device=device), reduction,
                                          ignore_index=ignore_index)
    theirs = torch.nn.functional.cross_entropy(tx, torch.tensor(target), reduction=reduction,
                                               ignore_index=ignore_index)
    assert type(ours.grad_fn).__name__ == "SoftmaxCrossEntropy"
    assert_close(ours, theirs, atol=1e-12)
    seed = np.arange(1.0, 5.0) if reduction == "none" else np.float64(1.5)
    ours.backward(gg.tensor(seed, dtype=gg.float64, device=device))
    theirs.backward(torch.tensor(seed))
    assert_close(x.grad, tx.grad, atol=1e-12, what="gradient")


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("case", IGNORED_TARGETS)
def test_cross_entropy_ignore_index_matches_torch(device, torch, case, reduction):
    # all ignored: 'mean' is NaN (0 / 0) with zero gradients, as in PyTorch
    _check_ce_against_torch(torch, device, IGNORED_TARGETS[case], reduction)


def test_cross_entropy_nonnegative_ignore_index_matches_torch(device, torch):
    _check_ce_against_torch(torch, device, [2, 0, 3, 0], "mean", ignore_index=0)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("case", ["some_ignored", "all_ignored"])
def test_cross_entropy_ignore_index_gradcheck(device, case, reduction):
    target = gg.tensor(IGNORED_TARGETS[case], device=device)
    fn = lambda x: SoftmaxCrossEntropy.apply(x, target, reduction=reduction)  # noqa: E731
    x = gg.tensor(CE_LOGITS, dtype=gg.float64, device=device, requires_grad=True)
    if case == "all_ignored" and reduction == "mean":
        fn = lambda x: SoftmaxCrossEntropy.apply(x, target, reduction="sum")  # noqa: E731
    assert gg.gradcheck(fn, (x,))
    assert gg.gradgradcheck(fn, (x,))


def test_cross_entropy_ignored_rows_second_derivative_matches_torch(device, torch):
    """The double backward (composed ops) also drops ignored rows and divides by the count."""
    target = IGNORED_TARGETS["some_ignored"]
    x = gg.tensor(CE_LOGITS, dtype=gg.float64, device=device, requires_grad=True)
    tx = torch.tensor(CE_LOGITS, requires_grad=True)
    loss = gg.nn.functional.cross_entropy(x, gg.tensor(target, device=device))
    (g,) = gg.autograd.grad(loss, [x], create_graph=True)
    (g * g).sum().backward()
    tloss = torch.nn.functional.cross_entropy(tx, torch.tensor(target))
    (tg,) = torch.autograd.grad(tloss, [tx], create_graph=True)
    (tg * tg).sum().backward()
    assert_close(g, tg, atol=1e-12)
    assert_close(x.grad, tx.grad, atol=1e-12, what="second derivative")


@pytest.mark.parametrize("bad", [5, -1, -100])
def test_cross_entropy_target_out_of_range_raises_on_cpu_and_sim(device, bad):
    """A class outside [0, C) that is not ignore_index is an IndexError where the host can see
    it for free (the cpu's targets; the sim's values, computed on the host); -100 is refused
    when it is not the ignore_index."""
    x = gg.randn(3, 5, device=device)
    with pytest.raises(IndexError, match=f"Target {bad} is out of bounds for 5 classes"):
        SoftmaxCrossEntropy.apply(x, gg.tensor([0, bad, 1], device=device), ignore_index=-7)


def _ce_step_launches(target):
    gg.sim.configure("sim:0")
    x = gg.randn(64, 10, device="sim", requires_grad=True)
    target = gg.tensor(target, device="sim")
    gg.sim.reset("sim:0")
    gg.nn.functional.cross_entropy(x, target).backward()
    by_op, _ = gg.device_registry.get_backend("sim:0").kernel_totals()
    return {name: row[0] for name, row in by_op.items()}


def test_ignored_targets_launch_no_extra_kernel_on_sim():
    """The fused path runs whatever the targets hold: no host check, no fallback."""
    rng = np.random.default_rng(3)
    plain = rng.integers(0, 10, 64)
    padded = np.where(rng.random(64) < 0.3, -100, plain)
    assert _ce_step_launches(plain) == _ce_step_launches(padded) == {
        "softmax_cross_entropy": 1, "reduce:sum": 1, "binary:div": 1, "full": 1,
        "softmax_cross_entropy_backward": 1}


@pytest.mark.parametrize("dtype", [gg.float32, gg.float64])
def test_cross_entropy_modeled_bytes_and_flops_on_sim(dtype):
    """The forward reads the logits and int64 targets and writes the (2, N) losses and flags
    and the (N,) lse; the backward reads logits, targets, lse, the one gradient value and the
    0-d count and writes the (N, C) gradient; about 12 flops per logit each."""
    gg.sim.configure("sim:0")
    n, c = 32, 10
    item = np.dtype(dtype.name).itemsize
    x = gg.randn(n, c, dtype=dtype, device="sim", requires_grad=True)
    target = gg.tensor(np.r_[np.arange(n - 4) % c, [-100] * 4], device="sim")
    gg.sim.reset("sim:0")
    gg.nn.functional.cross_entropy(x, target).backward()
    by_op, _ = gg.device_registry.get_backend("sim:0").kernel_totals()
    count, _, flops, nbytes, _ = by_op["softmax_cross_entropy"]
    assert (count, flops, nbytes) == (1, 12 * n * c, n * c * item + n * 8 + 3 * n * item)
    count, _, flops, nbytes, _ = by_op["softmax_cross_entropy_backward"]
    assert (count, flops) == (1, 12 * n * c)
    assert nbytes == n * c * item + n * 8 + n * item + 2 * item + n * c * item


@pytest.mark.skipif(fake_cupy.kernels_unavailable_reason() is not None,
                    reason=f"fake CuPy: {fake_cupy.kernels_unavailable_reason()}")
@pytest.mark.filterwarnings("ignore:invalid value encountered")  # NumPy's 0 / 0 (CuPy's is quiet)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("case", IGNORED_TARGETS)
def test_cross_entropy_ignore_index_on_emulated_cuda(fake_cuda, torch, case, reduction):
    """The cuda backend's kernels (kernels/softmax_cross_entropy.cu, compiled for the CPU) run
    the same op: ignored rows, the device-side count and its backward, against PyTorch."""
    _check_ce_against_torch(torch, "cuda", IGNORED_TARGETS[case], reduction)


@pytest.mark.skipif(fake_cupy.kernels_unavailable_reason() is not None,
                    reason=f"fake CuPy: {fake_cupy.kernels_unavailable_reason()}")
def test_cross_entropy_bad_target_is_nan_on_emulated_cuda(fake_cuda):
    """A kernel cannot raise: an out-of-range class gives a NaN loss row, so a NaN mean."""
    x = gg.zeros(3, 4, device="cuda")
    rows = gg.nn.functional.cross_entropy(x, gg.tensor([1, 9, -100], device="cuda"), "none")
    got = rows.cpu().numpy()
    assert got[0] == pytest.approx(np.log(4)) and np.isnan(got[1]) and got[2] == 0
    assert np.isnan(gg.nn.functional.cross_entropy(x, gg.tensor([1, 9, -100],
                                                                device="cuda")).item())
