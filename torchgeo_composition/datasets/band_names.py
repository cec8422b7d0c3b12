"""The band names of a folder of rasters: given, from the files' descriptions, or numbered.

:func:`folder_band_names` checks what the file headers say (each file's band
count and band descriptions, read once while indexing) and returns the names of
the bands every file holds, in file order. Files are never assumed to hold the
Sentinel-2 bands in product order: EuroSAT's GeoTIFFs, for example, keep B8A
last. Bands that no file names are numbered ``band1 ... bandN``
(:func:`numbered_bands`): not ``b1 ... bN``, which the case-insensitive band
lookup would read as Sentinel-2's ``B1 ... B12``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence

import pandas as pd

from ..bands import canonical_band
from .indexing import DESCRIPTION_SEPARATOR

__all__ = [
    "UndescribedBandsWarning",
    "folder_band_names",
    "numbered_bands",
    "undescribed_warning",
]

#: Files named in a message before "and N more".
_SHOWN = 5


class UndescribedBandsWarning(UserWarning):
    """The files name no bands: they are called ``band1 ... bandN``."""


def numbered_bands(count: int) -> tuple[str, ...]:
    """Names of ``count`` bands that no file names: ``band1 ... bandN``.

    Args:
        count: Number of bands.

    Returns:
        The names; none of them is a Sentinel-2 band name or alias.
    """
    return tuple(f"band{i + 1}" for i in range(count))


def undescribed_warning(source: str, count: int) -> str:
    """The message of an :class:`UndescribedBandsWarning`.

    Args:
        source: The files (a folder or a file), for the message.
        count: Their number of bands.

    Returns:
        The message.
    """
    return (
        f"{source} have no band descriptions; their {count} bands are named band1 "
        f"... band{count}. Give all_bands (the band names in file order, e.g. "
        "Sentinel-2's) for models that select bands by name, such as Sentinel-2 "
        "models"
    )


def _files(root: str, paths: pd.Series, what: pd.Series) -> str:
    shown = ", ".join(
        f"{os.path.join(root, str(p))!r} ({w})"
        for p, w in zip(paths[:_SHOWN], what[:_SHOWN], strict=True)
    )
    more = f" and {len(paths) - _SHOWN} more" if len(paths) > _SHOWN else ""
    return shown + more


def _names(text: str) -> list[str]:
    return text.split(DESCRIPTION_SEPARATOR) if text else []


def _check_counts(index: pd.DataFrame, root: str, expected: int, given: bool) -> None:
    bad = index[index["count"] != expected]
    if not len(bad):
        return
    files = _files(root, bad["path"], bad["count"].astype(str) + " bands")
    if given:
        raise ValueError(
            f"{len(bad)} of {len(index)} files hold another number of bands than "
            f"all_bands names ({expected}): {files}; set all_bands to the bands "
            "stored in the files, in file order, or remove those files"
        )
    raise ValueError(
        f"{len(bad)} of {len(index)} files of {root!r} hold another number of bands "
        f"than the others ({expected}): {files}; a pool's files must hold the same "
        "bands: remove those files or keep them in another pool"
    )


def _check_order(index: pd.DataFrame, root: str, all_bands: Sequence[str]) -> None:
    """Refuse files that describe the same bands as all_bands in another order."""
    wanted = [canonical_band(b) for b in all_bands]
    for text in index["descriptions"].astype(str).unique():
        described = [canonical_band(n) for n in _names(text)]
        if sorted(described) == sorted(wanted) and described != wanted:
            first = index.loc[index["descriptions"].astype(str) == text, "path"]
            raise ValueError(
                f"all_bands is {list(all_bands)}, but {len(first)} file(s) of "
                f"{root!r} describe their bands in another order: {_names(text)} "
                f"(e.g. {os.path.join(root, str(first.iat[0]))!r}); set all_bands "
                "to the order of the files"
            )


def folder_band_names(
    index: pd.DataFrame, root: str, all_bands: Sequence[str] | None
) -> tuple[str, ...]:
    """Return the names of the bands of every file of a folder, in file order.

    With ``all_bands``, every file must hold that many bands, and files whose
    descriptions name the same bands in another order are refused. Without
    it, every file must hold as many bands as the others, and the names come
    from the files' band descriptions when every file has the same ones;
    files without any descriptions get ``band1 ... bandN`` with an
    :class:`UndescribedBandsWarning` (Sentinel-2 models need the names: give
    ``all_bands``).

    Args:
        index: The folder's index with ``path``, ``count`` and ``descriptions``
            (see :func:`~torchgeo_composition.datasets.indexing.read_raster_headers`).
        root: The folder, for messages.
        all_bands: The names given, or ``None``.

    Returns:
        The band names.

    Raises:
        ValueError: Naming the files (by path) whose band count differs, whose
            descriptions differ from the others' or are missing while others
            have them, or that describe ``all_bands`` in another order.
    """
    if all_bands is not None:
        _check_counts(index, root, len(all_bands), given=True)
        _check_order(index, root, all_bands)
        return tuple(all_bands)
    counts = index["count"].value_counts()
    _check_counts(index, root, int(counts.index[0]), given=False)
    count = int(counts.index[0])
    described = index["descriptions"].astype(str)
    kinds = described.value_counts()
    if len(kinds) == 1 and kinds.index[0] == "":
        warnings.warn(
            undescribed_warning(f"the files of {root!r}", count),
            UndescribedBandsWarning,
            stacklevel=4,
        )
        return numbered_bands(count)
    common = str(kinds.index[0]) if kinds.index[0] != "" else str(kinds.index[1])
    odd = index[described != common]
    if len(odd):
        what = (
            odd["descriptions"]
            .astype(str)
            .map(lambda t: f"bands {_names(t)}" if t else "no band descriptions")
        )
        raise ValueError(
            f"{len(odd)} of {len(index)} files of {root!r} name their bands "
            f"otherwise than the others ({_names(common)}): "
            f"{_files(root, odd['path'], what)}; give all_bands (the bands in file "
            "order) if every file holds the same bands, or remove those files"
        )
    return tuple(_names(common))
