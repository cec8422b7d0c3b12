"""Collect a study's results: table, Markdown, correlations, scatter plots, maps.

Written into the study directory:

- ``results.csv`` / ``results.md``: one row per composition with its diversity
  measures (one column per configured measure, then ``continent_entropy``), the mean and standard deviation of every downstream score over all
  pretraining seeds and repeats, the mean score over tasks and its rank (1 = best);
- ``correlation/correlation.csv`` / ``.md`` and ``correlation/scatter_<measure>.png``:
  Spearman correlation of every diversity measure with the mean score;
- ``maps.png``: one world map per composition with its selected samples;
- with downstream ``protocols``: the columns per task, protocol and region of
  :mod:`~torchgeo_composition.study.downstream_results`,
  ``correlation/by_protocol.csv`` and the GEO-Bench-2 leaderboard export
  ``results_and_parameters.csv`` (:mod:`~torchgeo_composition.study.leaderboard`);
- ``curation.csv`` (when a composition has a selection strategy): each set's
  entropies and their Kolmogorov-Smirnov test against every reference set (see
  :mod:`~torchgeo_composition.study.curation`), also in ``results.md``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..diversity import correlation_markdown, write_correlation
from ..diversity import correlation_table as diversity_correlation_table
from ..diversity.correlation_report import scatter_path
from ..files import save_figure, write_text
from ..tables import markdown_table
from .curation import curation_table
from .downstream_results import (
    RUN_COLUMNS,
    add_protocol_columns,
    write_protocol_outputs,
)
from .measures import measure_names
from .records import Step, read_json
from .schema import DiversitySettings

__all__ = [
    "DIVERSITY_COLUMNS",
    "collect_results",
    "correlation_table",
    "plot_composition_maps",
    "results_table",
]

#: Diversity columns of a study with the default measure (spectral entropy); a
#: study with ``diversity.measures`` has one column per measure, then
#: ``continent_entropy``. Each is correlated with the mean score.
DIVERSITY_COLUMNS: tuple[str, ...] = ("spectral_entropy", "continent_entropy")

#: The score column the diversity measures are correlated with.
_SCORE = "mean_score"

#: Columns of ``runs.csv`` in a study without protocols.
_RUN_COLUMNS = ("composition", "downstream", "seed", "repeat", "score")


def _finished(step_dir: Path) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Return (step.json params, DONE outputs) of a finished step, else None."""
    spec = read_json(step_dir / "step.json")
    done = read_json(step_dir / "DONE.json")
    if spec is None or done is None or done.get("hash") != spec.get("hash"):
        return None
    return spec["params"], done.get("outputs", {})


def results_table(
    compositions: list[str],
    downstream: list[str],
    diversity: dict[str, dict[str, float | None]],
    scores: list[dict[str, Any]],
    columns: Sequence[str] = DIVERSITY_COLUMNS,
) -> pd.DataFrame:
    """Build the results table (one row per composition).

    Args:
        compositions: Composition names, in study order.
        downstream: Downstream evaluation names.
        diversity: Composition -> diversity measure -> value.
        scores: One record per probe run: ``composition``, ``downstream``,
            ``seed``, ``repeat``, ``score``.
        columns: The diversity columns, in order: one per configured measure,
            then ``continent_entropy``.

    Returns:
        Columns ``composition``, the diversity measures, ``<task>_mean``,
        ``<task>_std``, ``<task>_n`` per task, ``mean_score`` and ``rank``.
    """
    runs = pd.DataFrame(
        scores, columns=["composition", "downstream", "seed", "repeat", "score"]
    )
    rows = []
    for name in compositions:
        row: dict[str, Any] = {"composition": name}
        for column in columns:
            value = diversity.get(name, {}).get(column)
            row[column] = math.nan if value is None else float(value)
        means = []
        for task in downstream:
            values = runs.loc[
                (runs["composition"] == name) & (runs["downstream"] == task), "score"
            ].to_numpy(dtype=np.float64)
            mean = float(values.mean()) if len(values) else math.nan
            std = float(values.std(ddof=1)) if len(values) > 1 else math.nan
            row[f"{task}_mean"], row[f"{task}_std"] = mean, std
            row[f"{task}_n"] = len(values)
            means.append(mean)
        row["mean_score"] = float(np.mean(means)) if means else math.nan
        rows.append(row)
    table = pd.DataFrame(rows)
    table["rank"] = (
        table["mean_score"].rank(ascending=False, method="min").astype("Int64")
    )
    return table


def correlation_table(
    table: pd.DataFrame,
    y: str = "mean_score",
    columns: Sequence[str] = DIVERSITY_COLUMNS,
) -> pd.DataFrame:
    """Spearman correlation of every diversity measure with the score column.

    Undefined correlations (fewer than 3 sets, a constant column) are kept as a
    row with NaN and the reason in ``note``.

    Args:
        table: Output of :func:`results_table`.
        y: Score column.
        columns: The diversity columns, one row each, in order.

    Returns:
        Columns ``measure``, ``method``, ``rho``, ``p_value``, ``n``, ``note``
        (see :func:`torchgeo_composition.diversity.correlation_table`).
    """
    return diversity_correlation_table(
        table, list(columns), y, "spearman", on_error="note"
    )


def plot_composition_maps(
    manifests: dict[str, pd.DataFrame], path: str | os.PathLike[str]
) -> Path:
    """Draw one world map per composition with its samples, as one figure.

    Args:
        manifests: Composition name -> manifest (``lon``, ``lat``, ``stratum``).
        path: Output PNG.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    from ..geography import plot_world

    n = max(len(manifests), 1)
    cols = min(4, n)
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(3.6 * cols, 2.1 * rows + 0.4))
    strata = sorted(
        {str(s) for m in manifests.values() for s in m["stratum"].astype(str)}
    )
    palette = {s: f"C{i % 10}" for i, s in enumerate(strata)}
    for i, (name, manifest) in enumerate(manifests.items()):
        ax = fig.add_subplot(rows, cols, i + 1)
        plot_world(ax)
        colors = [palette[str(s)] for s in manifest["stratum"].astype(str)]
        ax.scatter(manifest["lon"], manifest["lat"], s=3, c=colors, zorder=2)
        ax.set_title(f"{name} (n={len(manifest)})", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    return save_figure(fig, path, dpi=110)


def _markdown(table: pd.DataFrame, corr: pd.DataFrame, title: str) -> str:
    lines = [f"# {title}", "", markdown_table(table)]
    lines += [
        "",
        "Scores: mean and standard deviation over pretraining seeds and repeats; "
        "rank 1 = best mean score; an empty cell has no value.",
        "",
        "## " + correlation_markdown(corr, _SCORE),
    ]
    for c in corr.to_dict("records"):
        if not math.isnan(float(c["rho"])):
            path = scatter_path("correlation", str(c["measure"]))
            lines.append(f"![{c['measure']}]({path.as_posix()})")
    lines += ["", "![composition maps](maps.png)"]
    return "\n".join(lines) + "\n"


def _recipe(entries: list[dict[str, Any]]) -> str:
    for entry in entries:
        if "selection" in entry:
            return str(entry.get("entropy_recipe", "default"))
    return "default"  # pragma: no cover


def _curation_markdown(table: pd.DataFrame) -> str:
    lines = ["", "## Selection by spectral entropy", "", markdown_table(table), ""]
    lines.append(
        "Entropies from the pool entropy index (recipe "
        f"`{table['entropy_recipe'].iloc[0]}`); `ks_*_vs_<set>`: two-sample "
        "Kolmogorov-Smirnov test of each set's entropies against that reference "
        "set's (a p-value above 0.05: the distributions are not told apart)."
    )
    return "\n".join(lines) + "\n"


def collect_results(step: Step) -> dict[str, Any]:
    """Run the ``collect`` step: gather finished steps and write every output.

    Args:
        step: The collect step (its inputs are the compose, diversity and probe
            steps).

    Returns:
        Paths of the written files.
    """
    from ..sampling import read_manifest

    root = Path(step.params["output_dir"])
    settings = DiversitySettings(**step.params["config"]["diversity"])
    columns = [*measure_names(settings), "continent_entropy"]
    compositions = list(step.params["compositions"])
    downstream = list(step.params["downstream"])
    diversity: dict[str, dict[str, float | None]] = {}
    scores: list[dict[str, Any]] = []
    runs: list[dict[str, Any]] = []
    manifests: dict[str, pd.DataFrame] = {}
    pool: dict[str, Any] | None = None
    for dep, info in step.inputs.items():
        found = _finished(Path(info["dir"]))
        if found is None:
            continue
        params, outputs = found
        kind = dep.split("-", 1)[0]
        name = params["composition"]
        if kind == "diversity":
            diversity[name] = {c: outputs.get(c) for c in columns}
        elif kind == "compose":
            manifests[name] = read_manifest(outputs["manifest"])[0]
            pool = params["config"]["pool"]
        elif kind == "probe" and "protocol" in params:
            evaluation = params["config"]["evaluation"]
            runs.append(
                outputs
                | {
                    "composition": name,
                    "downstream": params["downstream"],
                    "seed": params["seed"],
                    "repeat": params["repeat"],
                    "run_seed": evaluation["seed"] + params["repeat"],
                }
            )
        elif kind == "probe":
            scores.append(
                {
                    "composition": name,
                    "downstream": params["downstream"],
                    "seed": params["seed"],
                    "repeat": params["repeat"],
                    "score": outputs["score"],
                }
            )
    protocols: dict[str, list[str]] = step.params.get("protocols") or {}
    legacy = [t for t in downstream if t not in protocols]
    table = results_table(compositions, legacy, diversity, scores, columns)
    run_table = pd.DataFrame(scores, columns=list(_RUN_COLUMNS))
    if protocols:
        table = add_protocol_columns(table, runs, protocols)
        run_table = pd.DataFrame([*scores, *runs], columns=list(RUN_COLUMNS))
    corr = correlation_table(table, _SCORE, columns)
    out: dict[str, Any] = {
        "results_csv": str(write_text(root / "results.csv", table.to_csv(index=False))),
        "runs_csv": str(write_text(root / "runs.csv", run_table.to_csv(index=False))),
    }
    written = write_correlation(
        table,
        corr,
        _SCORE,
        root / "correlation",
        labels=table["composition"].tolist(),
    )
    out["correlation_csv"] = str(written["csv"])
    out["scatter_plots"] = [
        str(path) for kind, path in written.items() if kind.startswith("scatter_")
    ]
    if manifests:
        ordered = {n: manifests[n] for n in compositions if n in manifests}
        out["maps"] = str(plot_composition_maps(ordered, root / "maps.png"))
    title = f"Study results: {step.params.get('study', root.name)}"
    shown = table
    if protocols:  # every statistic is in results.csv; a summary here
        kept = [*columns, *[c for c in table.columns if c.startswith("mean_")]]
        legacy_columns = [f"{t}_{s}" for t in legacy for s in ("mean", "std", "n")]
        shown = table[["composition", *kept, *legacy_columns, "rank"]]
    markdown = _markdown(shown, corr, title)
    if protocols:
        study = str(step.params.get("study", root.name))
        paths, section = write_protocol_outputs(
            root, table, runs, protocols, columns, study
        )
        out |= paths
        markdown += section
    entries = step.params["config"]["compositions"]
    if pool is not None and any("selection" in c for c in entries):
        curation = curation_table(entries, manifests, pool, _recipe(entries))
        path = write_text(root / "curation.csv", curation.to_csv(index=False))
        out["curation_csv"] = str(path)
        markdown += _curation_markdown(curation)
    out["results_md"] = str(write_text(root / "results.md", markdown))
    print(markdown)
    return out
