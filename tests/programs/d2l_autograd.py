"""d2l.ai's automatic differentiation chapter, renamed from torch to gg."""
import gpugrad as gg

x = gg.arange(4.0)
x.requires_grad_(True)
y = 2 * gg.dot(x, x)
y.backward()
grad_dot = x.grad.tolist()
check = (x.grad == 4 * x).tolist()

x.grad.zero_()
y = x.sum()
y.backward()
grad_sum = x.grad.tolist()

x.grad.zero_()
y = x * x
y.backward(gradient=gg.ones(len(y)))
grad_nonscalar = x.grad.tolist()

x.grad.zero_()
y = x * x
u = y.detach()
z = u * x
z.sum().backward()
grad_detached = (x.grad == u).tolist()

x.grad.zero_()
y.sum().backward()
grad_y = (x.grad == 2 * x).tolist()


def f(a):
    b = a * 2
    while b.norm() < 1000:
        b = b * 2
    if b.sum() > 0:
        c = b
    else:
        c = 100 * b
    return c


a = gg.tensor(0.7, requires_grad=True)
d = f(a)
d.backward()
control_flow = (a.grad == d / a).item()

RESULTS = {
    "grad_dot": grad_dot, "check": check, "grad_sum": grad_sum,
    "grad_nonscalar": grad_nonscalar, "grad_detached": grad_detached, "grad_y": grad_y,
    "control_flow": control_flow, "a_grad": a.grad.item(),
}
