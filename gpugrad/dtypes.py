"""Data types. Plain objects, so the engine needs no array library to name them."""


class DType:
    """A tensor element type, named as in PyTorch (``gg.float32``, ``gg.int64``, ...)."""

    __slots__ = ("name", "itemsize", "is_floating_point")

    def __init__(self, name, itemsize, is_floating_point):
        self.name = name
        self.itemsize = itemsize
        self.is_floating_point = is_floating_point

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


float32 = DType("float32", 4, True)
float64 = DType("float64", 8, True)
int32 = DType("int32", 4, False)
int64 = DType("int64", 8, False)
bool_ = DType("bool", 1, False)

_BY_NAME = {d.name: d for d in (float32, float64, int32, int64, bool_)}
_BY_NAME.update({"float": float32, "double": float64, "long": int64, "int": int32})
DEFAULT_FLOAT = float32


def as_dtype(dtype):
    """Return the gpugrad DType for ``dtype`` (a DType, a name such as ``"float64"``, or None)."""
    if dtype is None or isinstance(dtype, DType):
        return dtype
    name = getattr(dtype, "name", None) or str(dtype)
    try:
        return _BY_NAME[name]
    except KeyError:
        raise TypeError(
            f"unsupported dtype {dtype!r}; gpugrad supports float32, float64, int32, int64 and bool"
        ) from None
