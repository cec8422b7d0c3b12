r"""``torchgeo-composition pack``: write a manifest's samples as a streamable pack.

One LitData-optimised dataset per stratum, to a folder or an object store, and a
summary (``pack.json``) written last::

    torchgeo-composition pack --config configs/pack/demo_europe.yaml
    torchgeo-composition pack --pool ChipFolder --pool.root /data/chips \\
        --manifest_path pretrain_sets/europe.parquet \\
        --output_dir s3://bucket/packs/europe --num_workers 16

``--compose`` takes a ``compose`` config instead of a manifest: the set is
composed first (or its saved manifest reused, as ``compose`` does), then packed
from the config's pool and manifest::

    torchgeo-composition pack --compose configs/compose/demo_europe.yaml \
        --output_dir demo_output/packs/europe

Running it again after an interruption resumes the pack. The work is
:func:`torchgeo_composition.packing.pack`; this module parses the arguments,
calls it and prints what it wrote.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

from jsonargparse import ArgumentParser

from ..datamodules.entropy_index import with_entropy
from ..datasets import PoolDataset
from ..packing import PackResult, pack
from ..sampling import compose as compose_set
from .common import command_parser, run_command
from .compose import build_parser as compose_parser

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
        skip={"pool", "manifest_path"},
    )
    parser.add_subclass_arguments(
        PoolDataset,
        "pool",
        required=False,
        help="The pool the manifest was drawn from (default: the --compose "
        "config's pool).",
    )
    parser.add_argument(
        "--manifest_path",
        type=str | None,
        default=None,
        help="Manifest written by compose (.parquet/.csv); default: the --compose "
        "config's manifest_path.",
    )
    parser.add_argument(
        "--compose",
        type=str | None,
        default=None,
        help="A compose config (e.g. configs/compose/demo_europe.yaml): compose the "
        "set first (or reuse its saved manifest), then pack it.",
    )
    return parser


def _composed(config: str) -> tuple[PoolDataset, str]:
    """Compose the set of a ``compose`` config; return its pool and manifest."""
    parser = compose_parser()
    cfg = parser.parse_args(["--config", config])
    instantiate = getattr(parser, "instantiate", None) or parser.instantiate_classes
    init = vars(instantiate(cfg))
    names = inspect.signature(compose_set).parameters
    kwargs = {key: value for key, value in init.items() if key in names}
    if kwargs.get("selection", "random") != "random":
        kwargs["pool"] = with_entropy(kwargs["pool"], kwargs.get("entropy_recipe"))
    composed = compose_set(**kwargs)
    print(f"manifest: {composed.manifest_path} (from compose config {config})")
    return init["pool"], str(composed.manifest_path)


def _pack(
    pool: PoolDataset | None = None,
    manifest_path: str | None = None,
    compose: str | None = None,
    **kwargs: Any,
) -> PackResult:
    """:func:`pack`, after composing the set of ``compose`` when given."""
    if compose is not None:
        composed_pool, composed_manifest = _composed(compose)
        pool = composed_pool if pool is None else pool
        manifest_path = composed_manifest if manifest_path is None else manifest_path
    if pool is None or manifest_path is None:
        missing = [
            f"--{name}"
            for name, value in (("pool", pool), ("manifest_path", manifest_path))
            if value is None
        ]
        raise ValueError(
            f"{' and '.join(missing)} not given; give --pool and --manifest_path, "
            "or --compose <compose config> to compose the set and pack it"
        )
    return pack(pool, manifest_path, **kwargs)


_pack.__signature__ = inspect.signature(pack).replace(  # type: ignore[attr-defined]
    parameters=[
        *inspect.signature(pack).parameters.values(),
        inspect.Parameter("compose", inspect.Parameter.KEYWORD_ONLY, default=None),
    ]
)


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
    return run_command(build_parser(), _pack, argv, _show)
