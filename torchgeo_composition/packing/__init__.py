"""Packs: a manifest's samples as one LitData-optimised dataset per stratum.

:func:`pack` writes a pack to a folder or an object-store URL;
:func:`read_pack_summary` reads what a finished pack holds (:class:`PackSummary`),
and :func:`stratum_weights` turns a composition into the weights of its strata.
:class:`~torchgeo_composition.datamodules.StreamingStratifiedDataModule` streams
a pack into training.
"""

from .store import StoreError, allow_http_endpoint, is_remote, storage_options
from .summary import (
    PARTIAL_NAME,
    SUMMARY_NAME,
    PackSummary,
    read_pack_summary,
    stratum_folders,
)
from .weights import stratum_weights
from .writer import DTYPES, PackDtype, PackResult, pack, stratum_count

__all__ = [
    "DTYPES",
    "PARTIAL_NAME",
    "SUMMARY_NAME",
    "PackDtype",
    "PackResult",
    "PackSummary",
    "StoreError",
    "allow_http_endpoint",
    "is_remote",
    "pack",
    "read_pack_summary",
    "storage_options",
    "stratum_count",
    "stratum_folders",
    "stratum_weights",
]
