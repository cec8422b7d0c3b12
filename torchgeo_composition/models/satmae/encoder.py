"""The group-channel SatMAE encoder alone, for downstream features."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from .config import SatMAEConfig
from .trunk import GroupChannelTrunk, norm_layer


class GroupChannelViT(GroupChannelTrunk):
    """The group-channel SatMAE encoder alone, for downstream features.

    Parameter names follow the reference fine-tuning model: the MAE encoder's
    plus ``channel_cls_embed`` and, with global pooling, ``fc_norm`` instead of
    ``norm``. Features are the mean over the ``G * L`` patch tokens (class token
    excluded) followed by ``fc_norm``, or the normalised class token.
    """

    def __init__(
        self,
        config: SatMAEConfig | None = None,
        *,
        global_pool: bool = True,
        drop_path_rate: float = 0.0,
        **overrides: Any,
    ) -> None:
        """Initialize a new GroupChannelViT.

        Args:
            config: The architecture; defaults to :class:`SatMAEConfig` (ViT-B).
                Its decoder fields are not used.
            global_pool: Average patch tokens (``fc_norm``) instead of using the
                class token (``norm``).
            drop_path_rate: Stochastic depth rate of the last block.
            **overrides: :class:`SatMAEConfig` fields replacing the config's, e.g.
                ``GroupChannelViT(img_size=32, embed_dim=192)``.

        Raises:
            ValueError: If a field is unknown or invalid.
        """
        super().__init__(
            (config or SatMAEConfig()).replace(**overrides), drop_path_rate
        )
        self.global_pool = global_pool
        self.channel_cls_embed = nn.Parameter(torch.zeros(1, 1, self.cfg.channel_embed))
        if global_pool:
            self.fc_norm = norm_layer(self.embed_dim)
        else:
            self.norm = norm_layer(self.embed_dim)
        self._init_weights()

    def no_weight_decay(self) -> set[str]:
        """Return the parameters trained without weight decay (timm's convention).

        Returns:
            Parameter names: the trunk's plus ``channel_cls_embed``.
        """
        return super().no_weight_decay() | {"channel_cls_embed"}

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
