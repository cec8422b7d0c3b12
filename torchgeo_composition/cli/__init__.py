"""The ``torchgeo-composition`` command line.

``fit | validate | test | predict`` are a :class:`~lightning.pytorch.cli.LightningCLI`
whose model and datamodule are any :class:`torchgeo.trainers.BaseTask` and
:class:`torchgeo.datamodules.BaseDataModule` (ours, TorchGeo's or a plugin's), chosen
in subclass mode. The other commands (``compose`` ...) are listed in
:data:`COMMANDS` and take their own arguments.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Sequence

from jsonargparse import DefaultHelpFormatter
from lightning.pytorch.cli import LightningCLI

from . import __version__
from .plugins import load_plugins

#: Commands besides Lightning's, as ``name -> (module:function, one-line help)``.
#: Each function takes the remaining argument list and returns an exit code.
COMMANDS: dict[str, tuple[str, str]] = {
    "compose": (
        "torchgeo_composition.commands.compose:main",
        "build a stratified pretraining set: manifest, summary, map",
    ),
    "diversity": (
        "torchgeo_composition.commands.diversity:main",
        "spectral-entropy report of a pretraining set: JSON, Markdown, plots",
    ),
    "correlate": (
        "torchgeo_composition.commands.correlate:main",
        "correlate diversity measures with downstream results: rho/p table, plots",
    ),
    "cka": (
        "torchgeo_composition.commands.cka:main",
        "linear CKA between backbones' features: heat-map PNG and table",
    ),
    "study": (
        "torchgeo_composition.commands.study:main",
        "run a comparative study: compose, pretrain, probe, correlate (resumable)",
    ),
}

LIGHTNING_COMMANDS = ("fit", "validate", "test", "predict")

# As in TorchGeo's own CLI: sensible GDAL settings for reading many small rasters.
_RASTERIO_ENV = {
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    "GDAL_MAX_RAW_BLOCK_CACHE_SIZE": "200000000",
    "GDAL_SWATH_SIZE": "200000000",
}


def _description() -> str:
    lines = [
        "torchgeo-composition: geographically stratified pretraining sets, SatMAE, "
        "backbone fusion and spectral diversity for TorchGeo.",
        "",
        "Lightning commands: " + ", ".join(LIGHTNING_COMMANDS),
        "Other commands (run 'torchgeo-composition COMMAND --help'):",
    ]
    lines += [f"  {name:<10} {help_}" for name, (_, help_) in COMMANDS.items()]
    return "\n".join(lines)


class _HelpFormatter(DefaultHelpFormatter):
    """Keeps the line breaks of the description (the list of commands)."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return "".join(indent + line for line in text.splitlines(keepends=True))


def _resolve(target: str) -> Callable[[list[str]], int | None]:
    module_name, _, func_name = target.partition(":")
    module = importlib.import_module(module_name)
    func: Callable[[list[str]], int | None] = getattr(module, func_name)
    return func


def lightning_main(args: Sequence[str] | None = None) -> LightningCLI:
    """Run the Lightning commands (``fit``, ``validate``, ``test``, ``predict``).

    Args:
        args: Command-line arguments (without the program name); ``None`` reads
            :data:`sys.argv`.

    Returns:
        The :class:`LightningCLI` instance, with ``trainer``, ``model`` and
        ``datamodule`` attributes.
    """
    from torchgeo.datamodules import BaseDataModule
    from torchgeo.trainers import BaseTask

    return LightningCLI(
        model_class=BaseTask,
        datamodule_class=BaseDataModule,
        seed_everything_default=0,
        subclass_mode_model=True,
        subclass_mode_data=True,
        save_config_kwargs={"overwrite": True},
        parser_kwargs={
            "version": f"torchgeo-composition {__version__}",
            "description": _description(),
            "formatter_class": _HelpFormatter,
        },
        args=list(args) if args is not None else None,
    )


def main(args: Sequence[str] | None = None) -> int:
    """Entry point of the ``torchgeo-composition`` console script.

    Loads every ``torchgeo_composition.plugins`` entry point first, so that short
    class names resolve in configs, then dispatches to a command.

    Args:
        args: Command-line arguments (without the program name); ``None`` reads
            :data:`sys.argv`.

    Returns:
        The process exit code.
    """
    argv = list(sys.argv[1:] if args is None else args)
    for key, value in _RASTERIO_ENV.items():
        os.environ.setdefault(key, value)
    load_plugins()
    if argv and argv[0] in COMMANDS:
        code = _resolve(COMMANDS[argv[0]][0])(argv[1:])
        return int(code or 0)
    lightning_main(None if args is None else argv)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
