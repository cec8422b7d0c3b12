import json
from pathlib import Path
from typing import Any

import pytest
import torch

from tests.data.eurosat import make_eurosat
from tests.data.fusion_data import SyntheticFusionDataModule
from torchgeo_composition.cli import lightning_main
from torchgeo_composition.models import FeatureFusion
from torchgeo_composition.trainers import FusionClassificationTask

pytestmark = pytest.mark.filterwarnings("ignore:Found .* in eval mode")

CONFIG = Path(__file__).parents[2] / "configs" / "fusion" / "eurosat_concat.yaml"
TINY_VIT = {"input_size": 16, "depth": 1, "embed_dim": 32, "num_heads": 2}
VIT = {"name": "timm:vit_small_patch16_224", **TINY_VIT}
TINY_THREE = [
    {"name": "satmae:satmae_vit_tiny_patch8_96", "input_size": 16, "depth": 1},
    {"name": "timm:hiera_tiny_224", "input_size": 32, "embed_dim": 16}
    | {"num_heads": 1, "stages": [1, 1, 1, 1]},
    {"name": "torchgeo:dofa_small_patch16_224", **TINY_VIT},
]
QUIET = [
    "--trainer.fast_dev_run=1",
    "--trainer.enable_progress_bar=false",
    "--trainer.enable_model_summary=false",
]


def _fit(*args: str) -> dict[str, Any]:
    """Run ``fit`` through the CLI; return the logged metrics."""
    cli = lightning_main(["fit", *args, *QUIET])
    return dict(cli.trainer.callback_metrics)


def _eurosat_fit(root: Path, tmp: Path, backbones: Any) -> dict[str, Any]:
    return _fit(
        f"--config={CONFIG}",
        f"--model.init_args.backbones={json.dumps(backbones)}",
        f"--model.init_args.feature_cache={tmp / 'cache'}",
        f"--data.dict_kwargs.root={root}",
        "--data.init_args.batch_size=4",
        "--data.init_args.num_workers=0",
        f"--trainer.default_root_dir={tmp / 'runs'}",
    )


def test_eurosat_config_with_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_eurosat(tmp_path / "eurosat", size=16)
    metrics = _eurosat_fit(root, tmp_path, TINY_THREE)  # shipped config
    assert {"train_loss", "val_OverallAccuracy"} <= set(metrics)
    entries = sorted(p.name for p in (tmp_path / "cache").iterdir())
    assert [e.split("-")[0] for e in entries] == ["train", "val"]  # miss: written

    def boom(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("backbones ran although the cache holds the features")

    with monkeypatch.context() as m:  # hit: the backbones never run
        m.setattr(FeatureFusion, "backbone_features", boom)
        _eurosat_fit(root, tmp_path, TINY_THREE)
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == entries

    make_eurosat(root, size=16, seed=1)  # inputs changed: new entries
    _eurosat_fit(root, tmp_path, TINY_THREE)
    assert len(list((tmp_path / "cache").iterdir())) == 4


def test_multilabel_through_cli(tmp_path: Path) -> None:
    metrics = _fit(
        "--model=FusionClassificationTask",
        f"--model.backbones={json.dumps([VIT, {'name': 'timm:test_resnet'}])}",
        "--model.bands=[B2,B3,B4,B8]",
        "--model.num_classes=3",
        "--model.projection_dim=8",
        "--model.task=multilabel",
        "--model.fusion=weighted",
        "--model.head=mlp",
        "--data=tests.data.fusion_data.SyntheticFusionDataModule",
        "--data.kind=multilabel",
        f"--trainer.default_root_dir={tmp_path}",
    )
    assert {"train_loss", "val_F1Score"} <= set(metrics)


def _task(**kwargs: Any) -> FusionClassificationTask:
    args: dict[str, Any] = {"backbones": [VIT], "bands": ["B2"], "num_classes": 2}
    return FusionClassificationTask(**(args | kwargs))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"num_classes": None}, "num_classes=None"),
        ({"num_classes": 1}, "num_classes=1"),
        ({"task": "binary"}, "task='binary'"),
        ({"bands": []}, "bands is empty"),
        (
            {
                "bands": ["B2"],
                "backbones": [{"name": "satmae:satmae_vit_tiny_patch8_96"}],
            },
            "B3",
        ),
        ({"backbones": ["timm:resnet_18"]}, "close matches"),
        (
            {"feature_cache": "x", "freeze_backbones": False},
            "needs every backbone frozen",
        ),
        ({"input_mean": [0.0]}, "given together"),
    ],
)
def test_bad_arguments(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        _task(**kwargs)


def test_unwritable_cache_dir(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    with pytest.raises(ValueError, match="not a writable directory"):
        _task(feature_cache=str(tmp_path / "f" / "cache"))


def test_segmentation_needs_classes() -> None:
    from torchgeo_composition.trainers import FusionSegmentationTask

    with pytest.raises(ValueError, match="num_classes=None"):
        FusionSegmentationTask(backbones=[VIT], bands=["B2"])


def test_predict_probabilities() -> None:
    image = torch.rand(2, 1, 16, 16)
    multilabel = _task(task="multilabel", num_classes=3)
    multiclass = _task(task="multiclass", num_classes=3)
    with torch.no_grad():
        out = multilabel.predict_step({"image": image}, 0)
        assert torch.allclose(out, multilabel.model(image).sigmoid())
        probs = multiclass.predict_step({"image": image}, 0)
        assert torch.allclose(probs, multiclass.model(image).softmax(dim=1))
    assert out.shape == (2, 3) and float(out.min()) >= 0 and float(out.max()) <= 1
    assert torch.allclose(probs.sum(dim=1), torch.ones(2))


def test_segmentation_predicts_per_pixel_probabilities() -> None:
    from torchgeo_composition.trainers import FusionSegmentationTask

    task = FusionSegmentationTask(
        backbones=[VIT], bands=["B2"], num_classes=3, decoder_channels=8
    )
    with torch.no_grad():
        probs = task.predict_step({"image": torch.rand(2, 1, 16, 16)}, 0)
    assert probs.shape == (2, 3, 16, 16)
    assert torch.allclose(probs.sum(dim=1), torch.ones(2, 16, 16), atol=1e-5)


def test_probe_config(tmp_path: Path) -> None:
    root = make_eurosat(tmp_path / "eurosat", size=16)
    probe = CONFIG.parents[1] / "probe" / "satmae_linear_probe.yaml"
    backbone = {
        "name": "satmae:satmae_vit_tiny_patch8_96",
        "input_size": 16,
        "depth": 1,
    }
    metrics = _fit(
        f"--config={probe}",
        f"--model.init_args.backbones={json.dumps([backbone])}",
        f"--model.init_args.feature_cache={tmp_path / 'cache'}",
        f"--data.dict_kwargs.root={root}",
        "--data.init_args.batch_size=4",
        "--data.init_args.num_workers=0",
        f"--trainer.default_root_dir={tmp_path / 'runs'}",
    )
    assert "val_OverallAccuracy" in metrics
    entries = sorted(p.name.split("-")[0] for p in (tmp_path / "cache").iterdir())
    assert entries == ["train", "val"]


def test_segmentation_config(tmp_path: Path) -> None:
    from tests.data.landcoverai import make_landcoverai

    root = make_landcoverai(tmp_path / "lcai", size=32)
    config = CONFIG.parent / "landcoverai_upernet.yaml"
    backbones = [TINY_THREE[1], TINY_THREE[2]]
    metrics = _fit(
        f"--config={config}",
        f"--model.init_args.backbones={json.dumps(backbones)}",
        "--model.init_args.projection_dim=8",
        "--model.init_args.decoder_channels=8",
        f"--data.dict_kwargs.root={root}",
        "--data.init_args.batch_size=2",
        "--data.init_args.num_workers=0",
        f"--trainer.default_root_dir={tmp_path / 'runs'}",
    )
    assert {"train_loss", "val_JaccardIndex"} <= set(metrics)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"flip": True}, "train augmentation off"),  # TorchGeo: its own train_aug
        ({"augment": True}, "train augmentation off"),  # ours: augment says it
        (None, "needs a datamodule"),
    ],
)
def test_cache_refuses_random_inputs(
    tmp_path: Path, kwargs: dict[str, Any] | None, match: str
) -> None:
    from lightning.pytorch import Trainer
    from torch.utils.data import DataLoader

    task = _task(bands=["B2", "B3", "B4", "B8"], feature_cache=str(tmp_path))
    trainer = Trainer(fast_dev_run=1, logger=False, enable_progress_bar=False)
    with pytest.raises(ValueError, match=match):
        if kwargs is None:
            dm = SyntheticFusionDataModule(size=16)
            dm.setup("fit")
            trainer.fit(task, train_dataloaders=DataLoader(dm.train_dataset))
        else:
            trainer.fit(task, datamodule=SyntheticFusionDataModule(size=16, **kwargs))
    assert not any(tmp_path.iterdir())  # nothing cached
