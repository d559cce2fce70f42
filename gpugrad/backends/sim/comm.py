"""Collectives on a simulated GPU's communication stream: the backend contract's
``collective_launch``/``collective_wait`` (a mixin of ``SimBackend``, backend.py) and
``run_group``, one collective over several sim devices of this process.

A collective's duration is ``collectives.predict`` for its size and rank count on the
process-wide cluster (``interconnect.cluster()``) of this device's GPU. Ranks in other processes
are assumed to reach each collective when this one does (an SPMD program); ``run_group``, which
sees every rank, starts the collective when the last of them is ready, as NCCL does.
"""
from . import interconnect
from .collectives import predict

#: host µs to issue one collective (NCCL's enqueue and its kernel launch). An estimate: NCCL's
#: tuning model counts only device time, and no host figure was measured here.
ISSUE_US = 5.0


def _modeled(backend, op, nbytes, world_size):
    """The collective's Prediction on ``backend``'s GPU, and its trace arguments."""
    found = predict(op, nbytes, world_size, interconnect.cluster(), backend.profile.name)
    args = {"bytes": int(nbytes), "world_size": world_size, "algorithm": found.algorithm,
            "protocol": found.protocol}
    return found, args


class Communication:
    """The comm stream of a sim device (mixed into ``SimBackend``)."""

    def collective_launch(self, op, nbytes, world_size):
        found, args = _modeled(self, op, nbytes, world_size)
        with self.lock:
            return self.timeline.collective(op, found.us, ISSUE_US, args=args)[1]

    def collective_wait(self, handle):
        if handle is None:
            return
        with self.lock:
            self.timeline.collective_wait(handle)


def run_group(backends, op, nbytes):
    """One collective ``op`` of ``nbytes`` per rank over ``backends`` (one rank each, in one
    process): it starts on every device once all are ready, and each device's later compute
    work waits for it. Returns its Prediction."""
    world_size = len(backends)
    found, args = _modeled(backends[0], op, nbytes, world_size)
    ready = 0.0
    for b in backends:
        with b.lock:
            ready = max(ready, b.timeline.collective_ready(ISSUE_US))
    for b in backends:
        with b.lock:
            _, end = b.timeline.collective(op, found.us, ISSUE_US, not_before=ready, args=args)
            b.timeline.collective_wait(end)
    return found
