r"""``torchgeo-composition compose``: build a stratified pretraining set from a pool.

Writes the manifest, its JSON summary and a world map of the selected samples, and
prints a table of counts per stratum::

    torchgeo-composition compose --config configs/compose/demo_europe.yaml
    torchgeo-composition compose --pool ChipFolder --pool.root /data/chips \\
        --composition europe --num_samples 700000 --manifest_path europe.parquet

The work is :func:`torchgeo_composition.sampling.compose`; this module parses the
arguments, calls it and prints what it wrote. Two runs on one manifest path take
turns through its lock (``--lock_timeout`` bounds the wait); ``--check_pixels true``
reads every selected chip once and refuses bad files before anything is written.
An entropy strategy (``--selection entropy_top`` ...) reads the pool entropy
index, building it first (with a progress bar) when it does not exist.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from jsonargparse import ArgumentParser

from ..datamodules.entropy_index import with_entropy
from ..datasets import PoolDataset
from ..sampling import ComposedSet, compose, format_counts_table, map_path_for
from .common import command_parser, run_command

__all__ = ["build_parser", "compose", "main", "map_path_for"]

PROG = "torchgeo-composition compose"


def build_parser() -> ArgumentParser:
    """Return the command's argument parser.

    Returns:
        A jsonargparse parser taking ``--config`` and :func:`compose`'s arguments;
        ``--pool`` is any :class:`~torchgeo_composition.datasets.PoolDataset`.
    """
    parser = command_parser(
        PROG,
        "Build a stratified pretraining set from a pool: write the manifest, its "
        "summary and a world map, and print counts per stratum.",
        compose,
        skip={"pool"},
    )
    parser.add_subclass_arguments(
        PoolDataset, "pool", required=True, help="The pool to draw from."
    )
    return parser


def _show(composed: ComposedSet) -> None:
    print(format_counts_table(composed.selection.summary))
    print(f"manifest: {composed.manifest_path}")
    print(f"summary:  {composed.summary_path}")
    print(f"map:      {composed.map_path}")


def main(argv: Sequence[str]) -> int:
    """Run ``torchgeo-composition compose``.

    Args:
        argv: Command-line arguments after ``compose``.

    Returns:
        0 on success, 2 when the inputs are invalid (the error is printed).
    """
    return run_command(build_parser(), _compose, argv, _show)


@functools.wraps(compose)
def _compose(**kwargs: Any) -> ComposedSet:
    """:func:`compose`, with the pool entropy index for an entropy strategy."""
    if kwargs.get("selection", "random") != "random":
        kwargs["pool"] = with_entropy(kwargs["pool"], kwargs.get("entropy_recipe"))
    return compose(**kwargs)
