"""A whole modeled training step, its figures pinned: the kernels, FLOPs and bytes are worked
out by hand where they are short, and the modeled times are the model's current output (the
parts are pinned by hand in tests/backends/sim/test_*_pinned.py). A run compared only with
itself cannot see a wrong model; a change to any part of it (spec, profile, timeline, memory)
moves these numbers, and whoever changes the model on purpose updates them here."""
import pytest

import gpugrad as gg
import gpugrad.nn as nn
import gpugrad.nn.functional as F

DEV = "sim:4"
BATCH, WIDTH, CLASSES = 2048, 512, 10
PARAMS = WIDTH * WIDTH + WIDTH + WIDTH * CLASSES + CLASSES   # 267,786


def two_steps(profile):
    """Two SGD (momentum) steps of a 512-512-10 ReLU MLP on a 2048 batch; the device's stats."""
    gg.sim.configure(DEV, profile=profile, host="h200-host")   # not $GPUGRAD_SIM_HOST
    try:
        gg.manual_seed(0)
        model = nn.Sequential(nn.Linear(WIDTH, WIDTH), nn.ReLU(),
                              nn.Linear(WIDTH, CLASSES)).to(DEV)
        opt = gg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        x = gg.ones(BATCH, WIDTH, device=DEV)
        y = gg.zeros(BATCH, dtype=gg.int64, device=DEV)
        for _ in range(2):
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
        return gg.sim.stats(DEV)
    finally:
        gg.sim.configure(DEV)


@pytest.mark.parametrize("profile, device_us, host_us, stream_us", [
    ("h200", 198.84772101139876, 2317.167222945324, 2323.2557981393734),
    ("l4", 443.3761013889231, 2456.875192685332, 2473.854566447633),
])
def test_two_training_steps(profile, device_us, host_us, stream_us):
    s = two_steps(profile)
    # per step: layer 1's forward and weight gradient, layer 2's forward and both gradients
    big, small = 2 * BATCH * WIDTH * WIDTH, 2 * BATCH * WIDTH * CLASSES
    assert s.by_op["matmul"]["count"] == 10
    assert s.by_op["matmul"]["flops"] == 2 * (2 * big + 3 * small)
    assert s.by_op["sgd_step"]["flops"] == 2 * 4 * PARAMS   # 4 FLOP per parameter per step
    assert s.h2d_bytes == PARAMS * 4                        # the parameters, moved once
    assert (s.kernels, s.flops, s.bytes, s.peak_bytes) == (40, 4432667736, 165958256, 23153664)
    assert (s.device_us, s.host_us, s.stream_us) == pytest.approx(
        (device_us, host_us, stream_us), rel=1e-9)
