"""PyTorch's "Build the Neural Network" tutorial, renamed from torch to gg."""
import gpugrad as gg
from gpugrad import nn

device = gg.get_default_device()


class NeuralNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(
            nn.Linear(28 * 28, 512),
            nn.ReLU(),
            nn.Linear(512, 512),
            nn.ReLU(),
            nn.Linear(512, 10),
        )

    def forward(self, x):
        x = self.flatten(x)
        logits = self.linear_relu_stack(x)
        return logits


model = NeuralNetwork().to(device)

X = gg.rand(1, 28, 28, device=device)
logits = model(X)
pred_probab = nn.Softmax(dim=1)(logits)
y_pred = pred_probab.argmax(1)

input_image = gg.rand(3, 28, 28)
flatten = nn.Flatten()
flat_image = flatten(input_image)
layer1 = nn.Linear(in_features=28 * 28, out_features=20)
hidden1 = layer1(flat_image)
hidden1 = nn.ReLU()(hidden1)
seq_modules = nn.Sequential(flatten, layer1, nn.ReLU(), nn.Linear(20, 10))
input_image = gg.rand(3, 28, 28)
logits = seq_modules(input_image)
softmax = nn.Softmax(dim=1)
pred_probab = softmax(logits)

params = [(name, list(param.size())) for name, param in model.named_parameters()]

RESULTS = {
    "y_pred_shape": list(y_pred.shape), "flat_image": list(flat_image.size()),
    "hidden1": list(hidden1.size()), "min_hidden": hidden1.min().item() >= 0,
    "probab_rows": pred_probab.sum(dim=1).round(decimals=5).tolist(),
    "params": params,
}
