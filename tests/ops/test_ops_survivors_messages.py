"""Exact error messages of the ops' shape checks (broadcasting binary ops, in-place writes into
expanded or read-only memory, matmul, einsum, gather, out-of-range index arrays): the whole
text is pinned, and compared with PyTorch's where gpugrad copies it. Kills the mutation-testing
survivors of the message builders (``bench/mutation.toml``, package ops)."""
import re
import warnings

import numpy as np
import pytest

import gpugrad as gg

# cpu and sim: the wording after the op's own text comes from NumPy, which both run on
DEVICES = ["cpu", "sim"]

OVERLAP = ("unsupported operation: more than one element of the written-to tensor refers to a "
           "single memory location. Please clone() the tensor before performing the operation.")


READ_ONLY = ("the tensor's memory is read-only (it shares a read-only NumPy array, e.g. from "
             "gg.from_numpy or gg.from_dlpack, or it is part of an expanded tensor, whose rows "
             "share their memory): clone() it before writing into it")


def _raises(exc_type, text):
    """``pytest.raises`` matching the whole message, not a prefix of it."""
    return pytest.raises(exc_type, match="^" + re.escape(text) + "$")


def _torch_message(fn):
    """The message of the RuntimeError that ``fn`` raises in PyTorch."""
    with pytest.raises(RuntimeError) as err:
        fn()
    return str(err.value)


@pytest.fixture(params=DEVICES)
def device(request):
    return request.param


# --- broadcasting binary ops (broadcast.checked_binary) --------------------------------------

def test_in_place_result_larger_than_target_names_both_shapes_as_pytorch(device):
    torch = pytest.importorskip("torch")
    text = "output with shape [3] doesn't match the broadcast shape [2, 3]"
    assert _torch_message(lambda: torch.zeros(3).add_(torch.ones(2, 3))) == text
    x = gg.zeros(3, device=device)
    with _raises(RuntimeError, text):
        x.add_(gg.ones(2, 3, device=device))
    assert x.tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("operand", ["number", "tensor"])
def test_in_place_into_expanded_view_is_pytorchs_overlap_error(device, operand):
    torch = pytest.importorskip("torch")
    t_other = 1.0 if operand == "number" else torch.ones(3, 3)
    assert _torch_message(lambda: torch.zeros(3, 1).expand(3, 3).add_(t_other)) == OVERLAP
    base = gg.zeros(3, 1, device=device)
    other = 1.0 if operand == "number" else gg.ones(3, 3, device=device)
    with _raises(RuntimeError, OVERLAP):
        base.expand(3, 3).add_(other)
    assert base.tolist() == [[0.0], [0.0], [0.0]]  # nothing written


def test_a_write_into_a_row_of_an_expanded_tensor_names_the_expansion(device):
    base = gg.zeros(3, device=device)
    expanded = base.expand(2, 3)
    if device == "cuda":
        pytest.skip("CuPy's broadcast views are writable")
    with _raises(RuntimeError, READ_ONLY):
        expanded[0] = 5.0
    assert base.tolist() == [0.0, 0.0, 0.0]


def test_in_place_into_read_only_numpy_memory_says_so():
    array = np.zeros(3, dtype=np.float32)
    array.flags.writeable = False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # from_numpy warns about the read-only array
        x = gg.from_numpy(array)
    with _raises(RuntimeError, READ_ONLY):
        x.add_(1.0)
    with _raises(RuntimeError, READ_ONLY):
        x.mul_(gg.ones(3))
    assert array.tolist() == [0.0, 0.0, 0.0]


def test_integer_to_negative_power_names_the_op_after_pytorchs_text(device):
    torch = pytest.importorskip("torch")
    torch_text = _torch_message(lambda: torch.tensor([2]) ** -1)
    assert torch_text == "Integers to negative integer powers are not allowed."
    with _raises(RuntimeError, "pow: " + torch_text):
        gg.tensor([2], device=device) ** -1


def test_int8_to_an_out_of_range_power_is_pytorchs_overflow_error(device):
    torch = pytest.importorskip("torch")
    text = _torch_message(lambda: torch.tensor([2], dtype=torch.int8) ** 255)
    assert text == "value cannot be converted to type int8_t without overflow"
    with _raises(RuntimeError, text):
        gg.tensor([2], dtype=gg.int8, device=device) ** 255


def test_shapes_that_do_not_broadcast_name_op_and_dimension(device):
    text = ("add: shapes (2, 3) and (4, 3) cannot be broadcast together: dimension -2 is 2 in "
            "the first and 4 in the second (sizes must be equal or 1 in each dimension, counted "
            "from the right)")
    with _raises(RuntimeError, text):
        gg.ones(2, 3, device=device) + gg.ones(4, 3, device=device)


# --- matmul (matmul._matmul_shape_error) ------------------------------------------------------

_MATMUL_CASES = [  # (shape a, shape b, the second's inner size, the words for it)
    ((2, 3), (4, 5), 4, "second-to-last"),
    ((3,), (4,), 4, "only"),
    ((2, 3), (4,), 4, "only"),
    ((2, 2, 3), (4,), 4, "only"),
    ((3,), (4, 5), 4, "second-to-last"),
    ((2, 2, 3), (5, 4, 6), 4, "second-to-last"),  # inner size is not the first: 4, not 5
    ((3,), (5, 4, 6), 4, "second-to-last"),
]


@pytest.mark.parametrize("sa, sb, inner, words", _MATMUL_CASES,
                         ids=[f"{a}@{b}" for a, b, _, _ in _MATMUL_CASES])
def test_matmul_inner_dimension_mismatch_message(device, sa, sb, inner, words):
    text = (f"matmul: shapes {sa} and {sb} cannot be multiplied: the inner dimensions differ "
            f"(3 vs {inner}); the last dimension of the first operand must equal the {words} "
            f"dimension of the second")
    with _raises(RuntimeError, text):
        gg.ones(*sa, device=device) @ gg.ones(*sb, device=device)


# --- einsum (einsum._show) --------------------------------------------------------------------

def test_einsum_letter_size_mismatch_is_pytorchs_message(device):
    torch = pytest.importorskip("torch")
    text = ("einsum(): subscript i has size 4 for operand 1 which does not broadcast with "
            "previously seen size 3")
    assert _torch_message(lambda: torch.einsum("bi,bi->b", torch.ones(2, 3),
                                               torch.ones(2, 4))) == text
    with _raises(RuntimeError, text):
        gg.einsum("bi,bi->b", gg.ones(2, 3, device=device), gg.ones(2, 4, device=device))


def test_einsum_ellipsis_size_mismatch_shows_the_ellipsis(device):
    text = ("einsum(): subscript ... has size 4 for operand 1 which does not broadcast with "
            "previously seen size 2")
    with _raises(RuntimeError, text):
        gg.einsum("...i,...i->...", gg.ones(2, 3, device=device), gg.ones(4, 3, device=device))


# --- gather / scatter shape rules (indexing._first_larger) -------------------------------------

# (2, 3, 5): dim 1, equal to self's (not larger), comes before the larger dim 2
@pytest.mark.parametrize("index_shape, first", [((2, 3, 5), 2), ((2, 4, 4), 1), ((2, 3, 4), None)])
def test_gather_index_larger_than_self_names_the_first_larger_dim_as_pytorch(
        device, index_shape, first):
    torch = pytest.importorskip("torch")
    t_self = torch.zeros(4, 3, 4)
    t_index = torch.zeros(*index_shape, dtype=torch.int64)
    x = gg.zeros(4, 3, 4, device=device)
    index = gg.zeros(*index_shape, dtype=gg.int64, device=device)
    if first is None:  # equal sizes outside dim 0 (and a smaller one along it) are fine
        assert gg.gather(x, 0, index).shape == tuple(torch.gather(t_self, 0, t_index).shape)
        return
    text = (f"Size does not match at dimension {first} expected index {list(index_shape)} to be "
            f"no larger than self [4, 3, 4] apart from dimension 0")
    assert _torch_message(lambda: torch.gather(t_self, 0, t_index)) == text
    with _raises(RuntimeError, text):
        gg.gather(x, 0, index)


# --- index arrays out of range (shape._describe) -----------------------------------------------

def _long(values, device):
    return gg.tensor(values, dtype=gg.int64, device=device)


_NUMPY_REASON = "index 7 is out of bounds for axis 1 with size 4"


@pytest.mark.parametrize("case", ["int", "slice", "none_ellipsis"])
def test_reading_an_index_array_out_of_range_describes_the_index(device, case):
    x = gg.zeros(3, 4, device=device)
    if case == "int":
        index, shown = (1, _long([7], device)), "[1, <index array of shape (1,)>]"
    elif case == "slice":
        index, shown = (slice(1, None), _long([7], device)), \
            "[slice(1, None, None), <index array of shape (1,)>]"
    else:
        index, shown = (None, Ellipsis, _long([[7]], device)), \
            "[None, Ellipsis, <index array of shape (1, 1)>]"
    with _raises(IndexError, f"index {shown} is out of range for shape (3, 4): {_NUMPY_REASON}"):
        x[index]


def test_writing_through_an_index_array_out_of_range_describes_the_index(device):
    x = gg.zeros(3, 4, device=device)
    shown = "[None, slice(1, None, None), <index array of shape (2,)>]"
    with _raises(IndexError, f"index {shown} is out of range for shape (3, 4): {_NUMPY_REASON}"):
        x[None, 1:, _long([0, 7], device)] = 1.0
    assert x.sum().item() == 0.0
