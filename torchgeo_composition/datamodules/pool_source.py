"""A pool, or the part of it a manifest lists, as a source of normalised samples."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from ..bands import SATMAE_BANDS, canonical_band
from ..datasets import PoolDataset
from ..geography import RegionLayer
from ..sampling import UNASSIGNED, read_manifest, stratified_index
from .channels import select_channels
from .manifest_dataset import ManifestDataset
from .transforms import batch_pipeline, build_normalization

__all__ = ["PoolSource"]


class PoolSource:
    """The samples of a pool (all, or those of a manifest), normalised on request.

    Offers what a datamodule offers a measurement (the
    :class:`~torchgeo_composition.diversity.PredictSource` protocol):
    ``setup("predict")`` builds :attr:`predict_dataset` (sample dicts with the
    selected bands and the stratum in ``continent``), :attr:`aug` normalises a
    batch and :attr:`bands` names its channels.
    """

    def __init__(
        self,
        pool: PoolDataset,
        manifest_path: str | None = None,
        layer: RegionLayer | None = None,
        bands: list[str] | None = None,
        normalization: Literal["satmae", "none"] = "satmae",
    ) -> None:
        """Initialize a new PoolSource instance.

        Args:
            pool: The pool.
            manifest_path: Manifest of ``pool`` whose samples are served; ``None``
                serves the whole pool.
            layer: Region layer giving the strata of a whole pool; ``None`` =
                continents (a manifest brings its own strata).
            bands: Bands to serve, in order; ``None`` = SatMAE's 10 when the pool
                has them, else all of the pool's channels (always all for a pool
                whose channels repeat band names, e.g. several seasons).
            normalization: ``satmae`` (FMoW-Sentinel statistics) or ``none``.

        Raises:
            ValueError: If a band is unknown or named twice, selected by name from
                a pool whose channels repeat band names, or ``normalization`` is
                invalid or needs statistics the bands do not have.
            FileNotFoundError: If ``manifest_path`` does not exist.
        """
        available = [canonical_band(b) for b in pool.bands]
        if bands is None and len(set(available)) == len(available):
            satmae = all(b in available for b in SATMAE_BANDS)
            bands = list(SATMAE_BANDS) if satmae else None
        if manifest_path is not None and not Path(manifest_path).is_file():
            raise FileNotFoundError(f"manifest_path {manifest_path!r} does not exist")
        self.pool = pool
        self.manifest_path = manifest_path
        self.layer = layer
        names, self.channels = select_channels(pool.bands, bands, pool)
        self.bands = list(names)
        steps = build_normalization(normalization, self.bands)
        self.aug: Callable[[dict[str, Any]], dict[str, Any]] = batch_pipeline(*steps)
        self.predict_dataset: ManifestDataset | None = None

    def setup(self, stage: str) -> None:
        """Build :attr:`predict_dataset` (for any stage).

        Args:
            stage: Ignored: the same samples serve every stage.
        """
        if self.manifest_path is not None:
            manifest, _ = read_manifest(self.manifest_path)
            positions = self.pool.positions(manifest["sample_id"].tolist())
            strata = manifest["stratum"].tolist()
        else:
            index = stratified_index(self.pool, self.layer)
            positions = list(range(len(index)))
            strata = index["stratum"].tolist()
        labels = [UNASSIGNED if s is None or s != s else str(s) for s in strata]
        self.predict_dataset = ManifestDataset(
            self.pool, positions, labels, self.channels
        )
