"""A GPU profile: public spec numbers plus the few model parameters that turn a KernelSpec into time.

The model (docs/sim-model.md has the full story):

- **Kernels** are a roofline with three ceilings, plus a fixed cost and a floor:
  ``max(min_kernel, fixed + max(bytes / bandwidth, elements / element_rate, flops / flop_rate))``.
  Bandwidth is the spec HBM bandwidth times an achieved fraction, or the faster L2 when the
  kernel's working set fits in L2; each op class scales it (a transpose or a column reduction
  reaches less). The element rate is the issue limit of one-thread-per-element kernels (index
  arithmetic, not bytes, bounds CuPy's elementwise kernels), per SM per clock.
- **Matmul** is tiled: output tiles of up to ``mm_tile`` squared (smaller for thin operands), split
  along k when too few tiles fill the SMs, run in waves over the SMs at a fraction of peak.
- **Host dispatch** is a per-op-class cost of the Python/CuPy call, plus a cost per operand, plus
  a cost per other distinct kernel recently run (a program mixing many ops runs colder in the
  CPU's caches than a benchmark loop of one op; timeline.py counts them).
- **Transfers** are a latency plus bytes over the PCIe (or NVLink) rate; pageable memory adds a
  host staging copy that is fast while it fits the host's caches and slow beyond.
- **Allocation** (a pool miss) is a cudaMalloc: a base cost plus a cost per byte mapped.
- **Framework** (``framework_us``): gpugrad's own Python host time per kernel it dispatches
  (Tensor op, autograd node, nn module, optimizer), on top of the CuPy call's dispatch. It is a
  property of the host CPU and gpugrad's code, not of the GPU; the timeline charges it only when
  the sim backend runs a gpugrad program (raw-primitive replays switch it off).

Every profile shares this structure. Spec numbers come from each GPU's public data sheet; the
model parameters were fitted on H200 measurements (``gpugrad/sim/calibrate.py``), and other GPUs
reuse them as fractions of their own spec numbers. The host-side parameters (dispatch, framework,
driver calls, pageable staging) come from the profile's ``host``, a ``HostProfile`` (host.py):
``params`` holds the GPU's own parameters and the host's effective ones together.
"""
from .... import defaults
from ..costmodel import OP_CLASSES
from .host import HostProfile, is_host_param

_MIB = 1 << 20
_ITEMSIZE = {"float16": 2, "bfloat16": 2, "float32": 4, "float64": 8, "uint8": 1, "int8": 1,
             "int16": 2, "int32": 4, "int64": 8, "bool": 1}


def gemm_math(dtype):
    """The arithmetic a GEMM of ``dtype`` (a name) runs in: "tf32" for float32 while TF32 is
    allowed (``gg.set_float32_matmul_precision("high")``), else the dtype itself. A cache of
    modeled matmul times keys on this, so switching TF32 never reuses a stale time."""
    return "tf32" if dtype == "float32" and defaults.matmul_allows_tf32() else dtype


class Profile:
    """One GPU model in one host. Times are microseconds, bandwidths bytes per microsecond (= MB/s).

    ``params`` are the GPU's model parameters (host parameters among them are ignored: they
    come from ``host``, a ``HostProfile``); ``self.params`` holds both, the host's effective.
    """

    def __init__(self, name, title, *, memory_bytes, l2_bytes, sm_count, clock_ghz, hbm_gbps,
                 fp32_tflops, fp64_tflops, fp64_tensor_tflops, tf32_tflops, bf16_tflops,
                 pcie_gen, nvlink_gbps, params, host, memory_kind="HBM"):
        self.name = name
        self.title = title
        self.memory_bytes = int(memory_bytes)
        self.l2_bytes = int(l2_bytes)
        self.sm_count = int(sm_count)
        self.clock_ghz = clock_ghz
        self.hbm_gbps = hbm_gbps
        self.memory_kind = memory_kind
        self.fp32_tflops = fp32_tflops
        self.fp64_tflops = fp64_tflops
        self.fp64_tensor_tflops = fp64_tensor_tflops
        self.tf32_tflops = tf32_tflops
        self.bf16_tflops = bf16_tflops
        self.pcie_gen = pcie_gen
        #: PCIe x16 rate per direction, GB/s (Gen3 15.75, Gen4 31.5, Gen5 63).
        self.pcie_gbps = {3: 15.75, 4: 31.5, 5: 63.0}[pcie_gen]
        self.nvlink_gbps = nvlink_gbps   # per direction; 0 means peer copies go over PCIe
        self._set(params, host)

    def _set(self, params, host):
        if not isinstance(host, HostProfile):
            raise TypeError(f"host must be a HostProfile, got {type(host).__name__}")
        self.gpu_params = {k: v for k, v in params.items() if not is_host_param(k)}
        self.host = host
        self.params = check_params({**self.gpu_params, **host.params})
        self._derive()

    def _clone(self, params, host):
        clone = object.__new__(Profile)
        clone.__dict__.update(self.__dict__)
        clone._set(params, host)
        return clone

    def with_params(self, **changes):
        """A copy of this profile with some model parameters changed (GPU or host base
        values; used by calibrate.py)."""
        host_changes = {k: v for k, v in changes.items() if is_host_param(k)}
        host = self.host.with_params(**host_changes) if host_changes else self.host
        return self._clone({**self.gpu_params, **changes}, host)

    def with_host(self, host):
        """This GPU in another host: a copy whose host-side parameters come from ``host`` (a
        ``HostProfile``); the kernel, transfer and memory model are unchanged."""
        return self if host is self.host else self._clone(self.gpu_params, host)

    # ---- derived tables (computed once, so the per-op methods stay cheap) ---------------
    def _derive(self):
        p = self.params
        self.launch_latency_us = p["launch_latency_us"]
        self.event_us = p["event_us"]
        self.sync_us = p["sync_us"]
        self.launch_point = p["launch_point"]
        self.host_mix_us = p["host_mix_us"]
        self.framework_us = p["framework_us"]
        self.min_kernel_us = p["min_kernel_us"]
        hbm = self.hbm_gbps * 1e3 * p["hbm_eff"]
        self.hbm_bw = hbm
        self.l2_fit_bytes = self.l2_bytes * p["l2_fit"]
        # per-SM rates (L2 bandwidth, element issue) scale with SM count times clock
        sm_clock_per_us = self.sm_count * self.clock_ghz * 1e3
        self.l2_bw = sm_clock_per_us * p["l2_bytes_per_sm_clk"]
        self._classes = {}
        for cls in OP_CLASSES:
            scale = p.get(f"bw.{cls}", 1.0)
            self._classes[cls] = (
                hbm * scale,                                          # HBM-resident
                max(hbm, self.l2_bw) * scale,                         # L2-resident
                sm_clock_per_us * p.get(f"elem_rate.{cls}", p["elem_rate.elementwise"]),
                p.get(f"fixed.{cls}", p["kernel_fixed_us"]),
                p.get(f"host.{cls}", p["host.elementwise"]),
            )
        self._flop_rate = {   # elementwise / SIMT rates, flops per microsecond
            "float64": self.fp64_tflops * 1e6,
        }
        self._simt_default = self.fp32_tflops * 1e6
        self._mm_rate = {     # GEMM rates: CuPy computes float32 GEMMs in plain FP32 (no TF32)
            "float32": self.fp32_tflops * 1e6 * p["mm_eff.float32"],
            "float64": self.fp64_tensor_tflops * 1e6 * p["mm_eff.float64"],
        }
        # half-precision GEMMs run on tensor cores (cuBLAS, float32 accumulation); no half GEMM
        # was measured, so they take float32's achieved share of their own peak
        self._mm_rate["float16"] = self._mm_rate["bfloat16"] = \
            self.bf16_tflops * 1e6 * p["mm_eff.float32"]
        # float32 GEMMs on TF32 tensor cores, when gg.backends.cuda.matmul.allow_tf32 is set
        self._mm_rate["tf32"] = self.tf32_tflops * 1e6 * p["mm_eff.float32"]
        self._row_us_l2 = p["row_latency_ns.l2"] * 1e-3
        self._row_us_hbm = p["row_latency_ns.hbm"] * 1e-3
        self._resident_threads = self.sm_count * 2048   # threads resident at once (2048 per SM)
        self._matmul_cache = {}   # (batch, m, n, k, dtype, bytes) -> us: the tiling is costly
        self._link_bw = {
            "h2d": self.pcie_gbps * 1e3 * p["pcie_eff"],
            "d2h": self.pcie_gbps * 1e3 * p["pcie_eff"],
            "p2p": (self.nvlink_gbps or self.pcie_gbps) * 1e3 * p["link_eff"],
        }

    # ---- kernels -----------------------------------------------------------------------
    def kernel_us(self, spec):
        """Modeled device duration of one kernel, in microseconds."""
        if spec.op_class == "matmul":
            return self._matmul_us(spec)
        bw_hbm, bw_l2, elem_rate, fixed, _ = self._classes[spec.op_class]
        nbytes = spec.bytes_read + spec.bytes_written
        in_l2 = nbytes <= self.l2_fit_bytes
        t = nbytes / (bw_l2 if in_l2 else bw_hbm)
        te = spec.elements / elem_rate
        if te > t:
            t = te
        if spec.op_class == "reduce_outer" and spec.bytes_written:
            te = self._column_reduce_us(spec, in_l2)
            if te > t:
                t = te
        tf = spec.flops / self._flop_rate.get(spec.dtype, self._simt_default)
        if tf > t:
            t = tf
        t += fixed
        return t if t > self.min_kernel_us else self.min_kernel_us

    def _column_reduce_us(self, spec, in_l2):
        """A reduction over leading axes runs one thread (group) per output column walking down
        its rows: with few columns it is bound by the latency of those dependent row loads."""
        outputs = spec.bytes_written / _ITEMSIZE.get(spec.dtype, 4)
        rows = spec.elements / outputs
        waves = outputs / self._resident_threads
        per_row = self._row_us_l2 if in_l2 else self._row_us_hbm
        return rows * per_row * (waves if waves > 1.0 else 1.0)

    def _matmul_us(self, spec):
        math = gemm_math(spec.dtype)
        key = spec.gemm + (math, spec.nbytes)
        t = self._matmul_cache.get(key)
        if t is None:
            if len(self._matmul_cache) >= 4096:
                self._matmul_cache.clear()
            t = self._matmul_cache[key] = self._gemm_us(spec, math)
        return t

    def _gemm_us(self, spec, math):
        p = self.params
        batch, m, n, k = spec.gemm
        if m * n * k == 0:
            return self.min_kernel_us
        tile, tile_min = p["mm_tile"], p["mm_tile_min"]
        tm = min(tile, max(tile_min, 1 << max(0, (m - 1).bit_length())))
        tn = min(tile, max(tile_min, 1 << max(0, (n - 1).bit_length())))
        tiles = batch * (-(-m // tm)) * (-(-n // tn))
        sms = self.sm_count
        split = 1
        if tiles < sms:   # split-K: too few output tiles to fill the SMs, so share out k
            split = max(1, min(sms // tiles, int(k // p["mm_split_k"])))
        waves = -(-(tiles * split) // sms)
        rate = self._mm_rate.get(math, self._mm_rate["float32"]) / sms
        # a small tile reuses each loaded operand less, so it runs below peak
        tile_eff = ((tm * tn) / (tile * tile)) ** p["mm_small_tile_exp"]
        t_compute = waves * (2.0 * tm * tn * (k / split)) / (rate * tile_eff)
        nbytes = spec.bytes_read + spec.bytes_written
        t_memory = nbytes / (max(self.l2_bw, self.hbm_bw) if nbytes <= self.l2_fit_bytes
                             else self.hbm_bw)
        t = max(t_compute, t_memory) + p["mm_fixed_us"]
        return t if t > self.min_kernel_us else self.min_kernel_us

    # ---- host ---------------------------------------------------------------------------
    def host_dispatch_us(self, spec):
        """Host time of the Python/CuPy call that launches this kernel."""
        p = self.params
        arrays = len(spec.shapes) - spec.scalars
        return (self._classes[spec.op_class][4] + arrays * p["host_per_array_us"]
                + spec.scalars * p["host_per_scalar_us"])

    # ---- transfers and allocation -------------------------------------------------------
    def transfer_us(self, kind, nbytes, pinned=False):
        """Copy-engine time of one transfer: ``kind`` in "h2d", "d2h", "d2d", "p2p"."""
        p = self.params
        if kind == "d2d":
            return p["min_kernel_us"] + 2.0 * nbytes / self.hbm_bw
        if kind not in self._link_bw:
            raise ValueError(f"transfer kind must be one of 'h2d', 'd2h', 'd2d', 'p2p', got {kind!r}")
        t = p["xfer_latency_us"] + nbytes / self._link_bw[kind]
        if not pinned and kind != "p2p":
            # pageable memory goes through a pinned staging buffer: an extra host memcpy that
            # is fast while it fits the host caches and slower beyond (page faults, DRAM)
            cached = min(nbytes, p["host_cache_bytes"])
            t += (p["pageable_extra_us"] + cached / (p[f"stage_gbps.{kind}"] * 1e3)
                  + (nbytes - cached) / (p[f"stage_slow_gbps.{kind}"] * 1e3))
        return t

    def transfer_host_us(self, kind):
        """Host time to issue a transfer call (before the copy engine starts)."""
        return self.params["xfer_host_us"]

    def malloc_us(self, nbytes):
        """Host time of a cold cudaMalloc of ``nbytes`` (a pool miss)."""
        p = self.params
        return p["malloc_base_us"] + nbytes / (p["malloc_gbps"] * 1e3)

    @property
    def pool_alloc_us(self):
        """Host time of a memory-pool hit (CuPy's ``empty`` from a cached block)."""
        return self.params["pool_alloc_us"]

    def describe(self):
        """One line for ``gg.devices()``."""
        return (f"{self.name}: {self.title}, {self.memory_bytes / 2**30:.0f} GiB {self.memory_kind} "
                f"{self.hbm_gbps / 1e3:.2f} TB/s, {self.sm_count} SMs, L2 "
                f"{self.l2_bytes / _MIB:.0f} MiB, FP32 {self.fp32_tflops:g} TFLOPS, "
                f"FP64 {self.fp64_tflops:g} TFLOPS, PCIe Gen{self.pcie_gen}")

    def __repr__(self):
        return f"<gpugrad sim profile {self.describe()}; host {self.host.describe()}>"


#: every model parameter: (unit, what it means). "<class>" stands for an op class of costmodel.
PARAMETERS = {
    "launch_latency_us": ("us", "kernel submit to start on an idle stream"),
    "launch_point": ("fraction", "where in its host dispatch a call submits the kernel"),
    "event_us": ("us", "host time of recording a CUDA event"),
    "sync_us": ("us", "host time of a device synchronize once the device is idle"),
    "host_mix_us": ("us", "extra host time per other distinct kernel among the last 32"),
    "min_kernel_us": ("us", "shortest possible kernel"),
    "kernel_fixed_us": ("us", "per-kernel device overhead (ramp-up, tail) added to the roofline"),
    "hbm_eff": ("fraction", "achieved share of the spec memory bandwidth"),
    "l2_fit": ("fraction", "share of L2 a kernel's working set may use and still hit L2"),
    "l2_bytes_per_sm_clk": ("B/SM/clock", "L2 bandwidth (scales with SMs x clock)"),
    "elem_rate.<class>": ("elements/SM/clock", "element issue limit of one-thread-per-element "
                                                "kernels (index arithmetic)"),
    "bw.<class>": ("fraction", "bandwidth of this class relative to a streaming copy"),
    "row_latency_ns.l2": ("ns", "a column reduction's time per row, working set in L2"),
    "row_latency_ns.hbm": ("ns", "a column reduction's time per row, working set in HBM"),
    "fixed.<class>": ("us", "per-kernel device overhead of this class (else kernel_fixed_us)"),
    "host.<class>": ("us", "host dispatch of a call of this class (else host.elementwise)"),
    "host_per_array_us": ("us", "host dispatch per array operand"),
    "host_per_scalar_us": ("us", "host dispatch per Python-number operand"),
    "framework_us": ("us", "gpugrad's own Python host time per kernel it dispatches (the "
                           "measured host CPU)"),
    "mm_tile": ("elements", "largest GEMM output tile edge"),
    "mm_tile_min": ("elements", "smallest GEMM tile edge (thin operands)"),
    "mm_split_k": ("elements", "k per split when split-K fills idle SMs"),
    "mm_small_tile_exp": ("exponent", "efficiency of a small tile: (area / mm_tile^2) ** exp"),
    "mm_fixed_us": ("us", "per-GEMM device overhead"),
    "mm_eff.float32": ("fraction", "achieved share of FP32 peak in a full GEMM wave"),
    "mm_eff.float64": ("fraction", "achieved share of FP64 tensor-core peak in a full GEMM wave"),
    "pcie_eff": ("fraction", "achieved share of the PCIe rate per direction (pinned)"),
    "link_eff": ("fraction", "achieved share of the NVLink (or PCIe) rate for peer copies"),
    "xfer_latency_us": ("us", "copy-engine latency of one host<->device copy"),
    "xfer_host_us": ("us", "host time to issue a copy"),
    "pageable_extra_us": ("us", "extra latency of a pageable copy (staging setup)"),
    "host_cache_bytes": ("bytes", "pageable staging is fast up to this size (host caches)"),
    "stage_gbps.h2d": ("GB/s", "host staging copy rate, host-to-device, within host caches"),
    "stage_slow_gbps.h2d": ("GB/s", "host staging copy rate, host-to-device, beyond them"),
    "stage_gbps.d2h": ("GB/s", "host staging copy rate, device-to-host, within host caches"),
    "stage_slow_gbps.d2h": ("GB/s", "host staging copy rate, device-to-host, beyond them "
                                    "(page faults on the fresh NumPy array)"),
    "malloc_base_us": ("us", "host time of a cold cudaMalloc"),
    "malloc_gbps": ("GB/s", "bytes a cold cudaMalloc maps per second"),
    "pool_alloc_us": ("us", "host time of a memory-pool hit (CuPy empty())"),
}


def describe_param(name):
    """(unit, meaning) of a model parameter, resolving per-class names like ``host.matmul``."""
    if name in PARAMETERS:
        return PARAMETERS[name]
    family, _, cls = name.partition(".")
    if cls in OP_CLASSES and f"{family}.<class>" in PARAMETERS:
        unit, meaning = PARAMETERS[f"{family}.<class>"]
        return unit, f"{meaning} [{cls}]"
    raise KeyError(f"unknown model parameter {name!r}")


def check_params(params):
    """``params`` if every model parameter is there and sane, else ValueError naming it."""
    for name in PARAMETERS:
        if "<class>" not in name and name not in params:
            raise ValueError(f"sim profile parameter {name!r} is missing")
    for name, value in params.items():
        describe_param(name)   # KeyError for a misspelled parameter
        if not value >= 0:
            raise ValueError(f"sim profile parameter {name!r} must be >= 0, got {value!r}")
    if not 0 <= params["launch_point"] <= 1:
        raise ValueError("launch_point must be within [0, 1]")
    return params
