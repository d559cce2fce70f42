"""Per-op overhead: gpugrad against its peers, measured in the same run.

    python bench/overhead.py            # all cases
    python bench/overhead.py value      # cases whose name contains "value"
    python bench/overhead.py scaling    # only the scaling cases (bench/overhead_scaling.py)
    python bench/overhead.py --steps N  # N untimed steps of gpugrad's side, for an instruction
                                        # counter (see count_steps)

Each case is a named entry in CASES: a function returning ``(ours_seconds, peer_seconds,
note)``, each the best of several runs alternated with the peer's; the runner prints
``peer/ours`` (above 1: gpugrad is faster). Goals (issue 2): tensor overhead at most PyTorch's
(ratio >= 1); ``Value`` at least 3x faster than micrograd (ratio >= 3), as Python normally runs
(cyclic GC on). ``value_vs_micrograd_gc_off`` shows the same race with the cyclic GC off, which
isolates the interpreter work: much of micrograd's time is the GC walking its closures.

The scaling cases (issue 14, in ``overhead_scaling``) print their own tables, each library in
fresh processes: ``scaling_tensor_vs_torch`` prints **gpugrad / PyTorch** per op for chains and
trees of 10 to 100k ops (target <= 1.0x), ``scaling_value_vs_micrograd`` prints
**micrograd / gpugrad** at equal node counts (target >= 5x). ``gc_in_graph_build``
(``overhead_gc``) prints what the cyclic GC adds to recording a 100k-op graph, with gpugrad's
deferral of full collections and without (target: a few percent).
"""
import argparse
import gc
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import gpugrad as gg  # noqa: E402
from gpugrad.autograd import topological_order  # noqa: E402
from gpugrad.value import Value  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import overhead_gc  # noqa: E402
import overhead_scaling  # noqa: E402

TINY_REPEATS = 2000   # forward+backward passes of the tiny expression per timing
VALUE_NODES = 100_000  # size of the scalar graph


def _best(fn, repeats=5):
    """Best wall time of ``repeats`` runs of ``fn()`` (garbage collected first)."""
    return min(_timed(fn) for _ in range(repeats))


def _timed(fn):
    gc.collect()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _best_pair(ours, peer, repeats=5):
    """Best wall times of ``ours()`` and ``peer()`` over ``repeats`` alternating runs (garbage
    collected first), so both see the same machine load."""
    best = [float("inf"), float("inf")]
    for _ in range(repeats):
        for k, fn in enumerate((ours, peer)):
            best[k] = min(best[k], _timed(fn))
    return best


# ---- case: 4-op expression on tiny tensors, gpugrad cpu vs PyTorch CPU ------------------------
def tiny_expression(lib, a, b, c):
    """mul, add, tanh, sum; then backward."""
    y = (a * b + c).tanh().sum()
    y.backward()
    return y


def case_tiny_tensor_vs_torch():
    try:
        import torch
    except ImportError:
        return None, None, "PyTorch not installed: pip install torch"
    torch.set_num_threads(1)
    ours = [gg.tensor([0.1, 0.2, 0.3, 0.4], requires_grad=True) for _ in range(3)]
    theirs = [torch.tensor([0.1, 0.2, 0.3, 0.4], requires_grad=True) for _ in range(3)]

    def run(tensors):
        def loop():
            for _ in range(TINY_REPEATS):
                for t in tensors:
                    t.grad = None
                tiny_expression(None, *tensors)
        return loop

    t_ours, t_torch = _best_pair(run(ours), run(theirs), 7)
    note = (f"per forward+backward: gpugrad {t_ours / TINY_REPEATS * 1e6:.1f} us, "
            f"torch {t_torch / TINY_REPEATS * 1e6:.1f} us (goal: ratio >= 1)")
    return t_ours, t_torch, note


# ---- case: a small MLP's training step on cpu, gpugrad vs PyTorch -----------------------------
MLP_STEPS = 200  # training steps per timing


def case_mlp_step_vs_torch():
    """bench/mlp.py's small MLP (64-128-128-10) at batch 8 on the CPU, where the step is mostly
    each library's own host work per op: the part that bounds small models on a GPU."""
    try:
        import torch
    except ImportError:
        return None, None, "PyTorch not installed: pip install torch"
    import mlp

    torch.set_num_threads(1)
    problem = mlp.make_problem([64, 128, 128, 10], 8)
    ours, _ = mlp.gpugrad_step(problem, "cpu")
    theirs, _ = mlp.torch_step(problem, torch, device="cpu")

    def run(step):
        def loop():
            for _ in range(MLP_STEPS):
                step()
        return loop

    t_ours, t_torch = _best_pair(run(ours), run(theirs), 7)
    note = (f"per training step: gpugrad {t_ours / MLP_STEPS * 1e6:.0f} us, "
            f"torch {t_torch / MLP_STEPS * 1e6:.0f} us")
    return t_ours, t_torch, note


# ---- case: Value graph of ~100,000 nodes, gpugrad vs micrograd -------------------------------
def value_graph(V, n_nodes):
    """A graph of about ``n_nodes`` gpugrad Values: each term is relu((a*b + a)*0.5 - b) + b*b,
    summed as a balanced tree (depth ~log n, so micrograd's recursive sort copes). The same
    expression makes more micrograd nodes: it wraps constants and builds ``-b`` as ``b * -1``."""
    per_term = 10  # nodes a term adds in gpugrad: 2 leaves, 7 ops, 1 add of the tree
    xs = [V(0.001 * (i % 97) - 0.05) for i in range(2 * (n_nodes // per_term))]
    terms = []
    for i in range(0, len(xs), 2):
        a, b = xs[i], xs[i + 1]
        terms.append(((a * b + a) * 0.5 - b).relu() + b * b)
    while len(terms) > 1:
        paired = [terms[i] + terms[i + 1] for i in range(0, len(terms) - 1, 2)]
        terms = paired + terms[len(paired) * 2:]
    return terms[0], xs


def case_value_vs_micrograd_gc_off():
    was_enabled = gc.isenabled()
    gc.disable()
    try:  # (no goal here: the goal is for Python as it normally runs, GC on)
        return case_value_vs_micrograd(goal="GC off: the interpreter's work alone, no goal")
    finally:
        if was_enabled:
            gc.enable()


def case_value_vs_micrograd(goal="goal: ratio >= 3"):
    try:
        from micrograd.engine import Value as MicroValue
    except ImportError:
        return None, None, "micrograd not installed: pip install micrograd==0.1.0"

    def run(V):
        def once():
            out, _ = value_graph(V, VALUE_NODES)
            out.backward()
        return once

    out, xs = value_graph(Value, VALUE_NODES)
    out.backward()
    ref_out, ref_xs = value_graph(MicroValue, VALUE_NODES)
    ref_out.backward()
    assert abs(out.data - ref_out.data) < 1e-9 and abs(xs[5].grad - ref_xs[5].grad) < 1e-9
    t_ours, t_micro = _best_pair(run(Value), run(MicroValue), 3)
    ours_nodes = len(topological_order([out], lambda v: v._children))
    micro_nodes = len(topological_order([ref_out], lambda v: v._prev))
    note = (f"forward+backward of one expression: gpugrad {t_ours * 1e3:.0f} ms "
            f"({ours_nodes:,} nodes), micrograd {t_micro * 1e3:.0f} ms ({micro_nodes:,} nodes) "
            f"({goal})")
    return t_ours, t_micro, note


# ---- case (issue 6): anomaly detection off (the normal path) vs on ---------------------------
def _flag_check_seconds(n=1_000_000):
    """Seconds one ``if hooks.forward_hooks:`` costs (a loop of them minus an empty loop): the
    check ``Function.apply`` makes for tools watching ops (the list is empty unless some
    thread has anomaly detection on)."""
    from gpugrad.engine import hooks

    def checks():
        for _ in range(n):
            if hooks.forward_hooks:
                pass

    def empty():
        for _ in range(n):
            pass

    return max(_best(checks) - _best(empty), 0.0) / n


def case_anomaly_off_vs_on():
    import gpugrad.anomaly as anomaly

    tensors = [gg.tensor([0.1, 0.2, 0.3, 0.4], requires_grad=True) for _ in range(3)]

    def loop(n):
        def run():
            for _ in range(n):
                for t in tensors:
                    t.grad = None
                tiny_expression(None, *tensors)
        return run

    # how many flag checks one pass makes: one per op dispatched, one per node backward visits
    calls = []
    real = anomaly.check_forward, anomaly.check_backward
    anomaly.check_forward = lambda *a: (calls.append(1), real[0](*a))
    anomaly.check_backward = lambda *a: (calls.append(1), real[1](*a))
    try:
        with gg.autograd.detect_anomaly():
            loop(1)()
    finally:
        anomaly.check_forward, anomaly.check_backward = real
    t_off = _best(loop(TINY_REPEATS))
    with gg.autograd.detect_anomaly():
        t_on = _best(loop(TINY_REPEATS), 3)
    share = len(calls) * _flag_check_seconds() / (t_off / TINY_REPEATS)
    note = (f"per forward+backward: off {t_off / TINY_REPEATS * 1e6:.1f} us, on "
            f"{t_on / TINY_REPEATS * 1e6:.1f} us; off pays {len(calls)} flag checks per pass, "
            f"{share:.2%} of its time")
    return t_off, t_on, note


# ---- the list of named cases ----------------------------------------------------------------
# anomaly_off_vs_on (issue 6): ours = detection off, peer = on, on the tiny expression.
CASES = [
    ("tiny_tensor_vs_torch", case_tiny_tensor_vs_torch),
    ("mlp_step_vs_torch", case_mlp_step_vs_torch),
    ("value_vs_micrograd", case_value_vs_micrograd),
    ("value_vs_micrograd_gc_off", case_value_vs_micrograd_gc_off),
    ("anomaly_off_vs_on", case_anomaly_off_vs_on),
]
# cases that print their own table (their ratios are not peer/ours: see the module docstring)
TABLE_CASES = [
    ("scaling_tensor_vs_torch", overhead_scaling.run_tensor_case),
    ("scaling_value_vs_micrograd", overhead_scaling.run_value_case),
    ("gc_in_graph_build", overhead_gc.run_case),
]


def count_steps(steps):
    """Run ``steps`` untimed steps of gpugrad's side of tiny_tensor_vs_torch and of
    mlp_step_vs_torch (after a warm-up), with the cyclic GC off and one thread: for an
    instruction counter, whose figures do not depend on the machine's load, e.g.

        OPENBLAS_NUM_THREADS=1 PYTHONHASHSEED=0 valgrind --tool=callgrind \\
            python bench/overhead.py --steps 1000

    minus the same with ``--steps 0``, divided by 1000: instructions per (tiny + MLP) step."""
    import mlp

    gc.disable()
    tensors = [gg.tensor([0.1, 0.2, 0.3, 0.4], requires_grad=True) for _ in range(3)]
    mlp_step, _ = mlp.gpugrad_step(mlp.make_problem([64, 128, 128, 10], 8), "cpu")
    for n in (20, steps):
        for _ in range(n):
            for t in tensors:
                t.grad = None
            tiny_expression(None, *tensors)
            mlp_step()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    names = ", ".join(name for name, _ in CASES + TABLE_CASES)
    parser.add_argument("case", nargs="?", default="",
                        help=f"run only the cases whose name contains this ({names})")
    parser.add_argument("--steps", type=int, default=None,
                        help="run this many untimed steps for an instruction counter and exit")
    args = parser.parse_args(argv)
    if args.steps is not None:
        count_steps(args.steps)
        return
    wanted = args.case
    if not any(wanted in name for name, _ in CASES + TABLE_CASES):
        parser.error(f"no case name contains {wanted!r}")
    if any(wanted in name for name, _ in CASES):
        print(f"{'case':<24} {'ours (s)':>10} {'peer (s)':>10} {'peer/ours':>10}  note")
    for name, case in CASES:
        if wanted not in name:
            continue
        ours, peer, note = case()
        if ours is None:
            print(f"{name:<24} {'-':>10} {'-':>10} {'-':>10}  skipped: {note}")
            continue
        print(f"{name:<24} {ours:>10.4f} {peer:>10.4f} {peer / ours:>9.2f}x  {note}")
    for name, case in TABLE_CASES:
        if wanted in name:
            print()
            case()


if __name__ == "__main__":
    main()
