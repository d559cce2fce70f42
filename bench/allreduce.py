"""All-reduce bandwidth of gg.distributed, as nccl-tests reports it, over message sizes.

    gpugrad run -n 2 bench/allreduce.py --device cpu          # mpi backend, host memory
    python bench/allreduce.py --backend nccl --device cuda    # one GPU: NCCL's own overhead

For each size (bytes per rank, float32): the time of one ``all_reduce`` (median of the
iterations, after warm-up, every rank waiting for the others first), the algorithm bandwidth
(size / time) and the bus bandwidth (algbw * 2(n-1)/n, nccl-tests' definition, 0 for one rank).
Where the simulator models collectives (``gg.sim.bus_bandwidth``), the last column is its
predicted bus bandwidth for the same size on ``--sim-ranks`` GPUs of ``--sim-profile``.
``--json FILE`` also writes the rows.
"""
import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import gpugrad as gg  # noqa: E402
import gpugrad.distributed as dist  # noqa: E402


def _arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", default="auto", help="mpi, nccl or auto (default)")
    parser.add_argument("--device", default="cpu", help="cpu (default), sim or cuda")
    parser.add_argument("--min-bytes", type=int, default=8, help="smallest size (8 B)")
    parser.add_argument("--max-bytes", type=int, default=64 << 20, help="largest size (64 MiB)")
    parser.add_argument("--iters", type=int, default=20, help="timed all-reduces per size (20)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed all-reduces first (5)")
    parser.add_argument("--sim-ranks", type=int, default=8,
                        help="GPUs of the simulator's prediction (8)")
    parser.add_argument("--sim-profile", default="h100", help="its GPU profile (h100)")
    parser.add_argument("--json", default=None, help="also write the rows to this file")
    return parser.parse_args()


def _time_one(tensor, device):
    dist.barrier()
    start = time.perf_counter()
    dist.all_reduce(tensor)
    if device.type == "cuda":
        gg.cuda.synchronize(device)
    return time.perf_counter() - start


def _sim_busbw(nbytes, args):
    predict = getattr(gg.sim, "bus_bandwidth", None)  # present where the sim models clusters
    return None if predict is None else predict("all_reduce", nbytes, args.sim_ranks,
                                                profile=args.sim_profile)


def main():
    args = _arguments()
    launched = any(name in os.environ for name in ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "RANK"))
    dist.init_process_group(args.backend, **({} if launched else {"rank": 0, "world_size": 1}))
    rank, size = dist.get_rank(), dist.get_world_size()
    device = gg.Device(f"cuda:{os.environ.get('LOCAL_RANK', '0')}"
                       if args.device == "cuda" else args.device)
    rows, nbytes = [], args.min_bytes
    while nbytes <= args.max_bytes:
        tensor = gg.ones(max(nbytes // 4, 1), dtype=gg.float32, device=device)
        for _ in range(args.warmup):
            _time_one(tensor, device)
        seconds = statistics.median(_time_one(tensor, device) for _ in range(args.iters))
        algbw = nbytes / seconds / 1e9
        rows.append({"bytes": nbytes, "us": seconds * 1e6, "algbw_GBps": algbw,
                     "busbw_GBps": algbw * 2 * (size - 1) / size,
                     "sim_busbw_GBps": _sim_busbw(nbytes, args)})
        nbytes *= 4
    if rank == 0:
        sim = rows[0]["sim_busbw_GBps"] is not None
        print(f"all_reduce float32, {size} rank(s), backend {dist.get_backend()}, device "
              f"{device}" + (f"; sim: {args.sim_ranks} x {args.sim_profile}" if sim else ""))
        print(f"{'bytes':>12} {'time (us)':>11} {'algbw GB/s':>11} {'busbw GB/s':>11}" +
              (f" {'sim busbw':>10}" if sim else ""))
        for row in rows:
            print(f"{row['bytes']:>12} {row['us']:>11.1f} {row['algbw_GBps']:>11.3f} "
                  f"{row['busbw_GBps']:>11.3f}" +
                  (f" {row['sim_busbw_GBps']:>10.2f}" if sim else ""))
        if args.json:
            with open(args.json, "w") as out:
                json.dump({"world_size": size, "backend": dist.get_backend(),
                           "device": str(device), "rows": rows}, out, indent=1)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
