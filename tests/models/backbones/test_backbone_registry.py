import sys
import textwrap
import tomllib
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import Tensor

from torchgeo_composition.models import (
    Backbone,
    FeatureFusion,
    create_backbone,
    list_backbones,
    register_backbone,
)
from torchgeo_composition.plugins import BACKBONE_GROUP

ROOT = Path(__file__).parents[3]


class Toy(Backbone):
    """A patch embedding: tokens (N, L, width), four-pixel patches."""

    def __init__(self, channels: int, width: int, declared: int, pool: str) -> None:
        super().__init__(
            bands="any",
            input_size=8,
            num_features=declared,
            feature_info=[{"num_chs": width, "reduction": 4}],
            pool=pool,
        )
        self.embed = torch.nn.Conv2d(channels, width, 4, stride=4)

    def forward_features(self, x: Tensor) -> Tensor:
        return self.embed(x).flatten(2).transpose(1, 2)

    def forward_intermediates(
        self, x: Tensor, indices: int | list[int] | None = None
    ) -> list[Tensor]:
        return [self.embed(x)]


@register_backbone("toy", examples=["tiny"])
def toy(
    variant: str,
    *,
    bands: Any,
    weights: str | None = None,
    input_size: int | None = None,
    pool: str = "avg",
    declared: int | None = None,
) -> Backbone:
    width = {"tiny": 4, "small": 8}[variant]
    return Toy(len(bands), width, declared or width, pool)


@register_backbone("toy:broken")
def broken(variant: str, **kwargs: Any) -> Any:
    return torch.nn.Identity()


def test_toy_family_builds_by_name() -> None:
    assert {"toy:", "toy:tiny", "toy:broken"} <= set(list_backbones())
    small = create_backbone("toy:small", bands=["B2", "B3"], pool="max")
    assert isinstance(small, Toy) and small.name == "toy:small"
    assert small.num_features == 8 and small.pool == "max"
    assert small(torch.rand(3, 2, 8, 8)).shape == (3, 8)
    fusion = FeatureFusion(["toy:tiny", "toy:small"], ["B2", "B3"], num_classes=5)
    assert fusion(torch.rand(3, 2, 8, 8)).shape == (3, 5)


def test_declared_sizes_are_checked() -> None:
    with pytest.raises(ValueError, match="declares num_features=7"):
        create_backbone("toy:tiny", bands=["B2"], declared=7)
    with pytest.raises(ValueError, match="returned Identity, not a"):
        create_backbone("toy:broken")


def test_unknown_names_list_close_matches() -> None:
    with pytest.raises(ValueError, match=r"close matches.*'toy:tiny'"):
        create_backbone("toys:tiny")
    with pytest.raises(ValueError, match=r"close matches.*timm"):
        create_backbone("tim:resnet18")
    with pytest.raises(ValueError, match="resnet18"):
        create_backbone("timm:resnet_18")
    with pytest.raises(ValueError, match="dofa_small_patch16_224"):
        create_backbone("torchgeo:dofa_smal_patch16_224")


def _distribution(root: Path, entry_points: str, **modules: str) -> None:
    """Install a distribution on ``root``: modules and an entry_points.txt."""
    for name, code in modules.items():
        (root / f"{name}.py").write_text(textwrap.dedent(code))
    info = root / "acme_backbones-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-backbones\n")
    (info / "entry_points.txt").write_text(f"[{BACKBONE_GROUP}]\n{entry_points}")


ACME = """
    import torch
    from torchgeo_composition.models import Backbone, register_backbone

    class Acme(Backbone):
        def __init__(self, channels):
            super().__init__(bands="any", input_size=8, num_features=6,
                             feature_info=[{"num_chs": 6, "reduction": 8}])
            self.conv = torch.nn.Conv2d(channels, 6, 8, stride=8)

        def forward_features(self, x):
            return self.conv(x)

        def forward_intermediates(self, x, indices=None):
            return [self.conv(x)]

    def build(variant, *, bands, **kwargs):
        return Acme(len(bands))

    @register_backbone("acme_module:large")
    def large(variant, *, bands, **kwargs):
        return Acme(len(bands))
"""


def test_entry_point_families(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _distribution(
        tmp_path,
        "acme = acme_backbones:build\nacme_module = acme_backbones\n"
        "acme_broken = acme_missing:build\n",
        acme_backbones=ACME,
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ValueError, match=r"plugin 'acme_broken'.*failed to load"):
        create_backbone("acme")
    (tmp_path / "acme_missing.py").write_text("from acme_backbones import build\n")
    monkeypatch.delitem(sys.modules, "acme_missing", raising=False)
    factory = create_backbone("acme", bands=["B2", "B3"])  # a factory entry point
    assert factory.num_features == 6 and factory.name == "acme"
    module = create_backbone("acme_module:large", bands=["B2"])  # a module one
    assert module(torch.rand(1, 1, 8, 8)).shape == (1, 6)
    assert {"acme:", "acme_module:large"} <= set(list_backbones())


def test_package_declares_its_families_as_entry_points() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    declared = pyproject["project"]["entry-points"][BACKBONE_GROUP]
    assert set(declared) == {"timm", "torchgeo", "swin", "satmae", "prithvi"}
    from importlib import import_module

    families = {name.partition(":")[0] for name in list_backbones()}
    for value in declared.values():
        assert import_module(value).__name__ == value
    assert {"timm", "torchgeo", "satmae", "prithvi"} <= families
