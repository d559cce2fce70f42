"""What one simulated kernel does: bytes moved, flops, elements and its op class.

``spec(name, inputs, outputs, **info)`` turns one backend primitive call into a ``KernelSpec``;
a profile (``gpugrad.backends.sim.profiles``) turns a spec into modeled microseconds. The spec depends only
on shapes and dtypes, never on values, so the modeled timeline is a pure function of the program.

Counting rules: each input is read once and each output written once; a broadcast input counts
its real (stored) size; a Python number costs nothing to read. Flops are FLOP-equivalents per
output element (a transcendental such as ``exp`` costs several), and ``2*m*n*k*batch`` for a
matmul. ``spec`` runs once per distinct kernel of a device (its rows cache the result: see
kernel_rows.py), and stays cheap: no NumPy calls beyond reading ``shape``, ``dtype``, ``nbytes``
and ``strides``.
"""
from typing import NamedTuple

#: Kernel families that behave differently on a GPU (and cost differently to launch from Python).
OP_CLASSES = (
    "elementwise",   # unary/binary/where/cast/fill: one thread per output element
    "reduce_all",    # reduction to a scalar (a two-pass tree reduction)
    "reduce_inner",  # reduction over the last, contiguous axes (one row per block)
    "reduce_outer",  # reduction over leading axes (strided columns)
    "matmul",        # cuBLAS GEMM / GEMV
    "copy",          # contiguous copy or concatenate
    "transpose",     # copy of a non-contiguous (transposed, sliced) view into a dense array
    "gather",        # advanced-indexing read a[idx]
    "scatter",       # scatter-add (index_add), advanced-indexing write
    "random",        # random number generation
    "fused",         # the fused kernels: bias+activation, softmax cross-entropy
    "optimizer",     # one fused launch updating every parameter (SGD, Adam)
)

# FLOP-equivalents per element. Transcendentals use the SFU plus a few FMAs; division and pow are
# iterative. Only the ratio to the flop rate matters, and only when a kernel is compute-bound.
UNARY_FLOPS = {"neg": 1, "abs": 1, "sign": 1, "relu": 1, "sqrt": 4, "exp": 8, "log": 8,
               "log1p": 8, "expm1": 8, "tanh": 12, "sigmoid": 12,
               # unary math: rounding is one instruction; sin/cos/exp2/log2/log10 an SFU call
               # plus range reduction; inverse and hyperbolic functions and erf a polynomial
               "floor": 1, "ceil": 1, "trunc": 1, "round": 1, "sin": 8, "cos": 8, "exp2": 8,
               "log2": 8, "log10": 8, "tan": 12, "sinh": 12, "cosh": 12, "asin": 16,
               "acos": 16, "atan": 16, "asinh": 16, "acosh": 16, "atanh": 16, "erf": 16,
               "erfc": 16, "bitwise_not": 1}
BINARY_FLOPS = {"add": 1, "sub": 1, "mul": 1, "div": 4, "pow": 20, "maximum": 1, "minimum": 1,
                "eq": 1, "ne": 1, "lt": 1, "le": 1, "gt": 1, "ge": 1,
                "logical_and": 1, "logical_or": 1, "atan2": 20, "fmax": 2, "fmin": 2,
                "fmod": 20, "remainder": 24, "floor_divide": 28,
                "bitwise_and": 1, "bitwise_or": 1, "bitwise_xor": 1, "bitwise_left_shift": 1,
                "bitwise_right_shift": 1}
REDUCE_FLOPS = {"sum": 1, "mean": 1, "max": 1, "min": 1, "argmax": 2, "argmin": 2, "prod": 1}
#: FLOP-equivalents per element per pass of a radix sort: digit, histogram, prefix, scatter
SORT_PASS_FLOPS = 4
ACT_FLOPS = {"identity": 0, "relu": 1, "tanh": 12, "sigmoid": 12}
#: bytes each thread of gpugrad's fused and optimizer kernels moves per access (float4 /
#: double2, as kernels/*.cu do; see ``_vectors``)
VECTOR_BYTES = 16
_FIXED = {"where": ("elementwise", 1), "cast": ("elementwise", 0), "full": ("elementwise", 0),
          "arange": ("elementwise", 1), "random": ("random", 20)}


class KernelSpec(NamedTuple):
    """One modeled kernel launch (immutable).

    ``elements`` is the parallel work size (output elements, or input elements for a reduction;
    for gpugrad's own fused and optimizer kernels, which move 16 bytes per thread access, the
    number of 16-byte vectors: see ``_vectors``);
    ``scalars`` counts Python-number operands (they cost the host extra to wrap);
    ``gemm`` is ``(batch, m, n, k)`` for a matmul and ``None`` otherwise.
    """
    name: str
    op_class: str
    dtype: str
    bytes_read: int
    bytes_written: int
    flops: int
    shapes: tuple
    elements: int = 0
    scalars: int = 0
    gemm: tuple | None = None

    @property
    def nbytes(self):
        """Bytes moved: read plus written."""
        return self.bytes_read + self.bytes_written


_DTYPE_NAMES: dict = {}


def _dtype_name(dtype):
    """``dtype.name``, cached: NumPy builds that string on every access (microseconds)."""
    name = _DTYPE_NAMES.get(dtype)
    if name is None:
        name = _DTYPE_NAMES[dtype] = getattr(dtype, "name", None) or str(dtype)
    return name


def _stored_nbytes(a):
    """Bytes ``a`` really occupies: a broadcast view (stride 0) counts each element once."""
    strides = getattr(a, "strides", None)
    if not strides or 0 not in strides:   # also a 0-d array (strides ())
        return a.nbytes
    n = a.itemsize
    for size, stride in zip(a.shape, strides):
        if stride:
            n *= size
    return n


def _read(inputs):
    """(bytes read, shapes, number of Python-number operands, first array) of the inputs."""
    nbytes, shapes, scalars, first = 0, [], 0, None
    for a in inputs:
        shape = getattr(a, "shape", None)
        if shape is None:   # a Python number (or None): passed as a kernel argument
            scalars += 1
            shapes.append(())
            continue
        if first is None:
            first = a
        nbytes += _stored_nbytes(a)
        shapes.append(shape)
    return nbytes, tuple(shapes), scalars, first


def _outputs(outputs):
    if outputs is None:
        return ()
    if hasattr(outputs, "shape"):
        return (outputs,)
    return tuple(outputs)


def _size(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def _reduce_class(shape, axis):
    """Which reduction kernel: to a scalar, over contiguous inner axes, or over leading axes."""
    ndim = len(shape)
    if axis is None or ndim <= 1:
        return "reduce_all"
    if type(axis) is int:
        return "reduce_inner" if axis % ndim == ndim - 1 else "reduce_outer"
    axes = sorted({a % ndim for a in axis})
    if len(axes) == ndim:
        return "reduce_all"
    if axes[-1] == ndim - 1 and len(axes) == ndim - axes[0]:   # a contiguous run at the end
        return "reduce_inner"
    return "reduce_outer"


def _gemm_dims(a_shape, b_shape):
    """(batch, m, n, k) of NumPy ``matmul`` on these shapes (1-D operands promoted)."""
    a2 = (1,) + tuple(a_shape) if len(a_shape) == 1 else tuple(a_shape)
    b2 = tuple(b_shape) + (1,) if len(b_shape) == 1 else tuple(b_shape)
    m, k = a2[-2], a2[-1]
    n = b2[-1]
    batch_a, batch_b = _size(a2[:-2]), _size(b2[:-2])
    return max(batch_a, batch_b), m, n, k


def spec(name, inputs, outputs, **info):
    """The ``KernelSpec`` of one backend primitive.

    ``name``: "unary:<op>", "binary:<op>", "reduce:<op>", "scan:<op>", "sort", "where", "cast", "matmul", "copy",
    "getitem", "index_add", "index_put", "full", "arange", "random", "bias_act",
    "bias_act_backward", "bias_act_grads", "bias_grad_sum", "im2col", "col2im", "max_pool2d",
    "max_pool2d_backward",
    "softmax_cross_entropy",
    "softmax_cross_entropy_backward", "sgd_step", "adam_step".
    ``inputs``: arrays or Python numbers read by the kernel; ``outputs``: an array or a list of
    arrays written. ``info``: ``axis=`` for reductions and scans; ``params=``, ``grads=`` (and ``bufs=``,
    ``exp_avgs=``, ``exp_avg_sqs=``) for the optimizer steps, which are one launch over all
    parameters; ``act=`` for the fused bias+activation kernels.
    """
    outs = _outputs(outputs)
    nread, shapes, scalars, first = _read(inputs)
    nwritten = 0
    for o in outs:
        nwritten += o.nbytes
    lead = first if first is not None else (outs[0] if outs else None)
    dtype = _dtype_name(lead.dtype) if lead is not None else "float32"
    out_elems = _size(outs[0].shape) if outs else 0
    kind, _, op = name.partition(":")

    if kind == "binary":
        return KernelSpec(name, "elementwise", dtype, nread, nwritten,
                          BINARY_FLOPS.get(op, 1) * out_elems, shapes, out_elems, scalars)
    if kind == "unary":
        return KernelSpec(name, "elementwise", dtype, nread, nwritten,
                          UNARY_FLOPS.get(op, 1) * out_elems, shapes, out_elems, scalars)
    if kind == "reduce":
        in_elems = _size(first.shape)
        cls = _reduce_class(first.shape, info.get("axis"))
        return KernelSpec(name, cls, dtype, nread, nwritten, REDUCE_FLOPS.get(op, 1) * in_elems,
                          shapes, in_elems, scalars)
    if kind == "scan":
        return _scan_spec(name, op, first, info.get("axis"), nread, nwritten, shapes, scalars)
    if name == "sort":
        return _sort_spec(first, nread, nwritten, shapes, scalars)
    if name == "matmul":
        batch, m, n, k = _gemm_dims(shapes[0], shapes[1])
        return KernelSpec(name, "matmul", dtype, nread, nwritten, 2 * batch * m * n * k, shapes,
                          batch * m * n, scalars, (batch, m, n, k))
    if name == "copy":
        strided = first is not None and not _dense(first)
        return KernelSpec(name, "transpose" if strided else "copy", dtype, nread, nwritten, 0,
                          shapes, out_elems, scalars)
    if name == "getitem":
        # A gather reads only the selected elements of the source, plus the index arrays.
        index_bytes = nread - _stored_nbytes(first)
        return KernelSpec(name, "gather", dtype, nwritten + index_bytes, nwritten, 0, shapes,
                          out_elems, scalars)
    if name == "index_add":
        # One thread per value: reads it and its indices, then read-modify-writes only the
        # destination elements it hits (the rest of the output was filled by another kernel).
        n = _size(shapes[0]) if shapes[0] else _size(shapes[-1])
        itemsize = outs[0].itemsize if outs else 4
        return KernelSpec(name, "scatter", dtype, nread + n * itemsize, n * itemsize, n,
                          shapes, n, scalars)
    if name == "index_put":
        # ``a[index] = value`` in place: one thread per written element (the output given is the
        # selected region), reading the value (a broadcast one once) and the index arrays; an
        # elementwise copy into a view unless index arrays make it a scatter
        cls = "scatter" if len(shapes) > 1 else "elementwise"
        return KernelSpec(name, cls, _dtype_name(outs[0].dtype), nread, nwritten, 0, shapes,
                          out_elems, scalars)
    if name == "im2col":
        # one thread per column entry; the windows overlap, so each input element comes from
        # DRAM about once (the other reads of it hit the cache) and each entry is written once
        return KernelSpec(name, "gather", dtype, nread, nwritten, 0, shapes, out_elems, scalars)
    if name == "col2im":
        # one thread per image element reads the column entries that cover it and adds them:
        # every column entry read once, one add each, each element written once (no atomics)
        in_elems = _size(first.shape)
        return KernelSpec(name, "gather", dtype, nread, nwritten, in_elems, shapes, out_elems,
                          scalars)
    if name == "max_pool2d":
        # one thread per window compares its taps (``taps=``): each input element comes from
        # DRAM about once (overlapping windows hit the cache), the maxima and indices written
        return KernelSpec(name, "gather", dtype, nread, nwritten, info["taps"] * out_elems,
                          shapes, out_elems, scalars)
    if name == "max_pool2d_backward":
        # one thread per image element reads the index (and gradient) of each window covering
        # it, each read once from DRAM, and adds where the window chose it: no atomics
        return KernelSpec(name, "gather", dtype, nread, nwritten, _size(first.shape), shapes,
                          out_elems, scalars)
    if name in ("bias_act", "bias_act_backward", "bias_act_grads"):
        per = ACT_FLOPS.get(info.get("act", "relu"), 1) + (name != "bias_act_backward")
        itemsize = outs[0].itemsize
        # the 2-D kernels pack a row only when its length is a multiple of the lanes
        packed = name == "bias_act_backward" or outs[0].shape[-1] % _lanes(itemsize) == 0
        work = _vectors(out_elems, itemsize) if packed else out_elems
        return KernelSpec(name, "fused", dtype, nread, nwritten, per * out_elems, shapes,
                          work, scalars)
    if name == "bias_grad_sum":  # one thread per column adds the slabs' partial sums
        in_elems = _size(first.shape)
        return KernelSpec(name, "fused", dtype, nread, nwritten, in_elems, shapes, in_elems,
                          scalars)
    if name in ("softmax_cross_entropy", "softmax_cross_entropy_backward"):
        in_elems = _size(first.shape)
        return KernelSpec(name, "fused", dtype, nread, nwritten, 12 * in_elems, shapes,
                          in_elems, scalars)
    if name in ("sgd_step", "adam_step"):
        return _optimizer_spec(name, info, shapes)
    cls, per = _FIXED.get(name, (None, 0))
    if cls is None:
        raise ValueError(f"costmodel.spec: unknown primitive {name!r}; expected unary:<op>, "
                         f"binary:<op>, reduce:<op>, matmul, copy, getitem, index_add, index_put, "
                         f"where, cast, full, arange, random or a fused kernel name")
    return KernelSpec(name, cls, dtype, nread, nwritten, per * out_elems, shapes, out_elems,
                      scalars)


def _scan_spec(name, op, first, axis, nread, nwritten, shapes, scalars):
    """cumsum/cumprod: CuPy's single-pass scan reads the input and writes the result once.
    cummax/cummin: CuPy's ``ufunc.accumulate`` has only add and multiply, so the cuda backend
    runs a doubling (Hillis-Steele) scan instead: ``ceil(log2 n)`` passes along the axis of
    length ``n``, each reading two shifted copies and writing one. Classed as the reduction
    along the same axis (contiguous inner, or strided outer)."""
    shape = first.shape
    elements = _size(shape)
    length = shape[axis] if shape else 1
    passes = 1 if op in ("sum", "prod") else max(1, (length - 1).bit_length())
    reads = nread if passes == 1 else 2 * nread * passes
    return KernelSpec(name, _reduce_class(shape, axis), _dtype_name(first.dtype), reads,
                      nwritten * passes, elements * passes, shapes, elements * passes, scalars)


def _sort_spec(first, nread, nwritten, shapes, scalars):
    """A stable sort with indices, modeled as CuPy's (thrust's) LSD radix sort of the keys with
    the int64 indices as payload: one pass per byte of the key (8-bit digits), each reading and
    writing every key and index once, besides reading the input and writing the two results.
    Each pass scatters every element to its digit's bucket: the scatter class."""
    elements = _size(first.shape)
    passes = first.itemsize
    moved = passes * elements * (first.itemsize + 8)
    return KernelSpec("sort", "scatter", _dtype_name(first.dtype), nread + moved,
                      nwritten + moved, SORT_PASS_FLOPS * passes * elements, shapes,
                      elements * passes, scalars)


def _dense(a):
    """Read in order: contiguous, or a broadcast (stride-0) view whose few elements stay cached."""
    flags = getattr(a, "flags", None)
    return flags is None or flags.c_contiguous or 0 in a.strides


def _lanes(itemsize):
    """Elements per 16-byte access (1 for an element wider than that)."""
    return VECTOR_BYTES // itemsize if 0 < itemsize <= VECTOR_BYTES else 1


def _vectors(elements, itemsize):
    """Thread accesses of a kernel moving ``VECTOR_BYTES`` (float4 / double2) per access.

    The element-rate ceiling (profile.py) was fitted on CuPy's one-element-per-thread kernels;
    gpugrad's fused and optimizer kernels issue one access per 16 bytes (kernels/*.cu), so their
    work size is counted in vectors. Assumed, not yet measured on a GPU: that a vector access
    issues at the rate of a scalar one, i.e. these kernels are bound by bandwidth, as CuPy's
    8-byte (float64) kernels measured on the H200 are.
    """
    lanes = _lanes(itemsize)
    return (elements + lanes - 1) // lanes


def _optimizer_spec(name, info, shapes):
    """One launch over all parameters: reads param, grad and state, writes param and state."""
    params = info.get("params") or ()
    state_names = ("bufs",) if name == "sgd_step" else ("exp_avgs", "exp_avg_sqs")
    per_flops = 4 if name == "sgd_step" else 14
    elems = vectors = nparam = 0
    for p in params:
        elems += _size(p.shape)
        vectors += _vectors(_size(p.shape), p.itemsize)
        nparam += p.nbytes
    nstate = 0
    for key in state_names:
        for s in info.get(key) or ():
            if s is not None:
                nstate += s.nbytes
    dtype = _dtype_name(params[0].dtype) if params else "float32"
    pshapes = tuple(p.shape for p in params) or shapes
    return KernelSpec(name, "optimizer", dtype, 2 * nparam + nstate, nparam + nstate,
                      per_flops * elems, pshapes, vectors, 0)
