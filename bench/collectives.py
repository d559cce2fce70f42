"""The simulator's collective model against published nccl-tests results.

    python bench/collectives.py [--all-sizes]

For each figure in ``bench/results/nccl-tests/published.json`` (8-GPU NVSwitch nodes: Azure's
ND H100 v5, ND H200 v5 and ND A100 v4 all_reduce curves, and two figures from nccl-tests
issues), prints the published bus bandwidth beside the model's (NCCL's own choice of algorithm
and protocol, and, where the run forced one, the model with that algorithm), and the ratio
model / published. Sizes from ``large_from_bytes`` up are the ones the tests hold within
``tolerance_large``; ``--all-sizes`` shows the whole curves (the model is NCCL's tuning model,
optimistic in the middle, where pipelines fill). Last, the small-message regime: the modeled
time of an 8-GPU all_reduce from 8 B to 64 KiB, flat (latency-bound).
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import gpugrad as gg  # noqa: E402

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "nccl-tests",
                    "published.json")


def load():
    """The published figures file as a dict."""
    with open(DATA) as f:
        return json.load(f)


def model_row(figure, nbytes):
    """(bus GB/s with NCCL's choice, its algorithm/protocol, bus GB/s with the figure's
    algorithm or None) for nccl-tests size ``nbytes`` of ``figure``."""
    n = figure["world_size"]
    per_rank = nbytes // n if figure["op"] == "all_gather" else nbytes  # its size: the output
    args = (figure["op"], per_rank, n, figure["profile"])
    us, algorithm, protocol = gg.sim.collective_time(*args)
    forced = None
    if figure["algorithm"]:
        forced = gg.sim.bus_bandwidth(*args, algorithm=figure["algorithm"])
    return gg.sim.bus_bandwidth(*args), f"{algorithm}/{protocol}", forced


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--all-sizes", action="store_true", help="every size, not only large")
    opts = parser.parse_args()
    data = load()
    previous = gg.sim.get_cluster()
    for figure in data["figures"]:
        gg.sim.configure_cluster(gpus_per_node=figure["gpus_per_node"], nodes=figure["nodes"])
        print(f"\n{figure['id']}: {figure['op']}, {figure['world_size']} GPUs, profile "
              f"{figure['profile']}\n  {figure['system']}\n  {figure['source']}")
        forced = figure["algorithm"]
        print(f"  {'size':>6} {'published':>10} {'model':>8} {'algo/proto':>13} {'ratio':>6}"
              + (f" {'model ' + forced:>12} {'ratio':>6}" if forced else ""))
        for nbytes, label, published in figure["busbw_gbps"]:
            if nbytes < data["large_from_bytes"] and not opts.all_sizes:
                continue
            bus, choice, bus_forced = model_row(figure, nbytes)
            line = (f"  {label:>6} {published:>10.2f} {bus:>8.1f} {choice:>13} "
                    f"{bus / published:>6.2f}")
            if forced:
                line += f" {bus_forced:>12.1f} {bus_forced / published:>6.2f}"
            print(line)
    gg.sim.configure_cluster(previous.gpus_per_node, previous.nodes, previous.inter_node,
                             previous.nic_gbps, previous.nic_latency_us)
    print("\nsmall messages: modeled all_reduce time on 8 GPUs of one node (µs)")
    print(f"  {'bytes':>7} " + " ".join(f"{p:>18}" for p in ("h100", "a100", "l4")))
    for nbytes in (8, 64, 512, 4096, 32768, 65536):
        cells = []
        for profile in ("h100", "a100", "l4"):
            us, algorithm, protocol = gg.sim.collective_time("all_reduce", nbytes, 8, profile)
            cells.append(f"{us:7.1f} {algorithm + '/' + protocol:>10}")
        print(f"  {nbytes:>7} " + " ".join(cells))


if __name__ == "__main__":
    main()
