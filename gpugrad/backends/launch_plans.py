"""Launch plans that a real device runs and the simulator models: one definition, so the two
cannot drift apart. Both ``backends/cuda`` and ``backends/sim`` import from here."""

GRAD_ROW_LANES = 8  # blockDim.y of bias_act_grads (GRAD_ROW_LANES in kernels/bias_act.cu)
GRAD_TARGET_BLOCKS = 1024  # enough blocks of bias_act_grads to fill a large GPU several times


def bias_grad_slabs(rows, cols, itemsize, aligned=True):
    """The launch plan of ``bias_act_grads`` for a (rows, cols) gradient, as the cuda backend
    runs it and the simulator models it: ``(packed, blocks_x, slabs, rows_per_slab)``.

    A block covers 32 (packed: 16-byte) columns and one slab of rows; rows are cut into slabs
    until about ``GRAD_TARGET_BLOCKS`` packed blocks run, each slab a multiple of 8 rows. One
    slab means the kernel writes the bias gradient itself; more need ``bias_grad_sum`` to add
    them. The slabs do not depend on ``aligned``, so both paths add in the same order and give
    the same bits.
    """
    lanes = 16 // itemsize
    packed = aligned and cols % lanes == 0
    blocks_x = ceil_div(cols // lanes if packed else cols, 32)
    packed_blocks_x = ceil_div(ceil_div(cols, lanes), 32)
    slabs = min(max(1, ceil_div(GRAD_TARGET_BLOCKS, packed_blocks_x)),
                ceil_div(rows, GRAD_ROW_LANES), 65535)
    rows_per_slab = ceil_div(ceil_div(rows, slabs), GRAD_ROW_LANES) * GRAD_ROW_LANES
    return packed, blocks_x, ceil_div(rows, rows_per_slab), rows_per_slab


def ceil_div(a, b):
    """``a / b`` rounded up, for positive ints."""
    return -(-a // b)
