"""``Module``: the base of every layer. It finds its parameters, moves them and saves them.

A module registers what is assigned to its attributes: a ``Parameter`` becomes a parameter, a
``Module`` a child, and ``register_buffer`` adds non-learnable state. Everything else (walking
the tree, ``to(device)``, ``state_dict``) follows from those three dictionaries, as in PyTorch.
"""
from collections import OrderedDict, namedtuple
from typing import Any, Iterator, TypeVar

from ..creation import zeros_like
from ..engine import no_grad
from ..device_registry import Device, add_device_methods, get_backend
from ..dtypes import DType, as_dtype
from ..tensor import Tensor
from .module_hooks import HookMethods
from .parameter import Parameter

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])
_M = TypeVar("_M", bound="Module")  # ``model.to("sim")`` returns the model, typed as itself


class Module(HookMethods):
    """Base class of layers and models: subclasses set attributes in ``__init__`` and define
    ``forward``; calling the module calls ``forward`` (between its forward hooks, if any:
    ``register_forward_pre_hook``, ``register_forward_hook``)."""

    training = True

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # ---- registration -------------------------------------------------------------------
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"cannot assign {name!r} before Module.__init__() call; call super().__init__() "
                f"first in {type(self).__name__}.__init__"
            )
        for table, kind, expected, spelled in _REGISTERED:
            entries = self.__dict__[table]
            if name in entries:
                if value is None:  # ``self.bias = None`` keeps the slot registered (PyTorch's)
                    entries[name] = None
                    return
                if not isinstance(value, expected):  # (a plain attribute would shadow it)
                    raise TypeError(f"cannot assign '{type(value).__name__}' as {kind} "
                                    f"'{name}' ({spelled} or None expected)")
        for table in (self._parameters, self._buffers, self._modules):
            table.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        elif isinstance(value, Tensor) and name in self.__dict__.get("_buffer_names", ()):
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)
            return
        self.__dict__.pop(name, None)

    def __getattr__(self, name):
        # Only called when normal lookup fails: parameters, buffers and children live in tables.
        for table in ("_parameters", "_buffers", "_modules"):
            entries = self.__dict__.get(table)
            if entries is not None and name in entries:
                return entries[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for table in (self._parameters, self._buffers, self._modules):
            if name in table:
                del table[name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name, param):
        """Add ``param`` (a Parameter, or None for an absent one such as ``bias=False``)."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{type(param).__name__}' as parameter '{name}' "
                            f"(gg.nn.Parameter or None expected)")
        self.__dict__.pop(name, None)
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        """Add non-learnable state, moved by ``to``; saved in ``state_dict`` unless
        ``persistent=False`` (state derived again at construction, such as a causal mask)."""
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{type(tensor).__name__}' as buffer '{name}' "
                            f"(gg.Tensor or None expected)")
        self.__dict__.setdefault("_buffer_names", set()).add(name)
        transient = self.__dict__.setdefault("_non_persistent", set())
        if persistent:
            transient.discard(name)
        else:
            transient.add(name)
        self.__dict__.pop(name, None)
        self._buffers[name] = tensor

    def add_module(self, name, module):
        """Add ``module`` (or None) as the child ``name``, as ``self.name = module`` does."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self.__dict__.pop(name, None)
        self._modules[name] = module

    # ---- calling ------------------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The computation; every subclass defines it. Call the module, not ``forward``."""
        raise NotImplementedError(f"Module [{type(self).__name__}] is missing the required "
                                  f"\"forward\" function")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        hooks = self.__dict__.get("_forward_hooks")
        if hooks is None:
            return self.forward(*args, **kwargs)
        return hooks.call(self, args, kwargs)

    # ---- walking the tree ---------------------------------------------------------------
    def named_modules(self, prefix="", memo=None):
        """``(name, module)`` for this module and every descendant, each once."""
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                yield from child.named_modules(f"{prefix}.{name}" if prefix else name, memo)

    def modules(self):
        """This module and every descendant, each once."""
        for _, module in self.named_modules():
            yield module

    def named_children(self):
        """``(name, module)`` for each direct child, each once."""
        seen = set()
        for name, child in self._modules.items():
            if child is not None and id(child) not in seen:
                seen.add(id(child))
                yield name, child

    def children(self):
        """The direct children, each once."""
        for _, child in self.named_children():
            yield child

    def _named_members(self, table, prefix, recurse, remove_duplicate=True):
        seen = set()
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        if not remove_duplicate:
            modules = _named_modules_with_repeats(self, prefix) if recurse else modules
        for module_prefix, module in modules:
            for name, value in getattr(module, table).items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield (f"{module_prefix}.{name}" if module_prefix else name), value

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """``(name, parameter)`` pairs, names dotted as in PyTorch (``"0.weight"``); a shared
        parameter once, unless ``remove_duplicate=False`` (then under each of its names)."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Every parameter (of descendants too unless ``recurse=False``), each once."""
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        """``(name, buffer)`` pairs, names dotted as in ``named_parameters``."""
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def get_submodule(self, target: str) -> "Module":
        """The descendant at dotted path ``target`` (``"encoder.0"``; ``""`` is self)."""
        module = self
        for name in target.split(".") if target else ():
            child = module._modules.get(name)
            if not isinstance(child, Module):
                if child is None and not hasattr(module, name):
                    raise AttributeError(f"{type(module).__name__} has no attribute `{name}`")
                raise AttributeError(f"`{name}` is not an nn.Module")
            module = child
        return module

    def get_parameter(self, target: str) -> Parameter:
        """The parameter at dotted path ``target`` (``"encoder.0.weight"``)."""
        return self._get_member(target, "_parameters", "nn.Parameter")

    def get_buffer(self, target: str) -> Tensor:
        """The buffer at dotted path ``target`` (``"bn.running_mean"``)."""
        return self._get_member(target, "_buffers", "buffer")

    def _get_member(self, target, table, kind):
        module_path, _, name = target.rpartition(".")
        module = self.get_submodule(module_path)
        if name not in getattr(module, table):
            if not hasattr(module, name):
                raise AttributeError(f"{type(module).__name__} has no attribute `{name}`")
            raise AttributeError(f"`{name}` is not an {kind}")
        return getattr(module, table)[name]

    def buffers(self, recurse=True):
        """Every buffer (of descendants too unless ``recurse=False``), each once."""
        for _, buf in self.named_buffers(recurse=recurse):
            yield buf

    def apply(self, fn):
        """Call ``fn(module)`` on every child (depth first), then on self; returns self."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # ---- training state -----------------------------------------------------------------
    def train(self: _M, mode: bool = True) -> _M:
        """Set training mode (Dropout drops) on self and descendants; returns self."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self: _M) -> _M:
        """Set evaluation mode (Dropout is the identity); returns self."""
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        """Set ``requires_grad`` on every parameter (False freezes them); returns self."""
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all parameters: to None (the default), or to zeros."""
        for param in self.parameters():
            _reset_grad(param, set_to_none)

    # ---- devices and dtypes -------------------------------------------------------------
    def to(self: _M, *args: Any, device: Any = None, dtype: Any = None,
           non_blocking: bool = False) -> _M:
        """Move (and/or cast) every parameter and buffer IN PLACE: ``model.to("sim")``.

        Parameters keep their identity, so an optimizer built before the move keeps working;
        gradients move with them. Only floating tensors change dtype. ``non_blocking`` is
        PyTorch's hint, accepted (the moves complete before ``to`` returns). Returns self.
        """
        for arg in args:
            if isinstance(arg, bool):  # (non_blocking, positionally)
                continue
            if isinstance(arg, (str, Device)):
                device = arg
            elif isinstance(arg, (DType, Tensor)) or hasattr(arg, "name"):
                dtype = arg.dtype if isinstance(arg, Tensor) else arg
            else:
                raise TypeError(f"to() received an invalid argument {arg!r}; expected a device "
                                f"such as \"sim\" or a dtype such as gg.float64")
        if device is not None:
            get_backend(device)  # raises now (e.g. DeviceUnavailableError) before moving anything
        dtype = as_dtype(dtype)
        with no_grad():
            for tensor in list(self.parameters()) + list(self.buffers()):
                _move_in_place(tensor, device, dtype)
                if tensor.grad is not None:
                    _move_in_place(tensor.grad, device, dtype)
        return self

    def cpu(self):
        """``self.to("cpu")``."""
        return self.to("cpu")

    # sim(), cuda(): one method per other device type, added below the class

    def float(self):
        """Cast floating parameters and buffers to float32, in place; returns self."""
        return self.to(dtype=as_dtype("float32"))

    def double(self):
        """Cast floating parameters and buffers to float64, in place; returns self."""
        return self.to(dtype=as_dtype("float64"))

    def half(self):
        """Cast floating parameters and buffers to float16, in place; returns self."""
        return self.to(dtype=as_dtype("float16"))

    def bfloat16(self):
        """Cast floating parameters and buffers to bfloat16, in place; returns self."""
        return self.to(dtype=as_dtype("bfloat16"))

    # ---- state ---------------------------------------------------------------------------
    def state_dict(self, prefix: str = "", keep_vars: bool = False) -> dict[str, Tensor]:
        """An ordered dict of parameter and buffer tensors by dotted name (``"0.weight"``).

        The tensors share storage with the module (detached unless ``keep_vars``). Buffers
        registered with ``persistent=False`` are left out.
        """
        out = OrderedDict()
        # (a module shared under two names is saved under both, as PyTorch saves it)
        for module_prefix, module in _named_modules_with_repeats(self, prefix.rstrip(".")):
            transient = module.__dict__.get("_non_persistent", ())
            for table in (module._parameters, module._buffers):
                for name, value in table.items():
                    if value is not None and not (table is module._buffers and
                                                  name in transient):
                        key = f"{module_prefix}.{name}" if module_prefix else name
                        out[key] = value if keep_vars else value.detach()
        return out

    def load_state_dict(self, state_dict: dict[str, Any], strict: bool = True
                        ) -> IncompatibleKeys:
        """Copy values from ``state_dict`` into the parameters and buffers, in place.

        With ``strict`` (the default) a missing or unexpected key raises an error naming it; a
        shape mismatch always does. Values may come from another device; they are copied to
        where the parameters live. Returns ``(missing_keys, unexpected_keys)``.
        """
        if not hasattr(state_dict, "items"):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict).__name__}")
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors = []
        if strict:
            if unexpected:
                errors.append("Unexpected key(s) in state_dict: "
                              + ", ".join(f'"{k}"' for k in unexpected) + ". ")
            if missing:
                errors.append("Missing key(s) in state_dict: "
                              + ", ".join(f'"{k}"' for k in missing) + ". ")
        for key, target in own.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            shape = tuple(getattr(value, "shape", ()))
            if shape != target.shape:
                errors.append(f"size mismatch for {key}: copying a param with shape {shape} from "
                              f"checkpoint, the shape in current model is {target.shape}.")
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                               + "\n\t".join(errors))
        with no_grad():
            for key, target in own.items():
                if key in state_dict:
                    target.copy_(state_dict[key])
        return IncompatibleKeys(missing, unexpected)

    # ---- printing -------------------------------------------------------------------------
    def extra_repr(self):
        """The text inside this module's parentheses in ``repr`` (layers override it)."""
        return ""

    def __repr__(self):
        lines = [line for line in self.extra_repr().split("\n") if line]
        for name, child in self._modules.items():
            child_text = repr(child).replace("\n", "\n  ")
            lines.append(f"({name}): {child_text}")
        if not self._modules:
            return f"{type(self).__name__}({', '.join(lines)})"
        return f"{type(self).__name__}(\n  " + "\n  ".join(lines) + "\n)"


add_device_methods(Module)  # model.sim(), model.cuda(1)...: one per device type (cpu is above)

# what a name registered in each table takes: (table, what it holds, its type, as spelled)
_REGISTERED = (("_parameters", "parameter", Parameter, "gg.nn.Parameter"),
               ("_buffers", "buffer", Tensor, "gg.Tensor"),
               ("_modules", "child module", Module, "gg.nn.Module"))


def _named_modules_with_repeats(module, prefix):
    """``named_modules`` with a shared module under each of its names (not once)."""
    yield prefix, module
    for name, child in module._modules.items():
        if child is not None:
            yield from _named_modules_with_repeats(child, f"{prefix}.{name}" if prefix else name)


def _move_in_place(tensor, device, dtype):
    """Give ``tensor`` the data of ``tensor.to(device, dtype)`` while keeping its identity."""
    if dtype is not None and not tensor.dtype.is_floating_point:
        dtype = None
    moved = tensor.detach().to(device=device, dtype=dtype)
    if moved._data is not tensor._data:  # new storage: no longer a view of what it was
        tensor._data, tensor._backend = moved._data, moved._backend
        tensor._view = tensor._version_box = None


def _reset_grad(param, set_to_none):
    if param.grad is None:
        return
    if set_to_none:
        param.grad = None
    else:
        # A fresh zero tensor rather than zero_(): a gradient may be a read-only broadcast view.
        param.grad = zeros_like(param.grad)
