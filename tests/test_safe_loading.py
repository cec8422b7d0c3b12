"""Every entry point that reads a checkpoint: crafted pickles, bad files, other architectures.

A crafted checkpoint would create ``pwned`` if anything unpickled it freely; no
entry point may create it, and each names the file and the refused type. Every
other bad file gets one message naming the file and what was expected.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from tests.data.checkpoints import BadFile, bad_files, crafted
from tests.data.eurosat import EUROSAT_BANDS
from tests.trainers.satmae_tiny import TINY_TASK
from torchgeo_composition.bands import S2_BANDS
from torchgeo_composition.callbacks import read_checkpoint_composition
from torchgeo_composition.cli import main
from torchgeo_composition.models import (
    create_backbone,
    create_satmae,
    create_satmae_encoder,
    export_encoder,
    load_satmae_checkpoint,
    load_satmae_encoder,
)
from torchgeo_composition.models.satmae import read_checkpoint
from torchgeo_composition.serialization import check_checkpoint, load_checkpoint
from torchgeo_composition.trainers import DistillationTask, SatMAETask
from torchgeo_composition.trainers.distillation import load_teacher

pytestmark = pytest.mark.filterwarnings("ignore:Found .* in eval mode")

TINY_PRESET = "satmae_vit_tiny_patch8_96"
TINY_ENCODER = {"img_size": 16, "depth": 1}
VIT = {"name": "timm:vit_small_patch16_224", "input_size": 16, "depth": 1}
VIT |= {"embed_dim": 32, "num_heads": 2}


def _student(path: str) -> Any:
    return DistillationTask(
        teacher=path, student=VIT, bands=list(EUROSAT_BANDS), num_classes=10
    )


#: Entry point -> a call reading the file at ``path`` (``out`` is a spare folder).
ENTRY_POINTS: dict[str, Callable[[str, Path], Any]] = {
    "read_checkpoint": lambda p, out: read_checkpoint(p),
    "load_satmae_checkpoint": lambda p, out: load_satmae_checkpoint(
        create_satmae(TINY_PRESET, **TINY_ENCODER), p
    ),
    "load_satmae_encoder": lambda p, out: load_satmae_encoder(p),
    "export_encoder": lambda p, out: export_encoder(p, out / "encoder.pth"),
    "create_satmae_encoder": lambda p, out: create_satmae_encoder(
        TINY_PRESET, checkpoint=p, **TINY_ENCODER
    ),
    "SatMAETask(init_checkpoint)": lambda p, out: SatMAETask(
        **TINY_TASK, init_checkpoint=p
    ),
    "create_backbone(satmae, checkpoint)": lambda p, out: create_backbone(
        f"satmae:{TINY_PRESET}", checkpoint=p, input_size=16, depth=1, check=False
    ),
    "create_backbone(timm, weights)": lambda p, out: create_backbone(
        "timm:test_resnet", bands=S2_BANDS[:3], weights=p, check=False
    ),
    "create_backbone(torchgeo, weights)": lambda p, out: create_backbone(
        "torchgeo:resnet18", weights=p, check=False
    ),
    "create_backbone(prithvi, weights)": lambda p, out: create_backbone(
        "prithvi:prithvi_eo_v2_300", weights=p, check=False
    ),
    "load_teacher": lambda p, out: load_teacher(p),
    "DistillationTask(teacher)": lambda p, out: _student(p),
    "read_checkpoint_composition": lambda p, out: read_checkpoint_composition(p),
}

CASES = (
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
)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, BadFile]:
    return bad_files(tmp_path_factory.mktemp("bad"))


#: terratorch reads prithvi weights itself; a tensor file is a valid torch.save file.
ROWS = [
    (entry, case)
    for entry in sorted(ENTRY_POINTS)
    for case in CASES
    if not (entry.startswith("create_backbone(prithvi") and case == "not_a_dict")
]


@pytest.mark.parametrize(("entry", "case"), ROWS)
def test_bad_checkpoint_files(
    entry: str, case: str, files: dict[str, BadFile], tmp_path: Path
) -> None:
    bad = files[case]
    with pytest.raises(bad.error) as info:
        ENTRY_POINTS[entry](str(bad.path), tmp_path)
    message = str(info.value)
    assert repr(str(bad.path)) in message, message
    assert re.search(bad.match, message), message
    assert not (bad.path.parent / "pwned").exists()
    assert not (tmp_path / "encoder.pth").exists()


def _resnet_state() -> dict[str, torch.Tensor]:
    backbone = create_backbone("timm:test_resnet", bands=S2_BANDS[:3], check=False)
    return backbone.model.state_dict()  # type: ignore[no-any-return]


def _satmae_state(**overrides: Any) -> dict[str, torch.Tensor]:
    return create_satmae(TINY_PRESET, **(TINY_ENCODER | overrides)).state_dict()


@pytest.mark.parametrize(
    ("entry", "checkpoint", "match"),
    [
        (
            "load_satmae_checkpoint",
            lambda: {"model": _resnet_state()},
            r"holds no weights of GroupChannelMAE: none of its \d+ tensors "
            r"\(\['bn1.bias'.*another architecture",
        ),
        (
            "load_satmae_checkpoint",
            lambda: {"model": _satmae_state(embed_dim=96, channel_embed=32)},
            r"does not fit GroupChannelMAE: \d+ shapes differ: cls_token: checkpoint "
            r"\(1, 1, 96\) vs model \(1, 1, 192\); .*; and \d+ more \(check img_size",
        ),
        (
            "SatMAETask(init_checkpoint)",
            lambda: {"model": _resnet_state()},
            r"^init_checkpoint '.*' holds no weights of GroupChannelMAE",
        ),
        (
            "create_backbone(satmae, checkpoint)",
            lambda: {"model": _satmae_state(img_size=32)},
            r"checkpoint '.*' does not fit GroupChannelViT: 1 shapes differ: "
            r"pos_embed: checkpoint \(1, 17, 128\) vs model \(1, 5, 128\)",
        ),
        (
            "export_encoder",
            lambda: {"model": _resnet_state()},
            r"is not a SatMAE checkpoint: it has no 'channel_embed'",
        ),
        (
            "load_satmae_encoder",
            lambda: {"model": _resnet_state(), "config": {"no_such": 1}},
            r"encoder checkpoint '.*' has an invalid 'config' entry",
        ),
        (
            "create_backbone(timm, weights)",
            lambda: {"model": _satmae_state()},
            r"weights file '.*' holds no weights of ResNet.*another architecture",
        ),
        (
            "load_teacher",
            lambda: {"weights": torch.zeros(1)},
            r"teacher '.*' is not a Lightning task checkpoint .*found keys "
            r"\['weights'\]",
        ),
    ],
)
def test_other_architectures(
    entry: str, checkpoint: Callable[[], Any], match: str, tmp_path: Path
) -> None:
    path = tmp_path / "other.pth"
    torch.save(checkpoint(), path)
    with pytest.raises(ValueError, match=match) as info:
        ENTRY_POINTS[entry](str(path), tmp_path)
    assert repr(str(path)) in str(info.value)
    assert len(str(info.value)) < 700  # brief, even for hundreds of keys


def test_crafted_init_checkpoint_through_the_cli(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    path = crafted(tmp_path / "crafted.pth", tmp_path / "pwned")
    code = main(
        [
            "fit",
            "--model=SatMAETask",
            f"--model.init_args.model={TINY_PRESET}",
            f"--model.init_args.init_checkpoint={path}",
            "--data=ContinentStratifiedDataModule",
            "--data.init_args.pool=ChipFolder",
            f"--data.init_args.pool.init_args.root={tmp_path / 'pool'}",
            f"--trainer.default_root_dir={tmp_path / 'runs'}",
        ]
    )
    err = capfd.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 2
    assert len(errors) == 1, err
    assert repr(str(path)) in errors[0] and "posix.system" in errors[0]
    assert "Traceback" not in err
    assert not (tmp_path / "pwned").exists()


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Checkpoints written by ``fit`` through the CLI: SatMAE, fusion, distillation."""
    from tests.data.eurosat import make_eurosat
    from tests.trainers.test_satmae_configs import ROOT, tiny_overrides
    from torchgeo_composition.datasets import SyntheticSentinel2Pool

    tmp = tmp_path_factory.mktemp("fitted")
    steps = ["--trainer.max_steps=1", "--trainer.limit_val_batches=1"]
    steps += ["--trainer.enable_progress_bar=false"]
    pool = tmp / "pool"
    SyntheticSentinel2Pool(pool, num_chips=36, size=16, seed=0)
    (tmp / "satmae").mkdir()
    override = tiny_overrides(tmp / "satmae", pool, "europe")
    configs = [ROOT / "configs/pretrain/europe.yaml"]
    configs += [ROOT / "configs/callbacks/diversity.yaml", override]
    args = [f"--config={c}" for c in configs]
    assert main(["fit", *args, *steps]) == 0
    eurosat = make_eurosat(tmp / "eurosat", size=16)
    data = [f"--data.dict_kwargs.root={eurosat}", "--data.init_args.batch_size=4"]
    data += ["--data.init_args.num_workers=0"]
    fusion = [f"--config={ROOT / 'configs/fusion/eurosat_concat.yaml'}"]
    fusion += [f"--model.init_args.backbones=[{json.dumps(VIT)}]"]
    fusion += ["--model.init_args.feature_cache=null"]
    fusion += [f"--trainer.default_root_dir={tmp / 'fusion'}"]
    assert main(["fit", *fusion, *data, *steps]) == 0
    out = {"satmae": _newest(tmp / "satmae"), "fusion": _newest(tmp / "fusion")}
    distill = [f"--config={ROOT / 'configs/distill/eurosat_student.yaml'}"]
    distill += [f"--model.init_args.teacher={out['fusion']}"]
    distill += [f"--model.init_args.student={json.dumps(VIT)}"]
    distill += [f"--trainer.default_root_dir={tmp / 'distill'}"]
    assert main(["fit", *distill, *data, *steps]) == 0
    out["distill"] = _newest(tmp / "distill")
    return out


def _newest(root: Path) -> Path:
    return max(root.rglob("*.ckpt"), key=lambda p: p.stat().st_mtime)


@pytest.mark.parametrize("task", ["satmae", "fusion", "distill"])
def test_checkpoints_written_by_fit_load_under_the_allow_list(
    fitted: dict[str, Path], task: str
) -> None:
    path = fitted[task]
    assert check_checkpoint(path) == path
    ckpt = load_checkpoint(path)
    assert {"state_dict", "hyper_parameters", "optimizer_states"} <= set(ckpt)


def test_checkpoints_written_by_fit_feed_every_reader(
    fitted: dict[str, Path], tmp_path: Path
) -> None:
    satmae = str(fitted["satmae"])
    assert read_checkpoint_composition(satmae)["counts"] == {"europe": 8}
    encoder = export_encoder(satmae, tmp_path / "encoder.pth")
    assert load_satmae_encoder(encoder).num_features == 32  # type: ignore[operator]
    sizes = {k: TINY_TASK[k] for k in ("embed_dim", "depth", "num_heads")}
    sizes |= {"channel_embed": TINY_TASK["channel_embed"], "input_size": 16}
    backbone = create_backbone(
        f"satmae:{TINY_PRESET}", checkpoint=str(encoder), **sizes
    )
    assert backbone.num_features == 32
    task = SatMAETask(**TINY_TASK, init_checkpoint=satmae)
    assert task.model.embed_dim == 32
    teacher = load_teacher(str(fitted["fusion"]))
    assert not any(p.requires_grad for p in teacher.parameters())
