import pytest
import torch

from torchgeo_composition.models import linear_cka
from torchgeo_composition.models.fusion.cka import cka_matrix


def test_linear_cka() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(50, 8, generator=g)
    assert linear_cka(x, x) == pytest.approx(1.0)
    q, _ = torch.linalg.qr(torch.randn(8, 8, generator=g))
    assert linear_cka(x, 3 * x @ q) == pytest.approx(1.0)
    assert linear_cka(x, torch.randn(50, 4, generator=g)) < 0.5
    with pytest.raises(ValueError, match="same N"):
        linear_cka(x, x[:10])
    with pytest.raises(ValueError, match="constant"):
        linear_cka(torch.ones(5, 2), x[:5])


def test_cka_matrix() -> None:
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(20, 4, generator=g), torch.randn(20, 3, generator=g)
    m = cka_matrix([x, y, 2 * x])
    assert m.shape == (3, 3) and (m.diagonal() == 1.0).all()
    assert m[0, 1] == m[1, 0] == pytest.approx(linear_cka(x, y))
    assert m[0, 2] == pytest.approx(1.0)


def test_chance_level_matches_unrelated_features() -> None:
    from torchgeo_composition.models.fusion import cka_chance_level

    g = torch.Generator().manual_seed(0)
    for n, d1, d2 in ((8, 32, 32), (33, 32, 32), (200, 16, 64)):
        values = [
            linear_cka(torch.randn(n, d1, generator=g), torch.randn(n, d2, generator=g))
            for _ in range(8)
        ]
        assert sum(values) / 8 == pytest.approx(cka_chance_level(n, d1, d2), abs=0.05)
    assert cka_chance_level(33, 32, 32) == pytest.approx(0.5)
    # two samples: CKA is 1 whatever the features
    assert linear_cka(torch.randn(2, 5, generator=g), torch.randn(2, 7)) == (
        pytest.approx(1.0)
    )
    with pytest.raises(ValueError, match="num_samples"):
        cka_chance_level(1, 4, 4)
