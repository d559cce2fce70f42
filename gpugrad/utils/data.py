"""``gg.utils.data``: PyTorch's ``torch.utils.data`` path to gpugrad's datasets and loaders
(``gg.data``), so ``from torch.utils.data import DataLoader`` translates by renaming."""
from ..data import *  # noqa: F401,F403
from ..data import __all__  # noqa: F401
