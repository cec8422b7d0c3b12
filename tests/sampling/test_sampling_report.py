from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from torchgeo_composition.sampling import (
    format_counts_table,
    plot_selection_map,
    select,
)


def test_plot_selection_map_writes_png(
    continent_index: pd.DataFrame, tmp_path: Path
) -> None:
    sel = select(continent_index, "uniform", 100, seed=0)
    out = plot_selection_map(sel.manifest, tmp_path / "maps" / "set.png", title="t")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in out.parent.iterdir()] == ["set.png"]
    with pytest.raises(ValueError, match=r"\.png"):
        plot_selection_map(sel.manifest, tmp_path / "set.jpg")
    with pytest.raises(ValueError, match="lacks column"):
        plot_selection_map(sel.manifest.drop(columns="lon"), tmp_path / "x.png")


def test_format_counts_table(continent_index: pd.DataFrame) -> None:
    sel = select(continent_index, "global", 180, seed=0, on_shortfall="redistribute")
    table = format_counts_table(sel.summary)
    lines = table.splitlines()
    assert lines[0].split("|")[1].strip() == "stratum"
    assert "| oceania " in table
    assert "| total " in table
    assert "180" in lines[-3]
    assert "entropy" in table
    assert "shortfall (redistribute)" in table
    uniform = format_counts_table(select(continent_index, "uniform", 10, 0).summary)
    assert "unassigned" in uniform or "total" in uniform
