"""Forward hooks of a ``Module``, as PyTorch's: ``register_forward_pre_hook`` (sees, and may
replace, the inputs) and ``register_forward_hook`` (sees, and may replace, the output), each
returning a handle whose ``remove()`` takes the hook away (also as a context manager).

A module without hooks pays one dict lookup per call (``Module.__call__``)."""
import itertools
from collections import OrderedDict

_next_id = itertools.count().__next__


class RemovableHandle:
    """What registering a hook returns: ``remove()`` unregisters it (again is harmless);
    ``with module.register_forward_hook(f):`` removes it when the block ends."""

    def __init__(self, hooks):
        self._hooks = hooks
        self.id = _next_id()

    def remove(self):
        self._hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


class ForwardHooks:
    """A module's hooks: ``pre`` and ``post`` map handle ids to ``(hook, with_kwargs)``."""

    __slots__ = ("pre", "post")

    def __init__(self):
        self.pre, self.post = OrderedDict(), OrderedDict()

    def add(self, table, hook, prepend, with_kwargs):
        if not callable(hook):
            raise TypeError(f"a hook must be callable, got {type(hook).__name__}")
        handle = RemovableHandle(table)
        table[handle.id] = (hook, with_kwargs)
        if prepend:
            table.move_to_end(handle.id, last=False)
        return handle

    def call(self, module, args, kwargs):
        """``module.forward(*args, **kwargs)`` between the hooks, in registration order."""
        for hook, with_kwargs in list(self.pre.values()):
            if with_kwargs:
                result = hook(module, args, kwargs)
                if result is not None:
                    if not (isinstance(result, tuple) and len(result) == 2):
                        raise RuntimeError(f"forward pre-hook must return None or a tuple of "
                                           f"(new_args, new_kwargs), but got {result!r}.")
                    args, kwargs = result
            else:
                result = hook(module, args)
                if result is not None:
                    args = result if isinstance(result, tuple) else (result,)
        output = module.forward(*args, **kwargs)
        for hook, with_kwargs in list(self.post.values()):
            result = hook(module, args, kwargs, output) if with_kwargs else \
                hook(module, args, output)
            if result is not None:
                output = result
        return output


class HookMethods:
    """``Module``'s hook registration (mixed into ``Module``)."""

    def _forward_hooks_table(self):
        hooks = self.__dict__.get("_forward_hooks")
        if hooks is None:
            hooks = self.__dict__["_forward_hooks"] = ForwardHooks()
        return hooks

    def register_forward_pre_hook(self, hook, *, prepend=False, with_kwargs=False):
        """Call ``hook(module, args)`` before each ``forward``; a result other than None
        replaces the positional inputs (a non-tuple becomes a 1-tuple). With ``with_kwargs``,
        ``hook(module, args, kwargs)`` returns None or ``(args, kwargs)``. ``prepend`` runs it
        before the hooks already registered. Returns a ``RemovableHandle``."""
        return self._forward_hooks_table().add(self._forward_hooks_table().pre, hook, prepend,
                                               with_kwargs)

    def register_forward_hook(self, hook, *, prepend=False, with_kwargs=False):
        """Call ``hook(module, args, output)`` after each ``forward`` (``hook(module, args,
        kwargs, output)`` with ``with_kwargs``); a result other than None replaces the output.
        ``prepend`` runs it before the hooks already registered. Returns a
        ``RemovableHandle``."""
        return self._forward_hooks_table().add(self._forward_hooks_table().post, hook, prepend,
                                               with_kwargs)
