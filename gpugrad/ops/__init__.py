"""Differentiable ops: each one a ``Function`` with its forward and backward together."""
