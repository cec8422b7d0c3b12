"""Choosing a datamodule's channels by band name, and refusing what is ambiguous."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from ..bands import band_indices, canonical_band

__all__ = ["select_channels"]


def _repeated(names: Sequence[str]) -> list[str]:
    counts = Counter(canonical_band(n) for n in names)
    return [n for n, c in counts.items() if c > 1]


def select_channels(
    available: Sequence[str], bands: Sequence[str] | None, source: object
) -> tuple[tuple[str, ...], list[int] | None]:
    """Return the band names a datamodule serves and the channels to keep.

    Args:
        available: Band names of the source's images, in channel order.
        bands: Bands wanted, in order; ``None`` keeps every channel.
        source: The pool or dataset (for messages).

    Returns:
        ``(band names, channel indices)``; the indices are ``None`` when every
        channel is kept in its order.

    Raises:
        ValueError: If ``bands`` names a band twice or one the source lacks, or
            selects by name from a source whose channels repeat band names (for
            example an ``SSL4EOS12Pool`` with ``seasons`` > 1, one set of bands
            per season: the names do not say which season).
    """
    if bands is None:
        return tuple(available), None
    twice = _repeated(bands)
    if twice:
        raise ValueError(
            f"bands names {twice} more than once ({list(bands)}); name each band once"
        )
    repeated = _repeated(available)
    if repeated:
        raise ValueError(
            f"bands={list(bands)} cannot select channels of {source!r} by name: its "
            f"channels repeat band names ({repeated}), e.g. one set per season of "
            "an SSL4EOS12Pool with seasons > 1. Choose the bands on the pool "
            "(e.g. SSL4EOS12Pool(bands=...)) and leave the datamodule's bands unset"
        )
    channels = band_indices(available, bands)
    keep = None if channels == list(range(len(available))) else channels
    return tuple(bands), keep
