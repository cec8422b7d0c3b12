"""``torchgeo-composition cka``: linear CKA between backbones' features.

Runs each backbone (registry names, as in a fusion config) over up to
``--num_samples`` images of a datamodule split, computes linear CKA between the
pooled features of every pair, and writes ``cka.csv`` (the table) and ``cka.png``
(a heat-map) to ``--output``. A fusion ``fit`` config can be given as it is: its
``data`` section is used, and ``model.init_args.backbones`` / ``bands`` /
``input_normalization`` are the defaults::

    torchgeo-composition cka --config configs/fusion/eurosat_concat.yaml --output cka/

Fewer than 3 samples are refused (CKA of 2 samples is 1 by construction); with
fewer samples than the features are wide, a ``warning:`` line on stderr gives the
CKA that unrelated features would already score.

The work is :func:`torchgeo_composition.models.fusion.cka_report.cka_report`; this
module parses the arguments, calls it and prints the table.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Sequence
from typing import Any, Literal

from jsonargparse import ArgumentParser, Namespace

from ..models.fusion.cka_report import CKAReport, CKASampleWarning, cka_report
from ..tables import markdown_table
from .common import command_parser, run_command

__all__ = ["build_parser", "main"]

PROG = "torchgeo-composition cka"

#: Arguments whose defaults a fusion ``fit`` config's ``model.init_args`` gives.
_FROM_MODEL = ("backbones", "bands", "input_normalization")


def build_parser() -> ArgumentParser:
    """Return the command's argument parser.

    Returns:
        A jsonargparse parser taking ``--config``, ``--data`` (any TorchGeo
        datamodule) and the arguments of
        :func:`~torchgeo_composition.models.fusion.cka_report.cka_report`; the
        ``model``, ``trainer`` and ``seed_everything`` sections of a ``fit``
        config are accepted.
    """
    from torchgeo.datamodules import BaseDataModule

    parser = command_parser(
        PROG,
        "Linear CKA between backbones' features on a dataset split.",
        cka_report,
        skip={"data", *_FROM_MODEL},
    )
    parser.add_subclass_arguments(BaseDataModule, "data", required=True)
    parser.add_argument("--backbones", type=list[str | dict[str, Any]] | None)
    parser.add_argument("--bands", type=list[str] | None)
    parser.add_argument(
        "--input_normalization", type=Literal["datamodule", "backbone"] | None
    )
    parser.add_argument("--model", type=dict[str, Any] | None, help="fit config model")
    parser.add_argument("--trainer", type=dict[str, Any] | None, help="ignored")
    parser.add_argument("--seed_everything", type=Any, help="ignored")
    return parser


def _model_defaults(parser: ArgumentParser, cfg: Namespace) -> Namespace:
    """Fill ``backbones``, ``bands``, ``input_normalization`` from ``--model``."""
    init = dict((cfg.model or {}).get("init_args", {}))
    for key in _FROM_MODEL:
        if cfg.get(key) is None and key in init:
            cfg[key] = init[key]
    cfg.backbones = cfg.backbones or []
    cfg.bands = cfg.bands or []
    cfg.input_normalization = cfg.input_normalization or "datamodule"
    return cfg


def _show(report: CKAReport) -> None:
    print(markdown_table(report.table, index=True))
    print(f"wrote {report.csv} and {report.figure} ({report.num_samples} samples)")
    if report.warning is not None:
        print(f"warning: {report.warning}", file=sys.stderr)


def main(argv: Sequence[str]) -> int:
    """Run ``torchgeo-composition cka``.

    Args:
        argv: Command-line arguments after ``cka``.

    Returns:
        0 on success, 2 when the inputs are invalid (the error is printed).
    """
    with warnings.catch_warnings():
        # shown by _show, as one line
        warnings.simplefilter("ignore", CKASampleWarning)
        return run_command(
            build_parser(),
            cka_report,
            argv,
            _show,
            _model_defaults,
            outputs={"output": "cka.csv"},
        )
