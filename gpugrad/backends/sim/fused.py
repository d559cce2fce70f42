"""The simulator's models of gpugrad's fused kernels (``kernels/``): bias+activation and its
backwards, softmax cross-entropy and its backward, and the one-launch optimizer steps.

A mixin of ``SimBackend`` (backend.py), with the same rules as its other primitives: each result's
modeled memory is reserved from the operands' shapes before NumPy computes it, and each fused
kernel is one modeled launch, as the cuda backend launches it.
"""
import numpy as np

from ..cpu import numpy_ops as ref
from ..launch_plans import bias_grad_slabs
from . import shapes
from .memory import SimArray

_as_array = ref.as_array
_numel = shapes.numel


class FusedKernels:
    """The fused primitives of the backend contract, modeled (mixed into ``SimBackend``)."""

    #: bytes each thread of gpugrad's fused and optimizer kernels moves per access (16: float4 /
    #: double2, as kernels/*.cu do); steps.py sets 0 (one element) to replay older kernels
    fused_vector_bytes = 16

    def bias_act(self, x, bias, act):
        x, bias = x.data, bias.data
        itemsize = np.result_type(x, bias).itemsize if x.dtype != bias.dtype else x.itemsize
        return self._kernel("bias_act", (x, bias),
                            _numel(shapes.broadcast(x.shape, bias.shape)) * itemsize,
                            ref.bias_act_numpy, (x, bias, act),
                            {"act": act, "vector_bytes": self.fused_vector_bytes})

    def bias_act_backward(self, grad_out, out, act):
        grad_out, out = grad_out.data, out.data
        return self._kernel("bias_act_backward", (grad_out, out), grad_out.nbytes,
                            ref.bias_act_backward_numpy, (grad_out, out, act),
                            {"act": act, "vector_bytes": self.fused_vector_bytes})

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
        grad, grad_bias = self._computed(allocs, sum(sizes), ref.bias_act_grads_numpy,
                                         grad_out, out, act)
        grad_bias = _as_array(grad_bias)
        results = SimArray(grad, allocs[0]), SimArray(grad_bias, allocs[1])
        if rows == 0 or cols == 0:
            self._launch("full", (), (grad_bias,), None, self._signature("full", (), grad_bias))
            return results
        partial = np.empty((slabs, cols), grad.dtype) if slabs > 1 else grad_bias
        info = {"act": act, "vector_bytes": self.fused_vector_bytes}
        inputs = (grad_out, out)
        self._launch("bias_act_grads", inputs, (grad, partial), info,
                     self._signature("bias_act_grads", inputs, partial, info))
        if slabs > 1:
            self._launch("bias_grad_sum", (partial,), (grad_bias,), None,
                         self._signature("bias_grad_sum", (partial,), grad_bias))
        return results

    def softmax_cross_entropy(self, logits, target):
        logits, target = logits.data, target.data
        nbytes = logits.shape[0] * logits.itemsize
        allocs = self._reserve(nbytes, nbytes)
        loss_rows, lse = self._computed(allocs, 2 * nbytes, ref.softmax_cross_entropy_numpy,
                                        logits, target)
        loss_rows, lse = _as_array(loss_rows), _as_array(lse)
        inputs = (logits, target)
        self._launch("softmax_cross_entropy", inputs, (loss_rows, lse), None,
                     self._signature("softmax_cross_entropy", inputs, loss_rows))
        return SimArray(loss_rows, allocs[0]), SimArray(lse, allocs[1])

    def softmax_cross_entropy_backward(self, logits, target, lse, grad_rows, divisor=1):
        inputs = (logits.data, target.data, lse.data, grad_rows.data)
        return self._kernel("softmax_cross_entropy_backward", inputs, inputs[0].nbytes,
                            ref.softmax_cross_entropy_backward_numpy, inputs + (divisor,))

    def sgd_step(self, params, grads, bufs, lr, momentum, dampening, weight_decay, nesterov,
                 maximize=False):
        p_data = [p.data for p in params]
        g_data = [g.data for g in grads]
        b_data = [None if b is None else b.data for b in bufs]
        # a buffer that starts now is a new device array (allocated before the kernel runs)
        starting = [b is None and bool(momentum) for b in bufs]
        sizes = [g.nbytes for g, new in zip(g_data, starting) if new]
        allocs = self._reserve(*sizes)
        new = self._computed(allocs, sum(sizes), ref.sgd_step_numpy, p_data, g_data, b_data, lr,
                             momentum, dampening, weight_decay, nesterov, maximize)
        fresh = iter(allocs)
        out_bufs = [SimArray(n, next(fresh)) if start else b
                    for b, n, start in zip(bufs, new, starting)]
        written = [n for n in new if n is not None]
        self._launch("sgd_step", g_data, p_data + written,
                     {"params": p_data, "grads": g_data, "bufs": written,
                      "vector_bytes": self.fused_vector_bytes})
        return out_bufs

    def adam_step(self, params, grads, exp_avgs, exp_avg_sqs, step, lr, beta1, beta2, eps,
                  weight_decay, decoupled, maximize=False):
        p_data = [p.data for p in params]
        g_data = [g.data for g in grads]
        m_data = [m.data for m in exp_avgs]
        v_data = [v.data for v in exp_avg_sqs]
        ref.adam_step_numpy(p_data, g_data, m_data, v_data, step, lr, beta1, beta2, eps,
                            weight_decay, decoupled, maximize)
        self._launch("adam_step", g_data + m_data + v_data + p_data, p_data + m_data + v_data,
                     {"params": p_data, "grads": g_data, "exp_avgs": m_data,
                      "exp_avg_sqs": v_data, "vector_bytes": self.fused_vector_bytes})
