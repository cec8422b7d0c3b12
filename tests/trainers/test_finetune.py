"""Fine-tuning protocol: unfrozen backbone, layer-wise learning-rate decay."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.trainers.evaluation_data import BANDS, TINY, write_config
from torchgeo_composition.cli import lightning_main, main
from torchgeo_composition.models import FeatureFusion
from torchgeo_composition.trainers import layer_decay_param_groups, protocol_model

pytestmark = pytest.mark.filterwarnings("ignore:Found .* in eval mode")

INIT = {"backbones": [TINY], "bands": BANDS, "num_classes": 6, "lr": 1e-3}


def _lr_of(
    optimizer: torch.optim.Optimizer, model: torch.nn.Module
) -> dict[str, float]:
    by_param = {id(p): g["lr"] for g in optimizer.param_groups for p in g["params"]}
    return {
        n: by_param[id(p)] for n, p in model.named_parameters() if id(p) in by_param
    }


def test_finetune_through_cli(tmp_path: Path) -> None:
    model = protocol_model("finetune", INIT | {"feature_cache": "ignored"})
    assert model["init_args"]["freeze_backbones"] is False
    assert model["init_args"]["feature_cache"] is None
    config = write_config(tmp_path, model, limit_train_batches=2)
    cli = lightning_main(["fit", f"--config={config}"])
    task = cli.model
    lrs = _lr_of(cli.trainer.optimizers[0], task.model)
    stem = lrs["backbones.0.model.patch_embed.0.proj.weight"]
    block0 = lrs["backbones.0.model.blocks.0.attn.qkv.weight"]
    block1 = lrs["backbones.0.model.blocks.1.attn.qkv.weight"]
    head = lrs["head.1.weight"]
    assert head == pytest.approx(1e-3)
    assert block1 == pytest.approx(1e-3 * 0.75)
    assert block0 == pytest.approx(1e-3 * 0.75**2)
    assert stem == pytest.approx(1e-3 * 0.75**3)
    assert main(["test", f"--config={config}"]) == 0


def test_weight_decay_skips_norms_and_tokens() -> None:
    model = FeatureFusion([TINY], BANDS, num_classes=3, freeze=False)
    groups = layer_decay_param_groups(model, lr=1.0, weight_decay=0.05, layer_decay=0.5)
    names = {id(p): n for n, p in model.named_parameters()}
    decayed = {
        names[id(p)] for g in groups if g["weight_decay"] > 0 for p in g["params"]
    }
    assert "backbones.0.model.blocks.0.attn.qkv.weight" in decayed
    assert not any("norm" in n or n.endswith(".bias") for n in decayed)
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert sum(len(g["params"]) for g in groups) == len(trainable)


def test_bad_layer_decay_is_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = protocol_model("finetune", INIT | {"layer_decay": 1.5})
    config = write_config(tmp_path, model)
    assert main(["fit", f"--config={config}"]) == 2
    errors = [x for x in capsys.readouterr().err.splitlines() if "error" in x]
    assert len(errors) == 1 and "layer_decay=1.5 is invalid" in errors[0]
