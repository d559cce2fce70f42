"""The communication stream: collectives overlap the compute stream until waited on, and show
as their own track in the profiler's trace."""
import numpy as np
import pytest

import gpugrad as gg
from gpugrad.backends.sim import costmodel
from gpugrad.backends.sim.collectives import predict
from gpugrad.backends.sim.comm import ISSUE_US
from gpugrad.backends.sim.profiles import get_profile
from gpugrad.backends.sim.timeline import Timeline
from gpugrad.device_registry import Device, get_backend

GIB = 1 << 30
_A = np.zeros((4096, 4096), np.float32)
MATMUL = costmodel.spec("matmul", [_A, _A], _A)


def test_collective_overlaps_compute_until_waited_on():
    tl = Timeline(get_profile("h100"))
    _, first_end = tl.kernel(MATMUL)
    start, end = tl.collective("all_reduce", 5000.0, ISSUE_US)
    assert start >= first_end  # it reads what the kernel before it wrote
    k_start, _ = tl.kernel(MATMUL)
    assert k_start < end  # the compute stream goes on meanwhile
    tl.collective_wait(end)
    after, _ = tl.kernel(MATMUL)
    assert after >= end  # work issued after the wait follows the collective
    assert tl.comm_busy_us == 5000.0
    assert tl.host_us < end  # the host never blocked


def test_exposed_communication_and_synchronize():
    tl = Timeline(get_profile("h100"))
    _, end = tl.collective("all_reduce", 1000.0, ISSUE_US)
    host = tl.host_us
    assert tl.synchronize() >= end  # synchronize waits for the comm stream too
    assert tl.comm_exposed_us == pytest.approx(end - host)  # nothing else hid it
    hidden = Timeline(get_profile("h100"))
    _, end = hidden.collective("all_reduce", 10.0, ISSUE_US)
    hidden.kernel(MATMUL)  # a long kernel covers the short collective
    hidden.collective_wait(end)
    hidden.synchronize()
    assert hidden.comm_exposed_us == 0.0
    assert hidden.snapshot()["comm_busy_us"] == 10.0


def test_group_collective_starts_when_the_last_rank_is_ready():
    tl = Timeline(get_profile("h100"))
    start, _ = tl.collective("broadcast", 10.0, ISSUE_US, not_before=500.0)
    assert start == 500.0


@pytest.fixture
def sim0():
    backend = get_backend(Device("sim:0"))
    backend.configure(profile="h100")
    yield backend
    backend.configure()


def test_backend_contract(sim0):
    x = gg.randn(256, device="sim:0")
    (x * 2) + 1  # warms the pool (a cudaMalloc would wait for the whole device)
    handle = sim0.collective_launch("all_reduce", GIB, 8)
    tl = sim0.timeline
    assert handle == tl.comm_us
    assert tl.comm_busy_us == pytest.approx(predict("all_reduce", GIB, 8).us)
    y = x * 2
    assert tl.stream_us < handle  # the kernel ran while the all-reduce did
    sim0.collective_wait(handle)
    z = y + 1
    assert tl.stream_us > handle  # this one waited for it
    sim0.collective_wait(None)  # (devices that model no time hand out None)
    assert sim0.host_buffer(z._data) is z._data.data
    assert (z.numpy() == x.numpy() * 2 + 1).all()


def test_comm_track_in_the_perfetto_trace(sim0):
    x = gg.randn(512, 512, device="sim:0")
    x @ x  # warms the pool
    with gg.profiler.profile() as prof:
        handle = sim0.collective_launch("all_reduce", 64 << 20, 8)
        y = x @ x
        sim0.collective_wait(handle)
        gg.sim.synchronize("sim:0")
    events = prof.trace()["traceEvents"]
    tids = {e["args"]["name"]: e["tid"] for e in events if e.get("name") == "thread_name"}
    assert "comm" in tids
    comm = [e for e in events if e.get("ph") == "X" and e.get("cat") == "comm"]
    kernels = [e for e in events if e.get("ph") == "X" and e.get("cat") == "stream"]
    assert [e["name"] for e in comm] == ["all_reduce"] and comm[0]["tid"] == tids["comm"]
    assert comm[0]["args"]["algorithm"] == "nvls"
    c = comm[0]
    assert any(k["ts"] < c["ts"] + c["dur"] and k["ts"] + k["dur"] > c["ts"] for k in kernels)
    assert y.shape == (512, 512)
