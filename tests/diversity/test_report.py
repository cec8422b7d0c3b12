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


class EmptySource:
    """A source over a pool with all-NaN, all-filled and half-filled chips."""

    def __init__(self, summary: dict[str, Any] | None = None) -> None:
        from tests.data.empty_chips import EmptyChipsPool

        self.pool = EmptyChipsPool(
            num_chips=9, nan_chips=[1], filled_chips=[4, 7], half_filled=[2]
        )
        self.bands = self.pool.bands
        self.predict_dataset: Any = None
        self.setups = 0
        if summary is not None:
            self.summary = summary

    def setup(self, stage: str) -> None:
        self.setups += 1
        self.predict_dataset = self.pool

    def aug(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        return {**batch, "image": batch["image"] / 4000}


def test_samples_without_valid_pixels_are_empty(tmp_path: Path) -> None:
    source = EmptySource(summary={"composition": {"name": "asia"}, "seed": 3})
    report, _ = diversity_report(source, tmp_path, nodata=0.0, progress=False)
    stats = report["spectral_entropy"]
    assert (stats["n"], stats["empty"]) == (6, 3)
    assert stats["min"] > 0  # no constant, filled chip measured as entropy 0
    assert report["empty_samples"] == {
        "count": 3,
        "sample_ids": ["chip_1", "chip_4", "chip_7"],
        "nodata": 0.0,
    }
    table = pd.read_csv(tmp_path / "per_sample.csv")
    assert table["sample_id"].tolist() == [f"chip_{i}" for i in range(9)]
    assert table.loc[table["empty"], "sample_id"].tolist() == [
        "chip_1",
        "chip_4",
        "chip_7",
    ]
    assert table.loc[table["empty"], "spectral_entropy"].isna().all()
    # a half-filled chip is measured on its valid (right) half only
    half = source.pool.images[2:3, :, :, 4:] / 4000
    assert table["spectral_entropy"][2] == pytest.approx(
        float(spectral_entropy(half)), rel=1e-6
    )
    markdown = (tmp_path / "diversity.md").read_text()
    assert "Empty samples (no valid pixel: NaN or nodata=0.0): 3" in markdown
    assert "chip_1, chip_4, chip_7" in markdown
    assert "Measures: spectral_entropy(bins=32, " in markdown
    assert "Recipe: composition=asia, seed=3" in markdown
    assert report["settings"]["recipe"] == {"composition": "asia", "seed": 3}


def test_without_nodata_only_nan_chips_are_empty(tmp_path: Path) -> None:
    report, _ = diversity_report(EmptySource(), tmp_path, progress=False)
    assert report["empty_samples"]["count"] == 1
    assert report["empty_samples"]["sample_ids"] == ["chip_1"]
    table = pd.read_csv(tmp_path / "per_sample.csv")
    assert table["spectral_entropy"][[4, 7]].tolist() == [0.0, 0.0]
    assert (
        "Empty samples (no valid pixel: all NaN): 1"
        in (tmp_path / "diversity.md").read_text()
    )


class NanBrightness(Brightness):
    """Brightness over the valid pixels (missing pixels are NaN)."""

    def per_sample(self, images: Tensor) -> Tensor:
        return images.double().nanmean(dim=(1, 2, 3))


def test_every_measure_leaves_empty_samples_out(tmp_path: Path) -> None:
    source = EmptySource()
    report, _ = diversity_report(
        source, tmp_path, measures=[NanBrightness()], nodata=0.0, progress=False
    )
    assert (report["brightness"]["n"], report["brightness"]["empty"]) == (6, 3)
    right_half = source.pool.images[2, :, :, 4:] / 4000
    table = pd.read_csv(tmp_path / "per_sample.csv")
    assert table["brightness"][2] == pytest.approx(float(right_half.double().mean()))


def test_device_and_output_folder_are_checked_first(tmp_path: Path) -> None:
    source = EmptySource()
    with pytest.raises(ValueError, match="device='banana'"):
        diversity_report(source, tmp_path, device="banana")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA device"):
            diversity_report(source, tmp_path, device="cuda:1")
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    with pytest.raises(NotADirectoryError, match="out_dir"):
        diversity_report(source, a_file / "report")
    assert source.setups == 0  # nothing was read
