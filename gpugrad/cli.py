"""The ``gpugrad`` command (docs/cli.md): ``gpugrad demo`` trains a digit classifier;
``gpugrad devices`` lists what this machine can run; ``gpugrad plan`` predicts data-parallel
training on simulated GPU clusters; ``gpugrad run`` launches a script as MPI ranks;
``gpugrad sim fidelity``, ``calibrate`` and ``probe-host`` hold the simulator against real
measurements (docs/sim-model.md).

Exit status: 0 success, 1 a runtime failure (an unavailable device, a missing package or
program, a failed write), 2 a usage error (argparse's, or an option value that cannot be used),
130 interrupted (Ctrl-C: one line, "interrupted", on stderr).
"""
import argparse
import contextlib
import json
import os
import sys

import gpugrad as gg

from .cli_args import UsageError, finite_float, int_at_least
from .cli_demo import HELP as DEMO_HELP
from .cli_demo import add_arguments as add_demo_arguments
from .cli_demo import run_demo
from .device_info import devices
from .distributed.launch import launch
from .errors import DeviceUnavailableError
from .sim import calibrate, fidelity, probe_host
from .sim import planner as sim_plan
from .sim.measurements import MeasurementError

DESCRIPTION = ("gpugrad: train on cpu, a simulated GPU (sim) or cuda, and predict what "
               "training costs on GPUs. Exit status: 0 success, 1 runtime failure, 2 usage "
               "error, 130 interrupted.")

#: Failures of the machine or the environment, not of the command line: one line, status 1.
#: (A missing optional package is ModuleNotFoundError; other ImportErrors are bugs.)
RUNTIME_ERRORS = (DeviceUnavailableError, ModuleNotFoundError, OSError, MemoryError)

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


def build_parser():
    """The ``gpugrad`` argument parser, every subcommand included."""
    parser = argparse.ArgumentParser(prog="gpugrad", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"gpugrad {gg.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    add_demo_arguments(sub.add_parser(
        "demo", help="train an MLP on the digits and report what it costs",
        description=DEMO_HELP, formatter_class=argparse.RawDescriptionHelpFormatter))
    devices_parser = sub.add_parser(
        "devices", help="list the devices (and sim GPU profiles) available here",
        description="List cpu, each sim GPU profile and cuda (or why cuda is absent).")
    devices_parser.add_argument("--json", action="store_true",
                                help="print the rows as a JSON list of objects (name, device, "
                                     "available, detail, profile)")
    sim_plan.add_arguments(sub.add_parser(
        "plan", help="predict multi-GPU data-parallel training steps on simulated GPUs",
        description=sim_plan.CLI_HELP, formatter_class=argparse.RawDescriptionHelpFormatter))
    run = sub.add_parser("run", help="run a script as N MPI ranks (gg.distributed)",
                         description="Run 'python SCRIPT ARGS' as N ranks under mpiexec "
                                     "(pip install 'gpugrad[mpi]'); exits with the job's status.")
    run.add_argument("-n", "--nprocs", type=int_at_least(1), required=True,
                     help="number of ranks")
    run.add_argument("--timeout", type=finite_float(minimum=0.0), default=None,
                     help="stop the whole job after this many seconds (exit status 124)")
    run.add_argument("script", help="the Python script every rank runs")
    run.add_argument("script_args", nargs=argparse.REMAINDER, help="its arguments")
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


def main(argv=None):
    """Entry point of the ``gpugrad`` console script; returns the exit status (0 success,
    1 runtime failure, 2 usage error, 130 interrupted). argparse's own errors, ``--help`` and
    ``--version`` exit through ``SystemExit``, as argparse does."""
    try:
        status = _dispatch(build_parser().parse_args(argv), argv)
        sys.stdout.flush()  # so that a reader gone away shows here, not at interpreter exit
        return status
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader stopped reading (gpugrad devices | head -1): stop quietly. Python's docs
        # recommend pointing stdout at devnull so that the final flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


def report_failures(name, usage_errors, call):
    """``call()``'s exit status; ``usage_errors`` (status 2) and ``RUNTIME_ERRORS`` (status 1)
    become one line on stderr, ``name: message``. Anything else is a bug and propagates."""
    try:
        return call()
    except usage_errors as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 2
    except RUNTIME_ERRORS as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 1


def _dispatch(args, argv):
    if args.command == "demo":
        return report_failures("gpugrad demo", (UsageError,), lambda: _demo(args, argv))
    if args.command == "devices":
        rows = devices()
        print(json.dumps([row._asdict() for row in rows], indent=1, allow_nan=False)
              if args.json else rows)
        return 0
    if args.command == "plan":
        return report_failures("gpugrad plan", (ValueError, TypeError),
                               lambda: sim_plan.run(args))
    if args.command == "run":
        return report_failures("gpugrad run", (UsageError, ValueError), lambda: _launch(
            args.nprocs, [args.script, *args.script_args], timeout=args.timeout))
    return report_failures(f"gpugrad sim {args.sim_command}", (MeasurementError, ValueError),
                           lambda: SIM_TOOLS[args.sim_command][0].run(args))


#: What each rank of ``gpugrad demo --procs N`` runs (``gpugrad.demo_parallel``).
DEMO_RANK_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "demo_parallel.py")


def _demo(args, argv):
    if args.procs != 1:  # N ranks of the demo under gpugrad run
        return _launch(args.procs, [DEMO_RANK_SCRIPT, *(sys.argv[1:] if argv is None else argv)])
    with _stdout_silenced(args.quiet):
        run_demo(args)
    return 0


def _launch(nprocs, argv, timeout=None):
    """``launch`` with a missing script told apart (a usage error) from a missing mpiexec (a
    runtime failure: ``FileNotFoundError``)."""
    if not os.path.isfile(argv[0]):
        raise UsageError(f"script not found: {argv[0]}")
    return launch(nprocs, argv, timeout=timeout)


@contextlib.contextmanager
def _stdout_silenced(quiet):
    """With ``quiet``, stdout goes nowhere for the block (errors still reach stderr)."""
    if not quiet:
        yield
        return
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        yield


if __name__ == "__main__":
    sys.exit(main())
