"""FMoW-Sentinel as a pool: 13-band GeoTIFFs located by the CSVs' polygons."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from ..bands import S2_BANDS, band_indices
from ..geography import continent_of
from .geotiff import read_geotiff
from .metadata import (
    MetadataPool,
    MissingPolicy,
    absolute_paths,
    cached_metadata_index,
    drop_missing_files,
)
from .metatables import (
    geometry_centres,
    read_table,
    table_columns,
)

__all__ = [
    "FMOW_CATEGORIES",
    "FMOW_SPLITS",
    "FMoWSentinelClassification",
    "FMoWSentinelPool",
]

#: The CSV of each split.
FMOW_SPLITS: dict[str, str] = {
    "train": "train.csv",
    "val": "val.csv",
    "test": "test_gt.csv",
}

#: The 62 FMoW categories; a category's label is its position.
FMOW_CATEGORIES: tuple[str, ...] = tuple(
    """airport airport_hangar airport_terminal amusement_park aquaculture
    archaeological_site barn border_checkpoint burial_site car_dealership
    construction_site crop_field dam debris_or_rubble educational_institution
    electric_substation factory_or_powerplant fire_station flooded_road fountain
    gas_station golf_course ground_transportation_station helipad hospital
    impoverished_settlement interchange lake_or_pond lighthouse military_facility
    multi-unit_residential nuclear_powerplant office_building oil_or_gas_facility
    park parking_lot_or_garage place_of_worship police_station port prison
    race_track railway_bridge recreational_facility road_bridge runway shipyard
    shopping_mall single-unit_residential smokestack solar_farm space_facility
    stadium storage_tank surface_mine swimming_pool toll_booth tower
    tunnel_opening waste_disposal water_treatment_facility wind_farm zoo""".split()
)

_REQUIRED = ("category", "location_id", "image_id", "polygon")


class FMoWSentinelPool(MetadataPool):
    """FMoW-Sentinel (the SatMAE pretraining set) as a pool.

    Layout under ``root`` (the Stanford Digital Repository release)::

        train.csv  val.csv  test_gt.csv
        <folder>/<category>/<category>_<location_id>/<category>_<location_id>_<image_id>.tif

    where ``<folder>`` is the CSV's name without ``.csv`` (``train``, ``val``,
    ``test_gt``) unless ``image_folder`` says otherwise. Each CSV row
    (``category, location_id, image_id, timestamp, polygon``) is one sample,
    with the id ``<category>_<location_id>_<image_id>``; its centre is the centre
    of the bounds of ``polygon`` (WKT, longitude/latitude). The index comes from
    the CSV alone; ``category``, ``location_id``, ``image_id`` and ``timestamp``
    stay in it, so categories can serve as strata. Images hold the 13
    Sentinel-2 bands (B1 ... B12 with B8A) in wavelength order and differ in
    size: set ``size`` to batch them.
    """

    def __init__(
        self,
        root: str | os.PathLike[str] = "data",
        split: Literal["train", "val", "test"] = "train",
        bands: Sequence[str] | None = None,
        size: int | None = None,
        image_folder: str | None = None,
        nodata: float | None = None,
        fill_value: float = 0.0,
        on_missing: MissingPolicy = "error",
        transforms: Callable[[dict[str, Tensor]], dict[str, Tensor]] | None = None,
    ) -> None:
        """Initialize a new FMoWSentinelPool instance.

        Args:
            root: Folder holding the CSVs and the image folders.
            split: ``train``, ``val`` or ``test`` (``test_gt.csv``).
            bands: Bands to read, in order; ``None`` = the 13 Sentinel-2 bands.
            size: If given, images are resampled (nearest) to ``size x size``.
            image_folder: Folder of the split's images under ``root``; ``None`` =
                the CSV's name without ``.csv``.
            nodata: Value marking missing pixels; ``None`` = each file's own tag.
            fill_value: Value given to missing, NaN or infinite pixels.
            on_missing: What to do with rows whose image is missing:
                ``"error"``, ``"skip"`` (with a warning) or ``"ignore"``.
            transforms: A function/transform that takes a sample dict and returns a
                transformed version.

        Raises:
            FileNotFoundError: If the CSV is missing, or (with
                ``on_missing="error"``) an image it names.
            ValueError: For an unknown split or band, a bad size, a CSV without
                the needed columns, or invalid polygons.
        """
        if split not in FMOW_SPLITS:
            raise ValueError(
                f"split {split!r} is not valid; valid choices are {list(FMOW_SPLITS)}"
            )
        if size is not None and size <= 0:
            raise ValueError(f"size must be a positive number of pixels, got {size}")
        self.root = Path(root)
        self.split = split
        self.csv_path = self.root / FMOW_SPLITS[split]
        self.image_folder = image_folder or self.csv_path.stem
        self.all_bands = S2_BANDS
        self.bands = tuple(bands) if bands is not None else self.all_bands
        self._indexes = [i + 1 for i in band_indices(self.all_bands, self.bands)]
        self.size = size
        self.nodata = nodata
        self.fill_value = float(fill_value)
        self.transforms = transforms
        source = str(self.csv_path)
        index = cached_metadata_index(
            self.root, "fmow-sentinel", [self.csv_path], self.image_folder, self._build
        )
        index = drop_missing_files(index, self.root, on_missing, source)
        self._set_index(index, source)
        self._paths = absolute_paths(self.root, self._index["path"])

    def _build(self) -> pd.DataFrame:
        """Build the index from the split's CSV."""
        extra = ["timestamp"] if "timestamp" in table_columns(self.csv_path) else []
        table = read_table(self.csv_path, [*_REQUIRED, *extra], "csv")
        lon, lat = geometry_centres(
            table["polygon"], None, str(self.csv_path), "polygon"
        )
        category = table["category"].astype(str)
        stem = category + "_" + table["location_id"].astype(str)
        image = stem + "_" + table["image_id"].astype(str)
        frame = pd.DataFrame(
            {
                "sample_id": image,
                "path": f"{self.image_folder}/"
                + category
                + "/"
                + stem
                + "/"
                + image
                + ".tif",
                "lon": lon,
                "lat": lat,
                "category": category,
                "location_id": table["location_id"].to_numpy(dtype=np.int64),
                "image_id": table["image_id"].to_numpy(dtype=np.int64),
            }
        )
        if extra:
            frame["timestamp"] = table["timestamp"].astype(str).to_numpy()
        return frame

    def read(self, index: int) -> np.ndarray:
        """Return the pixels of one image.

        Args:
            index: Position of the sample.

        Returns:
            Array (len(bands), H, W) float32 with missing pixels set to
            ``fill_value``.

        Raises:
            ValueError: If the file is not a readable 13-band raster (named).
        """
        return read_geotiff(
            self._paths[index], self._indexes, self.size, self.nodata, self.fill_value
        )

    def _describe(self) -> str:
        return f"split={self.split!r}"


class FMoWSentinelClassification(FMoWSentinelPool):
    """FMoW-Sentinel's 62-class classification: the pool's samples with labels.

    Samples add ``label`` (the position of the CSV row's ``category`` in
    :data:`FMOW_CATEGORIES`) and ``continent`` (of the image centre, ``""`` off
    land) to the pool's ``image``, ``lon`` and ``lat``. Takes the arguments of
    :class:`FMoWSentinelPool`.

    Raises:
        ValueError: If a CSV row names a category outside :data:`FMOW_CATEGORIES`.
    """

    def _set_index(self, index: pd.DataFrame, source: str) -> None:
        super()._set_index(index, source)
        known = {c: i for i, c in enumerate(FMOW_CATEGORIES)}
        categories = self._index["category"].astype(str)
        unknown = sorted(set(categories) - set(known))
        if unknown:
            raise ValueError(
                f"metadata table {source!r} names categories outside FMoW's 62: "
                f"{unknown[:5]}; valid choices are {list(FMOW_CATEGORIES)}"
            )
        self._labels = categories.map(known).to_numpy(dtype=np.int64)
        found = continent_of(self._index["lon"], self._index["lat"])
        self._continents = [str(c) if c else "" for c in found]

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        """Return one sample.

        Args:
            index: Position of the sample in :meth:`index`.

        Returns:
            ``image``, ``label``, ``lon``, ``lat`` and ``continent``.
        """
        transforms, self.transforms = self.transforms, None
        try:
            sample: dict[str, Any] = dict(super().__getitem__(index))
        finally:
            self.transforms = transforms
        sample["label"] = torch.tensor(self._labels[index])
        sample["continent"] = self._continents[index]
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample
