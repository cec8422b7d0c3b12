"""The TorchGeo names the package uses, on every supported TorchGeo release.

torchgeo-composition supports TorchGeo 0.8 (Python 3.11 and newer) and TorchGeo 0.9
and 0.10 (Python 3.12 and newer). TorchGeo 0.10 renamed ``torchgeo.trainers`` to
``torchgeo.tasks`` and dropped the ``Task`` suffix of its tasks
(``ClassificationTask`` became ``Classification``), keeping deprecated aliases, and
removed ``torchgeo.trainers.utils``; its ``torchgeo.samplers.GeoSampler`` became an
abstract base without the ``(dataset, roi, toi)`` constructor, which moved (with the
deprecated samplers) to ``torchgeo.samplers.single.GeoSampler``. The package imports
those names from this module only, never from ``torchgeo.trainers`` or
``torchgeo.tasks`` directly::

    from torchgeo_composition.compat import BaseTask

Names resolve on first use (importing this module imports no TorchGeo code), from the
new location first, so TorchGeo 0.10 emits no deprecation warning. Resolving a name on
an unsupported TorchGeo release raises :class:`UnsupportedTorchGeoError`, which names
the supported range.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

if TYPE_CHECKING:  # the names as TorchGeo 0.8 spells them; the same classes on 0.10
    from torchgeo.datamodules import BaseDataModule, GeoDataModule, NonGeoDataModule
    from torchgeo.datamodules.utils import MisconfigurationException
    from torchgeo.samplers import GeoSampler
    from torchgeo.trainers import BaseTask, ClassificationTask, SemanticSegmentationTask

__all__ = [
    "SUPPORTED_TORCHGEO",
    "BaseDataModule",
    "BaseTask",
    "ClassificationTask",
    "GeoDataModule",
    "GeoSampler",
    "MisconfigurationException",
    "NonGeoDataModule",
    "SemanticSegmentationTask",
    "UnsupportedTorchGeoError",
    "check_torchgeo_version",
    "tasks_module",
    "torchgeo_version",
]

#: The TorchGeo releases the package is tested with (a PEP 440 specifier).
SUPPORTED_TORCHGEO = ">=0.8,<0.11"

#: Name -> the places it lives, newest TorchGeo first: (module, attribute).
_LOCATIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "BaseTask": (("torchgeo.tasks", "BaseTask"), ("torchgeo.trainers", "BaseTask")),
    "ClassificationTask": (
        ("torchgeo.tasks", "Classification"),
        ("torchgeo.trainers", "ClassificationTask"),
    ),
    "SemanticSegmentationTask": (
        ("torchgeo.tasks", "SemanticSegmentation"),
        ("torchgeo.trainers", "SemanticSegmentationTask"),
    ),
    "BaseDataModule": (("torchgeo.datamodules", "BaseDataModule"),),
    "GeoDataModule": (("torchgeo.datamodules", "GeoDataModule"),),
    "NonGeoDataModule": (("torchgeo.datamodules", "NonGeoDataModule"),),
    # the base that indexes a dataset within roi / toi (0.8: torchgeo.samplers.GeoSampler)
    "GeoSampler": (
        ("torchgeo.samplers.single", "GeoSampler"),
        ("torchgeo.samplers", "GeoSampler"),
    ),
    "MisconfigurationException": (
        ("torchgeo.datamodules.utils", "MisconfigurationException"),
        ("lightning.fabric.utilities.exceptions", "MisconfigurationException"),
    ),
}


class UnsupportedTorchGeoError(ValueError):
    """The installed TorchGeo is outside :data:`SUPPORTED_TORCHGEO`."""


def torchgeo_version() -> str | None:
    """Return the installed TorchGeo version without importing TorchGeo.

    Returns:
        The version string, or ``None`` when TorchGeo is not installed.
    """
    try:
        return version("torchgeo")
    except PackageNotFoundError:
        return None


def check_torchgeo_version(installed: str | None = None) -> str:
    """Check that a TorchGeo version is one the package supports.

    Args:
        installed: A version string; ``None`` checks the installed TorchGeo.

    Returns:
        The version checked.

    Raises:
        UnsupportedTorchGeoError: If TorchGeo is missing or its version is outside
            :data:`SUPPORTED_TORCHGEO`; the message names the range and the remedy.
    """
    found = torchgeo_version() if installed is None else installed
    remedy = f"install a supported release: pip install 'torchgeo{SUPPORTED_TORCHGEO}'"
    if found is None:
        raise UnsupportedTorchGeoError(
            f"torchgeo is not installed; torchgeo-composition needs torchgeo "
            f"{SUPPORTED_TORCHGEO}; {remedy}"
        )
    try:
        parsed = Version(found)
    except InvalidVersion:
        parsed = None
    # pre-releases of a supported minor (0.10.0rc1, 0.11.0.dev0 is not) count
    if parsed is None or not SpecifierSet(SUPPORTED_TORCHGEO).contains(
        parsed.base_version if parsed.is_prerelease else parsed
    ):
        raise UnsupportedTorchGeoError(
            f"torchgeo {found} is not supported: torchgeo-composition supports "
            f"torchgeo {SUPPORTED_TORCHGEO} (0.8 on Python 3.11, 0.10 on Python "
            f"3.12 and newer); {remedy}"
        )
    return found


def tasks_module() -> str:
    """Return the module that holds TorchGeo's tasks on the installed release.

    Returns:
        ``"torchgeo.tasks"`` (TorchGeo 0.10 and newer) or ``"torchgeo.trainers"``.
    """
    check_torchgeo_version()
    try:
        importlib.import_module("torchgeo.tasks")
    except ModuleNotFoundError:
        return "torchgeo.trainers"
    return "torchgeo.tasks"


def __getattr__(name: str) -> Any:
    """Resolve a TorchGeo name on first use (module ``__getattr__``)."""
    if name not in _LOCATIONS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    check_torchgeo_version()
    for module_name, attribute in _LOCATIONS[name]:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError:
            continue
        if hasattr(module, attribute):
            value = getattr(module, attribute)
            globals()[name] = value
            return value
    places = ", ".join(f"{m}.{a}" for m, a in _LOCATIONS[name])
    raise UnsupportedTorchGeoError(
        f"torchgeo {torchgeo_version()} has none of {places}; torchgeo-composition "
        f"supports torchgeo {SUPPORTED_TORCHGEO}"
    )
