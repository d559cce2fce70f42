"""``Optimizer``: parameter groups, per-parameter state, ``zero_grad`` and ``state_dict``.

Subclasses implement ``step``. SGD and Adam go through the backend's fused step (``sgd_step``,
``adam_step``): one call per device, group and step count, covering all those parameters, so on
a GPU an optimizer step is one kernel launch rather than several per parameter. The other
optimizers (and Adam's ``amsgrad``) are composed of in-place Tensor ops under ``no_grad``, so
they run on every device, several small kernels per parameter.
"""
import copy
from typing import Any, Callable

from ..engine import enable_grad, no_grad
from ..creation import zeros_like
from ..tensor import Tensor


class Optimizer:
    """Base of the optimizers. ``params`` is an iterable of tensors, or of dicts (parameter
    groups) each with a ``"params"`` entry and any hyperparameters that override ``defaults``."""

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        self.state = {}  # param -> dict of state (tensors and numbers), keyed by identity
        self.param_groups = []
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            "Tensors or dicts, but got a Tensor; wrap it in a list: [tensor]")
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list; pass model.parameters() "
                             "of a model that has parameters")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, param_group):
        """Add a group of parameters with its own hyperparameters (e.g. a smaller ``lr``)."""
        group = dict(param_group)
        params = group["params"]
        group["params"] = [params] if isinstance(params, Tensor) else list(params)
        for p in group["params"]:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, got {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor; optimize the leaf it was "
                                 "computed from")
        for name, default in self.defaults.items():
            group.setdefault(name, default)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in group["params"]):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of every parameter (to None by default, else to zeros)."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.grad = None if set_to_none else zeros_like(p.grad)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient (each optimizer defines it).
        ``closure`` re-evaluates the model and returns the loss, which ``step`` returns."""
        raise NotImplementedError

    def _closure_loss(self, closure):
        if closure is None:
            return None
        with enable_grad():
            return closure()

    # ---- fused updates ----------------------------------------------------------------
    @staticmethod
    def _buckets(params, key=None):
        """Group parameters that have a gradient by device (and ``key(p)``): one fused call
        each."""
        buckets = {}
        for p in params:
            if p.grad is None:
                continue
            if p.grad.shape != p.shape:
                raise RuntimeError(f"gradient of shape {p.grad.shape} does not match parameter of "
                                   f"shape {p.shape}")
            if p.grad._backend is not p._backend:
                raise RuntimeError(
                    f"parameter on {p.device} has its gradient on {p.grad.device}; move both "
                    f"with model.to(device), which moves gradients too")
            bucket_key = (id(p._backend), None if key is None else key(p))
            buckets.setdefault(bucket_key, []).append(p)
        return buckets.values()

    def _params_with_grad(self, group):
        """The parameters of ``group`` that have a gradient (checked as for the fused calls)."""
        return [p for bucket in self._buckets(group["params"]) for p in bucket]

    @staticmethod
    def _effective_grad(p, maximize, weight_decay):
        """``p``'s gradient as PyTorch's optimizers use it: negated for ``maximize``, plus
        ``weight_decay * p`` (the L2 penalty) when ``weight_decay`` is not 0."""
        grad = -p.grad if maximize else p.grad
        if weight_decay:
            grad = grad + p * weight_decay
        return grad

    def _state_tensor(self, p, name):
        """The state tensor ``name`` of ``p``, created as zeros (on p's device) on first use."""
        state = self.state.setdefault(p, {})
        if name not in state:
            state[name] = zeros_like(p)
        return state[name]

    # ---- state -----------------------------------------------------------------------------
    def state_dict(self):
        """``{"state": {index: {...}}, "param_groups": [{..., "params": [index, ...]}]}`` as in
        PyTorch: parameters are numbered in group order; state tensors are shared, not copied."""
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                packed["params"].append(index[id(p)])
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if p in self.state:
                    state[index[id(p)]] = dict(self.state[p])
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore hyperparameters and state saved by ``state_dict`` (state tensors are copied
        to each parameter's device)."""
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(f"loaded state dict has {len(groups)} parameter groups, the optimizer "
                             f"has {len(self.param_groups)}")
        for i, (saved, own) in enumerate(zip(groups, self.param_groups)):
            if len(saved["params"]) != len(own["params"]):
                raise ValueError(
                    f"loaded state dict contains a parameter group (group {i}) with "
                    f"{len(saved['params'])} parameters that doesn't match the size of the "
                    f"optimizer's group ({len(own['params'])})")
        saved_state = {int(k): v for k, v in state_dict["state"].items()}
        self.state = {}
        with no_grad():
            for saved, own in zip(groups, self.param_groups):
                for index, p in zip(saved["params"], own["params"]):
                    if int(index) in saved_state:
                        self.state[p] = {
                            name: (value.to(p.device).to(p.dtype) if value.dtype.is_floating_point
                                   else value.to(p.device)).clone().detach()
                            if isinstance(value, Tensor) else copy.deepcopy(value)
                            for name, value in saved_state[int(index)].items()}
                own.update({k: copy.deepcopy(v) for k, v in saved.items() if k != "params"})

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(k for k in group if k != "params"):
                lines.append(f"    {key}: {group[key]}")
        return "\n".join(lines) + "\n)"


class PerParameterOptimizer(Optimizer):
    """An optimizer whose step updates each parameter on its own, with in-place Tensor ops under
    ``no_grad`` (so it runs on every device without a fused kernel): subclasses define
    ``_update(p, group)``."""

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; returns ``closure()``'s loss if given."""
        loss = self._closure_loss(closure)
        with no_grad():
            for group in self.param_groups:
                for p in self._params_with_grad(group):
                    self._update(p, group)
        return loss

    def _update(self, p, group):
        raise NotImplementedError
