"""Containers whose contents the parent module sees, as PyTorch's: ``Sequential`` (a chain of
layers), ``ModuleList`` and ``ModuleDict`` (layers by position or by name), ``ParameterList``
and ``ParameterDict`` (parameters by position or by name). Their entries are registered under
their positions (``"0"``, ``"1"``...) or names, so ``state_dict`` keys are ``"0.weight"``,
``"encoder.weight"``..."""
from collections import OrderedDict

from ..tensor import Tensor
from .module import Module
from .parameter import Parameter


def _position(container, idx):
    """``idx`` (negative counts from the end) as a position in ``container``, or IndexError."""
    n = len(container)
    if not -n <= idx < n:
        raise IndexError(f"index {idx} is out of range for {type(container).__name__} of "
                         f"length {n}")
    return idx % n


class ModuleList(Module):
    """A list of modules whose parameters the parent module sees (keys ``"0"``, ``"1"``...)."""

    def __init__(self, modules=None):
        super().__init__()
        self.extend(modules or ())

    def append(self, module):
        """Add ``module`` at the end; returns self."""
        self.add_module(str(len(self._modules)), module)
        return self

    def extend(self, modules):
        """Append each of ``modules`` (an iterable); returns self."""
        for module in modules:
            self.append(module)
        return self

    def insert(self, index, module):
        """Put ``module`` before position ``index``; the later ones move up by one."""
        entries = list(self._modules.values())
        entries.insert(index, module)
        self._renumber(entries)

    def _renumber(self, entries):
        self._modules.clear()
        for module in entries:
            self.append(module)

    def _index(self, idx):
        return _position(self, idx)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)(list(self._modules.values())[idx])
        return list(self._modules.values())[self._index(idx)]

    def __setitem__(self, idx, module):
        self.add_module(str(self._index(idx)), module)

    def __delitem__(self, idx):
        entries = list(self._modules.values())
        del entries[idx if isinstance(idx, slice) else self._index(idx)]
        self._renumber(entries)  # (positions stay 0, 1, 2...: the keys of state_dict)

    def __iadd__(self, modules):
        return self.extend(modules)

    def __add__(self, other):
        return type(self)(list(self) + list(other))

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


class Sequential(ModuleList):
    """Apply modules in order: ``Sequential(Linear(2, 16), ReLU(), Linear(16, 1))``.

    Also accepts an ``OrderedDict`` of named modules; state_dict keys are ``"0.weight"``...
    """

    def __init__(self, *modules):
        Module.__init__(self)
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, module in modules[0].items():
                self.add_module(name, module)
        else:
            self.extend(modules)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return Sequential(OrderedDict(list(self._modules.items())[idx]))
        return list(self._modules.values())[self._index(idx)]

    def forward(self, input):
        for module in self._modules.values():
            input = module(input)
        return input


class _ByName(Module):
    """The dict side of ``ModuleDict`` and ``ParameterDict``: string keys, in insertion order,
    over the registration table ``_entries`` names; subclasses define ``__setitem__``."""

    _entries = "_modules"

    def __init__(self, entries=None):
        super().__init__()
        if entries is not None:
            self.update(entries)

    def _table(self):
        return self.__dict__[self._entries]

    def __getitem__(self, key):
        return self._table()[key]

    def __delitem__(self, key):
        del self._table()[key]

    def __len__(self):
        return len(self._table())

    def __iter__(self):
        return iter(self._table())

    def __contains__(self, key):
        return key in self._table()

    def keys(self):
        return self._table().keys()

    def items(self):
        return self._table().items()

    def values(self):
        return self._table().values()

    def pop(self, key):
        """Remove the entry ``key`` and return it."""
        return self._table().pop(key)

    def clear(self):
        self._table().clear()

    def update(self, entries):
        """Add the entries of a mapping or of ``(name, value)`` pairs."""
        for key, value in entries.items() if hasattr(entries, "items") else entries:
            self[key] = value


class ModuleDict(_ByName):
    """A dict of modules by name (string keys, in insertion order) whose parameters the parent
    module sees: ``ModuleDict({"encoder": Linear(4, 2)})``, ``md["encoder"]``, ``md.items()``."""

    def __setitem__(self, key, module):
        self.add_module(_key(self, key), module)


class ParameterList(Module):
    """A list of parameters the parent module sees (keys ``"0"``, ``"1"``...); a tensor that
    is not a Parameter is made one, as in PyTorch."""

    def __init__(self, values=None):
        super().__init__()
        self.extend(values or ())

    def append(self, value):
        """Add ``value`` (a Parameter, or a tensor made one) at the end; returns self."""
        self.register_parameter(str(len(self._parameters)), _as_parameter(value))
        return self

    def extend(self, values):
        for value in values:
            self.append(value)
        return self

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)(list(self._parameters.values())[idx])
        return list(self._parameters.values())[_position(self, idx)]

    def __setitem__(self, idx, value):
        self.register_parameter(str(_position(self, idx)), _as_parameter(value))

    def __len__(self):
        return len(self._parameters)

    def __iter__(self):
        return iter(self._parameters.values())

    def __iadd__(self, values):
        return self.extend(values)

    def extra_repr(self):
        return "\n".join(f"({i}): Parameter containing: [{p.dtype.name} of size "
                         f"{'x'.join(map(str, p.shape))}]" for i, p in enumerate(self))


class ParameterDict(_ByName):
    """A dict of parameters by name the parent module sees; a tensor that is not a Parameter
    is made one, as in PyTorch."""

    _entries = "_parameters"

    def __setitem__(self, key, value):
        self.register_parameter(_key(self, key), _as_parameter(value))

    def extra_repr(self):
        return "\n".join(f"({k}): Parameter containing: [{p.dtype.name} of size "
                         f"{'x'.join(map(str, p.shape))}]" for k, p in self.items())


def _key(container, key):
    if not isinstance(key, str):
        raise TypeError(f"{type(container).__name__} keys must be strings, got "
                        f"{type(key).__name__} {key!r}")
    if "." in key or not key:
        raise KeyError(f"{type(container).__name__} key {key!r} must be a non-empty name "
                       f"without '.' (it becomes part of the state_dict keys)")
    return key


def _as_parameter(value):
    if isinstance(value, Parameter):
        return value
    if not isinstance(value, Tensor):
        raise TypeError(f"a parameter container holds tensors, got {type(value).__name__}")
    return Parameter(value)
