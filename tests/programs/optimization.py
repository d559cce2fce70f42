"""PyTorch's "Optimizing Model Parameters" tutorial, renamed from torch to gg: the loop with
hyperparameters, CrossEntropyLoss and SGD, here on fixed synthetic data and fixed initial
weights so PyTorch's loss curve is the oracle."""
import gpugrad as gg
from gpugrad import nn

n, features, classes = 96, 12, 4
X_all = gg.sin(gg.arange(n * features * 1.0).reshape(n, features) * 0.37)
y_all = (X_all[:, :classes] + X_all[:, classes:2 * classes]).argmax(1)


class NeuralNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(
            nn.Linear(features, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(),
            nn.Linear(32, classes))

    def forward(self, x):
        return self.linear_relu_stack(self.flatten(x))


model = NeuralNetwork()
with gg.no_grad():
    for i, p in enumerate(model.parameters()):
        p.copy_(gg.cos(gg.arange(p.numel() * 1.0) * (0.3 + i)).reshape(p.shape) * 0.2)

learning_rate = 1e-1
batch_size = 16
epochs = 5
loss_fn = nn.CrossEntropyLoss()
optimizer = gg.optim.SGD(model.parameters(), lr=learning_rate, momentum=0.9)
scheduler = gg.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)

losses = []
for t in range(epochs):
    model.train()
    for start in range(0, n, batch_size):
        X, y = X_all[start:start + batch_size], y_all[start:start + batch_size]
        pred = model(X)
        loss = loss_fn(pred, y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    scheduler.step()
    model.eval()
    with gg.no_grad():
        pred = model(X_all)
        losses.append(loss_fn(pred, y_all).item())
        correct = (pred.argmax(1) == y_all).type(gg.float).sum().item()

RESULTS = {"losses": losses, "correct": correct, "lr": scheduler.get_last_lr()}
RTOL = 1e-4
