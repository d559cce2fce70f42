"""softmax and log_softmax along a dim, stable for any finite logits (max subtracted first)."""
from ..function import Function


def _shifted(backend, a, dim):
    return backend.binary("sub", a, backend.reduce("max", a, dim, True))


class Softmax(Function):
    save_output = True

    def forward(self, a, dim=-1):
        self.dim = dim
        e = self.backend.unary("exp", _shifted(self.backend, a, dim))
        return self.backend.binary("div", e, self.backend.reduce("sum", e, dim, True))

    def backward(self, grad):
        y = self.output()
        return y * (grad - (grad * y).sum(dim=self.dim, keepdim=True))


class LogSoftmax(Function):
    save_output = True

    def forward(self, a, dim=-1):
        self.dim = dim
        b = self.backend
        shifted = _shifted(b, a, dim)
        lse = b.unary("log", b.reduce("sum", b.unary("exp", shifted), dim, True))
        return b.binary("sub", shifted, lse)

    def backward(self, grad):
        y = self.output()
        return grad - y.exp() * grad.sum(dim=self.dim, keepdim=True)
