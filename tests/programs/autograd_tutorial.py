"""PyTorch's "Automatic Differentiation with torch.autograd" tutorial, renamed from torch to gg
(random weights replaced by fixed ones so PyTorch's numbers are the oracle)."""
import gpugrad as gg

x = gg.ones(5)  # input tensor
y = gg.zeros(3)  # expected output
w = gg.linspace(-1.0, 1.0, 15).reshape(5, 3).requires_grad_(True)
b = gg.tensor([0.1, -0.2, 0.3], requires_grad=True)
z = gg.matmul(x, w) + b
loss = gg.nn.functional.binary_cross_entropy_with_logits(z, y)

grad_fn_z = z.grad_fn.name()
grad_fn_loss = loss.grad_fn.name()

loss.backward()
w_grad, b_grad = w.grad.tolist(), b.grad.tolist()

z = gg.matmul(x, w) + b
requires_before = z.requires_grad
with gg.no_grad():
    z = gg.matmul(x, w) + b
requires_in_no_grad = z.requires_grad

z = gg.matmul(x, w) + b
z_det = z.detach()
requires_detached = z_det.requires_grad

inp = gg.eye(4, 5, requires_grad=True)
out = (inp + 1).pow(2).t()
out.backward(gg.ones_like(out), retain_graph=True)
first_call = inp.grad.tolist()
out.backward(gg.ones_like(out), retain_graph=True)
second_call = inp.grad.tolist()
inp.grad.zero_()
out.backward(gg.ones_like(out), retain_graph=True)
after_zero = inp.grad.tolist()

RESULTS = {
    "loss": loss.item(), "w_grad": w_grad, "b_grad": b_grad,
    "grad_fn": [grad_fn_z, grad_fn_loss],
    "requires": [requires_before, requires_in_no_grad, requires_detached],
    "first_call": first_call, "second_call": second_call, "after_zero": after_zero,
}
