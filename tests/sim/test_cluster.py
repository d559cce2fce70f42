"""gg.sim's cluster: configure_cluster, the modeled collective times, and the single-process
collectives over sim devices (values for real, time on each device's comm stream)."""
import numpy as np
import pytest

import gpugrad as gg
from gpugrad.backends.sim import interconnect
from gpugrad.device_registry import Device, get_backend

GIB = 1 << 30


@pytest.fixture
def devices():
    """Four fresh h100 sim devices; the cluster and devices restored afterwards."""
    before = interconnect.cluster()
    names = [f"sim:{i}" for i in range(4)]
    for name in names:
        gg.sim.configure(name, profile="h100")
    yield names
    interconnect.set_cluster(before)
    for name in names:
        gg.sim.configure(name)


def _timeline(name):
    return get_backend(Device(name)).timeline


def test_configure_cluster_and_predictions(devices):
    assert gg.sim.configure_cluster(gpus_per_node=8, nodes=2, inter_node="hdr") == \
        "2 node(s) x 8 GPUs, InfiniBand HDR at 200 Gb/s per GPU"
    c = gg.sim.get_cluster()
    assert (c.gpus_per_node, c.nodes, c.nic_gbps) == (8, 2, 200.0)
    us, algorithm, protocol = gg.sim.collective_time("all_reduce", GIB, 16, profile="h100")
    assert algorithm in ("ring", "tree", "nvls_tree") and protocol in ("LL", "LL128", "Simple")
    bus = gg.sim.bus_bandwidth("all_reduce", GIB, 16, profile="h100")
    assert bus == pytest.approx(GIB / (us * 1e3) * 2 * 15 / 16)
    gg.sim.configure_cluster(nodes=2, inter_node_gbps=800)
    assert gg.sim.collective_time("all_reduce", GIB, 16, profile="h100")[0] < us
    with pytest.raises(ValueError, match="inter_node"):
        gg.sim.configure_cluster(inter_node="carrier-pigeon")
    gg.sim.configure_cluster()
    with pytest.raises(ValueError, match="does not fit"):
        gg.sim.collective_time("all_reduce", GIB, 9)
    forced = gg.sim.collective_time("all_reduce", GIB, 8, "a100", algorithm="tree")
    assert forced[1] == "tree"


def test_all_reduce_values_and_time(devices):
    xs = [gg.tensor(np.arange(6.0, dtype=np.float32).reshape(2, 3) * (i + 1), device=d)
          for i, d in enumerate(devices)]
    stream_before = _timeline("sim:0").stream_us
    gg.sim.all_reduce(xs)
    want = np.arange(6.0, dtype=np.float32).reshape(2, 3) * 10
    for x in xs:
        assert np.array_equal(x.numpy(), want)
    expected, _, _ = gg.sim.collective_time("all_reduce", 24, 4, "h100")
    for d in devices:
        tl = _timeline(d)
        assert tl.comm_busy_us == pytest.approx(expected)
        assert tl.stream_us >= tl.comm_us > stream_before  # later work follows it
    # every rank's collective starts together: when the last was ready
    ends = {round(_timeline(d).comm_us, 6) for d in devices}
    assert len(ends) == 1
    outs = [gg.zeros(2, 3, device=d) for d in devices]
    gg.sim.all_reduce(xs, outs, op="max")
    assert np.array_equal(outs[2].numpy(), want)


def test_broadcast_all_gather_reduce_scatter(devices):
    xs = [gg.full((4,), float(i), device=d) for i, d in enumerate(devices)]
    gg.sim.broadcast(xs, root=2)
    assert all(x.tolist() == [2.0] * 4 for x in xs)
    xs = [gg.full((2,), float(i), device=d) for i, d in enumerate(devices)]
    outs = [gg.zeros(8, device=d) for d in devices]
    gg.sim.all_gather(xs, outs)
    assert outs[3].tolist() == [0.0, 0.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0]
    xs = [gg.arange(8.0, device=d) for d in devices]
    outs = [gg.zeros(2, device=d) for d in devices]
    gg.sim.reduce_scatter(xs, outs, op="avg")
    assert [o.tolist() for o in outs] == [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0], [6.0, 7.0]]
    for d in devices:  # three collectives charged on every device
        assert _timeline(d).comm_busy_us > 0


def test_bad_arguments(devices):
    a = gg.zeros(3, device="sim:0")
    with pytest.raises(ValueError, match="own device"):
        gg.sim.all_reduce([a, gg.zeros(3, device="sim:0")])
    with pytest.raises(ValueError, match="sim devices"):
        gg.sim.all_reduce([a, gg.zeros(3)])
    with pytest.raises(ValueError, match="must match"):
        gg.sim.all_reduce([a, gg.zeros(4, device="sim:1")])
    with pytest.raises(ValueError, match="reduction"):
        gg.sim.all_reduce([a, gg.zeros(3, device="sim:1")], op="xor")
    with pytest.raises(ValueError, match="root"):
        gg.sim.broadcast([a, gg.zeros(3, device="sim:1")], root=5)
    with pytest.raises(ValueError, match="6 elements"):
        gg.sim.all_gather([a, gg.zeros(3, device="sim:1")], [gg.zeros(3, device="sim:0"),
                                                              gg.zeros(6, device="sim:1")])
    gg.sim.configure("sim:1", profile="a100")
    with pytest.raises(ValueError, match="profiles"):
        gg.sim.all_reduce([a, gg.zeros(3, device="sim:1")])
