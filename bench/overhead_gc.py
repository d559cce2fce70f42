"""What Python's cyclic garbage collector costs while gpugrad records a large graph.

    python bench/overhead.py gc               # this case, from the overhead runner
    python bench/overhead_gc.py --rounds 5 --ops 100000

A chain of ``--ops`` tensor ops (alternating ``y * w`` and ``y + x`` on 4-element float32
tensors) is recorded, then differentiated, in a fresh process per run (so the heap is gpugrad's
alone), three ways, interleaved over rounds:

- ``deferred``: the collector on, with gpugrad's deferral of full collections (the default);
- ``python``: the collector on, deferral off (``gg.autograd.set_full_collection_deferral(False)``),
  as Python's default thresholds run it;
- ``off``: the collector off (``gc.disable()``): the floor.

Printed: the median build and backward times, and each collector-on mode's cost over ``off``
(target for ``deferred``: a few percent of the build). Backward pauses the collector itself in
every mode.
"""
import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time

MODES = ("deferred", "python", "off")
OPS = 100_000
ROUNDS = 3
WORKER_TIMEOUT_S = 300


def worker(mode, n_ops):
    """Build and differentiate one chain in this process; ``{build_ms, backward_ms, full}``
    (``full``: full collections during the build)."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    import gpugrad as gg

    if mode == "off":
        gc.disable()
    elif mode == "python":
        gg.autograd.set_full_collection_deferral(False)
    x = gg.tensor([0.1, 0.2, 0.3, 0.4], requires_grad=True)
    w = gg.tensor([0.5, 0.6, 0.7, 0.8], requires_grad=True)
    gc.collect()
    full = [0]
    gc.callbacks.append(lambda phase, info: full.__setitem__(
        0, full[0] + (phase == "stop" and info["generation"] == 2)))
    start = time.perf_counter()
    y = x
    for i in range(n_ops):
        y = y * w if i % 2 == 0 else y + x
    built = time.perf_counter()
    builds_full = full[0]
    y.sum().backward()
    done = time.perf_counter()
    return {"build_ms": (built - start) * 1e3, "backward_ms": (done - built) * 1e3,
            "full": builds_full}


def _run(mode, n_ops):
    command = [sys.executable, os.path.abspath(__file__), "--worker", mode, "--ops", str(n_ops)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=WORKER_TIMEOUT_S,
                          env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
    if done.returncode:
        raise RuntimeError(f"{mode} worker failed:\n{done.stderr}")
    return json.loads(done.stdout.splitlines()[-1])


def report(results, n_ops):
    """The table's lines from ``{mode: [worker result per round]}``."""
    floor = statistics.median(r["build_ms"] for r in results["off"])
    lines = [f"gc_in_graph_build: a {n_ops:,}-op chain recorded then differentiated, fresh "
             f"process per mode and round ({len(results['off'])} rounds), medians",
             f"{'mode':<9} {'build ms':>9} {'backward ms':>12} {'full GCs':>9} "
             f"{'build over off':>15}"]
    for mode in MODES:
        build = statistics.median(r["build_ms"] for r in results[mode])
        backward = statistics.median(r["backward_ms"] for r in results[mode])
        fulls = statistics.median(r["full"] for r in results[mode])
        extra = "" if mode == "off" else f"{(build / floor - 1) * 100:+14.1f}%"
        goal = "   target: a few percent" if mode == "deferred" else ""
        lines.append(f"{mode:<9} {build:>9.1f} {backward:>12.1f} {fulls:>9.0f} {extra:>15}{goal}")
    return lines


def run_case(n_ops=OPS, rounds=ROUNDS):
    """Print the table (the runs interleaved: each round runs every mode, in turn)."""
    results = {mode: [] for mode in MODES}
    for r in range(rounds):
        for mode in (MODES if r % 2 == 0 else MODES[::-1]):
            results[mode].append(_run(mode, n_ops))
    print("\n".join(report(results, n_ops)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ops", type=int, default=OPS, help=f"ops in the chain ({OPS:,})")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help=f"rounds ({ROUNDS})")
    parser.add_argument("--worker", choices=MODES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.ops < 1 or args.rounds < 1:
        parser.error(f"--ops and --rounds must be at least 1, got {args.ops} and {args.rounds}")
    if args.worker:
        print(json.dumps(worker(args.worker, args.ops)))
    else:
        run_case(args.ops, args.rounds)


if __name__ == "__main__":
    main()
