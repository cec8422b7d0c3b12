"""Pools of samples to draw pretraining sets from, and small synthetic datasets.

A pool is a :class:`PoolDataset`: a TorchGeo ``NonGeoDataset`` whose
:meth:`~PoolDataset.index` gives every sample's centre in longitude and latitude.
"""

from .band_names import UndescribedBandsWarning
from .chips import EMPTY_CHIP_POLICIES, ChipFolder, EmptyChips
from .fmow import (
    FMOW_CATEGORIES,
    FMOW_SPLITS,
    FMoWSentinelClassification,
    FMoWSentinelPool,
)
from .geobench import GeoBenchDataset
from .geobench_tasks import GEOBENCH_PARTITIONS, GEOBENCH_TASKS
from .majortom import MAJORTOM_BANDS, MajorTOMPool
from .pixels import BadSample, EmptyChipError
from .pool import INDEX_COLUMNS, PoolDataset
from .ssl4eo import SSL4EOS12Pool
from .ssl4eo_v11 import SSL4EO_V11_BANDS, SSL4EOS12V11Pool
from .synthetic import CONTINENT_SHARES, LAND_COVERS, SyntheticSentinel2Pool
from .synthetic_landcover import SyntheticLandCover
from .table import TablePool
from .terramesh import TERRAMESH_BANDS, TerraMeshPool

__all__ = [
    "CONTINENT_SHARES",
    "EMPTY_CHIP_POLICIES",
    "FMOW_CATEGORIES",
    "FMOW_SPLITS",
    "GEOBENCH_PARTITIONS",
    "GEOBENCH_TASKS",
    "INDEX_COLUMNS",
    "LAND_COVERS",
    "MAJORTOM_BANDS",
    "SSL4EO_V11_BANDS",
    "TERRAMESH_BANDS",
    "BadSample",
    "ChipFolder",
    "EmptyChipError",
    "EmptyChips",
    "FMoWSentinelClassification",
    "FMoWSentinelPool",
    "GeoBenchDataset",
    "MajorTOMPool",
    "PoolDataset",
    "SSL4EOS12Pool",
    "SSL4EOS12V11Pool",
    "SyntheticLandCover",
    "SyntheticSentinel2Pool",
    "TablePool",
    "TerraMeshPool",
    "UndescribedBandsWarning",
]
