"""Running the CLI for a study step: only a completed run counts as finished."""

from __future__ import annotations

from pathlib import Path

import pytest

from torchgeo_composition.study.lightning import run_cli


def test_a_run_that_exits_0_without_completing_is_not_finished(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Lightning also exits with code 0 after SIGTERM; only the completion
    # marker its trainer writes at the end of fit counts
    with pytest.raises(RuntimeError, match="ended without completing"):
        run_cli(["fit", "--help"], tmp_path / "log.txt", executor="inprocess")
    assert "--trainer" in capsys.readouterr().out  # the command did run
    assert not list(tmp_path.glob("completed_*.json"))
