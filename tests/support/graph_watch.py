"""Graph checks for tests that must see what autograd's plumbing carries, not only values:
leaves that should not be in a graph, and engine hooks that check every tensor an op receives
and every gradient a backward returns."""
import gpugrad as gg


def stray_leaves(tensors, users):
    """The leaves (AccumulateGrad variables) in the graphs of ``tensors`` that are not one of
    ``users``: a mask or other internal tensor made to require grad shows up here."""
    seen, stack, stray = set(), [t.grad_fn for t in tensors if t.grad_fn is not None], []
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        for nxt, _ in node.next_functions:
            if nxt is None:
                continue
            variable = getattr(nxt, "variable", None)
            if variable is not None:
                if not any(variable is u for u in users):
                    stray.append(variable)
            else:
                stack.append(nxt)
    return stray


class GraphWatch:
    """Engine hooks that record every tensor an op receives and every gradient a backward
    returns, to check that each is a proper tensor (bool requires_grad, a device) or None."""

    def __init__(self):
        self.inputs, self.grads = [], []

    def __enter__(self):
        self._handles = [
            gg.engine.register_forward_hook(
                lambda fn, inputs, result: self.inputs.extend(
                    x for x in inputs if isinstance(x, gg.Tensor))),
            gg.engine.register_backward_hook(
                lambda fn, grads: self.grads.extend(
                    grads if isinstance(grads, tuple) else (grads,))),
        ]
        return self

    def __exit__(self, *exc):
        for h in self._handles:
            h.remove()

    def check(self, device="cpu"):
        for x in self.inputs:
            assert type(x.requires_grad) is bool
            assert x.device == gg.device(device)
        for g in self.grads:
            assert g is None or isinstance(g, gg.Tensor), f"gradient {g!r} is not a Tensor"
