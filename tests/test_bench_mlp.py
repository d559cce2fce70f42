"""bench/mlp.py, the GPU check's timing script, where no GPU is needed: its simulator mode, and
its per-kernel tables on the tests' stand-in for CuPy, tests/support/fake_cupy.py (the timings
themselves need a GPU)."""
import json
import os
import sys

import pytest

import gpugrad as gg
from support import fake_cupy

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "bench"))
import mlp  # noqa: E402


def test_sim_mode_models_the_small_step(tmp_path, capsys):
    path = tmp_path / "mlp_sim.json"
    mlp.main(["--device", "sim", "--profile", "h200", "--config", "small", "--json", str(path),
              "--table"])
    out = capsys.readouterr().out
    assert "per-op summary" in out and "\nsgd_step " in out and "\nbias_act_grads " in out
    row = json.loads(path.read_text())["configs"]["small"]
    # 3 layers: bias_act and 2 matmuls each (the first layer's input needs no gradient: 1),
    # bias_act_grads + bias_grad_sum each, the loss's 5 kernels (fused forward, the sum of the
    # losses and of the counted rows in one reduction, their division: the mean honours
    # ignore_index without a host sync; the seed gradient, fused backward), the SGD launch
    assert row["kernels_per_step"] == 3 + 5 + 6 + 5 + 1 + 3
    assert 0 < row["modeled_device_ms"] < row["modeled_ms"]  # host-bound: the GPU waits


def test_sim_mode_models_the_autocast_steps(tmp_path, capsys):
    rows = {}
    for dtype in ("float32", "bf16", "fp16"):
        path = tmp_path / f"mlp_{dtype}.json"
        mlp.main(["--device", "sim", "--profile", "h200", "--config", "small", "--dtype", dtype,
                  "--json", str(path)])
        result = json.loads(path.read_text())
        assert result["dtype"] == dtype and f"h200, {dtype}" in capsys.readouterr().out
        rows[dtype] = result["configs"]["small"]
    # bf16 autocast adds the casts: forward, the input, the 3 weights and 3 biases to bf16 and
    # the logits to float32 for the loss; backward, the 7 gradients back
    assert rows["bf16"]["kernels_per_step"] == rows["float32"]["kernels_per_step"] + 8 + 7
    assert {k["dtype"] for k in rows["bf16"]["gpugrad_kernels"] if k["name"] == "matmul"} \
        == {"bfloat16"}
    # fp16 adds loss scaling: the scaled loss, and per gradient its check and its unscaling
    assert rows["fp16"]["kernels_per_step"] > rows["bf16"]["kernels_per_step"] + 2 * 6


def test_kernel_tables_need_a_cuda_device():
    with pytest.raises(SystemExit):
        mlp.main(["--device", "sim", "--kernels", "unused.txt"])


@pytest.mark.skipif(fake_cupy.kernels_unavailable_reason() is not None,
                    reason=f"fake CuPy: {fake_cupy.kernels_unavailable_reason()}")
def test_kernel_tables_list_gpugrad_kernels_of_one_step(fake_cuda, tmp_path, capsys):
    path = tmp_path / "kernels.txt"
    mlp.kernel_tables(["small"], str(path))
    text = path.read_text()
    assert text.strip() == capsys.readouterr().out.strip()
    assert "small: gpugrad, one step" in text
    for kernel in ("matmul", "bias_act", "bias_act_grads", "softmax_cross_entropy", "sgd_step"):
        assert f"\n{kernel} " in text, kernel
    assert gg.cuda.is_available()  # the stand-in; PyTorch's table needs a real GPU
