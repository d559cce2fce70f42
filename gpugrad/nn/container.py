"""Containers: ``Sequential`` (a chain of layers) and ``ModuleList`` (a list of layers)."""
from collections import OrderedDict

from .module import Module


class ModuleList(Module):
    """A list of modules whose parameters the parent module sees (keys ``"0"``, ``"1"``...)."""

    def __init__(self, modules=None):
        super().__init__()
        for module in modules or ():
            self.append(module)

    def append(self, module):
        self.add_module(str(len(self._modules)), module)
        return self

    def _index(self, idx):
        n = len(self._modules)
        if not -n <= idx < n:
            raise IndexError(f"index {idx} is out of range for {type(self).__name__} of length {n}")
        return idx % n

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)(list(self._modules.values())[idx])
        return list(self._modules.values())[self._index(idx)]

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
            for module in modules:
                self.append(module)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return Sequential(OrderedDict(list(self._modules.items())[idx]))
        return list(self._modules.values())[self._index(idx)]

    def forward(self, input):
        for module in self._modules.values():
            input = module(input)
        return input
