"""The safe checkpoint loader: allow-list, refusals, and messages naming the file."""

from __future__ import annotations

import argparse
import pickle
import re
from fractions import Fraction
from pathlib import Path, PosixPath

import numpy as np
import pytest
import torch

from tests.data.checkpoints import bad_files
from torchgeo_composition.serialization import (
    UnsafeCheckpointError,
    check_checkpoint,
    load_checkpoint,
    preview,
)


@pytest.mark.parametrize(
    "case",
    [
        "crafted_pth",
        "crafted_ckpt",
        "crafted_path_touch",
        "text",
        "empty",
        "directory",
        "truncated_zip",
        "zip_not_torch",
        "not_a_dict",
        "missing",
    ],
)
def test_bad_files_name_the_file_and_never_run(tmp_path: Path, case: str) -> None:
    bad = bad_files(tmp_path)[case]
    with pytest.raises(bad.error, match=bad.match) as info:
        load_checkpoint(bad.path, "init_checkpoint")
    message = str(info.value)
    assert message.startswith(f"init_checkpoint {str(bad.path)!r} ")
    assert "\n" not in message
    if case != "not_a_dict":  # a tensor file is a valid torch.save file
        with pytest.raises(bad.error, match=bad.match):
            check_checkpoint(bad.path)
    assert not (tmp_path / "pwned").exists()


def test_refusal_names_the_types(tmp_path: Path) -> None:
    bad = bad_files(tmp_path)
    with pytest.raises(UnsafeCheckpointError) as info:
        load_checkpoint(bad["crafted_path_touch"].path)
    assert set(info.value.globals) == {"builtins.getattr", "pathlib.Path"}
    assert info.value.path == str(bad["crafted_path_touch"].path)
    assert not (tmp_path / "pwned").exists()


def test_reference_checkpoint_types_are_allowed(tmp_path: Path) -> None:
    args = argparse.Namespace(
        lr=np.float64(1.5e-4),
        seed=np.int64(0),
        dtype=np.dtype("float32"),
        output_dir=PosixPath("/runs/x"),
        grouped_bands=[[0, 1], [2]],
    )
    path = tmp_path / "checkpoint-49.pth"
    torch.save({"model": {"w": torch.ones(2)}, "epoch": 49, "args": args}, path)
    ckpt = load_checkpoint(path)
    assert ckpt["args"] == args
    assert type(ckpt["args"].lr) is np.float64
    assert check_checkpoint(path) == path


def test_names_of_other_numpy_and_python_versions_are_allowed(tmp_path: Path) -> None:
    path = tmp_path / "old.pth"
    ckpt = {"acc": np.float64(0.5), "root": PosixPath("/data")}
    torch.save(ckpt, path, _use_new_zipfile_serialization=False)
    data = path.read_bytes()
    assert b"numpy._core.multiarray" in data and b"cpathlib\nPosixPath" in data
    data = data.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")  # numpy 1
    data = data.replace(b"cpathlib\n", b"cpathlib._local\n")  # Python 3.13
    path.write_bytes(data)
    assert load_checkpoint(path) == ckpt


def test_allow_list_is_scoped(tmp_path: Path) -> None:
    path = tmp_path / "ref.pth"
    torch.save({"args": argparse.Namespace(a=1)}, path)
    before = set(torch.serialization.get_safe_globals())
    load_checkpoint(path)
    assert set(torch.serialization.get_safe_globals()) == before
    with pytest.raises(Exception, match=r"argparse\.Namespace"):
        torch.load(path, weights_only=True)  # no global registration left behind
    # a type the user allowed before stays allowed after our load
    with torch.serialization.safe_globals([argparse.Namespace]):
        load_checkpoint(path)
        assert torch.load(path, weights_only=True)["args"].a == 1


def test_user_may_allow_more_types(tmp_path: Path) -> None:
    path = tmp_path / "fraction.pth"
    torch.save({"model": {}, "ratio": Fraction(1, 3)}, path)
    with pytest.raises(UnsafeCheckpointError, match=r"fractions\.Fraction"):
        load_checkpoint(path)
    with torch.serialization.safe_globals([Fraction]):
        assert load_checkpoint(path)["ratio"] == Fraction(1, 3)


def test_legacy_format_and_error_line(tmp_path: Path) -> None:
    path = tmp_path / "legacy.pth"
    torch.save(
        {"model": {"w": torch.ones(1)}}, path, _use_new_zipfile_serialization=False
    )
    assert torch.equal(load_checkpoint(path)["model"]["w"], torch.ones(1))
    plain = tmp_path / "plain.pkl"
    plain.write_bytes(pickle.dumps({"model": {}}))
    with pytest.raises(ValueError, match=re.escape(f"{str(plain)!r} is not a PyTorch")):
        load_checkpoint(plain)


def test_preview() -> None:
    assert preview(["a", "b"]) == "['a', 'b']"
    assert preview(range(8), 3) == "[0, 1, 2] and 5 more"
