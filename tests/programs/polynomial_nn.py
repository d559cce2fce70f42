"""PyTorch's "Learning PyTorch with Examples": nn and optim fitting a third-order polynomial to
sin(x), renamed from torch to gg (weights start from fixed values so PyTorch is the oracle)."""
import math

import gpugrad as gg

x = gg.linspace(-math.pi, math.pi, 2000)
y = gg.sin(x)
p = gg.tensor([1, 2, 3])
xx = x.unsqueeze(-1).pow(p)

model = gg.nn.Sequential(
    gg.nn.Linear(3, 1),
    gg.nn.Flatten(0, 1)
)
with gg.no_grad():
    model[0].weight.copy_(gg.tensor([[0.1, -0.2, 0.05]]))
    model[0].bias.fill_(0.0)
loss_fn = gg.nn.MSELoss(reduction='sum')
optimizer = gg.optim.RMSprop(model.parameters(), lr=1e-3)
losses = []
for t in range(500):
    y_pred = model(xx)
    loss = loss_fn(y_pred, y)
    if t % 100 == 99:
        losses.append(loss.item())
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()

linear_layer = model[0]
RESULTS = {"losses": losses, "bias": linear_layer.bias.item(),
           "weight": linear_layer.weight[:, 0].item()}
RTOL = 1e-3
