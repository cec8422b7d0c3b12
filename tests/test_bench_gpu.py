import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]


def _run(tmp_path: Path) -> dict[str, object]:
    out = tmp_path / "gpu.json"
    subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "bench_gpu.py"), "--quick",
         "--feed_workers=2", "--json", str(out)],
        cwd=REPO, check=True, timeout=900,
    )  # fmt: skip
    return json.loads(out.read_text())


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_bench_gpu_runs_tiny(tmp_path: Path) -> None:
    figures = _run(tmp_path)
    assert figures["flops_per_step"] > 0  # type: ignore[operator]
    best = figures["best"]
    assert isinstance(best, dict) and best["images_per_s"] > 0
    assert figures["feed_images_per_s"] > 0  # type: ignore[operator]


def test_bench_gpu_without_a_device_says_so(tmp_path: Path) -> None:
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    assert _run(tmp_path) == {"skipped": "no CUDA device"}
