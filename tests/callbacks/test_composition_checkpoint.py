"""Reading the composition summary back from a checkpoint file."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.data.checkpoints import crafted
from torchgeo_composition.callbacks import CHECKPOINT_KEY, read_checkpoint_composition


def test_summary_round_trip_and_bad_entries(tmp_path: Path) -> None:
    summary = {"composition": {"name": "europe"}, "counts": {"europe": 8}, "seed": 0}
    path = tmp_path / "last.ckpt"
    torch.save({"state_dict": {}, CHECKPOINT_KEY: summary}, path)
    assert read_checkpoint_composition(path) == summary
    torch.save({"state_dict": {}}, path)
    assert read_checkpoint_composition(path) is None
    torch.save({"state_dict": {}, CHECKPOINT_KEY: ["europe"]}, path)
    with pytest.raises(ValueError, match=r"'composition' entry of type list"):
        read_checkpoint_composition(path)


def test_crafted_checkpoint_is_refused(tmp_path: Path) -> None:
    path = crafted(tmp_path / "crafted.ckpt", tmp_path / "pwned", lightning=True)
    with pytest.raises(ValueError, match=r"'.*crafted\.ckpt' was refused.*posix"):
        read_checkpoint_composition(path)
    assert not (tmp_path / "pwned").exists()
