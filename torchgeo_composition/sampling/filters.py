"""Filters on a pool index: which samples may be drawn at all.

A filter is either a mapping ``{column: condition}`` -- a condition is a
comparison such as ``"< 10"``, ``">= 0.5"``, ``"!= 'S2L1C'"``, ``"in ['a', 'b']"``,
or a plain value meaning equality -- or a pandas query string such as
``"cloud_cover < 10 and nodata == 0"``. :func:`apply_filters` applies it to a pool
index before selection. A query may only compare columns with constants
(``<``, ``<=``, ``==``, ``!=``, ``>=``, ``>``, ``in``, ``not in``, arithmetic) and
combine comparisons (``and``, ``or``, ``not``, ``&``, ``|``, ``~``); names are
columns (in backticks when they are not identifiers). Nothing else is evaluated:
no function call, attribute or variable.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Mapping
from typing import TypeAlias

import numpy as np
import pandas as pd

__all__ = [
    "FILTER_OPERATORS",
    "Filters",
    "apply_filters",
    "filters_record",
]

#: A filter: ``{column: condition}`` or a pandas query string.
Filters: TypeAlias = Mapping[str, str | int | float | bool] | str

#: Operators a condition of a ``{column: condition}`` filter may start with.
FILTER_OPERATORS: tuple[str, ...] = ("<=", ">=", "==", "!=", "<", ">", "not in", "in")

_ALLOWED = (
    ast.Expression,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.UnaryOp,
    ast.Not,
    ast.Invert,
    ast.USub,
    ast.UAdd,
    ast.BinOp,
    ast.BitAnd,
    ast.BitOr,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.FloorDiv,
    ast.Mod,
    ast.Pow,
    ast.Compare,
    ast.Eq,
    ast.NotEq,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
    ast.In,
    ast.NotIn,
    ast.Name,
    ast.Load,
    ast.Constant,
    ast.List,
    ast.Tuple,
)

_BACKTICK = re.compile(r"`([^`]*)`")
_HELP = (
    "a filter compares columns with constants (<, <=, ==, !=, >=, >, in, not in) "
    "and combines comparisons with and, or, not"
)


def _columns_text(columns: list[str]) -> str:
    return str(columns)


def _check_query(query: str, columns: list[str], what: str) -> None:
    """Raise unless ``query`` only compares known columns with constants."""
    names: dict[str, str] = {}

    def quoted(match: re.Match[str]) -> str:
        placeholder = f"_tgc_column_{len(names)}"
        names[placeholder] = match.group(1)
        return placeholder

    text = _BACKTICK.sub(quoted, query)
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as err:
        raise ValueError(
            f"{what} {query!r} is not a valid query ({err.msg}); {_HELP}, e.g. "
            '"cloud_cover < 10 and nodata == 0"'
        ) from None
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            kind = type(node).__name__
            raise ValueError(
                f"{what} {query!r} uses {kind!r}, which a filter may not: {_HELP} "
                "(no function call, attribute, subscript or variable)"
            )
        if isinstance(node, ast.Name):
            column = names.get(node.id, node.id)
            if column not in columns:
                raise ValueError(
                    f"{what} {query!r} names column {column!r}, which the pool "
                    f"index lacks; valid columns are {_columns_text(columns)} "
                    "(quote text values, e.g. category == 'airport')"
                )


def _condition(column: str, condition: object, series: pd.Series) -> str:
    """The query of one ``{column: condition}`` entry."""
    name = f"`{column}`"
    if isinstance(condition, str):
        text = condition.strip()
        for op in FILTER_OPERATORS:
            word = op[0].isalpha()
            if text.startswith(op) and (
                not word or text[len(op) : len(op) + 1] in (" ", "[", "(")
            ):
                return f"{name} {text}"
        if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(
            series
        ):
            try:
                return f"{name} == {float(text)!r}"
            except ValueError:
                pass
        return f"{name} == {text!r}"
    if isinstance(condition, bool | int | float) and not (
        isinstance(condition, float) and math.isnan(condition)
    ):
        return f"{name} == {condition!r}"
    raise ValueError(
        f"filters[{column!r}] = {condition!r} is not a condition; give a comparison "
        "such as '< 10', '>= 0.5', \"== 'S2L2A'\", \"in ['a', 'b']\" or a plain "
        "value (equality)"
    )


def _mask(index: pd.DataFrame, query: str, what: str) -> np.ndarray:
    """Evaluate a checked query to a boolean mask over the index rows."""
    try:
        result = index.eval(query, engine="python")
    except Exception as err:  # pandas raises many types for a bad comparison
        kinds = {c: str(index[c].dtype) for c in index.columns}
        raise ValueError(
            f"{what} cannot be evaluated on the pool index as {query!r} "
            f"({type(err).__name__}: {err}); the columns' types are {kinds}"
        ) from None
    values = np.asarray(result)
    if values.shape != (len(index),) or values.dtype != np.bool_:
        raise ValueError(
            f"{what} does not give True or False for each sample; "
            f'{_HELP}, e.g. "cloud_cover < 10"'
        )
    return values


def _queries(filters: Filters, index: pd.DataFrame) -> list[tuple[str, str]]:
    """``(what, query)`` per filter, checked against the index columns."""
    columns = [str(c) for c in index.columns]
    if isinstance(filters, str):
        if not filters.strip():
            raise ValueError(
                "filters is an empty query; give a query such as "
                '"cloud_cover < 10" or leave filters out'
            )
        _check_query(filters, columns, "filters")
        return [(f"filters {filters.strip()!r}", filters.strip())]
    if not isinstance(filters, Mapping):
        raise ValueError(
            f"filters must be a mapping {{column: condition}} or a query string, "
            f"got {filters!r}"
        )
    if not filters:
        raise ValueError(
            "filters is an empty mapping; give {column: condition}, e.g. "
            "{cloud_cover: '< 10'}, or leave filters out"
        )
    out = []
    for column, condition in filters.items():
        if column not in columns:
            raise ValueError(
                f"filters names column {column!r}, which the pool index lacks; "
                f"valid columns are {_columns_text(columns)}"
            )
        query = _condition(str(column), condition, index[column])
        what = f"filters[{column!r}] ({condition!r})"
        _check_query(query, columns, what)
        out.append((what, query))
    return out


def apply_filters(index: pd.DataFrame, filters: Filters | None) -> pd.DataFrame:
    """Keep the rows of a pool index that pass the filters.

    A ``{column: condition}`` mapping keeps the rows meeting every condition
    (applied in order); a query string keeps the rows for which it is true.
    Missing values (NaN) never pass a comparison.

    Args:
        index: The pool index (its metadata columns can be filtered on).
        filters: ``{column: condition}`` (e.g. ``{"cloud_cover": "< 10"}``), a
            pandas query string (e.g. ``"cloud_cover < 10 and nodata == 0"``) or
            ``None`` (every row).

    Returns:
        The rows that pass, in their order, with a fresh index.

    Raises:
        ValueError: For an unknown column (naming it and the valid columns), a
            query that is not a comparison of columns with constants, a
            condition that cannot be compared with the column's values, or
            filters that leave no sample (naming the filter that removed the
            last ones).
    """
    if filters is None:
        return index
    keep = np.ones(len(index), dtype=bool)
    for what, query in _queries(filters, index):
        before = int(keep.sum())
        keep &= _mask(index, query, what)
        if not keep.any():
            earlier = (
                ""
                if before == len(index)
                else f" ({before} were left by the filters before it)"
            )
            raise ValueError(
                f"{what} removes every one of the pool's {len(index)} samples"
                f"{earlier}; loosen it, or check the column's values"
            )
    if keep.all():
        return index
    return index.loc[keep].reset_index(drop=True)


def filters_record(filters: Filters | None) -> Filters | None:
    """The filters as plain JSON data, as a summary records them.

    Args:
        filters: The filters given.

    Returns:
        ``None``, the stripped query string, or the mapping with string keys.
    """
    if filters is None:
        return None
    if isinstance(filters, str):
        return filters.strip()
    return {str(k): v for k, v in filters.items()}
