"""A datamodule serving a continent-stratified pretraining set drawn from a pool."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import torch.distributed as dist
from torch import Tensor
from torch.utils.data import DataLoader
from torchgeo.datamodules import NonGeoDataModule

from ..datasets import PoolDataset
from ..geography import RegionLayer
from ..sampling import UNASSIGNED, Filters, ShortfallPolicy, build_manifest
from .channels import select_channels
from .entropy_index import with_entropy
from .manifest_dataset import ManifestDataset
from .resumable import ResumableDataLoader
from .sampler import ShardedManifestSampler
from .transforms import Normalization, chip_pipelines

__all__ = ["ContinentStratifiedDataModule", "ManifestDataset"]


class ContinentStratifiedDataModule(NonGeoDataModule):
    """LightningDataModule serving a stratified pretraining set drawn from a pool.

    ``setup`` builds (or reuses) the manifest of ``num_samples`` samples drawn from
    ``pool`` with the given ``composition`` (see
    :func:`~torchgeo_composition.datamodules.build_manifest`), then splits it into
    train and validation sets, stratum by stratum, deterministically from ``seed``.

    Strata are continents, the regions of ``layer``, or the values of a metadata
    column of the pool (``stratify_by``, e.g. FMoW-Sentinel's ``category``);
    ``filters`` (e.g. ``{cloud_cover: "< 10"}``) keep only some of the pool's
    samples before the set is drawn.

    Batches are dicts with ``image`` (B, C, H, W) float, ``lon``, ``lat`` (B,) and
    ``continent`` (list of B strata). On the device (TorchGeo's
    ``on_after_batch_transfer`` with :attr:`aug` / :attr:`train_aug`), images are
    normalised
    (``satmae``: ``clip((x - (mean - 2 std)) / (4 std), 0, 1)``; ``standard``:
    ``(x - mean) / std``; ``none``) with FMoW-Sentinel statistics unless ``mean`` /
    ``std`` are given; training batches are then augmented like SatMAE (random
    resized crop to ``crop_size`` with scale (``min_scale``, 1) and bicubic
    interpolation, horizontal and vertical flips), validation batches resized to
    ``crop_size``.

    Under DDP, every rank reads a disjoint shard of each split; together the ranks
    read every manifest sample exactly once per epoch, in the same number of
    batches (:class:`ShardedManifestSampler`). The sampler passes the epoch to
    the pool (``set_epoch``), so pools that draw per epoch (SSL4EO-S12 seasons)
    are reproducible; their loader workers restart every epoch.

    Bad input is refused before training: normalisation statistics that are not
    finite, a ``std`` that is not > 0, a band named twice, a name-based band
    selection from a pool whose channels repeat band names (several seasons), and
    a ``val_fraction`` that leaves no training sample. With ``check_pixels``,
    ``setup`` reads every selected sample once and names every unusable file.
    """

    def __init__(
        self,
        pool: PoolDataset,
        composition: str | dict[str, float] = "global",
        num_samples: int = 1000,
        seed: int = 0,
        manifest_path: str | None = None,
        layer: RegionLayer | None = None,
        on_shortfall: ShortfallPolicy = "error",
        val_fraction: float = 0.1,
        batch_size: int = 64,
        num_workers: int = 0,
        bands: list[str] | None = None,
        normalization: Normalization = "satmae",
        mean: list[float] | None = None,
        std: list[float] | None = None,
        crop_size: int | None = 96,
        min_scale: float = 0.2,
        augment: bool = True,
        check_pixels: bool = False,
        stratify_by: str | None = None,
        filters: Filters | None = None,
        selection: str = "random",
        selection_reference: str | None = None,
        entropy_range: list[float | str] | None = None,
        entropy_recipe: str | None = None,
    ) -> None:
        """Initialize a new ContinentStratifiedDataModule instance.

        Args:
            pool: The pool to draw from (e.g. a
                :class:`~torchgeo_composition.datasets.ChipFolder`).
            composition: Preset (``global``, a continent, ``proportional``,
                ``uniform``) or ``{stratum: weight}``; continent aliases accepted.
            num_samples: Size of the pretraining set (train + validation).
            seed: Seed of the selection, the split and the shuffling.
            manifest_path: Manifest to reuse or write (``.parquet``/``.csv``);
                ``None`` keeps it in memory.
            layer: Region layer defining strata; ``None`` = continents.
            on_shortfall: ``error``, ``redistribute`` or ``replace``.
            val_fraction: Share of each stratum held out for validation, in [0, 1).
            batch_size: Size of each mini-batch (per rank).
            num_workers: Number of workers for parallel data loading.
            bands: Bands to use, in order, each once; ``None`` uses all of
                ``pool.bands`` (the only choice for a pool whose channels repeat
                band names, e.g. several seasons).
            normalization: ``satmae``, ``standard`` or ``none``.
            mean: Per-band mean for normalisation (default FMoW-Sentinel).
            std: Per-band standard deviation for normalisation (default
                FMoW-Sentinel).
            crop_size: Output size of the crop/resize; ``None`` keeps chip sizes
                (and disables the crop).
            min_scale: Smallest area share of a random resized crop.
            augment: Apply the random crop and flips to training batches.
            check_pixels: In ``setup``, read every selected sample once (in
                parallel threads) and refuse to go on, naming every file that
                cannot be read, has no valid pixel or has another shape.
            stratify_by: A metadata column of the pool index (e.g.
                ``category``) whose values are the strata instead of continents
                or ``layer``'s regions; ``composition`` then names its values.
            filters: Draw only from the samples passing these filters:
                ``{column: condition}`` (e.g. ``{cloud_cover: "< 10"}``) or a
                pandas query string (e.g. ``"cloud_cover < 10 and nodata == 0"``).
            selection: How each stratum's quota is filled: ``random`` or an
                entropy strategy (``entropy_top``, ``entropy_range``,
                ``entropy_uniform``, ``entropy_matched``; see
                :mod:`~torchgeo_composition.sampling.strategies`), which reads
                the pool entropy index (built first if missing).
            selection_reference: Reference manifest of ``entropy_matched``.
            entropy_range: ``[low, high]`` of ``entropy_range`` (nats, or
                quantiles such as ``"q0.75"``).
            entropy_recipe: Entropy recipe (``default`` or ``olmoearth``).

        Raises:
            ValueError: If an argument is invalid (the message names it, the bad
                value and the valid choices).
        """
        super().__init__(type(pool), batch_size, num_workers)
        # ``bands`` stays out of the hyperparameters: a task that leaves its own
        # ``bands`` at the default (None) would disagree with it, and Lightning
        # refuses to log two values of one key. The bands are in :attr:`bands`.
        self.save_hyperparameters(ignore=["pool", "layer", "bands"])
        if num_samples <= 0:
            raise ValueError(f"num_samples must be > 0, got {num_samples}")
        if not 0 <= val_fraction < 1:
            raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
        if crop_size is not None and crop_size < 1:
            raise ValueError(f"crop_size must be >= 1 or None, got {crop_size}")
        if not 0 < min_scale <= 1:
            raise ValueError(f"min_scale must be in (0, 1], got {min_scale}")
        self.pool = pool
        self.layer = layer
        self.bands, self.channels = select_channels(pool.bands, bands, pool)
        self.manifest: pd.DataFrame | None = None
        self.summary: dict[str, Any] | None = None
        self._checked = False
        self.aug, train_aug = chip_pipelines(
            normalization, self.bands, mean, std, crop_size, augment, min_scale
        )
        if train_aug is not None:
            self.train_aug = train_aug

    def _selection(self) -> None:
        """Build or reuse the manifest (once)."""
        if self.manifest is not None:
            return
        hp = self.hparams
        pool: Any = self.pool
        if hp["selection"] != "random":
            pool = with_entropy(self.pool, hp["entropy_recipe"])
        selection = build_manifest(
            pool,
            composition=hp["composition"],
            num_samples=hp["num_samples"],
            seed=hp["seed"],
            manifest_path=hp["manifest_path"],
            layer=self.layer,
            on_shortfall=hp["on_shortfall"],
            stratify_by=hp["stratify_by"],
            filters=hp["filters"],
            selection=hp["selection"],
            selection_reference=hp["selection_reference"],
            entropy_range=hp["entropy_range"],
            entropy_recipe=hp["entropy_recipe"],
        )
        self.manifest = selection.manifest.reset_index(drop=True)
        self.summary = selection.summary

    def prepare_data(self) -> None:
        """Build and save the manifest (on one process only, before ``setup``)."""
        if self.hparams["manifest_path"] is not None:
            self._selection()

    def _split(self) -> tuple[np.ndarray, np.ndarray]:
        """Return manifest row numbers of the train and validation sets."""
        assert self.manifest is not None
        strata = self.manifest["stratum"].fillna(UNASSIGNED).astype(str)
        rng = np.random.default_rng(self.hparams["seed"])
        fraction = self.hparams["val_fraction"]
        val: list[np.ndarray] = []
        for _, rows in strata.groupby(strata, sort=True):
            members = rows.index.to_numpy()
            k = round(fraction * len(members))
            val.append(rng.permutation(members)[:k])
        val_rows = np.sort(np.concatenate(val)) if val else np.empty(0, dtype=int)
        mask = np.ones(len(strata), dtype=bool)
        mask[val_rows] = False
        return np.flatnonzero(mask), val_rows

    def _subset(self, rows: np.ndarray) -> ManifestDataset:
        assert self.manifest is not None
        part = self.manifest.iloc[rows]
        strata = part["stratum"].astype(object).where(part["stratum"].notna(), None)
        labels = [UNASSIGNED if s in (None, "nan") else str(s) for s in strata]
        positions = self.pool.positions(part["sample_id"].tolist())
        return ManifestDataset(self.pool, positions, labels, self.channels)

    def setup(self, stage: str) -> None:
        """Build or reuse the manifest and set up the datasets.

        Args:
            stage: Either 'fit', 'validate', 'test', or 'predict'.
        """
        self._selection()
        assert self.manifest is not None
        train_rows, val_rows = self._split()
        if stage == "fit" and not len(train_rows):
            hp = self.hparams
            raise ValueError(
                f"val_fraction={hp['val_fraction']} leaves no training sample: "
                f"every one of the {len(self.manifest)} samples goes to validation "
                "(each stratum's share is rounded); lower val_fraction or raise "
                "num_samples"
            )
        if self.hparams["check_pixels"] and not self._checked:
            rows = np.arange(len(self.manifest))
            if stage in ("fit", "validate"):
                rows = np.concatenate([train_rows, val_rows])
            ids = self.manifest["sample_id"].iloc[rows].tolist()
            self.pool.check_pixels(ids, num_workers=self.num_workers or None)
            self._checked = True
        if stage in ("fit", "validate"):
            self.train_dataset = self._subset(train_rows)
            self.val_dataset = self._subset(val_rows) if len(val_rows) else None
        if stage == "predict":
            self.predict_dataset = self._subset(np.arange(len(self.manifest)))

    def _world(self) -> tuple[int, int]:
        """Return (number of ranks, this rank)."""
        if self.trainer is not None:
            return self.trainer.world_size, self.trainer.global_rank
        if dist.is_available() and dist.is_initialized():
            return dist.get_world_size(), dist.get_rank()
        return 1, 0

    def _dataloader_factory(self, split: str) -> DataLoader[dict[str, Tensor]]:
        """Implement one or more PyTorch DataLoaders.

        Args:
            split: Either 'train', 'val', 'test', or 'predict'.

        Returns:
            A data loader; for 'train' and 'val' its sampler shards the split
            across ranks (:class:`ShardedManifestSampler`); the 'train' loader
            is a :class:`ResumableDataLoader` (a mid-epoch checkpoint resumes
            at the next batch of the epoch).

        Raises:
            MisconfigurationException: If :meth:`setup` does not define the
                split's dataset, or if it has length 0.
        """
        dataset = self._valid_attribute(f"{split}_dataset", "dataset")
        batch_size = self._valid_attribute(f"{split}_batch_size", "batch_size")
        sampler = None
        if split in ("train", "val"):
            replicas, rank = self._world()
            sampler = ShardedManifestSampler(
                dataset,
                batch_size,
                num_replicas=replicas,
                rank=rank,
                shuffle=split == "train",
                seed=self.hparams["seed"],
            )
        loader = ResumableDataLoader if split == "train" else DataLoader
        return loader(
            dataset=dataset,
            batch_size=batch_size,
            sampler=sampler,
            num_workers=self.num_workers,
            collate_fn=self.collate_fn,
            drop_last=False,
            # a pool that changes by epoch needs fresh workers to see the epoch
            persistent_workers=self.num_workers > 0
            and not getattr(self.pool, "varies_by_epoch", False),
        )

    def val_dataloader(self) -> DataLoader[dict[str, Tensor]]:
        """Implement one or more PyTorch DataLoaders for validation.

        Returns:
            The validation data loader (an empty list when the validation split
            is empty: ``val_fraction`` is 0 or rounds to no sample).
        """
        if getattr(self, "val_dataset", None) is None:
            return []  # type: ignore[return-value]
        return self._dataloader_factory("val")

    def transform(
        self, batch: Mapping[str, Any], train: bool = False
    ) -> dict[str, Any]:
        """Apply the device-side pipeline outside a Trainer (e.g. for inspection).

        Args:
            batch: A collated batch.
            train: Use the training augmentation instead of the evaluation one.

        Returns:
            A copy of the batch with transformed images.
        """
        aug = self.train_aug if train and self.train_aug is not None else self.aug
        return dict(aug(dict(batch)))
