"""The 60-minute blitz's "Neural Networks" (LeNet), renamed from torch to gg."""
import gpugrad as gg
import gpugrad.nn as nn
import gpugrad.nn.functional as F
import gpugrad.optim as optim


class Net(nn.Module):

    def __init__(self):
        super(Net, self).__init__()
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, input):
        c1 = F.relu(self.conv1(input))
        s2 = F.max_pool2d(c1, (2, 2))
        c3 = F.relu(self.conv2(s2))
        s4 = F.max_pool2d(c3, 2)
        s4 = gg.flatten(s4, 1)
        f5 = F.relu(self.fc1(s4))
        f6 = F.relu(self.fc2(f5))
        output = self.fc3(f6)
        return output


gg.manual_seed(0)
net = Net()
params = list(net.parameters())
n_params = len(params)
conv1_shape = list(params[0].size())

# the inputs come from a fixed formula, not randn, so PyTorch's numbers are the oracle; the
# weights are set from one too
with gg.no_grad():
    for i, p in enumerate(net.parameters()):
        p.copy_(gg.linspace(-0.05, 0.05, p.numel()).reshape(p.shape).roll(i) * (1 + i % 3))
input = gg.sin(gg.arange(32 * 32.0)).reshape(1, 1, 32, 32)
out = net(input)

net.zero_grad()
out.backward(gg.cos(gg.arange(10.0)).reshape(1, 10))
conv1_bias_grad = net.conv1.bias.grad.tolist()

output = net(input)
target = gg.arange(10.0).view(1, -1) / 10
criterion = nn.MSELoss()
loss = criterion(output, target)
names = [loss.grad_fn.name(), loss.grad_fn.next_functions[0][0].name()]
assert all(isinstance(n, str) and n.endswith("Backward0") for n in names), names

net.zero_grad()
before = net.conv1.bias.grad
loss.backward()
after = net.conv1.bias.grad.tolist()

optimizer = optim.SGD(net.parameters(), lr=0.01)
for _ in range(3):
    optimizer.zero_grad()
    output = net(input)
    loss = criterion(output, target)
    loss.backward()
    optimizer.step()

RESULTS = {
    "n_params": n_params, "conv1_shape": conv1_shape, "out": out.tolist(),
    "conv1_bias_grad": conv1_bias_grad, "before": before is None,
    "after": after, "final_loss": loss.item(),
}
RTOL = 1e-4
