import json
import math
from pathlib import Path
from typing import Any

import lightning
import pytest
import torch

from tests.data.eurosat import EUROSAT_BANDS, make_eurosat
from torchgeo_composition.cli import lightning_main
from torchgeo_composition.trainers import DistillationTask, FusionClassificationTask
from torchgeo_composition.trainers.distillation import distillation_loss, load_teacher

pytestmark = pytest.mark.filterwarnings("ignore:Found .* in eval mode")

ROOT = Path(__file__).parents[2]
VIT = {"name": "timm:vit_small_patch16_224", "input_size": 16, "depth": 1}
VIT |= {"embed_dim": 32, "num_heads": 2}


def test_loss_matches_hand_computation() -> None:
    s = torch.tensor([[1.0, 0.0, -1.0]])
    t = torch.tensor([[0.0, 2.0, 0.0]])
    y = torch.tensor([1])
    temp = 2.0
    ps = [math.exp(v / temp) for v in (1.0, 0.0, -1.0)]
    pt = [math.exp(v / temp) for v in (0.0, 2.0, 0.0)]
    ps = [v / sum(ps) for v in ps]
    pt = [v / sum(pt) for v in pt]
    kl = sum(a * math.log(a / b) for a, b in zip(pt, ps, strict=True))
    logits = [1.0, 0.0, -1.0]
    ce = -logits[1] + math.log(sum(math.exp(v) for v in logits))
    total, hard, soft = distillation_loss(s, t, y, 0.3, 0.7, temp)
    assert hard.item() == pytest.approx(ce)
    assert soft.item() == pytest.approx(kl)
    assert total.item() == pytest.approx(0.3 * ce + 0.7 * temp**2 * kl)
    # multilabel: BCE + binary KL per label
    total, hard, soft = distillation_loss(
        s, t, torch.tensor([[1, 0, 1]]), 1.0, 1.0, 1.0, "multilabel"
    )
    p, q = torch.sigmoid(t), torch.sigmoid(s)
    ref = (p * (p / q).log() + (1 - p) * ((1 - p) / (1 - q)).log()).mean()
    assert soft.item() == pytest.approx(ref.item(), rel=1e-5)


def _teacher(
    path: Path, num_classes: int = 10, bands: Any = EUROSAT_BANDS, **kwargs: Any
) -> Path:
    task = FusionClassificationTask(
        backbones=[VIT], bands=list(bands), num_classes=num_classes, **kwargs
    )
    ckpt = {
        "state_dict": task.state_dict(),
        "hyper_parameters": dict(task.hparams),
        "pytorch-lightning_version": lightning.__version__,
    }
    torch.save(ckpt, path)
    return path


def test_distill_config_through_cli(tmp_path: Path) -> None:
    teacher = _teacher(tmp_path / "teacher.ckpt")
    root = make_eurosat(tmp_path / "eurosat", size=16)
    cli = lightning_main(
        [
            "fit",
            f"--config={ROOT / 'configs' / 'distill' / 'eurosat_student.yaml'}",
            f"--model.init_args.teacher={teacher}",
            f"--model.init_args.student={json.dumps(VIT)}",
            "--model.init_args.feature_weight=0.5",
            f"--data.dict_kwargs.root={root}",
            "--data.init_args.batch_size=4",
            "--data.init_args.num_workers=0",
            f"--trainer.default_root_dir={tmp_path}",
            "--trainer.fast_dev_run=1",
            "--trainer.enable_progress_bar=false",
        ]
    )
    logged = set(cli.trainer.callback_metrics)
    assert {"train_kd_loss", "train_feature_loss", "val_OverallAccuracy"} <= logged


def _task(teacher: Path, **kwargs: Any) -> DistillationTask:
    args: dict[str, Any] = {
        "teacher": str(teacher),
        "student": VIT,
        "bands": list(EUROSAT_BANDS),
        "num_classes": 10,
    }
    return DistillationTask(**(args | kwargs))


def test_teacher_frozen_and_not_saved(tmp_path: Path) -> None:
    task = _task(_teacher(tmp_path / "t.ckpt"))
    assert not any(p.requires_grad for p in task.teacher.parameters())
    assert not any(k.startswith("teacher") for k in task.state_dict())


def test_bad_teachers(tmp_path: Path) -> None:
    good = _teacher(tmp_path / "t.ckpt")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        _task(tmp_path / "missing.ckpt")
    (tmp_path / "junk.ckpt").write_bytes(b"")
    torch.save({"weights": 1}, tmp_path / "junk.ckpt")
    with pytest.raises(ValueError, match="not a Lightning task checkpoint"):
        _task(tmp_path / "junk.ckpt")
    with pytest.raises(ValueError, match="predicts 10 classes"):
        _task(good, num_classes=5)
    with pytest.raises(ValueError, match="predicts 10 classes"):
        _task(good, task="multilabel")
    other = _teacher(tmp_path / "o.ckpt", bands=("B02", "B03"))
    with pytest.raises(ValueError, match="takes bands"):
        _task(other)
    with pytest.raises(ValueError, match="does not load as"):
        _task(good, teacher_class="torchgeo.trainers.SemanticSegmentationTask")
    with pytest.raises(ValueError, match="temperature"):
        _task(good, temperature=0.0)


def test_teacher_written_before_the_rename_keeps_its_normalization(
    tmp_path: Path,
) -> None:
    path = _teacher(tmp_path / "t.ckpt", input_normalization="backbone")
    ckpt = torch.load(path, weights_only=True)
    hparams = ckpt["hyper_parameters"]
    hparams["normalization"] = hparams.pop("input_normalization")
    torch.save(ckpt, path)
    teacher = load_teacher(str(path))
    assert teacher.hparams["input_normalization"] == "backbone"


def test_teacher_of_another_architecture(tmp_path: Path) -> None:
    from tests.trainers.satmae_tiny import TINY_TASK
    from torchgeo_composition.trainers import SatMAETask

    good = _teacher(tmp_path / "t.ckpt")
    reshaped = torch.load(good, weights_only=True)
    reshaped["state_dict"]["model.head.1.weight"] = torch.zeros(3, 7)
    torch.save(reshaped, tmp_path / "reshaped.ckpt")
    renamed = torch.load(good, weights_only=True)
    renamed["state_dict"]["model.extra"] = renamed["state_dict"].pop(
        "model.head.1.bias"
    )
    torch.save(renamed, tmp_path / "renamed.ckpt")
    satmae = SatMAETask(**TINY_TASK)
    hparams = dict(
        satmae.hparams, _class_path="torchgeo_composition.trainers.SatMAETask"
    )
    torch.save(
        {
            "state_dict": satmae.state_dict(),
            "hyper_parameters": hparams,
            "pytorch-lightning_version": lightning.__version__,
        },
        tmp_path / "satmae.ckpt",
    )
    rows = {
        "reshaped.ckpt": r"does not load as FusionClassificationTask: 1 shapes "
        r"differ: model\.head\.1\.weight: checkpoint \(3, 7\) vs model \(10, 32\)$",
        "renamed.ckpt": r"another architecture\? missing \['model\.head\.1\.bias'\], "
        r"unexpected \['model\.extra'\]$",
        # TorchGeo 0.10 dropped the Task suffix (Classification)
        "satmae.ckpt": r"does not load as Classification(Task)? \(it was written by "
        r"torchgeo_composition\.trainers\.SatMAETask\): RuntimeError: Unknown model",
    }
    for name, match in rows.items():
        path = str(tmp_path / name)
        with pytest.raises(ValueError, match=match) as info:
            _task(Path(path))
        assert str(info.value).startswith(f"teacher {path!r} ")
