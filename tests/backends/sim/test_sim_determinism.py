"""Modeled numbers depend only on the program and the profile: the same program twice gives
identical stats and an identical trace (from the same starting state: here a cold device)."""
import gc
import json

import pytest

import gpugrad as gg

DEV = "sim:7"


def program():
    """A small training loop with transfers, fused ops, an optimizer and read-backs."""
    gg.manual_seed(3)
    x = gg.randn(64, 20).to(DEV)
    y = gg.randint(0, 4, size=(64,)).to(DEV)
    w1 = gg.randn(20, 32, device=DEV, requires_grad=True)
    b1 = gg.zeros(32, device=DEV, requires_grad=True)
    w2 = gg.randn(32, 4, device=DEV, requires_grad=True)
    losses = []
    for _ in range(3):
        h = (x @ w1).bias_act(b1, "relu")
        loss = gg.nn.functional.cross_entropy(h @ w2, y)
        loss.backward()
        with gg.no_grad():
            for p in (w1, b1, w2):
                p.copy_(p - 0.1 * p.grad)
                p.grad = None
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("profile", ["h100", "l4"])
def test_same_program_gives_identical_stats_and_trace(profile, tmp_path):
    runs = []
    for i in range(2):
        # arrays left by earlier tests die when the collector runs, and their frees would land
        # in this trace: collect them first, so both runs start from the same state
        gc.collect()
        gg.sim.configure(DEV, profile=profile)  # a cold device: counters, clocks, empty pool
        # the modeled device timeline only: host op times (the CPU activity) are measured
        activities = [gg.profiler.ProfilerActivity.CUDA]
        with gg.profiler.profile(activities=activities) as prof:
            losses = program()
        path = prof.export_chrome_trace(str(tmp_path / f"trace{i}.json"))
        with open(path) as f:
            runs.append((losses, gg.sim.stats(DEV).as_dict(), f.read()))
    assert runs[0][0] == runs[1][0]
    assert runs[0][1] == runs[1][1]
    assert runs[0][1]["kernels"] > 50 and runs[0][1]["host_us"] > 0
    assert runs[0][2] == runs[1][2]
    assert len(json.loads(runs[0][2])["traceEvents"]) > 100
    gg.sim.configure(DEV)
