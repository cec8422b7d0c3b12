r"""``torchgeo-composition compose``: build a stratified pretraining set from a pool.

Writes the manifest, its JSON summary and a world map of the selected samples, and
prints a table of counts per stratum::

    torchgeo-composition compose --config configs/compose/demo_europe.yaml
    torchgeo-composition compose --pool ChipFolder --pool.root /data/chips \\
        --composition europe --num_samples 700000 --manifest_path europe.parquet
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from jsonargparse import ActionConfigFile, ArgumentParser  # type: ignore[attr-defined]

from ..datamodules import build_manifest
from ..datasets import PoolDataset
from ..geography import RegionLayer
from ..sampling import (
    Selection,
    ShortfallPolicy,
    format_counts_table,
    plot_selection_map,
    summary_path,
    write_manifest,
)

__all__ = ["compose", "main", "map_path_for"]


def map_path_for(manifest_path: str | os.PathLike[str]) -> Path:
    """Return the default map path beside a manifest: ``<stem>.map.png``.

    Args:
        manifest_path: The manifest path.

    Returns:
        The PNG path.
    """
    path = Path(manifest_path)
    return path.with_name(f"{path.stem}.map.png")


def _check_writable(path: str | os.PathLike[str], parameter: str) -> None:
    """Raise early if the folder of ``path`` cannot be created or written."""
    folder = Path(path).parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise ValueError(
            f"{parameter} {str(path)!r}: its folder {str(folder)!r} is not writable "
            f"({err.strerror or err}); choose another output location"
        ) from err


def compose(
    pool: PoolDataset,
    composition: str | dict[str, float] = "global",
    num_samples: int = 1000,
    seed: int = 0,
    manifest_path: str = "manifest.parquet",
    map_path: str | None = None,
    regions: RegionLayer | None = None,
    on_shortfall: ShortfallPolicy = "error",
    overwrite: bool = False,
) -> tuple[Selection, Path, Path, Path]:
    """Build a stratified pretraining set and write its manifest, summary and map.

    An existing manifest at ``manifest_path`` is reused if it matches the pool and
    the arguments (and refused with a clear error otherwise) unless ``overwrite``
    is set, in which case it is replaced.

    Args:
        pool: The pool to draw from (e.g. ``ChipFolder``, ``SSL4EOS12Pool``).
        composition: Preset (a continent, ``global``, ``proportional``,
            ``uniform``) or ``{stratum: weight}``.
        num_samples: Size of the set (> 0).
        seed: Random seed.
        manifest_path: Output manifest (``.parquet`` or ``.csv``); the summary
            goes to ``<stem>.summary.json`` beside it.
        map_path: Output PNG map; ``None`` = ``<stem>.map.png`` beside the manifest.
        regions: Region layer defining the strata; ``None`` = continents.
        on_shortfall: ``error``, ``redistribute`` or ``replace`` when a stratum
            holds fewer samples than its quota.
        overwrite: Replace an existing manifest instead of reusing it.

    Returns:
        ``(selection, manifest path, summary path, map path)``.

    Raises:
        ValueError: For invalid arguments, an unwritable output folder, an
            unresolvable shortfall or a mismatching existing manifest.
    """
    png = Path(map_path) if map_path is not None else map_path_for(manifest_path)
    _check_writable(manifest_path, "manifest_path")
    _check_writable(png, "map_path")
    if overwrite:
        selection = build_manifest(
            pool, composition, num_samples, seed, None, regions, on_shortfall
        )
        write_manifest(selection, manifest_path)
    else:
        selection = build_manifest(
            pool, composition, num_samples, seed, manifest_path, regions, on_shortfall
        )
    title = (
        f"{selection.summary.get('composition', {}).get('name', composition)}: "
        f"{len(selection.manifest)} samples"
    )
    plot_selection_map(selection.manifest, png, layer=regions, title=title)
    return selection, Path(manifest_path), summary_path(manifest_path), png


def build_parser() -> ArgumentParser:
    """Return the command's argument parser.

    Returns:
        A jsonargparse parser taking ``--config`` and :func:`compose`'s arguments.
    """
    parser = ArgumentParser(
        prog="torchgeo-composition compose",
        description=(
            "Build a stratified pretraining set from a pool: write the manifest, its "
            "summary and a world map, and print counts per stratum."
        ),
        exit_on_error=True,
    )
    parser.add_argument("--config", action=ActionConfigFile, help="YAML config file")
    parser.add_function_arguments(compose, fail_untyped=True)
    return parser


def main(argv: Sequence[str]) -> int:
    """Run ``torchgeo-composition compose``.

    Args:
        argv: Command-line arguments after ``compose``.

    Returns:
        0 on success, 2 when the inputs are invalid (the error is printed).
    """
    parser = build_parser()
    cfg = parser.parse_args(list(argv))
    try:
        instantiate = getattr(parser, "instantiate", None) or parser.instantiate_classes
        init = instantiate(cfg)
        kwargs = {k: v for k, v in vars(init).items() if k != "config"}
        selection, manifest, summary, png = compose(**kwargs)
    except (ValueError, FileNotFoundError, PermissionError) as err:
        print(f"torchgeo-composition compose: error: {err}", file=sys.stderr)
        return 2
    print(format_counts_table(selection.summary))
    print(f"manifest: {manifest}")
    print(f"summary:  {summary}")
    print(f"map:      {png}")
    return 0
