"""The order a backward pass visits a graph in: each node after all of its parents."""


_EMIT = object()  # on topological_order's stack: the node under it is emitted when popped


def topological_order(roots, parents_of, first_parent_first=False):
    """Nodes reachable from ``roots``, each after all of its parents (inputs first).

    Iterative depth-first search, so graphs of any depth work without recursion. ``parents_of``
    maps a node to a sequence of parent nodes (``None`` entries are skipped). Shared by the
    tensor engine and the scalar ``Value``. ``first_parent_first``: of a node's parents, the
    first is placed (with everything above it) last, so a reversed order finishes it first.
    """
    # Depth-first with an explicit stack: a node is pushed back under an _EMIT marker when it is
    # expanded, so it comes off (and is emitted) after everything pushed above it (its
    # parents); the marker spares a tuple per node. Nodes go in the set themselves (hashed by
    # identity: no op or Value defines __eq__ for hashing, and Tensor keeps object.__hash__),
    # which is faster than keying by id().
    order = []
    visited = set()
    mark, emit = visited.add, order.append
    stack = list(roots)
    stack.reverse()
    push, pop = stack.append, stack.pop
    while stack:
        node = pop()
        if node is _EMIT:
            emit(pop())
            continue
        if node in visited:  # reached again through another path before it was popped
            continue
        mark(node)
        parents = parents_of(node)
        if not parents:  # a leaf: emitted now, where the marker would have put it
            emit(node)
            continue
        push(node)
        push(_EMIT)
        if first_parent_first and len(parents) > 1:
            parents = parents[::-1]
        for parent in parents:
            if parent is not None and parent not in visited:
                push(parent)
    return order
