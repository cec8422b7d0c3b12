"""A deterministic grid of square chips over Major TOM cells, with each chip's centre."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pyproj import CRS, Transformer

__all__ = ["PIXEL_SIZE_M", "chip_grid", "expand_chips"]

#: Pixel size of Major TOM Core's 10 m bands, in metres of the cell's UTM CRS.
PIXEL_SIZE_M = 10.0


def chip_grid(cell_size: int, chip_size: int) -> tuple[int, int]:
    """Return the chips per side of a cell and the offset of the first chip.

    The grid is centred in the cell: ``n = cell_size // chip_size`` chips per
    side, starting ``(cell_size - n * chip_size) // 2`` pixels from the top-left
    corner.

    Args:
        cell_size: Side of a cell in 10 m pixels.
        chip_size: Side of a chip in 10 m pixels.

    Returns:
        ``(n, offset)``.

    Raises:
        ValueError: If a chip does not fit in a cell.
    """
    if chip_size <= 0 or chip_size > cell_size:
        raise ValueError(
            f"chip_size {chip_size} is not valid; it must be between 1 and "
            f"cell_size ({cell_size}) pixels"
        )
    n = cell_size // chip_size
    return n, (cell_size - n * chip_size) // 2


def expand_chips(
    cells: pd.DataFrame, cell_size: int, chip_size: int, source: str
) -> pd.DataFrame:
    """Replace every cell of an index by the chips of its grid.

    Chip ``(row, col)`` (row 0 at the top, north) gets the id
    ``<cell sample_id>/<row>_<col>`` and its own centre: the cell's centre moved
    by the chip's offset from the cell's middle, in the cell's CRS (``crs``
    column, e.g. ``EPSG:32633``), at :data:`PIXEL_SIZE_M` metres per pixel, then
    reprojected to longitude/latitude.

    Args:
        cells: Index of cells with ``sample_id``, ``lon``, ``lat`` and ``crs``.
        cell_size: Side of a cell in 10 m pixels.
        chip_size: Side of a chip in 10 m pixels.
        source: The metadata table, for messages.

    Returns:
        One row per chip (cell columns repeated) plus ``cell`` (position of the
        cell in ``cells``), ``chip_row`` and ``chip_col``.

    Raises:
        ValueError: If the ``crs`` column is missing or holds an unknown CRS.
    """
    if "crs" not in cells:
        raise ValueError(
            f"chip_size needs the cells' CRS, but metadata table {source!r} has no "
            "'crs' column"
        )
    n, offset = chip_grid(cell_size, chip_size)
    per_cell = n * n
    cell = np.repeat(np.arange(len(cells)), per_cell)
    rows = np.tile(np.repeat(np.arange(n), n), len(cells))
    cols = np.tile(np.tile(np.arange(n), n), len(cells))
    chips = cells.iloc[cell].reset_index(drop=True)
    # offsets of chip centres from the cell's middle, in metres (y grows north)
    dx = ((offset + (cols + 0.5) * chip_size) - cell_size / 2) * PIXEL_SIZE_M
    dy = -((offset + (rows + 0.5) * chip_size) - cell_size / 2) * PIXEL_SIZE_M
    lon = chips["lon"].to_numpy(dtype=np.float64).copy()
    lat = chips["lat"].to_numpy(dtype=np.float64).copy()
    codes, found = pd.factorize(cells["crs"])  # per cell: chips repeat them
    codes = np.repeat(codes, per_cell)
    for code, value in enumerate(str(v) for v in found):
        try:
            crs = CRS.from_user_input(value if not value.isdigit() else int(value))
        except Exception as err:  # pyproj raises its own CRSError
            raise ValueError(
                f"metadata table {source!r} has crs {value!r}, which is not a "
                f"coordinate reference system ({err})"
            ) from err
        sel = codes == code
        forward = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
        back = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
        x, y = forward.transform(lon[sel], lat[sel])
        lon[sel], lat[sel] = back.transform(
            np.asarray(x) + dx[sel], np.asarray(y) + dy[sel]
        )
    suffix = pd.Series(rows.astype(str)) + "_" + pd.Series(cols.astype(str))
    return chips.assign(
        sample_id=chips["sample_id"] + "/" + suffix,
        lon=lon,
        lat=lat,
        cell=cell,
        chip_row=rows,
        chip_col=cols,
    )
