"""Benchmark: a study step's start-up cost, and the demo study with ``--jobs 2``.

Two figures, each a ratio measured within one run:

1. **Per-step overhead**: the wall time of a no-op probe step (one training
   batch, one validation batch) run as a new ``fit`` process (``subprocess``:
   how every Lightning step ran before the ``local`` executor) and in the warm
   process that runs the step (``inprocess``: how the ``local`` executor runs
   probes). Best of ``--repeats`` runs each.
2. **The demo study** (``configs/study/demo.yaml``; smaller with ``--quick``)
   run three times from scratch through the command line: serially with every
   Lightning step in a new process (``--executor subprocess``, the earlier
   default), serially with the ``local`` executor, and with ``--executor local
   --jobs 2``. It reports the speed-ups and whether the three ``results.csv``
   are identical.

Usage::

    python benchmarks/bench_study.py            # the whole demo study (minutes)
    python benchmarks/bench_study.py --quick    # 3 compositions, 1 epoch each
    python benchmarks/bench_study.py --json results/study.json
    python benchmarks/bench_study.py --no-subprocess   # skip the earlier default
    python benchmarks/bench_study.py --one-thread      # also serial, one thread

Each run's CPU time (all its processes) is reported beside its wall time: the
``--jobs 2`` run cannot take less than its CPU time divided by the cores, which
bounds the speed-up any executor can give over the serial run.

Each study run also reports the summed wall time of its steps by kind (from the
steps' ``DONE.json``), which shows where the time goes.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
DEMO = HERE.parent / "configs" / "study" / "demo.yaml"
PROBE = "probe-europe-s0-landcover-r0"


def _demo(root: Path, quick: bool) -> dict[str, Any]:
    config = yaml.safe_load(DEMO.read_text())
    config["pool"]["init_args"]["root"] = str(root / "pool")
    if quick:
        config["compositions"] = ["africa", "europe", "global"]
        config["pretrain"]["trainer"]["max_epochs"] = 1
        config["downstream"][0]["repeats"] = 1
        config["downstream"][0]["trainer"]["max_epochs"] = 2
    return config


def _cpu_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _study(
    config: dict[str, Any], folder: Path, *options: str, threads: int | None = None
) -> tuple[float, float]:
    """Run a study from scratch; return its wall time and its CPU time (all processes)."""
    config = copy.deepcopy(config)
    config["output_dir"] = str(folder)
    path = folder.with_suffix(".yaml")
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    command = [sys.executable, "-m", "torchgeo_composition.cli", "study"]
    env = dict(os.environ)
    if threads is not None:
        env["OMP_NUM_THREADS"] = str(threads)
    start, cpu = time.perf_counter(), _cpu_children()
    done = subprocess.run(
        [*command, "--config", str(path), *options],
        capture_output=True,
        text=True,
        env=env,
    )
    seconds, cpu = time.perf_counter() - start, _cpu_children() - cpu
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-3000:] + done.stderr[-3000:])
        raise SystemExit(f"the study in {folder} failed ({done.returncode})")
    return seconds, cpu


def _kinds(folder: Path) -> dict[str, dict[str, float]]:
    """Return the number of steps and their summed wall time, by kind."""
    kinds: dict[str, dict[str, float]] = {}
    for marker in sorted((folder / "steps").glob("*/DONE.json")):
        done = json.loads(marker.read_text())
        entry = kinds.setdefault(done["kind"], {"steps": 0, "seconds": 0.0})
        entry["steps"] += 1
        entry["seconds"] = round(entry["seconds"] + float(done["duration_s"]), 1)
    return kinds


def _step_overhead(config: dict[str, Any], root: Path, repeats: int) -> dict[str, Any]:
    from torchgeo_composition.study import build_steps, parse_study, run_step
    from torchgeo_composition.study.records import DONE

    config = copy.deepcopy(config)
    config["compositions"] = ["europe"]
    config["baseline"] = False
    config["pretrain"]["trainer"]["max_epochs"] = 1
    evaluation = config["downstream"][0]
    evaluation["repeats"] = 1
    evaluation["trainer"].update(
        max_epochs=1, limit_train_batches=1, limit_val_batches=1
    )
    config["output_dir"] = str(root / "noop")
    _study(config, root / "noop", "--executor", "inprocess")
    steps = {s.id: s for s in build_steps(parse_study(config))}
    probe = steps[PROBE]
    times: dict[str, list[float]] = {"subprocess": [], "inprocess": []}
    for _ in range(repeats):
        for mode in times:
            (probe.dir / DONE).unlink()
            start = time.perf_counter()
            result = run_step(probe, mode)  # type: ignore[arg-type]
            times[mode].append(time.perf_counter() - start)
            if result.status != "done":
                raise SystemExit(f"the no-op step failed: {result.error}")
    best = {mode: min(values) for mode, values in times.items()}
    return {
        "new_process_s": best["subprocess"],
        "warm_process_s": best["inprocess"],
        "ratio": best["subprocess"] / best["inprocess"],
        "repeats": repeats,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures.

    Args:
        argv: Command-line arguments.

    Returns:
        0.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small study (minutes)")
    parser.add_argument("--repeats", type=int, default=3, help="no-op step runs")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument(
        "--one-thread",
        action="store_true",
        help="also run the serial local study with OMP_NUM_THREADS=1",
    )
    parser.add_argument(
        "--no-subprocess",
        action="store_true",
        help="skip the serial run with a process per Lightning step",
    )
    args = parser.parse_args(argv)
    figures: dict[str, Any] = {
        "cores": len(os.sched_getaffinity(0)),
        "load_average_1min": os.getloadavg()[0],
    }
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        config = _demo(root, args.quick)
        from torchgeo_composition.datasets import SyntheticSentinel2Pool

        SyntheticSentinel2Pool(**config["pool"]["init_args"])  # written once
        figures["step"] = _step_overhead(config, root, args.repeats)
        step = figures["step"]
        print(
            f"no-op probe step: new fit process {step['new_process_s']:.2f} s, "
            f"warm process {step['warm_process_s']:.2f} s: "
            f"{step['ratio']:.1f}x lower overhead (target >= 3x)",
            flush=True,
        )
        runs: dict[str, tuple[tuple[str, ...], int | None]] = {
            "serial_subprocess": (("--executor", "subprocess"), None),
            "serial_local": (("--executor", "local"), None),
            "serial_local_1thread": (("--executor", "local"), 1),
            "jobs2_local": (("--executor", "local", "--jobs", "2"), None),
        }
        if args.no_subprocess:
            del runs["serial_subprocess"]
        if not args.one_thread:
            del runs["serial_local_1thread"]
        seconds, cpu = {}, {}
        for name, (options, threads) in runs.items():
            seconds[name], cpu[name] = _study(
                config, root / name, *options, threads=threads
            )
            print(
                f"{name}: {seconds[name]:.1f} s, {cpu[name]:.1f} CPU-s "
                f"({cpu[name] / seconds[name]:.2f} cores busy on average)",
                flush=True,
            )
        tables = {name: (root / name / "results.csv").read_text() for name in runs}
        identical = len(set(tables.values())) == 1
        figures["study"] = {
            "compositions": len(config["compositions"]),
            "quick": args.quick,
            **{f"{name}_s": value for name, value in seconds.items()},
            **{f"{name}_cpu_s": value for name, value in cpu.items()},
            "jobs2_vs_serial_local": seconds["serial_local"] / seconds["jobs2_local"],
            # no schedule of the --jobs 2 run's work on 2 cores beats CPU-s / 2
            "jobs2_bound_vs_serial_local": seconds["serial_local"]
            / (cpu["jobs2_local"] / figures["cores"]),
            "identical_results_csv": identical,
            "step_seconds_by_kind": {name: _kinds(root / name) for name in runs},
        }
        if "serial_subprocess" in seconds:
            figures["study"]["jobs2_vs_serial_subprocess"] = (
                seconds["serial_subprocess"] / seconds["jobs2_local"]
            )
    figures["load_average_1min_after"] = os.getloadavg()[0]
    study = figures["study"]
    print(
        f"demo study ({study['compositions']} compositions"
        f"{', quick' if args.quick else ''}) on {figures['cores']} cores, load "
        f"{figures['load_average_1min']:.1f} before, "
        f"{figures['load_average_1min_after']:.1f} after: "
        + ", ".join(f"{name} {value:.1f} s" for name, value in seconds.items())
        + f"\n  --jobs 2 vs serial local: {study['jobs2_vs_serial_local']:.2f}x "
        f"(target >= 1.5x; at most {study['jobs2_bound_vs_serial_local']:.2f}x "
        f"for the --jobs 2 run's CPU time on {figures['cores']} cores); "
        f"results.csv identical: {identical}"
    )
    if "jobs2_vs_serial_subprocess" in study:
        print(
            "  --jobs 2 vs the earlier serial default (a process per Lightning "
            f"step): {study['jobs2_vs_serial_subprocess']:.2f}x"
        )
    for name, kinds in study["step_seconds_by_kind"].items():
        print(
            f"  {name} steps: "
            + ", ".join(
                f"{kind} {v['steps']:.0f} x = {v['seconds']:.1f} s"
                for kind, v in kinds.items()
            )
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
