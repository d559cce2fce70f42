"""Facts the model must show (issue 3, point 8): bigger work costs more, pinned copies beat
pageable ones, read-backs wait for the stream, small ops are host-bound and big matmuls are
device-bound."""
import numpy as np
import pytest

import gpugrad as gg

DEV = "sim:6"


@pytest.fixture(params=["h100", "h200", "a100", "l4"])
def dev(request):
    gg.sim.configure(DEV, profile=request.param)
    yield DEV
    gg.sim.configure(DEV)


def device_us_of(fn):
    before = gg.sim.stats(DEV).device_us
    fn()
    return gg.sim.stats(DEV).device_us - before


def test_a_larger_matmul_costs_more(dev):
    times = []
    for n in (64, 256, 1024, 2048):
        a = gg.ones(n, n, device=dev)
        times.append(device_us_of(lambda: a @ a))
    assert times == sorted(times) and times[-1] > 10 * times[0]
    assert gg.sim.stats(dev).by_op["matmul"]["count"] == 4


def test_pinned_transfers_beat_pageable(dev):
    host = gg.ones(1 << 20)  # 4 MiB
    pinned = host.pin_memory()
    assert pinned.is_pinned() and not host.is_pinned()
    costs = {}
    for name, t in (("pageable", host), ("pinned", pinned)):
        start = gg.sim.stats(dev).host_us
        moved = t.to(dev)
        costs[name] = gg.sim.stats(dev).host_us - start
        np.testing.assert_array_equal(moved.numpy(), host.numpy())
    assert costs["pinned"] < costs["pageable"]
    assert gg.sim.stats(dev).h2d_bytes == 2 * (4 << 20)
    with pytest.raises(RuntimeError, match="only cpu tensors"):
        moved.pin_memory()


@pytest.mark.parametrize("read", [
    lambda t: t.sum().item(),
    lambda t: t.numpy(),
    lambda t: t.tolist(),
    lambda t: t.to("cpu"),
    lambda t: repr(t),
], ids=["item", "numpy", "tolist", "to_cpu", "print"])
def test_read_back_waits_for_the_stream(read):
    gg.sim.configure(DEV)
    a = gg.ones(2048, 2048, device=DEV)
    b = a @ a  # hundreds of µs of modeled device work, queued in a few µs of host time
    stats = gg.sim.stats(DEV)
    assert stats.host_us < stats.stream_us  # the host ran ahead of the stream
    read(b[:2, :2])
    after = gg.sim.stats(DEV)
    assert after.host_us >= stats.stream_us  # the read-back waited for the matmul
    assert after.d2h_bytes > 0


def test_synchronize_moves_the_host_clock_to_the_stream_end():
    gg.sim.configure(DEV)
    a = gg.ones(1024, 1024, device=DEV)
    b = a @ a
    before = gg.sim.stats(DEV)
    assert before.host_us < before.stream_us
    assert gg.sim.synchronize(DEV) >= before.stream_us
    assert gg.sim.stats(DEV).host_us >= before.stream_us
    del b


def test_many_small_ops_are_host_bound_and_a_big_matmul_is_device_bound(dev):
    x = gg.ones(32, device=dev)
    gg.sim.reset(dev)
    for _ in range(200):
        x = x * 1.0001 + 0.5
    x.sum().item()
    small = gg.sim.stats(dev)
    assert small.device_us < 0.5 * small.host_us  # the device idles, waiting for the host

    a = gg.ones(2048, 2048, device=dev)
    gg.sim.reset(dev)
    (a @ a).sum().item()
    big = gg.sim.stats(dev)
    assert big.device_us > 0.75 * big.host_us  # the host mostly waits for the device
    assert big.by_class["matmul"] > 0.9 * big.device_us


def test_fusion_shows_in_the_stats():
    gg.sim.configure(DEV)
    x = gg.ones(128, 256, device=DEV)
    b = gg.ones(256, device=DEV)
    gg.sim.reset(DEV)
    x.bias_act(b, "relu")
    fused = gg.sim.stats(DEV)
    gg.sim.reset(DEV)
    (x + b).relu()
    unfused = gg.sim.stats(DEV)
    assert (fused.kernels, unfused.kernels) == (1, 2)
    assert fused.device_us < unfused.device_us and fused.bytes < unfused.bytes
