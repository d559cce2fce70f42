"""Checked argument types of the ``gpugrad`` command, and the usage error it raises after parsing.

A value out of range is a usage error (exit status 2) whose message names the flag, whether
argparse finds it (the types here) or the command does (``UsageError``).
"""
import argparse
import math


class UsageError(ValueError):
    """The command line asks for something that cannot be done; the message says what and how
    to fix it. The ``gpugrad`` command prints it and exits with status 2, as argparse does."""


def int_at_least(minimum):
    """An argparse ``type`` for integers of at least ``minimum``: ``--epochs 0`` is rejected
    with "argument --epochs: must be at least 1, got 0"."""

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    parse.__name__ = f"integer of at least {minimum}"
    return parse


def finite_float(minimum=-math.inf):
    """An argparse ``type`` for finite floats of at least ``minimum``: ``--lr nan`` is rejected
    with "argument --lr: must be a finite number, got 'nan'"."""

    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum:g}, got {text}")
        return value

    parse.__name__ = "finite number"
    return parse
