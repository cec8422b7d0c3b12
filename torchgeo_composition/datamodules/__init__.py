"""Lightning datamodules serving stratified pretraining sets (and a demo task)."""

from ..sampling import build_manifest, stratified_index
from .raster import StratifiedRasterDataModule
from .sampler import ShardedManifestSampler, shard_sizes
from .stratified import ContinentStratifiedDataModule, ManifestDataset
from .synthetic_landcover import SyntheticLandCoverDataModule
from .transforms import SatMAENormalize

__all__ = [
    "ContinentStratifiedDataModule",
    "ManifestDataset",
    "SatMAENormalize",
    "ShardedManifestSampler",
    "StratifiedRasterDataModule",
    "SyntheticLandCoverDataModule",
    "build_manifest",
    "shard_sizes",
    "stratified_index",
]
