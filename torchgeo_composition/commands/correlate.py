r"""``torchgeo-composition correlate``: diversity measures against downstream results.

Reads a results table (CSV, one row per pretraining set), correlates one or every
diversity column with a score column, and writes a table of rho / p (Markdown and
CSV) and one labelled scatter plot with trend line per diversity column::

    torchgeo-composition correlate results.csv --y score
    torchgeo-composition correlate results.csv --y score --x spectral_entropy \
        --x continent_entropy --method kendall --out correlation
"""

from __future__ import annotations

from collections.abc import Sequence

from jsonargparse import ArgumentParser

from ..diversity.correlation_report import CorrelationReport, correlate_results
from .common import command_parser, run_command

__all__ = ["build_parser", "main"]

PROG = "torchgeo-composition correlate"


def build_parser() -> ArgumentParser:
    """Return the command's argument parser.

    Returns:
        A jsonargparse parser taking ``RESULTS``, ``--config`` and
        :func:`~torchgeo_composition.diversity.correlate_results`'s arguments
        (``--x`` may be repeated).
    """
    parser = command_parser(
        PROG,
        "Correlate diversity measures of pretraining sets with downstream "
        "results: a rho/p table (Markdown + CSV) and labelled scatter plots.",
        correlate_results,
        skip={"results"},
    )
    parser.add_argument(
        "results", type=str, help="CSV file, one row per pretraining set"
    )
    return parser


def _show(report: CorrelationReport) -> None:
    print(report.markdown, end="")
    print(f"wrote {report.out_dir}")


def main(argv: Sequence[str]) -> int:
    """Run ``torchgeo-composition correlate``.

    Args:
        argv: Command-line arguments after ``correlate``.

    Returns:
        0 on success, 2 on bad input (the error is printed).
    """
    # ``--x COLUMN`` may be repeated: each one appends (jsonargparse's ``--x+``).
    argv = ["--x+" if a == "--x" else a.replace("--x=", "--x+=", 1) for a in argv]
    return run_command(
        build_parser(),
        correlate_results,
        argv,
        _show,
        outputs={"out": "correlation.csv"},
    )
