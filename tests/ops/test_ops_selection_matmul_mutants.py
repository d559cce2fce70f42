"""masked_fill, matmul and the indexing checks where the other tests do not reach: a 0-d tensor
fill value and its gradient, the errors PyTorch raises, matmul's gradients with vector operands
of size 1 and with ``create_graph=True``, the kernels a backward skips on sim, and the graph
hygiene of the backward (no stray leaves, only tensors as gradients) seen through engine hooks."""
import numpy as np
import pytest

import gpugrad as gg
from support.gradtools import assert_close
from support.graph_watch import GraphWatch, stray_leaves

R = np.random.default_rng(23)
MASK = np.array([[True, False, True], [False, False, True]])
A = R.standard_normal((2, 3))
W = R.standard_normal((2, 3))


# ---- masked_fill ---------------------------------------------------------------------------------
@pytest.mark.parametrize("inplace", [False, True])
def test_masked_fill_with_a_0d_tensor_value_gets_its_gradient_as_torch(inplace, torch):
    def run(lib):
        x = lib.tensor(A, requires_grad=True)
        v = lib.tensor(1.75, dtype=x.dtype, requires_grad=True)
        mask, w = lib.tensor(MASK), lib.tensor(W)
        y = (x * 1.0).masked_fill_(mask, v) if inplace else x.masked_fill(mask, v)
        (y * w).sum().backward()
        return y, x.grad, v.grad

    for got, expected in zip(run(gg), run(torch)):
        assert_close(got, expected)


def test_masked_fill_0d_value_second_derivatives_match_torch(torch):
    def run(lib):
        x = lib.tensor(A, requires_grad=True)
        v = lib.tensor(-0.5, dtype=x.dtype, requires_grad=True)
        y = x.masked_fill(lib.tensor(MASK), v)
        gx, gv = lib.autograd.grad((y * y * lib.tensor(W)).sum(), (x, v), create_graph=True)
        return (gx, gv) + lib.autograd.grad((gx * gx).sum() + gv * gv, (x, v))

    for got, expected in zip(run(gg), run(torch)):
        assert_close(got, expected)


def test_masked_fill_0d_value_gradcheck():
    mask = gg.tensor(MASK)
    x = gg.tensor(A, requires_grad=True)
    v = gg.tensor(0.25, dtype=gg.float64, requires_grad=True)
    assert gg.gradcheck(lambda a, b: a.masked_fill(mask, b), (x, v))


def test_masked_fill_errors_are_torchs(torch):
    x, tx = gg.tensor(A), torch.tensor(A)
    for lib, t in ((gg, x), (torch, tx)):
        with pytest.raises(RuntimeError, match=r"^masked_fill_ only supports a 0-dimensional value "
                           r"tensor, but got tensor with 1 dimension\(s\)\.$"):
            t.masked_fill(lib.tensor(MASK), lib.tensor([1.0], dtype=t.dtype))
    with pytest.raises(RuntimeError, match=r"^masked_fill_ only supports boolean masks, but got "
                       r"mask with dtype long int$"):
        tx.masked_fill(torch.tensor(MASK.astype(np.int64)), 1.0)
    # the mask's dtype closes the message (PyTorch spells int64 "long int", gpugrad "int64")
    with pytest.raises(RuntimeError, match=r"^masked_fill_ only supports boolean masks, but got "
                       r"mask with dtype (long int|int64)$"):
        x.masked_fill(gg.tensor(MASK.astype(np.int64)), 1.0)


def test_masked_fill_backward_skips_the_value_gradient_for_a_number():
    """A number fill value needs no gradient: its backward runs fewer kernels than that of a
    0-d tensor value that requires grad (the masked sum is not computed)."""
    gg.sim.configure("sim:0")
    mask = gg.tensor(MASK, device="sim")

    def backward_kernels(value):
        x = gg.tensor(A, device="sim", requires_grad=True)
        y = x.masked_fill(mask, value)
        grad = gg.ones(2, 3, device="sim")
        gg.sim.reset("sim:0")
        y.backward(grad)
        return gg.sim.stats("sim:0").kernels

    with_number = backward_kernels(2.0)
    with_tensor = backward_kernels(gg.tensor(2.0, device="sim", requires_grad=True))
    assert with_number < with_tensor


def test_masked_fill_double_backward_graph_is_clean():
    x = gg.tensor(A, requires_grad=True)
    mask = gg.tensor(MASK)
    with GraphWatch() as watch:
        (gx,) = gg.grad((x.masked_fill(mask, 3.0) ** 2).sum(), (x,), create_graph=True)
        (gx * gx).sum().backward()
    watch.check("cpu")
    assert stray_leaves([gx], [x]) == []
    assert_close(x.grad, np.where(MASK, 0.0, 8.0 * A))


# ---- matmul --------------------------------------------------------------------------------------
@pytest.mark.parametrize("sa, sb", [((1,), (1, 1)), ((1,), (2, 1, 1)), ((1,), (1, 3)),
                                    ((1, 1), (1,)), ((2, 1, 1), (1,)), ((3, 1), (1,))])
def test_matmul_vector_operand_of_size_1_gradients_match_torch(sa, sb, torch):
    a_data, b_data = R.standard_normal(sa), R.standard_normal(sb)

    def run(lib):
        a = lib.tensor(a_data, requires_grad=True)
        b = lib.tensor(b_data, requires_grad=True)
        y = a @ b
        y.backward(lib.tensor(np.arange(1.0, 1.0 + np.prod(y.shape)).reshape(y.shape)))
        return a.grad, b.grad

    for got, expected in zip(run(gg), run(torch)):
        assert_close(got, expected)


@pytest.mark.parametrize("sa, sb", [((3, 4), (4, 2)), ((2, 3, 4), (4, 2)), ((3, 4), (2, 4, 2))])
@pytest.mark.parametrize("need", [(True, True), (True, False), (False, True)])
def test_matmul_create_graph_gradients_match_torch(sa, sb, need, torch):
    a_data, b_data = R.standard_normal(sa), R.standard_normal(sb)

    def run(lib):
        a = lib.tensor(a_data, requires_grad=need[0])
        b = lib.tensor(b_data, requires_grad=need[1])
        wrt = [t for t in (a, b) if t.requires_grad]
        y = a @ b
        first = lib.autograd.grad((y * y).sum(), wrt, create_graph=True)
        second = lib.autograd.grad(sum((g * g).sum() for g in first), wrt)
        return first + second

    got, expected = run(gg), run(torch)
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert_close(g, e)


def test_matmul_create_graph_backward_skips_the_product_nobody_reads():
    """With create_graph, an operand outside the graph gets no gradient product: one matmul
    kernel where both operands requiring grad take two."""
    gg.sim.configure("sim:0")

    def kernels(need_a, need_b):
        a = gg.randn(3, 4, device="sim", requires_grad=need_a)
        b = gg.randn(4, 5, device="sim", requires_grad=need_b)
        y = a @ b
        grad = gg.ones(3, 5, device="sim")
        gg.sim.reset("sim:0")
        gg.grad(y, [t for t in (a, b) if t.requires_grad], grad, create_graph=True)
        return gg.sim.stats("sim:0").kernels

    both = kernels(True, True)
    assert kernels(True, False) < both
    assert kernels(False, True) < both


def test_matmul_gradient_for_an_operand_outside_the_graph_is_none():
    """Backward hooks see None (not a placeholder) for an input that needs no gradient."""
    a = gg.tensor(A)
    b = gg.tensor(R.standard_normal((3, 2)), requires_grad=True)
    with GraphWatch() as watch:
        (a @ b).sum().backward()
    watch.check("cpu")
    assert_close(b.grad, np.repeat(A.sum(axis=0)[:, None], 2, axis=1))


def test_matmul_mixed_dtypes_error_names_m1_and_m2():
    for sa, sb in (((2, 3), (3, 2)), ((3,), (3,))):
        with pytest.raises(RuntimeError, match=r"^expected m1 and m2 to have the same dtype, "
                           r"but got: float32 != float64"):
            gg.ones(*sa) @ gg.ones(*sb, dtype=gg.float64)


# ---- indexing checks -----------------------------------------------------------------------------
@pytest.mark.parametrize("op", ["gather", "scatter", "index_select"])
def test_index_on_another_device_error_names_both_devices_and_the_op(op):
    x = gg.zeros(3, 4)
    call = {
        "gather": lambda: x.gather(0, gg.zeros(2, 2, dtype=gg.int64, device="sim")),
        "scatter": lambda: x.scatter(0, gg.zeros(2, 2, dtype=gg.int64, device="sim"), 1.0),
        "index_select": lambda: x.index_select(0, gg.zeros(2, dtype=gg.int64, device="sim")),
    }[op]
    with pytest.raises(RuntimeError, match=r"^Expected all tensors to be on the same device, but "
                       rf"found at least two devices, cpu and sim:0 \(in {op}\)\. "):
        call()


def test_scatter_src_of_another_rank_error_is_torchs(torch):
    for lib in (gg, torch):
        x, index = lib.zeros(3, 4), lib.zeros(2, 2, dtype=lib.int64)
        with pytest.raises(RuntimeError, match=r"^Index tensor must have the same number of "
                           r"dimensions as src tensor$"):
            x.scatter(0, index, lib.ones(2, 2, 1))


@pytest.mark.parametrize("dim, index_shape, bad", [(0, (3, 3), 1), (1, (3, 3), 0)])
def test_gather_size_error_names_the_first_larger_dimension_apart_from_dim(dim, index_shape, bad,
                                                                             torch):
    for lib in (gg, torch):
        x = lib.zeros(2, 2)
        with pytest.raises(RuntimeError, match=rf"^Size does not match at dimension {bad} "
                           rf"expected index \[3, 3\] to be no larger than self \[2, 2\] apart "
                           rf"from dimension {dim}$"):
            x.gather(dim, lib.zeros(*index_shape, dtype=lib.int64))


@pytest.mark.parametrize("shape, offset", [((2, 3), 3), ((2, 3), 5), ((2, 3), -2), ((0, 3), 0),
                                           ((3, 0), 1)])
def test_empty_diagonal_matches_torch(shape, offset, torch):
    data = R.standard_normal(shape)
    got = gg.tensor(data).diagonal(offset=offset)
    assert_close(got, torch.tensor(data).diagonal(offset=offset))
    assert_close(gg.diag(gg.tensor(data), offset), torch.diag(torch.tensor(data), offset))
