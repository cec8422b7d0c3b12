"""Shared pieces of the group-channel SatMAE models.

Channel-group validation, patch (un)folding, the reference's masking rule, and the
group-channel token embedding plus transformer trunk that the masked autoencoder
(:class:`~torchgeo_composition.models.GroupChannelMAE`) and the encoder
(:class:`~torchgeo_composition.models.GroupChannelViT`) have in common. Parameter
names follow the SatMAE reference so that its checkpoints load strictly.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

import torch
from timm.layers.patch_embed import PatchEmbed
from timm.models.vision_transformer import Block
from torch import Tensor, nn

from ...bands import SATMAE_BANDS, canonical_band
from .pos_embed import sincos_1d, sincos_2d

#: Channel groups given by band index or by band name.
ChannelGroups = Sequence[Sequence[int | str]]

#: SatMAE's default groups over its 10 bands: 10 m, red edge, SWIR.
DEFAULT_CHANNEL_GROUPS: tuple[tuple[int, ...], ...] = (
    (0, 1, 2, 6),
    (3, 4, 5, 7),
    (8, 9),
)

#: LayerNorm used throughout SatMAE.
norm_layer: Any = partial(nn.LayerNorm, eps=1e-6)


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


def patchify(images: Tensor, patch_size: int) -> Tensor:
    """Cut images into patches.

    Args:
        images: Tensor of shape ``(N, C, H, W)``.
        patch_size: Patch side ``p``; ``H`` and ``W`` must be divisible by it.

    Returns:
        Tensor of shape ``(N, C, L, p * p)`` with ``L = (H / p) * (W / p)`` patches
        numbered row by row and pixels row by row within a patch.
    """
    n, c, h, w = images.shape
    p = patch_size
    x = images.reshape(n, c, h // p, p, w // p, p).permute(0, 1, 2, 4, 3, 5)
    return x.reshape(n, c, (h // p) * (w // p), p * p)


def unpatchify(patches: Tensor, patch_size: int) -> Tensor:
    """Invert :func:`patchify` for square images.

    Args:
        patches: Tensor of shape ``(N, C, L, p * p)`` with ``L`` a square.
        patch_size: Patch side ``p``.

    Returns:
        Tensor of shape ``(N, C, H, W)``.
    """
    n, c, num, _ = patches.shape
    side = round(num**0.5)
    p = patch_size
    x = patches.reshape(n, c, side, side, p, p).permute(0, 1, 2, 4, 3, 5)
    return x.reshape(n, c, side * p, side * p)


def random_masking(noise: Tensor, num_keep: int) -> tuple[Tensor, Tensor, Tensor]:
    """Per-sample random masking by sorting noise (SatMAE's rule).

    The ``num_keep`` tokens with the smallest noise stay visible.

    Args:
        noise: Tensor of shape ``(N, T)``.
        num_keep: Number of visible tokens per sample.

    Returns:
        ``ids_keep`` (N, num_keep) indices of visible tokens in sorted order,
        ``mask`` (N, T) with 0 for visible and 1 for masked tokens, and
        ``ids_restore`` (N, T) that undoes the sort.
    """
    ids_shuffle = torch.argsort(noise, dim=1)
    ids_restore = torch.argsort(ids_shuffle, dim=1)
    mask = torch.ones_like(noise)
    mask[:, :num_keep] = 0
    mask = torch.gather(mask, 1, ids_restore)
    return ids_shuffle[:, :num_keep], mask, ids_restore


def group_position_embedding(pos_embed: Tensor, channel_embed: Tensor) -> Tensor:
    """Concatenate spatial and group encodings for every (group, patch) token.

    Args:
        pos_embed: ``(1, L, Dp)`` spatial encodings (class token row excluded).
        channel_embed: ``(1, G, Dc)`` group encodings.

    Returns:
        Tensor ``(1, G * L, Dp + Dc)``, group-major.
    """
    num_groups, num_patches = channel_embed.shape[1], pos_embed.shape[1]
    pos = pos_embed.unsqueeze(1).expand(-1, num_groups, -1, -1)
    grp = channel_embed.unsqueeze(2).expand(-1, -1, num_patches, -1)
    return torch.cat([pos, grp], dim=-1).flatten(1, 2)


class GroupChannelTrunk(nn.Module):
    """Group-channel patch embedding plus a stack of timm transformer blocks.

    Holds the parameters common to the MAE encoder and the downstream encoder:
    ``patch_embed.{g}``, ``cls_token``, ``pos_embed``, ``channel_embed`` and
    ``blocks.{i}``.
    """

    band_order: Tensor

    def __init__(
        self,
        img_size: int,
        patch_size: int,
        in_chans: int,
        channel_groups: ChannelGroups,
        bands: Sequence[str] | None,
        embed_dim: int,
        depth: int,
        num_heads: int,
        channel_embed: int,
        mlp_ratio: float,
        drop_path_rate: float = 0.0,
    ) -> None:
        """Initialize a new GroupChannelTrunk.

        Args:
            img_size: Input height and width in pixels.
            patch_size: Patch side in pixels.
            in_chans: Number of input bands.
            channel_groups: Band groups, by index or name (see
                :func:`resolve_channel_groups`).
            bands: Names of the input bands, needed for groups given by name.
            embed_dim: Token dimension.
            depth: Number of transformer blocks.
            num_heads: Attention heads per block.
            channel_embed: Dimensions of the token given to the group encoding.
            mlp_ratio: MLP hidden size relative to ``embed_dim``.
            drop_path_rate: Stochastic depth rate of the last block.

        Raises:
            ValueError: If a size or group is invalid; the message names it.
        """
        super().__init__()
        for name, value in (
            ("img_size", img_size),
            ("patch_size", patch_size),
            ("in_chans", in_chans),
            ("embed_dim", embed_dim),
            ("depth", depth),
            ("num_heads", num_heads),
            ("channel_embed", channel_embed),
        ):
            if value <= 0:
                raise ValueError(f"{name} must be positive, got {value}")
        if img_size % patch_size:
            raise ValueError(
                f"img_size={img_size} must be divisible by patch_size={patch_size}"
            )
        check_dims(embed_dim, num_heads, channel_embed, "")
        self.channel_groups = resolve_channel_groups(channel_groups, in_chans, bands)
        self.bands = tuple(bands) if bands is not None else None
        self.img_size = img_size
        self.patch_size = patch_size
        self.in_chans = in_chans
        self.embed_dim = self.num_features = embed_dim
        self.grid_size = img_size // patch_size
        num_groups = len(self.channel_groups)

        self.patch_embed = nn.ModuleList(
            PatchEmbed(img_size, patch_size, len(group), embed_dim)
            for group in self.channel_groups
        )
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(
            sincos_2d(embed_dim - channel_embed, self.grid_size).unsqueeze(0),
            requires_grad=False,
        )
        self.channel_embed = nn.Parameter(
            sincos_1d(channel_embed, torch.arange(num_groups)).unsqueeze(0),
            requires_grad=False,
        )
        rates = [drop_path_rate * i / max(depth - 1, 1) for i in range(depth)]
        self.blocks = nn.ModuleList(
            Block(
                embed_dim,
                num_heads,
                mlp_ratio,
                qkv_bias=True,
                norm_layer=norm_layer,
                drop_path=rate,
            )
            for rate in rates
        )
        order = [i for group in self.channel_groups for i in group]
        self.register_buffer("band_order", torch.tensor(order), persistent=False)
        self._group_sizes = [len(group) for group in self.channel_groups]

    def check_input(self, x: Tensor) -> None:
        """Raise a clear error if ``x`` does not fit the model.

        Args:
            x: Input batch.

        Raises:
            ValueError: If ``x`` is not ``(N, in_chans, img_size, img_size)``.
        """
        expected = (self.in_chans, self.img_size, self.img_size)
        if x.ndim != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(
                f"input must have shape (N, {self.in_chans}, {self.img_size}, "
                f"{self.img_size}) (in_chans, img_size, img_size), got "
                f"{tuple(x.shape)}"
            )

    def embed(self, x: Tensor) -> Tensor:
        """Embed every group's patches and add position and group encodings.

        Args:
            x: Images ``(N, C, H, W)``.

        Returns:
            Tokens ``(N, G * L, D)``, group-major (class token not included).
        """
        parts = x.index_select(1, self.band_order).split(self._group_sizes, dim=1)
        tokens = torch.cat(
            [embed(part) for embed, part in zip(self.patch_embed, parts, strict=True)],
            dim=1,
        )
        return tokens + group_position_embedding(
            self.pos_embed[:, 1:], self.channel_embed
        )

    def _init_weights(self) -> None:
        """Initialise weights as the reference does (Xavier, zero bias)."""
        for embed in self.patch_embed:
            proj: nn.Conv2d = embed.proj  # type: ignore[assignment]
            w = proj.weight.data
            nn.init.xavier_uniform_(w.view(w.shape[0], -1))
        nn.init.normal_(self.cls_token, std=0.02)
        self.apply(_init_module)


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


def _init_module(module: nn.Module) -> None:
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
