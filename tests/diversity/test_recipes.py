"""Named spectral-entropy recipes: values, errors and what the measure records."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from torchgeo_composition.diversity import (
    RECIPES,
    SpectralEntropy,
    get_recipe,
    spectral_entropy,
)


def test_olmoearth_recipe_reproduces_a_hand_computation() -> None:
    # Band 0: digital numbers 0, 50 (bin 0), 150 (bin 1), 9999 (bin 99) of
    # 100-wide bins on [0, 10000] -> shares 1/2, 1/4, 1/4.
    # Band 1: every value above 10000 falls in the last bin -> entropy 0.
    image = torch.tensor(
        [[[[0, 50], [150, 9999]], [[12000, 12000], [12000, 12000]]]],
        dtype=torch.int32,
    )
    band0 = -(0.5 * math.log(0.5) + 2 * 0.25 * math.log(0.25))
    expected = (band0 + 0.0) / 2
    got = spectral_entropy(image, recipe="olmoearth")
    assert got.shape == (1,)
    assert got.item() == pytest.approx(expected, abs=1e-6)
    per_band = spectral_entropy(image, recipe="olmoearth", reduction="none")
    assert per_band[0].tolist() == pytest.approx([band0, 0.0], abs=1e-6)


def test_olmoearth_recipe_matches_numpy_histograms_on_a_random_image() -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 10000, size=(3, 16, 16)).astype(np.int32)
    expected = []
    for band in image:
        counts, _ = np.histogram(band, bins=100, range=(0, 10000))
        p = counts[counts > 0] / counts.sum()
        expected.append(float(-(p * np.log(p)).sum()))
    got = spectral_entropy(torch.from_numpy(image)[None], recipe="olmoearth")
    assert got.item() == pytest.approx(float(np.mean(expected)), abs=1e-5)


def test_default_recipe_is_todays_default() -> None:
    images = torch.rand(4, 3, 8, 8)
    assert torch.equal(
        spectral_entropy(images, recipe="default"), spectral_entropy(images)
    )
    recipe = get_recipe("default")
    assert (recipe.bins, recipe.value_range, recipe.normalization) == (
        32,
        (0.0, 1.0),
        "satmae",
    )
    assert RECIPES["olmoearth"].to_dict() == {
        "name": "olmoearth",
        "bins": 100,
        "value_range": [0.0, 10000.0],
        "normalization": "none",
    }


def test_measure_takes_a_recipe_and_records_it() -> None:
    metric = SpectralEntropy(recipe="olmoearth")
    assert metric.settings == {
        "bins": 100,
        "value_range": [0.0, 10000.0],
        "recipe": "olmoearth",
    }
    assert metric.upper_bound == pytest.approx(math.log(100))


def test_unknown_recipe_is_refused_with_the_names() -> None:
    with pytest.raises(ValueError, match=r"entropy_recipe must be one of \['default'"):
        spectral_entropy(torch.rand(1, 1, 2, 2), recipe="olmo")
    with pytest.raises(ValueError, match="entropy_recipe must be one of"):
        SpectralEntropy(recipe="nope")


def test_recipe_with_explicit_bins_is_refused() -> None:
    with pytest.raises(ValueError, match="recipe='olmoearth' sets bins"):
        spectral_entropy(torch.rand(1, 1, 2, 2), bins=16, recipe="olmoearth")
