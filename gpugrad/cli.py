"""The ``gpugrad`` command: ``gpugrad demo`` trains a digit classifier; ``gpugrad devices`` lists
what this machine can run; ``gpugrad plan`` predicts data-parallel training on simulated GPU
clusters; ``gpugrad sim fidelity`` and ``gpugrad sim calibrate`` hold the simulator against real
GPU measurements (docs/sim-model.md).

``gpugrad demo`` is the main job of the library in one screen: an MLP learns the 1,797 real 8x8
handwritten digits that ship with scikit-learn, with a progress bar showing the loss, the
accuracy and the global gradient norm. On ``sim`` (the default) it then reports what the same
training would cost on a GPU: modeled step time, kernels per step, bytes transferred, peak
device memory and the most expensive ops. It writes ``trace.json`` (open it in
ui.perfetto.dev), ``summary.json``, ``demo.png`` and the trained weights ``model.npz`` into
``--out``.
"""
import argparse
import io
import json
import math
import os
import sys

import gpugrad as gg

from .atomic import atomic_write
from .device_info import devices
from .distributed.launch import launch
from .errors import DeviceUnavailableError, format_bytes
from .nn import functional as F
from .nn.utils import clip_grad_norm_
from .sim import calibrate, fidelity, probe_host
from .sim import planner as sim_plan
from .sim.measurements import MeasurementError

TARGET_ACCURACY = 0.95


def _parser():
    parser = argparse.ArgumentParser(prog="gpugrad", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="train an MLP on the digits and report what it costs",
                          description=__doc__.split("\n\n")[1])
    demo.add_argument("--device", default="sim", help="sim (default), sim:N, cpu or cuda")
    demo.add_argument("--profile", default=None,
                      help="GPU profile for sim: h100 (default), h200, a100, l4")
    demo.add_argument("--epochs", type=int, default=15, help="passes over the data (15)")
    demo.add_argument("--out", default="gpugrad-demo", help="output folder (./gpugrad-demo)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (0)")
    demo.add_argument("--batch-size", type=int, default=64, help="examples per step (64)")
    demo.add_argument("--lr", type=float, default=1e-2, help="Adam learning rate (1e-2)")
    demo.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    demo.add_argument("--procs", type=int, default=1,
                      help="train data-parallel over N processes (1; N > 1 needs gpugrad[mpi])")
    sim_plan.add_arguments(sub.add_parser(
        "plan", help="predict multi-GPU data-parallel training steps on simulated GPUs",
        description=sim_plan.CLI_HELP, formatter_class=argparse.RawDescriptionHelpFormatter))
    run = sub.add_parser("run", help="run a script as N MPI ranks (gg.distributed)",
                         description="Run `python script.py args` as N ranks under mpiexec "
                                     "(pip install 'gpugrad[mpi]'); exits with the job's status.")
    run.add_argument("-n", "--nprocs", type=int, required=True, help="number of ranks")
    run.add_argument("--timeout", type=float, default=None,
                     help="stop the whole job after this many seconds (exit status 124)")
    run.add_argument("script", help="the Python script every rank runs")
    run.add_argument("script_args", nargs=argparse.REMAINDER, help="its arguments")
    sub.add_parser("devices", help="list the devices (and sim GPU profiles) available here",
                   description="List cpu, each sim GPU profile and cuda (or why cuda is absent).")
    sim = sub.add_parser("sim", help="the simulator against real GPU measurements",
                         description="Hold the simulator's model against real GPU measurements "
                                     "(file format: docs/sim-model.md).")
    tools = sim.add_subparsers(dest="sim_command", required=True)
    for name, (module, text, examples) in SIM_TOOLS.items():
        module.add_arguments(tools.add_parser(
            name, help=text, description=module.__doc__.split("\n")[0],
            formatter_class=argparse.RawDescriptionHelpFormatter,
            epilog="examples:\n" + "\n".join(f"  gpugrad sim {name} {e}" for e in examples)))
    return parser


#: ``gpugrad sim NAME``: (module with ``add_arguments(parser)`` and ``run(args)``, help, examples)
SIM_TOOLS = {
    "fidelity": (fidelity, "how close the model comes to measurements, per op family",
                 ["bench/results/measurements/h200-run1.json --profile h200",
                  "bench/results/h200-run1/mlp_cuda.json --profile h200",
                  "bench/results/measurements/h200-run1.json --profile h200 --fit-host"]),
    "calibrate": (calibrate, "fit the H200 profile's parameters to measurements",
                  ["bench/results/measurements/h200-run1.json "
                   "bench/results/measurements/h200-run2.json",
                   "--fit bench/results/measurements/h200-run1.json "
                   "--check bench/results/measurements/h200-run2.json",
                   "--fit-framework bench/results/h200-run1/mlp_cuda.json"]),
    "probe-host": (probe_host, "measure this machine's host speed; write a sim host profile",
                   ["--seconds 5", "--out host.json"]),
}


def main(argv=None):
    """Entry point of the ``gpugrad`` console script; returns the exit status."""
    args = _parser().parse_args(argv)
    if args.command == "run":
        try:
            return launch(args.nprocs, [args.script, *args.script_args], timeout=args.timeout)
        except (FileNotFoundError, ValueError) as exc:
            print(f"gpugrad run: {exc}", file=sys.stderr)
            return 2
    if args.command == "devices":
        print(devices())
        return 0
    if args.command == "plan":
        try:
            return sim_plan.run(args)
        except (ValueError, TypeError) as exc:
            print(f"gpugrad plan: {exc}", file=sys.stderr)
            return 2
    if args.command == "sim":
        try:
            return SIM_TOOLS[args.sim_command][0].run(args)
        except (MeasurementError, ValueError) as exc:
            print(f"gpugrad sim {args.sim_command}: {exc}", file=sys.stderr)
            return 2
    if args.procs != 1:
        return _launch_demo(args, sys.argv[1:] if argv is None else argv)
    try:
        run_demo(args)
    except (ImportError, ValueError, DeviceUnavailableError) as exc:
        print(f"gpugrad demo: {exc}", file=sys.stderr)
        return 2
    return 0


#: What each rank of ``gpugrad demo --procs N`` runs (``gpugrad.demo_parallel``).
DEMO_RANK_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "demo_parallel.py")


def _launch_demo(args, argv):
    """``gpugrad demo --procs N``: N ranks of the demo under ``gpugrad run``; the exit status."""
    if args.procs < 1:
        print(f"gpugrad demo: --procs must be at least 1, got {args.procs}", file=sys.stderr)
        return 2
    try:
        return launch(args.procs, [DEMO_RANK_SCRIPT, *argv])
    except FileNotFoundError as exc:  # no mpiexec
        print(f"gpugrad demo: {exc}", file=sys.stderr)
        return 2


# ---- the demo ---------------------------------------------------------------------------------
def _setup_device(args):
    device = gg.Device(args.device)
    if device.type == "sim":
        gg.sim.configure(device, profile=args.profile)
    elif args.profile:
        raise ValueError(f"--profile applies to sim devices only (got --device {device})")
    return device


def _check_out(out):
    """Create the ``--out`` folder; ValueError saying why when it cannot be written."""
    try:
        os.makedirs(out, exist_ok=True)
        if not os.access(out, os.W_OK):
            raise PermissionError("permission denied")
    except OSError as exc:
        raise ValueError(f"--out {out!r} is not a writable folder "
                         f"({exc.strerror or exc}); pass another with --out DIR") from None


def _grad_norm(params):
    return clip_grad_norm_(params, math.inf)  # an infinite max_norm only measures the norm


def _accuracy(model, x, y):
    with gg.no_grad():
        accuracy = (model(x).argmax(dim=1) == y).long().sum().item() / len(y)  # exact count
    model.train()
    return accuracy


def run_demo(args, job=None):
    """Train, evaluate, report and write the files; returns the summary dict. ``job`` (a
    ``gpugrad.demo_parallel.DataParallelJob``) makes this one rank of ``--procs N``: it shards
    the data, wraps the model and reports throughput; only its writing rank returns a summary
    (the others return None)."""
    if args.epochs < 1:
        raise ValueError(f"--epochs must be at least 1, got {args.epochs}")
    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be at least 1, got {args.batch_size}")
    device = _setup_device(args)
    _check_out(args.out)  # before training, not after minutes of it
    gg.manual_seed(args.seed)
    x, y = gg.data.load_digits()
    x_train, x_test, y_train, y_test = gg.data.train_test_split(x, y, test_size=0.2,
                                                                seed=args.seed)
    x_train, y_train = x_train.to(device), y_train.to(device)
    x_test, y_test = x_test.to(device), y_test.to(device)
    train_set = gg.data.TensorDataset(x_train, y_train)
    loader = job.loader(train_set, args) if job else gg.data.DataLoader(
        train_set, batch_size=args.batch_size, shuffle=True, seed=args.seed)
    model = gg.nn.MLP([64, 128, 64, 10], activation="relu").to(device)
    trained = job.wrap(model) if job else model  # what the training steps call
    optimizer = gg.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = gg.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    print(f"gpugrad demo: {len(x_train)} train / {len(x_test)} test digits on {device}"
          + (f" ({gg.sim.stats(device).profile}, modeled)" if device.type == "sim" else ""))
    print(model)

    history = {"step_loss": [], "epoch_loss": [], "train_acc": [], "test_acc": [],
               "grad_norm": []}
    bar = _progress(args, total=args.epochs * len(loader))
    prof = gg.profiler.profile()
    stats = None
    for epoch in range(args.epochs):
        if job:
            job.start_epoch(epoch)
        if epoch < args.epochs - 1:
            _train_epoch(trained, loader, optimizer, bar, history, epoch, args.epochs)
        else:
            if device.type == "sim":
                gg.sim.reset(device)  # the report covers the last epoch: a warm, steady state
            with prof:
                _train_epoch(trained, loader, optimizer, bar, history, epoch, args.epochs)
            stats = gg.sim.stats(device) if device.type == "sim" else None
        scheduler.step()
        history["test_acc"].append(_accuracy(model.eval(), x_test, y_test))
    bar.close()
    if job:
        job.finish_training()
        if not job.writes:
            return None
    return _finish(args, device, model, loader, history, prof, stats)


def _train_epoch(model, loader, optimizer, bar, history, epoch, epochs):
    """One pass over ``loader``; appends to ``history`` (the bar is refreshed every 5 steps,
    because reading a value waits for the device)."""
    model.train()
    total_loss = total_correct = 0.0
    for step, (xb, yb) in enumerate(loader):
        logits = model(xb)
        loss = F.cross_entropy(logits, yb)
        optimizer.zero_grad()
        loss.backward()
        log = step % 5 == 0 or step == len(loader) - 1
        if log:  # the norm costs a kernel or two per parameter, so only when it is shown
            history["grad_norm"].append(_grad_norm(model.parameters()).item())
        optimizer.step()
        with gg.no_grad():
            # Sums stay on the device until the end of the epoch: no sync per step.
            total_correct = total_correct + (logits.argmax(dim=1) == yb).float().sum()
            total_loss = total_loss + loss.detach() * len(yb)
        seen = min((step + 1) * loader.batch_size,
                   len(loader.dataset if loader.sampler is None else loader.sampler))
        if log:
            history["step_loss"].append((epoch * len(loader) + step, loss.item()))
            bar.set_postfix(epoch=f"{epoch + 1}/{epochs}", loss=f"{loss.item():.4f}",
                            acc=f"{total_correct.item() / seen:.3f}",
                            grad_norm=f"{history['grad_norm'][-1]:.3f}")
        bar.update(1)
    history["epoch_loss"].append(total_loss.item() / seen)
    history["train_acc"].append(total_correct.item() / seen)


def _progress(args, total):
    try:
        from tqdm import tqdm
    except ImportError:
        raise ImportError("gpugrad demo needs tqdm and matplotlib: "
                          "pip install 'gpugrad[demo]'") from None
    return tqdm(total=total, unit="step", disable=args.no_progress, dynamic_ncols=True)


def _finish(args, device, model, loader, history, prof, stats):
    accuracy = history["test_acc"][-1]
    mark = "reached" if accuracy >= TARGET_ACCURACY else "below"
    print(f"test accuracy {accuracy:.4f} ({mark} the {TARGET_ACCURACY} target), train accuracy "
          f"{history['train_acc'][-1]:.4f}, final loss {history['epoch_loss'][-1]:.4f}")
    summary = {"device": str(device), "epochs": args.epochs, "seed": args.seed,
               "test_accuracy": accuracy, "history": history}
    if stats is not None:
        summary["sim"] = _sim_report(stats, steps=len(loader))
    trace_path = prof.export_chrome_trace(os.path.join(args.out, "trace.json"))
    summary["files"] = {"trace": trace_path, "figure": _figure(args.out, history, summary),
                        "checkpoint": os.path.join(args.out, "model.npz")}
    gg.save(model.state_dict(), summary["files"]["checkpoint"])
    atomic_write(os.path.join(args.out, "summary.json"), json.dumps(summary, indent=1).encode())
    print(f"wrote {trace_path} (open in ui.perfetto.dev), {summary['files']['figure']}, "
          f"{summary['files']['checkpoint']}")
    return summary


def _sim_report(stats, steps):
    """Print and return the modeled cost of the last epoch (``stats``), per training step."""
    # when the last host op, kernel or collective finished
    wall_us = max(stats.host_us, stats.stream_us, stats.comm_us)
    report = {
        "profile": stats.profile,
        "steps": steps,
        "step_time_us": wall_us / steps,
        "device_busy_us_per_step": stats.device_us / steps,
        "kernels_per_step": stats.kernels / steps,
        "h2d_bytes": stats.h2d_bytes,
        "d2h_bytes": stats.d2h_bytes,
        "peak_bytes": stats.peak_bytes,
        "comm_us_per_step": stats.comm_busy_us / steps,
        "comm_exposed_us_per_step": stats.comm_exposed_us / steps,
        "by_class": stats.by_class,
        "top_ops": sorted(stats.by_op.items(), key=lambda kv: -kv[1]["device_us"])[:8],
    }
    print(f"\nmodeled on {stats.profile} ({stats.device}), last epoch of {steps} steps:")
    print(f"  step time        {report['step_time_us']:.1f} µs modeled "
          f"(device busy {report['device_busy_us_per_step']:.1f} µs: "
          f"{stats.device_us / wall_us:.0%})" if wall_us else "  step time        0")
    print(f"  kernels per step {report['kernels_per_step']:.1f}")
    print(f"  transferred      {format_bytes(stats.h2d_bytes)} host->device, "
          f"{format_bytes(stats.d2h_bytes)} device->host")
    print(f"  peak memory      {format_bytes(stats.peak_bytes)}")
    if stats.comm_busy_us:  # data-parallel (--procs): the gradient all-reduces
        print(f"  communication    {report['comm_us_per_step']:.1f} µs per step modeled, "
              f"{report['comm_exposed_us_per_step']:.1f} µs of it not hidden by compute")
    print(stats.table(top=8))
    return report


def _figure(out, history, summary):
    """``demo.png``: the loss, the accuracies, and (on sim) modeled time by op class."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_acc, ax_ops) = plt.subplots(1, 3, figsize=(15, 4.2))
    steps, losses = zip(*history["step_loss"])
    ax_loss.plot(steps, losses, lw=1, label="batch loss")
    per_epoch = len(steps) and (steps[-1] + 1) / len(history["epoch_loss"])
    ax_loss.plot([(i + 1) * per_epoch for i in range(len(history["epoch_loss"]))],
                 history["epoch_loss"], "o-", label="epoch mean")
    ax_loss.set(yscale="log", xlabel="step", ylabel="cross-entropy", title="loss")
    ax_loss.legend()
    epochs = range(1, len(history["test_acc"]) + 1)
    ax_acc.plot(epochs, history["train_acc"], "o-", label="train")
    ax_acc.plot(epochs, history["test_acc"], "s-", label="test")
    ax_acc.axhline(TARGET_ACCURACY, color="gray", ls="--", lw=1, label="target")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy", ylim=(0, 1.01))
    ax_acc.legend(loc="lower right")
    sim = summary.get("sim")
    if sim and sim["by_class"]:
        classes = sorted(sim["by_class"], key=sim["by_class"].get)
        ax_ops.barh(classes, [sim["by_class"][c] / sim["steps"] for c in classes])
        ax_ops.set(xlabel="modeled µs per step", title=f"modeled time by op class "
                                                        f"({sim['profile']})")
    else:
        ax_ops.axis("off")
        ax_ops.text(0.5, 0.5, f"modeled GPU time is reported on sim\n(this run: "
                    f"{summary['device']})", ha="center", va="center")
    fig.suptitle(f"gpugrad demo: digits MLP on {summary['device']}, test accuracy "
                 f"{summary['test_accuracy']:.3f}")
    fig.tight_layout()
    path = os.path.join(out, "demo.png")
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=110)
    plt.close(fig)
    atomic_write(path, png.getvalue())
    return path


if __name__ == "__main__":
    sys.exit(main())
