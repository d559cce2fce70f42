"""bench/overhead_gc.py, the GC case of bench/overhead.py, at a tiny size: each mode's worker
runs in a fresh process and reports the full collections its build ran, and the table prints
each collector-on mode's cost over the collector off. (Timings are not checked.)"""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "bench"))
import overhead_gc  # noqa: E402

pytestmark = pytest.mark.skipif(sys.version_info >= (3, 14),
                                reason="Python 3.14's incremental collector: nothing deferred")


@pytest.mark.slow
def test_only_python_s_own_thresholds_run_full_collections_during_the_build():
    # 60k ops: about 200k tracked allocations, past Python's full-collection threshold in a fresh
    # process whose heap is gpugrad's alone
    runs = {mode: overhead_gc._run(mode, 60_000) for mode in overhead_gc.MODES}
    assert runs["python"]["full"] >= 1
    assert runs["deferred"]["full"] == 0 and runs["off"]["full"] == 0
    assert all(r["build_ms"] > 0 and r["backward_ms"] > 0 for r in runs.values())


def test_the_table_prints_each_mode_over_the_collector_off():
    results = {"deferred": [{"build_ms": 105.0, "backward_ms": 50.0, "full": 0}],
               "python": [{"build_ms": 150.0, "backward_ms": 51.0, "full": 4}],
               "off": [{"build_ms": 100.0, "backward_ms": 49.0, "full": 0}]}
    lines = overhead_gc.report(results, 1000)
    assert lines[0].startswith("gc_in_graph_build: a 1,000-op chain")
    assert lines[2].split() == ["deferred", "105.0", "50.0", "0", "+5.0%", "target:", "a",
                                "few", "percent"]
    assert lines[3].split() == ["python", "150.0", "51.0", "4", "+50.0%"]
    assert lines[4].split() == ["off", "100.0", "49.0", "0"]


def test_bad_arguments_are_refused(capsys):
    with pytest.raises(SystemExit):
        overhead_gc.main(["--ops", "0"])
    assert "--ops and --rounds must be at least 1, got 0 and 3" in capsys.readouterr().err
