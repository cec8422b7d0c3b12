"""SatMAE pretraining as a TorchGeo task."""

from __future__ import annotations

import math
import warnings
from dataclasses import fields
from typing import Any, Literal

import lightning.pytorch.utilities.types
import torch
from lightning.pytorch import Trainer
from lightning.pytorch.utilities import rank_zero_info
from torch import Tensor
from torchmetrics import MeanMetric

from ..bands import SATMAE_BANDS, canonical_band
from ..compat import BaseTask
from ..models import (
    GroupChannelMAE,
    SatMAEConfig,
    load_satmae_checkpoint,
    satmae_preset,
)
from ._satmae_plot import log_reconstruction
from .optim import satmae_optimizer, warmup_cosine


def _train_batch_size(trainer: Trainer) -> int:
    """Return the per-process training batch size of a trainer's data.

    Args:
        trainer: A trainer whose training data is set up.

    Returns:
        The datamodule's ``batch_size``, else the train loader's (or its batch
        sampler's).

    Raises:
        ValueError: If no batch size can be found.
    """
    size = getattr(getattr(trainer, "datamodule", None), "batch_size", None)
    loader = trainer.train_dataloader
    for source in (loader, getattr(loader, "batch_sampler", None)):
        if size is None:
            size = getattr(source, "batch_size", None)
    if not isinstance(size, int):
        raise ValueError(
            "SatMAETask scales the learning rate with the batch size but found none: "
            "give the datamodule a batch_size attribute or the train DataLoader a "
            "batch_size"
        )
    return size


class SatMAETask(BaseTask):
    """Group-channel SatMAE masked-autoencoder pretraining.

    Batches are dicts with ``image`` ``(B, C, H, W)``, normalised by the
    datamodule. The learning rate follows SatMAE: peak ``blr * effective batch /
    256`` (the effective batch counts gradient accumulation and all processes),
    reached by linear warmup over ``warmup_epochs``, then a half-cycle cosine to
    ``min_lr``, updated every optimizer step. AdamW with ``betas`` and
    ``weight_decay`` (none on biases, norms and tokens).

    Reference implementation: https://github.com/sustainlab-group/SatMAE

    If you use this trainer in your research, please cite
    https://arxiv.org/abs/2207.08051
    """

    ignore = None
    monitor = "train_loss"

    def __init__(
        self,
        model: str = "satmae_vit_base_patch8_96",
        img_size: int | None = None,
        patch_size: int | None = None,
        in_channels: int | None = None,
        bands: list[str] | None = None,
        channel_groups: list[list[int | str]] | None = None,
        embed_dim: int | None = None,
        depth: int | None = None,
        num_heads: int | None = None,
        channel_embed: int | None = None,
        decoder_embed_dim: int | None = None,
        decoder_depth: int | None = None,
        decoder_num_heads: int | None = None,
        decoder_channel_embed: int | None = None,
        mask_ratio: float = 0.75,
        masking: Literal["independent", "consistent"] = "independent",
        norm_pix_loss: bool = False,
        blr: float = 1e-4,
        min_lr: float = 0.0,
        weight_decay: float = 0.05,
        betas: tuple[float, float] = (0.9, 0.95),
        warmup_epochs: float = 5.0,
        init_checkpoint: str | None = None,
        nan_policy: Literal["skip", "error"] = "skip",
        compile: bool = False,
        plot_every_n_epochs: int = 1,
        plot_samples: int = 4,
    ) -> None:
        """Initialize a new SatMAETask instance.

        Args:
            model: SatMAE preset (a key of
                :data:`~torchgeo_composition.models.SATMAE_PRESETS`); the size
                arguments below override it when given.
            img_size: Input height and width in pixels.
            patch_size: Patch side in pixels.
            in_channels: Number of input bands; defaults to ``len(bands)``.
            bands: Band names in data order; ``None`` with ``in_channels=None``
                means SatMAE's 10 bands. Checked against the datamodule's bands.
            channel_groups: Band groups by index or by name (default: SatMAE's
                10 m, red-edge and SWIR groups, for 10 bands).
            embed_dim: Encoder width.
            depth: Encoder blocks.
            num_heads: Encoder heads.
            channel_embed: Encoder dimensions of the group encoding.
            decoder_embed_dim: Decoder width.
            decoder_depth: Decoder blocks.
            decoder_num_heads: Decoder heads.
            decoder_channel_embed: Decoder dimensions of the group encoding.
            mask_ratio: Fraction of tokens masked, in (0, 1).
            masking: ``independent`` or ``consistent`` (same patches in all groups).
            norm_pix_loss: Normalise target patches.
            blr: Base learning rate; the peak is ``blr * effective batch / 256``.
            min_lr: Final learning rate of the cosine.
            weight_decay: AdamW weight decay (not on biases, norms, tokens).
            betas: AdamW betas.
            warmup_epochs: Epochs (may be fractional) of linear warmup (optimizer
                steps when the train loader has no length).
            init_checkpoint: SatMAE checkpoint to start from (reference, task or
                state dict; loaded strictly, with ``weights_only=True`` and the
                allow-list of :mod:`torchgeo_composition.serialization`).
            nan_policy: On NaN/inf input samples or loss: ``skip`` (drop them and
                warn with a running count) or ``error``.
            compile: Compile the model with :func:`torch.compile`.
            plot_every_n_epochs: Log a reconstruction figure at the first batch of
                every n-th epoch (0 disables).
            plot_samples: Images per reconstruction figure.

        Raises:
            ValueError: If an argument is invalid (the message names it), or
                ``init_checkpoint`` is not a checkpoint, holds a type outside the
                allow-list or does not fit the model (the message names the file).
            FileNotFoundError: If ``init_checkpoint`` does not exist.
        """
        if nan_policy not in ("skip", "error"):
            raise ValueError(
                f"nan_policy={nan_policy!r} is invalid; valid choices are "
                "('skip', 'error')"
            )
        for name, value in (("blr", blr), ("warmup_epochs", warmup_epochs)):
            if value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        super().__init__()
        self.skipped_samples = 0
        self._peak_lr: float | None = None
        self._checked_batch = False

    @property
    def peak_lr(self) -> float | None:
        """The peak learning rate, once :meth:`configure_optimizers` has run."""
        return self._peak_lr

    def configure_metrics(self) -> None:
        """Initialize the validation loss average (weighted by batch size)."""
        self.val_loss = MeanMetric()

    def configure_models(self) -> None:
        """Initialize the model (and load ``init_checkpoint``)."""
        hp = self.hparams
        bands, in_chans = hp["bands"], hp["in_channels"]
        if bands is None and in_chans is None:
            bands = list(SATMAE_BANDS)
        if bands is not None and in_chans is not None and len(bands) != in_chans:
            raise ValueError(
                f"bands has {len(bands)} names {bands} but in_channels={in_chans}"
            )
        in_chans = len(bands) if bands is not None else in_chans
        if hp["channel_groups"] is None and in_chans != len(SATMAE_BANDS):
            raise ValueError(
                f"channel_groups is required with {in_chans} bands (the default "
                f"groups are for SatMAE's {len(SATMAE_BANDS)} bands)"
            )
        # Every task argument named like a SatMAEConfig field overrides the preset.
        given = {
            f.name: hp[f.name]
            for f in fields(SatMAEConfig)
            if hp.get(f.name) is not None
        }
        given |= {"in_chans": in_chans, "bands": bands}
        self.model = GroupChannelMAE(satmae_preset(hp["model"]), **given)
        if hp["init_checkpoint"] is not None:
            report = load_satmae_checkpoint(
                self.model, hp["init_checkpoint"], what="init_checkpoint"
            )
            rank_zero_info(
                f"Loaded {hp['init_checkpoint']}: missing {list(report.missing)}, "
                f"ignored {list(report.ignored)}"
            )
        if hp["compile"]:
            self.model.compile()

    def setup(self, stage: str) -> None:
        """Check the datamodule's bands against the model.

        Args:
            stage: Either 'fit', 'validate', 'test', or 'predict'.

        Raises:
            ValueError: If the data has other bands than the model.
        """
        datamodule = (
            getattr(self.trainer, "datamodule", None) if self._trainer else None
        )
        data_bands = getattr(datamodule, "bands", None)
        if data_bands is None:
            return
        model_bands = self.model.bands
        if len(data_bands) != self.model.in_chans or (
            model_bands is not None
            and [canonical_band(b) for b in data_bands]
            != [canonical_band(b) for b in model_bands]
        ):
            raise ValueError(
                f"the datamodule serves {len(data_bands)} bands {list(data_bands)} "
                f"but the model takes {self.model.in_chans} bands "
                f"{list(model_bands) if model_bands else ''}; set the same bands "
                "in data.init_args.bands and model.init_args.bands"
            )

    def _check_batch(self, x: Tensor) -> None:
        """Check the first batch's shape against the model (once)."""
        if self._checked_batch:
            return
        expected = (self.model.in_chans, self.model.img_size, self.model.img_size)
        if x.ndim != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(
                f"batch images have shape {tuple(x.shape)} but the model takes "
                f"(B, {expected[0]}, {expected[1]}, {expected[2]}) (bands, img_size, "
                "img_size); match the datamodule's bands and crop size to the model"
            )
        self._checked_batch = True

    def configure_optimizers(
        self,
    ) -> lightning.pytorch.utilities.types.OptimizerLRSchedulerConfig:
        """Initialize AdamW at the peak rate and the per-step warmup + cosine.

        The peak is ``blr * effective batch / 256``, the effective batch being the
        per-process batch size times ``accumulate_grad_batches`` times the world
        size; warmup and decay are counted in optimizer steps.

        Returns:
            Optimizer and learning rate scheduler.

        Raises:
            ValueError: If the training batch size cannot be found.
        """
        trainer, hp = self.trainer, self.hparams
        total = trainer.estimated_stepping_batches
        if trainer.train_dataloader is None:  # infinite runs skip loading it
            trainer.fit_loop.setup_data()
        batch = _train_batch_size(trainer)
        effective = batch * trainer.accumulate_grad_batches * trainer.world_size
        self._peak_lr = peak = hp["blr"] * effective / 256
        batches = trainer.num_training_batches
        per_epoch = (
            max(math.ceil(batches / trainer.accumulate_grad_batches), 1)
            if math.isfinite(batches)
            else 1  # unsized loader: warmup_epochs counts optimizer steps
        )
        warmup = math.ceil(hp["warmup_epochs"] * per_epoch)
        optimizer = satmae_optimizer(
            self.model, peak, hp["weight_decay"], tuple(hp["betas"])
        )
        scheduler = warmup_cosine(optimizer, warmup, total, hp["min_lr"])
        rank_zero_info(
            f"SatMAE lr = blr {hp['blr']} x effective batch {effective} / 256 = "
            f"{peak:.3g}; warmup {warmup} of {total:g} steps"
        )
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }

    def _finite_samples(self, x: Tensor, batch_idx: int) -> Tensor:
        """Drop samples with NaN or inf (or raise, per ``nan_policy``)."""
        finite = torch.isfinite(x.flatten(1)).all(dim=1)
        bad = int((~finite).sum())
        if bad == 0:
            return x
        self.skipped_samples += bad
        message = (
            f"batch {batch_idx} has {bad} of {x.shape[0]} images with NaN or inf "
            f"({self.skipped_samples} skipped so far)"
        )
        if self.hparams["nan_policy"] == "error":
            raise ValueError(message + "; set nan_policy='skip' to drop them")
        warnings.warn(message + "; they are skipped", RuntimeWarning, stacklevel=2)
        return x[finite]

    def _skip(self) -> Tensor | None:
        """Return a no-op loss (zero gradients under DDP, nothing otherwise)."""
        if self.trainer.world_size > 1:
            params = [p for p in self.model.parameters() if p.requires_grad]
            return torch.stack([p.sum() for p in params]).sum() * 0.0
        return None

    def training_step(
        self, batch: Any, batch_idx: int, dataloader_idx: int = 0
    ) -> Tensor | None:
        """Compute the training loss; log it, the learning rate and a figure.

        Args:
            batch: The output of your DataLoader.
            batch_idx: Integer displaying index of this batch.
            dataloader_idx: Index of the current dataloader.

        Returns:
            The loss tensor, or ``None`` when the batch is skipped.

        Raises:
            ValueError: If the batch does not fit the model, or holds NaN/inf
                with ``nan_policy='error'``.
        """
        x = batch["image"]
        self._check_batch(x)
        x = self._finite_samples(x, batch_idx)
        self.log("train_skipped_samples", float(self.skipped_samples))
        if x.shape[0] == 0:
            return self._skip()
        loss, pred, mask = self.model(x)
        if not torch.isfinite(loss):
            if self.hparams["nan_policy"] == "error":
                raise ValueError(
                    f"non-finite training loss {loss.item()} at batch {batch_idx}"
                )
            self.skipped_samples += x.shape[0]
            warnings.warn(
                f"non-finite loss at batch {batch_idx}; batch skipped "
                f"({self.skipped_samples} samples skipped so far)",
                RuntimeWarning,
                stacklevel=2,
            )
            return self._skip()
        self.log("train_loss", loss, batch_size=x.shape[0], prog_bar=True)
        self.log(
            "lr",
            self.trainer.optimizers[0].param_groups[0]["lr"],
            batch_size=x.shape[0],
        )
        every = self.hparams["plot_every_n_epochs"]
        if batch_idx == 0 and every > 0 and self.current_epoch % every == 0:
            k = self.hparams["plot_samples"]
            log_reconstruction(self, self.model, x[:k], pred[:k], mask[:k])
        return loss

    def validation_step(
        self, batch: Any, batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        """Compute the validation loss with a fixed mask per batch index.

        Args:
            batch: The output of your DataLoader.
            batch_idx: Integer displaying index of this batch.
            dataloader_idx: Index of the current dataloader.
        """
        x = batch["image"]
        self._check_batch(x)
        x = x[torch.isfinite(x.flatten(1)).all(dim=1)]
        if x.shape[0] > 0:
            model = self.model
            length = model.grid_size**2
            if model.masking == "independent":
                length *= len(model.channel_groups)
            generator = torch.Generator().manual_seed(batch_idx)
            noise = torch.rand(x.shape[0], length, generator=generator).to(x.device)
            loss, _, _ = model(x, noise=noise)
            self.val_loss.update(loss.detach().float(), weight=x.shape[0])
        # Logged on every rank and batch, so the epoch-end sync never waits.
        self.log("val_loss", self.val_loss, on_step=False, on_epoch=True)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Store the model configuration, for :func:`export_encoder`.

        Args:
            checkpoint: The checkpoint being saved.
        """
        checkpoint["satmae_config"] = self.model.config
