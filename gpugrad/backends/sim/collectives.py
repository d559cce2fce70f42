"""How long a collective takes, modeled as NCCL plans it: a pure function of the operation, its
size, the number of ranks, the cluster (``interconnect.Cluster``) and the GPU profile.

NCCL predicts every (algorithm, protocol) pair's time as ``latency + bytes / bandwidth`` and runs
the fastest (``src/graph/tuning.cc``); this module follows the same model with NCCL's constants
(``nccl_tuning.py``):

- **Channels.** NCCL's topology search finds parallel rings (channels) and the bandwidth each
  carries, trying the per-channel speeds of its table from the highest and keeping the largest
  total that fits every link: inside a node a ring crosses each GPU's NVLink (or PCIe) once per
  direction; between nodes each channel passes through one NIC, and every GPU has its own. An
  NVLS channel (NVLink SHARP) takes twice its speed on its head GPU's link and once on the
  others'. Fast rings are then split in two at half the speed (``ncclTopoDupChannels``).
- **Bandwidth** per (algorithm, protocol): channels x speed, scaled by each protocol's efficiency
  (LL moves 8 bytes of data per 16, LL128 120 per 128) and capped by NCCL's per-channel ceilings,
  then converted to the rate at which the collective's bytes go by (a ring all-reduce makes
  ``2 (n - 1)`` steps of ``1/n`` of the data; a tree halves the bus bandwidth; NVLS keeps 5/6).
- **Latency**: a base per (algorithm, protocol) plus a hop latency per step over NVLink, PCIe
  or the network (ring: one per step; tree: up and down its depth; NVLS: one through the switch).

Sizes: ``nbytes`` is each rank's input buffer (the whole buffer of an all-reduce or broadcast,
a rank's own piece of an all-gather, the whole input of a reduce-scatter, the message of a
send/recv). ``barrier`` is an all-reduce of one float (as PyTorch runs it over NCCL). A send or
recv goes between two GPUs of one node when all ranks fit in one node, else over the network.
"""
import functools
from typing import NamedTuple

from . import interconnect
from . import nccl_tuning as T

OPS = ("all_reduce", "broadcast", "all_gather", "reduce_scatter", "send", "recv", "barrier")
#: how NCCL sends small point-to-point messages: LL up to this many bytes, Simple above
P2P_LL_THRESHOLD = 16384
#: the bytes of PyTorch's barrier all-reduce (one float32)
BARRIER_BYTES = 4


class Prediction(NamedTuple):
    """A modeled collective: its time in microseconds and the algorithm and protocol NCCL
    would run ("none" for a collective with nothing to move)."""
    us: float
    algorithm: str
    protocol: str


class _Graph(NamedTuple):
    channels: int
    speed: float        # GB/s per channel inside a node
    speed_inter: float  # GB/s per channel through a NIC


class _Setup(NamedTuple):
    """One communicator: where its ranks sit and the channels NCCL would build."""
    ranks: int
    nodes: int
    per_node: int
    links: interconnect.GpuLinks
    cluster: interconnect.Cluster
    generation: int
    column: int
    ring: _Graph
    nvls: _Graph | None


def _search(speeds, max_channels):
    """NCCL's search, reduced to its outcome: the (channels, speed) with the largest total,
    the highest speed winning ties; ``max_channels(speed)`` is how many channels fit."""
    best = _Graph(0, 0.0, 0.0)
    for speed in speeds:
        channels = min(T.SEARCH_MAX_CHANNELS, max_channels(speed))
        if channels * speed > best.channels * best.speed + 1e-9:
            best = _Graph(channels, speed, speed)
    return best


def _fit(budget, speed):
    """How many channels of ``speed`` fit in ``budget`` GB/s (a little slack for rounding)."""
    return int(budget / speed + 1e-9)


def _ring_graph(links, cluster, nodes, per_node, hopper):
    """The ring channels: each crosses every GPU's link once, and each NIC carries whole
    channels; fast rings split in two at half speed."""
    nic = cluster.nic_gbytes

    def max_channels(speed):
        fits = [T.SEARCH_MAX_CHANNELS]
        if per_node > 1:
            fits.append(_fit(links.nccl_gbps, speed))
        if nodes > 1:
            fits.append(per_node * _fit(nic, speed))
        return min(fits)
    graph = _search(T.SPEEDS["inter" if nodes > 1 else "intra", hopper], max_channels)
    speed = graph.speed
    if graph.channels and speed >= 25.0 and not (hopper and speed < 50.0 and graph.channels > 4):
        doubled = min(2 * graph.channels, T.SEARCH_MAX_CHANNELS)
        factor = -(-doubled // graph.channels)
        graph = _Graph(doubled, speed / factor, speed / factor)
    return graph


def _nvls_graph(links, cluster, nodes, per_node, hopper):
    """NVLS channels, one per GPU of a node as its head: a channel takes its speed on every
    GPU's link and twice on its head's (and, across nodes, the head's NIC)."""
    nic = cluster.nic_gbytes
    for speed in T.SPEEDS["inter" if nodes > 1 else "intra", hopper]:
        if (per_node + 1) * speed <= links.nccl_gbps + 1e-9 and (nodes == 1 or speed <= nic):
            return _Graph(per_node, speed, speed)
    return None


@functools.lru_cache(maxsize=256)
def _setup(world_size, cluster, profile):
    links = interconnect.gpu_links(profile)
    nodes, per_node = cluster.placement(world_size)
    hopper = links.compute_capability >= 90
    nvls = None
    if links.nvls and links.nvswitch and per_node > 1:
        nvls = _nvls_graph(links, cluster, nodes, per_node, hopper)
    return _Setup(world_size, nodes, per_node, links, cluster,
                  T.generation(links.compute_capability), T.node_column(nodes),
                  _ring_graph(links, cluster, nodes, per_node, hopper), nvls)


# ---- NCCL's tuning model --------------------------------------------------------------------
def _available(coll, algorithm, protocol, s):
    """Whether NCCL would consider ``algorithm``/``protocol`` for ``coll`` here."""
    nvls = algorithm in ("nvls", "nvls_tree")
    if nvls and (protocol != "Simple" or s.nvls is None):
        return False
    if algorithm == "tree" and coll != "all_reduce":
        return False
    if algorithm == "nvls" and (s.nodes > 1 or coll == "broadcast"):
        return False
    if algorithm == "nvls_tree" and (s.nodes == 1 or coll != "all_reduce"):
        return False
    if protocol == "LL128":  # NCCL enables it only over NVLink, on the GPUs it was tested on
        return s.links.nvlink and s.links.compute_capability in (70, 80, 90)
    return True


def _steps(coll, s):
    """(ring steps, of which through the network) of ``coll``."""
    if coll == "all_reduce":
        return 2 * (s.ranks - 1), 2 * s.nodes if s.nodes > 1 else 0
    if coll in ("all_gather", "reduce_scatter"):
        return s.ranks - 1, s.nodes - 1
    return s.ranks, s.nodes


def _bandwidth(coll, algorithm, protocol, s):
    """The rate (GB/s) at which ``coll``'s bytes go by with ``algorithm``/``protocol``."""
    gen, col = s.generation, s.column
    graph = s.ring if algorithm in ("ring", "tree") else s.nvls
    speed = graph.speed
    if algorithm == "nvls_tree":
        speed = min(speed, graph.speed_inter if s.nodes <= 2 else graph.speed_inter / 2)
    bus = graph.channels * speed
    ll_max = T.LL_MAX_BW[gen if s.nodes == 1 else 0][col]
    if algorithm == "ring":
        if protocol == "LL":
            bus = min(ll_max, bus / (4.0 if s.nodes > 1 or coll == "all_reduce" else 3.0))
        elif protocol == "LL128":
            bus = min(bus * (0.7 if s.per_node < 2 else 0.92),
                      graph.channels * T.RING_LL128_MAX_BW[gen][col])
        return bus * s.ranks / _steps(coll, s)[0]
    if algorithm == "tree":
        bus = min(bus * 0.92, graph.channels * T.TREE_MAX_BW[gen][col])
        if protocol == "LL":
            bus = min(bus / 3.8, ll_max)
        elif protocol == "LL128":
            bus = min(bus * (7.0 / 9.0 if s.nodes == 1 else 120.0 / 128.0),
                      graph.channels * T.TREE_LL128_MAX_BW[gen][col])
        if gen == 2 and s.nodes > 1:  # Hopper's inter-node trees are simple chains
            bus *= 0.85
        return bus * 0.5
    return bus * 5.0 / 6.0  # NVLS, NVLS tree


def _log2(n):
    return max(int(n), 1).bit_length() - 1


def _latency(coll, algorithm, protocol, s):
    """NCCL's latency (µs) of ``coll`` with ``algorithm``/``protocol``."""
    p = T.PROTOCOLS.index(protocol)
    intra_hw = "nvlink" if s.links.nvlink else "pci"
    base = T.BASE_LAT[algorithm][p]
    intra = T.HW_LAT[intra_hw][algorithm][p]
    inter = T.HW_LAT["net"][algorithm][p] + s.cluster.nic_latency_us
    if protocol == "Simple":  # a flush after the last chunk
        inter += s.cluster.nic_latency_us
    if algorithm == "ring":
        if coll == "broadcast":  # one pipelined pass
            return base + T.HW_LAT["net" if s.nodes > 1 else intra_hw]["ring"][p]
        steps, net_steps = _steps(coll, s)
        if s.nodes > 1:  # every step posts a network send as well
            intra = max(intra, T.NET_OVERHEAD_US * (3 if protocol == "Simple" else 1))
        return base + (steps - net_steps) * intra + net_steps * inter
    if algorithm == "tree":
        return base + 2 * ((s.ranks // s.nodes - 1) * intra + _log2(s.nodes) * inter)
    if algorithm == "nvls":
        return intra + (inter if s.nodes > 1 else 0.0)
    return base + intra + 2 * _log2(s.nodes) * inter  # NVLS tree


def _time(coll, algorithm, protocol, nbytes, s):
    bw = _bandwidth(coll, algorithm, protocol, s)
    lat = _latency(coll, algorithm, protocol, s)
    if algorithm == "tree":
        bw *= T.tree_correction(T.PROTOCOLS.index(protocol), nbytes)
    if (algorithm == "ring" and protocol == "Simple" and s.nodes > 1 and coll == "all_reduce"
            and nbytes / (s.ring.channels * s.ranks) >= 64):
        lat *= 1.4 if s.generation >= 1 else 1.9  # rings plateau across nodes
    return lat + nbytes / (1e3 * bw)


def _p2p(nbytes, s):
    """A send/recv between two GPUs: one hop over NVLink or PCIe (one node) or a NIC."""
    protocol = "LL" if nbytes <= P2P_LL_THRESHOLD else "Simple"
    p = T.PROTOCOLS.index(protocol)
    hw = "net" if s.nodes > 1 else "nvlink" if s.links.nvlink else "pci"
    rate = s.ring.channels * s.ring.speed
    if s.nodes > 1:
        rate = min(rate, s.cluster.nic_gbytes)
    if protocol == "LL":
        rate = min(rate / 4.0, T.LL_MAX_BW[s.generation if s.nodes == 1 else 0][s.column])
    lat = T.BASE_LAT["ring"][p] + T.HW_LAT[hw]["ring"][p]
    return Prediction(lat + nbytes / (1e3 * rate), "p2p", protocol)


def nccl_bytes(op, nbytes, world_size):
    """The bytes NCCL's model counts for ``op`` (the all-gather's whole output)."""
    return nbytes * world_size if op == "all_gather" else nbytes


def check_op(op):
    """``op`` if it is a collective this model knows; ValueError naming them otherwise."""
    if op not in OPS:
        raise ValueError(f"unknown collective {op!r}; expected one of {', '.join(OPS)}")
    return op


def _check_nbytes(nbytes):
    if isinstance(nbytes, bool) or not isinstance(nbytes, int) or nbytes < 0:
        raise ValueError(f"nbytes must be a non-negative int (bytes per rank), got {nbytes!r}")


def candidates(op, nbytes, world_size, cluster, profile):
    """Every (algorithm, protocol) NCCL would consider for ``op``: a dict of predicted µs."""
    check_op(op)
    _check_nbytes(nbytes)
    s = _setup(world_size, cluster, str(profile).lower())
    if op == "barrier":
        op, nbytes = "all_reduce", BARRIER_BYTES
    if op in ("send", "recv"):
        found = _p2p(nbytes, s)
        return {(found.algorithm, found.protocol): found.us}
    total = nccl_bytes(op, nbytes, world_size)
    return {(a, p): _time(op, a, p, total, s)
            for a in T.ALGORITHMS for p in T.PROTOCOLS if _available(op, a, p, s)}


def predict(op, nbytes, world_size, cluster=None, profile="h100", algorithm=None, protocol=None):
    """The modeled ``Prediction`` of collective ``op`` moving ``nbytes`` per rank among
    ``world_size`` ranks on ``cluster`` (default: the process-wide one) of ``profile`` GPUs.

    NCCL's choice is the fastest candidate; ``algorithm``/``protocol`` force one (as
    ``NCCL_ALGO``/``NCCL_PROTO`` do), ValueError when NCCL would not run it here.
    """
    cluster = interconnect.cluster() if cluster is None else cluster
    check_op(op)
    _check_nbytes(nbytes)
    cluster.placement(world_size)  # (checks world_size)
    if world_size == 1 or (nbytes == 0 and op != "barrier"):
        return Prediction(0.0, "none", "none")  # NCCL launches nothing
    times = candidates(op, nbytes, world_size, cluster, profile)
    chosen = {key: us for key, us in times.items()
              if algorithm in (None, key[0]) and protocol in (None, key[1])}
    if not chosen:
        options = ", ".join(f"{a}/{p}" for a, p in times)
        raise ValueError(f"NCCL would not run {op} with algorithm={algorithm!r} "
                         f"protocol={protocol!r} on {world_size} {profile} GPUs "
                         f"({cluster.describe()}); it considers {options}")
    (best_algorithm, best_protocol), us = min(chosen.items(), key=lambda kv: kv[1])
    return Prediction(us, best_algorithm, best_protocol)


#: nccl-tests' factor from algorithm bandwidth to bus bandwidth, per op, of the rank count
_BUS_FACTOR = {
    "all_reduce": lambda n: 2.0 * (n - 1) / n,
    "all_gather": lambda n: (n - 1) / n,
    "reduce_scatter": lambda n: (n - 1) / n,
}


def bus_bandwidth(op, nbytes, world_size, us):
    """nccl-tests' bus bandwidth (GB/s) of ``op`` moving ``nbytes`` per rank in ``us``: its
    size over the time (the algorithm bandwidth), times 2(n-1)/n for an all-reduce and (n-1)/n
    for an all-gather or reduce-scatter (their size is the whole output or input)."""
    if us <= 0:
        return 0.0
    algbw = nccl_bytes(op, nbytes, world_size) / (us * 1e3)
    return algbw * _BUS_FACTOR.get(op, lambda n: 1.0)(world_size)
