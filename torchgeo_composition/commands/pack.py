r"""``torchgeo-composition pack``: write a manifest's samples as a streamable pack.

One LitData-optimised dataset per stratum, to a folder or an object store, and a
summary (``pack.json``) written last::

    torchgeo-composition pack --config configs/pack/demo_europe.yaml
    torchgeo-composition pack --pool ChipFolder --pool.root /data/chips \\
        --manifest_path pretrain_sets/europe.parquet \\
        --output_dir s3://bucket/packs/europe --num_workers 16

Running it again after an interruption resumes the pack. The work is
:func:`torchgeo_composition.packing.pack`; this module parses the arguments,
calls it and prints what it wrote.
"""

from __future__ import annotations

from collections.abc import Sequence

from jsonargparse import ArgumentParser

from ..datasets import PoolDataset
from ..packing import PackResult, pack
from .common import command_parser, run_command

__all__ = ["build_parser", "main"]

PROG = "torchgeo-composition pack"


def build_parser() -> ArgumentParser:
    """Return the command's argument parser.

    Returns:
        A jsonargparse parser taking ``--config`` and :func:`pack`'s arguments;
        ``--pool`` is any :class:`~torchgeo_composition.datasets.PoolDataset`.
    """
    parser = command_parser(
        PROG,
        "Write a manifest's samples as one LitData-optimised dataset per stratum "
        "(to a folder or an s3:// URL) and the pack's summary; run again to resume.",
        pack,
        skip={"pool"},
    )
    parser.add_subclass_arguments(
        PoolDataset, "pool", required=True, help="The pool the manifest was drawn from."
    )
    return parser


def _show(result: PackResult) -> None:
    summary = result.summary
    width = max(len("stratum"), *(len(name) for name in summary.strata))
    print(f"| {'stratum':<{width}} | samples |")
    print(f"|{'-' * (width + 2)}|---------|")
    for name, count in summary.counts.items():
        print(f"| {name:<{width}} | {count:>7} |")
    print(f"pack:    {result.output_dir}")
    print(
        f"images:  {summary.dtype} {list(summary.shape)}, bands "
        f"{', '.join(summary.bands)}"
    )
    if result.kept and not result.written:
        print("already complete: nothing written")
    elif result.kept:
        print(f"resumed: kept {len(result.kept)} finished strata")


def main(argv: Sequence[str]) -> int:
    """Run ``torchgeo-composition pack``.

    Args:
        argv: Command-line arguments after ``pack``.

    Returns:
        0 on success, 2 when the inputs are invalid (the error is printed).
    """
    return run_command(build_parser(), pack, argv, _show)
