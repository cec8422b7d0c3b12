"""Correlation report of a results table: rho/p table (CSV, Markdown), scatter plots."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd

from ..files import ensure_writable_dir, write_text
from ..tables import markdown_table
from .correlation import CorrelationResult, correlation_table
from .plots import plot_correlation

__all__ = [
    "CorrelationReport",
    "correlate_results",
    "correlation_markdown",
    "scatter_path",
    "write_correlation",
]


@dataclass(frozen=True)
class CorrelationReport:
    """What :func:`correlate_results` computed and wrote.

    Attributes:
        table: Output of
            :func:`~torchgeo_composition.diversity.correlation_table`.
        markdown: The table as Markdown (also in ``correlation.md``).
        out_dir: Folder of the written files.
        paths: Kind (``csv``, ``markdown``, ``scatter_<measure>``) -> written path.
    """

    table: pd.DataFrame
    markdown: str
    out_dir: Path
    paths: dict[str, Path]


def scatter_path(out_dir: str | os.PathLike[str], measure: str) -> Path:
    """Return the path of a measure's scatter plot: ``scatter_<measure>.png``.

    Args:
        out_dir: Folder of the report.
        measure: Diversity column; characters unsafe in file names become ``_``.

    Returns:
        The PNG path.
    """
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", measure).strip("_") or "column"
    return Path(out_dir) / f"scatter_{slug}.png"


def correlation_markdown(table: pd.DataFrame, y: str) -> str:
    """Render a correlation table as Markdown.

    Args:
        table: Output of :func:`~torchgeo_composition.diversity.correlation_table`.
        y: The score column (named in the heading).

    Returns:
        A heading line and the table (numbers to 3 significant digits; the
        ``note`` column only when a row has one).
    """
    shown = table.rename(columns={"p_value": "p"})
    if not shown["note"].astype(bool).any():
        shown = shown.drop(columns="note")
    return f"Correlation with `{y}`\n\n{markdown_table(shown, floatfmt='.3g')}\n"


def write_correlation(
    frame: pd.DataFrame,
    table: pd.DataFrame,
    y: str,
    out_dir: str | os.PathLike[str],
    labels: Sequence[str] | None = None,
) -> dict[str, Path]:
    """Write ``correlation.csv``, ``correlation.md`` and one scatter plot per measure.

    A scatter plot (labelled points, least-squares trend line, rho and p in the
    title) is drawn for each row of ``table`` with a defined correlation.

    Args:
        frame: The results table the correlations were computed from.
        table: Output of :func:`~torchgeo_composition.diversity.correlation_table`.
        y: The score column.
        out_dir: Output folder (created if missing).
        labels: Point label of each row of ``frame`` (e.g. the set names).

    Returns:
        Kind (``csv``, ``markdown``, ``scatter_<measure>``) -> written path.
    """
    out = Path(out_dir)
    names = None if labels is None else pd.Series(list(labels), index=frame.index)
    paths: dict[str, Path] = {}
    for rec in table.to_dict("records"):
        if math.isnan(float(rec["rho"])):
            continue
        measure = str(rec["measure"])
        pairs = frame[[measure, y]].dropna()
        paths[f"scatter_{measure}"] = plot_correlation(
            pairs[measure].to_numpy(),
            pairs[y].to_numpy(),
            scatter_path(out, measure),
            labels=None if names is None else names.loc[pairs.index].tolist(),
            result=CorrelationResult(
                float(rec["rho"]), float(rec["p_value"]), int(rec["n"]), rec["method"]
            ),
            xlabel=measure,
            ylabel=y,
        )
    paths["csv"] = write_text(out / "correlation.csv", table.to_csv(index=False))
    paths["markdown"] = write_text(
        out / "correlation.md", correlation_markdown(table, y)
    )
    return paths


def correlate_results(
    results: str | os.PathLike[str],
    y: str,
    x: Sequence[str] | None = None,
    label: str | None = None,
    method: Literal["spearman", "pearson", "kendall"] = "spearman",
    out: str | os.PathLike[str] | None = None,
) -> CorrelationReport:
    """Correlate the diversity columns of a results CSV with a score column.

    Args:
        results: CSV file, one row per pretraining set.
        y: Score column (e.g. mean downstream performance).
        x: Diversity columns; ``None`` for every numeric column except ``y`` and
            ``label``.
        label: Column of point labels; ``None`` for the first non-numeric column.
        method: ``"spearman"``, ``"pearson"`` or ``"kendall"``.
        out: Output folder; ``None`` for ``<results stem>_correlation`` beside
            the file.

    Returns:
        The table, its Markdown and the written files (see
        :func:`write_correlation`).

    Raises:
        FileNotFoundError: If ``results`` does not exist.
        ValueError: If ``results`` is not a CSV table, a column is missing or
            not numeric, or a correlation is undefined (see
            :func:`~torchgeo_composition.diversity.correlate`).
        PermissionError: If the output folder cannot be written (checked
            before the table is read).
        NotADirectoryError: If the output folder lies under a file.
    """
    path = Path(results)
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "does not exist"
        raise FileNotFoundError(
            f"results file {str(path)!r} {what}; give the CSV table of results"
        )
    out_dir = (
        Path(out) if out is not None else path.with_name(f"{path.stem}_correlation")
    )
    ensure_writable_dir(out_dir / "correlation.csv", "out")
    try:
        frame = pd.read_csv(path)
    except (ValueError, UnicodeDecodeError) as err:  # pandas' parser errors
        raise ValueError(
            f"results file {str(path)!r} is not a CSV table with a header row "
            f"({' '.join(str(err).split())})"
        ) from err
    columns = list(frame.columns)
    for key, names in (("y", [y]), ("x", list(x or [])), ("label", [label])):
        unknown = [n for n in names if n is not None and n not in columns]
        if unknown:
            value = unknown[0] if key != "x" else unknown
            raise ValueError(
                f"{key}={value!r}: no such column in {str(path)!r}; columns are "
                f"{columns}"
            )
    numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
    if label is None:
        text = [c for c in frame.columns if c not in numeric]
        label = text[0] if text else None
    if x is None:
        x = [c for c in numeric if c not in (y, label)] or None
    table = correlation_table(frame, x, y, method)
    labels = frame[label].astype(str).tolist() if label is not None else None
    paths = write_correlation(frame, table, y, out_dir, labels)
    return CorrelationReport(table, correlation_markdown(table, y), out_dir, paths)
