"""Every field of the gather and fused kernels' KernelSpecs, with a Python-number operand, worked
out by hand from the shapes (float32: 4 bytes; one scalar costs no bytes and adds a () shape)."""
import numpy as np
import pytest

from gpugrad.backends.sim import costmodel
from gpugrad.backends.sim.costmodel import KernelSpec

F = np.float32


def z(*shape):
    return np.zeros(shape, F)


@pytest.mark.parametrize("name, inputs, output, info, expected", [
    # (name, class, dtype, read, written, flops, shapes, elements, scalars)
    ("im2col", [z(2, 3, 8, 8), 2.0], z(2, 27, 36), {},
     ("gather", 384 * 4, 1944 * 4, 0, 1944)),
    ("col2im", [z(2, 27, 36), 2.0], z(2, 3, 8, 8), {},
     ("gather", 1944 * 4, 384 * 4, 1944, 384)),
    ("max_pool2d", [z(2, 3, 8, 8), 2.0], z(2, 3, 4, 4), {"taps": 4},
     ("gather", 384 * 4, 96 * 4, 4 * 96, 96)),
    ("max_pool2d_backward", [z(2, 3, 4, 4), 2.0], z(2, 3, 8, 8), {},
     ("gather", 96 * 4, 384 * 4, 96, 384)),
    ("bias_grad_sum", [z(4, 10), 2.0], z(10), {},
     ("fused", 40 * 4, 10 * 4, 40, 40)),
    ("softmax_cross_entropy", [z(4, 10), 2.0], z(4), {},
     ("fused", 40 * 4, 4 * 4, 12 * 40, 40)),
])
def test_gather_and_fused_specs(name, inputs, output, info, expected):
    cls, nread, nwritten, flops, elements = expected
    shapes = (inputs[0].shape, ())
    assert costmodel.spec(name, inputs, output, **info) == KernelSpec(
        name, cls, "float32", nread, nwritten, flops, shapes, elements, 1)


def test_bias_act_counts_activation_and_bias_flops_and_packs_rows():
    x, b = z(4, 8), z(8)
    spec = costmodel.spec("bias_act", [x, b, 2.0], z(4, 8), act="tanh")
    # 12 flops of tanh + 1 add per element; 8 floats a row are 2 float4 vectors each
    assert spec == KernelSpec("bias_act", "fused", "float32", 40 * 4, 32 * 4, 13 * 32,
                              ((4, 8), (8,), ()), 8, 1)
    # 6 floats a row are not a whole number of float4s: one thread per element
    odd = costmodel.spec("bias_act", [z(4, 6), z(6)], z(4, 6), act="relu")
    assert odd.elements == 24 and odd.flops == 2 * 24 and odd.scalars == 0
    back = costmodel.spec("bias_act_backward", [z(4, 6), z(4, 6)], z(4, 6), act="sigmoid")
    assert back.flops == 12 * 24 and back.elements == 6
