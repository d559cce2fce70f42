"""``gg.nn.parallel``: data-parallel training over the processes of ``gg.distributed``."""
from .distributed import DistributedDataParallel

__all__ = ["DistributedDataParallel"]
