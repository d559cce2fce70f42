"""A small typed user program: ``tests/test_typing.py`` runs mypy on it, which must pass. It
uses the API the way a PyTorch user would (creation, gg functions, methods, operators, a Module
subclass, an optimizer step), so a stub that lost or mistyped any of it fails the test."""
from __future__ import annotations

import gpugrad as gg
from gpugrad import nn, optim


class TwoLayer(nn.Module):
    def __init__(self, features: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(features, hidden)
        self.fc2 = nn.Linear(hidden, 1)

    def forward(self, x: gg.Tensor) -> gg.Tensor:
        return self.fc2(gg.relu(self.fc1(x)))


def train(steps: int = 3) -> float:
    gg.manual_seed(0)
    x: gg.Tensor = gg.randn(16, 4)
    y = gg.zeros(16, 1, dtype=gg.float32)
    model = TwoLayer(4, 8).to("cpu")
    model.train()
    opt = optim.SGD(model.parameters(), lr=0.1)
    loss_value = 0.0
    for _ in range(steps):
        opt.zero_grad()
        pred = model(x)
        loss = ((pred - y) ** 2).mean()
        loss.backward()
        opt.step()
        loss_value = float(loss.item())
    model.eval()
    state: dict[str, gg.Tensor] = model.state_dict()
    names: list[str] = [name for name, _ in model.named_parameters()]
    assert len(state) == len(names)
    return loss_value


def tensors() -> None:
    a = gg.tensor([[1.0, -2.0], [3.0, 4.0]], requires_grad=True)
    b = gg.ones(2, 2, device="cpu")
    c: gg.Tensor = gg.matmul(a, b) + a @ b - 2 * a / (b + 1)
    values, indices = c.max(dim=1)
    biggest: gg.Tensor = c.max()
    top = c.topk(1, dim=0)
    low, high = c.chunk(2)
    shape: tuple[int, ...] = c.shape
    rows: int = c.size(0)
    n: int = c.numel()
    flag: bool = c.requires_grad and c.is_floating_point()
    s = c.sum(dim=1, keepdim=True).relu().exp().log1p()
    d: gg.device = c.device
    t: gg.DType = c.dtype
    total = s.sum() + biggest + values.sum() + top.values.sum() + indices.float().sum()
    total.backward()
    grad = a.grad
    assert grad is not None and (grad > 0).any().item() is not None
    with gg.no_grad():
        moved = c.detach().to(gg.float64).sim().cpu()
    assert moved.tolist() and shape and rows and n and flag is not None and d and t and low \
        is not None and high is not None


if __name__ == "__main__":
    tensors()
    print(train())
