"""How simulated GPUs connect: each GPU's links inside a node, the network between nodes, and
the process-wide cluster the collectives model (``collectives.py``) places ranks on.

Inside a node, a GPU reaches the others over NVLink through NVSwitch (H100, H200, A100) or over
PCIe (L4). The figures NCCL plans with are its own per-link rates (``src/graph/topo.h`` in
NVIDIA/nccl: ``SM80_NVLINK_BW`` 20.0 GB/s and ``SM90_NVLINK_BW`` 20.6 GB/s per NVLink,
``PCI_BW`` 12 GB/s for PCIe Gen3 x16), times the number of links: 18 NVLink4 links on an H100 or
H200 (370.8 GB/s of the 450 GB/s line rate per direction), 12 NVLink3 links on an A100 (240 of
300 GB/s). Between nodes each GPU has its own NIC (one per GPU, as in a DGX H100 or DGX A100).

Ranks fill nodes in order: ``world_size`` ranks use ``ceil(world_size / gpus_per_node)`` nodes.
"""
import math
import threading
from typing import NamedTuple


class GpuLinks(NamedTuple):
    """One GPU's connection to the other GPUs of its node."""
    #: what the links are, for people ("NVLink4 through NVSwitch")
    fabric: str
    #: NVLink links per GPU (0: none, peers over PCIe)
    nvlinks: int
    #: NCCL's bandwidth per link (per NVLink, or the whole PCIe x16 link), GB/s per direction
    nccl_link_gbps: float
    #: the datasheet's rate per GPU, GB/s per direction (for people; NCCL plans with the above)
    spec_gbps: float
    #: GPUs meet at NVSwitch chips (any pair at full rate) rather than a PCIe tree
    nvswitch: bool
    #: NVSwitch reduces and multicasts in the switch (NVLink SHARP, NCCL's NVLS algorithms)
    nvls: bool
    #: CUDA compute capability times ten (NCCL picks some constants by GPU generation)
    compute_capability: int

    @property
    def nccl_gbps(self):
        """What NCCL counts one GPU can move to its node's other GPUs, GB/s per direction."""
        return max(self.nvlinks, 1) * self.nccl_link_gbps

    @property
    def nvlink(self):
        """Whether the GPUs of a node talk over NVLink (else PCIe)."""
        return self.nvlinks > 0


#: per GPU profile (``gpugrad/backends/sim/profiles/``): its links inside a node. Datasheets:
#: H100/H200 SXM 900 GB/s NVLink (18 NVLink4 links, 450 GB/s per direction), third-generation
#: NVSwitch with NVLink SHARP; A100 SXM 600 GB/s (12 NVLink3 links), second-generation NVSwitch
#: without SHARP; L4 PCIe Gen4 x16 (31.5 GB/s per direction) and no NVLink. NCCL's PCIe figure
#: for Gen4 x16 is twice its Gen3 ``PCI_BW``.
GPU_LINKS = {
    "h100": GpuLinks("NVLink4 through NVSwitch", 18, 20.6, 450.0, True, True, 90),
    "h200": GpuLinks("NVLink4 through NVSwitch", 18, 20.6, 450.0, True, True, 90),
    "a100": GpuLinks("NVLink3 through NVSwitch", 12, 20.0, 300.0, True, False, 80),
    "l4": GpuLinks("PCIe Gen4 x16", 0, 24.0, 31.5, False, False, 89),
}


class Network(NamedTuple):
    """One kind of network between nodes."""
    description: str
    #: line rate of each GPU's NIC, Gbit/s per direction
    gbps: float
    #: latency added to NCCL's own per-hop network latency, microseconds
    latency_us: float


#: ``inter_node`` choices. NCCL's per-hop network latencies (``hwLat`` NET in tuning.cc) already
#: describe an InfiniBand fabric, so the presets add none; set ``inter_node_latency_us`` to
#: model a slower fabric.
NETWORKS = {
    "ndr": Network("InfiniBand NDR, 400 Gb/s per GPU (ConnectX-7, as in DGX H100)", 400.0, 0.0),
    "hdr": Network("InfiniBand HDR, 200 Gb/s per GPU (ConnectX-6, as in DGX A100)", 200.0, 0.0),
    "roce-400": Network("RoCE v2, 400 Gb/s Ethernet per GPU", 400.0, 0.0),
    "roce-200": Network("RoCE v2, 200 Gb/s Ethernet per GPU", 200.0, 0.0),
}


def gpu_links(profile_name):
    """The ``GpuLinks`` of GPU profile ``profile_name`` (ValueError naming the choices)."""
    key = str(profile_name).strip().lower()
    try:
        return GPU_LINKS[key]
    except KeyError:
        raise ValueError(f"no interconnect is known for GPU profile {profile_name!r}; expected "
                         f"one of {', '.join(GPU_LINKS)}") from None


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def _non_negative(value, name, unit):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ValueError(f"{name} must be a non-negative number ({unit}), got {value!r}")
    return float(value)


class Cluster(NamedTuple):
    """A cluster of identical nodes: ``gpus_per_node`` GPUs each, ``nodes`` nodes, one NIC per
    GPU of ``nic_gbps`` Gbit/s between nodes (``inter_node`` names the network)."""
    gpus_per_node: int = 8
    nodes: int = 1
    inter_node: str = "ndr"
    nic_gbps: float = NETWORKS["ndr"].gbps
    nic_latency_us: float = NETWORKS["ndr"].latency_us

    @classmethod
    def make(cls, gpus_per_node=8, nodes=1, inter_node="ndr", inter_node_gbps=None,
             inter_node_latency_us=None):
        """A checked Cluster: ``inter_node`` one of ``NETWORKS``; ``inter_node_gbps`` and
        ``inter_node_latency_us`` override that network's NIC rate and added latency."""
        _positive_int(gpus_per_node, "gpus_per_node")
        _positive_int(nodes, "nodes")
        key = str(inter_node).strip().lower()
        if key not in NETWORKS:
            raise ValueError(f"unknown inter_node network {inter_node!r}; expected one of "
                             f"{', '.join(NETWORKS)} (set inter_node_gbps and "
                             f"inter_node_latency_us for another)")
        net = NETWORKS[key]
        gbps = net.gbps if inter_node_gbps is None else \
            _non_negative(inter_node_gbps, "inter_node_gbps", "Gbit/s per GPU")
        if gbps <= 0:
            raise ValueError("inter_node_gbps must be above 0 (Gbit/s per GPU)")
        latency = net.latency_us if inter_node_latency_us is None else \
            _non_negative(inter_node_latency_us, "inter_node_latency_us", "microseconds")
        return cls(gpus_per_node, nodes, key, float(gbps), latency)

    @property
    def size(self):
        """How many GPUs the cluster holds."""
        return self.gpus_per_node * self.nodes

    @property
    def nic_gbytes(self):
        """Each NIC's rate in GB/s (as NCCL counts it: Gbit/s over 8)."""
        return self.nic_gbps / 8.0

    def placement(self, world_size):
        """``(nodes used, ranks per node)`` for ``world_size`` ranks filling nodes in order;
        ValueError when they do not fit."""
        _positive_int(world_size, "world_size")
        if world_size > self.size:
            raise ValueError(
                f"world_size {world_size} does not fit the simulated cluster of "
                f"{self.gpus_per_node} GPUs x {self.nodes} node(s); configure a larger one, "
                f"e.g. gg.sim.configure_cluster(gpus_per_node={self.gpus_per_node}, "
                f"nodes={math.ceil(world_size / self.gpus_per_node)})")
        nodes = math.ceil(world_size / self.gpus_per_node)
        return nodes, math.ceil(world_size / nodes)

    def describe(self):
        """One line for people."""
        text = f"{self.nodes} node(s) x {self.gpus_per_node} GPUs"
        if self.nodes > 1:
            text += (f", {NETWORKS[self.inter_node].description.split(',')[0]} at "
                     f"{self.nic_gbps:g} Gb/s per GPU")
            if self.nic_latency_us:
                text += f" (+{self.nic_latency_us:g} us per hop)"
        return text


_current = [Cluster()]  # replaced whole, never changed in place
_lock = threading.Lock()


def cluster():
    """The process-wide ``Cluster`` every sim device's collectives are placed on."""
    return _current[0]


def set_cluster(new):
    """Make ``new`` (a ``Cluster``) the process-wide cluster; returns the previous one."""
    if not isinstance(new, Cluster):
        raise TypeError(f"expected a Cluster, got {type(new).__name__}")
    with _lock:
        old, _current[0] = _current[0], new
    return old
