"""Lookups of ``gg.nn.functional``: ``embedding`` (rows of a table by index) and ``one_hot``."""
from ..creation import arange
from ..ops.indexing import refuse_negative
from ..tensor_methods import where


def _check_indices(name, tensor, allowed=("int64", "int32")):
    if tensor.dtype not in allowed:
        raise RuntimeError(f"{name}: expected an index tensor of dtype "
                           f"{' or '.join(allowed)}, got {tensor.dtype}; convert with .long()")


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,
              scale_grad_by_freq=False, sparse=False):
    """Rows of ``weight`` (num_embeddings, embedding_dim) at the indices ``input`` (any shape):
    the result has shape ``input.shape + (embedding_dim,)``.

    The gradient scatter-adds into the rows looked up; with ``padding_idx`` the rows looked up
    at that index get no gradient (their values are returned as they are). ``max_norm``,
    ``scale_grad_by_freq`` and ``sparse=True`` are not supported (each raises).
    """
    if max_norm is not None:
        raise NotImplementedError("embedding: max_norm is not supported (PyTorch renormalizes "
                                  "the looked-up rows of weight in place); renormalize the "
                                  "rows yourself under gg.no_grad() before the lookup")
    if scale_grad_by_freq:
        raise NotImplementedError("embedding: scale_grad_by_freq is not supported; scale the "
                                  "loss or the gradient instead")
    if sparse:
        raise NotImplementedError("embedding: sparse gradients are not supported; use "
                                  "sparse=False (dense gradients)")
    _check_indices("embedding", input)
    if weight.ndim != 2:
        raise RuntimeError(f"embedding: 'weight' must be 2-D, got {list(weight.shape)}")
    if padding_idx is not None:
        if not -weight.shape[0] <= padding_idx < weight.shape[0]:
            raise AssertionError("Padding_idx must be within num_embeddings")
        padding_idx %= weight.shape[0]
    refuse_negative("embedding", input, 0, weight.shape[0], IndexError)
    out = weight[input]
    if padding_idx is not None and out.requires_grad:
        # the same values, but the padding rows' copies are cut from the graph
        out = where((input != padding_idx).unsqueeze(-1), out, out.detach())
    return out


def one_hot(tensor, num_classes=-1):
    """An int64 tensor of shape ``tensor.shape + (num_classes,)`` with a 1 at each class of
    ``tensor`` (int64) and 0 elsewhere; ``num_classes=-1`` means ``tensor.max() + 1``."""
    if tensor.dtype != "int64":
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    count = tensor.numel()
    if num_classes == -1 or tensor.device.type == "cpu":
        # the classes are read on the host (PyTorch does too when it must infer their number)
        if count == 0 and num_classes == -1:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        if count:
            if int(tensor.min().item()) < 0:
                raise RuntimeError("Class values must be non-negative.")
            top = int(tensor.max().item())
            if num_classes == -1:
                num_classes = top + 1
            elif top >= num_classes:
                raise RuntimeError("Class values must be smaller than num_classes.")
    classes = arange(num_classes, device=tensor.device)
    return (tensor.unsqueeze(-1) == classes).long()
