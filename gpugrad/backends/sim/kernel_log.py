"""The one line per modeled kernel that ``GPUGRAD_DEBUG=2`` prints (as tinygrad's ``DEBUG=2``
does)."""
import sys

from ...errors import format_si


def _shapes(spec):
    shapes = spec.shapes
    if isinstance(shapes, (tuple, list)):
        return " ".join(str(tuple(s)) if isinstance(s, (tuple, list)) else str(s) for s in shapes)
    return str(shapes)


def print_kernel(device, spec, us, outputs=(), file=None):
    """One ``GPUGRAD_DEBUG=2`` line: name, shapes (inputs -> outputs), bytes, flops, modeled µs,
    and the GB/s and GFLOP/s they imply."""
    moved = spec.bytes_read + spec.bytes_written
    gbps = moved / us / 1e3 if us > 0 else 0.0
    gflops = spec.flops / us / 1e3 if us > 0 else 0.0
    shapes = _shapes(spec) + " -> " + " ".join(str(tuple(o.shape)) for o in outputs)
    print(f"[{device}] {spec.name:<30} {shapes:<40} {spec.dtype!s:<8} "
          f"{format_si(moved, 'B'):>10} {format_si(spec.flops, 'FLOP'):>12} {us:>10.2f} µs "
          f"{gbps:>8.1f} GB/s {gflops:>9.1f} GFLOP/s", file=file or sys.stderr)
