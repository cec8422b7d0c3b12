"""Parallel, cached indexing of folders of rasters (CRS + bounds, no pixel reads).

The building blocks of a pool's :meth:`~torchgeo_composition.datasets.PoolDataset.index`
over files: :func:`scan_files` lists them, :func:`signature` fingerprints the
listing, :func:`read_raster_headers` finds every file's centre in longitude and
latitude (and its band count and size), and :func:`cached_index` keeps the result
in the pool's folder until the files change, with a content hash that is checked
on every load.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import rasterio
from pyproj import CRS, Transformer
from rasterio.errors import RasterioIOError
from tqdm.auto import tqdm

from .index_cache import INDEX_LOCK_TIMEOUT_S, cached_index

__all__ = [
    "DESCRIPTION_SEPARATOR",
    "GDAL_OPTIONS",
    "INDEX_FILENAME",
    "INDEX_LOCK_TIMEOUT_S",
    "PROCESS_THRESHOLD",
    "FileEntry",
    "cached_index",
    "check_lonlat",
    "read_raster_headers",
    "scan_files",
    "signature",
]

#: Separator of the band names in the ``descriptions`` column of
#: :func:`read_raster_headers`.
DESCRIPTION_SEPARATOR = "\x1f"

#: Name of the cached index file written into a pool's root folder.
INDEX_FILENAME = ".tgc_index.parquet"

#: Index format version; bump to invalidate old caches.
_VERSION = "2"


#: GDAL settings for opening many small rasters (as TorchGeo's CLI sets them).
GDAL_OPTIONS: dict[str, str] = {"GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR"}

#: From this many files on, headers are read by a pool of processes.
PROCESS_THRESHOLD = 10_000

#: Files per task submitted to the worker pool.
_CHUNK = 512

FileEntry = tuple[str, int, int]  # (relative posix path, size, mtime_ns)


def scan_files(root: Path, suffixes: Sequence[str]) -> list[FileEntry]:
    """List files under ``root`` whose name ends with one of ``suffixes``.

    Hidden files and folders (name starting with ``.``) are skipped.

    Args:
        root: Folder to scan recursively.
        suffixes: Lower-case file name endings to keep, e.g. ``(".tif", ".tiff")``.

    Returns:
        ``(relative path, size, mtime_ns)`` per file, sorted by path.
    """
    out: list[FileEntry] = []
    stack = [root]
    while stack:
        folder = stack.pop()
        with os.scandir(folder) as it:
            for entry in it:
                if entry.name.startswith("."):
                    continue
                if entry.is_dir(follow_symlinks=True):
                    stack.append(Path(entry.path))
                elif entry.name.lower().endswith(tuple(suffixes)):
                    st = entry.stat(follow_symlinks=True)
                    rel = Path(entry.path).relative_to(root).as_posix()
                    out.append((rel, st.st_size, st.st_mtime_ns))
    out.sort()
    return out


def signature(files: Sequence[FileEntry], extra: str = "") -> str:
    """Hash a file listing (paths, sizes, modification times).

    Args:
        files: Output of :func:`scan_files`.
        extra: Further text mixed into the hash (e.g. index options).

    Returns:
        A hexadecimal SHA-256 digest.
    """
    digest = hashlib.sha256(f"v{_VERSION}|{extra}\n".encode())
    for rel, size, mtime in files:
        digest.update(f"{rel}\t{size}\t{mtime}\n".encode())
    return digest.hexdigest()


def _header(path: str) -> tuple[str, float, float, int, int, int, str]:
    """Read one raster's CRS, bounds centre, band count, size and band names.

    Args:
        path: Raster file path.

    Returns:
        ``(crs_wkt, centre x, centre y, band count, height, width,
        descriptions)`` in the file's CRS; ``descriptions`` joins the band
        descriptions with :data:`DESCRIPTION_SEPARATOR`, or is empty when a band
        has none or two bands share one.

    Raises:
        ValueError: If the file is not a raster or has no CRS.
    """
    try:
        with rasterio.open(path) as src:
            crs = src.crs
            bounds = src.bounds
            count = src.count
            height, width = src.height, src.width
            names = src.descriptions
    except RasterioIOError as err:
        raise ValueError(
            f"file {path!r} is not a readable raster ({err}); a pool folder may only "
            "hold GeoTIFF chips"
        ) from err
    if crs is None:
        raise ValueError(
            f"raster {path!r} has no CRS; every chip needs a coordinate reference "
            "system to locate it (set one with rasterio or gdal_edit.py -a_srs)"
        )
    cx = (bounds.left + bounds.right) / 2
    cy = (bounds.bottom + bounds.top) / 2
    described = all(names) and len(set(names)) == len(names)
    text = DESCRIPTION_SEPARATOR.join(str(n) for n in names) if described else ""
    return crs.to_wkt(), cx, cy, count, height, width, text


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


_Chunk = tuple[
    list[str], list[int], list[float], list[float], list[tuple[int, ...]], list[str]
]


def _read_chunk(chunk: Sequence[str]) -> _Chunk:
    """Read the headers of a chunk of rasters (runs in a worker).

    Returns:
        ``(distinct CRS WKTs, CRS code per file, centre x, centre y,
        (band count, height, width) per file, band descriptions per file)``.
    """
    wkts: dict[str, int] = {}
    codes: list[int] = []
    xs: list[float] = []
    ys: list[float] = []
    shapes: list[tuple[int, ...]] = []
    names: list[str] = []
    # one GDAL environment per chunk instead of one per file, and no listing of the
    # (possibly huge) folder for sidecar files at every open
    with rasterio.Env(**GDAL_OPTIONS):
        for path in chunk:
            wkt, x, y, count, height, width, described = _header(path)
            codes.append(wkts.setdefault(wkt, len(wkts)))
            xs.append(x)
            ys.append(y)
            shapes.append((count, height, width))
            names.append(described)
    return list(wkts), codes, xs, ys, shapes, names


def _executor(num_files: int, num_workers: int | None) -> Executor:
    """Processes for large folders (header parsing holds the GIL), else threads."""
    workers = num_workers if num_workers is not None else (os.cpu_count() or 1)
    if (
        num_files >= PROCESS_THRESHOLD
        and workers > 1
        and "fork" in multiprocessing.get_all_start_methods()
    ):
        # fork: workers start instantly and need no importable __main__
        return ProcessPoolExecutor(
            workers, mp_context=multiprocessing.get_context("fork")
        )
    return ThreadPoolExecutor(max_workers=num_workers)


def read_raster_headers(
    paths: Sequence[str], num_workers: int | None = None, descriptions: bool = False
) -> pd.DataFrame:
    """Read CRS and bounds of many rasters in parallel and reproject their centres.

    Only headers are read (no pixels). Files are processed in chunks of 512, by a
    pool of processes for :data:`PROCESS_THRESHOLD` files or more (opening a file
    is mostly Python and GDAL work that holds the GIL), else by threads; centres
    are reprojected to EPSG:4326 with one vectorised :class:`pyproj.Transformer`
    call per CRS.

    Args:
        paths: Raster file paths.
        num_workers: Workers; ``None`` uses one process per CPU (or Python's
            default number of threads).
        descriptions: Also return each file's band descriptions (column
            ``descriptions``, categorical: the names joined by
            :data:`DESCRIPTION_SEPARATOR`, empty when a band has none or two
            share one).

    Returns:
        A data frame with ``lon``, ``lat`` (float64), ``count`` (bands),
        ``height`` and ``width`` (pixels, int64) per path, in input order.

    Raises:
        ValueError: If a file is not a raster or has no CRS (the message names it).
    """
    crs_ids: dict[str, int] = {}
    codes: list[int] = []
    xs: list[float] = []
    ys: list[float] = []
    shapes: list[tuple[int, ...]] = []
    names: list[str] = []
    with (
        _executor(len(paths), num_workers) as pool,
        tqdm(total=len(paths), desc="Indexing rasters", disable=None) as bar,
    ):
        for wkts, chunk_codes, cx, cy, cc, described in pool.map(
            _read_chunk, _chunks(paths, _CHUNK)
        ):
            remap = [crs_ids.setdefault(w, len(crs_ids)) for w in wkts]
            codes += [remap[c] for c in chunk_codes]
            xs += cx
            ys += cy
            shapes += cc
            names += described
            bar.update(len(cc))
    code_arr = np.asarray(codes, dtype=np.int64)
    x_arr = np.asarray(xs, dtype=np.float64)
    y_arr = np.asarray(ys, dtype=np.float64)
    lon = np.empty(len(paths), dtype=np.float64)
    lat = np.empty(len(paths), dtype=np.float64)
    for wkt, code in crs_ids.items():
        rows = np.flatnonzero(code_arr == code)
        transformer = Transformer.from_crs(
            CRS.from_wkt(wkt), "EPSG:4326", always_xy=True
        )
        lon[rows], lat[rows] = transformer.transform(x_arr[rows], y_arr[rows])
    shape = np.asarray(shapes, dtype=np.int64).reshape(len(paths), 3)
    frame = pd.DataFrame(
        {
            "lon": lon,
            "lat": lat,
            "count": shape[:, 0],
            "height": shape[:, 1],
            "width": shape[:, 2],
        }
    )
    if descriptions:
        frame["descriptions"] = pd.Categorical(names)
    return frame


def check_lonlat(index: pd.DataFrame, root: str) -> None:
    """Raise if a sample's centre is not a valid longitude/latitude.

    Args:
        index: Pool index with ``path``, ``lon`` and ``lat``.
        root: Pool root, for the message.

    Raises:
        ValueError: Naming the first file whose centre is NaN or out of range.
    """
    lon = index["lon"].to_numpy()
    lat = index["lat"].to_numpy()
    bad = ~(np.isfinite(lon) & np.isfinite(lat))
    bad |= (np.abs(lon) > 180) | (np.abs(lat) > 90)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(
            f"file {os.path.join(root, str(index['path'].iat[i]))!r} has its centre at "
            f"lon={lon[i]}, lat={lat[i]}, not a valid location (lon in [-180, 180], "
            "lat in [-90, 90]); check its CRS and geotransform"
        )
