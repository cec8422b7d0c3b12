"""Bad input surfaces before any step runs, in one line; a failed step says why."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tiny_study import tiny_study, write_study

from torchgeo_composition.commands.study import main
from torchgeo_composition.study.lightning.run import last_error_line


def _one_error_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert "error: " in lines[0]
    return lines[0]


def _data(c: dict[str, Any]) -> dict[str, Any]:
    init: dict[str, Any] = c["pretrain"]["data"]["init_args"]
    return init


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda c: c["pretrain"]["model"]["init_args"].update(mask_ratio=1.5),
            "pretrain model (SatMAETask): mask_ratio must be in (0, 1), got 1.5",
        ),
        (
            lambda c: _data(c).update(bands=["B2", "B3", "B99"]),
            "pretrain data (ContinentStratifiedDataModule): band 'B99' is not "
            "available; valid choices are ['B1', 'B2'",
        ),
        (
            lambda c: c["downstream"][0]["model"]["init_args"].update(num_classes=1),
            "downstream 'landcover' model (FusionClassificationTask): num_classes=1",
        ),
        (
            lambda c: _data(c).update(batch_size="many"),
            "pretrain config is invalid: data.init_args.batch_size:",
        ),
    ],
)
def test_bad_values_are_reported_before_any_step_runs(
    edit: Callable[[dict[str, Any]], None],
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = tiny_study(tmp_path)
    edit(config)
    path = write_study(tmp_path / "study.yaml", config)
    root = Path(config["output_dir"])
    assert main(["--config", str(path), "--executor", "inprocess"]) == 2
    assert message in _one_error_line(capsys.readouterr().err)
    assert not (root / "steps").exists()  # no step ran
    assert not (root / "study.json").exists()  # nor was the folder claimed
    # so the corrected study runs there without --force
    path = write_study(tmp_path / "study.yaml", tiny_study(tmp_path))
    assert main(["--config", str(path), "--plan"]) == 0


def test_an_output_dir_that_cannot_be_written_is_reported_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tiny_study(tmp_path)
    path = write_study(tmp_path / "study.yaml", config)
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    out = blocker / "study"
    assert main(["--config", str(path), "--output-dir", str(out)]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert f"output_dir {str(out)!r}" in line and "is a file" in line
    assert not (tmp_path / "pool").exists()  # the pool was not even opened
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "read_only"
        locked.mkdir(mode=0o555)
        out = locked / "study"
        assert main(["--config", str(path), "--output-dir", str(out)]) == 2
        assert "is not writable" in _one_error_line(capsys.readouterr().err)


def test_a_failed_step_shows_the_last_error_line_of_its_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tiny_study(tmp_path)
    config["compositions"] = ["europe"]
    config["pretrain"]["trainer"]["max_epochs"] = "many"  # checked by fit only
    path = write_study(tmp_path / "study.yaml", config)
    assert main(["--config", str(path), "--executor", "inprocess"]) == 1
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if "pretrain-europe-s0 " in ln)
    assert "FAILED" in line, out
    assert "FAILED: RuntimeError: torchgeo-composition fit exited with 2: " in line
    assert "error: " in line and "max_epochs" in line and "many" in line


def test_last_error_line(tmp_path: Path) -> None:
    log = tmp_path / "log.txt"
    log.write_text("error: an earlier attempt\n")
    offset = log.stat().st_size
    traceback = (
        "Traceback (most recent call last):\n"
        '  File "x.py", line 1, in <module>\n'
        '    raise ValueError("bad value")\n'
        "ValueError: bad value\n"
        "\n"
    )
    with log.open("a") as file:
        file.write("Epoch 0: 100%\n" + traceback + "[rank: 0] some closing line\n")
    assert last_error_line(log, offset) == "ValueError: bad value"
    with log.open("a") as file:
        file.write("torchgeo-composition: error: trainer.max_epochs: expected int\n")
    assert last_error_line(log, offset) == (
        "torchgeo-composition: error: trainer.max_epochs: expected int"
    )
    assert last_error_line(log, log.stat().st_size) is None
    plain = tmp_path / "plain.txt"
    plain.write_text("starting\nKilled\n")
    assert last_error_line(plain) == "Killed"
    assert last_error_line(tmp_path / "missing.txt") is None


def test_malformed_study_files_give_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for text, message in (
        ("name: [demo\nbudget: 3\n", "is not valid YAML: while parsing a flow"),
        ("name: x\n\tbudget: 3\n", "is not valid YAML"),
        ("- a\n- b\n", "must be a mapping of study keys"),
        ("", "must be a mapping of study keys (name, pool, compositions ...), got an"),
    ):
        path = tmp_path / "bad.yaml"
        path.write_text(text)
        assert main(["--config", str(path)]) == 2
        line = _one_error_line(capsys.readouterr().err)
        assert f"study config {str(path)!r} " in line and message in line
    assert list(tmp_path.iterdir()) == [tmp_path / "bad.yaml"]  # nothing written


def test_debug_shows_the_traceback_above_the_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_study(tmp_path / "study.yaml", tiny_study(tmp_path))
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    args = ["--config", str(path), "--output-dir", str(blocker / "study")]
    assert main([*args, "--debug"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and "NotADirectoryError" in err
    assert err.splitlines()[-1].startswith("error: output_dir ")
