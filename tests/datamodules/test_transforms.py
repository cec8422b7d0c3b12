import kornia.augmentation as K
import pytest
import torch

from torchgeo_composition.bands import FMOW_MEAN, FMOW_STD
from torchgeo_composition.datamodules import (
    SatMAENormalize,
    batch_pipeline,
    build_normalization,
)


def test_pipeline_passes_other_keys_through() -> None:
    # TorchGeo's on_after_batch_transfer hands the whole batch to the pipeline.
    pipeline = batch_pipeline(
        *build_normalization("standard", ["B2", "B3"], [0.0, 10.0], [2.0, 5.0]),
        K.RandomResizedCrop((4, 4)),
        K.RandomHorizontalFlip(),
    )
    batch = {
        "image": torch.full((3, 2, 8, 8), 10.0),
        "lon": torch.tensor([1.0, 2.0, 3.0]),
        "lat": torch.tensor([4.0, 5.0, 6.0]),
        "continent": ["europe", "asia", "africa"],
        "label": torch.tensor([0, 1, 2]),
    }
    out = pipeline(dict(batch))
    assert out["image"].shape == (3, 2, 4, 4)
    assert torch.allclose(out["image"][:, 0], torch.tensor(5.0))
    assert torch.allclose(out["image"][:, 1], torch.tensor(0.0))
    for key in ("lon", "lat", "label"):
        assert torch.equal(out[key], batch[key])
    assert out["continent"] == batch["continent"]


def test_empty_pipeline_is_the_identity() -> None:
    batch = {"image": torch.rand(2, 3, 4, 4)}
    pipeline = batch_pipeline(*build_normalization("none", ["B2", "B3", "B4"]))
    assert pipeline  # TorchGeo refuses empty (falsy) pipelines
    assert pipeline(batch) is batch


def test_satmae_statistics_by_band_name() -> None:
    (step,) = build_normalization("satmae", ["B02"])
    assert isinstance(step, SatMAENormalize)
    m, s = FMOW_MEAN["B2"], FMOW_STD["B2"]
    x = torch.tensor([m, m + 2 * s, m - 3 * s]).view(1, 1, 3, 1)
    assert step(x)[0, 0, :, 0].tolist() == pytest.approx([0.5, 1.0, 0.0])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("minmax", ["B2"]), r"normalization 'minmax'.*valid choices"),
        (("satmae", ["X1"]), r"needs a mean per band.*\['X1'\]"),
        (("standard", []), r"needs a mean per band"),
        (("standard", ["B2", "B3"], [1.0]), r"mean has 1 values but bands has 2"),
        (("satmae", ["B2"], [1.0], None), None),
    ],
)
def test_build_normalization_checks(args: tuple, message: str | None) -> None:  # type: ignore[type-arg]
    if message is None:
        assert len(build_normalization(*args)) == 1  # std looked up, mean given
    else:
        with pytest.raises(ValueError, match=message):
            build_normalization(*args)
