"""The simulator's models of gpugrad's fused kernels (``kernels/``): bias+activation and its
backwards, softmax cross-entropy and its backward, and the one-launch optimizer steps.

A mixin of ``SimBackend`` (backend.py), with the same rules as its other primitives: the cpu
backend computes the values, each result's modeled memory is reserved from the operands' shapes
before it does, and each fused kernel is one modeled launch, as the cuda backend launches it.
The single-output ones are sized in primitives.py; the others say here what they launch.
"""
from ..launch_plans import bias_grad_slabs
from .memory import SimArray
from .meta_array import MetaArray


class FusedKernels:
    """The fused primitives of the backend contract, modeled (mixed into ``SimBackend``)."""

    def bias_act(self, x, bias, act):
        x, bias = x.data, bias.data  # (rebound: see backend.py's unary)
        return self._modeled("bias_act", x, bias, act)

    def bias_act_backward(self, grad_out, out, act):
        grad_out, out = grad_out.data, out.data
        return self._modeled("bias_act_backward", grad_out, out, act)

    def bias_act_grads(self, grad_out, out, act):
        # the cuda backend's launches: one kernel writing grad_x and per-slab column sums, then
        # (with several slabs) one adding the slabs
        grad_out, out = grad_out.data, out.data
        rows, cols = grad_out.shape
        itemsize = grad_out.itemsize
        slabs = bias_grad_slabs(rows, cols, itemsize)[2] if rows and cols else 1
        sizes = [grad_out.nbytes, cols * itemsize] + ([slabs * cols * itemsize] if slabs > 1
                                                      else [])
        allocs = self._reserve(*sizes)  # the scratch (if any) is freed when this returns
        grad, grad_bias = self._computed(allocs, sum(sizes), self.cpu.bias_act_grads,
                                         grad_out, out, act)
        results = SimArray(grad, allocs[0]), SimArray(grad_bias, allocs[1])
        if rows == 0 or cols == 0:
            self._write("full", (), (grad_bias,))
            return results
        # the slabs' partial sums: a stand-in of their shape (the scratch holds no values)
        partial = MetaArray((slabs, cols), grad.dtype) if slabs > 1 else grad_bias
        self._write("bias_act_grads", (grad_out, out), (grad, partial), {"act": act})
        if slabs > 1:
            self._write("bias_grad_sum", (partial,), (grad_bias,))
        return results

    def softmax_cross_entropy(self, logits, target, ignore_index=-100):
        # one launch writing the (2, N) loss rows and counted flags, and the (N,) lse
        logits, target = logits.data, target.data
        nbytes = logits.shape[0] * logits.itemsize
        allocs = self._reserve(2 * nbytes, nbytes)
        rows, lse = self._computed(allocs, 3 * nbytes, self.cpu.softmax_cross_entropy,
                                   logits, target, ignore_index)
        self._write("softmax_cross_entropy", (logits, target, ignore_index), (rows, lse))
        return SimArray(rows, allocs[0]), SimArray(lse, allocs[1])

    def softmax_cross_entropy_backward(self, logits, target, lse, grad_rows, divisor=1,
                                       ignore_index=-100):
        # a mean's count is a 0-d array the kernel reads on the device, as cuda's does
        divisor = divisor.data if isinstance(divisor, SimArray) else divisor
        return self._modeled("softmax_cross_entropy_backward", logits.data, target.data,
                             lse.data, grad_rows.data, divisor,
                             ignore_index)  # (operands kept: see unary)

    def sgd_step(self, params, grads, bufs, lr, momentum, dampening, weight_decay, nesterov,
                 maximize=False):
        p_data = [p.data for p in params]
        g_data = [g.data for g in grads]
        b_data = [None if b is None else b.data for b in bufs]
        # a buffer that starts now is a new device array (allocated before the kernel runs)
        starting = [b is None and bool(momentum) for b in bufs]
        sizes = [g.nbytes for g, new in zip(g_data, starting) if new]
        allocs = self._reserve(*sizes)
        new = self._computed(allocs, sum(sizes), self.cpu.sgd_step, p_data, g_data, b_data, lr,
                             momentum, dampening, weight_decay, nesterov, maximize)
        fresh = iter(allocs)
        out_bufs = [SimArray(n, next(fresh)) if start else b
                    for b, n, start in zip(bufs, new, starting)]
        written = [n for n in new if n is not None]
        self._launch("sgd_step", g_data, p_data + written,
                     {"params": p_data, "grads": g_data, "bufs": written})
        return out_bufs

    def adam_step(self, params, grads, exp_avgs, exp_avg_sqs, step, lr, beta1, beta2, eps,
                  weight_decay, decoupled, maximize=False):
        p_data = [p.data for p in params]
        g_data = [g.data for g in grads]
        m_data = [m.data for m in exp_avgs]
        v_data = [v.data for v in exp_avg_sqs]
        self.cpu.adam_step(p_data, g_data, m_data, v_data, step, lr, beta1, beta2, eps,
                           weight_decay, decoupled, maximize)
        self._launch("adam_step", g_data + m_data + v_data + p_data, p_data + m_data + v_data,
                     {"params": p_data, "grads": g_data, "exp_avgs": m_data,
                      "exp_avg_sqs": v_data})
