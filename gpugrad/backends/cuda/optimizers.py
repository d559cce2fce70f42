"""The cuda backend's optimizer updates: one launch of kernels/optimizers.cu over all parameters.

``OptimizerLaunches`` is a mixin of ``CupyBackend`` (backend.py), which provides ``_use``,
``_kernel`` and the ``_tables`` cache; CuPy is ``runtime.cupy``,
bound when the first backend was created, so this file imports without CuPy.
"""
import numpy as np

from . import runtime

_OPTIMIZER_CHUNK = 4096  # elements per block in the one-launch optimizer kernels
_TABLE_CACHE_SIZE = 16




class OptimizerLaunches:
    """``sgd_step`` and ``adam_step`` (the contract's one-launch optimizer primitives)."""

    def _launch_multi_tensor(self, base, lists, flags, args):
        """Run kernel ``base`` over tensors given as ``lists[k][t]`` (all dense, same dtype)."""
        cp = runtime.cupy
        n = len(lists[0])
        dtype = lists[0][0].dtype
        ptrs = tuple(a.data.ptr if a is not None else 0 for arrays in lists for a in arrays)
        sizes = tuple(a.size for a in lists[0])
        key = (dtype, ptrs, sizes, tuple(flags))
        entry = self._tables.get(key)
        if entry is None:
            blocks = [(s + _OPTIMIZER_CHUNK - 1) // _OPTIMIZER_CHUNK for s in sizes]
            first = np.concatenate([[0], np.cumsum(blocks)]).astype(np.int64)
            host = np.concatenate([np.asarray(ptrs, np.uint64).view(np.int64),
                                   np.asarray(sizes, np.int64), np.asarray(flags, np.int64),
                                   first])
            entry = (self.upload_constant(host), int(first[-1]))  # (graphs_capture.py)
            if len(self._tables) >= _TABLE_CACHE_SIZE:
                self._tables.pop(next(iter(self._tables)))
            self._tables[key] = entry
        table, total_blocks = entry
        if total_blocks:
            self._kernel(base, dtype)((total_blocks,), (256,),
                                      (table, n, _OPTIMIZER_CHUNK) + args)

    def _optimizer_groups(self, params, grads, states):
        """Dense working arrays grouped by dtype, and the write-backs for the others.

        Returns ``(groups, work, copies)``: ``groups`` maps a dtype to the indices of the
        non-empty tensors of that dtype; ``work[i]`` is ``[param, grad, *states]`` for tensor i,
        each dense and of the parameter's dtype; ``copies`` lists (original, working copy) pairs
        to write back after the launch, for in-place arrays that were not dense or not of the
        parameter's dtype.
        """
        cp, kernel_dtypes = runtime.cupy, runtime.KERNEL_SUFFIX
        groups, work, copies = {}, [], []
        for i, p in enumerate(params):
            if p.dtype not in kernel_dtypes:
                raise TypeError(f"optimizer step: parameter {i} has dtype {p.dtype}; only float32 "
                                f"and float64 parameters can be updated")
            g = grads[i]
            if g.dtype != p.dtype or g.shape != p.shape:
                g = cp.broadcast_to(g.astype(p.dtype, copy=False), p.shape)
            row = [p, runtime.dense(g)]
            for s in states:
                row.append(s[i])
            for k in (0,) + tuple(range(2, len(row))):
                a = row[k]
                if a is not None and (not a.flags.c_contiguous or a.dtype != p.dtype):
                    dense = cp.ascontiguousarray(a, dtype=p.dtype)
                    copies.append((row[k], dense))
                    row[k] = dense
            work.append(row)
            if p.size:
                groups.setdefault(p.dtype, []).append(i)
        return groups, work, copies

    def sgd_step(self, params, grads, bufs, lr, momentum, dampening, weight_decay, nesterov,
                 maximize=False):
        self._use()
        cp = runtime.cupy
        new_bufs = list(bufs)
        starting = [False] * len(params)
        if momentum:
            for i, buf in enumerate(bufs):
                if buf is None:
                    new_bufs[i] = cp.empty(params[i].shape, dtype=params[i].dtype)
                    starting[i] = True
        groups, work, copies = self._optimizer_groups(params, grads, [new_bufs])
        args = (float(lr), float(momentum), float(dampening), float(weight_decay),
                int(bool(momentum)), int(bool(weight_decay)), int(bool(nesterov)),
                int(bool(maximize)))
        for dtype, idx in groups.items():
            lists = [[work[i][k] for i in idx] for k in range(3)]
            self._launch_multi_tensor("sgd_step", lists, [int(starting[i]) for i in idx], args)
        for original, dense in copies:
            original[...] = dense
        return new_bufs

    def adam_step(self, params, grads, exp_avgs, exp_avg_sqs, step, lr, beta1, beta2, eps,
                  weight_decay, decoupled, maximize=False):
        self._use()
        bias_correction1 = 1 - beta1 ** step
        bias_correction2_sqrt = (1 - beta2 ** step) ** 0.5
        args = (float(beta1), float(beta2), float(eps), float(weight_decay),
                float(1 - lr * weight_decay), float(lr / bias_correction1),
                float(bias_correction2_sqrt), int(bool(weight_decay)), int(bool(decoupled)),
                int(bool(maximize)))
        groups, work, copies = self._optimizer_groups(params, grads, [exp_avgs, exp_avg_sqs])
        for dtype, idx in groups.items():
            lists = [[work[i][k] for i in idx] for k in range(4)]
            self._launch_multi_tensor("adam_step", lists, [0] * len(idx), args)
        for original, dense in copies:
            original[...] = dense
