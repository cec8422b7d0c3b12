"""The ``slurm`` executor on a real Slurm (``make test-slurm`` starts one on this machine).

Skipped, with the reason, when no Slurm is running here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from study_hooks import HERE, wait_for
from tiny_study import tiny_study, write_study

from torchgeo_composition.commands.study import main

pytestmark = pytest.mark.slurm


def _slurm_running() -> str | None:
    """Return why Slurm cannot run jobs here, or ``None`` when it can."""
    if shutil.which("sbatch") is None or shutil.which("sinfo") is None:
        return "Slurm is not installed (bash scripts/slurm-local.sh start)"
    try:
        states = subprocess.run(
            ["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.SubprocessError) as err:
        return f"sinfo failed: {err}"
    if not any(s.startswith(("idle", "mixed", "alloc")) for s in states.stdout.split()):
        return f"no Slurm node is up (sinfo: {states.stdout.strip() or states.stderr.strip()})"
    return None


@pytest.fixture
def slurm(monkeypatch: pytest.MonkeyPatch) -> None:
    """Skip without a running Slurm; let the jobs import the test hooks."""
    reason = _slurm_running()
    if reason is not None:
        pytest.skip(reason)
    paths = [str(HERE), str(HERE.parents[1]), os.environ.get("PYTHONPATH", "")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(paths))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


def _study(tmp_path: Path) -> dict[str, Any]:
    config = tiny_study(tmp_path)
    config["compositions"] = ["europe"]
    return config


def _slurm(path: Path, *extra: str) -> list[str]:
    return ["--config", str(path), "--executor", "slurm", "--slurm_poll", "1", *extra]


def test_study_on_slurm_attaches_completes_and_skips(
    slurm: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _study(tmp_path)
    root = Path(config["output_dir"])
    path = write_study(tmp_path / "study.yaml", config)

    # submit and return: one job per step, with dependencies
    assert main(_slurm(path, "--slurm_no_wait")) == 0
    out = capsys.readouterr().out
    assert out.count("as Slurm job") == 6, out
    jobs = json.loads((root / "slurm/jobs.json").read_text())
    assert sorted(jobs) == [
        "collect",
        "compose-europe",
        "diversity-europe",
        "export-europe-s0",
        "pretrain-europe-s0",
        "probe-europe-s0-landcover-r0",
    ]

    # submitted again while the jobs are queued or running: attached, not duplicated
    assert main(_slurm(path)) == 0
    out = capsys.readouterr().out
    assert "submitted" not in out
    assert out.count("attached to Slurm job") + out.count("already done") == 6, out
    assert out.count(" done in ") + out.count("already done") == 6, out
    results = pd.read_csv(root / "results.csv")
    assert results["composition"].tolist() == ["europe"]
    assert results["landcover_n"].tolist() == [1]
    assert json.loads((root / "slurm/jobs.json").read_text()) == jobs
    for step_id, job in jobs.items():
        record = json.loads(
            (root / "steps" / step_id / "slurm_result.json").read_text()
        )
        assert record["job_id"] == job["job_id"]
        assert Path(job["log"]).is_file()

    # a resubmitted finished study submits nothing
    assert main(_slurm(path)) == 0
    out = capsys.readouterr().out
    assert out.count("already done") == 6 and "Slurm job" not in out


def test_a_failed_job_stops_its_dependents_only(
    slurm: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _study(tmp_path)
    config["pretrain"]["trainer"]["callbacks"] = [
        {
            "class_path": "study_hooks.FailOnce",
            "init_args": {"marker": str(tmp_path / "failed.txt"), "epoch": 0},
        }
    ]
    root = Path(config["output_dir"])
    path = write_study(tmp_path / "study.yaml", config)
    assert main(_slurm(path)) == 1
    out = capsys.readouterr().out
    assert "pretrain-europe-s0" in out and "FAILED" in out
    assert "injected failure" in out
    assert "Slurm log: " in out and "steps/pretrain-europe-s0/log.txt" in out
    for step in ("export-europe-s0", "probe-europe-s0-landcover-r0"):
        assert not (root / "steps" / step / "log.txt").exists()  # never started
        assert f"{step:<40} blocked" in out
    # the independent diversity step ran; collect summarised what finished
    assert (root / "steps/diversity-europe/DONE.json").is_file()
    assert (root / "steps/collect/PARTIAL.txt").is_file()

    # resubmitted (the failure was injected once): only the missing steps run
    assert main(_slurm(path)) == 0
    out = capsys.readouterr().out
    assert "compose-europe" in out and out.count("already done") == 2, out
    assert (root / "results.csv").is_file()


@pytest.mark.slow  # a 2-process DDP pretraining on 2 CPUs: minutes on a busy machine
def test_a_two_device_pretraining_runs_as_two_slurm_tasks(
    slurm: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _study(tmp_path)
    config["pretrain"]["trainer"].update(devices=2, strategy="ddp")
    root = Path(config["output_dir"])
    path = write_study(tmp_path / "study.yaml", config)
    assert main(_slurm(path)) == 0
    log = (root / "steps/pretrain-europe-s0/log.txt").read_text()
    assert "$ srun --ntasks=2 " in log
    assert "GLOBAL_RANK: 1, MEMBER: 2/2" in log  # Lightning's SLURMEnvironment
    assert (root / "results.csv").is_file()


def _job_state(job: str) -> str:
    return subprocess.run(
        ["squeue", "-h", "-j", job, "-o", "%T"], capture_output=True, text=True
    ).stdout.strip()


def test_a_requeued_pretraining_runs_again_and_the_study_completes(
    slurm: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A preemption, as Slurm does it: the running job is killed and requeued.

    Takes three to four minutes: Slurm holds a requeued job for about two.
    """
    config = _study(tmp_path)
    marker = tmp_path / "blocked.json"
    config["pretrain"]["trainer"]["callbacks"] = [
        {
            "class_path": "study_hooks.BlockTraining",
            "init_args": {"marker": str(marker)},
        }
    ]
    root = Path(config["output_dir"])
    path = write_study(tmp_path / "study.yaml", config)
    assert main(_slurm(path, "--slurm_no_wait")) == 0
    capsys.readouterr()
    job = json.loads((root / "slurm/jobs.json").read_text())["pretrain-europe-s0"]
    # the pretraining blocks in its first batch (until SIGTERM): preempt it there
    wait_for(marker.exists, 600, "the pretraining's first batch", poll=0.5)
    subprocess.run(["scontrol", "requeue", job["job_id"]], check=True)
    wait_for(
        lambda: _job_state(job["job_id"]) == "PENDING", 120, "the requeue", poll=0.5
    )
    # Slurm starts a requeued job again after a delay of about two minutes (its
    # node must first clean up the killed run); the study waits for it

    # watched to the end: the requeued job ran the step again, under the same job id
    assert main(_slurm(path)) == 0
    out = capsys.readouterr().out
    assert "submitted" not in out and "FAILED" not in out, out
    assert out.count("attached to Slurm job") + out.count("already done") == 6, out
    step = root / "steps/pretrain-europe-s0"
    record = json.loads((step / "slurm_result.json").read_text())
    assert record["status"] == "done" and record["job_id"] == job["job_id"]
    # the second run continued from the first one's checkpoint, its logs kept
    log = (step / "log.txt").read_text()
    assert "stopped by SIGTERM; continue with --ckpt_path last" in log
    assert f"continuing from {step / 'checkpoints' / 'last.ckpt'}" in log
    assert json.loads((step / "STARTED.json").read_text())["resumed"] is True
    assert (step / "attempts" / "1").is_dir()
    assert (root / "results.csv").is_file()
    assert json.loads((step / "DONE.json").read_text())["kind"] == "pretrain"
