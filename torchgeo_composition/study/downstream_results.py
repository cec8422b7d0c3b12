"""The results of downstream tasks evaluated by protocols and regions.

For every downstream task ``t`` with ``protocols`` and every protocol ``p``, the
results table gets, per composition, the columns ``t_p_<stat>`` for the whole
test set and ``t_p_<region>_<stat>`` for each region of the test set, with the
statistics

- ``mean``: the mean score over all runs (pretraining seeds x repeats);
- ``std``: its standard deviation over the runs;
- ``ci_low`` / ``ci_high``: the 95% bootstrap confidence interval over test
  samples (:func:`~torchgeo_composition.evaluation.bootstrap_ci`) of each test
  sample's score averaged over the runs;
- ``n``: the number of runs; ``samples``: the number of test samples (of the
  region), reported even where a region is too small to be scored;
- ``rank``: the composition's rank on the column (1 = best), as in the
  Pretrain-Where tables.

Then, per protocol, ``mean_score_<p>`` (the mean over tasks of ``t_p_mean``),
``mean_rank_<p>`` (the mean of the tasks' ranks) and ``rank_<p>``; and
``mean_score`` / ``rank`` over every task and protocol. The diversity measures
are correlated with each ``mean_score_<p>`` (:func:`protocol_correlations`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..diversity import correlation_table as diversity_correlation_table
from ..evaluation import bootstrap_ci

__all__ = [
    "RUN_COLUMNS",
    "STATS",
    "add_protocol_columns",
    "display_table",
    "protocol_correlations",
    "write_protocol_outputs",
]

#: Columns of ``runs.csv`` in a study with protocols.
RUN_COLUMNS: tuple[str, ...] = (
    "composition",
    "downstream",
    "protocol",
    "seed",
    "repeat",
    "score",
    "ci_low",
    "ci_high",
    "test_samples",
)

#: Statistics of every (task, protocol, region) column group.
STATS: tuple[str, ...] = ("mean", "std", "ci_low", "ci_high", "n", "samples", "rank")


def _float(value: Any) -> float:
    return math.nan if value is None else float(value)


def _sample_scores(runs: Sequence[Mapping[str, Any]]) -> pd.DataFrame | None:
    """Each test sample's score averaged over the runs, with its region."""
    frames = []
    for run in runs:
        path = run.get("predictions")
        if not path or not Path(path).is_file():
            return None
        frames.append(pd.read_csv(path, usecols=["sample_index", "region", "score"]))
    if not frames:
        return None
    both = pd.concat(frames, ignore_index=True)
    both["region"] = both["region"].fillna("").astype(str)
    return both.groupby("sample_index", sort=True).agg(
        region=("region", "first"), score=("score", "mean")
    )


def _cell(
    values: Sequence[float], scores: np.ndarray | None, samples: int | None
) -> dict[str, float]:
    finite = [v for v in values if not math.isnan(v)]
    low = high = math.nan
    if scores is not None and finite:
        estimate = bootstrap_ci(scores)
        low, high = estimate.low, estimate.high
    return {
        "mean": float(np.mean(finite)) if finite else math.nan,
        "std": float(np.std(finite, ddof=1)) if len(finite) > 1 else math.nan,
        "ci_low": low,
        "ci_high": high,
        "n": float(len(finite)),
        "samples": math.nan if samples is None else float(samples),
    }


def _group(runs: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, float]]:
    """The cells of one (composition, task, protocol): whole set, then regions."""
    samples = _sample_scores(runs)
    scores = None if samples is None else samples["score"].to_numpy(np.float64)
    size = runs[0].get("test_samples") if runs else None
    cells = {"": _cell([_float(r.get("score")) for r in runs], scores, size)}
    regions = sorted({str(k) for r in runs for k in (r.get("regions") or {})})
    for region in regions:
        entries = [(r.get("regions") or {}).get(region) or {} for r in runs]
        subset = None
        if samples is not None:
            rows = samples["region"] == region
            subset = samples.loc[rows, "score"].to_numpy(np.float64)
        count = entries[0].get("count") if entries else None
        values = [_float(e.get("value")) for e in entries]
        cells[region] = _cell(values, subset, count)
    return cells


def _rank(column: pd.Series) -> pd.Series:
    return column.rank(ascending=False, method="min").astype("Int64")


def add_protocol_columns(
    table: pd.DataFrame,
    runs: Sequence[Mapping[str, Any]],
    protocols: Mapping[str, Sequence[str]],
) -> pd.DataFrame:
    """Add the protocol and region columns to a results table.

    Args:
        table: The results table (one row per composition, ``composition``
            first; the columns of tasks without protocols, if any).
        runs: One record per protocol run: ``composition``, ``downstream``,
            ``protocol``, ``score``, ``test_samples``, ``regions``,
            ``predictions`` (see
            :func:`~torchgeo_composition.study.protocols.read_protocol_run`).
        protocols: Task -> its protocols, in order.

    Returns:
        The table with the columns of the module docstring; ``mean_score`` and
        ``rank`` then cover every task (with or without protocols).
    """
    out = table.copy()
    names = out["composition"].tolist()
    columns: dict[str, list[float]] = {}
    heads: list[str] = []
    means: dict[str, list[str]] = {}
    for task, task_protocols in protocols.items():
        for protocol in task_protocols:
            prefix = f"{task}_{protocol}"
            means.setdefault(protocol, []).append(f"{prefix}_mean")
            cells = []
            for name in names:
                mine = [
                    r
                    for r in runs
                    if r["composition"] == name
                    and r["downstream"] == task
                    and r["protocol"] == protocol
                ]
                cells.append(_group(mine))
            regions = sorted({k for c in cells for k in c if k})
            for region in ["", *regions]:
                head = prefix if not region else f"{prefix}_{region}"
                heads.append(head)
                for stat in STATS[:-1]:
                    columns[f"{head}_{stat}"] = [
                        c.get(region, {}).get(stat, math.nan) for c in cells
                    ]
    frame = pd.DataFrame(columns, index=out.index)
    for head in heads:
        frame[f"{head}_rank"] = _rank(frame[f"{head}_mean"])
        for stat in ("n", "samples"):
            frame[f"{head}_{stat}"] = frame[f"{head}_{stat}"].astype("Int64")
    frame = frame[[f"{head}_{stat}" for head in heads for stat in STATS]]
    out = pd.concat([out.drop(columns=["mean_score", "rank"]), frame], axis=1)
    for protocol, cols in means.items():
        out[f"mean_score_{protocol}"] = out[cols].mean(axis=1, skipna=False)
        ranks = [c[: -len("mean")] + "rank" for c in cols]
        out[f"mean_rank_{protocol}"] = out[ranks].astype(float).mean(axis=1)
        out[f"rank_{protocol}"] = _rank(out[f"mean_score_{protocol}"])
    legacy = [
        c
        for c in table.columns
        if c.endswith("_mean") and c[: -len("_mean")] + "_n" in table.columns
    ]
    everything = legacy + [c for cols in means.values() for c in cols]
    out["mean_score"] = out[everything].mean(axis=1, skipna=False)
    out["rank"] = _rank(out["mean_score"])
    return out


def protocol_correlations(
    table: pd.DataFrame, measures: Sequence[str], protocols: Sequence[str]
) -> pd.DataFrame:
    """Spearman correlation of every diversity measure with each protocol's score.

    Args:
        table: The results table with ``mean_score_<protocol>`` columns.
        measures: The diversity columns.
        protocols: The protocols, in order.

    Returns:
        Columns ``protocol``, ``score`` (the score column) and those of
        :func:`~torchgeo_composition.diversity.correlation_table`, one row per
        protocol and measure.
    """
    parts = []
    for protocol in protocols:
        y = f"mean_score_{protocol}"
        corr = diversity_correlation_table(
            table, list(measures), y, "spearman", on_error="note"
        )
        corr.insert(0, "score", y)
        corr.insert(0, "protocol", protocol)
        parts.append(corr)
    return pd.concat(parts, ignore_index=True)


def _cell_text(mean: Any, low: Any, high: Any) -> str:
    if pd.isna(mean):
        return ""
    if pd.isna(low) or pd.isna(high):
        return f"{mean:.3f}"
    return f"{mean:.3f} [{low:.3f}, {high:.3f}]"


def display_table(
    table: pd.DataFrame, measures: Sequence[str], protocols: Mapping[str, Sequence[str]]
) -> pd.DataFrame:
    """A compact view of the results for ``results.md``.

    Args:
        table: The results table (see :func:`add_protocol_columns`).
        measures: The diversity columns.
        protocols: Task -> its protocols.

    Returns:
        ``composition``, the measures, one ``mean [ci_low, ci_high]`` cell per
        (task, protocol, region) group with its rank in parentheses, then the
        per-protocol mean scores and ranks and ``mean_score`` / ``rank``.
    """
    out = table[["composition", *measures]].copy()
    for task, task_protocols in protocols.items():
        for protocol in task_protocols:
            prefix = f"{task}_{protocol}"
            heads = [
                c[: -len("_mean")]
                for c in table.columns
                if c.startswith(prefix) and c.endswith("_mean")
            ]
            for head in heads:
                cells = [
                    _cell_text(m, lo, hi) + ("" if pd.isna(r) else f" ({r})")
                    for m, lo, hi, r in zip(
                        table[f"{head}_mean"],
                        table[f"{head}_ci_low"],
                        table[f"{head}_ci_high"],
                        table[f"{head}_rank"],
                        strict=True,
                    )
                ]
                out[head.replace(f"{prefix}_", f"{prefix}/", 1)] = cells
    names = [p for ps in protocols.values() for p in ps]
    for protocol in dict.fromkeys(names):
        for column in (f"mean_score_{protocol}", f"rank_{protocol}"):
            out[column] = table[column]
    return out.assign(mean_score=table["mean_score"], rank=table["rank"])


def write_protocol_outputs(
    root: Path,
    table: pd.DataFrame,
    runs: Sequence[Mapping[str, Any]],
    protocols: Mapping[str, Sequence[str]],
    measures: Sequence[str],
    study: str,
) -> tuple[dict[str, str], str]:
    """Write the outputs of the protocol runs; return their paths and Markdown.

    Writes ``correlation/by_protocol.csv`` (:func:`protocol_correlations`) and
    the GEO-Bench-2 leaderboard export ``results_and_parameters.csv`` (see
    :mod:`~torchgeo_composition.study.leaderboard`).

    Args:
        root: The study directory.
        table: The results table (:func:`add_protocol_columns`).
        runs: The protocol runs (with ``run_seed`` and ``hyperparameters``).
        protocols: Task -> its protocols.
        measures: The diversity columns.
        study: The study's name.

    Returns:
        The written paths (``correlation_by_protocol_csv``, ``leaderboard_csv``)
        and the Markdown sections for ``results.md``.
    """
    from ..diversity import correlation_markdown
    from ..files import write_text
    from ..tables import markdown_table
    from .leaderboard import LEADERBOARD_FILE, leaderboard_table

    names = list(dict.fromkeys(p for ps in protocols.values() for p in ps))
    corr = protocol_correlations(table, measures, names)
    paths = {
        "correlation_by_protocol_csv": str(
            write_text(
                root / "correlation" / "by_protocol.csv", corr.to_csv(index=False)
            )
        ),
        "leaderboard_csv": str(
            write_text(
                root / LEADERBOARD_FILE,
                leaderboard_table(runs, study).to_csv(index=False),
            )
        ),
    }
    lines = ["", "## By protocol and region", ""]
    lines.append(markdown_table(display_table(table, measures, protocols)))
    lines += [
        "",
        "Each cell: mean score over pretraining seeds and repeats [95% bootstrap "
        "interval over test samples] (rank); `<task>_<protocol>/<region>`: the "
        "test samples of that region. All statistics are in results.csv; the "
        f"runs in the GEO-Bench-2 leaderboard layout are in {LEADERBOARD_FILE}.",
    ]
    for protocol in names:
        part = corr[corr["protocol"] == protocol].drop(columns=["protocol", "score"])
        lines += ["", "### " + correlation_markdown(part, f"mean_score_{protocol}")]
    return paths, "\n".join(lines) + "\n"
