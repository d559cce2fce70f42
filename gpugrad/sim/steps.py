"""gpugrad's own MLP training step on sim, captured as a replayable list of timeline actions.

``bench/mlp.py`` times gpugrad's training step (``gg.nn.Linear`` layers with fused bias+ReLU, the
fused cross-entropy, backward, one-launch SGD) on a real GPU. ``step_actions`` runs that same step
through gg.nn and gg.optim on a sim device and records what its timeline was asked to do
(kernels, transfers, allocations, syncs), in ``fidelity.py``'s action format. The list does not
depend on the profile, so ``fidelity.run_program`` can replay it under any parameters (this is
how ``calibrate.py --fit-framework`` fits ``framework_us``) without recomputing NumPy values.

``version`` replays the step as an older gpugrad launched it, for measurements taken then:

- ``"head"``: this checkout's step;
- ``"ebff087"``: the step of GPU check runs 2 to 5 (commits 4eb437c to ebff087): fused and
  optimizer kernels moving one element per thread access (not 16 bytes), and the loss's mean as
  a sum and a division (a third kernel, a division, in its backward) instead of folded into the
  cross-entropy op;
- ``"b3d5b18"``: that, and before commit 9b8b829, the autograd engine stored a copy of every leaf gradient
  as ``.grad`` (a plain copy for a bias, a transposing copy for a weight, whose gradient was the
  transposed view of ``x.T @ grad``): one extra copy kernel per parameter (6 in the 3-layer
  small MLP, 8 in the 4-layer large one). Those copies are replayed, charged like any gpugrad
  kernel. Not replayed: the Python of the old ``input @ weight.T`` (a transpose view op and its
  backward node, which launch no kernel) and the old weight-gradient GEMM's m/n orientation.
"""
import numpy as np

from ..backends.sim.timeline import Timeline

STEP_VERSIONS = ("head", "ebff087", "b3d5b18")
LR = 1e-3          # bench/mlp.py's learning rate (it does not change the modeled time)
_CACHE = {}        # (sizes, batch, version) -> actions of one step


class _Recorder(Timeline):
    """A Timeline that also lists every call it gets as fidelity.py actions."""

    def __init__(self, profile, framework):
        super().__init__(profile, record_events=False, framework=framework)
        self.actions = []
        self._in_sync = False

    def kernel(self, spec):
        self.actions.append(("kernel", spec))
        return super().kernel(spec)

    def transfer(self, kind, nbytes, pinned=False):
        self.actions.append(("transfer", kind, int(nbytes), bool(pinned)))
        return super().transfer(kind, nbytes, pinned)

    def malloc(self, nbytes):
        self.actions.append(("malloc", int(nbytes)))
        return super().malloc(nbytes)

    def synchronize(self):
        self.actions.append(("sync",))
        self._in_sync = True   # its sync_us is part of the ("sync",) action
        try:
            return super().synchronize()
        finally:
            self._in_sync = False

    def host_work(self, us, name="host"):
        if not self._in_sync:
            self.actions.append(("host", us))
        super().host_work(us, name)

    def record_event(self):
        self.actions.append(("event",))
        return super().record_event()


def make_step(sizes, batch, device, version="head"):
    """bench/mlp.py's gpugrad step (an MLP of ``sizes``, ReLU, cross-entropy, SGD) on
    ``device``: returns ``step()``. Weights are random; values do not change modeled time."""
    import gpugrad as gg
    from ..device import get_backend

    if version not in STEP_VERSIONS:
        raise ValueError(f"unknown step version {version!r}; expected one of {STEP_VERSIONS}")
    rng = np.random.default_rng(0)
    layers = [gg.nn.Linear(i, o, activation=None if k == len(sizes) - 2 else "relu",
                           device=device)
              for k, (i, o) in enumerate(zip(sizes[:-1], sizes[1:]))]
    model = gg.nn.Sequential(*layers)
    opt = gg.optim.SGD(model.parameters(), lr=LR)
    x = gg.tensor(rng.standard_normal((batch, sizes[0])).astype(np.float32), device=device)
    y = gg.tensor(rng.integers(0, sizes[-1], batch), device=device)
    backend = get_backend(device)
    # b3d5b18's leaf-gradient copies read arrays of the old gradients' layouts: (in, out)
    # weight gradients read transposed, (out,) bias gradients
    old_grads = [backend.full(tuple(p.shape)[::-1], 0.0, "float32")
                 for p in model.parameters()] if version == "b3d5b18" else []
    state = {}

    old_loss = version != "head"

    def step():
        opt.zero_grad()
        if old_loss:  # the old mean: a sum, a division, and a division in its backward
            rows = gg.nn.functional.cross_entropy(model(x), y, reduction="none")
            loss = rows.sum() / rows.shape[0]
        else:
            loss = gg.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        for g in reversed(old_grads):   # the engine met the last layer's leaves first
            backend.contiguous(backend.permute(g, tuple(range(g.data.ndim))[::-1]))
        opt.step()
        state["loss"] = loss   # as bench/mlp.py keeps the last loss

    return step


def step_actions(sizes, batch, version="head", device="sim:0"):
    """The timeline actions of one steady-state gpugrad step (cached). Reconfigures
    ``device`` (its clocks and counters restart) and leaves it on its default settings."""
    key = (tuple(sizes), int(batch), version)
    if key not in _CACHE:
        from ..device import get_backend
        from . import configure

        configure(device, profile="h200")
        backend = get_backend(device)
        if version != "head":  # the kernels of then moved one element per thread access
            backend.fused_vector_bytes = 0
        saved = backend.timeline
        try:
            step = make_step(sizes, batch, device, version)
            for _ in range(2):   # the caching pool is warm after the first step
                step()
            backend.synchronize()
            recorder = _Recorder(backend.profile, backend.framework_overhead)
            backend.timeline = backend.pool.timeline = recorder
            step()
        finally:
            backend.timeline = backend.pool.timeline = saved
            vars(backend).pop("fused_vector_bytes", None)  # back to the class's setting
        del step
        configure(device)
        _CACHE[key] = recorder.actions
    return _CACHE[key]
