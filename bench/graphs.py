"""Time the small MLP training step (64-128-128-10, batch 64) replayed as one CUDA graph.

On ``--device cuda`` (the default) four steps run from the same initial weights, in the same
process, on the same GPU, in float32 (bench/mlp.py builds them):

- gpugrad eager and gpugrad graphed (``gg.cuda.CUDAGraph`` + ``gg.cuda.graph``: forward,
  cross-entropy, backward and the one-launch SGD update captured once, replayed per step);
- PyTorch eager and PyTorch graphed (``torch.cuda.graphs``: the same recipe, warm-up on a side
  stream, then capture).

Step time as in bench/mlp.py (median over repetitions of back-to-back steps between two
synchronizations). Ratios are vs PyTorch eager (lower is better); the target: gpugrad graphed
<= 0.3x PyTorch eager.

``--device sim --profile h200`` prints the modeled step of gpugrad eager and graphed instead
(back-to-back steps between two synchronizations: host-bound or device-bound), with the ratio of the graphed step to the
PyTorch eager step last measured on an H200 (``PYTORCH_EAGER_H200_MS``) for scale. Results go to
``$OUT/graphs_<device>.json`` when ``$OUT`` is set.

    python bench/graphs.py                           # cuda: the four steps
    python bench/graphs.py --device sim --profile h200
"""
import argparse
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpugrad as gg  # noqa: E402
from mlp import (CONFIGS, first_losses, gpugrad_step, make_problem, time_step,  # noqa: E402
                 torch_step, version_fields)

CONFIG = CONFIGS["small"]
TARGET = 0.3  # gpugrad graphed / PyTorch eager
WARMUP_STEPS = 3  # eager steps before capture (PyTorch's recipe), so .grad and state exist
#: the small step of PyTorch eager on the H200, as bench/mlp.py measured it (ms)
PYTORCH_EAGER_H200_MS = 1.22


def gpugrad_graphed(problem, device):
    """gpugrad's step captured into one graph on ``device``: (replay, loss of the last)."""
    step, loss = gpugrad_step(problem, device)
    backend = gg.device_registry.get_backend(device)
    with backend.graph_side_stream():
        for _ in range(WARMUP_STEPS):
            step()
    graph = gg.cuda.CUDAGraph(device)
    with gg.cuda.graph(graph):
        step()
    return graph.replay, loss


def torch_graphed(problem, torch):
    """PyTorch's step captured with ``torch.cuda.graphs``: (replay, loss of the last)."""
    step, loss = torch_step(problem, torch)
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(WARMUP_STEPS):
            step()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        step()
    return graph.replay, loss


def run_cuda():
    if not gg.cuda.is_available():
        raise SystemExit(f"bench/graphs.py: cuda is not usable here: "
                         f"{gg.cuda.unavailable_reason()}")
    import cupy as cp

    try:
        import torch

        torch.backends.cuda.matmul.allow_tf32 = False
        if not torch.cuda.is_available():
            torch = None
    except ImportError:
        torch = None
    problem = make_problem(CONFIG["sizes"], CONFIG["batch"])
    cupy_sync = cp.cuda.Device().synchronize
    peers = {"gpugrad eager": (lambda: gpugrad_step(problem, "cuda"), cupy_sync),
             "gpugrad graphed": (lambda: gpugrad_graphed(problem, "cuda"), cupy_sync)}
    if torch is not None:
        peers["torch eager"] = (lambda: torch_step(problem, torch), torch.cuda.synchronize)
        peers["torch graphed"] = (lambda: torch_graphed(problem, torch), torch.cuda.synchronize)
    result = {**version_fields(), "device": "cuda", "sizes": CONFIG["sizes"],
              "batch": CONFIG["batch"], "ms": {}, "ms_synced": {}, "first_losses": {}}
    for peer, (make, sync) in peers.items():
        result["first_losses"][peer] = first_losses(make)
        step, _ = make()
        result["ms"][peer], result["ms_synced"][peer] = time_step(
            step, sync, CONFIG["reps"], CONFIG["steps"], CONFIG["synced"])
        del step
    if torch is not None:
        eager = result["ms"]["torch eager"]
        result["ratio_vs_torch_eager"] = {peer: ms / eager for peer, ms in result["ms"].items()}
    return result


def run_sim(profile):
    device = "sim:0"
    gg.sim.configure(device, profile=profile)
    problem = make_problem(CONFIG["sizes"], CONFIG["batch"])
    result = {**version_fields(), "device": device, "profile": profile,
              "sizes": CONFIG["sizes"], "batch": CONFIG["batch"], "modeled_ms": {},
              "modeled_device_ms": {}, "kernels_per_step": {}}
    steps = 3
    for peer, make in (("gpugrad eager", gpugrad_step), ("gpugrad graphed", gpugrad_graphed)):
        step, _ = make(problem, device)
        for _ in range(2):  # a warm pool, as on the GPU
            step()
        gg.sim.synchronize(device)
        gg.sim.reset(device)
        for _ in range(steps):
            step()
        gg.sim.synchronize(device)  # the steps' wall time: the host's or the GPU's, whichever
        stats = gg.sim.stats(device)
        result["modeled_ms"][peer] = stats.host_us / steps / 1e3
        result["modeled_device_ms"][peer] = stats.device_us / steps / 1e3
        result["kernels_per_step"][peer] = stats.kernels / steps
    result["pytorch_eager_h200_ms"] = PYTORCH_EAGER_H200_MS
    result["ratio_vs_torch_eager"] = {peer: ms / PYTORCH_EAGER_H200_MS
                                      for peer, ms in result["modeled_ms"].items()}
    return result


def report(result):
    """Print the rows and the ratios against the target."""
    sizes = "-".join(map(str, result["sizes"]))
    where = result.get("profile", "measured")
    print(f"small MLP {sizes} @ batch {result['batch']} on {result['device']} ({where})")
    times = result.get("ms") or result["modeled_ms"]
    ratios = result.get("ratio_vs_torch_eager", {})
    for peer, ms in times.items():
        ratio = f"{ratios[peer]:.2f}x PyTorch eager" if peer in ratios else ""
        print(f"  {peer:<16} {ms:8.3f} ms/step  {ratio}")
    graphed = ratios.get("gpugrad graphed")
    if graphed is not None:
        verdict = "meets" if graphed <= TARGET else "misses"
        print(f"  gpugrad graphed / PyTorch eager = {graphed:.2f}x: {verdict} the "
              f"{TARGET}x target")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", choices=["cuda", "sim"], default="cuda")
    parser.add_argument("--profile", default="h200", help="sim profile (with --device sim)")
    parser.add_argument("--json", help="write the results here (default: "
                                       "$OUT/graphs_<device>.json)")
    args = parser.parse_args(argv)
    result = run_cuda() if args.device == "cuda" else run_sim(args.profile)
    report(result)
    name = "graphs_cuda.json" if args.device == "cuda" else f"graphs_sim_{args.profile}.json"
    path = args.json or (os.path.join(os.environ["OUT"], name) if os.environ.get("OUT")
                         else None)
    if path:
        with open(path, "w") as f:
            json.dump(result, f, indent=1)
        print(f"wrote {path}")
    return result


if __name__ == "__main__":
    main()
