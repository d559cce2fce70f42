"""What ``gg.sim.plan`` trains: the built-in MLP specs, their sizing, and user programs.

A model is given as one of:

- an MLP spec string: ``"mlp:WIDTHxDEPTH"`` (DEPTH Linear layers of WIDTH inputs and WIDTH
  outputs, relu between them; the last layer's outputs are the classes), or
  ``"mlp:SIZE"`` with SIZE a parameter count such as ``7B``, ``350M`` or ``1.3e9`` (width 8192,
  as many layers as come closest to SIZE parameters; ``"mlp:7B@4096"`` picks the width);
- a dict with the keys ``input``, ``hidden``, ``layers`` and ``classes`` (``layers`` Linear
  layers: input -> hidden -> ... -> hidden -> classes), or ``params`` and optionally ``width``;
- a callable ``build(device)`` returning a ``gg.nn.Module`` built on ``device``, or a tuple
  ``(module, inputs, targets)`` with the inputs and targets of one per-GPU batch on ``device``;
- (CLI) a Python script defining that ``build(device)``, and optionally ``loss(output,
  targets)`` returning the scalar loss (cross-entropy otherwise).

Build models on the device they are given (``MLP(sizes, device=device, dtype=...)``): on the
planner's shape-only device that allocates nothing on the host, where building on the CPU and
moving would hold every value in host memory.
"""
import importlib.util
import os
import re
from typing import NamedTuple

from .. import creation
from ..dtypes import int64
from ..nn.mlp import MLP

#: width of an MLP given only by its parameter count
DEFAULT_WIDTH = 8192
_SUFFIX = {"k": 10**3, "m": 10**6, "b": 10**9, "g": 10**9, "t": 10**12}
_MLP_SHAPE = re.compile(r"mlp:(\d+)x(\d+)$", re.IGNORECASE)
# a count needs a suffix or an exponent: "mlp:4096" is more likely a forgotten "x DEPTH"
_MLP_SIZE = re.compile(r"mlp:([0-9.]+)(e[0-9]+|[kmbgt])(?:@(\d+))?$", re.IGNORECASE)
_SPEC_HELP = ("expected 'mlp:WIDTHxDEPTH' (e.g. 'mlp:4096x8'), 'mlp:SIZE' (e.g. 'mlp:7B', "
              "'mlp:350M@2048'), a dict with input/hidden/layers/classes or params/width, "
              "or a callable build(device)")


class MLPSpec(NamedTuple):
    """A classifier MLP: ``layers`` Linear layers, input -> hidden ... hidden -> classes."""
    input: int
    hidden: int
    layers: int
    classes: int

    @property
    def sizes(self):
        """The layer widths, input first (``gg.nn.MLP``'s argument)."""
        return [self.input] + [self.hidden] * (self.layers - 1) + [self.classes]

    @property
    def parameters(self):
        """How many parameters (weights and biases) the MLP holds."""
        sizes = self.sizes
        return sum(n_in * n_out + n_out for n_in, n_out in zip(sizes, sizes[1:]))

    def describe(self):
        """``"MLP 8192x100 (6.71B parameters)"``: what a plan's title says."""
        shape = (f"{self.hidden}x{self.layers}" if self.input == self.hidden == self.classes
                 else "-".join(map(str, self.sizes)) if self.layers <= 4
                 else f"{self.input}-{self.hidden}x{self.layers - 1}-{self.classes}")
        return f"MLP {shape} ({format_count(self.parameters)} parameters)"


def format_count(n):
    """``6.71B``, ``350M``, ``12.3K``: a parameter count as people write it."""
    for suffix, scale in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g}{suffix}"
    return str(n)


def mlp_for_parameters(parameters, width=DEFAULT_WIDTH, input=None, classes=None):
    """The ``MLPSpec`` of width ``width`` whose layer count brings it closest to ``parameters``
    parameters (at least one layer): ``mlp_for_parameters(7e9)`` is an 8192-wide MLP of 104
    layers, 6.98B parameters."""
    if not parameters > 0:
        raise ValueError(f"the parameter count must be positive, got {parameters!r}")
    if not isinstance(width, int) or width <= 0:
        raise ValueError(f"the MLP width must be a positive int, got {width!r}")
    input = width if input is None else input
    classes = width if classes is None else classes
    per_hidden = width * width + width
    edges = input * width + width + width * classes + classes  # first and last layers
    layers = 2 + max(0, round((parameters - edges) / per_hidden))
    best = min((MLPSpec(input, width, n, classes) for n in (1, layers)),
               key=lambda spec: abs(spec.parameters - parameters))
    return best


def parse_model(model):
    """The ``MLPSpec`` a spec string or dict describes (callables pass through unchanged);
    ValueError naming what is wrong otherwise."""
    if callable(model) or isinstance(model, MLPSpec):
        return model
    if isinstance(model, dict):
        return _spec_from_dict(model)
    if not isinstance(model, str):
        raise ValueError(f"unknown model {model!r}: {_SPEC_HELP}")
    text = model.strip()
    shape = _MLP_SHAPE.match(text)
    if shape:
        width, depth = int(shape.group(1)), int(shape.group(2))
        if width < 1 or depth < 1:
            raise ValueError(f"model {model!r}: width and depth must be at least 1")
        return MLPSpec(width, width, depth, width)
    size = _MLP_SIZE.match(text)
    if size:
        scale = size.group(2).lower()
        count = float(size.group(1)) * (_SUFFIX[scale] if scale in _SUFFIX else
                                         10 ** int(scale[1:]))
        width = int(size.group(3)) if size.group(3) else DEFAULT_WIDTH
        return mlp_for_parameters(count, width)
    raise ValueError(f"unknown model {model!r}: {_SPEC_HELP}")


def _spec_from_dict(spec):
    if "params" in spec:
        unknown = set(spec) - {"params", "width", "input", "classes"}
        if unknown:
            raise ValueError(f"model dict: unknown keys {sorted(unknown)} beside 'params' "
                             f"(allowed: params, width, input, classes)")
        return mlp_for_parameters(spec["params"], spec.get("width", DEFAULT_WIDTH),
                                  spec.get("input"), spec.get("classes"))
    keys = ("input", "hidden", "layers", "classes")
    missing = [k for k in keys if k not in spec]
    unknown = set(spec) - set(keys)
    if missing or unknown:
        raise ValueError(f"model dict needs exactly the keys {list(keys)} (or 'params' and "
                         f"'width'); missing {missing}, unknown {sorted(unknown)}")
    values = [spec[k] for k in keys]
    if any(not isinstance(v, int) or isinstance(v, bool) or v < 1 for v in values):
        raise ValueError(f"model dict: {', '.join(keys)} must be positive ints, got {spec}")
    return MLPSpec(*values)


def load_script(path):
    """The ``build`` function (and ``loss``, or None) a user script defines; ValueError when
    the file is missing or defines no ``build(device)``."""
    if not os.path.isfile(path):
        raise ValueError(f"--script {path!r}: no such file")
    module_spec = importlib.util.spec_from_file_location("gpugrad_plan_script", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    build = getattr(module, "build", None)
    if not callable(build):
        raise ValueError(f"--script {path!r} defines no build(device) function: it must return "
                         f"a gg.nn.Module built on device, or (module, inputs, targets)")
    loss = getattr(module, "loss", None)
    return build, loss if callable(loss) else None


class Workload(NamedTuple):
    """One GPU's share of a training step: the module, its per-GPU batch and the targets."""
    module: object
    inputs: object
    targets: object


def build_workload(model, device, batch, dtype, input_shape=None):
    """Build ``model`` (an ``MLPSpec`` or a callable, see the module docstring) on ``device``
    with a per-GPU batch of ``batch`` samples. Inputs a spec or a bare module needs are zeros
    of ``(batch, *input_shape)`` in ``dtype`` (the MLP's input width when ``input_shape`` is
    None) and class-0 targets: the planner models time and memory, which values do not change."""
    if isinstance(model, MLPSpec):
        module = MLP(model.sizes, device=device, dtype=dtype)
        input_shape = (model.input,) if input_shape is None else input_shape
    else:
        built = model(device)
        if isinstance(built, tuple):
            if len(built) != 3:
                raise ValueError(f"build(device) returned a tuple of {len(built)} items; "
                                 f"expected (module, inputs, targets)")
            return Workload(*built)
        module = built
        if input_shape is None:
            raise ValueError("build(device) returned a bare module: give input_shape= (the "
                             "shape of one sample, e.g. (784,)), or return (module, inputs, "
                             "targets) from build")
    inputs = creation.zeros(batch, *input_shape, device=device, dtype=dtype)
    targets = creation.zeros(batch, device=device, dtype=int64)
    return Workload(module, inputs, targets)
