"""ViTs in MAE's fine-tuning convention, shared by the SatMAE and DOFA families.

Such a model has ``embed_dim``, ``patch_size``, ``img_size``, ``blocks``, one class
token and ``global_pool``: with it, the pooled features are ``fc_norm`` of the
mean patch token; without it, the class token after ``norm``.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import Any

from torch import Tensor, nn

from .base import Backbone

__all__ = ["MAEViTBackbone"]


class MAEViTBackbone(Backbone):
    """A ViT in MAE's convention (see the module docstring).

    Subclasses implement :meth:`final_tokens` and :meth:`forward_intermediates`.
    """

    pools = ("avg", "token")

    def __init__(
        self,
        model: nn.Module,
        bands: Sequence[str],
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        clip: tuple[float, float] | None = None,
    ) -> None:
        """Wrap the model; one level per block, at the patch stride.

        Args:
            model: The ViT.
            bands: Band names it takes.
            mean: Normalisation offset per band, or ``None``.
            std: Normalisation scale per band, or ``None``.
            clip: Range to clip normalised values to, or ``None``.
        """
        m: Any = model
        dim = int(m.embed_dim)
        super().__init__(
            bands=bands,
            input_size=int(m.img_size),
            num_features=dim,
            feature_info=[{"num_chs": dim, "reduction": int(m.patch_size)}]
            * len(m.blocks),
            pool="avg" if m.global_pool else "token",
            num_prefix_tokens=1,
            mean=mean,
            std=std,
            clip=clip,
        )
        self.model = model

    @abstractmethod
    def final_tokens(self, x: Tensor) -> Tensor:
        """Return the tokens after the last block, ``(N, 1 + L, D)``.

        Args:
            x: Input of shape ``(N, C, H, W)``.

        Returns:
            The class token and the patch tokens.
        """

    def forward_features(self, x: Tensor) -> Tensor:
        """Return the final tokens (after ``norm`` without global pooling)."""
        m: Any = self.model
        tokens = self.final_tokens(x)
        return tokens if m.global_pool else m.norm(tokens)

    def forward_head(self, x: Tensor, pre_logits: bool = False) -> Tensor:
        """Average of the patch tokens and ``fc_norm``, or the class token."""
        m: Any = self.model
        return m.fc_norm(x[:, 1:].mean(dim=1)) if m.global_pool else x[:, 0]
