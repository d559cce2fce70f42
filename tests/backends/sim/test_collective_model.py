"""The NCCL collective model: pinned numbers, NCCL's algorithm choice, and agreement with
published nccl-tests results (bench/results/nccl-tests/published.json)."""
import json
import os

import pytest

from gpugrad.backends.sim import collectives as model
from gpugrad.backends.sim.interconnect import Cluster

GIB = 1 << 30
ONE_NODE = Cluster()
TWO_NODES = Cluster.make(nodes=2)
DATA = os.path.join(os.path.dirname(__file__), "..", "..", "..", "bench", "results",
                    "nccl-tests", "published.json")


def predict(op, nbytes, world_size, profile="h100", cluster=ONE_NODE, **force):
    return model.predict(op, nbytes, world_size, cluster, profile, **force)


# ---- pinned numbers (worked out by hand from NCCL's constants) -------------------------------
def test_h100_small_all_reduce_is_ring_ll():
    # ring LL: 6.6 base + 14 steps x 0.6 NVLink hops; bus bandwidth min(87.7, 360 / 4) GB/s
    found = predict("all_reduce", 8, 8)
    assert found.algorithm == "ring" and found.protocol == "LL"
    assert found.us == pytest.approx(15.0 + 8 / (1e3 * 87.7 * 8 / 14))


def test_h100_large_all_reduce_is_nvls():
    # NVLS: 8 channels of 40 GB/s (9 x 40 <= 18 x 20.6), 5/6 of it; 23 us through the switch
    found = predict("all_reduce", GIB, 8)
    assert (found.algorithm, found.protocol) == ("nvls", "Simple")
    assert found.us == pytest.approx(23.0 + GIB / (1e3 * 320 * 5 / 6))


def test_a100_large_all_reduce_is_ring_simple():
    # 12 channels x 20 GB/s = 240 GB/s of NVLink3; 2(n-1) steps of 1/n; 8.4 + 14 x 3.4 us
    found = predict("all_reduce", GIB, 8, "a100")
    assert (found.algorithm, found.protocol) == ("ring", "Simple")
    assert found.us == pytest.approx(56.0 + GIB / (1e3 * 240 * 8 / 14))


def test_ring_and_tree_formulas():
    times = model.candidates("all_reduce", GIB, 8, ONE_NODE, "a100")
    # tree: min(0.92 x 240, 12 x 24) / 2 GB/s, latency 2 x 7 hops x 28 us
    assert times["tree", "Simple"] == pytest.approx(392.0 + GIB / (1e3 * 220.8 / 2))
    assert times["ring", "Simple"] < times["tree", "Simple"]
    # all-gather: n-1 steps, its bytes are the whole output
    gather = model.candidates("all_gather", GIB // 8, 8, ONE_NODE, "a100")
    assert gather["ring", "Simple"] == pytest.approx(8.4 + 7 * 3.4 + GIB / (1e3 * 240 * 8 / 7))
    assert ("tree", "Simple") not in gather  # NCCL runs trees for all-reduce only


def test_two_nodes():
    # rings: 8 channels of 45 GB/s (each NIC carries one of 50 GB/s); 26 NVLink + 4 network
    # steps, 1.4x the latency for large messages (the ring plateau)
    times = model.candidates("all_reduce", GIB, 16, TWO_NODES, "h100")
    ring_lat = 1.4 * (8.4 + 26 * 3.4 + 4 * 14.0)
    assert times["ring", "Simple"] == pytest.approx(ring_lat + GIB / (1e3 * 360 * 16 / 30))
    # NVLS tree: 23 us in the switch plus 2 x 14 us over the network
    assert times["nvls_tree", "Simple"] == pytest.approx(51.0 + GIB / (1e3 * 320 * 5 / 6))
    assert ("nvls", "Simple") not in times  # NVLS alone spans one node
    assert predict("all_reduce", GIB, 16, cluster=TWO_NODES).algorithm == "nvls_tree"


def test_choice_switches_with_size():
    choices = [predict("all_reduce", n, 8, "a100")[1:] for n in (1 << 10, 16 << 20, GIB)]
    assert choices == [("ring", "LL"), ("ring", "LL128"), ("ring", "Simple")]
    assert predict("all_reduce", 1 << 10, 8)[1:] == ("ring", "LL")
    assert predict("all_reduce", 1 << 20, 8)[1:] == ("nvls", "Simple")
    assert predict("all_reduce", 1 << 10, 16, cluster=TWO_NODES)[1:] == ("tree", "LL")


def test_protocols_and_algorithms_need_their_hardware():
    l4 = model.candidates("all_reduce", GIB, 8, ONE_NODE, "l4")
    assert {p for _, p in l4} == {"LL", "Simple"}  # no LL128 over PCIe
    assert not {a for a, _ in l4} & {"nvls", "nvls_tree"}
    with pytest.raises(ValueError, match="nvls"):
        predict("all_reduce", GIB, 8, "a100", algorithm="nvls")  # no NVLink SHARP on A100
    forced = predict("all_reduce", 1 << 10, 8, algorithm="nvls")
    assert forced.algorithm == "nvls" and forced.us == pytest.approx(23.0, abs=0.01)


def test_network_settings():
    hdr = Cluster.make(nodes=2, inter_node="hdr")
    assert predict("all_reduce", GIB, 16, cluster=hdr).us > \
        predict("all_reduce", GIB, 16, cluster=TWO_NODES).us
    slow = Cluster.make(nodes=2, inter_node_latency_us=10.0)
    tree_ll = {"algorithm": "tree", "protocol": "LL"}
    added = predict("all_reduce", 1 << 10, 16, cluster=slow, **tree_ll).us - \
        predict("all_reduce", 1 << 10, 16, cluster=TWO_NODES, **tree_ll).us
    assert added == pytest.approx(2 * 10.0)  # up and down one network level


def test_point_to_point_and_barrier():
    small, large = predict("send", 1 << 10, 2), predict("recv", GIB, 2)
    assert (small.protocol, large.protocol) == ("LL", "Simple")
    assert large.us == pytest.approx(8.4 + 3.4 + GIB / (1e3 * 360))  # one NVLink hop
    across = predict("send", GIB, 16, cluster=TWO_NODES)
    assert across.us == pytest.approx(8.4 + 14.0 + GIB / (1e3 * 50))  # one 400 Gb/s NIC
    assert predict("barrier", 0, 8) == predict("all_reduce", 4, 8)


def test_nothing_to_move_and_bad_input():
    assert predict("all_reduce", GIB, 1) == (0.0, "none", "none")
    assert predict("broadcast", 0, 8) == (0.0, "none", "none")
    with pytest.raises(ValueError, match="all_to_all"):
        predict("all_to_all", 8, 8)
    with pytest.raises(ValueError, match="nodes=2"):
        predict("all_reduce", 8, 16)  # 16 ranks on one 8-GPU node
    with pytest.raises(ValueError, match="nbytes"):
        predict("all_reduce", -1, 8)
    with pytest.raises(ValueError, match="gpus_per_node"):
        Cluster.make(gpus_per_node=0)
    with pytest.raises(ValueError, match="ndr"):
        Cluster.make(inter_node="token-ring")


def test_bus_bandwidth_definition():
    us = 1000.0
    assert model.bus_bandwidth("all_reduce", 8 * 10**6, 8, us) == pytest.approx(8 * 2 * 7 / 8)
    assert model.bus_bandwidth("all_gather", 10**6, 8, us) == pytest.approx(8 * 7 / 8)
    assert model.bus_bandwidth("reduce_scatter", 8 * 10**6, 8, us) == pytest.approx(8 * 7 / 8)
    assert model.bus_bandwidth("broadcast", 8 * 10**6, 8, us) == pytest.approx(8.0)


# ---- regimes and published figures -----------------------------------------------------------
@pytest.mark.parametrize("profile", ["h100", "h200", "a100", "l4"])
def test_small_messages_are_latency_bound(profile):
    """Up to 4 KiB the time hardly depends on the size; at 1 GiB it is proportional to it."""
    small = [predict("all_reduce", n, 8, profile).us for n in (8, 64, 512, 4096)]
    assert max(small) < 1.1 * min(small)
    assert predict("all_reduce", 2 * GIB, 8, profile).us == \
        pytest.approx(2 * predict("all_reduce", GIB, 8, profile).us, rel=0.02)


def _published():
    with open(DATA) as f:
        data = json.load(f)
    for figure in data["figures"]:
        for nbytes, label, busbw in figure["busbw_gbps"]:
            if nbytes >= data["large_from_bytes"]:
                yield pytest.param(figure, nbytes, busbw, data["tolerance_large"],
                                   id=f"{figure['id']}-{label}")


@pytest.mark.parametrize("figure,nbytes,published,tolerance", list(_published()))
def test_bus_bandwidth_agrees_with_published_nccl_tests(figure, nbytes, published, tolerance):
    assert figure["source"].startswith("https://")
    n = figure["world_size"]
    per_rank = nbytes // n if figure["op"] == "all_gather" else nbytes  # nccl-tests: the output
    cluster = Cluster.make(gpus_per_node=figure["gpus_per_node"], nodes=figure["nodes"])
    found = model.predict(figure["op"], per_rank, n, cluster, figure["profile"])
    if figure["algorithm"]:
        assert found.algorithm == figure["algorithm"]  # NCCL's own choice at this size
    bus = model.bus_bandwidth(figure["op"], per_rank, n, found.us)
    assert abs(bus / published - 1) <= tolerance, (bus, published)
