"""Time MLP training steps (forward, cross-entropy, backward, SGD update) on a GPU.

On ``--device cuda`` (the default) three peers run the same step from the same initial weights,
in the same process, on the same GPU, in float32 (``--dtype float32``, the default):

- gpugrad (``gg.nn.Linear`` with fused bias+ReLU, fused cross-entropy, one-launch SGD);
- PyTorch eager (``torch.nn``, ``F.cross_entropy``, ``torch.optim.SGD``), TF32 off;
- a hand-written CuPy step (the same ops written out, as in bench/results/measurements/measure.py).

Step time = median over repetitions of (wall time of ``--steps`` back-to-back steps between two
device synchronizations) / steps, after warm-up; also the median of single steps each followed
by a sync. Ratios are gpugrad / peer (lower is better; targets: large <= 1.0x, small <= 1.5x
PyTorch eager).

``--dtype bf16`` or ``fp16`` runs the forward pass and the loss under autocast instead, the
weights staying float32 (``gg.autocast("cuda", dtype)`` against ``torch.autocast("cuda", dtype)``;
fp16 with loss scaling: ``gg.amp.GradScaler`` against ``torch.amp.GradScaler``); the CuPy peer
is float32 only and sits these out.

``--device sim --profile h200`` runs the gpugrad step on the simulator and prints the modeled
step times instead (with ``--dtype bf16``: the prediction of the autocast step). Results go to ``$OUT/mlp_<device>.json`` when ``$OUT`` is set. They record
which gpugrad ran (``gpugrad_version``, ``gpugrad_commit``) and, per MLP, the kernels one of its
steps launched (``gpugrad_kernels``: listed on the simulator, which runs the same gpugrad code
and costs each kernel from its shapes; on cuda the names of the primitives the cuda profiler saw
are kept beside it), so that ``gpugrad sim fidelity`` replays what was measured whatever later
versions launch (format: docs/sim-model.md).

    python bench/mlp.py                      # cuda: gpugrad vs PyTorch vs CuPy
    python bench/mlp.py --device sim --profile h200 [--table]   # --table: per-op breakdown
    python bench/mlp.py --dtype bf16 [--device sim --profile h200]   # mixed precision
    python bench/mlp.py --kernels kernels.txt --config large   # per-kernel GPU times, one step
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
import gpugrad as gg  # noqa: E402
from gpugrad.sim import measurements  # noqa: E402

CONFIGS = {
    "small": {"sizes": [64, 128, 128, 10], "batch": 64, "reps": 20, "steps": 20, "synced": 60},
    "large": {"sizes": [1024, 4096, 4096, 4096, 10], "batch": 512, "reps": 10, "steps": 10,
              "synced": 20},
}
LR = 1e-3
DTYPES = {"float32": None, "bf16": "bfloat16", "fp16": "float16"}  # --dtype: autocast's dtype
WARMUP = 5
KERNEL_DEVICE = "sim:0"  # where a step's kernel list is taken (see step_kernels)


def make_problem(sizes, batch, seed=0):
    """Initial weights (PyTorch layout: (out, in)), biases, inputs and integer targets."""
    rng = np.random.default_rng(seed)
    weights, biases = [], []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 1 / np.sqrt(fan_in)
        weights.append(rng.uniform(-bound, bound, (fan_out, fan_in)).astype(np.float32))
        biases.append(rng.uniform(-bound, bound, fan_out).astype(np.float32))
    x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    y = rng.integers(0, sizes[-1], batch).astype(np.int64)
    return weights, biases, x, y


# ---- the three steps ---------------------------------------------------------------------------
def gpugrad_step(problem, device, dtype="float32"):
    """A gpugrad training step on ``device``; returns (step, loss_of_last_step). ``dtype``
    other than float32: forward and loss under ``gg.autocast`` in it (a sim device counts as
    "cuda" there), float16 with a ``GradScaler``."""
    weights, biases, x_np, y_np = problem
    layers = []
    for i, (w, b) in enumerate(zip(weights, biases)):
        last = i == len(weights) - 1
        layer = gg.nn.Linear(w.shape[1], w.shape[0], activation=None if last else "relu",
                             device=device)
        with gg.no_grad():
            layer.weight.copy_(gg.tensor(w))
            layer.bias.copy_(gg.tensor(b))
        layers.append(layer)
    model = gg.nn.Sequential(*layers)
    opt = gg.optim.SGD(model.parameters(), lr=LR)
    x, y = gg.tensor(x_np, device=device), gg.tensor(y_np, device=device)
    state = {}
    low = DTYPES[dtype]
    if low is not None:
        region = gg.autocast("cuda", dtype=getattr(gg, low))
        scaler = gg.amp.GradScaler("cuda", enabled=low == "float16")

        def step():
            opt.zero_grad()
            with region:
                loss = gg.nn.functional.cross_entropy(model(x), y)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            state["loss"] = loss

        return step, lambda: float(state["loss"].item())

    def step():
        opt.zero_grad()
        loss = gg.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        state["loss"] = loss

    return step, lambda: float(state["loss"].item())


def torch_step(problem, torch, device="cuda", dtype="float32"):
    """The PyTorch eager step on ``device``; returns (step, loss_of_last_step). ``dtype`` as
    in ``gpugrad_step``, with ``torch.autocast`` and ``torch.amp.GradScaler``."""
    weights, biases, x_np, y_np = problem
    dev = torch.device(device)
    layers = []
    for i, (w, b) in enumerate(zip(weights, biases)):
        lin = torch.nn.Linear(w.shape[1], w.shape[0], device=dev)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w))
            lin.bias.copy_(torch.from_numpy(b))
        layers.append(lin)
        if i < len(weights) - 1:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    x, y = torch.from_numpy(x_np).to(dev), torch.from_numpy(y_np).to(dev)
    state = {}
    low = DTYPES[dtype]
    if low is not None:
        scaler = torch.amp.GradScaler(dev.type, enabled=low == "float16")

        def step():
            opt.zero_grad(set_to_none=True)
            with torch.autocast(dev.type, dtype=getattr(torch, low)):
                loss = torch.nn.functional.cross_entropy(model(x), y)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            state["loss"] = loss

        return step, lambda: float(state["loss"].item())

    def step():
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        state["loss"] = loss

    return step, lambda: float(state["loss"].item())


def cupy_step(problem, cp):
    """The hand-written step: matmul + bias, ReLU, softmax cross-entropy, backward, SGD."""
    weights, biases, x_np, y_np = problem
    ws = [cp.asarray(np.ascontiguousarray(w.T)) for w in weights]  # (in, out)
    bs = [cp.asarray(b) for b in biases]
    x, y = cp.asarray(x_np), cp.asarray(y_np)
    rows = cp.arange(x.shape[0])
    state = {}

    def step():
        acts, h = [x], x
        for i, (w, b) in enumerate(zip(ws, bs)):
            h = h @ w + b
            if i < len(ws) - 1:
                h = cp.maximum(h, 0)
            acts.append(h)
        z = h - h.max(axis=1, keepdims=True)
        p = cp.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        state["loss"] = -cp.log(p[rows, y]).mean()
        g = p
        g[rows, y] -= 1
        g /= x.shape[0]
        for i in reversed(range(len(ws))):
            grad_w = acts[i].T @ g
            grad_b = g.sum(axis=0)
            if i > 0:
                g = (g @ ws[i].T) * (acts[i] > 0)
            ws[i] -= LR * grad_w
            bs[i] -= LR * grad_b

    return step, lambda: float(state["loss"].get())


# ---- what was measured -------------------------------------------------------------------------
def source_commit(root=ROOT):
    """The commit of the git checkout at ``root`` (12 hex digits, read from ``.git``), or None."""
    git = os.path.join(root, ".git")
    try:
        with open(os.path.join(git, "HEAD")) as f:
            head = f.read().strip()
        if not head.startswith("ref: "):
            return head[:12] or None
        ref = head[5:]
        if os.path.exists(os.path.join(git, ref)):
            with open(os.path.join(git, ref)) as f:
                return f.read().strip()[:12] or None
        with open(os.path.join(git, "packed-refs")) as f:
            return next((line.split()[0][:12] for line in f if line.rstrip().endswith(" " + ref)),
                        None)
    except OSError:   # not a checkout (an installed copy, a worktree's .git file)
        return None


def version_fields():
    """Which gpugrad a result measured: its ``__version__`` and the checkout's commit."""
    return {"gpugrad_version": gg.__version__, "gpugrad_commit": source_commit()}


def step_kernels(problem, device=KERNEL_DEVICE, dtype="float32"):
    """The kernels one steady-state gpugrad step launches, as the simulator's cost model reads
    them (``gpugrad.sim.measurements.kernel_to_dict``). The step runs on ``device`` (sim): the
    same gpugrad code as on cuda, its kernels named as the profilers name them."""
    step, _ = gpugrad_step(problem, device, dtype)
    return [measurements.kernel_to_dict(k) for k in measurements.step_kernels(step, device)]


def cuda_kernel_names(step):
    """What one call of ``step`` launched on cuda, from the cuda profiler: one name per primitive
    call (a fused primitive that launches two kernels is one entry). Recorded beside the sim
    list, so that a difference between what the two backends launch shows in the data."""
    gg.cuda.synchronize()
    with gg.profiler.profile() as prof:
        step()
    return [name for device, track, name, *_ in prof.events
            if track == "stream" and device.startswith("cuda")]


# ---- timing ------------------------------------------------------------------------------------
def time_step(step, sync, reps, steps, synced):
    """(median ms per step of back-to-back runs, median ms of single synced steps)."""
    for _ in range(WARMUP):
        step()
    sync()
    per_step = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        sync()
        per_step.append((time.perf_counter() - t0) * 1e3 / steps)
    single = []
    for _ in range(synced):
        t0 = time.perf_counter()
        step()
        sync()
        single.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(per_step), statistics.median(single)


def first_losses(make_step, n=3):
    """Losses of the first ``n`` steps (the peers start from the same weights)."""
    step, loss = make_step()
    out = []
    for _ in range(n):
        step()
        out.append(loss())
    return out


def tf32_report(cp, torch):
    try:  # CuPy's cuBLAS compute type for float32 (a private module: report, never fail)
        from cupy._core import _routines_linalg as linalg

        compute = linalg.compute_type_to_str(linalg.get_compute_type(np.dtype(np.float32)))
    except Exception as exc:  # noqa: BLE001
        compute = f"unknown ({type(exc).__name__})"
    return {
        "cupy_float32_compute_type": compute,
        "CUPY_TF32": os.environ.get("CUPY_TF32"),
        "NVIDIA_TF32_OVERRIDE": os.environ.get("NVIDIA_TF32_OVERRIDE"),
        "torch_allow_tf32": None if torch is None else torch.backends.cuda.matmul.allow_tf32,
    }


def run_cuda(names, save, dtype="float32"):
    os.environ.pop("CUPY_TF32", None)  # compare like with like: full float32 on both sides
    if not gg.cuda.is_available():
        raise SystemExit(f"bench/mlp.py: cuda is not usable here: {gg.cuda.unavailable_reason()}")
    import cupy as cp

    try:
        import torch

        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.set_float32_matmul_precision("highest")
        if not torch.cuda.is_available():
            torch = None
    except ImportError:
        torch = None
    props = cp.cuda.runtime.getDeviceProperties(0)
    gpu = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
    result = {**version_fields(), "device": gpu, "cupy": cp.__version__,
              "numpy": np.__version__, "torch": None if torch is None else torch.__version__,
              "python": sys.version.split()[0], "tf32": tf32_report(cp, torch), "dtype": dtype,
              "configs": {}}
    print(f"GPU: {gpu}; CuPy {cp.__version__}; PyTorch {result['torch']}; TF32: "
          f"{result['tf32']}")
    cupy_sync = cp.cuda.Device().synchronize
    for name in names:
        cfg = CONFIGS[name]
        problem = make_problem(cfg["sizes"], cfg["batch"])
        peers = {"gpugrad": (lambda p=problem: gpugrad_step(p, "cuda", dtype), cupy_sync)}
        if dtype == "float32":
            peers["cupy"] = (lambda p=problem: cupy_step(p, cp), cupy_sync)
        if torch is not None:
            peers["torch"] = (lambda p=problem: torch_step(p, torch, dtype=dtype),
                              torch.cuda.synchronize)
        row = {"sizes": cfg["sizes"], "batch": cfg["batch"], "steps": cfg["steps"], "ms": {},
               "ms_synced": {}, "first_losses": {}}
        for peer, (make, sync) in peers.items():
            row["first_losses"][peer] = first_losses(make)
            step, _ = make()
            row["ms"][peer], row["ms_synced"][peer] = time_step(
                step, sync, cfg["reps"], cfg["steps"], cfg["synced"])
            if peer == "gpugrad":
                row["gpugrad_primitives_on_cuda"] = cuda_kernel_names(step)
            del step
        row["gpugrad_kernels"] = step_kernels(problem, dtype=dtype)
        for peer in ("torch", "cupy"):
            if peer in row["ms"]:
                row[f"ratio_vs_{peer}"] = row["ms"]["gpugrad"] / row["ms"][peer]
                row[f"ratio_synced_vs_{peer}"] = (row["ms_synced"]["gpugrad"]
                                                  / row["ms_synced"][peer])
        result["configs"][name] = row
        _print_cuda_row(name, row, dtype)
        save(result)  # after each MLP, so a timeout later keeps what was measured
    return result


def _print_cuda_row(name, row, dtype):
    peers = list(row["ms"])
    print(f"\n{name}: MLP {'-'.join(map(str, row['sizes']))} @ batch {row['batch']} ({dtype})")
    print(f"  {'peer':<9} {'ms/step':>9} {'synced ms':>10}   first losses")
    for peer in peers:
        losses = ", ".join(f"{v:.6f}" for v in row["first_losses"][peer])
        print(f"  {peer:<9} {row['ms'][peer]:>9.3f} {row['ms_synced'][peer]:>10.3f}   {losses}")
    for peer in ("torch", "cupy"):
        if f"ratio_vs_{peer}" in row:
            print(f"  gpugrad / {peer}: {row[f'ratio_vs_{peer}']:.2f}x "
                  f"(synced {row[f'ratio_synced_vs_{peer}']:.2f}x)")


def run_sim(names, profile, save, table=False, dtype="float32"):
    device = "sim:0"
    gg.sim.configure(device, profile=profile)
    backend = gg.device_registry.get_backend(device)
    result = {**version_fields(), "device": device, "profile": profile, "dtype": dtype,
              "configs": {}}
    for name in names:
        cfg = CONFIGS[name]
        step, _ = gpugrad_step(make_problem(cfg["sizes"], cfg["batch"]), device, dtype)
        # two warm-up steps (the modeled memory pool is warm after one, as on the GPU), then
        # one step whose kernels are listed
        kernels = [measurements.kernel_to_dict(k)
                   for k in measurements.step_kernels(step, device)]
        backend.synchronize()
        n = 3
        gg.sim.reset(device)
        for _ in range(n):
            step()
        backend.synchronize()
        pipelined = gg.sim.stats(device)
        gg.sim.reset(device)
        for _ in range(n):
            step()
            backend.synchronize()
        synced = gg.sim.stats(device)
        row = {"sizes": cfg["sizes"], "batch": cfg["batch"],
               "modeled_ms": pipelined.host_us / n / 1e3,
               "modeled_ms_synced": synced.host_us / n / 1e3,
               "modeled_device_ms": pipelined.device_us / n / 1e3,
               "kernels_per_step": pipelined.kernels / n,
               "framework_us": backend.timeline.framework_us,  # gpugrad's Python per kernel
               "gpugrad_kernels": kernels}
        result["configs"][name] = row
        if table:  # where the modeled step goes, op by op (the n pipelined steps together)
            print(pipelined.table())
        print(f"{name}: MLP {'-'.join(map(str, cfg['sizes']))} @ batch {cfg['batch']} on "
              f"{device} ({profile}, {dtype}): modeled {row['modeled_ms']:.3f} ms/step (synced "
              f"{row['modeled_ms_synced']:.3f} ms, device busy {row['modeled_device_ms']:.3f} ms, "
              f"{row['kernels_per_step']:.0f} kernels/step, incl. gpugrad's host overhead "
              f"{row['framework_us']:g} us/kernel)")
        save(result)
    return result


def kernel_tables(names, path):
    """Per-kernel GPU time of one training step of each MLP, gpugrad's (``gg.profiler``: CUDA
    events around each primitive) next to PyTorch's (``torch.profiler``, CUDA activity), written
    to ``path``: where a step's time goes, kernel by kernel, on this GPU."""
    try:
        import torch
        from torch.profiler import ProfilerActivity
        from torch.profiler import profile as torch_profile

        torch = torch if torch.cuda.is_available() else None
    except ImportError:
        torch = None
    lines = []
    for name in names:
        cfg = CONFIGS[name]
        problem = make_problem(cfg["sizes"], cfg["batch"])
        step, _ = gpugrad_step(problem, "cuda")
        for _ in range(WARMUP):
            step()
        gg.cuda.synchronize()
        with gg.profiler.profile() as prof:
            step()
        lines += [f"== {name}: gpugrad, one step (gg.profiler, CUDA events per primitive)",
                  prof.table(), ""]
        if torch is not None:
            tstep, _ = torch_step(problem, torch)
            for _ in range(WARMUP):
                tstep()
            torch.cuda.synchronize()
            with torch_profile(activities=[ProfilerActivity.CUDA]) as tprof:
                tstep()
                torch.cuda.synchronize()
            lines += [f"== {name}: PyTorch eager, one step (torch.profiler, CUDA kernels)",
                      tprof.key_averages().table(sort_by="device_time_total", row_limit=30), ""]
    text = "\n".join(lines)
    print(text)
    if path:
        with open(path + ".tmp", "w") as f:
            f.write(text)
        os.replace(path + ".tmp", path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", choices=["cuda", "sim"], default="cuda")
    parser.add_argument("--profile", default="h100", help="sim profile (with --device sim)")
    parser.add_argument("--config", choices=sorted(CONFIGS), action="append",
                        help="run only these MLPs (default: small and large)")
    parser.add_argument("--json", help="write the results here (default: $OUT/mlp_<device>.json)")
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="float32",
                        help="bf16/fp16: the step under autocast (float32 master weights)")
    parser.add_argument("--table", action="store_true",
                        help="sim only: also print the per-op table of the modeled steps")
    parser.add_argument("--kernels", metavar="PATH",
                        help="cuda only: instead of timing, write per-kernel tables of one step "
                             "(gpugrad's and PyTorch's) to PATH")
    args = parser.parse_args(argv)
    names = args.config or ["small", "large"]
    if args.kernels:
        if args.device != "cuda":
            parser.error("--kernels needs --device cuda")
        if args.dtype != "float32":
            parser.error("--kernels times the float32 step only")
        if not gg.cuda.is_available():
            raise SystemExit(f"bench/mlp.py: cuda is not usable here: "
                             f"{gg.cuda.unavailable_reason()}")
        return kernel_tables(names, args.kernels)
    suffix = "" if args.dtype == "float32" else f"_{args.dtype}"
    default_name = (f"mlp_cuda{suffix}.json" if args.device == "cuda"
                    else f"mlp_sim_{args.profile}{suffix}.json")
    path = args.json or (os.path.join(os.environ["OUT"], default_name)
                         if os.environ.get("OUT") else None)

    def save(result):
        if path:  # one kernel per line (measurements.dumps), written atomically
            tmp = path + ".tmp"
            with open(tmp, "w") as f:
                f.write(measurements.dumps(result))
            os.replace(tmp, path)

    if args.device == "cuda":
        result = run_cuda(names, save, args.dtype)
    else:
        result = run_sim(names, args.profile, save, args.table, args.dtype)
    if path:
        print(f"wrote {path}")
    return result


if __name__ == "__main__":
    main()
