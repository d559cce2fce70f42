"""``gg.distributed``: PyTorch's ``torch.distributed`` on MPI (mpi4py) and NCCL (CuPy).

Launch one process per rank with ``gpugrad run -n N script.py`` (or ``mpiexec -n N python
script.py``); in the script, ``init_process_group("mpi")`` (tensors on any device) or
``init_process_group("nccl")`` (one GPU per process), then the collectives: ``all_reduce``,
``broadcast``, ``all_gather``, ``all_gather_into_tensor``, ``reduce_scatter``,
``reduce_scatter_tensor``, ``send``/``recv``, ``isend``/``irecv`` and ``barrier``, each in place
on the tensors given, with ``async_op=True`` returning a ``Work``. A collective that does not
complete within the group's timeout raises ``DistBackendError`` instead of hanging. Install with
``pip install 'gpugrad[mpi]'``. ``gpugrad.distributed.launch.launch`` is ``gpugrad run`` as a
function.
"""
from .collectives import (all_gather, all_gather_into_tensor, all_reduce, barrier, broadcast,
                          irecv, isend, recv, reduce_scatter, reduce_scatter_tensor, send)
from .process_group import (destroy_process_group, get_backend, get_rank, get_world_size,
                            init_process_group, is_available, is_initialized, is_mpi_available,
                            is_nccl_available)
from .reduce_op import ReduceOp
from .work import DistBackendError, Work

__all__ = ["all_gather", "all_gather_into_tensor", "all_reduce", "barrier", "broadcast",
           "irecv", "isend", "recv", "reduce_scatter", "reduce_scatter_tensor", "send",
           "destroy_process_group", "get_backend", "get_rank", "get_world_size",
           "init_process_group", "is_available", "is_initialized", "is_mpi_available",
           "is_nccl_available", "ReduceOp", "DistBackendError", "Work"]
