"""``einsum``: Einstein summation, as ``torch.einsum``, built from differentiable ops.

The equation is parsed into one label per dimension; repeated labels within an operand take a
diagonal, labels nobody needs later are summed out, and each pair of operands is contracted by
one batched ``matmul`` after a permute and reshape (batch labels, then each operand's own labels,
then the contracted ones). So gradients, to any order, and the simulator's costs are those of
permute, reshape, sum, multiply and matmul: ``"ij,jk->ik"`` is one matmul kernel, nothing else.
"""
import math
import string

from ..tensor import Tensor

_LETTERS = set(string.ascii_letters)


def einsum(equation, *operands):
    """Sum of products of ``operands``' entries as ``equation`` labels them, e.g.
    ``einsum("ij,jk->ik", a, b)`` (``a @ b``), ``"bij,bjk->bik"`` (batched), ``"i,i->"``
    (dot), ``"ii->i"`` (diagonal), ``"ij->ji"`` (transpose), ``"i,j->ij"`` (outer).

    Each operand's term has one letter per dimension; ``...`` stands for dimensions that
    broadcast across operands. Without ``->`` the output has the ``...`` dimensions then the
    letters seen exactly once, in alphabetical order; an explicit output without ``...`` sums
    the ``...`` dimensions. Size-1 dimensions broadcast. Operands may
    also come as one list: ``einsum(eq, [a, b])``. All operands must share a dtype.
    """
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not isinstance(equation, str):
        raise TypeError("einsum(): the sublist format (einsum(a, [0, 1], b, [1, 2])) is not "
                        "supported; write the equation as a string, e.g. einsum('ij,jk', a, b)")
    if not operands:
        raise RuntimeError("einsum(): must provide at least one operand")
    for i, x in enumerate(operands):
        if not isinstance(x, Tensor):
            raise TypeError(f"einsum(): operand {i} must be a Tensor, not {type(x).__name__}")
    terms, output = _parse(equation.replace(" ", ""), operands)
    sizes = {}
    pending = []
    for i, (x, labels) in enumerate(zip(operands, terms)):
        x, labels = _take_diagonals(x, labels, i)
        for label, size in zip(labels, x.shape):
            seen = sizes.get(label, 1)
            if size != 1 and seen != 1 and size != seen:
                raise RuntimeError(f"einsum(): subscript {_show(label)} has size {size} for "
                                   f"operand {i} which does not broadcast with previously seen "
                                   f"size {seen}")
            sizes[label] = max(size, seen)
        pending.append((x, labels))
    x, labels = _sum_unneeded(*pending[0], pending[1:], output)
    for other in range(1, len(pending)):
        rest = pending[other + 1:]
        y, y_labels = _sum_unneeded(*pending[other], rest + [(x, labels)], output)
        x, labels = _contract(x, labels, y, y_labels, rest, output, sizes)
    x, labels = _sum_unneeded(x, labels, [], output)
    # always a permute (the identity one too): like PyTorch, never the operand itself
    return x.permute(*[labels.index(label) for label in output])


def _show(label):
    return label if isinstance(label, str) else "..."


def _parse(equation, operands):
    """One list of labels per operand (letters; ``...`` as the ints ``0..n-1``, aligned to
    the right across operands) and the output's labels."""
    lhs, arrow, rhs = equation.partition("->")
    terms = lhs.split(",")
    if len(terms) > len(operands):
        raise RuntimeError("einsum(): fewer operands were provided than specified in the equation")
    if len(terms) < len(operands):
        raise RuntimeError("einsum(): more operands were provided than specified in the equation")
    letter_terms = []
    ellipsis_dims = 0
    for i, (term, x) in enumerate(zip(terms, operands)):
        letters = _letters(term, i)
        if "..." in term:
            ellipsis_dims = max(ellipsis_dims, x.ndim - (len(letters) - 1))
            if x.ndim < len(letters) - 1:
                raise RuntimeError(f"einsum(): the number of subscripts in the equation "
                                   f"({len(letters) - 1}) is more than the number of dimensions "
                                   f"({x.ndim}) for operand {i}")
        elif len(letters) != x.ndim:
            raise RuntimeError(f"einsum(): the number of subscripts in the equation "
                               f"({len(letters)}) does not match the number of dimensions "
                               f"({x.ndim}) for operand {i} and no ellipsis was given")
        letter_terms.append(letters)
    broadcast = list(range(ellipsis_dims))
    labels = []
    for letters, x in zip(letter_terms, operands):
        if "..." in letters:
            at = letters.index("...")
            n = x.ndim - (len(letters) - 1)
            letters = letters[:at] + broadcast[ellipsis_dims - n:] + letters[at + 1:]
        labels.append(letters)
    if arrow:
        output = _letters(rhs, None)
        if "..." in output:
            at = output.index("...")
            output = output[:at] + broadcast + output[at + 1:]
        for label in output:
            if output.count(label) > 1:
                raise RuntimeError(f"einsum(): output subscript {label} appears more than once "
                                   f"in the output")
            if not any(label in term for term in labels):
                raise RuntimeError(f"einsum(): output subscript {label} does not appear in the "
                                   f"equation for any input operand")
    else:
        counts = {}
        for term in labels:
            for label in term:
                if isinstance(label, str):
                    counts[label] = counts.get(label, 0) + 1
        output = broadcast + sorted(label for label, n in counts.items() if n == 1)
    return labels, output


def _letters(term, operand):
    """The labels of one term: its letters, with ``...`` as one entry."""
    out = []
    rest = term
    while rest:
        if rest.startswith("..."):
            if "..." in out:
                raise RuntimeError("einsum(): found '.' for operand "
                                   f"{operand} for which an ellipsis was already found")
            out.append("...")
            rest = rest[3:]
        elif rest[0] in _LETTERS:
            out.append(rest[0])
            rest = rest[1:]
        else:
            raise RuntimeError(f"einsum(): invalid subscript given at index "
                               f"{len(term) - len(rest)} in the equation string, subscripts must "
                               f"be in [a-zA-Z]")
    return out


def _take_diagonals(x, labels, operand):
    """``x`` with each label repeated within it reduced to one dimension (its diagonal)."""
    labels = list(labels)
    for label in dict.fromkeys(labels):
        while labels.count(label) > 1:
            first = labels.index(label)
            second = labels.index(label, first + 1)
            if x.shape[first] != x.shape[second]:
                raise RuntimeError(f"einsum(): subscript {label} is repeated for operand "
                                   f"{operand} but the sizes don't match, {x.shape[first]} != "
                                   f"{x.shape[second]}")
            x = x.diagonal(0, first, second)  # the diagonal becomes the last dimension
            labels = [lab for i, lab in enumerate(labels) if i not in (first, second)] + [label]
    return x, labels


def _sum_unneeded(x, labels, others, output):
    """``x`` summed over the labels neither the output nor any of ``others`` has."""
    needed = set(output).union(*(set(other_labels) for _, other_labels in others))
    dims = tuple(i for i, label in enumerate(labels) if label not in needed)
    if not dims:
        return x, labels
    return x.sum(dim=dims), [label for label in labels if label in needed]


def _contract(x, x_labels, y, y_labels, rest, output, sizes):
    """The product of ``x`` and ``y`` summed over their shared labels no one needs later, by
    one batched matmul: (batch, x's own, shared) @ (batch, shared, y's own)."""
    later = set(output).union(*(set(labels) for _, labels in rest))
    batch = [label for label in x_labels if label in y_labels and label in later]
    summed = [label for label in x_labels if label in y_labels and label not in later]
    x_own = [label for label in x_labels if label not in y_labels]
    y_own = [label for label in y_labels if label not in x_labels]
    a = _arranged(x, x_labels, batch + x_own + summed, sizes, batch + summed)
    b = _arranged(y, y_labels, batch + summed + y_own, sizes, batch + summed)
    lead = [sizes[label] for label in batch]
    a_shape = list(a.shape[len(batch):len(batch) + len(x_own)])
    b_shape = list(b.shape[len(batch) + len(summed):])
    inner = math.prod(sizes[label] for label in summed)
    stack = [math.prod(lead)] if batch else []  # no batch: a plain 2-d matmul
    a = a.reshape(*stack, math.prod(a_shape), inner)
    b = b.reshape(*stack, inner, math.prod(b_shape))
    out = (a @ b).reshape(*lead, *a_shape, *b_shape)
    return out, batch + x_own + y_own


def _arranged(x, labels, order, sizes, shared):
    """``x`` permuted to ``order`` with its ``shared`` dims broadcast to their full sizes."""
    if labels != order:
        x = x.permute(*[labels.index(label) for label in order])
    full = tuple(sizes[label] if label in shared else s for label, s in zip(order, x.shape))
    return x.expand(*full) if full != x.shape else x
