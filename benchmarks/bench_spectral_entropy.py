"""Benchmark: batched ``spectral_entropy`` against a per-sample, per-band numpy loop.

Measured in one run on the same float32 batch (default 256 x 10 x 96 x 96, values
partly outside the range, on CPU):

1. ``spectral_entropy(images)`` (best of ``--repeats``);
2. the straightforward baseline: for every sample and band, drop NaN, clip,
   ``np.histogram`` and ``scipy.stats.entropy``. It is timed on the first
   ``--baseline-samples`` samples and scaled linearly to the full batch (its cost
   is linear in the number of samples);
3. a plain copy of the same tensor (``images.clone()``), the memory-bandwidth
   bound of any pass over the data.

The three are timed in interleaved rounds and the best time of each counts.
Target: speed-up over the baseline >= 20x with the same resources (one thread,
as numpy's loop); the speed-up with torch's default thread count is reported too
(on a machine whose cores are busy with other processes, OpenMP synchronisation can
make several threads slower than one). Also reported: throughput of
``spectral_entropy`` as a fraction of the copy's.

Usage::

    python benchmarks/bench_spectral_entropy.py
    python benchmarks/bench_spectral_entropy.py --quick
    python benchmarks/bench_spectral_entropy.py --device cuda --json results/se.json
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy import stats

from torchgeo_composition.diversity import spectral_entropy

TARGET_SPEEDUP = 20.0


def timed(func: Callable[[], Any], sync: Callable[[], None]) -> float:
    start = time.perf_counter()
    func()
    sync()
    return time.perf_counter() - start


def numpy_loop(images: np.ndarray, bins: int, low: float, high: float) -> np.ndarray:
    """The straightforward per-sample, per-band reference."""
    out = np.empty(images.shape[:2])
    for i in range(images.shape[0]):
        for j in range(images.shape[1]):
            band = images[i, j].ravel()
            band = np.clip(band[~np.isnan(band)], low, high)
            hist, _ = np.histogram(band, bins=bins, range=(low, high))
            out[i, j] = stats.entropy(hist)
    return out


def run(
    shape: tuple[int, int, int, int],
    bins: int,
    repeats: int,
    baseline_samples: int,
    device: str,
) -> dict[str, Any]:
    gen = torch.Generator().manual_seed(0)
    images = torch.rand(shape, generator=gen) * 1.2 - 0.1
    dev = torch.device(device)
    x = images.to(dev)

    def sync() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize()

    subset = images[:baseline_samples].numpy()
    scale = shape[0] / len(subset)
    # Interleave the measurements round by round and keep the best time of each,
    # so that load from other processes affects them alike. spectral_entropy is
    # timed with torch's default number of threads and with one thread (the
    # baseline's resources).
    threads = torch.get_num_threads()
    t_entropy = t_single = t_copy = t_copy_single = t_base = float("inf")
    spectral_entropy(x, bins=bins)  # warm-up
    reference = numpy_loop(subset, bins, 0.0, 1.0)
    for _ in range(repeats):
        t_entropy = min(t_entropy, timed(lambda: spectral_entropy(x, bins=bins), sync))
        torch.set_num_threads(1)
        t_single = min(t_single, timed(lambda: spectral_entropy(x, bins=bins), sync))
        t_copy_single = min(t_copy_single, timed(lambda: x.clone(), sync))
        torch.set_num_threads(threads)
        t_copy = min(t_copy, timed(lambda: x.clone(), sync))
        t_base = min(
            t_base, scale * timed(lambda: numpy_loop(subset, bins, 0.0, 1.0), sync)
        )
    got = spectral_entropy(images[:baseline_samples], bins=bins, reduction="none")
    max_err = float(np.abs(got.double().numpy() - reference).max())
    speedup = t_base / t_entropy
    speedup_single = t_base / t_single
    return {
        "shape": list(shape),
        "bins": bins,
        "device": str(dev),
        "torch_threads": torch.get_num_threads(),
        "platform": platform.processor() or platform.machine(),
        "spectral_entropy_s": t_entropy,
        "numpy_loop_s": t_base,
        "numpy_loop_samples_timed": len(subset),
        "copy_s": t_copy,
        "spectral_entropy_1_thread_s": t_single,
        "speedup_vs_numpy_loop": speedup,
        "speedup_1_thread_vs_numpy_loop": speedup_single,
        "copy_1_thread_s": t_copy_single,
        "throughput_fraction_of_copy": t_copy / t_entropy,
        "throughput_fraction_of_copy_1_thread": t_copy_single / t_single,
        "values_per_s": images.numel() / t_entropy,
        "max_abs_diff_vs_numpy": max_err,
        "target_speedup": TARGET_SPEEDUP,
        # The baseline runs on one core: the target compares like with like.
        "passed": speedup_single >= TARGET_SPEEDUP,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small batch (< 20 s)")
    parser.add_argument("--json", type=Path, default=None, help="write figures here")
    parser.add_argument("--bins", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--baseline-samples", type=int, default=16)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    shape = (32, 10, 32, 32) if args.quick else (256, 10, 96, 96)
    res = run(
        shape,
        args.bins,
        args.repeats,
        min(args.baseline_samples, shape[0]),
        args.device,
    )
    print(
        f"spectral_entropy on {'x'.join(map(str, shape))} float32, {res['device']}, "
        f"{res['torch_threads']} threads"
    )
    print()
    print("| method | time (ms) | ratio |")
    print("|---|---:|---:|")
    print(
        f"| numpy loop (per sample, per band) | {1e3 * res['numpy_loop_s']:.1f} | 1.0 |"
    )
    n = res["torch_threads"]
    rows = [
        (f"spectral_entropy ({n} threads)", res["spectral_entropy_s"]),
        ("spectral_entropy (1 thread)", res["spectral_entropy_1_thread_s"]),
    ]
    for name, seconds in rows:
        print(
            f"| {name} | {1e3 * seconds:.1f} | {res['numpy_loop_s'] / seconds:.1f}x faster |"
        )
    copies = [
        (n, res["copy_s"], res["throughput_fraction_of_copy"]),
        (1, res["copy_1_thread_s"], res["throughput_fraction_of_copy_1_thread"]),
    ]
    for threads, seconds, fraction in copies:
        print(
            f"| tensor copy ({threads} thread{'s' * (threads > 1)}, bandwidth bound) | "
            f"{1e3 * seconds:.1f} | spectral_entropy at {100 * fraction:.0f}% of its "
            "throughput |"
        )
    print()
    print(
        f"speed-up {res['speedup_1_thread_vs_numpy_loop']:.1f}x (1 thread, target >= "
        f"{TARGET_SPEEDUP:.0f}x: {'PASS' if res['passed'] else 'FAIL'}), "
        f"{res['speedup_vs_numpy_loop']:.1f}x ({n} threads); max |diff| vs "
        f"numpy {res['max_abs_diff_vs_numpy']:.1e} nats"
    )
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
