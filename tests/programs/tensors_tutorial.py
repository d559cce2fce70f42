"""PyTorch's "Tensors" beginner tutorial, renamed from torch to gg."""
import numpy as np

import gpugrad as gg

data = [[1, 2], [3, 4]]
x_data = gg.tensor(data)
np_array = np.array(data)
x_np = gg.from_numpy(np_array)
x_ones = gg.ones_like(x_data)
x_rand = gg.rand_like(x_data, dtype=gg.float)

shape = (2, 3,)
rand_tensor = gg.rand(shape)
ones_tensor = gg.ones(shape)
zeros_tensor = gg.zeros(shape)

tensor = gg.rand(3, 4)
attributes = (tuple(tensor.shape), str(tensor.dtype).rsplit(".", 1)[-1])

tensor = gg.ones(4, 4)
first_row = tensor[0].tolist()
first_column = tensor[:, 0].tolist()
last_column = tensor[..., -1].tolist()
tensor[:, 1] = 0

t1 = gg.cat([tensor, tensor, tensor], dim=1)

y1 = tensor @ tensor.T
y2 = tensor.matmul(tensor.T)
y3 = gg.rand_like(y1)
gg.matmul(tensor, tensor.T, out=y3)

z1 = tensor * tensor
z2 = tensor.mul(tensor)
z3 = gg.rand_like(tensor)
gg.mul(tensor, tensor, out=z3)

agg = tensor.sum()
agg_item = agg.item()

tensor.add_(5)

t = gg.ones(5, device="cpu")  # the bridge shares memory with cpu tensors
n = t.numpy()
t.add_(1)
n_after = n.tolist()

n2 = np.ones(5)
t2 = gg.from_numpy(n2)  # a cpu tensor, whatever the default device
np.add(n2, 1, out=n2)

RESULTS = {
    "x_data": x_data.tolist(), "x_np": x_np.tolist(), "x_ones": x_ones.tolist(),
    "rand_shape": list(x_rand.shape), "rand_dtype": str(x_rand.dtype).rsplit(".", 1)[-1],
    "shapes": [list(rand_tensor.shape), ones_tensor.tolist(), zeros_tensor.tolist()],
    "attributes": [list(attributes[0]), attributes[1]],
    "first_row": first_row, "first_column": first_column, "last_column": last_column,
    "t1": t1.tolist(), "y1": y1.tolist(), "y2": y2.tolist(), "y3": y3.tolist(),
    "z1": z1.tolist(), "z2": z2.tolist(), "z3": z3.tolist(), "agg": agg_item,
    "added": tensor.tolist(), "n_after": n_after, "t2": t2.tolist(),
}
