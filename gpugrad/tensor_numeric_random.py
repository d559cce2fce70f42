"""PyTorch's random sampling methods beyond ``normal_``/``uniform_``: ``bernoulli``,
``bernoulli_``, ``multinomial``, ``random_`` and ``exponential_``, on every device, drawn from
the global generator (``gg.manual_seed``) through the backends' ``random``/``randint``
primitives. Samples carry no gradient, as in PyTorch."""
import math

from . import dtypes as _dtypes
from . import random as _random
from .finfo import finfo, iinfo
from .tensor import Tensor
from .tensor_api import tensor_method


def _no_generator(generator, name):
    if generator is not None:
        raise NotImplementedError(f"{name}: gpugrad has one global generator; pass "
                                  f"generator=None and seed it with gg.manual_seed")


def _uniform(like, shape, dtype):
    """A tensor of U[0, 1) values of ``shape`` and ``dtype`` on ``like``'s device."""
    backend = like._backend
    return Tensor._make(backend.random("uniform", tuple(shape), dtype, _random.next_seed()),
                        backend, False)


def _float_of(self):
    return self.dtype if self.dtype.is_floating_point else _dtypes.float64


@tensor_method("bernoulli")
def bernoulli(self, p=None, *, generator=None):
    """A tensor of self's shape and dtype holding 1 with probability ``p`` (a float), or with
    probability given by self's elements when ``p`` is None, else 0."""
    _no_generator(generator, "bernoulli")
    probs = self.detach() if p is None else p
    if isinstance(probs, Tensor) and bool(((probs < 0) | (probs > 1)).any()):
        raise RuntimeError("Expected p_in >= 0 && p_in <= 1 to be true, but got false.")
    if not isinstance(probs, Tensor) and not 0 <= probs <= 1:
        raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={probs}")
    return (_uniform(self, self.shape, _float_of(self)) < probs).to(self.dtype)


@tensor_method("bernoulli_")
def bernoulli_(self, p=0.5, *, generator=None):
    """Overwrite self with 1 with probability ``p`` (a float, or a tensor broadcast to self's
    shape), else 0; returns self."""
    _no_generator(generator, "bernoulli_")
    if isinstance(p, Tensor):
        p = p.detach().to(self.device).expand(self.shape)
    return self.copy_(bernoulli(self.detach(), p))


@tensor_method("multinomial")
def multinomial(self, num_samples, replacement=False, *, generator=None):
    """``num_samples`` int64 category indices per row of self (1-d or 2-d, non-negative
    weights that need not sum to 1): with ``replacement`` each draw is independent; without
    it, no category repeats (drawn by the exponential-race method, as PyTorch)."""
    _no_generator(generator, "multinomial")
    if self.ndim not in (1, 2):
        raise RuntimeError("prob_dist must be 1 or 2 dim")
    if not self.dtype.is_floating_point:
        raise RuntimeError(f"multinomial only supports floating-point dtypes for input, got: "
                           f"{self.dtype.name.capitalize()}")
    if num_samples <= 0:
        raise RuntimeError("cannot sample n_sample <= 0 samples")
    n = self.shape[-1]
    if not replacement and num_samples > n:
        raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without "
                           "replacement")
    weights = self.detach().reshape(-1, n)
    if not bool((weights.isfinite() & (weights >= 0)).all()):
        raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    if bool((weights.sum(-1) <= 0).any()):
        raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
    rows = weights.shape[0]
    if replacement:  # inverse CDF: the number of cumulative weights at or below each draw
        cdf = weights.to(_dtypes.float64).cumsum(-1)
        draws = _uniform(self, (rows, num_samples), _dtypes.float64) * cdf[:, -1:]
        indices = (cdf.unsqueeze(1) <= draws.unsqueeze(-1)).sum(-1).clamp(max=n - 1)
    else:
        # Exponential(1) / weight is smallest for the first category drawn, then the next...;
        # zero weights race at inf, so they come only after every positive one (as PyTorch)
        race = -(1 - _uniform(self, (rows, n), _dtypes.float64)).log() / weights
        indices = race.topk(num_samples, -1, largest=False).indices
    return indices.reshape(*self.shape[:-1], num_samples)


@tensor_method("random_")
def random_(self, from_=None, to=None, *, generator=None):
    """Overwrite self with integers drawn uniformly from ``[from_, to - 1]`` (PyTorch's
    ``from``, ``to``); ``random_(to)`` draws from ``[0, to - 1]`` and ``random_()`` from
    ``[0, largest]``: the dtype's largest integer (floats: 2 ** their mantissa bits, so every
    draw is exact). Returns self."""
    _no_generator(generator, "random_")
    if to is None and from_ is not None:  # random_(to)
        from_, to = 0, from_
    low = 0 if from_ is None else from_
    if to is None:
        if self.dtype.is_floating_point:
            high = 2 ** round(1 - math.log2(finfo(self.dtype).eps)) + 1
        elif self.dtype is _dtypes.bool_:
            high = 2
        else:  # int64's largest + 1 does not fit the primitive's int64 bound
            high = min(iinfo(self.dtype).max + 1, 2 ** 63 - 1)
    else:
        high = to
    if low >= high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} "
                           f">= to={high}")
    backend = self._backend
    data = backend.randint(int(low), int(high), tuple(self.shape), _random.next_seed())
    return self.copy_(Tensor._make(data, backend, False))


@tensor_method("exponential_")
def exponential_(self, lambd=1.0, *, generator=None):
    """Overwrite self with exponential values of rate ``lambd`` (mean ``1 / lambd``);
    floating tensors only. Returns self."""
    _no_generator(generator, "exponential_")
    if not self.dtype.is_floating_point:
        raise RuntimeError(f"exponential_ expects a floating point tensor, got "
                           f"{self.dtype.name}")
    if lambd <= 0:
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={lambd}")
    u = _uniform(self, self.shape, _dtypes.float64)
    return self.copy_(-(1 - u).log() / lambd)
