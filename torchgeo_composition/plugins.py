"""Entry-point plugin discovery.

Two entry-point groups extend torchgeo-composition:

``torchgeo_composition.plugins``
    Modules imported before the command line is parsed, so that the classes they
    define (tasks, datamodules, callbacks) resolve by their short names in YAML
    (``class_path: ContinentStratifiedDataModule``). This package registers its own
    modules there.

``torchgeo_composition.backbones``
    ``name = "package.module:factory"`` pairs added to the fusion backbone registry.
"""

from __future__ import annotations

import warnings
from importlib.metadata import EntryPoint, entry_points
from typing import Any

#: Entry-point group of modules imported before parsing.
PLUGIN_GROUP = "torchgeo_composition.plugins"

#: Entry-point group of backbone factories.
BACKBONE_GROUP = "torchgeo_composition.backbones"


class PluginWarning(UserWarning):
    """A plugin could not be loaded; the rest of the program continues without it."""


def iter_entry_points(group: str) -> list[EntryPoint]:
    """Return the installed entry points of a group, sorted by name.

    Args:
        group: Entry-point group name.

    Returns:
        The entry points, sorted by name for a deterministic load order.
    """
    return sorted(entry_points(group=group), key=lambda ep: ep.name)


def load_plugins(group: str = PLUGIN_GROUP) -> dict[str, Any]:
    """Load every entry point of ``group``.

    A plugin that fails to import does not stop the program: a
    :class:`PluginWarning` names the plugin and its error.

    Args:
        group: Entry-point group name.

    Returns:
        Mapping of entry-point name to the loaded object, for those that loaded.
    """
    loaded: dict[str, Any] = {}
    for ep in iter_entry_points(group):
        try:
            loaded[ep.name] = ep.load()
        except Exception as err:
            warnings.warn(
                f"Plugin {ep.name!r} ({ep.value}) from group {group!r} failed to "
                f"load and is skipped: {type(err).__name__}: {err}",
                PluginWarning,
                stacklevel=2,
            )
    return loaded
