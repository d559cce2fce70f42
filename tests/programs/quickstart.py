"""PyTorch's "Quickstart" tutorial, renamed from torch to gg, on the 8x8 digits (the tutorial's
FashionMNIST needs a download) with the same model shape, loop, save and load."""
import os
import tempfile

import numpy as np
from sklearn.datasets import load_digits

import gpugrad as gg
from gpugrad import nn
from gpugrad.utils.data import DataLoader, TensorDataset

digits = load_digits()
images = (digits.images / 16.0).astype(np.float32)
labels = digits.target.astype(np.int64)
order = np.random.default_rng(0).permutation(len(labels))
train, test = order[:1400], order[1400:]
training_data = TensorDataset(gg.tensor(images[train]), gg.tensor(labels[train]))
test_data = TensorDataset(gg.tensor(images[test]), gg.tensor(labels[test]))

batch_size = 64
train_dataloader = DataLoader(training_data, batch_size=batch_size)
test_dataloader = DataLoader(test_data, batch_size=batch_size)

for X, y in test_dataloader:
    first_batch = [list(X.shape), list(y.shape), str(y.dtype).rsplit(".", 1)[-1]]
    break

device = gg.accelerator.current_accelerator().type if gg.accelerator.is_available() else \
    gg.get_default_device().type


class NeuralNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(
            nn.Linear(8 * 8, 512),
            nn.ReLU(),
            nn.Linear(512, 512),
            nn.ReLU(),
            nn.Linear(512, 10)
        )

    def forward(self, x):
        x = self.flatten(x)
        logits = self.linear_relu_stack(x)
        return logits


gg.manual_seed(0)
model = NeuralNetwork().to(device)
loss_fn = nn.CrossEntropyLoss()
optimizer = gg.optim.SGD(model.parameters(), lr=1e-1)


def train_loop(dataloader, model, loss_fn, optimizer):
    model.train()
    for batch, (X, y) in enumerate(dataloader):
        X, y = X.to(device), y.to(device)
        pred = model(X)
        loss = loss_fn(pred, y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()


def test_loop(dataloader, model, loss_fn):
    size = len(dataloader.dataset)
    num_batches = len(dataloader)
    model.eval()
    test_loss, correct = 0, 0
    with gg.no_grad():
        for X, y in dataloader:
            X, y = X.to(device), y.to(device)
            pred = model(X)
            test_loss += loss_fn(pred, y).item()
            correct += (pred.argmax(1) == y).type(gg.float).sum().item()
    test_loss /= num_batches
    correct /= size
    return correct, test_loss


epochs = 8
for t in range(epochs):
    train_loop(train_dataloader, model, loss_fn, optimizer)
accuracy, test_loss = test_loop(test_dataloader, model, loss_fn)

with tempfile.TemporaryDirectory() as folder:
    path = os.path.join(folder, "model.pth")
    gg.save(model.state_dict(), path)
    model2 = NeuralNetwork().to(device)
    model2.load_state_dict(gg.load(path, weights_only=True))
    model2.eval()
    with gg.no_grad():
        x, y = test_data[0][0], test_data[0][1]
        same = bool((model2(x.to(device).unsqueeze(0)) == model(x.to(device).unsqueeze(0))).all())

assert accuracy > 0.9, accuracy  # a random start: the weights cannot match PyTorch's stream
assert same
RESULTS = {"first_batch": first_batch, "same": same}
