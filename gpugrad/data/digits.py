"""The 1,797 real 8x8 handwritten digits (UCI) that ship inside scikit-learn."""
import numpy as np

from ..creation import tensor


def load_digits(device=None, normalize=True):
    """``(X, y)``: X of shape (1797, 64) float32 (pixels scaled from 0..16 to [0, 1] when
    ``normalize``), y the digit 0..9 as int64.

    Needs scikit-learn, which holds the data file: ``pip install "gpugrad[examples]"``.
    """
    try:
        from sklearn.datasets import load_digits as sk_load_digits
    except ImportError:
        raise ImportError(
            "load_digits needs scikit-learn, which ships the digits data: "
            "pip install 'gpugrad[examples]' (or pip install scikit-learn)"
        ) from None
    digits = sk_load_digits()
    x = digits.data.astype(np.float32)
    if normalize:
        x /= 16.0
    return tensor(x, device=device), tensor(digits.target.astype(np.int64), device=device)
