"""Gradient health: clipping (PyTorch's ``clip_grad_norm_`` / ``clip_grad_value_``) and
``grad_stats``, a per-parameter table that makes exploding and vanishing gradients visible.

Everything here runs on the parameters' device; only ``grad_stats`` (and ``clip_grad_norm_``
with ``error_if_nonfinite=True``) read numbers back to the host, once per call.
"""
import math

from .. import engine as _engine
from .. import dtypes as _dtypes
from ..creation import tensor
from ..tensor import Tensor
from ..tensor_shape_methods import stack


def _grads(parameters):
    """The ``.grad`` of each parameter that has one (``parameters``: a Tensor or iterable)."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def vector_norm(x, ord=2.0):
    """The ``ord``-norm of all of ``x``'s entries as a 0-d tensor (``torch.linalg.vector_norm``):
    ``inf`` is max |x|, ``-inf`` min |x|, ``0`` the count of non-zeros, else (sum |x|^p)^(1/p)."""
    ord = float(ord)
    if ord == math.inf:
        return x.abs().amax()
    if ord == -math.inf:
        return x.abs().amin()
    if ord == 0:
        return x.ne(0).to(x.dtype).sum()
    if ord == 1:
        return x.abs().sum()
    if ord == 2:
        return (x * x).sum().sqrt()
    return (x.abs() ** ord).sum() ** (1.0 / ord)


def _common_float_dtype(tensors):
    return _dtypes.float64 if any(t.dtype is _dtypes.float64 for t in tensors) else _dtypes.float32


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """The ``norm_type``-norm of all of ``tensors`` together, as if concatenated into one
    vector, as a 0-d tensor on the first tensor's device (``torch.nn.utils.get_total_norm``).

    ``float('inf')`` gives the largest |entry|. With ``error_if_nonfinite=True`` a NaN or inf
    norm raises (this reads the norm back to the host). ``foreach`` is accepted for PyTorch
    compatibility; gpugrad always runs one kernel per tensor.
    """
    if isinstance(tensors, Tensor):
        tensors = [tensors]
    tensors = list(tensors)
    norm_type = float(norm_type)
    if not tensors:
        return tensor(0.0)
    with _engine.no_grad():
        device, dtype = tensors[0].device, _common_float_dtype(tensors)
        norms = [vector_norm(t, norm_type).to(device, dtype) for t in tensors]
        if len(norms) == 1:
            total_norm = norms[0]
        else:
            total_norm = vector_norm(stack(norms), norm_type)
    if error_if_nonfinite and not math.isfinite(total_norm.item()):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is "
            f"non-finite, so it cannot be clipped. To disable this error and scale the "
            f"gradients by the non-finite norm anyway, set `error_if_nonfinite=False`"
        )
    return total_norm


def clip_grads_with_norm_(parameters, max_norm, total_norm, foreach=None):
    """Multiply the gradients of ``parameters`` in place by ``min(1, max_norm / (total_norm +
    1e-6))`` (``torch.nn.utils.clip_grads_with_norm_``); ``total_norm`` is a 0-d tensor, as
    ``get_total_norm`` returns."""
    grads = _grads(parameters)
    if not grads:
        return
    with _engine.no_grad():
        clip_coef = (float(max_norm) / (total_norm + 1e-6)).clamp(max=1.0)
        for g in grads:
            # The same tensor gets the scaled values (one kernel; copy_ would add a second,
            # and nothing else holds a grad's array).
            g.data = g * clip_coef.to(g.device, g.dtype)


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scale the gradients of ``parameters`` in place so that their total norm is at most
    ``max_norm``; return the total norm (before clipping) as a 0-d tensor.

    The total norm is the ``norm_type``-norm of all gradients together, as if they were
    concatenated into one vector (``float('inf')`` gives the largest |entry|). Gradients are
    multiplied by ``min(1, max_norm / (total_norm + 1e-6))``, exactly as PyTorch does, so
    ``clip_grad_norm_(params, float('inf'))`` only measures the norm. With
    ``error_if_nonfinite=True`` a NaN or inf total norm raises instead of spreading into every
    gradient. ``foreach`` is accepted for PyTorch compatibility.
    """
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    parameters = list(parameters)  # read twice: a generator would be empty the second time
    total_norm = get_total_norm(_grads(parameters), norm_type, error_if_nonfinite, foreach)
    clip_grads_with_norm_(parameters, max_norm, total_norm, foreach)
    return total_norm


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient entry of ``parameters`` into ``[-clip_value, clip_value]`` in place
    (``torch.nn.utils.clip_grad_value_``). ``foreach`` is accepted for compatibility."""
    clip_value = float(clip_value)
    with _engine.no_grad():
        for g in _grads(parameters):
            g.data = g.clamp(min=-clip_value, max=clip_value)


class GradStats:
    """Per-parameter gradient health, as returned by ``grad_stats``.

    ``rows`` is a list of dicts with ``name``, ``shape``, ``norm`` (L2), ``max_abs``,
    ``zero_frac`` (fraction of entries exactly 0) and ``finite``; a parameter without a
    gradient has ``None`` in the numeric fields. ``total_norm`` is the L2 norm of all gradients
    together (what ``clip_grad_norm_`` measures). ``str(stats)`` prints a table; ``as_dict()``
    maps each name to its row.
    """

    def __init__(self, rows, total_norm):
        self.rows = rows
        self.total_norm = total_norm

    def as_dict(self):
        return {row["name"]: dict(row) for row in self.rows}

    def __getitem__(self, name):
        for row in self.rows:
            if row["name"] == name:
                return row
        raise KeyError(f"no parameter named {name!r}; names are {[r['name'] for r in self.rows]}")

    def __iter__(self):
        return iter(self.rows)

    def __len__(self):
        return len(self.rows)

    def __str__(self):
        header = ("parameter", "shape", "grad norm", "max |grad|", "zeros", "")
        lines = [header]
        largest = max((r["norm"] for r in self.rows if r["norm"] is not None and r["finite"]),
                      default=0.0)
        for row in self.rows:
            shape = "x".join(str(s) for s in row["shape"]) or "scalar"
            if row["norm"] is None:
                lines.append((row["name"], shape, "no grad", "", "", ""))
                continue
            lines.append((row["name"], shape, f"{row['norm']:.3e}", f"{row['max_abs']:.3e}",
                          f"{100 * row['zero_frac']:.1f}%", _flag(row, largest)))
        widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
        text = ["  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip()
                for line in lines]
        text.insert(1, "-" * len(text[0]))
        total = "n/a" if self.total_norm is None else f"{self.total_norm:.3e}"
        text.append(f"total grad norm: {total}")
        return "\n".join(text)

    def __repr__(self):
        return f"<GradStats of {len(self.rows)} parameters, total norm {self.total_norm}>"


# Thresholds for the table's hint column: rough, for eyes, not for decisions. A norm is
# "vanishing?" below VANISHING_NORM, or below VANISHING_RATIO times the table's largest norm
# (its layer learns ten thousand times slower than another).
VANISHING_NORM = 1e-7
VANISHING_RATIO = 1e-4
EXPLODING_NORM = 1e3


def _flag(row, largest):
    if not row["finite"]:
        return "NaN/inf!"
    if row["norm"] > EXPLODING_NORM:
        return "exploding?"
    if row["norm"] < VANISHING_NORM or row["norm"] < VANISHING_RATIO * largest:
        return "vanishing?"
    return ""


def _named_parameters(model):
    if hasattr(model, "named_parameters"):
        return list(model.named_parameters())
    if isinstance(model, Tensor):
        return [("0", model)]
    if isinstance(model, dict):
        return list(model.items())
    return [(str(i), p) for i, p in enumerate(model)]


def grad_stats(model):
    """Gradient health per parameter of ``model`` (a Module, a dict of name -> tensor, or an
    iterable of tensors): L2 norm, max |grad| and fraction of zero entries, as a ``GradStats``
    table. Call it after ``backward()``; it reads all numbers back in one transfer.
    """
    named = _named_parameters(model)
    measured = [(name, p) for name, p in named if p.grad is not None]
    values = []
    if measured:
        with _engine.no_grad():
            columns = []
            for _, p in measured:
                g = p.grad.to(measured[0][1].grad.device, _dtypes.float64)
                columns.append(stack([vector_norm(g, 2), vector_norm(g, math.inf),
                                      g.eq(0).to(_dtypes.float64).sum() / max(g.numel(), 1)]))
            values = stack(columns).tolist()  # one device-to-host copy for the whole table
    by_name = dict(zip([name for name, _ in measured], values))
    rows = []
    for name, p in named:
        row = {"name": name, "shape": tuple(p.shape), "norm": None, "max_abs": None,
               "zero_frac": None, "finite": True}
        if name in by_name:
            norm, max_abs, zero_frac = by_name[name]
            row.update(norm=norm, max_abs=max_abs, zero_frac=zero_frac,
                       finite=math.isfinite(norm) and math.isfinite(max_abs))
        rows.append(row)
    total = math.sqrt(sum(v[0] ** 2 for v in values)) if values else None
    return GradStats(rows, total)
