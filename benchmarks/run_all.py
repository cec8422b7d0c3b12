"""Run every benchmark script and write one Markdown table of their figures.

Usage::

    python benchmarks/run_all.py [--quick] [--out benchmarks/results]

Each ``benchmarks/bench_*.py`` script is run in its own process with ``--json``;
the figures it reports are flattened into rows of ``results.md`` together with a
description of the machine, so that numbers are only ever compared within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def _flatten(prefix: str, value: Any) -> list[tuple[str, str]]:
    if isinstance(value, dict):
        rows: list[tuple[str, str]] = []
        for key, sub in value.items():
            rows += _flatten(f"{prefix}.{key}" if prefix else str(key), sub)
        return rows
    if isinstance(value, float):
        return [(prefix, f"{value:.4g}")]
    if isinstance(value, list) and all(isinstance(v, dict) for v in value):
        rows = []
        for i, sub in enumerate(value):
            name = sub.get("name", str(i)) if isinstance(sub, dict) else str(i)
            rows += _flatten(
                f"{prefix}.{name}", {k: v for k, v in sub.items() if k != "name"}
            )
        return rows
    return [(prefix, str(value))]


def _environment() -> dict[str, str]:
    import torch

    env = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(),
        "cores": str(os.cpu_count()),
        "threads": str(torch.get_num_threads()),
    }
    if torch.cuda.is_available():
        env["gpu"] = torch.cuda.get_device_name(0)
    return env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke run)")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--only", nargs="*", help="script names to run (bench_x.py)")
    args = parser.parse_args(argv)

    scripts = sorted(HERE.glob("bench_*.py"))
    if args.only:
        scripts = [s for s in scripts if s.name in set(args.only)]
    args.out.mkdir(parents=True, exist_ok=True)
    lines = ["# Benchmark results", ""]
    lines += [f"- {k}: {v}" for k, v in _environment().items()]
    lines += ["", "| benchmark | figure | value |", "| --- | --- | --- |"]
    failures = 0
    for script in scripts:
        with tempfile.TemporaryDirectory() as tmp:
            out_json = Path(tmp) / "figures.json"
            cmd = [sys.executable, str(script), "--json", str(out_json)]
            if args.quick:
                cmd.append("--quick")
            start = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True)
            seconds = time.perf_counter() - start
            print(
                f"{script.name}: exit {proc.returncode} in {seconds:.1f} s", flush=True
            )
            if proc.returncode != 0 or not out_json.exists():
                failures += 1
                lines.append(f"| {script.stem} | failed (exit {proc.returncode}) | |")
                sys.stderr.write(proc.stdout[-2000:] + proc.stderr[-4000:])
                continue
            for name, value in _flatten("", json.loads(out_json.read_text())):
                lines.append(f"| {script.stem} | {name} | {value} |")
    table = args.out / "results.md"
    tmp_table = table.with_suffix(".md.tmp")
    tmp_table.write_text("\n".join(lines) + "\n")
    os.replace(tmp_table, table)
    print(f"wrote {table}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
