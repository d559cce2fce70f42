"""Loading a 256 MiB checkpoint: gg.load (checksum verified, and with verify=False) against
safetensors.numpy.load_file on the same file, interleaved, median of repeats.

    OPENBLAS_NUM_THREADS=1 python bench/checkpoint.py [--mib 256] [--repeats 5]

Prints each median time and gg.load's ratio to safetensors (the target: verified at most 2x).
"""
import argparse
import os
import statistics
import tempfile
import time

import numpy as np

import gpugrad as gg


def main(argv=None):
    """Write the checkpoint, time the three loaders in turn, print medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mib", type=int, default=256, help="checkpoint size in MiB")
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds per loader")
    args = parser.parse_args(argv)
    from safetensors.numpy import load_file

    rng = np.random.default_rng(0)
    per_tensor = max(1, args.mib * (1 << 20) // 4 // 8)  # eight float32 tensors: the layers
    state = {f"layer{i}.weight": gg.from_numpy(rng.standard_normal(per_tensor, np.float32))
             for i in range(8)}
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.safetensors")
        gg.save(state, path)
        loaders = {"safetensors.numpy.load_file": lambda: load_file(path),
                   "gg.load (verified)": lambda: gg.load(path),
                   "gg.load (verify=False)": lambda: gg.load(path, verify=False)}
        times = {name: [] for name in loaders}
        for _ in range(args.repeats):
            for name, run in loaders.items():  # interleaved: noise hits every loader alike
                start = time.perf_counter()
                result = run()
                times[name].append(time.perf_counter() - start)
                del result
    medians = {name: statistics.median(values) for name, values in times.items()}
    base = medians["safetensors.numpy.load_file"]
    print(f"{args.mib} MiB checkpoint, median of {args.repeats}:")
    for name, value in medians.items():
        print(f"  {name:30s} {value:7.3f} s   {value / base:5.2f}x safetensors")


if __name__ == "__main__":
    main()
