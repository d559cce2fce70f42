"""``MLP``: a stack of Linear layers with the activation fused into each hidden layer."""
from .container import Sequential
from .linear import Linear


class MLP(Sequential):
    """``MLP([64, 128, 10], activation="relu")``: Linear layers, the activation (``"relu"``,
    ``"tanh"`` or ``"sigmoid"``) after every layer but the last, which outputs raw scores.

    Each hidden activation runs fused with its bias add. State dict keys are ``"0.weight"``,
    ``"0.bias"``, ``"1.weight"``...; ``device`` and ``dtype`` apply to every layer.
    """

    def __init__(self, sizes, activation="relu", device=None, dtype=None):
        sizes = list(sizes)
        if len(sizes) < 2 or any(not isinstance(s, int) or s <= 0 for s in sizes):
            raise ValueError(f"MLP needs at least two positive layer sizes (inputs and outputs), "
                             f"got {sizes}")
        if activation not in ("relu", "tanh", "sigmoid"):
            raise ValueError(f"MLP: unknown activation {activation!r}; expected 'relu', 'tanh' "
                             f"or 'sigmoid'")
        last = len(sizes) - 2
        super().__init__(*[
            Linear(n_in, n_out, device=device, dtype=dtype,
                   activation=None if i == last else activation)
            for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:]))
        ])
        self.sizes = sizes
