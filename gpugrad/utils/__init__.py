"""PyTorch's ``torch.utils`` path: ``gg.utils.data`` is ``gg.data`` (datasets and loaders)."""
from . import data  # noqa: F401
