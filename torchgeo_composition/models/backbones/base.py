"""The :class:`Backbone` interface every feature extractor of the registry implements.

Method names follow timm:

* :meth:`~Backbone.forward_features` returns *unpooled* features, tokens
  ``(N, L, C)`` (with :attr:`~Backbone.num_prefix_tokens` leading tokens such as a
  class token) or maps ``(N, C, H, W)``;
* :meth:`~Backbone.forward_head` pools them to ``(N, num_features)`` as the
  backbone's :attr:`~Backbone.pool` says (``"avg"``, ``"token"``, ``"max"``);
  ``backbone(x)`` is ``forward_head(forward_features(x))``;
* :meth:`~Backbone.forward_intermediates` returns ``(N, C_i, H_i, W_i)`` maps of
  the levels listed in :attr:`~Backbone.feature_info`, selected with timm's
  ``feature_take_indices`` (``None``: all levels; an int ``n``: the last ``n``; a
  list: those indices, negative ones counted from the end).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import ClassVar

from torch import Tensor, nn

from ...bands import RGB_BANDS, canonical_band

__all__ = ["POOLS", "Backbone", "default_out_indices", "resolve_bands"]

#: Pooling modes of :meth:`Backbone.forward_head` (timm's ``global_pool`` names).
POOLS: tuple[str, ...] = ("avg", "token", "max")


def default_out_indices(feature_info: Sequence[Mapping[str, int]]) -> list[int]:
    """The four levels used for dense prediction.

    Hierarchical models (every level at another stride) give their last four
    levels; plain ViTs (one stride) four evenly spaced blocks ending at the last.

    Args:
        feature_info: One ``{"num_chs", "reduction"}`` per level.

    Returns:
        Level indices, at most four, increasing.
    """
    n = len(feature_info)
    strides = [level["reduction"] for level in feature_info]
    if len(set(strides)) == n or n <= 4:
        return list(range(n))[-4:]
    return [round((i + 1) * n / 4) - 1 for i in range(4)]


class Backbone(nn.Module, ABC):
    """A feature extractor with a uniform interface (see the module docstring).

    Subclasses implement :meth:`forward_features` and :meth:`forward_intermediates`
    (a subclass without them cannot be instantiated), may override
    :meth:`forward_head` when their pooling is more than a mean, a max or the
    first token (e.g. a norm after pooling), and narrow :attr:`pools` to the modes
    they support (``None``: the wrapped library validates its own pooling).

    Attributes:
        bands: Band names the backbone takes, in order; or ``"any"``.
        input_size: Square input size in pixels; ``None`` accepts any size.
        mean: Per-band normalisation offset (in :attr:`bands` order) or ``None``.
        std: Per-band normalisation scale or ``None``.
        clip: Value range the normalised input is clipped to, or ``None``.
        num_features: Size of the pooled feature vector.
        feature_info: One ``{"num_chs": C, "reduction": stride}`` per level of
            :meth:`forward_intermediates`, like timm's ``feature_info``.
        out_indices: The levels used for dense prediction (at most four).
        pool: Pooling of :meth:`forward_head`.
        num_prefix_tokens: Leading non-patch tokens of token features.
        name: Registry name the backbone was built from.
    """

    pools: ClassVar[tuple[str, ...] | None] = POOLS

    def __init__(
        self,
        *,
        bands: Sequence[str] | str,
        input_size: int | None,
        num_features: int,
        feature_info: Sequence[Mapping[str, int]],
        pool: str = "avg",
        num_prefix_tokens: int = 0,
        out_indices: Sequence[int] | None = None,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        clip: tuple[float, float] | None = None,
    ) -> None:
        """Initialise the metadata.

        Args:
            bands: Band names (Sentinel-2 spelling), ``"rgb"`` or ``"any"``.
            input_size: Square input size; ``None`` for any size.
            num_features: Pooled feature size.
            feature_info: Channels and stride of each level.
            pool: Pooling of :meth:`forward_head`, one of :attr:`pools`.
            num_prefix_tokens: Leading non-patch tokens (class token...) of
                :meth:`forward_features`' tokens; 0 for maps.
            out_indices: Levels for dense prediction; default
                :func:`default_out_indices`.
            mean: Normalisation offset per band, or ``None``.
            std: Normalisation scale per band, or ``None``.
            clip: Range to clip normalised values to, or ``None``.

        Raises:
            ValueError: If ``bands`` is an unknown keyword, ``mean``/``std`` do
                not match the bands, or ``pool`` is not supported.
        """
        super().__init__()
        if isinstance(bands, str):
            if bands == "rgb":
                bands = RGB_BANDS
            elif bands != "any":
                raise ValueError(
                    f"bands={bands!r} is invalid; valid choices are a list of "
                    "band names, 'rgb' or 'any'"
                )
        self.bands: tuple[str, ...] | str = (
            bands if isinstance(bands, str) else tuple(canonical_band(b) for b in bands)
        )
        if (mean is None) != (std is None):
            raise ValueError("mean and std must be given together")
        if mean is not None and std is not None and not isinstance(self.bands, str):
            if len(mean) != len(self.bands) or len(std) != len(self.bands):
                raise ValueError(
                    f"mean/std have {len(mean)}/{len(std)} values but the backbone "
                    f"takes {len(self.bands)} bands {list(self.bands)}"
                )
        self.check_pool(pool)
        if pool == "token" and num_prefix_tokens == 0:
            raise ValueError(
                f"pool='token' needs a class token, which {type(self).__name__} "
                "does not have; use pool='avg'"
            )
        self.input_size = input_size
        self.num_features = int(num_features)
        self.feature_info = [dict(level) for level in feature_info]
        self.out_indices = (
            list(out_indices)
            if out_indices is not None
            else default_out_indices(self.feature_info)
        )
        self.pool = pool
        self.num_prefix_tokens = int(num_prefix_tokens)
        self.mean = None if mean is None else tuple(float(v) for v in mean)
        self.std = None if std is None else tuple(float(v) for v in std)
        self.clip = clip
        self.name = type(self).__name__

    @classmethod
    def check_pool(cls, pool: str) -> str:
        """Validate a pooling mode against :attr:`pools`.

        Args:
            pool: The mode asked for.

        Returns:
            ``pool``.

        Raises:
            ValueError: If the backbone class does not support it.
        """
        if cls.pools is not None and pool not in cls.pools:
            raise ValueError(
                f"pool={pool!r} is invalid for {cls.__name__}; valid choices: "
                f"{cls.pools}"
            )
        return pool

    @abstractmethod
    def forward_features(self, x: Tensor) -> Tensor:
        """Return unpooled features, as timm's ``forward_features``.

        Args:
            x: Input of shape ``(N, C, H, W)``, already adapted to the backbone.

        Returns:
            Tokens ``(N, L, D)`` or maps ``(N, D, H', W')``.
        """

    @abstractmethod
    def forward_intermediates(
        self, x: Tensor, indices: int | list[int] | None = None
    ) -> list[Tensor]:
        """Return feature maps of some levels, as timm's (``intermediates_only``).

        Args:
            x: Input of shape ``(N, C, H, W)``, already adapted to the backbone.
            indices: Levels of :attr:`feature_info` (timm's
                ``feature_take_indices``): ``None`` for all, an int ``n`` for
                the last ``n``, or a list (negative indices count from the end).

        Returns:
            One ``(N, C_i, H_i, W_i)`` map per selected level, in order.
        """

    def forward_head(self, x: Tensor, pre_logits: bool = False) -> Tensor:
        """Pool :meth:`forward_features`' output as :attr:`pool` says.

        Backbones carry no classifier (timm's ``num_classes=0``), so the result
        is the pooled features whatever ``pre_logits`` says.

        Args:
            x: Output of :meth:`forward_features`.
            pre_logits: Accepted for timm compatibility.

        Returns:
            Features of shape ``(N, num_features)``.
        """
        if x.ndim == 4:  # maps
            return x.amax(dim=(2, 3)) if self.pool == "max" else x.mean(dim=(2, 3))
        if self.pool == "token":
            return x[:, 0]
        patches = x[:, self.num_prefix_tokens :]
        return patches.amax(dim=1) if self.pool == "max" else patches.mean(dim=1)

    def forward(self, x: Tensor) -> Tensor:
        """Return pooled features, ``forward_head(forward_features(x))``.

        Args:
            x: Input of shape ``(N, C, H, W)``.

        Returns:
            Features of shape ``(N, num_features)``.
        """
        return self.forward_head(self.forward_features(x))


def resolve_bands(backbone: Backbone, data_bands: Sequence[str]) -> tuple[str, ...]:
    """Return the bands a backbone receives from data with ``data_bands``.

    Args:
        backbone: The backbone.
        data_bands: Band names delivered by the data.

    Returns:
        The backbone's bands, or all data bands when it accepts ``"any"``.
    """
    if isinstance(backbone.bands, str):
        return tuple(canonical_band(b) for b in data_bands)
    return backbone.bands
