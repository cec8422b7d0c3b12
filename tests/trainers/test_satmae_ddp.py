from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def test_two_process_cpu_ddp(tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    script = Path(__file__).with_name("satmae_ddp_run.py")
    env = os.environ | {"PL_DISABLE_FORK": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, str(script), str(out)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["world_size"] == 2
    # 4 per process x 2 processes = 8 -> 0.256 * 8 / 256
    assert result["peak_lr"] == pytest.approx(0.008)
    assert result["finite"] and result["steps"] == 2
    first, second = result["checksums"]
    assert first == pytest.approx(second)
