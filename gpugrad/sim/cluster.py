"""The simulated cluster and its collectives' modeled times.

```python
gg.sim.configure_cluster(gpus_per_node=8, nodes=2, inter_node="ndr")
us, algorithm, protocol = gg.sim.collective_time("all_reduce", 1 << 30, 16, profile="h100")
gg.sim.bus_bandwidth("all_reduce", 1 << 30, 16)      # GB/s, as nccl-tests reports it
```

The cluster is process-wide: every sim device's collectives (``gg.distributed`` on sim tensors,
``gg.sim.all_reduce``...) are placed on it, ranks filling nodes in order. Times follow NCCL's
own tuning model (see ``gpugrad/backends/sim/collectives.py`` and docs/sim-model.md,
"Collectives and clusters").
"""
from ..backends.sim import collectives as model
from ..backends.sim import interconnect
from ..backends.sim.device_model import profile_name

__all__ = ["configure_cluster", "get_cluster", "collective_time", "bus_bandwidth"]


def configure_cluster(gpus_per_node=8, nodes=1, inter_node="ndr", inter_node_gbps=None,
                      inter_node_latency_us=None):
    """Set the simulated cluster every sim device's collectives run on, for the whole process.

    ``gpus_per_node`` GPUs per node (NVLink through NVSwitch, or PCIe, as the GPU profile has)
    and ``nodes`` nodes, each GPU with its own NIC between nodes: ``inter_node`` is "ndr"
    (InfiniBand 400 Gb/s, as in DGX H100; the default), "hdr" (200 Gb/s, as in DGX A100),
    "roce-400" or "roce-200". ``inter_node_gbps`` overrides the NIC rate (Gbit/s per GPU) and
    ``inter_node_latency_us`` adds latency to each network hop. Each call sets the whole
    configuration. Returns a description of the cluster.
    """
    interconnect.set_cluster(interconnect.Cluster.make(
        gpus_per_node, nodes, inter_node, inter_node_gbps, inter_node_latency_us))
    return interconnect.cluster().describe()


def get_cluster():
    """The simulated cluster now configured: a named tuple (``gpus_per_node``, ``nodes``,
    ``inter_node``, ``nic_gbps``, ``nic_latency_us``)."""
    return interconnect.cluster()


def collective_time(op, nbytes, world_size, profile=None, algorithm=None, protocol=None):
    """The modeled time of one collective: ``(microseconds, algorithm, protocol)``.

    ``op``: "all_reduce", "broadcast", "all_gather", "reduce_scatter", "send", "recv" or
    "barrier"; ``nbytes``: each rank's input in bytes (a rank's own piece for all_gather, its
    whole input for reduce_scatter); ``world_size`` ranks on the configured cluster of
    ``profile`` GPUs (None: ``$GPUGRAD_SIM_PROFILE`` or h100). The algorithm ("ring", "tree",
    "nvls", "nvls_tree", "p2p") and protocol ("LL", "LL128", "Simple") are NCCL's fastest
    predicted pair, or the ones forced here (as ``NCCL_ALGO``/``NCCL_PROTO`` force them).
    """
    found = model.predict(op, nbytes, world_size, interconnect.cluster(), profile_name(profile),
                          algorithm, protocol)
    return found.us, found.algorithm, found.protocol


def bus_bandwidth(op, nbytes, world_size, profile=None, algorithm=None, protocol=None):
    """The modeled bus bandwidth of one collective in GB/s, as nccl-tests defines it: the size
    (an all-gather's whole output) over the time, times 2(n-1)/n for an all-reduce and (n-1)/n
    for an all-gather or reduce-scatter. Arguments as ``collective_time``."""
    us, _, _ = collective_time(op, nbytes, world_size, profile, algorithm, protocol)
    return model.bus_bandwidth(op, nbytes, world_size, us)
