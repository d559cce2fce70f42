"""``gpugrad demo``: an MLP learns the 1,797 real 8x8 handwritten digits that ship with
scikit-learn, with a progress bar (on a terminal) showing the loss, the accuracy and the global
gradient norm. On sim (the default) it then reports what the same training would cost on a GPU.
Its files (``cli_demo_report.OUTPUTS``) replace the ``--out`` folder whole when training ends.
"""
import importlib.util
import math

import gpugrad as gg

from .cli_args import UsageError, finite_float, int_at_least
from .cli_demo_report import OUTPUTS, write_outputs
from .cli_staging import StagedFolder
from .errors import DeviceUnavailableError
from .nn import functional as F
from .nn.utils import clip_grad_norm_

HELP = """\
An MLP learns the 1,797 real 8x8 handwritten digits that ship with scikit-learn, with a progress
bar on a terminal showing the loss, the accuracy and the global gradient norm. On sim (the
default) it then reports what the same training would cost on a GPU: modeled step time, kernels
per step, bytes transferred, peak device memory and the most expensive ops.

It writes trace.json (open it in ui.perfetto.dev), summary.json, demo.png and the trained
weights model.npz into the --out folder, replacing the folder whole only when all are written:
interrupted, the folder keeps the previous run's files."""

#: What the demo needs beyond NumPy: (module, what for).
EXTRAS = (("sklearn", "the digits"), ("matplotlib", "demo.png"), ("tqdm", "the progress bar"))


def add_arguments(parser):
    """The options of ``gpugrad demo`` (its description: ``HELP``)."""
    parser.add_argument("--device", default="sim", help="sim (default), sim:N, cpu or cuda")
    parser.add_argument("--profile", default=None,
                        help="GPU profile for sim: h100 (default), h200, a100, l4")
    parser.add_argument("--epochs", type=int_at_least(1), default=15, metavar="N",
                        help="passes over the data (15)")
    parser.add_argument("--out", default="gpugrad-demo", metavar="DIR",
                        help="output folder, replaced whole at the end (./gpugrad-demo)")
    parser.add_argument("--seed", type=int, default=0, metavar="N", help="random seed (0)")
    parser.add_argument("--batch-size", type=int_at_least(1), default=64, metavar="N",
                        help="examples per step (64)")
    parser.add_argument("--lr", type=finite_float(minimum=0.0), default=1e-2,
                        help="Adam learning rate (1e-2)")
    parser.add_argument("--no-progress", action="store_true",
                        help="hide the progress bar (it shows only on a terminal anyway)")
    parser.add_argument("--quiet", "-q", action="store_true",
                        help="print nothing but errors: no progress bar, no report")
    parser.add_argument("--procs", type=int_at_least(1), default=1, metavar="N",
                        help="train data-parallel over N processes (1; N > 1 needs gpugrad[mpi])")
    return parser


def run_demo(args, job=None):
    """Train, evaluate, report and write the files; returns the summary dict. ``job`` (a
    ``gpugrad.demo_parallel.DataParallelJob``) makes this one rank of ``--procs N``: it shards
    the data, wraps the model and reports throughput; only its writing rank writes files and
    returns a summary (the others return None).

    Raises ``UsageError`` for a device, profile or ``--out`` that cannot be used,
    ``DeviceUnavailableError`` for a device this machine lacks and ``ModuleNotFoundError`` for a
    missing optional package, all before training."""
    _require_extras()
    device = _setup_device(args)
    if job and not job.writes:
        _train(args, device, job)
        return None
    with StagedFolder(args.out, OUTPUTS) as staged:  # checked before training, not after it
        trained = _train(args, device, job)
        try:
            summary = write_outputs(args, staged.dir, *trained)
            staged.commit()
        except OSError as exc:  # name the user's folder, not the staged one
            raise OSError(exc.errno, f"cannot write {args.out}: {exc.strerror or exc}") from exc
    return summary


def _require_extras():
    missing = [f"{name} ({what})" for name, what in EXTRAS
               if importlib.util.find_spec(name) is None]
    if missing:
        raise ModuleNotFoundError(f"gpugrad demo needs {', '.join(missing)}: "
                                  "pip install 'gpugrad[demo]'")


def _setup_device(args):
    try:
        device = gg.Device(args.device)
        if device.type == "sim":
            gg.sim.configure(device, profile=args.profile)
        elif args.profile:
            raise UsageError(f"--profile applies to sim devices only (got --device {device})")
    except (DeviceUnavailableError, UsageError):
        raise
    except ValueError as exc:  # an unknown device or profile name
        raise UsageError(str(exc)) from None
    return device


def _grad_norm(params):
    return clip_grad_norm_(params, math.inf)  # an infinite max_norm only measures the norm


def _accuracy(model, x, y):
    with gg.no_grad():
        accuracy = (model(x).argmax(dim=1) == y).long().sum().item() / len(y)  # exact count
    model.train()
    return accuracy


def _train(args, device, job):
    """Train and evaluate; returns (device, model, loader, history, profiler, sim stats)."""
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
          + (f" ({gg.sim.stats(device).profile}, modeled)" if device.type == "sim" else ""),
          flush=True)
    print(model)

    history = {"step_loss": [], "epoch_loss": [], "train_acc": [], "test_acc": [],
               "grad_norm": []}
    prof = gg.profiler.profile()
    stats = None
    with _progress(args, total=args.epochs * len(loader)) as bar:
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
    if job:
        job.finish_training()
    return device, model, loader, history, prof, stats


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
    """The progress bar: on stderr when it is a terminal (tqdm's own test, ``disable=None``),
    never with ``--no-progress`` or ``--quiet``."""
    from tqdm import tqdm

    hidden = args.no_progress or args.quiet
    return tqdm(total=total, unit="step", disable=True if hidden else None, dynamic_ncols=True)
