"""Strata from a pool's metadata column (``stratify_by``) instead of a region layer.

With ``stratify_by="category"`` each sample's stratum is its value in the pool
index's ``category`` column; a composition then names those values
(``{airport: 2, dam: 1}``, one value, ``proportional`` or ``uniform``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["ColumnStrata", "column_strata"]

#: Values named in a message before "...".
_SHOWN = 50


def _as_text(values: pd.Series) -> pd.Series:
    """A column's values as text, missing values kept missing.

    Whole numbers stored as floats (an integer column with gaps) read as
    integers: ``3``, not ``3.0``.
    """
    if pd.api.types.is_float_dtype(values):
        present = values.dropna()
        if len(present) and bool(np.all(np.mod(present.to_numpy(), 1) == 0)):
            values = values.astype("Int64")
    text = values.astype("str")
    return text.where(values.notna(), None)


class ColumnStrata:
    """The strata given by a metadata column of a pool index.

    Plays the part of a region layer for a
    :class:`~torchgeo_composition.sampling.Composition`: composition keys must
    name values of the column (matched exactly, else case-insensitively).

    Attributes:
        name: The column.
        values: Its distinct values (as text), sorted.
    """

    def __init__(self, name: str, values: Sequence[str]) -> None:
        """Initialize a new ColumnStrata instance.

        Args:
            name: The column (``stratify_by``).
            values: The column's distinct values, as text.
        """
        self.name = name
        self.values: tuple[str, ...] = tuple(sorted(set(values)))

    @property
    def is_continents(self) -> bool:
        """Always False: the strata are the column's values."""
        return False

    def normalize(self, name: str) -> str:
        """Return the value of the column a composition key refers to.

        Args:
            name: A stratum named by a composition.

        Returns:
            One of :attr:`values`.

        Raises:
            ValueError: If it names no value of the column; the message lists
                them.
        """
        key = str(name).strip()
        if key in self.values:
            return key
        folded = {v.casefold(): v for v in self.values}
        if key.casefold() in folded:
            return folded[key.casefold()]
        shown = ", ".join(self.values[:_SHOWN]) + (
            " ..." if len(self.values) > _SHOWN else ""
        )
        raise ValueError(
            f"composition names stratum {name!r}, which is not a value of column "
            f"{self.name!r} (stratify_by={self.name!r}); valid values: {shown}; or "
            "use the presets 'proportional' and 'uniform'"
        )

    def __repr__(self) -> str:
        return f"ColumnStrata({self.name!r}, {len(self.values)} values)"


def column_strata(index: pd.DataFrame, column: str) -> tuple[pd.Series, ColumnStrata]:
    """Each sample's stratum from a column of the pool index.

    Args:
        index: The pool index.
        column: The column whose values are the strata (``stratify_by``).

    Returns:
        The stratum of each row (text; missing values stay missing, i.e.
        unassigned) and the strata.

    Raises:
        ValueError: If the index lacks the column (naming the valid columns) or
            the column holds no value.
    """
    columns = [str(c) for c in index.columns]
    if column not in columns:
        raise ValueError(
            f"stratify_by {column!r} is not a column of the pool index; valid "
            f"columns are {columns} (None stratifies by continent or region layer)"
        )
    strata = _as_text(index[column])
    present = strata.dropna().unique()
    if len(present) == 0:
        raise ValueError(
            f"stratify_by {column!r}: the column holds no value (every row is "
            "missing), so no sample has a stratum"
        )
    return strata, ColumnStrata(column, [str(v) for v in present])
