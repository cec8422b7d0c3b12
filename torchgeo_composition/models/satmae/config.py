"""The one description of a group-channel SatMAE architecture.

:class:`SatMAEConfig` lists every architecture argument once. The masked
autoencoder, the encoder, the presets and the pretraining task all build from it;
presets are instances and :meth:`SatMAEConfig.replace` derives variants.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ...bands import SATMAE_BANDS, canonical_band

#: Channel groups given by band index or by band name.
ChannelGroups = Sequence[Sequence[int | str]]

#: SatMAE's default groups over its 10 bands: 10 m, red edge, SWIR.
DEFAULT_CHANNEL_GROUPS: tuple[tuple[int, ...], ...] = (
    (0, 1, 2, 6),
    (3, 4, 5, 7),
    (8, 9),
)

#: Masking modes: each (group, patch) token on its own, or whole patch positions.
MASKING_MODES = ("independent", "consistent")

#: Fields only the masked autoencoder uses (the encoder ignores them).
MAE_ONLY_FIELDS = frozenset(
    {
        "decoder_embed_dim",
        "decoder_depth",
        "decoder_num_heads",
        "decoder_channel_embed",
        "norm_pix_loss",
        "mask_ratio",
        "masking",
    }
)


@dataclass(frozen=True)
class SatMAEConfig:
    """Architecture of a group-channel SatMAE (defaults: the reference ViT-B).

    The fields are validated on creation; a bad value raises :class:`ValueError`
    naming the field, its value and the valid choices.

    Attributes:
        img_size: Input height and width in pixels.
        patch_size: Patch side in pixels.
        in_chans: Number of input bands.
        channel_groups: Band groups by index, or by name with ``bands``. Each band
            must appear in exactly one group.
        bands: Names of the input bands in order (for groups by name, and to check
            data against the model).
        embed_dim: Encoder token dimension.
        depth: Encoder blocks.
        num_heads: Encoder attention heads.
        channel_embed: Encoder dimensions given to the group encoding.
        mlp_ratio: MLP hidden size relative to the token dimension.
        decoder_embed_dim: Decoder token dimension.
        decoder_depth: Decoder blocks.
        decoder_num_heads: Decoder attention heads.
        decoder_channel_embed: Decoder dimensions given to the group encoding.
        norm_pix_loss: Normalise each target patch (over all bands and pixels) to
            zero mean and unit variance.
        mask_ratio: Default fraction of tokens to mask, in (0, 1); the masked
            autoencoder also checks that it leaves a token visible.
        masking: ``"independent"`` masks (group, patch) tokens independently;
            ``"consistent"`` masks the same patch positions in every group.
    """

    img_size: int = 96
    patch_size: int = 8
    in_chans: int = 10
    channel_groups: ChannelGroups = DEFAULT_CHANNEL_GROUPS
    bands: Sequence[str] | None = None
    embed_dim: int = 768
    depth: int = 12
    num_heads: int = 12
    channel_embed: int = 256
    mlp_ratio: float = 4.0
    decoder_embed_dim: int = 512
    decoder_depth: int = 8
    decoder_num_heads: int = 16
    decoder_channel_embed: int = 128
    norm_pix_loss: bool = False
    mask_ratio: float = 0.75
    masking: Literal["independent", "consistent"] = "independent"

    def __post_init__(self) -> None:
        """Validate the fields and store sequences as tuples.

        Raises:
            ValueError: If a size, group, ratio or mode is invalid.
        """
        groups = tuple(tuple(group) for group in self.channel_groups)
        object.__setattr__(self, "channel_groups", groups)
        if self.bands is not None:
            object.__setattr__(self, "bands", tuple(self.bands))
        object.__setattr__(self, "mask_ratio", float(self.mask_ratio))
        _check_positive(
            self,
            "img_size",
            "patch_size",
            "in_chans",
            "embed_dim",
            "depth",
            "num_heads",
            "channel_embed",
        )
        if self.img_size % self.patch_size:
            raise ValueError(
                f"img_size={self.img_size} must be divisible by "
                f"patch_size={self.patch_size}"
            )
        check_dims(self.embed_dim, self.num_heads, self.channel_embed, "")
        resolve_channel_groups(self.channel_groups, self.in_chans, self.bands)
        _check_positive(
            self,
            "decoder_embed_dim",
            "decoder_depth",
            "decoder_num_heads",
            "decoder_channel_embed",
        )
        check_dims(
            self.decoder_embed_dim,
            self.decoder_num_heads,
            self.decoder_channel_embed,
            "decoder_",
        )
        if self.masking not in MASKING_MODES:
            raise ValueError(
                f"masking={self.masking!r} is invalid; valid choices are "
                f"{MASKING_MODES}"
            )
        if not 0.0 < self.mask_ratio < 1.0:
            raise ValueError(f"mask_ratio must be in (0, 1), got {self.mask_ratio}")

    @property
    def groups(self) -> tuple[tuple[int, ...], ...]:
        """The channel groups as band indices."""
        return resolve_channel_groups(self.channel_groups, self.in_chans, self.bands)

    @property
    def grid_size(self) -> int:
        """Patches along each side of the image."""
        return self.img_size // self.patch_size

    def replace(self, **overrides: Any) -> SatMAEConfig:
        """Return a copy with some fields replaced (and validated).

        Args:
            **overrides: Field name -> new value.

        Returns:
            The new configuration.

        Raises:
            ValueError: If a name is not a field or a value is invalid.
        """
        names = [f.name for f in dataclasses.fields(self)]
        unknown = sorted(set(overrides) - set(names))
        if unknown:
            raise ValueError(
                f"unknown SatMAE argument(s) {unknown}; valid choices are {names}"
            )
        return dataclasses.replace(self, **overrides)

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as plain values (lists, groups as band indices).

        Returns:
            Keyword arguments that rebuild the model, JSON-serialisable.
        """
        out = dataclasses.asdict(self)
        out["channel_groups"] = [list(group) for group in self.groups]
        out["bands"] = list(self.bands) if self.bands is not None else None
        return out


def _check_positive(config: SatMAEConfig, *names: str) -> None:
    for name in names:
        value = getattr(config, name)
        if value <= 0:
            raise ValueError(f"{name} must be positive, got {value}")


def encoder_kwargs(config: Mapping[str, Any]) -> dict[str, Any]:
    """Keep only the entries of a configuration mapping that the encoder uses.

    Args:
        config: :class:`SatMAEConfig` fields (e.g. a checkpoint's stored config).

    Returns:
        The entries not in :data:`MAE_ONLY_FIELDS`.
    """
    return {k: v for k, v in config.items() if k not in MAE_ONLY_FIELDS}


def resolve_channel_groups(
    channel_groups: ChannelGroups,
    in_chans: int,
    bands: Sequence[str] | None = None,
) -> tuple[tuple[int, ...], ...]:
    """Validate channel groups and convert band names to indices.

    Args:
        channel_groups: One sequence per group of band indices (into the input
            channels) or band names (looked up in ``bands``).
        in_chans: Number of input channels.
        bands: Names of the input channels, in order. Needed for groups given by
            name; defaults to SatMAE's 10 bands when ``in_chans`` is 10.

    Returns:
        The groups as tuples of band indices.

    Raises:
        ValueError: If a group is empty, names an unknown band or an index out of
            range, or if the groups leave out or repeat a band.
    """
    if bands is not None and len(bands) != in_chans:
        raise ValueError(
            f"bands has {len(bands)} names {list(bands)} but in_chans={in_chans}"
        )
    if not channel_groups or any(len(group) == 0 for group in channel_groups):
        raise ValueError(
            f"channel_groups must be a non-empty list of non-empty groups, "
            f"got {channel_groups!r}"
        )
    names = list(bands) if bands is not None else None
    if names is None and in_chans == len(SATMAE_BANDS):
        names = list(SATMAE_BANDS)
    canonical = [canonical_band(b) for b in names] if names is not None else None
    groups: list[tuple[int, ...]] = []
    for group in channel_groups:
        indices = []
        for item in group:
            if isinstance(item, str):
                if canonical is None or canonical_band(item) not in canonical:
                    raise ValueError(
                        f"channel_groups names unknown band {item!r}; valid choices "
                        f"are the bands {names} (pass bands= to name them)"
                    )
                indices.append(canonical.index(canonical_band(item)))
            elif isinstance(item, int) and 0 <= item < in_chans:
                indices.append(int(item))
            else:
                raise ValueError(
                    f"channel_groups has band index {item!r}; valid choices are "
                    f"0..{in_chans - 1} or band names"
                )
        groups.append(tuple(indices))
    flat = [i for group in groups for i in group]
    repeated = sorted({i for i in flat if flat.count(i) > 1})
    missing = sorted(set(range(in_chans)) - set(flat))
    if repeated or missing:
        raise ValueError(
            f"channel_groups {channel_groups!r} must use each of the {in_chans} "
            f"bands exactly once: repeated {repeated}, left out {missing}"
        )
    return tuple(groups)


def check_dims(embed_dim: int, num_heads: int, channel_embed: int, prefix: str) -> None:
    """Validate a transformer width against its heads and group encoding.

    Args:
        embed_dim: Token dimension.
        num_heads: Attention heads.
        channel_embed: Dimensions given to the group encoding.
        prefix: ``""`` or ``"decoder_"``, used in messages.

    Raises:
        ValueError: If ``embed_dim`` is not divisible by ``num_heads``, not larger
            than ``channel_embed``, or leaves a position part not divisible by 4.
    """
    if embed_dim % num_heads:
        raise ValueError(
            f"{prefix}embed_dim={embed_dim} must be divisible by "
            f"{prefix}num_heads={num_heads}"
        )
    if embed_dim <= channel_embed:
        raise ValueError(
            f"{prefix}embed_dim={embed_dim} must be larger than "
            f"{prefix}channel_embed={channel_embed}"
        )
    if (embed_dim - channel_embed) % 4 or channel_embed % 2:
        raise ValueError(
            f"{prefix}embed_dim - {prefix}channel_embed = {embed_dim - channel_embed} "
            f"must be divisible by 4 and {prefix}channel_embed={channel_embed} even "
            f"(sine-cosine encodings)"
        )
