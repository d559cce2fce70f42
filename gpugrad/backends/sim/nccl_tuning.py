"""NCCL's published tuning constants (``src/graph/tuning.cc`` and ``src/graph/search.cc`` in
NVIDIA/nccl, the 2.19/2.20 releases), as plain tables for ``collectives.py``.

Latencies are microseconds, bandwidths GB/s. Rows are indexed by protocol in NCCL's order
(LL, LL128, Simple); ``GENERATION`` rows by GPU generation (Volta, Ampere, Hopper) and columns by
node count (1, 2, more).
"""

ALGORITHMS = ("tree", "ring", "nvls", "nvls_tree")  # NCCL's order: on a tie the first wins
PROTOCOLS = ("LL", "LL128", "Simple")

#: the fixed latency of one collective, per algorithm and protocol (``baseLat``)
BASE_LAT = {
    "tree": (6.8, 14.0, 0.0),
    "ring": (6.6, 14.0, 8.4),
    "nvls": (0.0, 0.0, 0.0),
    "nvls_tree": (0.0, 0.0, 0.0),
}

#: the latency of one hop, per link kind, algorithm and protocol (``hwLat``)
HW_LAT = {
    "nvlink": {"tree": (0.6, 1.25, 28.0), "ring": (0.6, 1.9, 3.4),
               "nvls": (0.0, 0.0, 23.0), "nvls_tree": (0.0, 0.0, 23.0)},
    "pci": {"tree": (1.0, 1.9, 28.0), "ring": (1.0, 2.5, 5.7),
            "nvls": (0.0, 0.0, 0.0), "nvls_tree": (0.0, 0.0, 0.0)},
    "net": {"tree": (5.0, 8.5, 28.0), "ring": (2.7, 4.0, 14.0),
            "nvls": (0.0, 0.0, 18.0), "nvls_tree": (0.0, 0.0, 14.0)},
}

#: LL's bandwidth ceiling (``llMaxBws``): one node by GPU generation; several by host CPU
#: (Intel row, as in DGX systems)
LL_MAX_BW = ((39.0, 39.0, 20.4), (87.7, 22.5, 19.0), (87.7, 22.5, 19.0))
#: per-channel ceilings (``perChMaxRingLL128Bws``, ``perChMaxTreeLL128Bws``, ``perChMaxTreeBws``)
RING_LL128_MAX_BW = ((20.0, 20.0, 20.0), (20.0, 20.0, 20.0), (36.7, 36.7, 36.7))
TREE_LL128_MAX_BW = ((20.0, 20.0, 20.0), (20.0, 20.0, 20.0), (36.7, 36.7, 29.0))
TREE_MAX_BW = ((26.5, 18.5, 10.0), (24.0, 23.6, 17.8), (38.7, 41.4, 36.0))

#: trees fall short of the model at medium sizes (``treeCorrectionFactor``): a factor on the
#: bandwidth per protocol, by log2(bytes / 64) from 0 (64 B) to 22 (256 MiB)
TREE_CORRECTION = (
    (1.0, 1.0, 1.0, 1.0, .9, .8, .7, .7, .7, .7, .6, .5, .4, .4, .5, .6, .7, .8, .9, 1.0, 1.0,
     1.0, 1.0),
    (1.0, 1.0, 1.0, 1.0, 1.0, .9, .8, .8, .8, .7, .6, .6, .6, .6, .6, .6, .8, .9, .9, .9, .9,
     1.0, 1.0),
    (.9, .9, .9, .9, .9, .9, .9, .8, .7, .6, .6, .5, .5, .5, .5, .6, .7, .8, .7, .7, .8, .9, .9),
)

#: the per-channel bandwidths NCCL's topology search tries, highest first (``speedArray*``):
#: inside one node, and with a network, before Hopper and from Hopper on
SPEEDS = {
    ("intra", False): (40.0, 30.0, 20.0, 18.0, 15.0, 12.0, 10.0, 9.0, 7.0, 6.0, 5.0, 4.0, 3.0),
    ("inter", False): (48.0, 30.0, 28.0, 24.0, 20.0, 18.0, 15.0, 12.0, 10.0, 9.0, 7.0, 6.0,
                       5.0, 4.0, 3.0, 2.4, 1.2, 0.24, 0.12),
    ("intra", True): (60.0, 50.0, 40.0, 30.0, 24.0, 20.0, 15.0, 12.0, 11.0, 6.0, 3.0),
    ("inter", True): (48.0, 45.0, 42.0, 40.0, 30.0, 24.0, 22.0, 20.0, 17.5, 15.0, 12.0, 6.0,
                      3.0, 2.4, 1.2, 0.24, 0.12),
}
#: the most channels one search keeps (``MAXCHANNELS / 2``)
SEARCH_MAX_CHANNELS = 16
#: a network send's CPU cost on an Intel host (``getNetOverhead``); Simple pays it three times
NET_OVERHEAD_US = 1.0


def generation(compute_capability):
    """NCCL's generation index: 0 Volta, 1 Ampere (and Ada), 2 Hopper."""
    return 2 if compute_capability >= 90 else 1 if compute_capability >= 80 else 0


def node_column(nodes):
    """The column of the per-generation tables: 0 one node, 1 two, 2 more."""
    return nodes - 1 if nodes <= 2 else 2


def tree_correction(protocol_index, nbytes):
    """The tree bandwidth factor for a message of ``nbytes``."""
    log_size = max(int(nbytes) >> 6, 1).bit_length() - 1
    row = TREE_CORRECTION[protocol_index]
    return row[log_size] if log_size < len(row) else 1.0
