"""Sentinel-2 band metadata shared by datasets, models and backbones.

Values come from the Sentinel-2 specification (centre wavelengths) and from the
FMoW-Sentinel statistics used by SatMAE for normalisation.
"""

from __future__ import annotations

from collections.abc import Sequence

#: The 13 Sentinel-2 L1C bands in product order.
S2_BANDS: tuple[str, ...] = (
    "B1",
    "B2",
    "B3",
    "B4",
    "B5",
    "B6",
    "B7",
    "B8",
    "B8A",
    "B9",
    "B10",
    "B11",
    "B12",
)

#: The 12 Sentinel-2 L2A bands (no cirrus band B10).
S2_L2A_BANDS: tuple[str, ...] = tuple(b for b in S2_BANDS if b != "B10")

#: The 10 bands SatMAE is pretrained on (B1, B9 and B10 dropped).
SATMAE_BANDS: tuple[str, ...] = tuple(
    b for b in S2_BANDS if b not in ("B1", "B9", "B10")
)

#: SatMAE's default channel groups over :data:`SATMAE_BANDS`: 10 m, red edge, SWIR.
SATMAE_GROUPS: tuple[tuple[str, ...], ...] = (
    ("B2", "B3", "B4", "B8"),
    ("B5", "B6", "B7", "B8A"),
    ("B11", "B12"),
)

#: Red, green, blue.
RGB_BANDS: tuple[str, ...] = ("B4", "B3", "B2")

#: Centre wavelength of each band in micrometres.
S2_WAVELENGTHS_UM: dict[str, float] = {
    "B1": 0.443,
    "B2": 0.490,
    "B3": 0.560,
    "B4": 0.665,
    "B5": 0.705,
    "B6": 0.740,
    "B7": 0.783,
    "B8": 0.842,
    "B8A": 0.865,
    "B9": 0.945,
    "B10": 1.375,
    "B11": 1.610,
    "B12": 2.190,
}

#: FMoW-Sentinel per-band mean (digital numbers), as used by SatMAE.
FMOW_MEAN: dict[str, float] = dict(
    zip(
        S2_BANDS,
        (
            1370.19,
            1184.38,
            1120.77,
            1136.26,
            1263.74,
            1645.40,
            1846.87,
            1762.60,
            1972.62,
            582.73,
            14.77,
            1732.16,
            1247.92,
        ),
        strict=True,
    )
)

#: FMoW-Sentinel per-band standard deviation (digital numbers), as used by SatMAE.
FMOW_STD: dict[str, float] = dict(
    zip(
        S2_BANDS,
        (
            633.15,
            650.28,
            712.13,
            965.23,
            948.98,
            1108.07,
            1258.36,
            1233.15,
            1364.39,
            472.38,
            14.31,
            1310.37,
            1087.60,
        ),
        strict=True,
    )
)

_ALIASES = {"B08": "B8", "B8a": "B8A", "B08A": "B8A"} | {
    f"B0{i}": f"B{i}" for i in range(1, 10)
}


def canonical_band(name: str) -> str:
    """Return the canonical spelling of a Sentinel-2 band name.

    ``"B02"`` becomes ``"B2"`` and ``"b8a"`` becomes ``"B8A"``; other names are
    returned upper-cased, so non-Sentinel-2 band names pass through.

    Args:
        name: A band name.

    Returns:
        The canonical name.
    """
    upper = name.strip().upper()
    return _ALIASES.get(upper, upper.replace("B08A", "B8A"))


def band_indices(bands: Sequence[str], wanted: Sequence[str]) -> list[int]:
    """Return the positions of ``wanted`` bands within ``bands``.

    Args:
        bands: The available band names, in data order.
        wanted: The band names to select, in the order wanted.

    Returns:
        One index into ``bands`` per wanted band.

    Raises:
        ValueError: If a wanted band is not available; the message names it and
            lists the available bands.
    """
    available = [canonical_band(b) for b in bands]
    out = []
    for band in wanted:
        key = canonical_band(band)
        if key not in available:
            raise ValueError(
                f"band {band!r} is not available; valid choices are {list(bands)}"
            )
        out.append(available.index(key))
    return out
