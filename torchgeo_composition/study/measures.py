"""The diversity measures of a study, built from its ``diversity`` settings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..diversity import (
    MEASURES,
    DiversityMeasure,
    SpectralEntropy,
    create_measure,
    get_recipe,
    list_measures,
)
from .lightning.checks import instantiate, one_line
from .schema import DiversitySettings

__all__ = ["create_study_measures", "measure_names", "recipe_source"]


def _create(spec: str | dict[str, Any]) -> DiversityMeasure:
    if isinstance(spec, str) and spec in MEASURES:
        return create_measure(spec)
    if isinstance(spec, dict):
        built: DiversityMeasure = instantiate(spec, DiversityMeasure)
        return built
    try:
        named: DiversityMeasure = instantiate({"class_path": spec}, DiversityMeasure)
    except Exception:
        raise ValueError(
            f"unknown diversity measure {spec!r}; registered measures are "
            f"{list_measures()}, or give the class path of a DiversityMeasure"
        ) from None
    return named


def create_study_measures(settings: DiversitySettings) -> list[DiversityMeasure]:
    """Build the measures of a study's diversity steps.

    Args:
        settings: The study's diversity settings.

    Returns:
        The measures, in the configured order; without ``measures``, the spectral
        entropy with ``entropy_recipe``, else with ``bins`` and ``value_range``.

    Raises:
        ValueError: If a measure is unknown or its arguments are invalid (the
            message names ``diversity.measures[i]`` and the registered names), or
            two measures share a name.
    """
    if settings.entropy_recipe is not None:
        return [SpectralEntropy(recipe=settings.entropy_recipe)]
    if settings.measures is None:
        low, high = settings.value_range
        return [SpectralEntropy(settings.bins, (float(low), float(high)))]
    measures = []
    for i, spec in enumerate(settings.measures):
        try:
            measures.append(_create(spec))
        except Exception as err:
            raise ValueError(f"diversity.measures[{i}]: {one_line(err)}") from err
    names = [m.name for m in measures]
    for name in names:
        if names.count(name) > 1:
            raise ValueError(
                f"diversity.measures holds two measures named {name!r} (got "
                f"{names}); each measure gives one column, so names must differ"
            )
    return measures


def measure_names(settings: DiversitySettings) -> list[str]:
    """Return the names of the configured measures (the results' columns).

    Args:
        settings: The study's diversity settings.

    Returns:
        The names, in the configured order.
    """
    return [m.name for m in create_study_measures(settings)]


def recipe_source(
    pool_spec: Mapping[str, Any], manifest: str, settings: DiversitySettings
) -> Any:
    """Return the chips of a manifest prepared as the settings' recipe says.

    The chips are read from the pool (SatMAE's bands when it has them, as the
    pool entropy index reads them) and normalised as the recipe prescribes
    (SatMAE statistics for ``default``, raw numbers for ``olmoearth``).

    Args:
        pool_spec: ``class_path`` / ``init_args`` of the pool.
        manifest: The set's manifest.
        settings: Diversity settings with ``entropy_recipe``.

    Returns:
        A :class:`~torchgeo_composition.datamodules.pool_source.PoolSource`.
    """
    from ..datamodules.pool_source import PoolSource
    from ..datasets import PoolDataset

    recipe = get_recipe(settings.entropy_recipe or "default")
    pool = instantiate(dict(pool_spec), PoolDataset)
    return PoolSource(pool, manifest, normalization=recipe.normalization)
