import math

import numpy as np
import pytest
import torch
from scipy import stats

from torchgeo_composition.diversity import categorical_entropy, spectral_entropy


def _numpy_reference(images: np.ndarray, bins: int, lo: float, hi: float) -> np.ndarray:
    out = np.empty(images.shape[:2])
    for i in range(images.shape[0]):
        for j in range(images.shape[1]):
            v = images[i, j].ravel()
            v = np.clip(v[~np.isnan(v)], lo, hi)
            hist, _ = np.histogram(v, bins=bins, range=(lo, hi))
            out[i, j] = stats.entropy(hist)
    return out


def test_constant_image_is_zero() -> None:
    x = torch.full((3, 4, 8, 8), 0.37)
    assert torch.equal(spectral_entropy(x), torch.zeros(3))


def test_uniform_over_bins_is_ln_k() -> None:
    k = 16
    centres = (torch.arange(k) + 0.5) / k
    x = centres.repeat(4).view(1, 1, 8, 8).expand(2, 3, 8, 8)
    torch.testing.assert_close(
        spectral_entropy(x, bins=k), torch.full((2,), math.log(k))
    )


def test_two_equal_values_is_ln2() -> None:
    x = torch.tensor([0.1, 0.9]).repeat(8).view(1, 1, 4, 4)
    torch.testing.assert_close(spectral_entropy(x), torch.tensor([math.log(2)]))


def test_out_of_range_values_are_clipped_into_edge_bins() -> None:
    x = torch.tensor([-5.0, 0.0, 1.0, 7.0]).view(1, 1, 2, 2)
    # -5 and 0 in the first bin, 1 and 7 in the last: two equal bins
    torch.testing.assert_close(spectral_entropy(x), torch.tensor([math.log(2)]))


def test_matches_numpy_histogram_loop() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(5, 3, 12, 12, generator=g) * 1.4 - 0.2
    x[0, 1, :3] = float("nan")
    ref = _numpy_reference(x.numpy(), 32, 0.0, 1.0)
    got = spectral_entropy(x, reduction="none")
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-5)
    np.testing.assert_allclose(spectral_entropy(x).numpy(), ref.mean(1), rtol=1e-5)


def test_per_band_output() -> None:
    x = torch.zeros(2, 3, 4, 4)
    x[:, 1, :2] = 0.9  # band 1: two equally frequent values
    out = spectral_entropy(x, reduction="none")
    assert out.shape == (2, 3)
    torch.testing.assert_close(out[:, 1], torch.full((2,), math.log(2)))
    assert torch.all(out[:, [0, 2]] == 0)
    torch.testing.assert_close(spectral_entropy(x), out.mean(1))


@pytest.mark.parametrize("mask_shape", [(1, 1, 4, 4), (1, 4, 4), (1, 2, 4, 4)])
def test_masked_pixels_ignored(mask_shape: tuple[int, ...]) -> None:
    x = torch.full((1, 2, 4, 4), 0.2)
    x[..., :2, :] = 0.8
    mask = torch.zeros(mask_shape, dtype=torch.bool)
    mask[..., :2, :] = True
    assert torch.equal(spectral_entropy(x, mask=mask), torch.zeros(1))
    assert spectral_entropy(x)[0] == pytest.approx(math.log(2))


def test_fully_masked_or_nan_gives_nan() -> None:
    x = torch.rand(2, 2, 4, 4)
    x[0] = float("nan")
    mask = torch.zeros(2, 2, 4, 4, dtype=torch.bool)
    mask[1, 0] = True  # one band of sample 1 has no data
    per_band = spectral_entropy(x, mask=mask, reduction="none")
    assert torch.isnan(per_band[0]).all() and torch.isnan(per_band[1, 0])
    mean = spectral_entropy(x, mask=mask)
    assert torch.isnan(mean[0])
    assert mean[1] == per_band[1, 1]


def test_integer_images_need_declared_range() -> None:
    x = torch.tensor([0, 5000, 0, 5000], dtype=torch.int16).view(1, 1, 2, 2)
    with pytest.raises(ValueError, match="integer dtype"):
        spectral_entropy(x)
    assert spectral_entropy(x, value_range=(0, 10000))[0] == pytest.approx(math.log(2))
    # None: full dtype range; explicit (0, 1) is a declared range
    assert spectral_entropy(x.to(torch.uint8) * 0 + 3, value_range=None)[0] == 0
    assert spectral_entropy(x, value_range=(0.0, 1.0))[0] == pytest.approx(math.log(2))


def test_float64_and_blocks_agree() -> None:
    from torchgeo_composition.diversity import entropy

    x = torch.rand(7, 3, 9, 9, dtype=torch.float64)
    full = spectral_entropy(x)
    assert full.dtype == torch.float64
    old = entropy.CPU_BLOCK_VALUES
    entropy.CPU_BLOCK_VALUES = 100  # forces one row per block
    try:
        torch.testing.assert_close(spectral_entropy(x), full)
    finally:
        entropy.CPU_BLOCK_VALUES = old


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"images": torch.rand(2, 8, 8)}, "4-D"),
        ({"images": torch.rand(1, 2, 3, 4, 5)}, "4-D"),
        ({"images": [[1.0]]}, "torch.Tensor"),
        ({"images": torch.zeros(1, 1, 2, 2, dtype=torch.bool)}, "real float"),
        ({"bins": 1}, "bins"),
        ({"bins": 2.5}, "bins"),
        ({"value_range": (1.0, 1.0)}, "empty"),
        ({"value_range": (1.0, 0.0)}, "inverted"),
        ({"value_range": (0.0, float("inf"))}, "finite"),
        ({"value_range": (0.0,)}, "pair"),
        ({"value_range": None}, "only valid for integer"),
        ({"mask": torch.zeros(1, 3, 4, 4, dtype=torch.bool)}, "mask shape"),
        ({"mask": torch.zeros(1, 1, 4, 5, dtype=torch.bool)}, "mask shape"),
        ({"mask": torch.zeros(1, 2, 4, 4)}, "boolean"),
        ({"reduction": "sum"}, "reduction"),
    ],
)
def test_bad_input(kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = {"images": torch.rand(1, 2, 4, 4)} | kwargs
    with pytest.raises(ValueError, match=match):
        spectral_entropy(**args)  # type: ignore[arg-type]


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_gpu_matches_cpu() -> None:
    g = torch.Generator().manual_seed(1)
    x = torch.rand(16, 10, 32, 32, generator=g) * 1.2 - 0.1
    x[0, 0, :4] = float("nan")
    mask = torch.rand(16, 1, 32, 32, generator=g) > 0.8
    cpu = spectral_entropy(x, mask=mask, reduction="none")
    gpu = spectral_entropy(x.cuda(), mask=mask.cuda(), reduction="none")
    assert gpu.device.type == "cuda"
    torch.testing.assert_close(gpu.cpu(), cpu)


def test_categorical_entropy() -> None:
    assert categorical_entropy([1, 1, 1, 1, 1, 1]) == pytest.approx(math.log(6))
    assert categorical_entropy({"europe": 10, "asia": 10}) == pytest.approx(math.log(2))
    assert categorical_entropy(["a", "b", "a", "b", None]) == pytest.approx(math.log(2))
    assert categorical_entropy(torch.tensor([5, 0])) == 0.0
    for bad in ([], [-1, 2], [0, 0], [float("nan"), 1.0], [None]):
        with pytest.raises(ValueError):
            categorical_entropy(bad)
