"""Data-parallel training: DDP's measured overhead on the CPU, and the simulator's predicted
scaling on H100s.

    python bench/ddp.py                  # both parts (well under a minute on two cores)
    python bench/ddp.py --steps 50       # more timed steps in part (a)
    python bench/ddp.py --skip-measure   # only part (b)

(a) Measured: the same small MLP training step, timed in one process without DDP, in each of 2
    processes training apart (what sharing the CPU costs), then in each of 2 processes (``gpugrad run -n 2``, MPI on the CPU) wrapped in
    ``gg.nn.parallel.DistributedDataParallel``, each process with its own batch of the same size
    (weak scaling). Printed: the median step of each and their ratio, DDP's per-step overhead
    (the gradient all-reduce and the reducer's work). Both processes share this machine's cores,
    so on a small machine the ratio also holds their competition for the CPU. Skipped, with the
    reason, when DDP or the launcher (mpi4py and mpiexec: ``pip install 'gpugrad[mpi]'``) are
    not available.
(b) Predicted: ``gg.sim.plan`` of bench/mlp.py's large MLP (1024-4096-4096-4096-10, batch 512
    per GPU, float32, Adam) on 1 to 8 H100s of one node, shape-only (nothing is computed).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import gpugrad as gg  # noqa: E402

SIZES = [256, 512, 512, 10]   # part (a): small enough to train fast on the CPU
BATCH = 64
WARMUP = 5
LARGE = {"input": 1024, "hidden": 4096, "layers": 4, "classes": 10}  # bench/mlp.py's "large"
LARGE_BATCH = 512
TIMEOUT_S = 120  # a rank that hangs ends the job, not the benchmark


def worker(steps, distributed):
    """Train SIZES on the CPU for WARMUP + ``steps`` steps; rank 0 (the only process, or
    ``RANK`` 0 of ``gpugrad run``) prints the step times (ms) as JSON on the last line."""
    if distributed:
        gg.distributed.init_process_group("mpi")
    gg.manual_seed(0)
    model = gg.nn.MLP(SIZES)
    if distributed:
        model = gg.nn.parallel.DistributedDataParallel(model)
    optimizer = gg.optim.Adam(model.parameters(), lr=1e-3)
    x = gg.randn(BATCH, SIZES[0])
    y = gg.randint(0, SIZES[-1], (BATCH,))
    times = []
    for step in range(WARMUP + steps):
        start = time.perf_counter()
        optimizer.zero_grad()
        gg.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
        if step >= WARMUP:
            times.append((time.perf_counter() - start) * 1e3)
    if distributed:
        gg.distributed.barrier()
        rank = gg.distributed.get_rank()
        gg.distributed.destroy_process_group()
        if rank:
            return
    if os.environ.get("RANK", "0") == "0":
        print(json.dumps(times))


def _run_worker(command):
    """The step times a worker ``command`` printed, or the reason it gave none."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S,
                              env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    except subprocess.TimeoutExpired:
        return None, f"timed out after {TIMEOUT_S} s"
    lines = done.stdout.strip().splitlines()
    if done.returncode or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return None, f"exit status {done.returncode}: {tail}"
    return json.loads(lines[-1]), None


def _unavailable():
    """Why DDP on 2 MPI processes cannot run here, or None."""
    try:
        from gpugrad.distributed.launch import find_mpiexec
        find_mpiexec()
        import mpi4py  # noqa: F401
    except (ImportError, FileNotFoundError) as exc:
        return f"{exc} (pip install 'gpugrad[mpi]')"
    if not hasattr(gg.nn, "parallel") or not hasattr(gg.nn.parallel, "DistributedDataParallel"):
        return "gg.nn.parallel.DistributedDataParallel is not available"
    return None


def measure_overhead(steps):
    """Part (a): print the median step of one process and of 2 DDP processes, and the ratio."""
    print(f"(a) measured on the CPU: MLP {'-'.join(map(str, SIZES))}, batch {BATCH} per "
          f"process, Adam, median of {steps} steps after {WARMUP} warm-up")
    reason = _unavailable()
    if reason:
        print(f"    skipped: {reason}")
        return
    me = os.path.abspath(__file__)
    single, error = _run_worker([sys.executable, me, "--worker", "single", "--steps",
                                 str(steps)])
    launch = [sys.executable, "-m", "gpugrad", "run", "-n", "2", "--timeout", str(TIMEOUT_S), me,
              "--steps", str(steps), "--worker"]
    if error is None:  # two processes training apart: what sharing the CPU alone costs
        apart, error = _run_worker(launch + ["single"])
    if error is None:
        ddp, error = _run_worker(launch + ["ddp"])
    if error is not None:
        print(f"    skipped: a worker failed ({error})")
        return
    one, two = statistics.median(single), statistics.median(ddp)
    shared = statistics.median(apart)
    print(f"    1 process, no DDP          {one:8.3f} ms/step")
    print(f"    2 processes, no DDP        {shared:8.3f} ms/step (rank 0; sharing "
          f"{os.cpu_count()} CPU cores)")
    print(f"    2 processes with DDP       {two:8.3f} ms/step (rank 0)")
    print(f"    ratio DDP / 1 process      {two / one:8.2f}x")
    print(f"    ratio DDP / 2 apart        {two / shared:8.2f}x  (DDP's own overhead: "
          f"{two - shared:+.3f} ms per step)")


def predict_scaling():
    """Part (b): the simulator's plan of the large MLP on 1 to 8 H100s."""
    print(f"\n(b) predicted by gg.sim.plan (shape-only, nothing computed): bench/mlp.py's large "
          f"MLP, batch {LARGE_BATCH} per GPU, float32")
    start = time.perf_counter()
    result = gg.sim.plan(LARGE, batch=LARGE_BATCH, dtype="float32", profile="h100",
                         gpus_per_node=8, nodes=1)
    print(result.table())
    print(f"    (planned in {time.perf_counter() - start:.1f} s of wall time)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20, help="timed steps in part (a) (20)")
    parser.add_argument("--skip-measure", action="store_true", help="only part (b)")
    parser.add_argument("--worker", choices=["single", "ddp"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.steps, args.worker == "ddp")
        return
    if not args.skip_measure:
        measure_overhead(args.steps)
    predict_scaling()


if __name__ == "__main__":
    main()
