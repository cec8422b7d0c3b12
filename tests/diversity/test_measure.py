import math

import pytest
import torch
from torch import Tensor

from torchgeo_composition.diversity import (
    MEASURES,
    DiversityMeasure,
    SpectralEntropy,
    create_measure,
    list_measures,
    register_measure,
    spectral_entropy,
)


class Brightness(DiversityMeasure):
    """A toy measure: the mean value of each sample."""

    name = "test_brightness"
    label = "brightness"

    def per_sample(self, images: Tensor) -> Tensor:
        return images.double().mean(dim=(1, 2, 3))


def _images(n: int = 10, seed: int = 0) -> Tensor:
    g = torch.Generator().manual_seed(seed)
    spread = torch.linspace(0.05, 1.0, n).view(n, 1, 1, 1)
    return torch.rand(n, 3, 8, 8, generator=g) * spread


def test_registry_builds_by_name_and_refuses_clashes() -> None:
    assert "spectral_entropy" in list_measures()
    metric = create_measure("spectral_entropy", bins=8)
    assert isinstance(metric, SpectralEntropy)
    assert metric.settings == {"bins": 8, "value_range": [0.0, 1.0]}
    assert metric.upper_bound == pytest.approx(math.log(8))
    with pytest.raises(ValueError, match="spectral_entropy"):
        create_measure("brightness_typo")
    try:
        register_measure(Brightness)
        assert isinstance(create_measure("test_brightness"), Brightness)

        class Other(Brightness):
            pass

        with pytest.raises(ValueError, match="already registered"):
            register_measure(Other)
    finally:
        MEASURES.pop("test_brightness", None)


def test_statistics_over_batches_equal_one_pass() -> None:
    images = _images()
    metric = SpectralEntropy(bins=16)
    for chunk in images.split(3):
        metric.update(chunk)
    stats = metric.compute()
    values = spectral_entropy(images, bins=16).double()
    assert float(stats["mean"]) == pytest.approx(float(values.mean()), rel=1e-12)
    assert float(stats["std"]) == pytest.approx(float(values.std()), rel=1e-9)
    assert int(stats["count"]) == 10 and int(stats["empty"]) == 0


def test_strata_other_bucket_empty_samples_and_values() -> None:
    images = _images(6)
    images[5] = math.nan  # no valid pixel: left out, counted as empty
    strata = ["europe", "africa", "europe", "asia", "europe", "africa"]
    metric = Brightness()
    metric.track(["europe", "africa"], values=True)
    metric.update(images, strata)
    stats = metric.compute()
    means = images.double().mean(dim=(1, 2, 3))
    assert metric.strata == ("europe", "africa", "other")
    assert stats["stratum_count"].tolist() == [3, 1, 1]
    torch.testing.assert_close(
        stats["stratum_mean"],
        torch.stack([means[[0, 2, 4]].mean(), means[1], means[3]]),
    )
    assert int(stats["count"]) == 5 and int(stats["empty"]) == 1
    assert math.isnan(float(stats["stratum_std"][2]))  # one sample: no std
    assert stats["values"].shape == (6,)
    with pytest.raises(ValueError, match="one stratum per sample"):
        metric.update(images, strata[:2])


def test_merge_state_adds_statistics() -> None:
    images = _images()
    a, b, both = SpectralEntropy(), SpectralEntropy(), SpectralEntropy()
    a.update(images[:4])
    b.update(images[4:])
    both.update(images)
    a.merge_state(b)
    assert a.compute()["mean"] == pytest.approx(float(both.compute()["mean"]))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"bins": 1}, "bins"),
        ({"value_range": (1.0, 0.0)}, "inverted"),
        ({"value_range": (0.0, math.inf)}, "finite"),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        SpectralEntropy(**kwargs)  # type: ignore[arg-type]


def test_integer_images_with_full_dtype_range() -> None:
    images = torch.randint(0, 256, (4, 2, 8, 8), dtype=torch.uint8)
    metric = SpectralEntropy(bins=16, value_range=None)
    metric.update(images)
    expected = spectral_entropy(images, bins=16, value_range=None).double().mean()
    assert float(metric.compute()["mean"]) == pytest.approx(float(expected))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_states_on_the_gpu_match_cpu() -> None:
    images = _images()
    strata = ["europe", "africa"] * 5
    cpu, gpu = SpectralEntropy(), SpectralEntropy().to("cuda")
    for metric in (cpu, gpu):
        metric.track(["europe"])
    cpu.update(images, strata)
    gpu.update(images.cuda(), strata)
    expected, got = cpu.compute(), gpu.compute()
    assert got["mean"].device.type == "cuda"
    for key, value in expected.items():
        torch.testing.assert_close(got[key].cpu(), value, equal_nan=True)
