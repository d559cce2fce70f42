"""PyTorch's "Profiling your PyTorch Module" recipe, renamed from torch to gg (a small MLP in
place of resnet18)."""
import gpugrad as gg
import gpugrad.nn as nn
from gpugrad.profiler import ProfilerActivity, profile, record_function

model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
inputs = gg.randn(5, 64)

with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
    with record_function("model_inference"):
        model(inputs)

table = prof.key_averages().table(sort_by="cpu_time_total", row_limit=10)
by_shape = prof.key_averages(group_by_input_shape=True).table(sort_by="cpu_time_total",
                                                               row_limit=10)
assert "model_inference" in table, table
names = [event.key for event in prof.key_averages()]
assert "model_inference" in names, names
assert len(table.splitlines()) <= 10 + 6, table  # the row limit holds (plus header and footer)

# forward and backward of a training step: each autograd node run is a row, as in PyTorch
with profile(activities=[ProfilerActivity.CPU]) as prof:
    with record_function("train_step"):
        model(inputs).sum().backward()
steps = prof.key_averages()
backward_rows = [e.key for e in steps if e.key.startswith("autograd::engine::evaluate_function: ")]
assert backward_rows, [e.key for e in steps]
ordered = steps.table(sort_by="self_cpu_time_total", row_limit=-1)
assert "Self CPU time total" in ordered, ordered
step = next(e for e in steps if e.key == "train_step")
assert all(e.cpu_time_total <= step.cpu_time_total + 1e-3 for e in steps)

RESULTS = {"has_span": "model_inference" in names, "has_backward": bool(backward_rows)}
