import pytest

from torchgeo_composition.geography import CONTINENTS, normalize_continent


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Europe", "europe"),
        ("EU", "europe"),
        ("eur", "europe"),
        ("north america", "north_america"),
        ("North-America", "north_america"),
        ("NA", "north_america"),
        ("N. America", "north_america"),
        ("north_america", "north_america"),
        ("oc", "oceania"),
        ("Oceania", "oceania"),
        ("australia", "oceania"),
        ("SA", "south_america"),
        ("south_america", "south_america"),
        ("South America", "south_america"),
        ("AF", "africa"),
        ("AS", "asia"),
        ("AN", "antarctica"),
        ("antarctica", "antarctica"),
        ("  asia ", "asia"),
    ],
)
def test_aliases(name: str, slug: str) -> None:
    assert normalize_continent(name) == slug


def test_slugs_are_fixed_points() -> None:
    assert tuple(normalize_continent(c) for c in CONTINENTS) == CONTINENTS


@pytest.mark.parametrize("name", ["atlantis", "", "america", "global"])
def test_unknown_lists_choices(name: str) -> None:
    with pytest.raises(ValueError, match="valid: africa, antarctica, asia"):
        normalize_continent(name)


def test_non_string() -> None:
    with pytest.raises(ValueError, match="string"):
        normalize_continent(3)  # type: ignore[arg-type]
