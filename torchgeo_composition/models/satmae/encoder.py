"""The group-channel SatMAE encoder alone, for downstream features."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from .trunk import (
    DEFAULT_CHANNEL_GROUPS,
    ChannelGroups,
    GroupChannelTrunk,
    norm_layer,
)


class GroupChannelViT(GroupChannelTrunk):
    """The group-channel SatMAE encoder alone, for downstream features.

    Parameter names follow the reference fine-tuning model: the MAE encoder's
    plus ``channel_cls_embed`` and, with global pooling, ``fc_norm`` instead of
    ``norm``. Features are the mean over the ``G * L`` patch tokens (class token
    excluded) followed by ``fc_norm``, or the normalised class token.
    """

    def __init__(
        self,
        img_size: int = 96,
        patch_size: int = 8,
        in_chans: int = 10,
        channel_groups: ChannelGroups = DEFAULT_CHANNEL_GROUPS,
        bands: Sequence[str] | None = None,
        embed_dim: int = 768,
        depth: int = 12,
        num_heads: int = 12,
        channel_embed: int = 256,
        mlp_ratio: float = 4.0,
        global_pool: bool = True,
        drop_path_rate: float = 0.0,
    ) -> None:
        """Initialize a new GroupChannelViT.

        Args:
            img_size: Input height and width in pixels.
            patch_size: Patch side in pixels.
            in_chans: Number of input bands.
            channel_groups: Band groups by index, or by name with ``bands``.
            bands: Names of the input bands in order.
            embed_dim: Token dimension.
            depth: Transformer blocks.
            num_heads: Attention heads.
            channel_embed: Dimensions given to the group encoding.
            mlp_ratio: MLP hidden size relative to ``embed_dim``.
            global_pool: Average patch tokens (``fc_norm``) instead of using the
                class token (``norm``).
            drop_path_rate: Stochastic depth rate of the last block.

        Raises:
            ValueError: If a size or group is invalid.
        """
        super().__init__(
            img_size,
            patch_size,
            in_chans,
            channel_groups,
            bands,
            embed_dim,
            depth,
            num_heads,
            channel_embed,
            mlp_ratio,
            drop_path_rate,
        )
        self.global_pool = global_pool
        self.channel_cls_embed = nn.Parameter(torch.zeros(1, 1, channel_embed))
        if global_pool:
            self.fc_norm = norm_layer(embed_dim)
        else:
            self.norm = norm_layer(embed_dim)
        self._init_weights()

    def forward_tokens(self, x: Tensor, indices: Sequence[int] = ()) -> list[Tensor]:
        """Run the blocks, returning the tokens after the requested blocks.

        Args:
            x: Images ``(N, C, H, W)``.
            indices: Non-negative block indices whose outputs to return; the final
                output is always appended last.

        Returns:
            Token tensors ``(N, 1 + G * L, D)``.
        """
        self.check_input(x)
        tokens = self.embed(x)
        cls_pos = torch.cat([self.pos_embed[:, :1], self.channel_cls_embed], dim=-1)
        h = torch.cat(
            [(self.cls_token + cls_pos).expand(x.shape[0], -1, -1), tokens], 1
        )
        wanted = set(indices)
        out = []
        last = max(wanted) if wanted else len(self.blocks) - 1
        for i, block in enumerate(self.blocks[: last + 1]):
            h = block(h)
            if i in wanted:
                out.append(h)
        return [*out, h]

    def forward_features(self, x: Tensor) -> Tensor:
        """Return one feature vector per image.

        Args:
            x: Images ``(N, C, H, W)``.

        Returns:
            Features ``(N, D)``.
        """
        h = self.forward_tokens(x)[-1]
        if self.global_pool:
            return self.fc_norm(h[:, 1:].mean(dim=1))
        return self.norm(h)[:, 0]

    def forward(self, x: Tensor) -> Tensor:
        """Return :meth:`forward_features`.

        Args:
            x: Images ``(N, C, H, W)``.

        Returns:
            Features ``(N, D)``.
        """
        return self.forward_features(x)

    def forward_intermediates(
        self, x: Tensor, indices: int | Sequence[int] | None = None
    ) -> list[Tensor]:
        """Return spatial feature maps after some blocks, averaged over groups.

        Args:
            x: Images ``(N, C, H, W)``.
            indices: Block indices (negative counts from the end), or an int ``n``
                for the last ``n`` blocks; defaults to the last block.

        Returns:
            One map ``(N, D, H / p, W / p)`` per index, in the order given.

        Raises:
            ValueError: If an index is out of range.
        """
        depth = len(self.blocks)
        if indices is None:
            indices = [depth - 1]
        elif isinstance(indices, int):
            if not 0 < indices <= depth:
                raise ValueError(f"indices={indices} must be in 1..{depth}")
            indices = list(range(depth - indices, depth))
        resolved = []
        for i in indices:
            if not -depth <= i < depth:
                raise ValueError(
                    f"indices has block {i}; valid choices are {-depth}..{depth - 1}"
                )
            resolved.append(i % depth)
        outs = dict(
            zip(
                sorted(set(resolved)),
                self.forward_tokens(x, resolved)[:-1],
                strict=True,
            )
        )
        n, groups, side = x.shape[0], len(self.channel_groups), self.grid_size
        maps = []
        for i in resolved:
            tokens = outs[i][:, 1:].view(n, groups, side * side, -1).mean(dim=1)
            maps.append(tokens.transpose(1, 2).reshape(n, -1, side, side))
        return maps
