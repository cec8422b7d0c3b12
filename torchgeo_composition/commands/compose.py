r"""``torchgeo-composition compose``: build a stratified pretraining set from a pool.

Writes the manifest, its JSON summary and a world map of the selected samples, and
prints a table of counts per stratum::

    torchgeo-composition compose --config configs/compose/demo_europe.yaml
    torchgeo-composition compose --pool ChipFolder --pool.root /data/chips \\
        --composition europe --num_samples 700000 --manifest_path europe.parquet

The work is :func:`torchgeo_composition.sampling.compose`; this module parses the
arguments, calls it and prints what it wrote.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from jsonargparse import ActionConfigFile, ArgumentParser  # type: ignore[attr-defined]

from ..datasets import PoolDataset
from ..sampling import compose, format_counts_table, map_path_for

__all__ = ["build_parser", "compose", "main", "map_path_for"]


def build_parser() -> ArgumentParser:
    """Return the command's argument parser.

    Returns:
        A jsonargparse parser taking ``--config`` and :func:`compose`'s arguments;
        ``--pool`` is any :class:`~torchgeo_composition.datasets.PoolDataset`.
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
    parser.add_subclass_arguments(
        PoolDataset, "pool", required=True, help="The pool to draw from."
    )
    parser.add_function_arguments(compose, skip={"pool"}, fail_untyped=True)
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
        composed = compose(**kwargs)
    except (ValueError, OSError) as err:
        print(f"torchgeo-composition compose: error: {err}", file=sys.stderr)
        return 2
    print(format_counts_table(composed.selection.summary))
    print(f"manifest: {composed.manifest_path}")
    print(f"summary:  {composed.summary_path}")
    print(f"map:      {composed.map_path}")
    return 0
