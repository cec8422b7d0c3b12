from pathlib import Path

import pytest
from matplotlib.figure import Figure

from torchgeo_composition.files import atomic_path, save_figure, write_text


def test_atomic_path_moves_into_place_and_creates_folder(tmp_path: Path) -> None:
    target = tmp_path / "new" / "file.bin"
    with atomic_path(target) as temp:
        assert temp.parent == target.parent and temp.suffix == ".bin"
        temp.write_bytes(b"data")
        assert not target.exists()  # nothing under the final name until success
    assert target.read_bytes() == b"data"
    assert sorted(p.name for p in target.parent.iterdir()) == ["file.bin"]


def test_failure_leaves_target_and_no_temporary(tmp_path: Path) -> None:
    target = write_text(tmp_path / "a.txt", "old")
    with pytest.raises(RuntimeError), atomic_path(target) as temp:
        temp.write_text("half")
        raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_save_figure_writes_png(tmp_path: Path) -> None:
    fig = Figure()
    fig.add_subplot().plot([0, 1], [1, 0])
    out = save_figure(fig, tmp_path / "plot.png", dpi=50)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
