"""Shape-only planning (``gg.sim.configure(..., compute=False)``): whole programs give the same
``gg.sim.stats`` as with values, an out-of-memory happens at the same op, and a model far larger
than this machine is planned in little host memory."""
import gc
import resource
import tracemalloc

import pytest

import gpugrad as gg
import gpugrad.nn as nn
import gpugrad.nn.functional as F

DEV = "sim:0"


@pytest.fixture(autouse=True)
def _computing_afterwards():
    yield
    gg.sim.configure(DEV)  # leave the device as other tests expect it


def _stats_of(program, compute, **config):
    """``program()``'s stats snapshot on a freshly configured device (and its result). The
    collector is off meanwhile, so nothing it frees (other tests' garbage) changes the device's
    memory mid-run, and everything the run leaves stays young for ``_collect_young``."""
    gg.sim.configure(DEV, compute=compute, **config)
    gg.manual_seed(0)
    gc.disable()
    try:
        result = program()
        return gg.sim.stats(DEV).as_dict(), result
    finally:
        gc.enable()


def _collect_young():
    """Free the cycles a run left (a caught exception's traceback holds its arrays): with the
    collector off during the run they are all in the youngest generation, which is quick."""
    gc.collect(0)


def _same_stats(program, **config):
    # (the results are dropped at once: a live result would hold memory into the next run)
    gc.collect()  # earlier tests' garbage, before the first run
    with_values = _stats_of(program, True, **config)[0]
    _collect_young()
    planned = _stats_of(program, False, **config)[0]
    assert planned == with_values
    assert with_values["kernels"] > 0
    return with_values


def _mlp_steps(dtype, optimizer, loss="cross_entropy", steps=2, clip=True):
    def program():
        model = nn.Sequential(nn.Linear(48, 96, device=DEV, dtype=dtype), nn.ReLU(),
                              nn.Linear(96, 64, device=DEV, dtype=dtype, activation="tanh"),
                              nn.Linear(64, 10, device=DEV, dtype=dtype))
        opt = optimizer(model.parameters())
        x = gg.randn(32, 48, device=DEV, dtype=dtype)
        if loss == "cross_entropy":
            target = gg.randint(0, 10, (32,), device=DEV)
        else:
            target = gg.rand(32, 10, device=DEV, dtype=dtype)
        for _ in range(steps):
            opt.zero_grad()
            out = model(x)
            value = F.cross_entropy(out, target) if loss == "cross_entropy" else \
                F.mse_loss(out, target)
            value.backward()
            if clip:
                nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
        return value
    return program


OPTIMIZERS = {
    "adam": lambda params: gg.optim.Adam(params, lr=1e-3),
    "adamw": lambda params: gg.optim.AdamW(params, lr=1e-3),
    "sgd": lambda params: gg.optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=1e-4),
}


@pytest.mark.parametrize("dtype", [gg.float32, gg.float16, gg.bfloat16], ids=str)
@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
def test_mlp_training_step_stats_equal_with_and_without_values(dtype, optimizer):
    stats = _same_stats(_mlp_steps(dtype, OPTIMIZERS[optimizer]))
    assert stats["by_op"]["matmul"]["count"] >= 6
    assert ("adam_step" if optimizer != "sgd" else "sgd_step") in stats["by_op"]


def test_mse_loss_step_without_clipping_stats_equal():
    _same_stats(_mlp_steps(gg.float32, OPTIMIZERS["adam"], loss="mse", clip=False))


def test_shape_only_step_returns_a_loss_of_the_right_shape_without_values():
    gg.sim.configure(DEV, compute=False)
    loss = _mlp_steps(gg.bfloat16, OPTIMIZERS["adam"], steps=1)()
    assert loss.shape == () and loss.dtype is gg.bfloat16 and loss.device == gg.device(DEV)
    with pytest.raises(gg.sim.ValuesNotComputedError, match="compute=False"):
        loss.item()


def test_conv_step_stats_equal():
    def program():
        model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, device=DEV), nn.ReLU(),
                              nn.MaxPool2d(2), nn.Conv2d(8, 8, 3, stride=2, device=DEV),
                              nn.Flatten(), nn.Linear(8 * 3 * 3, 10, device=DEV))
        opt = gg.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        x = gg.randn(4, 3, 16, 16, device=DEV)
        y = gg.randint(0, 10, (4,), device=DEV)
        for _ in range(2):
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
    stats = _same_stats(program)
    assert "im2col" in stats["by_op"] and "max_pool2d" in stats["by_op"]


def test_layout_heavy_program_stats_equal():
    """Views, transposing copies, reductions over leading axes, gathers and host uploads:
    every view/copy decision and every layout the model reads must match."""
    def program():
        a = gg.randn(6, 5, 4, device=DEV, requires_grad=True)
        table = gg.tensor([[0.5, 1.0], [2.0, -1.0], [0.0, 3.0]], device=DEV)
        b = a.permute(2, 0, 1)  # a view
        c = b.contiguous() * 2  # a transposing copy
        d = (c.transpose(0, 1).reshape(6, -1) @ gg.randn(20, 3, device=DEV)).softmax(-1)
        e = a[1:, ::2].sum(0) + a.mean((0, 1)).unsqueeze(0)
        idx = gg.tensor([0, 2, 2, 1], device=DEV)
        f = table[idx] + e[:, idx].sum()
        g = gg.cat([d, d.t().t()], 0).max(1).values.cumsum(0)
        (d.sum() + e.square().sum() + f.sum() + g.sum()).backward()
        return a.grad
    _same_stats(program)


def test_out_of_memory_at_the_same_op_with_and_without_values():
    def program():
        x = gg.randn(256, 256, device=DEV)
        kept = []
        with pytest.raises(gg.OutOfMemoryError) as info:
            for _ in range(100):
                kept.append(x @ x)
        return len(kept), str(info.value)
    config = dict(memory_bytes=2 * 1024 * 1024)
    gc.collect()
    with_values, (ops_before, message) = _stats_of(program, True, **config)
    _collect_young()
    planned, (planned_ops, planned_message) = _stats_of(program, False, **config)
    assert (planned_ops, planned_message) == (ops_before, message)
    assert planned == with_values
    assert 0 < ops_before < 100


def _wide_mlp_step(dtype, width, layers, batch):
    """One Adam training step of ``layers`` relu Linear(width, width) layers; returns the number
    of parameters. Raises what the step raises (OutOfMemoryError)."""
    model = nn.Sequential(*[nn.Linear(width, width, device=DEV, dtype=dtype, activation="relu")
                            for _ in range(layers)])
    params = sum(p.numel() for p in model.parameters())
    opt = gg.optim.Adam(model.parameters())
    x = gg.randn(batch, width, device=DEV, dtype=dtype)
    y = gg.randint(0, width, (batch,), device=DEV)
    F.cross_entropy(model(x), y).backward()
    opt.step()
    opt.zero_grad()
    return params


def test_seven_billion_parameter_adam_step_planned_in_little_host_memory():
    gg.zeros(1, dtype=gg.bfloat16)  # loads ml_dtypes before host memory is measured
    gg.sim.configure(DEV, profile="h100", compute=False)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    tracemalloc.start()
    try:
        params = _wide_mlp_step(gg.bfloat16, 16384, 26, 2048)
        _, traced_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    rss_growth = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) * 1024
    stats = gg.sim.stats(DEV)
    assert params == 26 * (16384 * 16384 + 16384)  # about 7 billion
    # bf16 params, grads and Adam's two moments: 8 bytes a parameter, on the modeled device
    assert stats.peak_bytes >= 8 * params
    assert stats.peak_bytes < stats.capacity_bytes == 80 * 2**30
    assert stats.kernels > 26 * 3 and stats.device_us > 0
    assert traced_peak < 100e6 and rss_growth < 100e6  # tens of GB modeled, MBs on the host


def test_seven_billion_parameters_in_float32_do_not_fit_an_h100():
    gg.sim.configure(DEV, profile="h100", compute=False)
    layer = 16384 * 16384 * 4
    with pytest.raises(gg.OutOfMemoryError) as info:
        _wide_mlp_step(gg.float32, 16384, 26, 2048)
    message = str(info.value)
    # the parameters and gradients (2 x 26 GiB) fit; Adam's first state tensors do not: the
    # failing request is one layer's weight-sized moment
    assert f"tried to allocate 1.00 GiB ({layer} bytes)" in message
    assert "capacity of 80.00 GiB" in message
    gg.sim.configure(DEV, profile="h100", memory_bytes=2**40, compute=False)
    params = _wide_mlp_step(gg.float32, 16384, 26, 2048)
    assert gg.sim.stats(DEV).peak_bytes >= 16 * params  # fits in 1 TiB: the peak is reported
