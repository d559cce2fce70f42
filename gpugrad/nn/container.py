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


class _Entries(Module):
    """What the containers share: their entries are one registration table of the module
    (``_entries``: ``"_modules"`` or ``"_parameters"``), and ``_put(key, value)`` registers
    one, as the parent module would see it."""

    _entries = "_modules"

    def _table(self):
        return self.__dict__[self._entries]

    def _put(self, key, value):
        self.add_module(key, value)

    def __len__(self):
        return len(self._table())


class _ByPosition(_Entries):
    """The list side of ``ModuleList`` and ``ParameterList``: entries under ``"0"``, ``"1"``...,
    renumbered after an insertion or a deletion (the keys of ``state_dict``)."""

    def __init__(self, values=None):
        super().__init__()
        self.extend(values or ())

    def append(self, value):
        """Add ``value`` at the end; returns self."""
        self._put(str(len(self)), value)
        return self

    def extend(self, values):
        """Append each of ``values`` (an iterable); returns self."""
        for value in values:
            self.append(value)
        return self

    def insert(self, index, value):
        """Put ``value`` before position ``index``; the later ones move up by one."""
        entries = list(self)
        entries.insert(index, value)
        self._renumber(entries)

    def _renumber(self, entries):
        self._table().clear()
        self.extend(entries)

    def _index(self, idx):
        return _position(self, idx)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)(list(self)[idx])
        return list(self)[self._index(idx)]

    def __setitem__(self, idx, value):
        self._put(str(self._index(idx)), value)

    def __delitem__(self, idx):
        entries = list(self)
        del entries[idx if isinstance(idx, slice) else self._index(idx)]
        self._renumber(entries)

    def __iadd__(self, values):
        return self.extend(values)

    def __add__(self, other):
        return type(self)(list(self) + list(other))

    def __iter__(self):
        return iter(self._table().values())


class _ByName(_Entries):
    """The dict side of ``ModuleDict`` and ``ParameterDict``: string keys, in insertion order."""

    def __init__(self, entries=None):
        super().__init__()
        if entries is not None:
            self.update(entries)

    def __getitem__(self, key):
        return self._table()[key]

    def __setitem__(self, key, value):
        self._put(_key(self, key), value)

    def __delitem__(self, key):
        del self._table()[key]

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


class _Parameters(_Entries):
    """Entries that are parameters: a tensor that is not a Parameter is made one, as in
    PyTorch."""

    _entries = "_parameters"

    def _put(self, key, value):
        self.register_parameter(key, _as_parameter(value))

    def extra_repr(self):
        return "\n".join(f"({k}): Parameter containing: [{p.dtype.name} of size "
                         f"{'x'.join(map(str, p.shape))}]" for k, p in self._table().items())


class ModuleList(_ByPosition):
    """A list of modules whose parameters the parent module sees (keys ``"0"``, ``"1"``...)."""


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


class ModuleDict(_ByName):
    """A dict of modules by name (string keys, in insertion order) whose parameters the parent
    module sees: ``ModuleDict({"encoder": Linear(4, 2)})``, ``md["encoder"]``, ``md.items()``."""


class ParameterList(_Parameters, _ByPosition):
    """A list of parameters the parent module sees (keys ``"0"``, ``"1"``...); a tensor that
    is not a Parameter is made one, as in PyTorch."""


class ParameterDict(_Parameters, _ByName):
    """A dict of parameters by name the parent module sees; a tensor that is not a Parameter
    is made one, as in PyTorch."""


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
