"""Continent slugs and their accepted aliases."""

from __future__ import annotations

import re

CONTINENTS: tuple[str, ...] = (
    "africa",
    "antarctica",
    "asia",
    "europe",
    "north_america",
    "oceania",
    "south_america",
)
"""The seven continent slugs, in alphabetical order."""

INHABITED: tuple[str, ...] = tuple(c for c in CONTINENTS if c != "antarctica")
"""The six inhabited continents (Antarctica excluded), as in Pretrain Where?."""

_ALIASES: dict[str, tuple[str, ...]] = {
    "africa": ("af", "afr", "african"),
    "antarctica": ("an", "ant", "antarctic", "aq"),
    "asia": ("as", "asi", "asian"),
    "europe": ("eu", "eur", "european"),
    "north_america": ("na", "nam", "n america", "northamerica", "north american"),
    "oceania": ("oc", "oce", "australia", "australasia", "australia oceania"),
    "south_america": ("sa", "sam", "s america", "southamerica", "south american"),
}


def _key(name: str) -> str:
    """Fold case and separators: ``"North-America"`` -> ``"north america"``."""
    return re.sub(r"[\s_.\-/]+", " ", name.strip().lower()).strip()


_LOOKUP: dict[str, str] = {}
for _slug, _names in _ALIASES.items():
    for _name in (_slug, *_names):
        _LOOKUP[_key(_name)] = _slug


def continent_aliases() -> dict[str, tuple[str, ...]]:
    """Return the aliases accepted for each continent slug.

    Returns:
        A mapping from slug to its aliases (matched case-insensitively, with
        spaces, ``_``, ``-``, ``.`` and ``/`` treated alike).
    """
    return dict(_ALIASES)


def normalize_continent(name: str) -> str:
    """Return the continent slug for a name or alias.

    Matching ignores case and treats spaces, underscores, hyphens, dots and
    slashes alike, so ``"Europe"``, ``"EU"``, ``"eur"``, ``"north america"``,
    ``"North-America"``, ``"N. America"``, ``"NA"`` and ``"oc"`` are accepted.

    Args:
        name: continent name, slug or alias.

    Returns:
        One of :data:`CONTINENTS`.

    Raises:
        ValueError: if ``name`` is not a string or names no continent; the
            message lists the valid slugs.
    """
    if not isinstance(name, str):
        raise ValueError(
            f"continent must be a string, got {name!r}; valid: {', '.join(CONTINENTS)}"
        )
    slug = _LOOKUP.get(_key(name))
    if slug is None:
        raise ValueError(
            f"unknown continent {name!r}; valid: {', '.join(CONTINENTS)} "
            "(aliases such as 'EU', 'NA', 'north america', 'oc' are accepted)"
        )
    return slug
