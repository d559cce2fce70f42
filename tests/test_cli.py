"""``gpugrad demo`` and ``gpugrad devices``: a one-epoch smoke run into a temporary folder."""
import json

import pytest

from gpugrad import cli

pytest.importorskip("sklearn", reason="the demo's digits come with scikit-learn")
pytest.importorskip("matplotlib", reason="the demo draws its figure with matplotlib")
pytest.importorskip("tqdm", reason="the demo's progress bar is tqdm")


def test_demo_one_epoch_writes_trace_figure_and_summary(device, tmp_path, capsys):
    out = tmp_path / "demo"
    assert cli.main(["demo", "--device", device, "--epochs", "1", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "test accuracy" in text
    trace = json.loads((out / "trace.json").read_text())
    assert isinstance(trace["traceEvents"], list)
    figure = (out / "demo.png").read_bytes()
    assert figure.startswith(b"\x89PNG") and len(figure) > 10_000
    summary = json.loads((out / "summary.json").read_text())
    assert summary["device"].startswith(device) and summary["epochs"] == 1
    assert 0.5 < summary["test_accuracy"] <= 1.0  # one epoch already learns a lot
    assert len(summary["history"]["grad_norm"]) > 0
    assert all(n > 0 for n in summary["history"]["grad_norm"])
    if device == "sim":
        sim = summary["sim"]
        for key in ("step_time_us", "kernels_per_step", "h2d_bytes", "peak_bytes"):
            assert sim[key] > 0, key
        assert trace["traceEvents"], "a sim run records kernels in the trace"
        assert "kernels per step" in text and "peak memory" in text and "matmul" in text
    elif device == "cuda":
        assert trace["traceEvents"], "a cuda run records measured kernels in the trace"
        assert "open in ui.perfetto.dev" in text
    else:
        assert not trace["traceEvents"] and "no events: cpu ops are not recorded" in text


def test_profile_is_only_for_sim(tmp_path, capsys):
    assert cli.main(["demo", "--device", "cpu", "--profile", "h100", "--epochs", "1",
                     "--out", str(tmp_path)]) == 2
    assert "--profile applies to sim" in capsys.readouterr().err


def test_devices_lists_cpu_and_sim(capsys):
    assert cli.main(["devices"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("cpu") and "available" in text and "sim" in text


def test_unknown_command_exits_with_usage(capsys):
    with pytest.raises(SystemExit):
        cli.main(["train"])
    assert "usage: gpugrad" in capsys.readouterr().err


def test_unavailable_device_is_a_clear_error(tmp_path, capsys):
    import gpugrad as gg

    if gg.cuda.is_available():
        pytest.skip("cuda is usable here")
    assert cli.main(["demo", "--device", "cuda", "--epochs", "1", "--out", str(tmp_path)]) == 2
    assert "cuda" in capsys.readouterr().err


@pytest.mark.parametrize("option, value, message", [
    ("--device", "tpu", "Invalid device string: 'tpu'"),
    ("--profile", "v100", "unknown sim profile 'v100'"),
    ("--epochs", "0", "--epochs must be at least 1"),
    ("--batch-size", "0", "--batch-size must be at least 1"),
])
def test_bad_option_is_a_clear_error(option, value, message, tmp_path, capsys):
    assert cli.main(["demo", option, value, "--out", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err


def test_unwritable_out_fails_before_training(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert cli.main(["demo", "--epochs", "1", "--out", str(blocker / "demo")]) == 2
    captured = capsys.readouterr()
    assert "--out" in captured.err and "not a writable folder" in captured.err
    assert "test accuracy" not in captured.out  # it stopped before training


def test_python_dash_m_gpugrad_runs_the_command():
    import os
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run([sys.executable, "-m", "gpugrad", "devices"], cwd=root,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("cpu")
