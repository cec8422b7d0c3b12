"""A datamodule streaming a pack (one LitData dataset per stratum) into training."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from torch import Tensor
from torchgeo.datamodules import NonGeoDataModule
from torchgeo.datasets import NonGeoDataset

from ..bands import band_indices
from ..packing import (
    PackSummary,
    allow_http_endpoint,
    read_pack_summary,
    storage_options,
    stratum_weights,
)
from ..packing.store import join
from .transforms import Normalization, chip_pipelines

if TYPE_CHECKING:  # LitData is imported when a pack is opened
    from .packed_batch import PackedCollate

__all__ = ["StreamingStratifiedDataModule"]


class StreamingStratifiedDataModule(NonGeoDataModule):
    """LightningDataModule streaming a pack written by ``torchgeo-composition pack``.

    Each stratum of the pack is a LitData ``StreamingDataset`` (from a folder or
    an object store); a ``CombinedStreamingDataset`` mixes them and LitData's
    ``StreamingDataLoader`` serves batches. With ``composition=None`` (or
    ``proportional``) every sample is streamed once per epoch; a composition
    (a preset or ``{stratum: weight}``) mixes the strata by its weights instead,
    and an epoch ends when the first stratum runs out.

    Batches are the ones of
    :class:`~torchgeo_composition.datamodules.ContinentStratifiedDataModule`:
    ``image`` (B, C, H, W), ``lon``, ``lat`` (B,) and ``continent`` (list of B
    strata), normalised and augmented on the device by the same pipelines as
    :class:`ContinentStratifiedDataModule`
    (:func:`~torchgeo_composition.datamodules.transforms.chip_pipelines`); images travel in
    the pack's integer type and become float32 on the device.

    Under DDP every rank streams its own part of each stratum in the same number
    of batches (LitData drops the last incomplete batch of a rank). Lightning's
    checkpoints hold the loader's position, so ``fit --ckpt_path`` continues an
    epoch where it stopped (with the same world size, ``num_workers`` and
    ``batch_size``).
    """

    def __init__(
        self,
        input_dir: str,
        composition: str | dict[str, float] | None = None,
        batch_size: int = 64,
        num_workers: int = 0,
        bands: list[str] | None = None,
        normalization: Normalization = "satmae",
        mean: list[float] | None = None,
        std: list[float] | None = None,
        crop_size: int | None = 96,
        min_scale: float = 0.2,
        augment: bool = True,
        seed: int = 0,
        shuffle: bool = True,
        val_input_dir: str | None = None,
        dtype: str | None = None,
        cache_dir: str | None = None,
        max_cache_size: str = "100GB",
    ) -> None:
        """Initialize a new StreamingStratifiedDataModule instance.

        Args:
            input_dir: The pack's folder or URL (``s3://bucket/prefix``).
            composition: ``None`` or ``proportional`` (every sample once per
                epoch), a preset or ``{stratum: weight}`` mixing the strata.
            batch_size: Size of each mini-batch (per rank).
            num_workers: Loader worker processes per rank.
            bands: Bands to use, in order; ``None`` uses all of the pack's.
            normalization: ``satmae``, ``standard`` or ``none``.
            mean: Per-band mean for normalisation (default FMoW-Sentinel).
            std: Per-band standard deviation (default FMoW-Sentinel).
            crop_size: Output size of the crop/resize; ``None`` keeps chip sizes.
            min_scale: Smallest area share of a random resized crop.
            augment: Apply the random crop and flips to training batches.
            seed: Seed of LitData's shuffling and of the strata mixing.
            shuffle: Shuffle chunks and samples every epoch.
            val_input_dir: A second pack streamed (unshuffled) for validation.
            dtype: Data type the pack must hold (e.g. ``uint16``); ``None``
                accepts the pack's.
            cache_dir: Local folder caching chunks streamed from an object
                store; ``None`` = LitData's default.
            max_cache_size: Largest size of that cache (e.g. ``100GB``).

        Raises:
            ValueError: If an argument is invalid, the composition names a
                stratum the pack lacks or weighs nothing, or the pack holds
                other bands or another dtype than asked.
            FileNotFoundError: If ``input_dir`` holds no finished pack.
            StoreError: If the object store cannot be reached.
        """
        # the datasets are LitData's, built in setup; the class is not used
        super().__init__(NonGeoDataset, batch_size, num_workers)  # type: ignore[type-abstract]
        self.save_hyperparameters(ignore=["bands"])
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if num_workers < 0:
            raise ValueError(f"num_workers must be >= 0, got {num_workers}")
        if crop_size is not None and crop_size < 1:
            raise ValueError(f"crop_size must be >= 1 or None, got {crop_size}")
        if not 0 < min_scale <= 1:
            raise ValueError(f"min_scale must be in (0, 1], got {min_scale}")
        self.options = storage_options()
        allow_http_endpoint(self.options)
        self.summary = read_pack_summary(input_dir, self.options)
        self.val_summary = (
            None
            if val_input_dir is None
            else read_pack_summary(val_input_dir, self.options)
        )
        self.weights = stratum_weights(self.summary.counts, composition)
        self.bands = self._check_pack(self.summary, input_dir, bands, dtype)
        if self.val_summary is not None:
            self._check_pack(self.val_summary, str(val_input_dir), bands, dtype)
        self.aug, train_aug = chip_pipelines(
            normalization, self.bands, mean, std, crop_size, augment, min_scale
        )
        if train_aug is not None:
            self.train_aug = train_aug
        self._collates: dict[bool, PackedCollate] = {}

    @staticmethod
    def _check_pack(
        summary: PackSummary,
        where: str,
        bands: list[str] | None,
        dtype: str | None,
    ) -> tuple[str, ...]:
        """Check a pack's bands and dtype; return the bands served."""
        if dtype is not None and summary.dtype != dtype:
            raise ValueError(
                f"pack {where!r} holds images of dtype {summary.dtype}, but dtype="
                f"{dtype!r} was asked; pack again with --dtype {dtype} or set dtype "
                "to None"
            )
        chosen = tuple(bands) if bands is not None else summary.bands
        try:
            band_indices(summary.bands, chosen)
        except ValueError as err:
            raise ValueError(
                f"bands {list(chosen)} are not all in pack {where!r}, which holds "
                f"bands {list(summary.bands)}: {err}"
            ) from err
        return chosen

    def _channels(self, summary: PackSummary) -> list[int] | None:
        channels = band_indices(summary.bands, self.bands)
        return None if channels == list(range(len(summary.bands))) else channels

    def _combined(self, train: bool) -> Any:
        """Build the CombinedStreamingDataset of a pack."""
        from litdata import CombinedStreamingDataset

        from .packed_batch import PackedCollate, PackedStreamingDataset

        hp = self.hparams
        summary = self.summary if train else self.val_summary
        assert summary is not None
        root = hp["input_dir"] if train else hp["val_input_dir"]
        names = list(self.weights) if train else list(summary.strata)
        self._collates[train] = PackedCollate(self._channels(summary))
        datasets = []
        for name in names:
            folder = str(summary.strata[name]["folder"])
            cache = hp["cache_dir"]
            datasets.append(
                PackedStreamingDataset(
                    join(root, folder),
                    cache_dir=None if cache is None else os.path.join(cache, folder),
                    shuffle=hp["shuffle"] and train,
                    seed=hp["seed"],
                    storage_options=self.options,
                    max_cache_size=hp["max_cache_size"],
                )
            )
        mixed = train and hp["composition"] not in (None, "proportional")
        return CombinedStreamingDataset(
            datasets,
            seed=hp["seed"],
            weights=[self.weights[n] for n in names] if mixed else None,
            iterate_over_all=not mixed,
        )

    def setup(self, stage: str) -> None:
        """Open the pack's strata as streaming datasets.

        Args:
            stage: Either 'fit', 'validate', 'test', or 'predict'.
        """
        if stage in ("fit", "predict"):
            self.train_dataset = self._combined(train=True)
            self.predict_dataset = self.train_dataset
        if stage in ("fit", "validate") and self.val_summary is not None:
            self.val_dataset = self._combined(train=False)

    def _dataloader_factory(self, split: str) -> Any:
        """Return LitData's StreamingDataLoader over a split.

        Args:
            split: Either 'train', 'val', 'test', or 'predict'.

        Returns:
            The loader.
        """
        from litdata import StreamingDataLoader

        # not TorchGeo's _valid_attribute: a mixed dataset has no length (len() None)
        dataset = getattr(self, f"{split}_dataset", None)
        if dataset is None:
            raise RuntimeError(f"call setup() before {split}_dataloader()")
        return StreamingDataLoader(
            dataset,
            batch_size=self._valid_attribute(f"{split}_batch_size", "batch_size"),
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            collate_fn=self._collates[split != "val"],
        )

    def val_dataloader(self) -> Any:
        """Return the validation loader (an empty list without ``val_input_dir``).

        Returns:
            The loader, or ``[]``.
        """
        if self.val_summary is None:
            return []
        return self._dataloader_factory("val")

    def on_after_batch_transfer(
        self, batch: dict[str, Tensor], dataloader_idx: int
    ) -> dict[str, Tensor]:
        """Make images float32 on the device, then normalise and augment.

        Args:
            batch: A batch of data that needs to be altered or augmented.
            dataloader_idx: The index of the dataloader to which the batch belongs.

        Returns:
            The batch after the datamodule's device pipeline.
        """
        batch = dict(batch)
        batch["image"] = batch["image"].float()
        result: dict[str, Tensor] = super().on_after_batch_transfer(
            batch, dataloader_idx
        )
        return result

    def transform(
        self, batch: Mapping[str, Any], train: bool = False
    ) -> dict[str, Any]:
        """Apply the device-side pipeline outside a Trainer (e.g. for inspection).

        Args:
            batch: A collated batch.
            train: Use the training augmentation instead of the evaluation one.

        Returns:
            A copy of the batch with float32, transformed images.
        """
        data = dict(batch)
        data["image"] = data["image"].float()
        aug = self.train_aug if train and self.train_aug is not None else self.aug
        return dict(aug(data))

    def _topology(self) -> dict[str, int]:
        world = self.trainer.world_size if self.trainer is not None else 1
        return {
            "world_size": int(world),
            "num_workers": int(self.num_workers),
            "batch_size": int(self.batch_size),
        }

    def state_dict(self) -> dict[str, Any]:
        """Record what a resumed run must keep (stored in Lightning's checkpoint).

        Returns:
            World size, workers and batch size, and the pack's manifest hash.
        """
        return {**self._topology(), "manifest_sha256": self.summary.manifest_sha256}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Refuse to resume a run the pack's loader cannot continue.

        Args:
            state_dict: What :meth:`state_dict` recorded.

        Raises:
            ValueError: If the pack, the world size, ``num_workers`` or
                ``batch_size`` differ from the checkpoint's.
        """
        saved_hash = state_dict.get("manifest_sha256")
        if saved_hash is not None and saved_hash != self.summary.manifest_sha256:
            raise ValueError(
                f"the checkpoint was trained on a pack of another manifest "
                f"(manifest_sha256 {str(saved_hash)[:12]}...) than input_dir "
                f"{self.hparams['input_dir']!r} ({self.summary.manifest_sha256[:12]}"
                "...); resume with the same pack, or start a new run from the "
                "weights (model.init_args.init_checkpoint)"
            )
        now = self._topology()
        diffs = [
            f"{key} {state_dict[key]} -> {value}"
            for key, value in now.items()
            if key in state_dict and state_dict[key] != value
        ]
        if diffs:
            raise ValueError(
                "cannot resume this streamed run with another "
                + ", ".join(diffs)
                + ": LitData's CombinedStreamingDataset continues an epoch only "
                "with the world size (devices x num_nodes), num_workers and "
                "batch_size of the checkpoint; resume with those, or start a new "
                "run from the weights (model.init_args.init_checkpoint)"
            )
