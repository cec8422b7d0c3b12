"""Manifest files: Parquet or CSV rows plus a JSON summary, written as one unit.

The summary records the SHA-256 of the manifest rows (``manifest_sha256``), so a
manifest and a summary that were not written together (a run killed between
the two renames, a summary copied from another run) are recognised on reading.
Writers and readers of one manifest path take its lock (``<manifest>.lock``).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..files import (
    LockHolder,
    atomic_paths,
    ensure_writable_dir,
    file_lock,
    remove_stale_temps,
)
from .composition import Composition
from .pool import manifest_digest
from .selection import MANIFEST_COLUMNS, Selection, round_floats

__all__ = [
    "LOCK_TIMEOUT_S",
    "MANIFEST_SUFFIXES",
    "ManifestMismatchError",
    "check_manifest_matches",
    "manifest_lock",
    "read_manifest",
    "summary_path",
    "write_manifest",
]

#: pandas 3 parses CSV floats exactly by default; older pandas needs asking.
_CSV_FLOATS: dict[str, Any] = (
    {} if int(pd.__version__.split(".")[0]) >= 3 else {"float_precision": "round_trip"}
)

#: Seconds a second writer of a manifest waits for the first one by default.
LOCK_TIMEOUT_S = 600.0

#: File suffixes understood by :func:`write_manifest` / :func:`read_manifest`.
MANIFEST_SUFFIXES: tuple[str, ...] = (".parquet", ".pq", ".csv")

_SCHEMA = pa.schema(
    [
        ("sample_id", pa.large_string()),
        ("path", pa.large_string()),
        ("lon", pa.float64()),
        ("lat", pa.float64()),
        ("stratum", pa.large_string()),
    ]
)

#: Fixed Parquet writer settings: together with pinned pyarrow they make the
#: file byte-identical for the same manifest (no pandas metadata or index, no
#: timestamps, fixed compression, row groups and page sizes).
_PARQUET_OPTIONS: dict[str, Any] = {
    "version": "2.6",
    "compression": "zstd",
    "compression_level": 3,
    "use_dictionary": True,
    "write_statistics": True,
    "data_page_version": "1.0",
    "row_group_size": 1 << 20,
    "data_page_size": 1 << 20,
    "store_schema": False,
}


class ManifestMismatchError(ValueError):
    """A manifest and its summary do not belong together.

    Raised when the summary's ``manifest_sha256`` or ``num_samples`` disagrees
    with the manifest rows, or the summary records no ``manifest_sha256``: for
    example when a run was killed between replacing the manifest and replacing
    its summary.
    """


def manifest_lock(
    path: str | os.PathLike[str], timeout: float | None = LOCK_TIMEOUT_S
) -> contextlib.AbstractContextManager[LockHolder | None]:
    """Hold the lock of a manifest path (``<manifest>.lock``) for a ``with`` body.

    :func:`write_manifest`, :func:`read_manifest`,
    :func:`~torchgeo_composition.sampling.build_manifest` and
    :func:`~torchgeo_composition.sampling.compose` take it; hold it yourself to
    make several of them one unit. See :func:`torchgeo_composition.files.file_lock`.

    Args:
        path: Manifest path.
        timeout: Seconds to wait for another holder; ``None`` waits for ever.

    Returns:
        The lock's context manager.
    """
    return file_lock(path, "manifest", timeout)


def _format(path: Path) -> str:
    """Return ``"parquet"`` or ``"csv"`` from the file suffix."""
    suffix = path.suffix.lower()
    if suffix not in MANIFEST_SUFFIXES:
        raise ValueError(
            f"manifest path {str(path)!r} has suffix {suffix!r}; valid suffixes are "
            f"{list(MANIFEST_SUFFIXES)}"
        )
    return "csv" if suffix == ".csv" else "parquet"


def summary_path(path: str | os.PathLike[str]) -> Path:
    """Path of the JSON summary next to a manifest: ``<stem>.summary.json``.

    Args:
        path: manifest path.

    Returns:
        The sidecar path.
    """
    manifest = Path(path)
    return manifest.with_name(f"{manifest.stem}.summary.json")


def _summary_text(summary: Mapping[str, Any]) -> str:
    """Serialise a summary deterministically (sorted keys, fixed float rounding)."""
    return (
        json.dumps(
            round_floats(dict(summary)), sort_keys=True, indent=2, allow_nan=False
        )
        + "\n"
    )


#: Optional manifest column: each sample's spectral entropy (entropy strategies).
ENTROPY_COLUMN = "spectral_entropy"


def _columns(frame: pd.DataFrame) -> list[str]:
    """The manifest columns of ``frame``, with the entropy column when present."""
    extra = [ENTROPY_COLUMN] if ENTROPY_COLUMN in frame.columns else []
    return [*MANIFEST_COLUMNS, *extra]


def write_manifest(
    selection: Selection,
    path: str | os.PathLike[str],
    lock_timeout: float | None = LOCK_TIMEOUT_S,
) -> tuple[Path, Path]:
    """Write a manifest and its JSON summary as one unit.

    The format follows the suffix (``.parquet``/``.pq`` or ``.csv``); the summary
    goes to ``<stem>.summary.json`` in the same directory and records the
    SHA-256 of the rows written (``manifest_sha256``). Both are written to
    temporary files first and renamed into place under the manifest's lock, so
    a failure leaves no partial file, and a kill between the two renames leaves
    a pair that :func:`read_manifest` refuses. Temporary files of an earlier,
    killed writer of this path are removed. The same selection gives
    byte-identical files.

    Args:
        selection: the selection to save.
        path: manifest path.
        lock_timeout: Seconds to wait for another writer of ``path``.

    Returns:
        ``(manifest_path, summary_path)``.

    Raises:
        ValueError: for an unknown suffix or a manifest without the manifest columns.
        PermissionError: if the output directory cannot be written (checked
            before anything is written).
        NotADirectoryError: if a component of the output directory is a file.
        FileLockedError: if another process still writes ``path`` after
            ``lock_timeout`` seconds.
    """
    target = Path(path)
    fmt = _format(target)
    frame = selection.manifest
    missing = [c for c in MANIFEST_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(
            f"selection.manifest lacks column(s) {missing}; required "
            f"{list(MANIFEST_COLUMNS)}"
        )
    ensure_writable_dir(target, "path")
    sidecar = summary_path(target)
    frame = frame.loc[:, _columns(frame)].reset_index(drop=True)
    summary = {**selection.summary, "manifest_sha256": manifest_digest(frame)}
    text = _summary_text(summary)
    with (
        manifest_lock(target, lock_timeout) as holder,
        atomic_paths(target, sidecar) as (tmp_manifest, tmp_summary),
    ):
        if holder is not None:
            remove_stale_temps(target, sidecar, before=holder.acquired)
        if fmt == "csv":
            frame.to_csv(tmp_manifest, index=False, lineterminator="\n")
        else:
            schema = _SCHEMA
            if ENTROPY_COLUMN in frame.columns:
                schema = schema.append(pa.field(ENTROPY_COLUMN, pa.float64()))
            table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
            table = table.replace_schema_metadata(None)
            pq.write_table(table, tmp_manifest, **_PARQUET_OPTIONS)
        tmp_summary.write_text(text, encoding="utf-8", newline="\n")
    return target, sidecar


def read_manifest(
    path: str | os.PathLike[str], lock_timeout: float | None = LOCK_TIMEOUT_S
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read a manifest and its JSON summary, validating both.

    The summary must record the SHA-256 of exactly these rows
    (``manifest_sha256``): a manifest and a summary that were not written
    together are refused (:class:`ManifestMismatchError`), never used. The
    manifest's lock is held while reading, so a writer never replaces the pair
    half-way under a reader.

    Args:
        path: manifest path (``.parquet``/``.pq`` or ``.csv``).
        lock_timeout: Seconds to wait for a writer of ``path``.

    Returns:
        ``(manifest, summary)``; the manifest has the columns ``sample_id``,
        ``path`` (str), ``lon``, ``lat`` (float64) and ``stratum`` (str, NaN for
        unassigned samples).

    Raises:
        FileNotFoundError: if the manifest or its summary does not exist.
        ValueError: for an unknown suffix, missing columns or invalid values.
        ManifestMismatchError: if the summary does not belong to the manifest
            (row count or ``manifest_sha256`` differ, or no ``manifest_sha256``).
        FileLockedError: if a writer still holds the manifest after
            ``lock_timeout`` seconds.
    """
    target = Path(path)
    _format(target)
    with manifest_lock(target, lock_timeout):
        return _read_pair(target)


def _read_pair(target: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read and validate a manifest and its summary (the caller holds the lock)."""
    fmt = _format(target)
    sidecar = summary_path(target)
    for file, what in ((target, "manifest"), (sidecar, "manifest summary")):
        if not file.is_file():
            raise FileNotFoundError(f"{what} {str(file)!r} does not exist")
    if fmt == "csv":
        frame = pd.read_csv(
            target,
            dtype={"sample_id": "str", "path": "str", "stratum": "str"},
            keep_default_na=False,
            na_values={"stratum": [""], "lon": [""], "lat": [""]},
            **_CSV_FLOATS,
        )
    else:
        frame = pq.read_table(target).to_pandas()
    missing = [c for c in MANIFEST_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(
            f"manifest {str(target)!r} lacks column(s) {missing}; a manifest has "
            f"columns {list(MANIFEST_COLUMNS)}, got {list(frame.columns)}"
        )
    frame = frame.loc[:, _columns(frame)]
    if ENTROPY_COLUMN in frame.columns:
        frame[ENTROPY_COLUMN] = pd.to_numeric(frame[ENTROPY_COLUMN], errors="coerce")
    for name in ("sample_id", "path", "stratum"):
        frame[name] = frame[name].astype("str")
    for name in ("lon", "lat"):
        try:
            frame[name] = frame[name].astype("float64")
        except (TypeError, ValueError) as err:
            raise ValueError(
                f"manifest {str(target)!r} column {name!r} is not numeric"
            ) from err
    if frame[["sample_id", "path", "lon", "lat"]].isna().any().any():
        raise ValueError(
            f"manifest {str(target)!r} has missing sample_id/path/lon/lat values"
        )
    try:
        summary = json.loads(sidecar.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(
            f"manifest summary {str(sidecar)!r} is not JSON: {err}"
        ) from err
    if not isinstance(summary, dict) or "num_samples" not in summary:
        raise ValueError(
            f"manifest summary {str(sidecar)!r} lacks 'num_samples'; not a summary "
            "written by write_manifest"
        )
    remedy = (
        "a run was probably killed between writing the two files, or the summary "
        "was copied from another run; build the manifest again (compose with "
        "--overwrite true, or delete both files)"
    )
    if len(frame) != summary["num_samples"]:
        raise ManifestMismatchError(
            f"manifest {str(target)!r} has {len(frame)} rows but its summary says "
            f"num_samples={summary['num_samples']}; the files do not belong "
            f"together: {remedy}"
        )
    saved = summary.get("manifest_sha256")
    if saved is None:
        raise ManifestMismatchError(
            f"manifest summary {str(sidecar)!r} records no manifest_sha256 (written "
            "by an older version or by hand), so the manifest cannot be verified "
            f"to belong to it: {remedy}"
        )
    actual = manifest_digest(frame)
    if saved != actual:
        raise ManifestMismatchError(
            f"manifest {str(target)!r} does not match its summary "
            f"{str(sidecar)!r}: the rows hash to manifest_sha256={actual[:12]}..., "
            f"the summary records {str(saved)[:12]}...; {remedy}"
        )
    return frame, summary


def check_manifest_matches(
    summary: Mapping[str, Any],
    pool_fingerprint: str,
    *,
    composition: Composition | str | Mapping[str, float] | None = None,
    num_samples: int | None = None,
    seed: int | None = None,
    on_shortfall: str | None = None,
    strata_fingerprint: str | None = None,
    source: str | os.PathLike[str] | None = None,
) -> None:
    """Raise if a saved manifest was not built from this pool and these arguments.

    Args:
        summary: the manifest's summary (from :func:`read_manifest`).
        pool_fingerprint: :func:`pool_fingerprint` of the current pool.
        composition: expected composition, or None to skip the check.
        num_samples: expected budget, or None to skip the check.
        seed: expected seed, or None to skip the check.
        on_shortfall: expected shortfall policy, or None to skip the check.
        strata_fingerprint: expected stratum-assignment fingerprint (the summary's
            ``strata_fingerprint`` of a fresh selection), or None to skip.
        source: manifest path, for error messages.

    Raises:
        ValueError: naming every mismatch, with the manifest's and the expected
            value, and how to resolve it.
    """
    where = f"manifest {str(source)!r}" if source is not None else "manifest"
    saved = summary.get("pool_fingerprint")
    if saved != pool_fingerprint:
        raise ValueError(
            f"{where} was built from another pool: its pool_fingerprint is "
            f"{saved!r}, the current pool's is {pool_fingerprint!r}. Delete the "
            "manifest or choose another manifest path to build a new one"
        )
    expected: dict[str, Any] = {}
    if composition is not None:
        comp = (
            composition
            if isinstance(composition, Composition)
            else Composition(composition)
        )
        expected["composition"] = comp.to_dict()
    for key, value in (
        ("num_samples", num_samples),
        ("seed", seed),
        ("on_shortfall", on_shortfall),
        ("strata_fingerprint", strata_fingerprint),
    ):
        if value is not None:
            expected[key] = value
    expected = round_floats(expected)
    diffs = [
        f"{key}: manifest has {summary.get(key)!r}, expected {value!r}"
        for key, value in expected.items()
        if summary.get(key) != value
    ]
    if diffs:
        raise ValueError(
            f"{where} does not match the requested selection ("
            + "; ".join(diffs)
            + "). Delete the manifest or choose another manifest path to build a "
            "new one"
        )
