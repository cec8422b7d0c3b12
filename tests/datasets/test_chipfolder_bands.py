"""ChipFolder's band names: given, from the files' band descriptions, or numbered."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from tests.data.chips import write_chip
from torchgeo_composition.bands import S2_BANDS
from torchgeo_composition.datasets import ChipFolder, UndescribedBandsWarning

#: EuroSAT's GeoTIFFs: the 13 bands with B8A last.
EUROSAT = (*S2_BANDS[:8], *S2_BANDS[9:], "B8A")


def _chip(path: Path, count: int, descriptions: tuple[str, ...] | None) -> None:
    data = np.stack([np.full((4, 4), 10 * (b + 1), np.uint16) for b in range(count)])
    write_chip(path, 10.0, 50.0, data=data, descriptions=descriptions)


def test_names_come_from_the_band_descriptions(tmp_path: Path) -> None:
    for name in ("a", "b"):
        _chip(tmp_path / f"{name}.tif", 13, EUROSAT)
    pool = ChipFolder(tmp_path, bands=["B8A", "B2"])
    assert pool.all_bands == EUROSAT
    image = pool[0]["image"]
    assert image[:, 0, 0].tolist() == [130.0, 20.0]  # B8A is the 13th band


def test_files_without_descriptions_are_numbered_with_a_warning(
    tmp_path: Path,
) -> None:
    for name in ("a", "b"):
        _chip(tmp_path / f"{name}.tif", 4, None)
    with pytest.warns(UndescribedBandsWarning, match=r"band1 \.\.\. band4.*all_bands"):
        pool = ChipFolder(tmp_path)
    assert pool.bands == ("band1", "band2", "band3", "band4")
    assert pool[1]["image"].shape == (4, 4, 4)
    with pytest.raises(ValueError, match=r"band 'B2' is not available.*'band1'"):
        ChipFolder(tmp_path, bands=["B2"])  # S2 names are never assumed
    given = ChipFolder(tmp_path, all_bands=["B4", "B3", "B2", "B8"], bands=["B8"])
    assert torch.equal(given[0]["image"][0], torch.full((4, 4), 40.0))


@pytest.mark.parametrize(
    ("odd", "message"),
    [
        (
            {"count": 3, "descriptions": None},
            r"1 of 3 files .* hold another number of bands than the others \(4\): "
            r"'.*c\.tif' \(3 bands\)",
        ),
        (
            {"count": 4, "descriptions": ("B2", "B3", "B4", "B5")},
            r"1 of 3 files .* name their bands otherwise than the others "
            r"\(\['B4', 'B3', 'B2', 'B8'\]\): '.*c\.tif' \(bands \['B2'",
        ),
        (
            {"count": 4, "descriptions": None},
            r"'.*c\.tif' \(no band descriptions\); give all_bands",
        ),
    ],
)
def test_a_file_unlike_the_others_is_named(
    tmp_path: Path, odd: dict[str, object], message: str
) -> None:
    for name in ("a", "b"):
        _chip(tmp_path / f"{name}.tif", 4, ("B4", "B3", "B2", "B8"))
    _chip(tmp_path / "c.tif", **odd)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=message):
        ChipFolder(tmp_path)


def test_all_bands_in_another_order_than_the_descriptions_is_refused(
    tmp_path: Path,
) -> None:
    _chip(tmp_path / "a.tif", 13, EUROSAT)
    with pytest.raises(ValueError, match=r"describe their bands in another order"):
        ChipFolder(tmp_path, all_bands=S2_BANDS)
    assert ChipFolder(tmp_path, all_bands=EUROSAT).all_bands == EUROSAT
