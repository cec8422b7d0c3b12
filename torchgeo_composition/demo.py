"""The end-to-end demo behind ``make demo``.

Run from the repository root::

    python -m torchgeo_composition.demo

It writes the synthetic demo pool (once), builds a Europe-only and a
continent-balanced global pretraining set from it with ``torchgeo-composition
compose``, then pretrains a tiny SatMAE on the Europe-only set with
``torchgeo-composition fit --config configs/quickstart.yaml``. Every step is an
ordinary command of the CLI; this module only chains them and says where the
results are.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .cli import main as cli_main

#: Compose configs the demo runs, in order.
COMPOSE_CONFIGS = (
    "configs/compose/demo_europe.yaml",
    "configs/compose/demo_global.yaml",
)

#: The pretraining config of the demo.
FIT_CONFIG = "configs/quickstart.yaml"


def _find_configs(root: Path | None) -> Path:
    candidates = [root] if root is not None else [Path.cwd(), Path(__file__).parents[1]]
    for candidate in candidates:
        if candidate is not None and (candidate / FIT_CONFIG).is_file():
            return candidate
    raise FileNotFoundError(
        f"cannot find {FIT_CONFIG!r} under {[str(c) for c in candidates]}; run the "
        "demo from the repository root (make demo)"
    )


def _banner(text: str) -> None:
    print(f"\n=== {text} ===", flush=True)


def run(root: Path | None = None, pretrain: bool = True) -> int:
    """Run the demo.

    Args:
        root: Repository root holding ``configs/``; by default the current directory
            or the source tree of this package.
        pretrain: Whether to run the SatMAE pretraining step after composing.

    Returns:
        The process exit code (0 on success).
    """
    base = _find_configs(root)
    start = time.perf_counter()
    for config in COMPOSE_CONFIGS:
        _banner(f"torchgeo-composition compose --config {config}")
        code = cli_main(["compose", "--config", str(base / config)])
        if code:
            return code
    if pretrain:
        last = Path("demo_output/quickstart/checkpoints/last.ckpt")
        args = ["fit", "--config", str(base / FIT_CONFIG)]
        if last.is_file():  # a rerun continues the earlier run (done: ends at once)
            args += ["--ckpt_path", "last"]
        _banner(f"torchgeo-composition {' '.join(args)}")
        code = cli_main(args)
        if code:
            return code
        logs = Path("demo_output/quickstart/lightning_logs")
        figs = sorted(logs.glob("version_*/reconstructions/*.png"))
        print(f"\ncheckpoint: {last if last.is_file() else 'none'}")
        print(f"reconstruction figure: {figs[-1] if figs else 'none'}")
    print(
        f"\ndemo finished in {time.perf_counter() - start:.0f} s; outputs in demo_output/"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command-line entry of the demo.

    Args:
        argv: Arguments (``--no-pretrain`` skips pretraining).

    Returns:
        The process exit code.
    """
    parser = argparse.ArgumentParser(description="torchgeo-composition demo")
    parser.add_argument(
        "--no-pretrain", action="store_true", help="only build the pretraining sets"
    )
    args = parser.parse_args(argv)
    return run(pretrain=not args.no_pretrain)


if __name__ == "__main__":
    sys.exit(main())
