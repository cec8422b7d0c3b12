"""Lightning datamodules serving stratified pretraining sets (and a demo task)."""

from ..sampling import build_manifest, stratified_index
from .downstream import DownstreamDataModule
from .fmow_sentinel import FMoWSentinelDataModule
from .geobench import GeoBenchDataModule
from .manifest_dataset import ManifestDataset
from .raster import StratifiedRasterDataModule
from .resumable import ResumableDataLoader
from .sampler import ShardedManifestSampler, shard_sizes
from .stratified import ContinentStratifiedDataModule
from .streaming import StreamingStratifiedDataModule
from .synthetic_landcover import SyntheticLandCoverDataModule
from .transforms import (
    NORMALIZATIONS,
    SatMAENormalize,
    batch_pipeline,
    build_normalization,
)

__all__ = [
    "NORMALIZATIONS",
    "ContinentStratifiedDataModule",
    "DownstreamDataModule",
    "FMoWSentinelDataModule",
    "GeoBenchDataModule",
    "ManifestDataset",
    "ResumableDataLoader",
    "SatMAENormalize",
    "ShardedManifestSampler",
    "StratifiedRasterDataModule",
    "StreamingStratifiedDataModule",
    "SyntheticLandCoverDataModule",
    "batch_pipeline",
    "build_manifest",
    "build_normalization",
    "shard_sizes",
    "stratified_index",
]
