"""Data types and PyTorch's type promotion. Plain objects, so the engine needs no array library.

``promote_types(a, b)`` and ``result_type(...)`` follow ``torch.promote_types`` and
``torch.result_type`` exactly and are computed here, before any array op runs, so results do not
depend on the installed NumPy's own rules (which changed between NumPy 1 and 2).
"""
import numbers


class DType:
    """A tensor element type, named as in PyTorch (``gg.float32``, ``gg.int64``, ...).

    ``is_floating_point`` and ``is_signed`` as in PyTorch; ``itemsize`` in bytes;
    ``is_low_precision`` for float16 and bfloat16, whose ops compute in float32 and round, as
    PyTorch's CPU does. Compares equal to its name (``x.dtype == "float32"``).
    """

    __slots__ = ("name", "itemsize", "is_floating_point", "is_signed", "is_low_precision",
                 "code", "native", "_category")

    def __init__(self, name, itemsize, category, code, is_signed=True):
        self.name = name
        self.itemsize = itemsize
        self._category = category  # 0 bool, 1 integer, 2 floating (PyTorch's categories)
        self.is_floating_point = category == 2
        self.is_signed = is_signed
        self.is_low_precision = category == 2 and itemsize == 2
        self.code = code  # a small int naming the dtype: hashing it is cheap (dispatch caches)
        # the array library's dtype object, filled in by the backends (NumPy and CuPy share
        # NumPy's dtype objects); read on every op instead of a dict lookup
        self.native = None

    def __repr__(self):
        return f"gpugrad.{self.name}"

    def __eq__(self, other):
        if isinstance(other, str):
            return other == self.name
        return self is other

    def __hash__(self):
        return hash(self.name)

    def __reduce__(self):
        return (as_dtype, (self.name,))


bool_ = DType("bool", 1, 0, 0, is_signed=False)
uint8 = DType("uint8", 1, 1, 1, is_signed=False)
int8 = DType("int8", 1, 1, 2)
int16 = DType("int16", 2, 1, 3)
int32 = DType("int32", 4, 1, 4)
int64 = DType("int64", 8, 1, 5)
float16 = DType("float16", 2, 2, 6)
bfloat16 = DType("bfloat16", 2, 2, 7)
float32 = DType("float32", 4, 2, 8)
float64 = DType("float64", 8, 2, 9)

ALL = (bool_, uint8, int8, int16, int32, int64, float16, bfloat16, float32, float64)
_BY_NAME = {d.name: d for d in ALL}
_BY_NAME.update({"float": float32, "double": float64, "half": float16, "long": int64,
                 "int": int32, "short": int16, "bool_": bool_})
# Python's own types, as PyTorch reads them in ``dtype=``: float is double precision
_BY_PYTHON_TYPE = {float: float64, int: int64, bool: bool_}
# The default float dtype (``torch.get_default_dtype()``): of Python floats, of float creation
# (``zeros``, ``rand``, ``tensor([1.5])``) and of float results of integer ops. Process-wide, as
# in PyTorch; every reader looks it up at call time, so ``set_default_dtype`` needs no hook.
DEFAULT_FLOAT = float32
SUPPORTED = ", ".join(d.name for d in ALL)


def as_dtype(dtype):
    """The gpugrad DType for ``dtype``: a DType, a name (``"float64"``, ``"half"``), a NumPy
    dtype or scalar type (``np.float32``), Python's ``float``/``int``/``bool`` (float64, int64,
    bool, as in PyTorch), a PyTorch dtype, or None (returned as is)."""
    if dtype is None or isinstance(dtype, DType):
        return dtype
    found = _BY_PYTHON_TYPE.get(dtype) if isinstance(dtype, type) else None
    if found is not None:
        return found
    name = dtype if isinstance(dtype, str) else getattr(dtype, "name", None)
    if not isinstance(name, str):  # a NumPy scalar type (np.float32) or a torch dtype
        name = getattr(getattr(dtype, "dtype", None), "name", None) or str(dtype)
        if name.startswith("<class 'numpy."):  # np.float32 itself: its dtype names it
            name = name[len("<class 'numpy."):-2]
    if name.startswith("torch."):
        name = name[len("torch."):]
    try:
        return _BY_NAME[name]
    except KeyError:
        raise TypeError(f"unsupported dtype {dtype!r}; gpugrad supports {SUPPORTED} (and the "
                        f"names float, double, half, long, int, short)") from None



def set_default_dtype(d):
    """Make ``d`` (a floating dtype) the default float dtype, as ``torch.set_default_dtype``:
    the dtype of ``gg.tensor([1.5])``, ``gg.zeros(2)``, ``gg.rand(2)``, ``gg.arange(0.5)``, and
    of ``int_tensor * 0.5`` or ``int_tensor.exp()``. Process-wide (all threads), as in PyTorch."""
    global DEFAULT_FLOAT
    dtype = as_dtype(d)
    if dtype is None or not dtype.is_floating_point:
        raise TypeError("only floating-point types are supported as the default type")
    DEFAULT_FLOAT = dtype


def get_default_dtype():
    """The default float dtype (``gg.float32`` unless ``set_default_dtype`` changed it)."""
    return DEFAULT_FLOAT


# ---- promotion -------------------------------------------------------------------------------
def _promote(a, b):
    if a is b:
        return a
    if a._category != b._category:
        return a if a._category > b._category else b
    if a._category == 2:  # floating: the wider; float16 with bfloat16 needs float32
        if a.itemsize == b.itemsize:
            return float32
        return a if a.itemsize > b.itemsize else b
    # integers: uint8 with a signed type needs a signed type wider than 8 bits
    if a.is_signed == b.is_signed:
        return a if a.itemsize > b.itemsize else b
    signed = a if a.is_signed else b
    return int16 if signed.itemsize == 1 else signed


_PROMOTED = {(a, b): _promote(a, b) for a in ALL for b in ALL}


def promote_types(a, b):
    """The smallest type both ``a`` and ``b`` convert to, as ``torch.promote_types``."""
    return _PROMOTED[(as_dtype(a), as_dtype(b))]


def scalar_dtype(value):
    """The dtype a Python or NumPy number stands for in promotion: bool, int64 or the default
    float (PyTorch's "wrapped numbers"). Raises TypeError for anything else."""
    kind = type(value)
    if kind is float:
        return DEFAULT_FLOAT
    if kind is int:
        return int64
    if kind is bool:
        return bool_
    # NumPy scalars (np.float64 is a float, np.int8 an Integral, np.float32 a Real) count as
    # numbers of their category, as PyTorch reads them
    if isinstance(value, numbers.Integral):
        return int64
    if isinstance(value, numbers.Real):
        return DEFAULT_FLOAT
    name = getattr(getattr(value, "dtype", None), "name", None)
    if name in ("bool", "bfloat16") and kind.__name__ != "ndarray" and value.shape == ():
        return bool_ if name == "bool" else DEFAULT_FLOAT  # np.bool_, ml_dtypes.bfloat16
    raise TypeError(f"expected a Tensor or a number, got {kind.__name__}")


def as_number(value, op_name):
    """``value`` as a Python number (a NumPy scalar counts as one of its category), or the
    TypeError PyTorch gives for an operand that is neither a tensor nor a number."""
    try:
        kind = scalar_dtype(value)
    except TypeError:
        raise TypeError(f"{op_name}(): argument 'other' must be Tensor or Number, not "
                        f"{type(value).__name__}") from None
    return bool(value) if kind is bool_ else int(value) if kind is int64 else float(value)


def _combine(higher, lower):
    """PyTorch's ``combine_categories``: ``higher`` (a more specific operand class) wins unless
    ``lower`` is of a higher category."""
    if higher is None:
        return lower
    if lower is None or higher._category == 2:
        return higher
    if higher is bool_ or lower._category == 2:
        return _PROMOTED[(higher, lower)]
    return higher


def result_type_of(dimensioned, zero_dim, scalars):
    """``torch.result_type`` from the operands' dtypes by class: tensors with dimensions, 0-d
    tensors, and numbers (given as their ``scalar_dtype``). Each argument is an iterable of
    dtypes; a 0-d tensor or a number promotes the result only when its category (bool <
    integer < floating) is higher than that of the classes before it."""
    results = []
    for group in (dimensioned, zero_dim, scalars):
        out = None
        for d in group:
            out = d if out is None else _PROMOTED[(out, d)]
        results.append(out)
    dim, zero, wrapped = results
    out = _combine(dim, _combine(zero, wrapped))
    if out is None:
        raise TypeError("result_type needs at least one operand")
    return out


# binary promotion is on every op's dispatch: memoized by the operands' (dtype, class) pairs
_BINARY_CACHE: dict = {}


def binary_result_type(a, a_class, b, b_class):
    """The result dtype of a binary op on operands of dtypes ``a`` and ``b``, each of class 2
    (a tensor with dimensions), 1 (a 0-d tensor) or 0 (a number)."""
    key = ((a.code * 3 + a_class) * 10 + b.code) * 3 + b_class
    out = _BINARY_CACHE.get(key)
    if out is None:
        groups = ([], [], [])
        groups[2 - a_class].append(a)
        groups[2 - b_class].append(b)
        out = _BINARY_CACHE[key] = result_type_of(*groups)
    return out


def can_cast(src, dst):
    """Whether an in-place op may write a ``src`` result into a ``dst`` tensor: not from a
    higher category (float into an integer or bool tensor, integer into bool), as PyTorch's
    ``torch.can_cast``."""
    return src._category <= dst._category


# unary ops whose result is floating even for integer or bool input (PyTorch's rule)
FLOAT_RESULT_OPS = frozenset(("exp", "log", "sqrt", "tanh", "sigmoid", "log1p", "expm1",
                              "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh",
                              "asinh", "acosh", "atanh", "log2", "log10", "exp2", "erf", "erfc"))


def unary_result_type(op, dtype):
    """The result dtype of unary ``op`` on ``dtype``: the default float for ``exp``, ``log``
    and the like on integers and bools, else ``dtype``."""
    if op in FLOAT_RESULT_OPS and not dtype.is_floating_point:
        return DEFAULT_FLOAT
    return dtype


def default_float_for(dtype):
    """The result dtype of a floating op (``exp``, ``/``, ``mean``) on ``dtype``: ``dtype`` if
    it is floating, else the default float (``get_default_dtype()``), as PyTorch does for
    integer inputs."""
    return dtype if dtype.is_floating_point else DEFAULT_FLOAT
