"""Deliberate mistakes: ``tests/test_typing.py`` checks that mypy reports each line marked
``# error``, which proves the stubs are seen (without them every name would be Any)."""
import gpugrad as gg

x = gg.ones(2, 3)
x.relux()  # error: a misspelled Tensor method
gg.matmull(x, x)  # error: a misspelled gg function
x.sum(dim="a")  # error: dim is an int or a sequence of ints
y: int = x.mean()  # error: a Tensor is no int
z: gg.Tensor = x.max(dim=0)  # error: max(dim) returns (values, indices)
