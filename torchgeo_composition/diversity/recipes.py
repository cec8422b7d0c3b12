"""Named spectral-entropy recipes: how the images are prepared and binned.

A recipe fixes everything that changes the value of a per-sample spectral entropy
(:func:`~torchgeo_composition.diversity.spectral_entropy`): the normalisation of
the pixels before binning, the number of bins per band and the histogram range.
Numbers computed with different recipes are not comparable, so every output that
holds an entropy records the recipe's name.

``default``
    SatMAE-normalised images (FMoW-Sentinel statistics), 32 bins per band on
    ``[0, 1]``; at most ``ln 32 = 3.47`` nats.
``olmoearth``
    Raw digital numbers (no normalisation), 100 bins per band on ``[0, 10000]``,
    as in OlmoEarth's pretraining repository; at most ``ln 100 = 4.61`` nats.

Both take the Shannon entropy (natural log) of each band's histogram and the mean
over the bands that have valid pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["DEFAULT_RECIPE", "RECIPES", "EntropyRecipe", "get_recipe"]


@dataclass(frozen=True)
class EntropyRecipe:
    """How a per-sample spectral entropy is computed.

    Attributes:
        name: The recipe's name (recorded in every output).
        bins: Histogram bins per band.
        value_range: ``(low, high)`` of the histograms, in the units of the
            images after ``normalization``.
        normalization: ``satmae`` (FMoW-Sentinel statistics) or ``none`` (raw
            digital numbers).
        description: One line saying what the recipe is.
    """

    name: str
    bins: int
    value_range: tuple[float, float]
    normalization: Literal["satmae", "none"]
    description: str

    @property
    def upper_bound(self) -> float:
        """``ln(bins)``: the largest possible entropy, in nats."""
        return math.log(self.bins)

    def to_dict(self) -> dict[str, Any]:
        """Return the recipe as a JSON-friendly dict (recorded in outputs)."""
        return {
            "name": self.name,
            "bins": self.bins,
            "value_range": list(self.value_range),
            "normalization": self.normalization,
        }


#: The recipes by name.
RECIPES: dict[str, EntropyRecipe] = {
    "default": EntropyRecipe(
        "default",
        32,
        (0.0, 1.0),
        "satmae",
        "SatMAE-normalised values, 32 bins per band on [0, 1]",
    ),
    "olmoearth": EntropyRecipe(
        "olmoearth",
        100,
        (0.0, 10000.0),
        "none",
        "raw digital numbers, 100 bins per band on [0, 10000] (OlmoEarth)",
    ),
}

#: Name of the recipe used when none is given.
DEFAULT_RECIPE = "default"


def get_recipe(name: str | EntropyRecipe) -> EntropyRecipe:
    """Return the recipe called ``name``.

    Args:
        name: A recipe name (see :data:`RECIPES`) or a recipe.

    Returns:
        The recipe.

    Raises:
        ValueError: If no recipe has that name (the message lists the names).
    """
    if isinstance(name, EntropyRecipe):
        return name
    if not isinstance(name, str) or name not in RECIPES:
        raise ValueError(
            f"entropy_recipe must be one of {sorted(RECIPES)}; got {name!r}"
        )
    return RECIPES[name]
