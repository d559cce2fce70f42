"""Shape helpers shared by the ops: broadcasting rules, errors that name the op, ``sum_to``."""


def broadcast_shapes(op_name, shape_a, shape_b):
    """The broadcast of two shapes, or a RuntimeError naming the op and both shapes."""
    ndim = max(len(shape_a), len(shape_b))
    pa = (1,) * (ndim - len(shape_a)) + tuple(shape_a)
    pb = (1,) * (ndim - len(shape_b)) + tuple(shape_b)
    out = []
    for i, (x, y) in enumerate(zip(pa, pb)):
        if x == y or y == 1:
            out.append(x)
        elif x == 1:
            out.append(y)
        else:
            raise RuntimeError(
                f"{op_name}: shapes {tuple(shape_a)} and {tuple(shape_b)} cannot be broadcast "
                f"together: dimension {i - ndim} is {x} in the first and {y} in the second (sizes "
                f"must be equal or 1 in each dimension, counted from the right)"
            )
    return tuple(out)


def broadcast_mismatch(target, source):
    """The first dimension (counted in ``target``) where ``source`` cannot broadcast to
    ``target``, as ``(dim, target size, source size)``, or None when it can."""
    lead = len(target) - len(source)
    if lead < 0:
        return 0, None, None
    for i, (t, s) in enumerate(zip(target[lead:], source)):
        if s != t and s != 1:
            return i + lead, t, s
    return None


def shape_of(x):
    """The shape of a backend array, or None for a Python number."""
    return getattr(x, "shape", None)


def checked_binary(backend, op_name, a, b, dtype=None, out=None):
    """``backend.binary`` whose failures name the op: both shapes when they do not broadcast,
    else NumPy's reason as a RuntimeError (``int ** -1``: "Integers to negative integer powers
    are not allowed.")."""
    try:
        return backend.binary(op_name, a, b, dtype, out)
    except ValueError as exc:
        shape = broadcast_shapes(op_name, shape_of(a) or (), shape_of(b) or ())
        if out is not None and shape != tuple(out.shape):
            raise RuntimeError(f"output with shape {list(out.shape)} doesn't match the "
                               f"broadcast shape {list(shape)}") from None
        if "read-only" in str(exc):
            raise read_only_error(backend, out) from None
        raise RuntimeError(f"{op_name}: {exc}") from None


class _SameShape:
    """The ``shape`` of ``sum_to`` for an operand whose shape is the result's: its gradient
    needs no reduction. Ops record it instead of the operand's shape tuple (a tuple per operand
    kept alive per op is work for the cyclic garbage collector while the graph lives)."""

    __slots__ = ()

    def __repr__(self):
        return "SAME_SHAPE"


SAME_SHAPE = _SameShape()


def sum_to(grad, shape):
    """Sum a broadcast gradient back down to ``shape`` (None for a number: no gradient;
    ``SAME_SHAPE``: the gradient's own)."""
    if shape is SAME_SHAPE:
        return grad
    if shape is None:
        return None
    gshape = grad.shape
    if gshape == shape:
        return grad
    dims = summed_dims(gshape, shape)
    if dims:
        grad = grad.sum(dim=dims, keepdim=True)
    return grad.reshape(shape) if grad.shape != shape else grad


def summed_dims(grad_shape, shape):
    """The dimensions of a gradient of ``grad_shape`` that broadcasting from ``shape`` made:
    the leading ones it added and those where ``shape`` has 1 (``sum_to`` sums over them)."""
    lead = len(grad_shape) - len(shape)
    return tuple(range(lead)) + tuple(
        i + lead for i, s in enumerate(shape) if s == 1 and grad_shape[i + lead] != 1
    )


def sum_to_array(backend, grad, shape):
    """``sum_to`` on a backend array (None for a number's shape: no gradient)."""
    if shape is SAME_SHAPE:
        return grad
    if shape is None:
        return None
    gshape = grad.shape
    if gshape == shape:
        return grad
    dims = summed_dims(gshape, shape)
    if dims:
        grad = backend.reduce("sum", grad, None if len(dims) == len(gshape) else dims, True)
    return backend.reshape(grad, shape) if grad.shape != shape else grad


def normalize_dims(dim, ndim, op_name="reduction"):
    """``dim`` (None, an int or a sequence of ints, possibly negative) as a sorted tuple."""
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    out = []
    for d in dims:
        if not isinstance(d, int) or isinstance(d, bool):
            raise TypeError(f"{op_name}: dim must be an int or a tuple of ints, got {dim!r}")
        if not -max(ndim, 1) <= d < max(ndim, 1):
            raise IndexError(
                f"{op_name}: Dimension out of range (expected to be in range of "
                f"[{-max(ndim, 1)}, {max(ndim, 1) - 1}], but got {d})"
            )
        if ndim:  # a 0-d tensor accepts dim 0 or -1 and has no dims to reduce
            if d % ndim in out:  # x.sum(dim=(0, 0)) or (1, -1): PyTorch refuses, so do we
                raise RuntimeError(f"{op_name}: dim {d % ndim} appears multiple times in the "
                                   f"list of dims")
            out.append(d % ndim)
    return tuple(sorted(out))


def reduction_dims(dim, ndim, op_name="reduction"):
    """``normalize_dims`` for reductions: an empty tuple or list means every dim, as in PyTorch."""
    if isinstance(dim, (tuple, list)) and not dim:
        dim = None
    return normalize_dims(dim, ndim, op_name)


def keepdim_shape(shape, dims):
    """``shape`` with each reduced dim set to 1."""
    return tuple(1 if i in dims else s for i, s in enumerate(shape))


OVERLAP_MESSAGE = ("unsupported operation: more than one element of the written-to tensor refers "
                   "to a single memory location. Please clone() the tensor before performing the "
                   "operation.")
READ_ONLY_MESSAGE = ("the tensor's memory is read-only (it shares a read-only NumPy array, e.g. "
                     "from gg.from_numpy or gg.from_dlpack, or it is part of an expanded tensor, "
                     "whose rows share their memory): clone() it before writing into it")


def read_only_error(backend, array):
    """The error for a write into a read-only array: an expanded view (several elements at one
    address, as PyTorch words it) or memory that was read-only to begin with."""
    return RuntimeError(OVERLAP_MESSAGE if 0 in backend.strides(array) else READ_ONLY_MESSAGE)
