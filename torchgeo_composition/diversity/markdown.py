"""Markdown rendering of a diversity report (see :mod:`.report`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from ..tables import markdown_table

__all__ = ["QUANTILES", "STAT_COLUMNS", "to_markdown"]

#: Quantiles of the per-sample values given in reports.
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)

#: Statistics of a group of samples, in table order.
STAT_COLUMNS = (
    "n",
    "empty",
    "mean",
    "std",
    "min",
    *[f"q{round(q * 100):02d}" for q in QUANTILES],
    "max",
)


def _table(rows: Mapping[str, Mapping[str, Any]], first: str) -> str:
    frame = pd.DataFrame(
        [[name, *(stats.get(c) for c in STAT_COLUMNS)] for name, stats in rows.items()],
        columns=[first, *STAT_COLUMNS],
    )
    return markdown_table(frame)


def to_markdown(report: Mapping[str, Any]) -> str:
    """Render a report as Markdown tables.

    Args:
        report: Output of :func:`summarize`.

    Returns:
        Markdown text: the headline measure overall and per stratum, its mean per
        band, the other measures overall, the composition entropies, the empty
        samples, the measures' parameters, the recipe of the measured set (when
        known) and the other settings.
    """
    head, *others = report["measures"]
    label = str(report["measures"][head].get("label") or head)
    lines = [
        f"# {label[:1].upper()}{label[1:]}",
        "",
        _table({"all": report[head], **report["per_stratum"]}, "stratum"),
        "",
    ]
    if report["per_band"]:
        bands = pd.DataFrame(
            {
                "band": list(report["per_band"]),
                "mean": list(report["per_band"].values()),
            }
        )
        lines += [markdown_table(bands), ""]
    if others:
        lines += ["# Other measures", ""]
        lines += [_table({m: report[m] for m in others}, "measure"), ""]
    if report.get("continent_entropy_nats") is not None:
        lines.append(f"Continent entropy: {report['continent_entropy_nats']:.3f} nats")
    region = report.get("region")
    if region and region.get("entropy_nats") is not None:
        lines.append(f"{region['name']} entropy: {region['entropy_nats']:.3f} nats")
    lines += ["", _empty_line(report.get("empty_samples"))]
    measures = ", ".join(
        f"{name}({', '.join(f'{k}={v}' for k, v in spec.items() if k != 'label')})"
        for name, spec in report["measures"].items()
    )
    lines.append(f"Measures: {measures}")
    settings = dict(report.get("settings", {}))
    recipe = settings.pop("recipe", None)
    if isinstance(recipe, Mapping) and recipe:
        lines.append("Recipe: " + ", ".join(f"{k}={v}" for k, v in recipe.items()))
    if settings:
        lines.append("Settings: " + ", ".join(f"{k}={v}" for k, v in settings.items()))
    return "\n".join(lines) + "\n"


def _empty_line(empty: Mapping[str, Any] | None) -> str:
    if not empty:
        return "Empty samples (no valid pixel): unknown"
    count = int(empty.get("count", 0))
    what = "no valid pixel" + (
        f": NaN or nodata={empty['nodata']}"
        if empty.get("nodata") is not None
        else ": all NaN"
    )
    line = f"Empty samples ({what}): {count}"
    if count:
        ids = list(empty.get("sample_ids", []))
        more = f" and {count - len(ids)} more" if count > len(ids) else ""
        line += (
            f" (left out of every statistic; {', '.join(ids)}{more}; see the "
            "'empty' column of per_sample.csv)"
        )
    return line
