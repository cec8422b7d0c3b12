"""A manifest and its summary are one unit: torn pairs are never reused."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.sampling.conftest import build_index
from torchgeo_composition.sampling import (
    ManifestMismatchError,
    build_manifest,
    manifest_digest,
    read_manifest,
    select,
    summary_path,
    write_manifest,
)

# Writes a manifest and is SIGKILLed between the manifest's and the summary's
# rename: the state a crash or an OOM kill leaves behind.
_KILLED_WRITER = """
import os, signal, sys
import pandas as pd
from torchgeo_composition.sampling import select, write_manifest
index = pd.read_csv(sys.argv[1], dtype={"sample_id": str, "path": str})
selection = select(index, "uniform", 30, seed=1)
real = os.replace
def replace(src, dst):
    if str(dst).endswith(".summary.json"):
        os.kill(os.getpid(), signal.SIGKILL)
    real(src, dst)
os.replace = replace
write_manifest(selection, sys.argv[2])
"""


class _IndexOnly:
    def __init__(self, index: pd.DataFrame) -> None:
        self._index = index

    def index(self) -> pd.DataFrame:
        return self._index


@pytest.fixture
def index() -> pd.DataFrame:
    frame = build_index({"a": 40, "b": 40})
    return frame.drop(columns="stratum")


def test_summary_records_the_rows_digest(index: pd.DataFrame, tmp_path: Path) -> None:
    selection = select(index, "uniform", 30, seed=0)
    digest = selection.summary["manifest_sha256"]
    assert digest == manifest_digest(selection.manifest) and len(digest) == 64
    for suffix in (".parquet", ".csv"):  # the same rows, the same digest
        path, sidecar = write_manifest(selection, tmp_path / f"m{suffix}")
        assert json.loads(sidecar.read_text())["manifest_sha256"] == digest
        assert read_manifest(path)[1]["manifest_sha256"] == digest
    other = select(index, "uniform", 30, seed=1)
    assert other.summary["manifest_sha256"] != digest


def test_kill_between_manifest_and_summary_is_never_reused(
    index: pd.DataFrame, tmp_path: Path
) -> None:
    path = tmp_path / "m.parquet"
    build_manifest(_IndexOnly(index), "uniform", 30, seed=0, manifest_path=path)
    old_summary = summary_path(path).read_bytes()
    source = tmp_path / "index.csv"
    index.to_csv(source, index=False)
    child = subprocess.run(
        [sys.executable, "-c", _KILLED_WRITER, str(source), str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    # the new manifest (seed 1) sits next to the old summary (seed 0)
    assert summary_path(path).read_bytes() == old_summary
    orphans = list(tmp_path.glob(".tmp-*-m.summary.json"))
    assert len(orphans) == 1
    with pytest.raises(ManifestMismatchError, match="does not match its summary"):
        read_manifest(path)
    # the summary's own arguments (seed 0) match: still not reused, but rebuilt
    with pytest.warns(UserWarning, match="building the manifest .* again"):
        rebuilt = build_manifest(
            _IndexOnly(index), "uniform", 30, seed=0, manifest_path=path
        )
    expected = build_manifest(_IndexOnly(index), "uniform", 30, seed=0)
    assert rebuilt.manifest["sample_id"].tolist() == (
        expected.manifest["sample_id"].tolist()
    )
    frame, summary = read_manifest(path)
    assert summary["seed"] == 0
    assert frame["sample_id"].tolist() == expected.manifest["sample_id"].tolist()
    assert not orphans[0].exists()  # the killed writer's temporary is gone


def test_summary_from_another_run_or_missing(
    index: pd.DataFrame, tmp_path: Path
) -> None:
    pool = _IndexOnly(index)
    seed0 = tmp_path / "a" / "m.csv"
    seed1 = tmp_path / "b" / "m.csv"
    build_manifest(pool, "uniform", 30, seed=0, manifest_path=seed0)
    build_manifest(pool, "uniform", 30, seed=1, manifest_path=seed1)
    shutil.copy(summary_path(seed1), summary_path(seed0))  # seed-1 summary
    with pytest.raises(ManifestMismatchError, match="manifest_sha256"):
        read_manifest(seed0)
    with pytest.warns(UserWarning, match="does not match its summary"):
        build_manifest(pool, "uniform", 30, seed=1, manifest_path=seed0)
    assert seed0.read_bytes() == seed1.read_bytes()  # rebuilt, not reused
    summary_path(seed0).unlink()
    with pytest.warns(UserWarning, match="summary .* does not exist"):
        build_manifest(pool, "uniform", 30, seed=1, manifest_path=seed0)
    assert read_manifest(seed0)[1]["seed"] == 1
    legacy = json.loads(summary_path(seed0).read_text())
    del legacy["manifest_sha256"]
    summary_path(seed0).write_text(json.dumps(legacy))
    with pytest.raises(ManifestMismatchError, match="records no manifest_sha256"):
        read_manifest(seed0)
