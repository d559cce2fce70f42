"""``Parameter``: a tensor that a ``Module`` registers as one of its learnable weights."""
from ..creation import empty, tensor
from ..tensor import Tensor


class Parameter(Tensor):
    """A leaf tensor that requires grad by default and that modules collect automatically.

    ``Parameter(t)`` shares ``t``'s storage (as ``torch.nn.Parameter``); any data that
    ``gg.tensor`` accepts works too.
    """

    __slots__ = ()

    def __new__(cls, data=None, requires_grad=True):
        if data is None:
            data = empty(0)
        elif not isinstance(data, Tensor):
            data = tensor(data)
        param = cls._make(data._data, data._backend, False)
        if data._version_box is None:
            data._version_box = [0]
        param._version_box = data._version_box  # one storage, one version counter
        if requires_grad:
            param.requires_grad_(True)
        return param

    def __init__(self, data=None, requires_grad=True):
        pass  # everything happens in __new__, which shares storage with ``data``

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

