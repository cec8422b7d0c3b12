import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import torch
from torch import Tensor
from torch.utils.data import Dataset

from torchgeo_composition.diversity import (
    DiversityMeasure,
    SpectralEntropy,
    diversity_report,
    spectral_entropy,
)
from torchgeo_composition.geography import continent_layer

STRATA = ("europe", "africa", "asia")
LONLAT = {"europe": (10.0, 50.0), "africa": (20.0, 10.0), "asia": (100.0, 40.0)}


class Brightness(DiversityMeasure):
    """A toy measure: the mean value of each sample."""

    name = "brightness"
    label = "mean brightness"

    def per_sample(self, images: Tensor) -> Tensor:
        return images.double().mean(dim=(1, 2, 3))


class Samples(Dataset[dict[str, Any]]):
    def __init__(self, n: int) -> None:
        g = torch.Generator().manual_seed(0)
        spread = torch.linspace(0.1, 1.0, n).view(n, 1, 1, 1)
        self.images = torch.rand(n, 2, 8, 8, generator=g) * spread

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> dict[str, Any]:
        stratum = STRATA[i % 3]
        lon, lat = LONLAT[stratum]
        return {
            "image": self.images[i],
            "lon": torch.tensor(lon),
            "lat": torch.tensor(lat),
            "continent": stratum,
        }


class Source:
    """A datamodule-like source: halves the images in ``aug``."""

    bands = ("red", "nir")

    def __init__(self, n: int = 9) -> None:
        self.predict_dataset: Samples | None = None
        self.n = n

    def setup(self, stage: str) -> None:
        self.predict_dataset = Samples(self.n)

    def aug(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        return {**batch, "image": batch["image"] / 2}


def test_every_measure_is_reported_first_is_headline(tmp_path: Path) -> None:
    source = Source()
    report, paths = diversity_report(
        source,
        tmp_path,
        measures=[Brightness(), SpectralEntropy(bins=16)],
        layer=continent_layer(),
        progress=False,
    )
    images = Samples(9).images / 2
    brightness = images.double().mean(dim=(1, 2, 3))
    entropy = spectral_entropy(images, bins=16).double()
    assert report["brightness"]["mean"] == pytest.approx(float(brightness.mean()))
    assert report["spectral_entropy"]["mean"] == pytest.approx(float(entropy.mean()))
    assert report["measures"]["spectral_entropy"]["bins"] == 16
    # the headline (first) measure gives the per-stratum statistics and figures
    europe = [0, 3, 6]
    assert report["per_stratum"]["europe"]["mean"] == pytest.approx(
        float(brightness[europe].mean())
    )
    assert report["per_band"] == {}
    assert report["stratum_counts"] == {"africa": 3, "asia": 3, "europe": 3}
    assert report["continent_entropy_nats"] == pytest.approx(math.log(3))
    assert report["region"]["entropy_nats"] == pytest.approx(math.log(3))
    assert json.loads((tmp_path / "diversity.json").read_text()) == report
    table = pd.read_csv(tmp_path / "per_sample.csv")
    assert table["spectral_entropy"].tolist() == pytest.approx(entropy.tolist())
    assert paths["by_stratum"] == tmp_path / "brightness_by_stratum.png"
    assert "by_band" not in paths
    markdown = (tmp_path / "diversity.md").read_text()
    assert markdown.startswith("# Mean brightness") and "# Other measures" in markdown


def test_band_resolved_headline_and_errors(tmp_path: Path) -> None:
    report, paths = diversity_report(Source(), tmp_path, num_samples=4, seed=1)
    assert report["num_samples"] == 4
    assert list(report["per_band"]) == ["red", "nir"]
    assert paths["by_band"].name == "entropy_by_band.png"
    with pytest.raises(ValueError, match="distinct names"):
        diversity_report(Source(), tmp_path, measures=[Brightness(), Brightness()])
    with pytest.raises(ValueError, match="num_samples"):
        diversity_report(Source(), tmp_path, num_samples=10)
