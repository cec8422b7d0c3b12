"""Local executors: ``--jobs N`` gives the serial results; slots; a missing Slurm."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pandas as pd
import pytest
from tiny_study import tiny_study, write_study

from torchgeo_composition.commands.study import main
from torchgeo_composition.study import build_steps, parse_study
from torchgeo_composition.study.executors import (
    critical_order,
    plan_slots,
    run_local,
    uses_gpus,
)
from torchgeo_composition.study.executors.jobs import job_resources

# the variables of an sbatch allocation of the whole study (2 tasks: a step that
# took them for its own would fail, since its trainer has one device)
_ALLOCATION = {
    "SLURM_JOB_ID": "4242",
    "SLURM_JOB_NAME": "study",
    "SLURM_NTASKS": "2",
    "SLURM_NTASKS_PER_NODE": "2",
    "SLURM_PROCID": "0",
    "SLURM_LOCALID": "0",
    "SLURM_NODEID": "0",
    "SLURM_NODELIST": "localhost",
}


def test_jobs_2_gives_the_serial_results_inside_an_allocation(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key, value in _ALLOCATION.items():
        monkeypatch.setenv(key, value)
    results = {}
    for name, jobs in (("serial", "1"), ("parallel", "2")):
        config = tiny_study(tmp_path, output_dir=tmp_path / name)
        path = write_study(tmp_path / f"{name}.yaml", config)
        args = ["--config", str(path), "--jobs", jobs]
        assert main(args) == 0
        out = capsys.readouterr().out
        assert out.count(" done in ") == 11, out
        assert "GPU available" not in out  # in-process runs log into the step
        results[name] = (tmp_path / name / "results.csv").read_text()
        logs = "".join(p.read_text() for p in (tmp_path / name).glob("steps/*/log.txt"))
        assert "srun" not in logs  # a local step, not a Slurm task
    assert results["parallel"] == results["serial"]
    table = pd.read_csv(tmp_path / "parallel/results.csv")
    assert table["composition"].tolist() == ["europe", "eu_af"]
    assert os.environ["SLURM_NTASKS"] == "2"  # the study's own environment is kept


def test_long_chains_start_first(tmp_path: Path) -> None:
    config = tiny_study(tmp_path, baseline=True)
    steps = build_steps(parse_study(config))
    order = [step.id for step in critical_order(steps)]
    assert sorted(order) == sorted(step.id for step in steps)  # each step once
    place = {step_id: i for i, step_id in enumerate(order)}
    # every pretraining's chain (compose, pretrain) before any diversity step
    last_chain = max(place[s.id] for s in steps if s.kind in ("compose", "pretrain"))
    assert last_chain < min(place[s.id] for s in steps if s.kind == "diversity")
    # a step always comes after the steps it reads
    for step in steps:
        assert all(place[dep] < place[step.id] for dep in step.depends_on), step.id
    assert order[-1] == "collect"
    assert critical_order(steps) == critical_order(list(steps))  # deterministic


def test_slots_share_cores_and_gpus_and_cap_jobs(tmp_path: Path) -> None:
    steps = build_steps(parse_study(tiny_study(tmp_path)))
    notes: list[str] = []
    slots = plan_slots(steps, 8, notes, cores=2, gpus=0)
    assert len(slots) == 2
    assert [s.env["OMP_NUM_THREADS"] for s in slots] == ["1", "1"]
    assert notes == [
        "note: --jobs 8 is more than the 2 CPU cores; running 2 steps at a time"
    ]
    notes.clear()
    slots = plan_slots(steps, 8, notes, cores=16, gpus=4)
    assert [s.env["CUDA_VISIBLE_DEVICES"] for s in slots] == ["0", "1", "2", "3"]
    assert [s.threads for s in slots] == [4, 4, 4, 4]
    assert notes == [
        "note: --jobs 8 is more than the 4 GPUs; running 4 steps at a time"
    ]
    notes.clear()
    slots = plan_slots(steps, 2, notes, cores=16, gpus=4)
    assert [s.env["CUDA_VISIBLE_DEVICES"] for s in slots] == ["0,1", "2,3"]
    assert notes == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--jobs", "0"], "jobs must be >= 1, got 0"),
        (["--executor", "cluster"], "executor: expected one of ['local', 'slurm'"),
    ],
)
def test_bad_executor_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    path = write_study(tmp_path / "study.yaml", tiny_study(tmp_path))
    assert main(["--config", str(path), *args]) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], err
    assert not (tmp_path / "study").exists()


def test_slurm_executor_without_sbatch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    path = write_study(tmp_path / "study.yaml", tiny_study(tmp_path))
    assert main(["--config", str(path), "--executor", "slurm"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: executor 'slurm' needs Slurm's sbatch"), err
    assert len(err.splitlines()) == 1
    assert not (tmp_path / "study").exists()


def test_a_worker_that_dies_fails_its_step_and_is_replaced(tmp_path: Path) -> None:
    config = tiny_study(tmp_path)
    config["compositions"] = ["europe", "africa", "asia"]
    steps = [s for s in build_steps(parse_study(config)) if s.kind == "compose"]
    for step in steps[:2]:  # their workers die while composing
        step.params["config"]["pool"] = {
            "class_path": "study_hooks.ExitingPool",
            "init_args": {"code": 3},
        }
    out = io.StringIO()
    results, stopped = run_local(
        steps, "local", 2, None, out, lambda i, n, r: f"{r.step.id} {r.status}"
    )
    status = {r.step.id: (r.status, r.error) for r in results}
    for step in steps[:2]:
        assert status[step.id] == ("failed", "the worker running it ended with 3")
    # the replacement worker runs the next step
    assert status["compose-asia"] == ("done", None)
    assert (tmp_path / "study/steps/compose-asia/manifest.parquet").is_file()
    assert not stopped and out.getvalue().count(" failed") == 2


def test_job_resources_follow_each_steps_trainer(tmp_path: Path) -> None:
    config = tiny_study(tmp_path)
    config["pretrain"]["trainer"].update(
        accelerator="gpu", devices=4, num_nodes=2, strategy="ddp"
    )
    steps = {s.id: s for s in build_steps(parse_study(config))}
    assert job_resources(steps["pretrain-europe-s0"]) == {
        "nodes": 2,
        "ntasks_per_node": 4,
        "gpus_per_node": 4,
    }
    one_cpu = {"nodes": 1, "ntasks_per_node": 1, "gpus_per_node": 0}
    assert job_resources(steps["probe-europe-s0-landcover-r0"]) == one_cpu
    assert job_resources(steps["compose-europe"]) == one_cpu
    assert uses_gpus(steps.values())
    assert not uses_gpus([steps["probe-europe-s0-landcover-r0"]])
