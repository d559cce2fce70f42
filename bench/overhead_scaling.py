"""The scaling cases of bench/overhead.py: per-op cost as graphs grow, each library in its own
fresh process.

    python bench/overhead.py scaling          # both cases below
    python bench/overhead_scaling.py --rounds 3 --sizes 10 100 1000

- ``scaling_tensor_vs_torch``: chains (alternating ``y * w`` and ``y + x``) and balanced binary
  trees (levels alternating add and mul over ``n + 1`` leaves) of ``n`` ops on 4-element
  float32 tensors, ``n`` = 10 ... 100k, forward then backward, gpugrad cpu against PyTorch CPU
  (one thread). Printed: microseconds per op and the ratio **gpugrad / PyTorch** (below 1:
  gpugrad is faster; target <= 1.0x at every size).
- ``scaling_value_vs_micrograd``: a graph of exactly ``VALUE_NODES`` scalar nodes built the same
  way in both (Value-by-Value ``*``, ``+`` and ``relu`` only, so neither library adds constant
  nodes; both counts are printed), forward then backward, cyclic GC on. Printed: the ratio
  **micrograd / gpugrad** (above 1: gpugrad is faster; target >= 5x).

Each round starts one fresh process per library (alternating which goes first), so neither
inherits the other's heap: with PyTorch imported, every full collection of the cyclic GC walks
PyTorch's ~150k objects too, which would charge gpugrad's Python graph for PyTorch's import.
Figures are the median and the min-max over rounds; the ratio is taken per round. Each worker
also reports gradient checksums, and the runner checks both libraries agree.
"""
import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time

SIZES = (10, 100, 1_000, 10_000, 100_000)
SHAPES = ("chain", "tree")
OPS_PER_TIMING = 5_000  # small graphs are built and differentiated repeatedly up to this many ops
VALUE_NODES = 100_000
ROUNDS = 3  # the full run (bench/overhead.py) stays under two minutes; --rounds for more
WORKER_TIMEOUT_S = 300  # a stuck worker fails the run instead of hanging it


# ---- the graphs (shared by both libraries: only * + relu sum and backward are used) ---------
def chain(x, w, n_ops):
    """``n_ops`` ops alternating ``y * w`` and ``y + x`` (bounded: |w| < 1)."""
    y = x
    for i in range(n_ops):
        y = y * w if i % 2 == 0 else y + x
    return y


def tree(leaves):
    """A balanced binary tree over ``leaves`` (``len(leaves) - 1`` ops), levels alternating add
    and mul; leaves near 0.25 keep the values near 0.25-0.5 at any depth."""
    level, multiply = list(leaves), False
    while len(level) > 1:
        paired = [level[i] * level[i + 1] if multiply else level[i] + level[i + 1]
                  for i in range(0, len(level) - 1, 2)]
        level = paired + level[len(paired) * 2:]
        multiply = not multiply
    return level[0]


def _library(name):
    if name == "gpugrad":
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
        import gpugrad as lib
    else:
        import torch as lib

        lib.set_num_threads(1)
    return lib


def _leaf(lib, values):
    return lib.tensor(values, requires_grad=True)


def _grad_sum(lib, tensors):
    return float(lib.stack([t.grad for t in tensors]).sum().item())


def time_tensor_case(lib, shape, n_ops):
    """``(forward_us_per_op, backward_us_per_op, checksum)`` of one shape and size."""
    if shape == "chain":
        leaves = [_leaf(lib, [0.1, 0.2, 0.3, 0.4]), _leaf(lib, [0.5, 0.6, 0.7, 0.8])]

        def build():
            return chain(leaves[0], leaves[1], n_ops)
    else:
        leaves = [_leaf(lib, [0.25 + 1e-4 * (i % 7), 0.25, 0.25 - 1e-4 * (i % 5), 0.25])
                  for i in range(n_ops + 1)]

        def build():
            return tree(leaves)
    repeats = max(1, OPS_PER_TIMING // n_ops)
    forward = backward = 0.0
    checksum = None
    for _ in range(repeats):
        for t in leaves:
            t.grad = None
        start = time.perf_counter()
        root = build().sum()
        built = time.perf_counter()
        root.backward()
        done = time.perf_counter()
        forward += built - start
        backward += done - built
        del root
        if checksum is None:
            checksum = _grad_sum(lib, leaves)
    total_ops = repeats * n_ops
    return forward / total_ops * 1e6, backward / total_ops * 1e6, checksum


def tensor_worker(name, sizes):
    """Time every shape and size with library ``name``; a list of result dicts."""
    lib = _library(name)
    for shape in SHAPES:  # warm up: imports, caches, first calls
        time_tensor_case(lib, shape, 10)
    return [dict(zip(("shape", "size", "forward_us", "backward_us", "checksum"),
                     (shape, n) + time_tensor_case(lib, shape, n)))
            for shape in SHAPES for n in sizes]


# ---- Value against micrograd ----------------------------------------------------------------
def value_graph(V, n_nodes):
    """A graph of exactly ``n_nodes`` Values (a multiple of 10) in both libraries: per term
    ``relu((a*b + a) * c + b) + b*b`` (2 leaves, 7 ops) over leaves ``a, b`` and one shared
    ``c``, the terms summed as a balanced tree (depth ~log n, so micrograd's recursive
    topological sort copes): 10 nodes a term, with ``c`` standing in for the tree's missing
    last add. Returns ``(root, leaves)``."""
    c = V(0.75)
    leaves = [c]
    terms = []
    for i in range(n_nodes // 10):
        a, b = V(0.001 * (i % 97) - 0.05), V(0.002 * (i % 89) - 0.09)
        leaves += (a, b)
        terms.append(((a * b + a) * c + b).relu() + b * b)
    while len(terms) > 1:
        paired = [terms[i] + terms[i + 1] for i in range(0, len(terms) - 1, 2)]
        terms = paired + terms[len(paired) * 2:]
    return terms[0], leaves


def count_nodes(root):
    """Distinct nodes reachable from ``root`` through ``_prev`` (both libraries have it)."""
    seen, stack = {id(root)}, [root]
    while stack:
        for child in stack.pop()._prev:
            if id(child) not in seen:
                seen.add(id(child))
                stack.append(child)
    return len(seen)


def value_worker(name, n_nodes):
    """Build and differentiate one ``n_nodes`` graph in this (fresh) process, GC as Python
    runs it; a result dict."""
    if name == "gpugrad":
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
        from gpugrad.value import Value as V
    else:
        from micrograd.engine import Value as V
    start = time.perf_counter()
    root, leaves = value_graph(V, n_nodes)
    built = time.perf_counter()
    root.backward()
    done = time.perf_counter()
    return {"forward_ms": (built - start) * 1e3, "backward_ms": (done - built) * 1e3,
            "nodes": count_nodes(root), "gc_enabled": gc.isenabled(),
            "checksum": [root.data, leaves[0].grad, leaves[11].grad]}


# ---- the runner -----------------------------------------------------------------------------
def _run_worker(kind, name, sizes):
    command = [sys.executable, os.path.abspath(__file__), "--worker", kind, name,
               "--sizes", *map(str, sizes)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=WORKER_TIMEOUT_S,
                          env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
    if done.returncode:
        raise RuntimeError(f"{name} worker failed:\n{done.stderr}")
    return json.loads(done.stdout.splitlines()[-1])


def _interleaved(kind, names, sizes, rounds):
    """``{name: [result of each round]}``, fresh processes, alternating which runs first."""
    results = {name: [] for name in names}
    for r in range(rounds):
        for name in (names if r % 2 == 0 else names[::-1]):
            results[name].append(_run_worker(kind, name, sizes))
    return results


def _spread(values):
    return statistics.median(values), min(values), max(values)


def _agree(a, b, rel):
    return all(abs(x - y) <= rel * max(1.0, abs(x), abs(y)) for x, y in zip(a, b))


def tensor_report(results):
    """The table of per-op figures and gpugrad / PyTorch ratios, from ``_interleaved``'s
    results; returns its lines."""
    ours, theirs = results["gpugrad"], results["torch"]
    lines = ["scaling_tensor_vs_torch: forward+backward per op, 4-element float32, fresh "
             f"process per library and round ({len(ours)} rounds)",
             f"{'shape':<6} {'ops':>7} {'gpugrad us/op':>14} {'torch us/op':>12} "
             f"{'gpugrad/PyTorch':>16} {'[min-max]':>13}  target <= 1.0x"]
    for i, row in enumerate(ours[0]):
        per_round = [(o[i]["forward_us"] + o[i]["backward_us"],
                      t[i]["forward_us"] + t[i]["backward_us"]) for o, t in zip(ours, theirs)]
        ratio, low, high = _spread([o / t for o, t in per_round])
        agree = all(_agree([o[i]["checksum"]], [t[i]["checksum"]], 1e-3)
                    for o, t in zip(ours, theirs))
        verdict = ("ok" if ratio <= 1.0 else "MISS") + ("" if agree else "  GRADIENTS DIFFER")
        lines.append(f"{row['shape']:<6} {row['size']:>7,} "
                     f"{statistics.median(o for o, _ in per_round):>14.2f} "
                     f"{statistics.median(t for _, t in per_round):>12.2f} "
                     f"{ratio:>15.2f}x {f'[{low:.2f}-{high:.2f}]':>13}  {verdict}")
    return lines


def value_report(results):
    """The Value vs micrograd lines from ``_interleaved``'s results."""
    ours, theirs = results["gpugrad"], results["micrograd"]
    total = [o["forward_ms"] + o["backward_ms"] for o in ours]
    peer = [m["forward_ms"] + m["backward_ms"] for m in theirs]
    ratio, low, high = _spread([m / o for o, m in zip(total, peer)])
    agree = all(_agree(o["checksum"], m["checksum"], 1e-9) for o, m in zip(ours, theirs))
    return [f"scaling_value_vs_micrograd: forward+backward, fresh process per library and round "
            f"({len(ours)} rounds), GC on: {ours[0]['gc_enabled'] and theirs[0]['gc_enabled']}",
            f"  gpugrad Value {statistics.median(total):.0f} ms ({ours[0]['nodes']:,} nodes), "
            f"micrograd {statistics.median(peer):.0f} ms ({theirs[0]['nodes']:,} nodes)",
            f"  micrograd/gpugrad {ratio:.2f}x [{low:.2f}-{high:.2f}]  target >= 5x: "
            f"{'ok' if ratio >= 5 else 'MISS'}{'' if agree else '  RESULTS DIFFER'}"]


def run_tensor_case(sizes=SIZES, rounds=ROUNDS):
    """Print the tensor scaling table (PyTorch missing: a note)."""
    try:
        import torch  # noqa: F401
    except ImportError:
        print("scaling_tensor_vs_torch: skipped: PyTorch not installed: pip install torch")
        return
    print("\n".join(tensor_report(_interleaved("tensor", ["gpugrad", "torch"], sizes, rounds))))


def run_value_case(n_nodes=VALUE_NODES, rounds=ROUNDS):
    """Print the Value vs micrograd lines (micrograd missing: a note)."""
    try:
        import micrograd  # noqa: F401
    except ImportError:
        print("scaling_value_vs_micrograd: skipped: micrograd not installed: "
              "pip install micrograd==0.1.0")
        return
    print("\n".join(value_report(_interleaved("value", ["gpugrad", "micrograd"], [n_nodes],
                                              rounds))))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES),
                        help="graph sizes in ops (Value: the node count, a multiple of 10)")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="fresh processes per library")
    parser.add_argument("--worker", nargs=2, metavar=("KIND", "LIBRARY"),
                        help=argparse.SUPPRESS)  # one measurement in this process, as JSON
    args = parser.parse_args(argv)
    if args.worker:
        kind, name = args.worker
        result = (tensor_worker(name, args.sizes) if kind == "tensor"
                  else value_worker(name, args.sizes[0]))
        print(json.dumps(result))
        return
    run_tensor_case(args.sizes, args.rounds)
    run_value_case(VALUE_NODES, args.rounds)


if __name__ == "__main__":
    main()
