"""What ``gpugrad demo`` prints and writes once training ends: the accuracy, the modeled GPU
cost (on sim), and its files (``OUTPUTS``): the Perfetto trace, ``summary.json`` (strict JSON),
``demo.png`` and the trained weights."""
import io
import json
import math
import os

import gpugrad as gg

from .atomic import atomic_write
from .errors import format_bytes

TARGET_ACCURACY = 0.95

#: The files of one demo run, by summary key.
OUTPUTS_BY_KEY = {"trace": "trace.json", "figure": "demo.png", "checkpoint": "model.npz",
                  "summary": "summary.json"}
OUTPUTS = tuple(OUTPUTS_BY_KEY.values())


def write_outputs(args, folder, device, model, loader, history, prof, stats):
    """Print the results and write every file into ``folder`` (the staged ``--out``); returns
    the summary, whose ``files`` name the paths under ``args.out``."""
    accuracy = history["test_acc"][-1]
    mark = "reached" if accuracy >= TARGET_ACCURACY else "below"
    print(f"test accuracy {accuracy:.4f} ({mark} the {TARGET_ACCURACY} target), train accuracy "
          f"{history['train_acc'][-1]:.4f}, final loss {history['epoch_loss'][-1]:.4f}",
          flush=True)
    summary = {"device": str(device), "epochs": args.epochs, "seed": args.seed,
               "test_accuracy": accuracy, "history": history}
    if stats is not None:
        summary["sim"] = sim_report(stats, steps=len(loader))
    files = {key: os.path.join(args.out, name) for key, name in OUTPUTS_BY_KEY.items()
             if key != "summary"}
    summary["files"] = files
    staged = {key: os.path.join(folder, OUTPUTS_BY_KEY[key]) for key in OUTPUTS_BY_KEY}
    prof.export_chrome_trace(staged["trace"])
    atomic_write(staged["figure"], figure(history, summary))
    gg.save(model.state_dict(), staged["checkpoint"])
    atomic_write(staged["summary"], strict_json(summary).encode())
    print(f"wrote {files['trace']} (open in ui.perfetto.dev), {files['figure']}, "
          f"{files['checkpoint']}")
    return summary


def strict_json(value):
    """``value`` as JSON that every parser reads: a NaN or infinity (a diverged loss) becomes
    null, since JSON has no such numbers."""
    def finite(item):
        if isinstance(item, float) and not math.isfinite(item):
            return None
        if isinstance(item, dict):
            return {key: finite(v) for key, v in item.items()}
        if isinstance(item, (list, tuple)):
            return [finite(v) for v in item]
        return item

    return json.dumps(finite(value), indent=1, allow_nan=False)


def sim_report(stats, steps):
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


def figure(history, summary):
    """``demo.png``'s bytes: the loss, the accuracies, and (on sim) modeled time by op class."""
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
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=110)
    plt.close(fig)
    return png.getvalue()
