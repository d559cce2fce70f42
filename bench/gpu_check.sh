#!/usr/bin/env bash
# The GPU check, for a machine with an NVIDIA H100/H200, CuPy, PyTorch and no network.
# Run from anywhere; it works in the repository root that holds this script:
#
#     OUT=/some/dir bash bench/gpu_check.sh   # about 4 minutes; 9 at most (each step has a limit)
#
# 1. installs gpugrad from the working tree without network (editable; PYTHONPATH as fallback);
# 2. runs the whole test suite with cuda enabled (the `device` fixture includes cuda);
# 3. runs bench/mlp.py: gpugrad vs PyTorch eager vs hand-written CuPy training steps (float32),
#    and the bf16 autocast steps against PyTorch's autocast;
# 4. runs bench/graphs.py: the small step replayed as one CUDA graph, gpugrad's and PyTorch's;
# 5. writes per-kernel GPU times of one large step, gpugrad's and PyTorch's (kernels_large.txt);
# 6. runs the same steps on the simulator with the profile matching the GPU (h100 or h200);
# and prints a summary table last. A failing step is recorded and the script goes on.
# Environment: PYTHON (default python3), OUT (default ./gpu_check_out), TEST_TIMEOUT (s, 150),
# TEST_SHARDS (parallel pytest processes, 4).
set -u
cd "$(dirname "$0")/.."
ROOT="$(pwd)"
OUT="${OUT:-$ROOT/gpu_check_out}"
mkdir -p "$OUT"
PY="${PYTHON:-python3}"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONDONTWRITEBYTECODE=1
unset CUPY_TF32  # full float32 matmuls, as PyTorch's default
STATUS_FILE="$OUT/steps.tsv"
: > "$STATUS_FILE"
START=$(date +%s)

step() {  # step NAME TIMEOUT_S LOGFILE COMMAND...: run, log, record the exit status, go on
    local name="$1" limit="$2" log="$3"
    shift 3
    local t0=$(date +%s)
    echo "== $name (limit ${limit}s) -> $log"
    timeout --kill-after=10 "$limit" "$@" > "$log" 2>&1
    local rc=$?
    local secs=$(( $(date +%s) - t0 ))
    printf '%s\t%s\t%s\n' "$name" "$rc" "$secs" >> "$STATUS_FILE"
    tail -n 3 "$log" | sed 's/^/   | /'
    echo "   rc=$rc in ${secs}s"
}

{
    echo "date: $(date -u +%FT%TZ)"
    echo "python: $(command -v "$PY") $("$PY" --version 2>&1)"
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1
    "$PY" - <<'EOF' 2>&1
import importlib
for name in ("numpy", "cupy", "torch", "pytest"):
    try:
        print(name, importlib.import_module(name).__version__)
    except Exception as exc:
        print(name, "unavailable:", exc)
EOF
    git -C "$ROOT" log -1 --format='commit: %H %s' 2>/dev/null
} > "$OUT/env.txt" 2>&1
cat "$OUT/env.txt"

# 1. install (no network: no dependencies, no build isolation); PYTHONPATH covers a failure
step install 45 "$OUT/install.log" \
    "$PY" -m pip install --no-deps --no-build-isolation --no-index -e "$ROOT"
step import 45 "$OUT/import.log" "$PY" -c "
import gpugrad as gg, gpugrad.backends.cuda as c
print('gpugrad from', gg.__file__)
print('cuda available:', c.is_available(), c.unavailable_reason() or c.describe())
print('kernels from', c.kernel_dir())
print(gg.devices())"

# 2. the whole test suite, cuda included, in TEST_SHARDS parallel pytest processes (the files
#    split by size; the GPU is shared), each writing a log and a JUnit XML for the summary
step tests "$(( ${TEST_TIMEOUT:-150} + 15 ))" "$OUT/pytest.log" "$PY" - "$ROOT" "$OUT" \
    "${TEST_SHARDS:-4}" "${TEST_TIMEOUT:-150}" <<'EOF'
import glob, os, subprocess, sys, time
root, out, shards, limit = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
files = sorted(glob.glob(os.path.join(root, "tests", "**", "test_*.py"), recursive=True),
               key=os.path.getsize, reverse=True)
groups, sizes = [[] for _ in range(shards)], [0] * shards
for path in files:
    i = sizes.index(min(sizes))
    groups[i].append(os.path.relpath(path, root))
    sizes[i] += os.path.getsize(path)
procs = []
for i, group in enumerate(g for g in groups if g):
    log = open(os.path.join(out, f"pytest-{i}.log"), "w")
    # the kernels' CPU-emulator runs repeat the gpu ones on this machine's CPU: left to CI
    cmd = [sys.executable, "-m", "pytest", "-q", "-rfEs", "-p", "no:cacheprovider",
           "--continue-on-collection-errors", "-k", "not emulated",
           f"--junitxml={os.path.join(out, f'junit-{i}.xml')}"] + group
    procs.append((i, subprocess.Popen(cmd, cwd=root, stdout=log, stderr=subprocess.STDOUT), log))
deadline, rc = time.time() + limit, 0
for i, proc, log in procs:
    try:
        code = proc.wait(timeout=max(1.0, deadline - time.time()))
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        code = 124
        print(f"shard {i}: killed after {limit} s")
    log.close()
    rc = max(rc, code if code >= 0 else 124)
    with open(log.name) as f:
        lines = f.read().splitlines()
    print(f"--- shard {i} (rc {code}): " + (lines[-1] if lines else "no output"))
    print("\n".join(l for l in lines if l.startswith(("FAILED", "ERROR"))))
sys.exit(rc)
EOF

# 3. measured training steps; 4. the simulator's prediction for this GPU
step bench_cuda 100 "$OUT/mlp_cuda.log" "$PY" "$ROOT/bench/mlp.py" --device cuda \
    --json "$OUT/mlp_cuda.json"
step bench_bf16 100 "$OUT/mlp_cuda_bf16.log" "$PY" "$ROOT/bench/mlp.py" --device cuda \
    --dtype bf16 --json "$OUT/mlp_cuda_bf16.json"
step bench_graphs 60 "$OUT/graphs_cuda.log" "$PY" "$ROOT/bench/graphs.py" --device cuda \
    --json "$OUT/graphs_cuda.json"
step bench_kernels 60 "$OUT/kernels.log" "$PY" "$ROOT/bench/mlp.py" --device cuda \
    --config large --kernels "$OUT/kernels_large.txt"
GPU_NAME="$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1)"
case "$GPU_NAME" in
    *H200*) PROFILE=h200 ;;
    *H100*) PROFILE=h100 ;;
    *A100*) PROFILE=a100 ;;
    *L4*) PROFILE=l4 ;;
    *) PROFILE=h100 ;;
esac
step bench_sim 60 "$OUT/mlp_sim.log" "$PY" "$ROOT/bench/mlp.py" --device sim \
    --profile "$PROFILE" --json "$OUT/mlp_sim_$PROFILE.json"
step sim_bf16 60 "$OUT/mlp_sim_bf16.log" "$PY" "$ROOT/bench/mlp.py" --device sim \
    --profile "$PROFILE" --dtype bf16 --json "$OUT/mlp_sim_${PROFILE}_bf16.json"
step sim_graphs 60 "$OUT/graphs_sim.log" "$PY" "$ROOT/bench/graphs.py" --device sim \
    --profile "$PROFILE" --json "$OUT/graphs_sim_$PROFILE.json"

# gg.distributed on one GPU: NCCL all-reduce time and bandwidth, with the simulator's busbw
step allreduce_nccl 60 "$OUT/allreduce_nccl.log" "$PY" "$ROOT/bench/allreduce.py" \
    --backend nccl --device cuda --max-bytes $((256 << 20)) --sim-profile "$PROFILE" \
    --json "$OUT/allreduce_nccl.json"

# summary, last
"$PY" - "$OUT" "$PROFILE" "$GPU_NAME" "$START" <<'EOF' 2>&1 | tee "$OUT/summary.txt"
import glob, json, os, sys, time
import xml.etree.ElementTree as ET
out, profile, gpu, start = sys.argv[1], sys.argv[2], sys.argv[3] or "unknown GPU", int(sys.argv[4])

def load(name):
    try:
        with open(os.path.join(out, name)) as f:
            return json.load(f)
    except Exception:
        return None

print("\n==================== GPU check summary ====================")
print(f"GPU: {gpu}   sim profile: {profile}   total {time.time() - start:.0f} s")
with open(os.path.join(out, "steps.tsv")) as f:
    for line in f:
        name, rc, secs = line.split()
        print(f"  step {name:<11} {'ok' if rc == '0' else 'FAILED rc=' + rc:<14} {secs:>4} s")
cases = []
for path in sorted(glob.glob(os.path.join(out, "junit-*.xml"))):
    try:
        cases += list(ET.parse(path).getroot().iter("testcase"))
    except Exception as exc:
        print(f"tests: unreadable {os.path.basename(path)} ({exc})")


def outcome(case):
    if case.find("failure") is not None or case.find("error") is not None:
        return "failed"
    return "skipped" if case.find("skipped") is not None else "passed"


def count(group):
    kinds = [outcome(c) for c in group]
    return ", ".join(f"{kinds.count(k)} {k}" for k in ("passed", "failed", "skipped"))


cuda = [c for c in cases if "cuda" in c.get("name", "") + c.get("classname", "")]
print(f"tests: {count(cases)}; cuda tests: {count(cuda)}" if cases else "tests: no JUnit report")
failed = [f"{c.get('classname')}::{c.get('name')}" for c in cases if outcome(c) == "failed"]
for name in failed[:15]:
    print(f"  FAILED {name}")
if len(failed) > 15:
    print(f"  ... and {len(failed) - 15} more (see pytest-*.log)")
cuda_res, sim_res = load("mlp_cuda.json"), load(f"mlp_sim_{profile}.json")
targets = {"small": 1.5, "large": 1.0}
head = (f"{'MLP':<6} {'gpugrad ms':>10} {'torch ms':>9} {'cupy ms':>8} {'vs torch':>9} "
        f"{'target':>7} {'vs cupy':>8} {'sim ' + profile + ' ms':>12} {'sim/meas':>9}")
print(head)
print("-" * len(head))
for name in ("small", "large"):
    row = (cuda_res or {}).get("configs", {}).get(name, {})
    ms = row.get("ms", {})
    sim = (sim_res or {}).get("configs", {}).get(name, {}).get("modeled_ms")
    def f(v, w, spec=".3f"):
        return f"{v:>{w}{spec}}" if isinstance(v, (int, float)) else f"{'-':>{w}}"
    vs_t, vs_c = row.get("ratio_vs_torch"), row.get("ratio_vs_cupy")
    ok = "" if vs_t is None else (" ok" if vs_t <= targets[name] else " MISSED")
    meas = ms.get("gpugrad")
    print(f"{name:<6} {f(meas, 10)} {f(ms.get('torch'), 9)} {f(ms.get('cupy'), 8)} "
          f"{f(vs_t, 8, '.2f')}x {targets[name]:>6.1f}x{ok} {f(vs_c, 7, '.2f')}x {f(sim, 12)} "
          f"{f(sim / meas if sim and meas else None, 9, '.2f')}")
print("ms = median per step of back-to-back steps between syncs (float32, TF32 off); "
      "ratios are gpugrad / peer")
bf16, bf16_sim = load("mlp_cuda_bf16.json"), load(f"mlp_sim_{profile}_bf16.json")
for name in ("small", "large"):
    row = (bf16 or {}).get("configs", {}).get(name, {})
    ms, vs_t = row.get("ms", {}), row.get("ratio_vs_torch")
    sim = (bf16_sim or {}).get("configs", {}).get(name, {}).get("modeled_ms")
    goal = "" if name != "large" else " (target <= 1.0" + (
        ")" if vs_t is None else (": ok)" if vs_t <= 1.0 else ": MISSED)"))
    num = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
    print(f"bf16 autocast {name:<5}: gpugrad {num(ms.get('gpugrad'))} ms, torch.autocast "
          f"{num(ms.get('torch'))} ms, ratio {num(vs_t)}x{goal}; sim {profile} {num(sim)} ms")
graphs, graphs_sim = load("graphs_cuda.json"), load(f"graphs_sim_{profile}.json")
for peer, ms in ((graphs or {}).get("ms") or {}).items():
    ratio = (graphs.get("ratio_vs_torch_eager") or {}).get(peer)
    goal = " (target <= 0.3)" if peer == "gpugrad graphed" else ""
    print(f"graphs small: {peer:<16} {ms:.3f} ms  "
          f"{'-' if ratio is None else f'{ratio:.2f}'}x torch eager{goal}")
for peer, ms in ((graphs_sim or {}).get("modeled_ms") or {}).items():
    print(f"graphs small (sim {profile}): {peer:<16} {ms:.3f} ms modeled")
print(f"files: {out}")
EOF
