"""``ReduceOp``: how ``all_reduce`` and ``reduce_scatter`` combine the ranks' values."""
import enum


class ReduceOp(enum.Enum):
    """PyTorch's ``torch.distributed.ReduceOp``: SUM, AVG (the sum divided by the world size;
    integers divide truncating, as NCCL does), PRODUCT, MIN, MAX and the bitwise BAND, BOR, BXOR
    (integer and bool tensors only)."""

    SUM = 0
    AVG = 1
    PRODUCT = 2
    MIN = 3
    MAX = 4
    BAND = 5
    BOR = 6
    BXOR = 7

    def __repr__(self):
        return f"<ReduceOp.{self.name}: {self.value}>"


BITWISE = (ReduceOp.BAND, ReduceOp.BOR, ReduceOp.BXOR)


def check_op(op, dtype_name):
    """``op`` as a ReduceOp, checked for a tensor of ``dtype_name``: TypeError for what is not a
    ReduceOp, ValueError for a bitwise op on a floating tensor."""
    if not isinstance(op, ReduceOp):
        raise TypeError(f"op must be a gg.distributed.ReduceOp (e.g. ReduceOp.SUM), got {op!r}")
    if op in BITWISE and dtype_name.startswith(("float", "bfloat")):
        raise ValueError(f"ReduceOp.{op.name} needs an integer or bool tensor, got {dtype_name}")
    return op


def divide_in_place(buf, size):
    """``buf /= size`` for ReduceOp.AVG, on NumPy or CuPy arrays (operators only): floats divide,
    integers divide truncating toward zero, as NCCL's average does."""
    if buf.dtype.kind == "f":
        buf /= size
    else:
        quotient = abs(buf) // size
        quotient[buf < 0] *= -1
        buf[...] = quotient
