"""PyTorch's ``dtype=`` argument of the reductions, scans and softmaxes (tensor_methods.py,
tensor_reduction_methods.py, nn.functional): the input is cast first and the result stays in
that dtype (an integer sum in int8 wraps around); the gradient flows back through the casts."""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.nn.functional as F

I = [[100, 2], [3, 4]]
X = [[1.0, 2.0], [3.0, 4.0]]

EXPRS = ["i.sum(dtype=lib.float64)", "i.sum(1, dtype=lib.int8)",
         "lib.sum(i, dim=0, keepdim=True, dtype=lib.float32)", "i.mean(dtype=lib.float32)",
         "i.prod(dtype=lib.int8)", "i.prod(1, dtype=lib.float64)", "i.cumsum(1, dtype=lib.int8)",
         "i.cumprod(1, dtype=lib.int8)", "lib.cumsum(i, 0, dtype=lib.float16)",
         "f.softmax(1, dtype=lib.float64)", "f.log_softmax(0, dtype=lib.float64)",
         "F.softmax(h, dim=1, dtype=lib.float32)", "F.log_softmax(h, 1, dtype=lib.float32)",
         "f.mean(1, True, dtype=lib.float64)", "f.sum(dtype=lib.float16)",
         "lib.tensor([True, True]).sum(dtype=lib.bool)", "lib.tensor(5).cumsum(0, dtype=lib.int8)",
         "lib.tensor([200, 100], dtype=lib.uint8).sum(dtype=lib.uint8)",
         "f.norm(dtype=lib.float64)", "lib.norm(h, 1, 0, dtype=lib.float32)",
         "lib.tensor([1.5, float('nan'), -2.5]).nansum(dtype=lib.int64)",
         "lib.logsumexp(h.bfloat16(), 1)", "h.bfloat16().log_softmax(0)", "h.log_softmax(0)"]


@pytest.mark.parametrize("expr", EXPRS)
def test_dtype_argument_matches_pytorch(torch, device, expr):
    results = []
    for lib, functional, dev in ((gg, F, device), (torch, torch.nn.functional, "cpu")):
        env = {"lib": lib, "F": functional, "i": lib.tensor(I, dtype=lib.int32, device=dev),
               "f": lib.tensor(X, device=dev), "h": lib.tensor(X, dtype=lib.float16, device=dev)}
        if lib is gg:
            env["lib"] = _OnDevice(gg, dev)
        results.append(eval(expr, env))
    ours, theirs = results
    assert str(ours.dtype).split(".")[1] == str(theirs.dtype).split(".")[1]
    np.testing.assert_allclose(ours.cpu().float().numpy(), theirs.float().numpy(), rtol=1e-6)


class _OnDevice:
    """``gg`` whose ``tensor`` makes tensors on ``device``."""

    def __init__(self, module, device):
        self._module, self._device = module, device

    def tensor(self, *args, **kwargs):
        return self._module.tensor(*args, device=self._device, **kwargs)

    def __getattr__(self, name):
        return getattr(self._module, name)


def test_by_hand_an_int8_sum_wraps_and_a_float64_sum_does_not_round():
    i = gg.tensor([100, 100], dtype=gg.int32)
    assert i.sum(dtype=gg.int8).item() == -56 and i.sum().item() == 200
    x = gg.tensor([1.0, 2.0 ** -30], dtype=gg.float32)
    assert x.sum(dtype=gg.float64).item() == 1.0 + 2.0 ** -30


def test_gradients_flow_back_through_the_casts():
    x = gg.tensor([[1.0, 2.0], [3.0, 5.0]], requires_grad=True)
    (x.sum(dtype=gg.float64) + x.mean(0, dtype=gg.float64).sum()).backward()
    assert x.grad.dtype is gg.float32 and x.grad.tolist() == [[1.5, 1.5], [1.5, 1.5]]
    x.grad = None
    F.log_softmax(x, 1, dtype=gg.float64)[:, 0].sum().backward()
    expected = np.eye(2)[[0, 0]] - np.exp(x.detach().numpy()) / np.exp(
        x.detach().numpy()).sum(1, keepdims=True)
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-6)


def test_mean_refuses_an_integer_dtype():
    with pytest.raises(RuntimeError, match="mean\\(\\): could not infer output dtype. Optional "
                                           "dtype must be either a floating point or complex "
                                           "dtype. Got: gpugrad.int64"):
        gg.tensor([1, 2]).mean(dtype=gg.int64)
