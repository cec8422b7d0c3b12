from __future__ import annotations

import math

import pytest

from torchgeo_composition.geography import INHABITED
from torchgeo_composition.sampling import PRESETS, Composition


@pytest.mark.parametrize(
    ("spec", "slug"),
    [
        ("europe", "europe"),
        ("Europe", "europe"),
        ("EU", "europe"),
        ("north america", "north_america"),
        ("NA", "north_america"),
        ("oc", "oceania"),
        ("South_America", "south_america"),
    ],
)
def test_continent_presets_accept_aliases(spec: str, slug: str) -> None:
    comp = Composition(spec)
    assert comp.name == slug
    assert comp.kind == "continent"
    assert comp.weights() == {slug: 1.0}


def test_global_is_equal_over_six_inhabited() -> None:
    comp = Composition("Global")
    weights = comp.weights()
    assert tuple(weights) == tuple(sorted(INHABITED))
    assert "antarctica" not in weights
    assert math.isclose(sum(weights.values()), 1.0)
    assert all(math.isclose(w, 1 / 6) for w in weights.values())


def test_proportional_and_uniform_use_pool_counts() -> None:
    for name in ("proportional", "uniform"):
        comp = Composition(name)
        assert comp.strata is None
        assert comp.weights({"b": 3, "a": 1, "c": 0}) == {"a": 0.25, "b": 0.75}
        with pytest.raises(ValueError, match="pool_counts"):
            comp.weights()
    assert not Composition("uniform").is_stratified
    assert Composition("proportional").is_stratified


def test_mapping_is_normalised_and_aliases_resolved() -> None:
    comp = Composition({"Europe": 2, "NA": 1, "oc": 1})
    assert comp.kind == "mapping"
    assert comp.weights() == {"europe": 0.5, "north_america": 0.25, "oceania": 0.25}
    assert comp == Composition({"europe": 4, "north_america": 2, "oceania": 2})


def test_mapping_over_region_values_is_kept() -> None:
    comp = Composition({"tundra": 1.0, "desert": 3.0})
    assert comp.weights() == {"desert": 0.75, "tundra": 0.25}
    assert comp.to_dict()["weights"] == {"desert": 0.75, "tundra": 0.25}


def test_copy_and_repr() -> None:
    comp = Composition("global")
    assert Composition(comp) == comp
    assert "global" in repr(comp)
    for spec in ("global", "EU", {"Europe": 1, "asia": 3}, {"tundra": 2}):
        built = Composition(spec)
        assert Composition.from_dict(built.to_dict()) == built
    assert set(PRESETS) == {*INHABITED, "global", "proportional", "uniform"}


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("atlantis", r"unknown composition 'atlantis'.*global.*proportional"),
        ("antarctica", r"unknown composition.*antarctica"),
        ({"europe": -1.0, "asia": 2.0}, r"'europe' must be >= 0, got -1.0"),
        ({"europe": 0.0, "asia": 0}, r"sum to 0"),
        ({"europe": float("nan")}, r"must be finite"),
        ({"europe": float("inf")}, r"must be finite"),
        ({"europe": "lots"}, r"must be a number"),
        ({}, r"empty"),
        ({"europe": 1, "europa": 1}, r"unknown continent.*'europa'.*valid continents"),
        ({"europe": 1, "EU": 1}, r"twice"),
        (42, r"preset name or a mapping"),
    ],
)
def test_bad_compositions(spec: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Composition(spec)  # type: ignore[arg-type]


class FakeLayer:
    is_continents = False
    values = ("Desert", "Tundra")

    def normalize(self, name: str) -> str:
        folded = {v.casefold(): v for v in self.values}
        if name.casefold() not in folded:
            raise ValueError(f"unknown biome {name!r}; valid: {self.values}")
        return folded[name.casefold()]


def test_region_layer_values() -> None:
    layer = FakeLayer()
    comp = Composition("tundra", layer=layer)  # type: ignore[arg-type]
    assert (comp.kind, comp.name, comp.weights()) == ("region", "Tundra", {"Tundra": 1})
    assert Composition.from_dict(comp.to_dict()) == comp
    mapping = Composition({"desert": 1, "TUNDRA": 1}, layer=layer)  # type: ignore[arg-type]
    assert mapping.weights() == {"Desert": 0.5, "Tundra": 0.5}
    assert Composition("global", layer=layer).name == "global"  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown biome 'taiga'"):
        Composition("taiga", layer=layer)  # type: ignore[arg-type]


def test_registered_preset_is_one_line_and_works_everywhere() -> None:
    from uuid import uuid4

    from torchgeo_composition.sampling import list_presets, register_preset

    name = f"tropics_{uuid4().hex[:8]}"
    register_preset(name, {"africa": 2, "south_america": 1})
    assert name in list_presets()
    comp = Composition(name)
    assert comp.name == name
    assert comp.weights() == pytest.approx({"africa": 2 / 3, "south_america": 1 / 3})
    with pytest.raises(ValueError, match="already exists"):
        register_preset(name, {"africa": 1})
    with pytest.raises(ValueError, match="already exists"):
        register_preset("europe", {"africa": 1})
    with pytest.raises(ValueError, match="positive weight"):
        register_preset(f"{name}_zero", {"africa": 0})
