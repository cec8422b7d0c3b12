"""A registry of feature extractors ("backbones") with one interface.

Every backbone, whatever its origin (our SatMAE encoder, timm, TorchGeo, Prithvi
through terratorch, or a third-party plugin), is a :class:`Backbone`: it declares the
bands it needs, its input size and normalisation, its pooled feature dimension and
its multi-level feature maps, and computes
:meth:`~Backbone.forward_features` (pooled, ``(N, D)``) and
:meth:`~Backbone.forward_levels` (``[(N, C_i, H_i, W_i), ...]``).

Names follow ``family:variant``, in the style of timm's registry::

    create_backbone("timm:hiera_tiny_224", bands=S2_BANDS)
    create_backbone("torchgeo:dofa_small_patch16_224", bands=S2_BANDS)
    create_backbone("satmae:satmae_vit_small_patch8_96", checkpoint="ckpt.pth")

Third parties add families through the ``torchgeo_composition.backbones``
entry-point group: ``myfamily = "mypackage.module:factory"``, where ``factory``
has the signature of :data:`BackboneFactory` and returns a :class:`Backbone`.
"""

from __future__ import annotations

import difflib
from abc import abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from ...bands import RGB_BANDS, canonical_band
from ...plugins import BACKBONE_GROUP, iter_entry_points

__all__ = [
    "Backbone",
    "BackboneFactory",
    "create_backbone",
    "list_backbones",
    "register_backbone",
    "resolve_bands",
]

#: ``factory(variant, *, bands, weights, input_size, **kwargs) -> Backbone``.
#: ``bands`` are the band names the backbone will receive when it accepts "any"
#: bands; ``weights`` is a weights name or a local file (``None``: random init);
#: ``input_size`` overrides the default input size where the model allows it.
BackboneFactory = Callable[..., "Backbone"]

_REGISTRY: dict[str, BackboneFactory] = {}
#: Examples listed by :func:`list_backbones` and used for close-match suggestions.
_EXAMPLES: dict[str, list[str]] = {}


class Backbone(nn.Module):
    """A feature extractor with a uniform interface.

    Subclasses implement :meth:`forward_features` and :meth:`forward_levels` and
    pass their metadata to this constructor.

    Attributes:
        bands: Band names the backbone takes, in order; or ``"any"``.
        input_size: Square input size in pixels; ``None`` accepts any size.
        mean: Per-band normalisation offset (in :attr:`bands` order) or ``None``.
        std: Per-band normalisation scale or ``None``.
        clip: Value range the normalised input is clipped to, or ``None``.
        feature_dim: Size of the pooled feature vector.
        feature_info: One ``{"num_chs": C, "reduction": stride}`` per level of
            :meth:`forward_levels`, like timm's ``feature_info``.
        name: Registry name the backbone was built from.
    """

    def __init__(
        self,
        *,
        bands: Sequence[str] | str,
        input_size: int | None,
        feature_dim: int,
        feature_info: Sequence[Mapping[str, int]],
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        clip: tuple[float, float] | None = None,
    ) -> None:
        """Initialise the metadata.

        Args:
            bands: Band names (Sentinel-2 spelling), ``"rgb"`` or ``"any"``.
            input_size: Square input size; ``None`` for any size.
            feature_dim: Pooled feature size.
            feature_info: Channels and stride of each level.
            mean: Normalisation offset per band, or ``None``.
            std: Normalisation scale per band, or ``None``.
            clip: Range to clip normalised values to, or ``None``.

        Raises:
            ValueError: If ``bands`` is an unknown keyword or ``mean``/``std``
                do not match the bands.
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
        self.input_size = input_size
        self.feature_dim = int(feature_dim)
        self.feature_info = [dict(level) for level in feature_info]
        self.mean = None if mean is None else tuple(float(v) for v in mean)
        self.std = None if std is None else tuple(float(v) for v in std)
        self.clip = clip
        self.name = type(self).__name__

    @abstractmethod
    def forward_features(self, x: Tensor) -> Tensor:
        """Return pooled features.

        Args:
            x: Input of shape ``(N, C, H, W)``, already adapted to the backbone.

        Returns:
            Features of shape ``(N, feature_dim)``.
        """

    @abstractmethod
    def forward_levels(self, x: Tensor) -> list[Tensor]:
        """Return multi-level feature maps, finest first.

        Args:
            x: Input of shape ``(N, C, H, W)``, already adapted to the backbone.

        Returns:
            One ``(N, C_i, H_i, W_i)`` map per entry of :attr:`feature_info`.
        """

    def forward(self, x: Tensor) -> Tensor:
        """Return pooled features (:meth:`forward_features`).

        Args:
            x: Input of shape ``(N, C, H, W)``.

        Returns:
            Features of shape ``(N, feature_dim)``.
        """
        return self.forward_features(x)


def register_backbone(
    family: str, examples: Sequence[str] = ()
) -> Callable[[BackboneFactory], BackboneFactory]:
    """Register a backbone family factory (decorator).

    Args:
        family: Family name, the part of a backbone name before ``:``.
        examples: Example variants, listed by :func:`list_backbones`.

    Returns:
        A decorator registering the factory and returning it unchanged.
    """

    def decorator(factory: BackboneFactory) -> BackboneFactory:
        _REGISTRY[family] = factory
        _EXAMPLES[family] = list(examples)
        return factory

    return decorator


def _families() -> dict[str, BackboneFactory]:
    from . import timm  # noqa: F401 - registers the built-ins

    families = dict(_REGISTRY)
    for ep in iter_entry_points(BACKBONE_GROUP):
        if ep.name in families:
            continue
        try:
            families[ep.name] = ep.load()
        except Exception as err:
            raise ValueError(
                f"backbone plugin {ep.name!r} ({ep.value}) from entry-point group "
                f"{BACKBONE_GROUP!r} failed to load: {type(err).__name__}: {err}"
            ) from err
    return families


def list_backbones() -> list[str]:
    """List registered backbone families and example names.

    Returns:
        Sorted names: each family as ``family:`` followed by its examples.
    """
    names = set()
    for family in _families():
        names.add(f"{family}:")
        names.update(f"{family}:{v}" for v in _EXAMPLES.get(family, []))
    return sorted(names)


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


def _check_dims(backbone: Backbone, name: str, num_bands: int) -> None:
    """Run one small input through the backbone and compare declared dims."""
    size = backbone.input_size or 64
    channels = num_bands if isinstance(backbone.bands, str) else len(backbone.bands)
    x = torch.zeros(1, channels, size, size)
    was_training = backbone.training
    backbone.eval()
    try:
        with torch.no_grad():
            pooled = backbone.forward_features(x)
            levels = backbone.forward_levels(x)
    finally:
        backbone.train(was_training)
    if pooled.ndim != 2 or pooled.shape[1] != backbone.feature_dim:
        raise ValueError(
            f"backbone {name!r} declares feature_dim={backbone.feature_dim} but "
            f"forward_features returns shape {tuple(pooled.shape)}"
        )
    declared = [level["num_chs"] for level in backbone.feature_info]
    actual = [int(level.shape[1]) for level in levels]
    if declared != actual or any(level.ndim != 4 for level in levels):
        raise ValueError(
            f"backbone {name!r} declares level channels {declared} in feature_info "
            f"but forward_levels returns shapes {[tuple(t.shape) for t in levels]}"
        )


def create_backbone(
    name: str,
    bands: Sequence[str] | None = None,
    weights: str | None = None,
    input_size: int | None = None,
    check: bool = True,
    **kwargs: Any,
) -> Backbone:
    """Build a backbone from its registry name.

    Args:
        name: ``family:variant``, e.g. ``"timm:resnet18"``; a family registered
            through an entry point may be given without variant.
        bands: Band names the data delivers (used by backbones accepting any
            bands, e.g. timm models get ``in_chans=len(bands)``). Defaults to
            the 13 Sentinel-2 bands.
        weights: Weights: ``None`` (random init), a local file, or a weights name
            the family understands (e.g. a TorchGeo weights enum); SatMAE
            checkpoints may also be passed as ``checkpoint=``.
        input_size: Input size override, where the model allows it.
        check: Run one small input through the model and verify that the
            declared feature sizes match the actual ones.
        **kwargs: Family-specific model arguments (e.g. ``depth=2``).

    Returns:
        The backbone.

    Raises:
        ValueError: If the name is unknown (close matches are listed), a band is
            missing, or declared and actual feature sizes differ.
    """
    from ...bands import S2_BANDS

    family, _, variant = name.partition(":")
    families = _families()
    if family not in families:
        choices = [n.rstrip(":") for n in list_backbones()]
        close = difflib.get_close_matches(name, choices, n=5, cutoff=0.4)
        raise ValueError(
            f"unknown backbone {name!r}; close matches: {close or 'none'}; "
            f"registered families: {sorted(families)} (names are 'family:variant')"
        )
    data_bands = tuple(bands) if bands is not None else S2_BANDS
    backbone = families[family](
        variant, bands=data_bands, weights=weights, input_size=input_size, **kwargs
    )
    if not isinstance(backbone, Backbone):
        raise ValueError(
            f"backbone factory for {name!r} returned {type(backbone).__name__}, "
            "not a torchgeo_composition.models.Backbone"
        )
    backbone.name = name
    if check:
        _check_dims(backbone, name, len(data_bands))
    return backbone
