"""What the simulator shows: ``SimStats`` counters and the per-op summary table."""
from ..errors import format_bytes, format_si


def format_table(rows, top=None, title=None):
    """A per-op summary sorted by modeled (or measured) device time, most expensive first.

    ``rows`` maps an op name to a dict with ``count``, ``device_us`` and, optionally, ``host_us``,
    ``flops``, ``bytes`` and ``op_class``. ``top`` keeps only the most expensive ops.
    """
    ordered = sorted(rows.items(), key=lambda kv: (-kv[1]["device_us"], kv[0]))
    total_us = sum(r["device_us"] for r in rows.values())
    total_calls = sum(r["count"] for r in rows.values())
    has_host = any("host_us" in r for r in rows.values())
    header = (f"{'op':<32} {'class':<12} {'calls':>7} {'device µs':>12} {'share':>7} "
              f"{'avg µs':>9} {'GFLOP':>9} {'GB':>9}" + (f" {'host µs':>11}" if has_host else ""))
    lines = [title] if title else []
    lines += [header, "-" * len(header)]
    shown = ordered if top is None else ordered[:top]
    for name, r in shown:
        share = r["device_us"] / total_us if total_us else 0.0
        line = (f"{name[:32]:<32} {str(r.get('op_class', ''))[:12]:<12} {r['count']:>7} "
                f"{r['device_us']:>12.2f} {share:>7.1%} {r['device_us'] / r['count']:>9.2f} "
                f"{r.get('flops', 0) / 1e9:>9.3f} {r.get('bytes', 0) / 1e9:>9.4f}")
        if has_host:
            line += f" {r.get('host_us', 0.0):>11.2f}"
        lines.append(line)
    if top is not None and len(ordered) > top:
        lines.append(f"... {len(ordered) - top} more ops")
    lines.append("-" * len(header))
    lines.append(f"{'total':<32} {'':<12} {total_calls:>7} {total_us:>12.2f}")
    return "\n".join(lines)


class SimStats:
    """A snapshot of one sim device's counters (``gg.sim.stats(device)``).

    Attributes: ``kernels``, ``flops``, ``bytes`` (moved by kernels), ``h2d_bytes``,
    ``d2h_bytes``, ``p2p_bytes``, ``in_use_bytes``, ``peak_bytes``, ``reserved_bytes`` (held by
    the caching pool: in use plus cached free blocks), ``capacity_bytes``,
    ``device_us`` (modeled time the device was busy), ``host_us`` (the modeled host clock),
    ``stream_us`` (when the stream's last kernel ends), ``comm_us`` (when the communication
    stream's last collective ends), ``comm_busy_us`` (modeled time collectives ran),
    ``comm_exposed_us`` (of that, time the device or host sat waiting for them),
    ``pool_hits``/``pool_misses``, ``by_op`` (op name -> dict(count, device_us, flops, bytes,
    op_class)), ``by_class`` (op class -> device µs), ``device`` and ``profile`` (names).
    """

    __slots__ = ("device", "profile", "kernels", "flops", "bytes", "h2d_bytes", "d2h_bytes",
                 "p2p_bytes", "in_use_bytes", "peak_bytes", "reserved_bytes", "capacity_bytes",
                 "device_us", "host_us", "stream_us", "comm_us", "comm_busy_us", "comm_exposed_us",
                 "pool_hits", "pool_misses", "by_op", "by_class")

    def __init__(self, backend):
        timeline, pool = backend.timeline, backend.pool
        self.device = str(backend.device)
        self.profile = backend.profile.name
        by_op, self.by_class = backend.kernel_totals()
        self.by_op = {
            name: {"count": c, "device_us": us, "flops": fl, "bytes": by, "op_class": cls}
            for name, (c, us, fl, by, cls) in by_op.items()
        }
        self.kernels = sum(r["count"] for r in self.by_op.values())
        self.flops = sum(r["flops"] for r in self.by_op.values())
        self.bytes = sum(r["bytes"] for r in self.by_op.values())
        self.h2d_bytes = backend.h2d_bytes
        self.d2h_bytes = backend.d2h_bytes
        self.p2p_bytes = backend.p2p_bytes
        self.in_use_bytes = pool.in_use
        self.peak_bytes = pool.peak
        self.reserved_bytes = pool.reserved
        self.capacity_bytes = pool.capacity
        self.pool_hits = pool.hits
        self.pool_misses = pool.misses
        self.device_us = timeline.device_busy_us
        self.host_us = timeline.host_us
        self.stream_us = timeline.stream_us
        self.comm_us = timeline.comm_us
        self.comm_busy_us = timeline.comm_busy_us
        self.comm_exposed_us = timeline.comm_exposed_us

    def as_dict(self):
        """Every field as a plain dict (JSON-serializable)."""
        return {name: getattr(self, name) for name in self.__slots__}

    def table(self, top=None):
        """The per-op summary, sorted by modeled device time (``top`` keeps the first few)."""
        return format_table(self.by_op, top,
                            title=f"{self.device} ({self.profile}, modeled): per-op summary")

    def __eq__(self, other):
        return isinstance(other, SimStats) and self.as_dict() == other.as_dict()

    def __repr__(self):
        busy = self.device_us / self.host_us if self.host_us else 0.0
        return (
            f"SimStats({self.device}, profile {self.profile})\n"
            f"  kernels: {self.kernels}, {format_si(self.flops, 'FLOP')}, {format_si(self.bytes, 'B')} moved\n"
            f"  transfers: h2d {format_si(self.h2d_bytes, 'B')}, d2h {format_si(self.d2h_bytes, 'B')}, "
            f"p2p {format_si(self.p2p_bytes, 'B')}\n"
            f"  memory: {format_bytes(self.in_use_bytes)} in use, peak {format_bytes(self.peak_bytes)} "
            f"of {format_bytes(self.capacity_bytes)}; pool reserves {format_bytes(self.reserved_bytes)} "
            f"(hits {self.pool_hits}, misses {self.pool_misses})\n"
            f"  modeled time: host {self.host_us:.2f} µs, device busy {self.device_us:.2f} µs "
            f"({busy:.0%} of host time), stream ends at {self.stream_us:.2f} µs"
            + (f"\n  communication: busy {self.comm_busy_us:.2f} µs, exposed "
               f"{self.comm_exposed_us:.2f} µs, comm stream ends at {self.comm_us:.2f} µs"
               if self.comm_busy_us else "")
        )
