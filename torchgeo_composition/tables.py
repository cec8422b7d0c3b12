"""Markdown tables for the reports the commands and the study write."""

from __future__ import annotations

import pandas as pd

__all__ = ["markdown_table"]


def markdown_table(
    frame: pd.DataFrame, floatfmt: str = ".3f", index: bool = False
) -> str:
    """Render a data frame as a GitHub-flavoured Markdown table.

    Missing values are written as empty cells, floats with ``floatfmt``.

    Args:
        frame: The table.
        floatfmt: Format of floating-point cells (a :func:`format` spec).
        index: Include the frame's index as the first column.

    Returns:
        The table, without a trailing newline.
    """
    cells = frame.astype(object).where(frame.notna(), None)  # NaN / NA: empty
    return cells.to_markdown(
        index=index, floatfmt=floatfmt, missingval="", tablefmt="github"
    )
