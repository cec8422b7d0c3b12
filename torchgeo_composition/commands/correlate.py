"""``torchgeo-composition correlate``: diversity measures against downstream results.

Reads a results table (CSV, one row per pretraining set), correlates one or every
diversity column with a score column, and writes a table of rho / p (Markdown and
CSV) and one labelled scatter plot with trend line per diversity column.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ..diversity.correlation import METHODS, CorrelationResult, correlate
from ..diversity.plots import plot_correlation
from ..files import write_text

__all__ = ["build_parser", "correlate_table", "main"]

PROG = "torchgeo-composition correlate"


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``correlate`` command.

    Returns:
        The parser.
    """
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Correlate diversity measures of pretraining sets with downstream "
            "results: a rho/p table (Markdown + CSV) and labelled scatter plots."
        ),
    )
    parser.add_argument("results", help="CSV file, one row per pretraining set")
    parser.add_argument(
        "--y", required=True, help="score column (e.g. mean downstream performance)"
    )
    parser.add_argument(
        "--x",
        action="append",
        default=None,
        help="diversity column (repeatable); default: every numeric column except "
        "--y and --label",
    )
    parser.add_argument(
        "--label",
        default=None,
        help="column of point labels; default: the first non-numeric column",
    )
    parser.add_argument("--method", choices=METHODS, default="spearman")
    parser.add_argument(
        "--out",
        default=None,
        help="output folder; default: <RESULTS stem>_correlation next to the file",
    )
    return parser


def correlate_table(
    table: pd.DataFrame,
    y: str,
    x: Sequence[str] | None = None,
    method: str = "spearman",
) -> pd.DataFrame:
    """Correlate each diversity column of ``table`` with the score column ``y``.

    Args:
        table: One row per pretraining set.
        y: Score column.
        x: Diversity columns; ``None`` for every numeric column except ``y``.
        method: ``"spearman"``, ``"pearson"`` or ``"kendall"``.

    Returns:
        Data frame with columns ``column, method, rho, p_value, n``.

    Raises:
        ValueError: If a column is missing (the message lists the available
            ones), is not numeric, or a correlation is undefined (see
            :func:`~torchgeo_composition.diversity.correlate`).
    """
    columns = list(table.columns)
    wanted = [y, *(x or [])]
    missing = [c for c in wanted if c not in columns]
    if missing:
        raise ValueError(
            f"column(s) {missing} not found in the results file; available "
            f"columns are {columns}"
        )
    if x is None:
        x = [c for c in columns if c != y and pd.api.types.is_numeric_dtype(table[c])]
        if not x:
            raise ValueError(
                f"no numeric diversity column besides --y {y!r}; columns are {columns}"
            )
    rows = []
    for name in [y, *x]:
        if not pd.api.types.is_numeric_dtype(table[name]):
            raise ValueError(f"column {name!r} is not numeric: {table[name].tolist()}")
    for name in x:
        try:
            res = correlate(table[name].to_numpy(), table[y].to_numpy(), method)  # type: ignore[arg-type]
        except ValueError as err:
            raise ValueError(f"column {name!r} vs {y!r}: {err}") from err
        rows.append(
            {
                "column": name,
                "method": res.method,
                "rho": res.rho,
                "p_value": res.p_value,
                "n": res.n,
            }
        )
    return pd.DataFrame(rows, columns=["column", "method", "rho", "p_value", "n"])


def _markdown(result: pd.DataFrame, y: str) -> str:
    lines = [
        f"Correlation with `{y}`",
        "",
        "| column | method | rho | p | n |",
        "|---|---|---:|---:|---:|",
    ]
    for row in result.itertuples(index=False):
        lines.append(
            f"| {row.column} | {row.method} | {row.rho:.3f} | {row.p_value:.3g} "
            f"| {row.n} |"
        )
    return "\n".join(lines) + "\n"


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "column"


def main(argv: list[str]) -> int:
    """Run the command.

    Args:
        argv: Arguments after ``correlate``.

    Returns:
        0 on success, 2 on bad input (message on stderr).
    """
    args = build_parser().parse_args(argv)
    path = Path(args.results)
    try:
        if not path.is_file():
            raise FileNotFoundError(f"results file {str(path)!r} does not exist")
        table = pd.read_csv(path)
        if args.label is not None and args.label not in table.columns:
            raise ValueError(
                f"--label column {args.label!r} not found; available columns are "
                f"{list(table.columns)}"
            )
        label = args.label
        if label is None:
            text = [
                c for c in table.columns if not pd.api.types.is_numeric_dtype(table[c])
            ]
            label = text[0] if text else None
        x = args.x
        if x is None:
            x = [
                c
                for c in table.columns
                if c not in (args.y, label) and pd.api.types.is_numeric_dtype(table[c])
            ]
        result = correlate_table(table, args.y, x or None, args.method)
    except (ValueError, FileNotFoundError) as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else path.with_name(f"{path.stem}_correlation")
    labels = table[label].astype(str).tolist() if label else None
    for rec in result.to_dict("records"):
        column = str(rec["column"])
        plot_correlation(
            table[column].to_numpy(),
            table[args.y].to_numpy(),
            out / f"scatter_{_slug(column)}.png",
            labels=labels,
            result=CorrelationResult(
                float(rec["rho"]), float(rec["p_value"]), int(rec["n"]), args.method
            ),
            xlabel=column,
            ylabel=args.y,
        )
    write_text(out / "correlation.csv", result.to_csv(index=False))
    markdown = _markdown(result, args.y)
    write_text(out / "correlation.md", markdown)
    print(markdown, end="")
    print(f"wrote {out}")
    return 0
