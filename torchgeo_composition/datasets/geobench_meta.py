"""GEO-Bench v1 sample metadata: band names, channels, label and location.

Band names follow this package's spelling: Sentinel-2 bands are ``B1 ... B12``
and ``B8A`` (GEO-Bench stores ``"01 - Coastal aerosol"`` ... ``"08A - Vegetation
Red Edge"``), Landsat 8 bands ``L8_B1 ...``, Sentinel-1 bands ``S1_<name>`` (e.g.
``S1_VV.LEE Filtered``), bands of several channels (hyperspectral)
``<name>_1 ... <name>_N``; other bands (RGB aerial imagery, elevation, cloud
probability) keep their stored name.

**m-eurosat's stored names are wrong for channels 8 to 12.** Its converter named
the 13 channels of EuroSAT's GeoTIFFs in wavelength order, but those files hold
``B1 ... B8, B9, B10, B11, B12, B8A`` (B8A last), so the datasets stored as
``08A``, ``09``, ``10``, ``11`` and ``12`` hold B9, B10, B11, B12 and B8A.
:func:`band_name` applies that correction for m-eurosat (band statistics,
stored under the same names, follow it).
"""

from __future__ import annotations

import ast
import functools
import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

import affine
import numpy as np
from pyproj import Transformer
from rasterio.crs import CRS

from ..bands import S2_BANDS, canonical_band
from .geobench_pickle import (
    BandInfo,
    LabelType,
    Landsat8,
    MultiBand,
    PickledCRS,
    Sentinel1,
    Sentinel2,
)

__all__ = [
    "EUROSAT_BAND_FIX",
    "SampleMeta",
    "as_label",
    "band_name",
    "decode_pickle_attribute",
    "order_bands",
    "sample_meta",
]

#: m-eurosat: the stored name's number -> the band the channel really holds.
EUROSAT_BAND_FIX: dict[str, str] = {
    "08A": "B9",
    "09": "B10",
    "10": "B11",
    "11": "B12",
    "12": "B8A",
}


def _number(stored: str) -> str:
    return stored.split(" - ", 1)[0].strip()


def band_name(info: BandInfo, task: str) -> list[str]:
    """Return this package's name(s) of a GEO-Bench band.

    Args:
        info: The band's GEO-Bench band info (from a sample's metadata).
        task: The task name (m-eurosat's names are corrected).

    Returns:
        One name, or one per channel of a multi-channel band.
    """
    stored = str(info.name)
    if isinstance(info, Sentinel2):
        number = _number(stored)
        if task == "m-eurosat" and number in EUROSAT_BAND_FIX:
            return [EUROSAT_BAND_FIX[number]]
        return [canonical_band(f"B{number}")]
    if isinstance(info, Landsat8):
        number = _number(stored)
        return [f"L8_B{int(number)}" if number.isdigit() else f"L8_{number}"]
    if isinstance(info, Sentinel1):
        rest = stored.split(" - ", 1)[-1].strip()
        return [f"S1_{rest}"]
    if isinstance(info, MultiBand) and info.n_bands:
        return [f"{stored}_{i + 1}" for i in range(int(info.n_bands))]
    return [stored]


def order_bands(names: Sequence[str]) -> list[str]:
    """Sentinel-2 bands in product order first, then the others as stored.

    Args:
        names: Band names of a task.

    Returns:
        The default channel order of the task's images.
    """
    s2 = sorted((n for n in names if n in S2_BANDS), key=S2_BANDS.index)
    return [*s2, *(n for n in names if n not in S2_BANDS)]


@dataclass(frozen=True)
class SampleMeta:
    """What one sample file's metadata says.

    Attributes:
        channels: Band name -> (HDF5 dataset name, channel within it or -1).
        stored: Band name -> the band's stored (GEO-Bench) name.
        label: The classification label (int or multi-hot array), or ``None``.
        mask_key: The dataset of a segmentation label, or ``None``.
        lon: Longitude of the image centre (NaN without geotransform or CRS).
        lat: Latitude of the image centre (NaN likewise).
    """

    channels: dict[str, tuple[str, int]]
    stored: dict[str, str]
    label: Any
    mask_key: str | None
    lon: float
    lat: float


@functools.lru_cache(maxsize=64)
def _to_lonlat(crs_text: str) -> Transformer:
    return Transformer.from_crs(
        CRS.from_user_input(crs_text), "EPSG:4326", always_xy=True
    )


def _crs_text(crs: Any) -> str | None:
    if crs is None:
        return None
    if isinstance(crs, PickledCRS):  # WKT text (cached transformer) or a mapping
        return crs.state if isinstance(crs.state, str) else crs.to_crs().to_wkt()
    if isinstance(crs, CRS):
        return str(crs.to_wkt())
    return str(crs)


def _centre(
    transform: Any, crs: Any, shape: Sequence[int], path: str
) -> tuple[float, float]:
    """Longitude and latitude of the centre of an image of ``shape`` (H, W, ...)."""
    text = _crs_text(crs)
    if not isinstance(transform, affine.Affine) or text is None:
        return math.nan, math.nan
    x, y = transform @ (shape[1] / 2.0, shape[0] / 2.0)
    try:
        lon, lat = _to_lonlat(text).transform(x, y)
    except Exception as err:  # an unknown CRS text
        raise ValueError(
            f"{path!r}: its CRS {text[:80]!r} cannot be turned into longitude and "
            f"latitude ({err})"
        ) from err
    if not (math.isfinite(lon) and math.isfinite(lat)):
        return math.nan, math.nan
    return float(lon), float(lat)


def sample_meta(
    attrs: dict[str, Any],
    datasets: Collection[str],
    shape_of: Callable[[str], Sequence[int]],
    task: str,
    path: str,
) -> SampleMeta:
    """Read what a sample's unpickled metadata says.

    A band stored at several dates is taken at its first date in the file's
    band order (GEO-Bench v1 tasks hold one date per band).

    Args:
        attrs: The unpickled ``pickle`` attribute (band descriptor -> attributes,
            ``bands_order``, ``label``).
        datasets: The names of the file's datasets.
        shape_of: The shape of a dataset (asked for one band, for the location).
        task: The task name.
        path: The sample file, for messages.

    Returns:
        The sample's metadata.

    Raises:
        ValueError: If the metadata does not describe the file's datasets.
    """
    if not isinstance(attrs, dict):
        raise ValueError(
            f"{path!r}: its metadata pickle holds a {type(attrs).__name__}, not the "
            "mapping GEO-Bench v1 writes"
        )
    order = attrs.get("bands_order") or list(datasets)
    channels: dict[str, tuple[str, int]] = {}
    stored: dict[str, str] = {}
    mask_key = None
    lon = lat = math.nan
    for key in order:
        entry = attrs.get(key)
        if key not in datasets:
            raise ValueError(
                f"{path!r}: its metadata lists the band {key!r} but the file has no "
                f"such dataset (datasets: {sorted(datasets)})"
            )
        info = entry.get("band_info") if isinstance(entry, dict) else None
        if isinstance(info, LabelType) or key == "label" or key.startswith("label_"):
            mask_key = key
            continue
        if not isinstance(info, BandInfo):
            info = BandInfo(name=key.split("_", 1)[0])
        names = band_name(info, task)
        for i, name in enumerate(names):
            if name not in channels:
                channels[name] = (key, i if len(names) > 1 else -1)
                stored[name] = str(info.name)
        if math.isnan(lon) and isinstance(entry, dict):
            if entry.get("transform") is not None and entry.get("crs") is not None:
                lon, lat = _centre(
                    entry["transform"], entry["crs"], shape_of(key), path
                )
    return SampleMeta(channels, stored, attrs.get("label"), mask_key, lon, lat)


def as_label(value: Any, path: str) -> int | np.ndarray:
    """Check a classification label: an integer or a multi-hot vector.

    Args:
        value: The label of the metadata.
        path: The sample file, for messages.

    Returns:
        The label.

    Raises:
        ValueError: If there is no label or it is neither.
    """
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, np.ndarray) and value.ndim == 1:
        return value.astype(np.int64)
    if isinstance(value, (list, tuple)):
        return np.asarray(value, dtype=np.int64)
    raise ValueError(
        f"{path!r}: its metadata holds no classification label (found "
        f"{type(value).__name__}); expected an integer or a multi-hot vector"
    )


def decode_pickle_attribute(value: Any, path: str) -> bytes:
    """Return the pickle bytes of a sample's ``pickle`` HDF5 attribute.

    GEO-Bench writes ``str(pickle.dumps(...))``, the text of a bytes literal; it
    is parsed with :func:`ast.literal_eval` (literals only, nothing is run).

    Args:
        value: The attribute as h5py returns it (``str`` or ``bytes``).
        path: The sample file, for messages.

    Returns:
        The pickle bytes.

    Raises:
        ValueError: If the attribute is not the text of a bytes literal.
    """
    if isinstance(value, bytes) and not value.startswith((b"b'", b'b"')):
        return value
    text = value.decode("utf-8") if isinstance(value, bytes) else str(value)
    try:
        data = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError) as err:
        raise ValueError(
            f"{path!r}: its 'pickle' attribute is not the text of a bytes literal "
            f"({type(err).__name__}); expected a GEO-Bench v1 sample file"
        ) from err
    if not isinstance(data, bytes):
        raise ValueError(
            f"{path!r}: its 'pickle' attribute holds a {type(data).__name__}, not "
            "the text of a bytes literal; expected a GEO-Bench v1 sample file"
        )
    return data
