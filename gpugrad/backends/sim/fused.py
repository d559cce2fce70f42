"""The simulator's models of gpugrad's fused kernels (``kernels/``): bias+activation and its
backwards, softmax cross-entropy and its backward, and the one-launch optimizer steps.

A mixin of ``SimBackend`` (backend.py), with the same rules as its other primitives: the cpu
backend computes the values, each result's modeled memory is reserved from the operands' shapes
before it does, and each fused kernel is one modeled launch, as the cuda backend launches it.
The single-output ones are sized in primitives.py; the others say here what they launch.
"""
import functools

from ..launch_plans import bias_grad_slabs
from .kernel_rows import operand_sig as _sig
from .memory import SimArray, new_array as _array
from .meta_array import MetaArray


_PARTIALS: dict = {}  # (slabs, cols, dtype) -> MetaArray: a stand-in is immutable, so shared


def _partials(slabs, cols, dtype):
    """The stand-in for ``bias_act_grads``' (slabs, cols) scratch of partial sums."""
    partial = _PARTIALS.get((slabs, cols, dtype))
    if partial is None:
        if len(_PARTIALS) >= 256:  # (shapes are few in a program; bound them anyway)
            _PARTIALS.clear()
        partial = _PARTIALS[slabs, cols, dtype] = MetaArray((slabs, cols), dtype)
    return partial


@functools.lru_cache(maxsize=256)
def _slabs(rows, cols, itemsize):
    """How many row slabs ``bias_act_grads`` splits a (rows, cols) gradient into (cached: a
    program has few shapes)."""
    return bias_grad_slabs(rows, cols, itemsize)[2] if rows and cols else 1


def _grads_sizes(grad_out):
    """The byte sizes of ``bias_act_grads``' results and scratch (with several slabs)."""
    rows, cols = grad_out.shape
    itemsize = grad_out.itemsize
    slabs = _slabs(rows, cols, itemsize)
    return (grad_out.nbytes, cols * itemsize) + ((slabs * cols * itemsize,) if slabs > 1
                                                 else ())


def _grads_plan(key, sizes, grad, grad_bias):
    """``bias_act_grads``' plan for the operands of plan ``key`` (first computed as ``grad``
    and ``grad_bias``): its byte ``sizes``, the scratch's stand-in (False: one slab, the
    kernel writes the bias gradient itself; None: an empty gradient, nothing to sum), the slab
    sum's row key (None: one slab) and the results' sigs."""
    sigs = _sig(grad), _sig(grad_bias)
    rows, cols = grad.shape
    if rows == 0 or cols == 0:
        return sizes, None, None, sigs
    if len(sizes) == 2:
        return sizes, False, None, sigs
    slabs = sizes[2] // sizes[1]
    return sizes, _partials(slabs, cols, grad.dtype), ("bias_grad_sum",) + key[1:], sigs


def _launch_key(name, params, *lists):
    """The row key of a launch over lists of sim arrays (one per parameter: the optimizer
    steps): the kernel's name, the parameter count, and every array's signature (None for a
    missing state buffer). Its second item is an int, never a tuple (see ``DeviceModel._rows``)."""
    key = [name, len(params)]
    key += [p.sig or _sig(p) for p in params]
    for arrays in lists:
        key += [None if x is None else x.sig or _sig(x) for x in arrays]
    return tuple(key)


class FusedKernels:
    """The fused primitives of the backend contract, modeled (mixed into ``SimBackend``)."""

    def bias_act(self, x, bias, act):
        key = ("bias_act", x.sig or _sig(x), bias.sig or _sig(bias), act)
        x, bias = x.data, bias.data  # (rebound: see backend.py's unary)
        return self._planned(key, "bias_act", x, bias, act)

    def bias_act_backward(self, grad_out, out, act):
        key = ("bias_act_backward", grad_out.sig or _sig(grad_out), out.sig or _sig(out), act)
        grad_out, out = grad_out.data, out.data
        return self._planned(key, "bias_act_backward", grad_out, out, act)

    def bias_act_grads(self, grad_out, out, act):
        # the cuda backend's launches: one kernel writing grad_x and per-slab column sums, then
        # (with several slabs) one adding the slabs
        # (the results' layouts follow from the operands': their signatures key both rows, and
        # the plan of sizes, scratch and results' signatures, kept in ``_plans``)
        key = ("bias_act_grads", grad_out.sig or _sig(grad_out), out.sig or _sig(out), act)
        grad_out, out = grad_out.data, out.data
        plan = self._plans.get(key)
        sizes = _grads_sizes(grad_out) if plan is None else plan[0]
        allocs = self._reserve(*sizes)  # the scratch (if any) is freed when this returns
        grad, grad_bias = self._computed(allocs, sum(sizes), self.cpu.bias_act_grads,
                                         grad_out, out, act)
        if plan is None:  # (published complete: other threads read it without the lock)
            plan = self._plans[key] = _grads_plan(key, sizes, grad, grad_bias)
        _, partial, sum_key, sigs = plan
        results = _array(grad, allocs[0], sigs[0]), _array(grad_bias, allocs[1], sigs[1])
        if partial is None:  # an empty gradient
            self._write("full", (), (grad_bias,))
            return results
        # the slabs' partial sums: a stand-in of their shape (the scratch holds no values)
        self._launch("bias_act_grads", (grad_out, out),
                     (grad, grad_bias if partial is False else partial),
                     {"act": act}, key)
        if sum_key is not None:
            self._launch("bias_grad_sum", (partial,), (grad_bias,), None, sum_key)
        return results

    def softmax_cross_entropy(self, logits, target, ignore_index=-100):
        # one launch writing the (2, N) loss rows and counted flags, and the (N,) lse
        key = ("softmax_cross_entropy", logits.sig or _sig(logits), target.sig or _sig(target),
               type(ignore_index))
        logits, target = logits.data, target.data
        nbytes = logits.shape[0] * logits.itemsize
        allocs = self._reserve(2 * nbytes, nbytes)
        rows, lse = self._computed(allocs, 3 * nbytes, self.cpu.softmax_cross_entropy,
                                   logits, target, ignore_index)
        self._launch("softmax_cross_entropy", (logits, target, ignore_index), (rows, lse), None,
                     key)
        sigs = self._plans.get(key)  # the results' signatures (see bias_act_grads)
        if sigs is None:
            sigs = self._plans[key] = _sig(rows), _sig(lse)
        return _array(rows, allocs[0], sigs[0]), _array(lse, allocs[1], sigs[1])

    def softmax_cross_entropy_backward(self, logits, target, lse, grad_rows, divisor=1,
                                       ignore_index=-100):
        # a mean's count is a 0-d array the kernel reads on the device, as cuda's does
        key = ("softmax_cross_entropy_backward", _sig(logits), _sig(target), _sig(lse),
               _sig(grad_rows), _sig(divisor), type(ignore_index))
        divisor = divisor.data if isinstance(divisor, SimArray) else divisor
        return self._planned(key, "softmax_cross_entropy_backward", logits.data, target.data,
                             lse.data, grad_rows.data, divisor,
                             ignore_index)  # (operands kept: see unary)

    def sgd_step(self, params, grads, bufs, lr, momentum, dampening, weight_decay, nesterov,
                 maximize=False):
        p_data = [p.data for p in params]
        g_data = [g.data for g in grads]
        b_data = [None if b is None else b.data for b in bufs]
        # a buffer that starts now is a new device array (allocated before the kernel runs)
        starting = [b is None for b in bufs] if momentum else None
        if starting is None or not any(starting):  # (the common case: no buffer starts)
            new = self._computed((), 0, self.cpu.sgd_step, p_data, g_data, b_data, lr,
                                 momentum, dampening, weight_decay, nesterov, maximize)
            out_bufs = list(bufs)
        else:
            sizes = [g.nbytes for g, new in zip(g_data, starting) if new]
            allocs = self._reserve(*sizes)
            new = self._computed(allocs, sum(sizes), self.cpu.sgd_step, p_data, g_data, b_data,
                                 lr, momentum, dampening, weight_decay, nesterov, maximize)
            fresh = iter(allocs)
            out_bufs = [SimArray(n, next(fresh)) if start else b
                        for b, n, start in zip(bufs, new, starting)]
        written = [n for n in new if n is not None]
        self._launch("sgd_step", g_data, p_data + written,
                     {"params": p_data, "grads": g_data, "bufs": written},
                     _launch_key("sgd_step", params, grads, out_bufs))
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
                      "exp_avg_sqs": v_data},
                     _launch_key("adam_step", params, grads, exp_avgs, exp_avg_sqs))
