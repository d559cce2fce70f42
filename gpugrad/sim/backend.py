"""``SimBackend``: the backend contract on NumPy, plus a model of what a GPU would do.

NumPy computes every value, with the ``cpu`` backend's own helpers, so results equal cpu's.
Beside each value the backend models the GPU:

- every primitive that launches a kernel on a real GPU is one modeled kernel
  (``costmodel.spec`` + ``timeline.kernel``), and the host also pays gpugrad's own Python per
  kernel (``framework_us``) unless configured with ``framework_overhead=False``, as fidelity.py
  does to replay raw CuPy calls through these primitives; the fused primitives (``bias_act``,
  ``softmax_cross_entropy`` and their backwards, ``sgd_step``, ``adam_step``) are one kernel each;
- views (reshape of a contiguous array, permute, broadcast_to, basic slicing) launch nothing and
  share their base's memory, as in CuPy;
- every result holds modeled device memory from the caching pool (``memory.py``);
- ``from_host``/``to_host``/``from_backend`` are modeled transfers: pageable unless the host
  array came from ``Tensor.pin_memory()``; reading back waits for the stream; sim:0 <-> sim:1 is
  a peer copy.
"""
import operator
import os

import numpy as np

from .. import dtypes, profiler
from ..backends import cpu as ref
from ..backends.base import Backend
from ..backends.cuda import bias_grad_slabs  # the launch plan the simulator models
from . import costmodel, profiles, report
from . import timeline as timeline_mod
from .memory import MemoryPool, SimArray, is_pinned

DEFAULT_PROFILE = "h100"
ENV_PROFILE = "GPUGRAD_SIM_PROFILE"

_NP_DTYPE = ref.NP_DTYPE
_GG_DTYPE = {v: k for k, v in _NP_DTYPE.items()}
_UNARY_NAME = {op: f"unary:{op}" for op in ref.UNARY}
_BINARY_NAME = {op: f"binary:{op}" for op in ref.BINARY}
_REDUCE_NAME = {op: f"reduce:{op}" for op in ref.REDUCE}
_spec = costmodel.spec
_ndarray = np.ndarray
_as_array = ref.as_array
ROW_LIMIT = 4096  # distinct kernel signatures counted separately before they are folded
# NaN and inf pass through as on cpu; NumPy's RuntimeWarnings from this module are silenced by
# the filter in backends/cpu.py (installed when gpugrad's cpu backend is imported).


def debug_level():
    """``GPUGRAD_DEBUG`` as an int (2 and above print one line per modeled kernel)."""
    try:
        return int(os.environ.get("GPUGRAD_DEBUG", "0") or 0)
    except ValueError:
        return 0


def profile_name(profile=None):
    """The profile to use: ``profile``, else ``$GPUGRAD_SIM_PROFILE``, else h100."""
    name = profile or os.environ.get(ENV_PROFILE) or DEFAULT_PROFILE
    name = str(name).strip().lower()
    if name not in profiles.PROFILE_NAMES:
        source = "the profile argument" if profile else ENV_PROFILE
        raise ValueError(f"unknown sim profile {name!r} (from {source}); expected one of "
                         f"{', '.join(profiles.PROFILE_NAMES)}")
    return name


def _signature(name, inputs, out, info=None):
    """What a kernel's spec depends on: name, operands' shapes, strides and dtypes, and info."""
    key = [name, out.shape, out.dtype]
    for x in inputs:
        key.append((x.shape, x.strides, x.dtype) if type(x) is _ndarray else type(x))
    if info:
        key.append(repr(info))  # small: an axis or an activation name
    return tuple(key)


def _unwrap(x):
    return x.data if type(x) is SimArray else x


class SimBackend(Backend):
    """One simulated GPU (``sim:N``): NumPy values, modeled kernels, transfers and memory."""

    #: bytes each thread of gpugrad's fused and optimizer kernels moves per access (16: float4 /
    #: double2, as kernels/*.cu do); steps.py sets 0 (one element) to replay older kernels
    fused_vector_bytes = 16

    def __init__(self, device):
        self.device = device
        self.pool = None
        self.generation = 0  # bumped by reset(), so a profile spanning a reset stays correct
        self.configure()
        profiler.register_source(self)

    # ---- configuration and counters --------------------------------------------------------
    def configure(self, profile=None, memory_bytes=None, framework_overhead=True):
        """Set the profile and capacity (omitted: the defaults) and clear counters and clocks.

        ``framework_overhead``: charge the host the profile's ``framework_us`` per kernel for
        gpugrad's own Python (on for gpugrad programs; off when primitives stand for raw CuPy
        calls). Live arrays keep their memory; the pool's cached blocks are released.
        """
        self.profile = profiles.get_profile(profile_name(profile))
        if memory_bytes is None:
            capacity = self.profile.memory_bytes
        else:
            try:
                capacity = operator.index(memory_bytes)  # ints, NumPy ints; not "1GB" or 1.5
            except TypeError:
                capacity = -1
            if capacity < 0 or isinstance(memory_bytes, bool):
                raise ValueError(f"memory_bytes must be a non-negative int (bytes, e.g. "
                                 f"2 * 1024**3 for 2 GiB), got {memory_bytes!r}")
        recording = self.pool is not None and self.pool.recording > 0
        # trace events are kept only while a profiler listens, so long runs stay small
        self.framework_overhead = bool(framework_overhead)
        self.timeline = timeline_mod.Timeline(self.profile, record_events=recording,
                                              framework=self.framework_overhead)
        if self.pool is None:
            self.pool = MemoryPool(str(self.device), capacity, self.timeline)
        else:
            self.pool.capacity = capacity
            self.pool.timeline = self.timeline
            self.pool.empty_cache()  # a cold start: the same program then gives the same numbers
        self.debug = debug_level() >= 2
        self.reset()

    def reset(self):
        """Clear counters, the timeline and the peak. Live arrays keep their memory and the
        pool keeps its cached blocks, so what follows runs warm (``configure`` starts cold)."""
        self.timeline.reset()
        self._rows = {}  # kernel signature -> [KernelSpec, count, device µs] (see _launch)
        self._folded = {}  # op name -> [count, device µs, flops, bytes, op_class] (old rows)
        self._folded_class = {}  # op class -> device µs (old rows)
        self.h2d_bytes = 0
        self.d2h_bytes = 0
        self.p2p_bytes = 0
        self.pool.reset_peak()
        self.pool.hits = self.pool.misses = 0
        self.pool.samples.clear()
        self.generation += 1

    # ---- the profiler's recording interface (see gpugrad/profiler.py) ----------------------
    def profile_begin(self):
        self.pool.recording += 1
        self.timeline.record_events = True
        return (self.generation, len(self.timeline.events), len(self.pool.samples),
                self.timeline.host_us, self.pool.in_use)

    def profile_end(self, token, sink):
        generation, first_event, first_sample, t0, in_use = token
        pool, device = self.pool, str(self.device)
        if generation != self.generation:  # reset inside the block: the clocks restarted at 0
            first_event = first_sample = 0
            t0 = 0.0
        events = self.timeline.events[first_event:]
        samples = pool.samples[first_sample:]
        if events or samples:  # a device unused during the block stays out of the trace
            sink.set_label(device, f"{device} (simulated {self.profile.name})")
            sink.add_counter(device, profiler.MEMORY_COUNTER, 0.0, in_use)
            for track, name, start, dur, args in events:
                sink.add_event(device, track, name, start - t0, dur, args)
            for ts, value in samples:
                sink.add_counter(device, profiler.MEMORY_COUNTER, ts - t0, value)
        pool.recording -= 1
        if not pool.recording:
            pool.samples.clear()
            self.timeline.record_events = False
            self.timeline.events.clear()

    # ---- the modeled kernel ----------------------------------------------------------------
    def _launch(self, name, inputs, outputs, info=None, key=None):
        """Model one kernel launch: cost it, place it on the timeline, count it.

        This runs on every op, so it stays flat. A spec depends only on the name, the operands'
        shapes, strides and dtypes and ``info``: callers on the hot path pass that as ``key``,
        and one row per distinct key holds the spec and the counts (totals are summed from the
        rows when stats are read).
        """
        row = self._rows.get(key) if key is not None else None
        if row is None:
            spec = _spec(name, inputs, outputs, **info) if info else _spec(name, inputs, outputs)
            if key is None:
                key = spec  # specs are hashable: launches with equal specs share a row
                row = self._rows.get(key)
            if row is None:
                if len(self._rows) >= ROW_LIMIT:
                    self._fold_rows()
                row = self._rows[key] = [spec, 0, 0.0]
        spec = row[0]
        start, end = self.timeline.kernel(spec)
        row[1] += 1
        row[2] += end - start
        if self.debug:
            report.print_kernel(self.device, spec, end - start, outputs)

    def _fold_rows(self):
        """Sum the per-signature rows into per-op totals (bounds memory for endless shapes)."""
        self._folded, self._folded_class = self.kernel_totals()
        self._rows.clear()

    def kernel_totals(self):
        """``(by_op, by_class)`` since the last reset: per op name [count, device µs, flops,
        bytes, op_class] (the class of its first kernel), and device µs per op class."""
        by_op = {name: list(total) for name, total in self._folded.items()}
        by_class = dict(self._folded_class)
        for spec, count, us in self._rows.values():
            total = by_op.get(spec.name)
            if total is None:
                total = by_op[spec.name] = [0, 0.0, 0, 0, spec.op_class]
            total[0] += count
            total[1] += us
            total[2] += count * spec.flops
            total[3] += count * (spec.bytes_read + spec.bytes_written)
            by_class[spec.op_class] = by_class.get(spec.op_class, 0.0) + us
        return by_op, by_class

    def _new(self, data):
        """A SimArray holding fresh modeled memory for a kernel's result ``data``."""
        return SimArray(data, self.pool.allocate(data.nbytes))

    def _kernel(self, name, inputs, out, info=None):
        """The usual primitive: allocate the result, launch one kernel writing it."""
        result = SimArray(out, self.pool.allocate(out.nbytes))
        self._launch(name, inputs, (out,), info, _signature(name, inputs, out, info))
        return result

    # ---- host <-> device -------------------------------------------------------------------
    def _upload(self, host, pinned):
        result = SimArray(host, self.pool.allocate(host.nbytes))
        self.timeline.transfer("h2d", host.nbytes, pinned)
        self.h2d_bytes += host.nbytes
        return result

    def from_host(self, data, dtype=None):
        if type(data) is SimArray:  # already on a device: a device-to-device copy
            data = data.data
            out = data.astype(_NP_DTYPE[dtypes.as_dtype(dtype)]) if dtype else np.array(data)
            return self._kernel("cast" if dtype else "copy", (data,), out)
        return self._upload(ref.host_array(data, dtype), False)

    def to_host(self, a):
        data = a.data
        if not data.flags.c_contiguous:  # CuPy packs a strided array on the device first
            self._kernel("copy", (data,), np.ascontiguousarray(data))  # freed at once
        # a synchronous copy: it waits for the stream (the kernels writing ``a``), then the host
        # waits for the copy, as cudaMemcpy does; so item(), numpy(), printing... all wait
        self.timeline.transfer("d2h", data.nbytes, False)
        self.d2h_bytes += data.nbytes
        return np.array(data, order="C")

    def from_backend(self, a, source):
        if isinstance(source, SimBackend):  # another sim device: a peer copy
            source.timeline.synchronize()  # the copy reads what the source's stream wrote
            data = np.array(a.data, order="C")
            result = SimArray(data, self.pool.allocate(data.nbytes))
            self.timeline.transfer("p2p", data.nbytes, False)
            self.p2p_bytes += data.nbytes
            return result
        if source.device.type == "cpu":
            return self._upload(np.array(a, order="C"), is_pinned(a))
        return self._upload(np.array(source.to_host(a), order="C"), False)

    def owns_memory(self, a):
        return a.data.base is None

    def synchronize(self):
        self.timeline.synchronize()

    def dtype(self, a):
        return _GG_DTYPE[a.data.dtype]

    # ---- creation --------------------------------------------------------------------------
    def full(self, shape, value, dtype):
        return self._kernel("full", (), np.full(shape, value, dtype=_NP_DTYPE[dtype]))

    def arange(self, start, stop, step, dtype):
        return self._kernel("arange", (), np.arange(start, stop, step, dtype=_NP_DTYPE[dtype]))

    def random(self, kind, shape, dtype, seed):
        rng = np.random.default_rng(seed)
        np_dtype = _NP_DTYPE[dtype]
        if kind == "uniform":
            out = rng.random(shape, dtype=np_dtype)
        else:
            out = rng.standard_normal(shape, dtype=np_dtype)
        return self._kernel("random", (), out)

    def randint(self, low, high, shape, seed):
        out = np.random.default_rng(seed).integers(low, high, size=shape, dtype=np.int64)
        return self._kernel("random", (), out)

    # ---- elementwise -----------------------------------------------------------------------
    def unary(self, op, a):
        a = a.data
        return self._kernel(_UNARY_NAME[op], (a,), _as_array(ref.UNARY[op](a)))

    def binary(self, op, a, b):
        a = a.data if type(a) is SimArray else a
        b = b.data if type(b) is SimArray else b
        return self._kernel(_BINARY_NAME[op], (a, b), _as_array(ref.BINARY[op](a, b)))

    def where(self, cond, a, b):
        cond, a, b = cond.data, _unwrap(a), _unwrap(b)
        return self._kernel("where", (cond, a, b), np.where(cond, a, b))

    def cast(self, a, dtype):
        a = a.data
        return self._kernel("cast", (a,), a.astype(_NP_DTYPE[dtype]))

    # ---- reductions and matmul -------------------------------------------------------------
    def reduce(self, op, a, axis=None, keepdims=False):
        a = a.data
        out = _as_array(ref.REDUCE[op](a, axis=axis, keepdims=keepdims))
        return self._kernel(_REDUCE_NAME[op], (a,), out, {"axis": axis})

    def matmul(self, a, b):
        a, b = a.data, b.data
        return self._kernel("matmul", (a, b), _as_array(np.matmul(a, b)))

    # ---- layout ----------------------------------------------------------------------------
    def reshape(self, a, shape):
        data = a.data
        out = data.reshape(shape)
        if data.flags.c_contiguous or out.size == 0 or np.may_share_memory(out, data):
            return SimArray(out, a.alloc)  # a view: no kernel, same memory
        return self._kernel("copy", (data,), np.ascontiguousarray(out))

    def permute(self, a, axes):
        return SimArray(a.data.transpose(axes), a.alloc)

    def broadcast_to(self, a, shape):
        return SimArray(np.broadcast_to(a.data, shape), a.alloc)

    def contiguous(self, a):
        data = a.data
        return self._kernel("copy", (data,), np.array(data, copy=True, order="C"))

    def concatenate(self, arrays, axis):
        arrays = [x.data for x in arrays]
        return self._kernel("copy", arrays, np.concatenate(arrays, axis=axis))

    # ---- gather / scatter ------------------------------------------------------------------
    def _index(self, index):
        """The NumPy index, and whether it holds index arrays (advanced indexing)."""
        advanced = False
        entries = []
        for entry in index:
            if type(entry) is SimArray:
                entry = entry.data
                advanced = True
                if entry.dtype == np.bool_:  # the result's size needs a count read back
                    self.timeline.synchronize()
            entries.append(entry)
        return tuple(entries), advanced

    def getitem(self, a, index):
        index, advanced = self._index(index)
        data = a.data
        out = _as_array(data[index])
        if not advanced:
            return SimArray(out, a.alloc)  # basic indexing is a view
        arrays = [i for i in index if isinstance(i, np.ndarray)]
        return self._kernel("getitem", [data] + arrays, out)

    def index_add(self, shape, index, values, dtype):
        index, advanced = self._index(index)
        values = _unwrap(values)
        out = np.zeros(shape, dtype=_NP_DTYPE[dtype])
        result = self._kernel("full", (), out)
        if advanced:
            np.add.at(out, index, values)
        else:
            out[index] = values
        inputs = [values] + [i for i in index if isinstance(i, np.ndarray)]
        self._launch("index_add", inputs, (out,), None, _signature("index_add", inputs, out))
        return result

    def setitem_(self, a, index, value):
        index = self._index(index)[0]
        value, data = _unwrap(value), a.data
        data[index] = value
        # the kernel writes only the selected elements: a view of them (a gather's copy when the
        # index holds arrays) stands for its output, so the spec counts what is really written
        written = _as_array(data[index])
        inputs = [value] + [i for i in index if isinstance(i, np.ndarray)]
        key = _signature("index_put", inputs, written)
        self._launch("index_put", inputs, (written,), None, key)

    # ---- in place --------------------------------------------------------------------------
    def copy_(self, dst, src):
        src, dst = _unwrap(src), dst.data
        np.copyto(dst, src)
        self._launch("copy", (src,), (dst,), None, _signature("copy", (src,), dst))

    # ---- fused kernels ---------------------------------------------------------------------
    def bias_act(self, x, bias, act):
        x, bias = x.data, bias.data
        return self._kernel("bias_act", (x, bias), ref.bias_act_numpy(x, bias, act),
                            {"act": act, "vector_bytes": self.fused_vector_bytes})

    def bias_act_backward(self, grad_out, out, act):
        grad_out, out = grad_out.data, out.data
        grad = ref.bias_act_backward_numpy(grad_out, out, act)
        return self._kernel("bias_act_backward", (grad_out, out), grad,
                            {"act": act, "vector_bytes": self.fused_vector_bytes})

    def bias_act_grads(self, grad_out, out, act):
        # the cuda backend's launches: one kernel writing grad_x and per-slab column sums, then
        # (with several slabs) one adding the slabs
        grad_out, out = grad_out.data, out.data
        grad, grad_bias = ref.bias_act_grads_numpy(grad_out, out, act)
        grad_bias = _as_array(grad_bias)
        rows, cols = grad.shape
        results = self._new(grad), self._new(grad_bias)
        if rows == 0 or cols == 0:
            self._launch("full", (), (grad_bias,), None, _signature("full", (), grad_bias))
            return results
        _, _, slabs, _ = bias_grad_slabs(rows, cols, grad.itemsize)
        partial = np.empty((slabs, cols), grad.dtype) if slabs > 1 else grad_bias
        scratch = self._new(partial) if slabs > 1 else None  # freed when this returns
        info = {"act": act, "vector_bytes": self.fused_vector_bytes}
        inputs = (grad_out, out)
        self._launch("bias_act_grads", inputs, (grad, partial), info,
                     _signature("bias_act_grads", inputs, partial, info))
        if scratch is not None:
            self._launch("bias_grad_sum", (partial,), (grad_bias,), None,
                         _signature("bias_grad_sum", (partial,), grad_bias))
        return results

    def softmax_cross_entropy(self, logits, target):
        logits, target = logits.data, target.data
        loss_rows, lse = ref.softmax_cross_entropy_numpy(logits, target)
        loss_rows, lse = _as_array(loss_rows), _as_array(lse)
        results = self._new(loss_rows), self._new(lse)
        inputs = (logits, target)
        self._launch("softmax_cross_entropy", inputs, (loss_rows, lse), None,
                     _signature("softmax_cross_entropy", inputs, loss_rows))
        return results

    def softmax_cross_entropy_backward(self, logits, target, lse, grad_rows, divisor=1):
        inputs = (logits.data, target.data, lse.data, grad_rows.data)
        grad = ref.softmax_cross_entropy_backward_numpy(*inputs, divisor)
        return self._kernel("softmax_cross_entropy_backward", inputs, grad)

    def sgd_step(self, params, grads, bufs, lr, momentum, dampening, weight_decay, nesterov,
                 maximize=False):
        p_data = [p.data for p in params]
        g_data = [g.data for g in grads]
        b_data = [None if b is None else b.data for b in bufs]
        new = ref.sgd_step_numpy(p_data, g_data, b_data, lr, momentum, dampening, weight_decay,
                                 nesterov, maximize)
        # a buffer that starts now is a new device array (allocated before the kernel runs)
        out_bufs = [b if b is not None or n is None else self._new(n) for b, n in zip(bufs, new)]
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

    # ---- introspection ---------------------------------------------------------------------
    def describe(self):
        return f"{self.device}: simulated {self.profile.describe()}"
