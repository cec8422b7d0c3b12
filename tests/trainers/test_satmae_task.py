from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import torch
from lightning.pytorch import Callback, LightningDataModule, LightningModule, Trainer
from lightning.pytorch.loggers import TensorBoardLogger
from satmae_tiny import TINY_TASK, TinyImages
from torch.utils.data import DataLoader

from torchgeo_composition.models import (
    GroupChannelViT,
    export_encoder,
    load_satmae_checkpoint,
)
from torchgeo_composition.trainers import SatMAETask


def trainer(tmp_path: Path, **kwargs: Any) -> Trainer:
    defaults: dict[str, Any] = {
        "accelerator": "cpu",
        "devices": 1,
        "max_epochs": 1,
        "logger": False,
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "default_root_dir": tmp_path,
        "num_sanity_val_steps": 0,
    }
    return Trainer(**(defaults | kwargs))


def task(**kwargs: Any) -> SatMAETask:
    return SatMAETask(**(TINY_TASK | {"plot_every_n_epochs": 0} | kwargs))


def test_fit_logs_losses_lr_and_figure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    logger = TensorBoardLogger(tmp_path, name="tb")
    figures: list[str] = []
    monkeypatch.setattr(
        type(logger.experiment),
        "add_figure",
        lambda self, tag, fig, step: figures.append(tag),
    )
    t = trainer(tmp_path, logger=logger, limit_val_batches=1, log_every_n_steps=1)
    model = task(plot_every_n_epochs=1, plot_samples=2)
    t.fit(model, TinyImages())
    metrics = t.callback_metrics
    assert {"train_loss", "val_loss", "lr"} <= set(metrics)
    assert torch.isfinite(metrics["train_loss"])
    assert figures == ["reconstruction"]
    png = Path(logger.log_dir) / "reconstructions" / "epoch_0000.png"
    assert png.stat().st_size > 1000
    assert SatMAETask.monitor == "train_loss"


def test_lr_scales_with_effective_batch(tmp_path: Path) -> None:
    model = task(blr=0.256, warmup_epochs=0)
    t = trainer(tmp_path, accumulate_grad_batches=2, max_steps=1)
    t.fit(model, TinyImages(batch_size=4, val=False))
    # 4 per batch x 2 accumulated x 1 process = 8 -> 0.256 * 8 / 256
    assert float(t.callback_metrics["lr"]) == pytest.approx(0.008)
    assert model.peak_lr == pytest.approx(0.008)
    assert t.optimizers[0].defaults["betas"] == (0.9, 0.95)


def test_weight_decay_groups_by_name(tmp_path: Path) -> None:
    model = task(weight_decay=0.3)
    t = trainer(tmp_path, max_steps=1, limit_val_batches=0)
    t.fit(model, TinyImages(val=False))
    names = {id(p): n for n, p in model.model.named_parameters()}
    groups = {
        group["weight_decay"]: {names[id(p)] for p in group["params"]}
        for group in t.optimizers[0].param_groups
    }
    assert set(groups) == {0.0, 0.3}
    trainable = {n for n, p in model.model.named_parameters() if p.requires_grad}
    assert groups[0.0] | groups[0.3] == trainable
    assert not groups[0.0] & groups[0.3]
    # Matrices and convolutions decay; biases, norms and tokens do not.
    assert {
        "blocks.0.attn.qkv.weight",
        "patch_embed.0.proj.weight",
        "decoder_pred.1.weight",
    } <= groups[0.3]
    assert {
        "cls_token",
        "mask_token",
        "blocks.0.norm1.weight",
        "blocks.0.attn.qkv.bias",
        "decoder_norm.weight",
    } <= groups[0.0]
    assert all(n.endswith(".bias") or "norm" in n or "token" in n for n in groups[0.0])
    assert "pos_embed" not in trainable  # fixed encodings are not trained


def test_lr_schedule_warmup_then_cosine(tmp_path: Path) -> None:
    # 2 steps per epoch, 4 epochs: warmup over steps 0-1, cosine over steps 2-7.
    full = LrRecorder()
    kwargs = {"blr": 0.1, "warmup_epochs": 1.0, "min_lr": 1e-5}
    data = TinyImages(num_samples=8, batch_size=4, val=False)
    trainer(tmp_path, max_epochs=4, callbacks=[full]).fit(task(**kwargs), data)
    peak = 0.1 * 4 / 256
    expected = [0.0, peak / 2] + [
        1e-5 + (peak - 1e-5) * 0.5 * (1 + math.cos(math.pi * k / 6)) for k in range(6)
    ]
    assert [full.lrs[s] for s in range(8)] == pytest.approx(expected, abs=1e-12)


class NoBatchSize(LightningDataModule):
    """Batches from a plain list of indices: no batch size anywhere."""

    def train_dataloader(self) -> DataLoader[dict[str, Any]]:
        dataset = TinyImages().train_dataloader().dataset
        return DataLoader(dataset, batch_sampler=[[0, 1], [2, 3]])


def test_batch_size_is_required(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="batch size but found none"):
        trainer(tmp_path, max_steps=1).fit(task(), NoBatchSize())


class LrRecorder(Callback):
    def __init__(self) -> None:
        self.lrs: dict[int, float] = {}

    def on_train_batch_start(
        self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int
    ) -> None:
        self.lrs[trainer.global_step] = trainer.optimizers[0].param_groups[0]["lr"]


class SaveAt(Callback):
    def __init__(self, epochs: int, path: Path) -> None:
        self.epochs, self.path = epochs, path

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.current_epoch + 1 == self.epochs:
            trainer.save_checkpoint(self.path)


def test_resume_continues_lr_schedule(tmp_path: Path) -> None:
    kwargs = {"blr": 0.1, "warmup_epochs": 1.0, "min_lr": 1e-5}
    data = TinyImages(num_samples=8, batch_size=4, val=False)  # 2 steps per epoch
    full = LrRecorder()
    ckpt = tmp_path / "half.ckpt"
    trainer(tmp_path / "a", max_epochs=4, callbacks=[full, SaveAt(2, ckpt)]).fit(
        task(**kwargs), data
    )
    assert len(full.lrs) == 8
    resumed = LrRecorder()
    t = trainer(tmp_path / "b", max_epochs=4, callbacks=[resumed])
    t.fit(task(**kwargs), data, ckpt_path=ckpt)
    assert sorted(resumed.lrs) == [4, 5, 6, 7]
    for step, lr in resumed.lrs.items():
        assert lr == pytest.approx(full.lrs[step]), step
    assert t.lr_scheduler_configs[0].scheduler.last_epoch == 8


def test_nan_policy(tmp_path: Path) -> None:
    model = task()
    # Batch 0 has one bad image, batch 1 only bad images.
    data = TinyImages(nan_rows=[1, 4, 5, 6, 7])
    with pytest.warns(RuntimeWarning, match="4 of 4 images with NaN or inf"):
        trainer(tmp_path, limit_val_batches=0).fit(model, data)
    assert model.skipped_samples == 5
    assert all(torch.isfinite(p).all() for p in model.parameters())
    with pytest.raises(ValueError, match=r"NaN or inf.*nan_policy='skip'"):
        trainer(tmp_path, limit_val_batches=0).fit(
            task(nan_policy="error"), TinyImages(nan_rows=[2])
        )


def test_data_checks(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="the datamodule serves 4 bands"):
        trainer(tmp_path).fit(task(), TinyImages(bands=["B2", "B3", "B4", "B8"]))
    swapped = ["B3", "B2", "B4", "B5", "B6", "B7", "B8", "B8A", "B11", "B12"]
    with pytest.raises(ValueError, match="serves 10 bands"):
        trainer(tmp_path).fit(task(), TinyImages(bands=swapped))
    with pytest.raises(ValueError, match=r"batch images have shape \(4, 10, 32, 32\)"):
        trainer(tmp_path).fit(task(), TinyImages(size=32))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"nan_policy": "ignore"}, "nan_policy='ignore' is invalid"),
        ({"in_channels": 4}, "channel_groups is required with 4 bands"),
        ({"in_channels": 4, "bands": ["B2", "B3"]}, "bands has 2 names"),
        ({"channel_groups": [["B2", "B3"], ["B4"]]}, "left out"),
        (
            {
                "channel_groups": [
                    ["B2", "B3", "B4", "B8", "B1"],
                    ["B5", "B6", "B7", "B8A", "B11", "B12"],
                ]
            },
            "unknown band 'B1'",
        ),
        ({"mask_ratio": 1.5}, r"mask_ratio must be in \(0, 1\)"),
        ({"num_heads": 3}, "embed_dim=32 must be divisible by num_heads=3"),
        ({"img_size": 12}, "img_size=12 must be divisible by patch_size=8"),
        ({"model": "vit_b"}, "unknown SatMAE preset"),
        ({"init_checkpoint": "/nonexistent.pth"}, "does not exist"),
        ({"blr": -1.0}, "blr must be >= 0"),
    ],
)
def test_bad_task_arguments(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises((ValueError, FileNotFoundError), match=match):
        task(**kwargs)


def test_init_checkpoint_and_export(tmp_path: Path) -> None:
    source = task()
    path = tmp_path / "reference.pth"
    torch.save({"model": source.model.state_dict()}, path)
    model = task(init_checkpoint=str(path))
    assert torch.equal(
        model.model.blocks[0].mlp.fc1.weight, source.model.blocks[0].mlp.fc1.weight
    )
    t = trainer(tmp_path, max_steps=1, limit_val_batches=0)
    t.fit(model, TinyImages())
    ckpt = tmp_path / "task.ckpt"
    t.save_checkpoint(ckpt)
    out = export_encoder(ckpt, tmp_path / "encoder.pth")
    kwargs = {
        k: v for k, v in model.model.config.items() if not k.startswith("decoder")
    }
    for key in ("norm_pix_loss", "mask_ratio", "masking"):
        kwargs.pop(key)
    encoder = GroupChannelViT(**kwargs)
    report = load_satmae_checkpoint(encoder, out)
    assert report.missing == () and report.ignored == ()
    assert torch.equal(
        encoder.blocks[0].attn.qkv.weight, model.model.blocks[0].attn.qkv.weight
    )
    # The task checkpoint itself also loads into an encoder (decoder ignored).
    report = load_satmae_checkpoint(GroupChannelViT(**kwargs), ckpt)
    assert "decoder_embed.weight" in report.ignored
