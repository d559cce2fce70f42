"""The ``python -m`` entry points of the sim tools: ``python -m gpugrad.sim.fidelity`` and
``python -m gpugrad.sim.calibrate`` take the arguments of ``gpugrad sim fidelity`` and
``gpugrad sim calibrate`` (gpugrad/cli.py), from the same ``add_arguments`` and ``run``."""
import argparse

from .measurements import MeasurementError


def module_main(module_name, doc, add_arguments, run, argv=None):
    """Parse ``argv`` with ``add_arguments`` and ``run`` it; a bad file or option exits with
    status 2 and the message, as argparse does for its own errors."""
    parser = add_arguments(argparse.ArgumentParser(prog=f"python -m {module_name}",
                                                   description=doc.split("\n")[0]))
    args = parser.parse_args(argv)
    try:
        return run(args)
    except (MeasurementError, ValueError) as exc:
        parser.error(str(exc))
