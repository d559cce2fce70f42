"""Normalization: F.batch_norm/layer_norm/group_norm/normalize against PyTorch with gradcheck and
gradgradcheck on every device, and the BatchNorm/LayerNorm/GroupNorm layers: running statistics
(momentum, cumulative average), train/eval, state_dict buffers, reprs."""
import numpy as np
import pytest

import gpugrad as gg
from gpugrad.nn import functional as F
from support.gradtools import OpCase, assert_close, op_tests

R = np.random.default_rng(11)


def normal(*shape):
    return R.standard_normal(shape)


def _tf(name, *args, **kwargs):
    def call(x, *params):
        import torch.nn.functional as TF

        return getattr(TF, name)(x, *args, *params, **kwargs)

    return call


CASES = [
    OpCase("batch_norm_train_2d", lambda x, w, b: F.batch_norm(x, None, None, w, b, True),
           _tf("batch_norm", None, None, training=True),
           [normal(5, 3), normal(3), normal(3)]),
    OpCase("batch_norm_train_4d", lambda x: F.batch_norm(x, None, None, training=True, eps=0.1),
           _tf("batch_norm", None, None, training=True, eps=0.1),
           [normal(2, 3, 2, 2)]),
    OpCase("layer_norm", lambda x, w, b: F.layer_norm(x, (4,), w, b),
           _tf("layer_norm", (4,)),
           [normal(3, 4), normal(4), normal(4)]),
    OpCase("layer_norm_2dims", lambda x: F.layer_norm(x, (2, 3)),
           _tf("layer_norm", (2, 3)),
           [normal(2, 2, 3)]),
    OpCase("group_norm", lambda x, w, b: F.group_norm(x, 2, w, b),
           _tf("group_norm", 2),
           [normal(2, 4, 3), normal(4), normal(4)]),
    OpCase("normalize", lambda x: F.normalize(x), _tf("normalize"), [normal(3, 4)]),
    OpCase("normalize_p1_dim0", lambda x: F.normalize(x, p=1.0, dim=0),
           _tf("normalize", p=1.0, dim=0), [normal(3, 4) + 0.1]),
]

test_gradcheck, test_matches_torch = op_tests(CASES)


def _pair(torch, name, *args, **kwargs):
    ours = getattr(gg.nn, name)(*args, **kwargs).double()
    theirs = getattr(torch.nn, name)(*args, **kwargs).double()
    return ours, theirs


@pytest.mark.parametrize("name,shape", [("BatchNorm1d", (6, 3)), ("BatchNorm1d", (6, 3, 4)),
                                        ("BatchNorm2d", (4, 3, 2, 2)),
                                        ("BatchNorm3d", (2, 3, 2, 1, 2))])
@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
def test_batch_norm_layers_track_running_stats_as_torch(device, torch, name, shape, momentum):
    ours, theirs = _pair(torch, name, 3, momentum=momentum)
    ours.to(device)
    with torch.no_grad():
        theirs.weight.uniform_(0.5, 1.5)
        theirs.bias.uniform_(-1, 1)
    ours.load_state_dict({k: gg.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    for step in range(3):
        x = R.standard_normal(shape) * (step + 1) + step
        gx = gg.tensor(x, dtype=gg.float64, device=device, requires_grad=True)
        tx = torch.tensor(x, requires_grad=True)
        out, want = ours(gx), theirs(tx)
        assert_close(out, want)
        g = R.standard_normal(shape)
        (out * gg.tensor(g, dtype=gg.float64, device=device)).sum().backward()
        (want * torch.tensor(g)).sum().backward()
        assert_close(gx.grad, tx.grad, what="input grad")
    for key, value in theirs.state_dict().items():
        assert_close(ours.state_dict()[key], value, what=key)
    assert_close(ours.weight.grad, theirs.weight.grad, what="weight grad")
    ours.eval()
    theirs.eval()
    x = R.standard_normal(shape)
    assert_close(ours(gg.tensor(x, dtype=gg.float64, device=device)), theirs(torch.tensor(x)))


def test_batch_norm_without_running_stats_or_affine(torch):
    ours, theirs = _pair(torch, "BatchNorm1d", 3, affine=False, track_running_stats=False)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == []
    assert ours.running_mean is None and ours.weight is None
    x = R.standard_normal((5, 3))
    ours.eval()
    theirs.eval()
    assert_close(ours(gg.tensor(x)), theirs(torch.tensor(x)))  # batch statistics in eval too


def test_batch_norm_buffers_state_dict_and_repr(torch):
    ours, theirs = _pair(torch, "BatchNorm2d", 4)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert ours.num_batches_tracked.dtype == gg.int64
    assert [n for n, _ in ours.named_buffers()] == ["running_mean", "running_var",
                                                    "num_batches_tracked"]
    assert [n for n, _ in ours.named_parameters()] == ["weight", "bias"]
    assert repr(ours) == repr(theirs)
    ours.float()
    assert ours.running_mean.dtype == gg.float32 and ours.num_batches_tracked.dtype == gg.int64


def test_batch_norm_errors():
    with pytest.raises(ValueError, match=r"expected 4D input \(got 3D input\)"):
        gg.nn.BatchNorm2d(3)(gg.randn(2, 3, 4))
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        gg.nn.BatchNorm1d(3)(gg.randn(1, 3))
    with pytest.raises(RuntimeError, match="running_mean should contain 3 elements not 2"):
        F.batch_norm(gg.randn(4, 3), gg.zeros(2), gg.ones(3))


def test_batch_norm_eval_does_not_touch_the_buffers():
    layer = gg.nn.BatchNorm1d(2).eval()
    layer(gg.randn(4, 2) + 5)
    assert layer.running_mean.tolist() == [0.0, 0.0] and layer.num_batches_tracked.item() == 0


@pytest.mark.parametrize("kwargs", [{}, {"elementwise_affine": False}, {"bias": False},
                                    {"eps": 1e-3}])
def test_layer_norm_layer_matches_torch(torch, kwargs):
    ours, theirs = _pair(torch, "LayerNorm", (2, 3), **kwargs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert repr(ours) == repr(theirs)
    x = R.standard_normal((4, 2, 3))
    assert_close(ours(gg.tensor(x)), theirs(torch.tensor(x)))


def test_group_norm_layer_matches_torch(torch):
    ours, theirs = _pair(torch, "GroupNorm", 2, 6)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    x = R.standard_normal((3, 6, 2, 2))
    assert_close(ours(gg.tensor(x)), theirs(torch.tensor(x)))
    with pytest.raises(ValueError, match="divisible by num_groups"):
        gg.nn.GroupNorm(4, 6)


def test_layer_norm_shape_error():
    with pytest.raises(RuntimeError, match=r"expected input with shape \[\*, 3\]"):
        F.layer_norm(gg.randn(2, 4), (3,))


def test_batch_norm_on_sim_is_modeled_as_its_composed_kernels():
    gg.sim.configure("sim:0")
    layer = gg.nn.BatchNorm2d(3).to("sim")
    x = gg.randn(4, 3, 2, 2, device="sim", requires_grad=True)
    gg.sim.reset("sim:0")
    layer(x).sum().backward()
    by_op, _ = gg.device_registry.get_backend("sim:0").kernel_totals()
    assert by_op["reduce:mean"][0] >= 1 and sum(row[0] for row in by_op.values()) > 5
