"""Group-channel SatMAE: the masked autoencoder and its encoder.

:class:`GroupChannelMAE` is the group-channel masked autoencoder of SatMAE (Cong et
al., NeurIPS 2022) for multispectral imagery; :class:`GroupChannelViT` is its
encoder alone, for features (linear probing, fusion, dense tasks). Both are built
from timm transformer blocks (fused scaled-dot-product attention) and use the
parameter names and shapes of the reference implementation, so its checkpoints
load with ``load_state_dict(strict=True)``.

One difference from the reference is deliberate: the reference concatenates the
per-group predictions in group order but compares them with targets in band order,
so with non-contiguous groups (its default) a head is trained on the wrong bands.
Here each group's head reconstructs that group's own bands. For contiguous groups
in band order both give the same loss.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from .config import MASKING_MODES, SatMAEConfig
from .encoder import GroupChannelViT
from .pos_embed import sincos_1d, sincos_2d
from .trunk import (
    GroupChannelTrunk,
    group_position_embedding,
    norm_layer,
    patchify,
    random_masking,
    transformer_blocks,
)

__all__ = ["MASKING_MODES", "GroupChannelMAE", "GroupChannelViT"]


class GroupChannelMAE(GroupChannelTrunk):
    """Group-channel masked autoencoder (SatMAE).

    Each channel group has its own patch embedding, giving ``G * L`` tokens. Tokens
    carry a fixed 2-D position encoding concatenated with a fixed group encoding.
    A fraction ``mask_ratio`` of tokens is hidden, the encoder sees the rest, and
    the decoder predicts the pixels of the hidden tokens, one head per group.
    """

    band_restore: Tensor
    group_weights: Tensor

    def __init__(self, config: SatMAEConfig | None = None, **overrides: Any) -> None:
        """Initialize a new GroupChannelMAE.

        Args:
            config: The architecture; defaults to :class:`SatMAEConfig` (ViT-B).
            **overrides: :class:`SatMAEConfig` fields replacing the config's, e.g.
                ``GroupChannelMAE(img_size=32, embed_dim=192, masking="consistent")``.

        Raises:
            ValueError: If a field is unknown or invalid (a size, group, ratio or
                mode); the message names the field, its value and the valid
                choices.
        """
        config = (config or SatMAEConfig()).replace(**overrides)
        super().__init__(config)
        self.masking = config.masking
        self.norm_pix_loss = config.norm_pix_loss
        self.mask_ratio = self.check_mask_ratio(config.mask_ratio, config.masking)
        num_groups = len(self.channel_groups)
        embed_dim, patch_size = self.embed_dim, self.patch_size
        decoder_embed_dim = config.decoder_embed_dim
        decoder_channel_embed = config.decoder_channel_embed

        self.norm = norm_layer(embed_dim)
        self.decoder_embed = nn.Linear(embed_dim, decoder_embed_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_embed_dim))
        self.decoder_pos_embed = nn.Parameter(
            sincos_2d(
                decoder_embed_dim - decoder_channel_embed, self.grid_size
            ).unsqueeze(0),
            requires_grad=False,
        )
        self.decoder_channel_embed = nn.Parameter(
            sincos_1d(decoder_channel_embed, torch.arange(num_groups + 1)).unsqueeze(0),
            requires_grad=False,
        )
        self.decoder_blocks = transformer_blocks(
            decoder_embed_dim,
            config.decoder_depth,
            config.decoder_num_heads,
            config.mlp_ratio,
        )
        self.decoder_norm = norm_layer(decoder_embed_dim)
        self.decoder_pred = nn.ModuleList(
            nn.Linear(decoder_embed_dim, len(group) * patch_size**2)
            for group in self.channel_groups
        )
        # Maps predictions concatenated in group order back to band order, and
        # averages a per-band loss within each group.
        order = self.band_order
        self.register_buffer("band_restore", torch.argsort(order), persistent=False)
        weights = torch.zeros(num_groups, self.in_chans)
        for g, group in enumerate(self.channel_groups):
            weights[g, list(group)] = 1.0 / len(group)
        self.register_buffer("group_weights", weights, persistent=False)
        self._init_weights()
        nn.init.normal_(self.mask_token, std=0.02)

    @property
    def config(self) -> dict[str, Any]:
        """Keyword arguments that rebuild this model (JSON-serialisable).

        The same as ``model.cfg.to_dict()``, where ``cfg`` is the
        :class:`SatMAEConfig` the model was built from.
        """
        return self.cfg.to_dict()

    def no_weight_decay(self) -> set[str]:
        """Return the parameters trained without weight decay (timm's convention).

        Returns:
            Parameter names: the trunk's plus the mask token and the decoder's
            encodings.
        """
        return super().no_weight_decay() | {
            "mask_token",
            "decoder_pos_embed",
            "decoder_channel_embed",
        }

    def num_keep(self, mask_ratio: float, masking: str | None = None) -> int:
        """Return how many tokens stay visible per sample.

        Args:
            mask_ratio: Fraction of tokens to mask.
            masking: Masking mode; defaults to the model's.

        Returns:
            The number of visible tokens (over all groups).
        """
        num_patches = self.grid_size**2
        if (masking or self.masking) == "consistent":
            return int(num_patches * (1 - mask_ratio)) * len(self.channel_groups)
        return int(num_patches * len(self.channel_groups) * (1 - mask_ratio))

    def check_mask_ratio(self, mask_ratio: float, masking: str) -> float:
        """Validate a mask ratio for this model.

        Args:
            mask_ratio: Fraction of tokens to mask.
            masking: Masking mode.

        Returns:
            ``mask_ratio`` as a float.

        Raises:
            ValueError: If the ratio is outside (0, 1) or keeps no token visible.
        """
        if not 0.0 < mask_ratio < 1.0:
            raise ValueError(f"mask_ratio must be in (0, 1), got {mask_ratio}")
        if self.num_keep(mask_ratio, masking) < 1:
            raise ValueError(
                f"mask_ratio={mask_ratio} leaves no visible token with "
                f"{self.grid_size**2} patches per group and {masking} masking; "
                f"use a smaller ratio or a smaller patch_size"
            )
        return float(mask_ratio)

    def forward_encoder(
        self, x: Tensor, mask_ratio: float | None = None, noise: Tensor | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Mask tokens and encode the visible ones.

        Args:
            x: Images ``(N, C, H, W)``.
            mask_ratio: Fraction of tokens to mask; defaults to the model's.
            noise: Optional noise deciding the mask: the tokens with the smallest
                values stay visible, per sample. Shape ``(N, G * L)`` (tokens
                group-major) for independent masking, ``(N, L)`` for consistent
                masking. Defaults to uniform random noise.

        Returns:
            The encoded tokens ``(N, 1 + K, D)`` (class token first), the mask
            ``(N, G, L)`` (1 = masked) and ``ids_restore`` (``(N, G * L)`` or
            ``(N, L)``) for the decoder.

        Raises:
            ValueError: If the input, ratio or noise has the wrong shape or value.
        """
        self.check_input(x)
        ratio = self.mask_ratio if mask_ratio is None else mask_ratio
        if mask_ratio is not None:
            self.check_mask_ratio(ratio, self.masking)
        n = x.shape[0]
        groups, patches = len(self.channel_groups), self.grid_size**2
        tokens = self.embed(x)
        dim = tokens.shape[-1]
        consistent = self.masking == "consistent"
        length = patches if consistent else groups * patches
        if noise is None:
            noise = torch.rand(n, length, device=x.device)
        elif tuple(noise.shape) != (n, length):
            raise ValueError(
                f"noise must have shape (N, {length}) for {self.masking} masking, "
                f"got {tuple(noise.shape)}"
            )
        keep = int(length * (1 - ratio))
        ids_keep, mask, ids_restore = random_masking(noise.to(x.device), keep)
        if consistent:
            grid = tokens.view(n, groups, patches, dim)
            index = ids_keep.view(n, 1, keep, 1).expand(-1, groups, -1, dim)
            visible = torch.gather(grid, 2, index).flatten(1, 2)
            mask = mask.unsqueeze(1).expand(-1, groups, -1)
        else:
            index = ids_keep.unsqueeze(-1).expand(-1, -1, dim)
            visible = torch.gather(tokens, 1, index)
            mask = mask.view(n, groups, patches)
        cls = self.cls_token.expand(n, -1, -1)
        h = torch.cat([cls, visible], dim=1)
        for block in self.blocks:
            h = block(h)
        return self.norm(h), mask, ids_restore

    def forward_decoder(self, latent: Tensor, ids_restore: Tensor) -> Tensor:
        """Decode tokens and predict every patch of every band.

        Args:
            latent: Encoder output ``(N, 1 + K, D)``.
            ids_restore: From :meth:`forward_encoder`.

        Returns:
            Predicted patches ``(N, C, L, p * p)`` in band order.
        """
        n = latent.shape[0]
        groups, patches = len(self.channel_groups), self.grid_size**2
        y = self.decoder_embed(latent)
        dim = y.shape[-1]
        visible = y[:, 1:]
        if ids_restore.shape[1] == patches and groups > 1:
            keep = visible.shape[1] // groups
            per_pos = visible.view(n, groups, keep, dim).transpose(1, 2)
            filler = self.mask_token.view(1, 1, 1, dim).expand(
                n, patches - keep, groups, -1
            )
            full = torch.cat([per_pos, filler], dim=1)
            index = ids_restore.view(n, patches, 1, 1).expand(-1, -1, groups, dim)
            tokens = torch.gather(full, 1, index).transpose(1, 2).flatten(1, 2)
        else:
            filler = self.mask_token.expand(
                n, ids_restore.shape[1] - visible.shape[1], -1
            )
            full = torch.cat([visible, filler], dim=1)
            index = ids_restore.unsqueeze(-1).expand(-1, -1, dim)
            tokens = torch.gather(full, 1, index)
        cls_pos = torch.cat(
            [self.decoder_pos_embed[:, :1], self.decoder_channel_embed[:, -1:]], dim=-1
        )
        token_pos = group_position_embedding(
            self.decoder_pos_embed[:, 1:], self.decoder_channel_embed[:, :-1]
        )
        h = torch.cat([y[:, :1] + cls_pos, tokens + token_pos], dim=1)
        for block in self.decoder_blocks:
            h = block(h)
        h = self.decoder_norm(h[:, 1:]).view(n, groups, patches, dim)
        p2 = self.patch_size**2
        preds = [
            head(h[:, g]).view(n, patches, -1, p2).transpose(1, 2)
            for g, head in enumerate(self.decoder_pred)
        ]
        return torch.cat(preds, dim=1).index_select(1, self.band_restore)

    def target(self, images: Tensor) -> Tensor:
        """Return the reconstruction target of images.

        Args:
            images: Images ``(N, C, H, W)``.

        Returns:
            Patches ``(N, C, L, p * p)``, normalised per patch if ``norm_pix_loss``.
        """
        target = patchify(images, self.patch_size)
        if self.norm_pix_loss:
            n, c, num, p2 = target.shape
            flat = target.transpose(1, 2).reshape(n, num, c * p2)
            mean = flat.mean(dim=-1, keepdim=True)
            var = flat.var(dim=-1, keepdim=True)
            flat = (flat - mean) / (var + 1.0e-6) ** 0.5
            target = flat.view(n, num, c, p2).transpose(1, 2)
        return target

    def forward_loss(self, images: Tensor, pred: Tensor, mask: Tensor) -> Tensor:
        """Mean squared error on masked tokens, each group over its own bands.

        The squared error is averaged over a patch's pixels, then over the bands
        of its group; these per-token losses are summed over the masked tokens of
        all groups and divided by the number of masked tokens.

        Args:
            images: Images ``(N, C, H, W)``.
            pred: Predictions ``(N, C, L, p * p)`` in band order.
            mask: ``(N, G, L)``, 1 for masked tokens.

        Returns:
            The scalar loss.
        """
        err = (pred.float() - self.target(images).float()).pow(2).mean(dim=-1)
        per_group = torch.einsum("gc,ncl->ngl", self.group_weights, err)
        return (per_group * mask).sum() / mask.sum()

    def forward(
        self, x: Tensor, mask_ratio: float | None = None, noise: Tensor | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Mask, encode, decode and compute the loss.

        Args:
            x: Images ``(N, C, H, W)``.
            mask_ratio: As for :meth:`forward_encoder`.
            noise: As for :meth:`forward_encoder`.

        Returns:
            The loss, the predictions ``(N, C, L, p * p)`` in band order and the
            mask ``(N, G, L)``.
        """
        latent, mask, ids_restore = self.forward_encoder(x, mask_ratio, noise)
        pred = self.forward_decoder(latent, ids_restore)
        return self.forward_loss(x, pred, mask), pred, mask
