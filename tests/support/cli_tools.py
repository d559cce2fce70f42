"""What the tests of the ``gpugrad`` command share: running it in this process, skipping where
the demo's optional packages are missing, strict JSON, and walking the parser's subcommands."""
import argparse
import importlib.util
import json

import pytest

from gpugrad import cli

needs_demo = pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in ("sklearn", "matplotlib", "tqdm")),
    reason="the demo needs scikit-learn (its digits), matplotlib (its figure) and tqdm")


def run_cli(capsys, *args):
    """(exit status, stdout, stderr) of ``gpugrad ARGS`` run in this process."""
    try:
        status = cli.main(list(map(str, args)))
    except SystemExit as exc:  # argparse's own exits: errors, --help, --version
        status = exc.code
    out, err = capsys.readouterr()
    return status, out, err


def reject_constant(name):
    """``json.loads``' hook for NaN and Infinity, which strict JSON does not have."""
    raise AssertionError(f"not strict JSON: {name}")


def strict_loads(text):
    """``json.loads`` refusing NaN and Infinity."""
    return json.loads(text, parse_constant=reject_constant)


def subcommands(parser, prefix=("gpugrad",)):
    """(command words, parser) of ``parser`` and every subcommand under it."""
    yield prefix, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from subcommands(sub, (*prefix, name))
