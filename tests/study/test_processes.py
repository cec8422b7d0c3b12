"""Real processes: a study's lock, and a study whose process dies stops its fit.

The fit of the pretraining step blocks in its first batch (``BlockTraining``)
and says so with a marker file; the tests act when the marker appears and then
poll, with a deadline, for what must follow.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from study_hooks import hooks_env, wait_for
from tiny_study import tiny_study, write_study

from torchgeo_composition.commands.study import main
from torchgeo_composition.study import lock_study_dir
from torchgeo_composition.study.__main__ import main as step_main

PRETRAIN = "steps/pretrain-europe-s0"
#: Upper bound of every wait (seconds): generous, because a loaded CI machine can
#: take minutes to start a Python process that imports torch; the waits poll for
#: the event and end as soon as it happens.
BOUND = 600


def _gone(pid: int) -> bool:
    """Whether process ``pid`` has ended (exited, or a zombie nobody reaped yet)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] in ("Z", "X")


def _blocking_study(tmp_path: Path, marker: Path) -> dict[str, Any]:
    config = tiny_study(tmp_path)
    config["compositions"] = ["europe"]
    config["pretrain"]["trainer"]["callbacks"] = [
        {
            "class_path": "study_hooks.BlockTraining",
            "init_args": {"marker": str(marker)},
        }
    ]
    return config


def _study(*args: str) -> list[str]:
    return [sys.executable, "-m", "torchgeo_composition.cli", "study", *args]


def test_second_study_fails_naming_the_holder_and_a_killed_study_stops_its_fit(
    tmp_path: Path,
) -> None:
    marker = tmp_path / "blocked.json"
    config = _blocking_study(tmp_path, marker)
    root = Path(config["output_dir"])
    path = write_study(tmp_path / "study.yaml", config)
    with (tmp_path / "holder.out").open("w") as out:
        holder = subprocess.Popen(
            _study("--config", str(path)),
            env=hooks_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(marker.exists, BOUND, "the first study's fit to start")
        child = json.loads(marker.read_text())["pid"]
        assert child != holder.pid
        logs = {p: p.read_bytes() for p in root.glob("steps/*/log.txt")}
        identity = (root / "study.json").read_text()

        # a second study on the same folder, with another config and --force
        other = copy.deepcopy(config)
        other["budget"] = 10
        path2 = write_study(tmp_path / "other.yaml", other)
        second = subprocess.run(
            _study("--config", str(path2), "--force"),
            env=hooks_env(),
            capture_output=True,
            text=True,
            timeout=BOUND,
        )
        assert second.returncode == 2
        errors = [ln for ln in second.stderr.splitlines() if "error:" in ln]
        assert len(errors) == 1
        assert (
            f"study directory {str(root)!r} is locked by pid {holder.pid}"
            in (errors[0])
        )
        assert "study --config" in errors[0] and "since" in errors[0]
        assert "[  " not in second.stdout  # it ran no step
        # nothing of the first study was touched
        assert {p: p.read_bytes() for p in root.glob("steps/*/log.txt")} == logs
        assert (root / "study.json").read_text() == identity
        assert holder.poll() is None

        # killing the study (SIGKILL: no cleanup code runs) stops its fit
        holder.kill()
        holder.wait(timeout=BOUND)
        wait_for(lambda: _gone(child), BOUND, f"the orphaned fit (pid {child}) to end")
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    # the lock died with its holder
    with lock_study_dir(root) as held:
        assert held is not None and held.pid == os.getpid()
    assert not (root / PRETRAIN / "DONE.json").exists()


def _parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])


def test_a_killed_parallel_study_stops_its_workers_and_their_fits(
    tmp_path: Path,
) -> None:
    marker = tmp_path / "blocked.json"
    config = _blocking_study(tmp_path, marker)
    root = Path(config["output_dir"])
    path = write_study(tmp_path / "study.yaml", config)
    with (tmp_path / "study.out").open("w") as out:
        study = subprocess.Popen(
            _study("--config", str(path), "--jobs", "2"),
            env=hooks_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(marker.exists, 300, "the pretraining's fit to start")
        fit = json.loads(marker.read_text())["pid"]
        worker = _parent_of(fit)
        assert worker != study.pid and _parent_of(worker) == study.pid
        study.kill()  # no cleanup code of the study runs
        study.wait(timeout=60)
        wait_for(lambda: _gone(worker), 120, f"the worker (pid {worker}) to end")
        wait_for(lambda: _gone(fit), 120, f"its fit (pid {fit}) to end")
    finally:
        if study.poll() is None:
            study.kill()
            study.wait()
    assert not (root / PRETRAIN / "DONE.json").exists()
    with lock_study_dir(root) as held:  # the lock died with the study
        assert held is not None and held.pid == os.getpid()


@pytest.mark.slow  # two Python processes and a fit; the same path runs below
def test_sigterm_to_a_step_runner_stops_its_fit(tmp_path: Path) -> None:
    marker = tmp_path / "blocked.json"
    config = _blocking_study(tmp_path, marker)
    root = Path(config["output_dir"])
    path = write_study(tmp_path / "study.yaml", config)
    args = ["--config", str(path), "--executor", "inprocess"]
    assert main([*args, "--max-steps", "1"]) == 3  # the composition only
    with (tmp_path / "runner.out").open("w") as out:
        runner = subprocess.Popen(
            [sys.executable, "-m", "torchgeo_composition.study", str(root / PRETRAIN)],
            env=hooks_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(marker.exists, BOUND, "the step's fit to start")
        child = json.loads(marker.read_text())["pid"]
        runner.send_signal(signal.SIGTERM)
        assert runner.wait(timeout=BOUND) == 128 + signal.SIGTERM
        assert _gone(child)  # stopped (and reaped) before the runner exited
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
    step = root / PRETRAIN
    assert (step / "STARTED.json").is_file()
    assert not (step / "DONE.json").exists()
    log = (step / "log.txt").read_text()
    assert "torchgeo_composition.cli fit --config" in log
    assert "stopped by SIGTERM" in log
    # the fit saved its state after the batch it was in; the step continues from it
    assert (step / "checkpoints/last.ckpt").is_file()
    assert step_main([str(step), "--executor", "inprocess"]) == 0
    log = (step / "log.txt").read_text()
    assert "continuing from" in log
    assert (step / "DONE.json").is_file() and (step / "attempts/1/logs").is_dir()


# A parent that runs a child through run_supervised, and a child that starts a
# grandchild in its process group, says where they are and waits for ever
# (ignoring SIGTERM when asked to, so only SIGKILL ends it).
_CHILD = """
import os, signal, subprocess, sys, time
from pathlib import Path
if sys.argv[2] == "ignore":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
Path(sys.argv[1]).write_text(f"{os.getpid()} {grandchild.pid}")
while True:
    time.sleep(1)
"""
_PARENT = """
import sys
from torchgeo_composition.study.lightning.run import run_supervised
child = [sys.executable, "-c", sys.argv[1], sys.argv[2], sys.argv[3]]
with open(sys.argv[4], "w") as out:
    sys.exit(run_supervised(child, out, grace=1.0))
"""


def _supervised(
    tmp_path: Path, on_sigterm: str
) -> tuple[subprocess.Popen[bytes], list[int]]:
    marker = tmp_path / "child.txt"
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _PARENT,
            _CHILD,
            str(marker),
            on_sigterm,
            str(tmp_path / "child.log"),
        ],
        env=hooks_env(),
    )
    try:
        wait_for(marker.exists, BOUND, "the child to start")
        wait_for(lambda: len(marker.read_text().split()) == 2, BOUND, "its pids")
    except BaseException:  # leave no process behind a failed start
        found = marker.read_text().split() if marker.exists() else []
        for pid in [parent.pid, *map(int, found)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        raise
    return parent, [int(pid) for pid in marker.read_text().split()]


def test_sigterm_to_the_parent_stops_the_childs_process_group(tmp_path: Path) -> None:
    # the grandchild ends on SIGTERM; the child ignores it and gets SIGKILL after
    # the grace period
    parent, pids = _supervised(tmp_path, "ignore")
    try:
        parent.send_signal(signal.SIGTERM)
        assert parent.wait(timeout=BOUND) == 128 + signal.SIGTERM
        wait_for(lambda: all(map(_gone, pids)), BOUND, f"the group {pids} to end")
    finally:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_a_killed_parent_takes_its_child_along(tmp_path: Path) -> None:
    # no code of the parent runs on SIGKILL: the kernel's parent-death signal acts
    parent, (child, grandchild) = _supervised(tmp_path, "exit")
    try:
        parent.kill()
        parent.wait(timeout=BOUND)
        wait_for(lambda: _gone(child), BOUND, f"the child {child} to end")
    finally:  # the test's sleeping grandchild is not the child's to stop
        for pid in (child, grandchild):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
