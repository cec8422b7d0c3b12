"""Shared pieces of the group-channel SatMAE models.

Patch (un)folding, the reference's masking rule, and the group-channel token
embedding plus transformer trunk that the masked autoencoder
(:class:`~torchgeo_composition.models.GroupChannelMAE`) and the encoder
(:class:`~torchgeo_composition.models.GroupChannelViT`) have in common. Parameter
names follow the SatMAE reference so that its checkpoints load strictly.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import torch
from timm.layers.patch_embed import PatchEmbed
from timm.models.vision_transformer import Block
from torch import Tensor, nn

from .config import SatMAEConfig
from .pos_embed import sincos_1d, sincos_2d

#: LayerNorm used throughout SatMAE.
norm_layer: Any = partial(nn.LayerNorm, eps=1e-6)


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


def transformer_blocks(
    dim: int,
    depth: int,
    num_heads: int,
    mlp_ratio: float,
    drop_path_rate: float = 0.0,
) -> nn.ModuleList:
    """Build SatMAE's stack of timm blocks (qkv bias, LayerNorm with eps 1e-6).

    Args:
        dim: Token dimension.
        depth: Number of blocks.
        num_heads: Attention heads per block.
        mlp_ratio: MLP hidden size relative to ``dim``.
        drop_path_rate: Stochastic depth of the last block; it rises linearly
            from 0 at the first.

    Returns:
        The blocks.
    """
    rates = [drop_path_rate * i / max(depth - 1, 1) for i in range(depth)]
    return nn.ModuleList(
        Block(
            dim, num_heads, mlp_ratio, qkv_bias=True, norm_layer=norm_layer, drop_path=r
        )
        for r in rates
    )


class GroupChannelTrunk(nn.Module):
    """Group-channel patch embedding plus a stack of timm transformer blocks.

    Holds the parameters common to the MAE encoder and the downstream encoder:
    ``patch_embed.{g}``, ``cls_token``, ``pos_embed``, ``channel_embed`` and
    ``blocks.{i}``.
    """

    band_order: Tensor

    def __init__(self, config: SatMAEConfig, drop_path_rate: float = 0.0) -> None:
        """Initialize a new GroupChannelTrunk.

        Args:
            config: The architecture (decoder fields are not used here).
            drop_path_rate: Stochastic depth rate of the last block.
        """
        super().__init__()
        self.cfg = config
        self.channel_groups = config.groups
        self.bands = config.bands
        self.img_size = img_size = config.img_size
        self.patch_size = patch_size = config.patch_size
        self.in_chans = config.in_chans
        self.embed_dim = self.num_features = embed_dim = config.embed_dim
        self.grid_size = config.grid_size
        num_groups = len(self.channel_groups)
        channel_embed, depth = config.channel_embed, config.depth

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
        self.blocks = transformer_blocks(
            embed_dim, depth, config.num_heads, config.mlp_ratio, drop_path_rate
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

    def no_weight_decay(self) -> set[str]:
        """Return the parameters trained without weight decay (timm's convention).

        Biases, norms and other 1-d parameters are excluded from weight decay by
        shape; these are the tokens and encodings on top of them.

        Returns:
            Parameter names.
        """
        return {"cls_token", "pos_embed", "channel_embed"}

    def _init_weights(self) -> None:
        """Initialise weights as the reference does (Xavier, zero bias)."""
        for embed in self.patch_embed:
            proj: nn.Conv2d = embed.proj  # type: ignore[assignment]
            w = proj.weight.data
            nn.init.xavier_uniform_(w.view(w.shape[0], -1))
        nn.init.normal_(self.cls_token, std=0.02)
        self.apply(_init_module)


def _init_module(module: nn.Module) -> None:
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
