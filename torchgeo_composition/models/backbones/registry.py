"""A registry of feature extractors ("backbones") built by name, in timm's style.

Names follow ``family:variant``::

    create_backbone("timm:hiera_tiny_224", bands=S2_BANDS)
    create_backbone("torchgeo:dofa_small_patch16_224", bands=S2_BANDS)
    create_backbone("satmae:satmae_vit_small_patch8_96", checkpoint="ckpt.pth")

A factory is registered with :func:`register_backbone` under a family (``"timm"``:
it builds any variant it is given) or under one full name
(``"torchgeo:resnet18"``: that variant only). The built-in families register when
:mod:`torchgeo_composition.models.backbones` is imported; this module imports none
of them. Other packages add backbones through the ``torchgeo_composition.backbones``
entry-point group, the same mechanism the built-ins are declared with:

* ``acme = "acme.backbones"``: a module, imported; it registers its factories
  with :func:`register_backbone` (as the built-in family modules do);
* ``acme = "acme.backbones:build"``: a factory, registered as the family ``acme``.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

import torch

from ...bands import S2_BANDS
from ...plugins import BACKBONE_GROUP, iter_entry_points
from .base import Backbone

__all__ = [
    "BackboneFactory",
    "create_backbone",
    "list_backbones",
    "register_backbone",
]

#: ``factory(variant, *, bands, weights, input_size, **kwargs) -> Backbone``.
#: ``bands`` are the band names the backbone will receive when it accepts "any"
#: bands; ``weights`` is a weights name or a local file (``None``: random init);
#: ``input_size`` overrides the default input size where the model allows it.
BackboneFactory = Callable[..., Backbone]

_REGISTRY: dict[str, BackboneFactory] = {}
#: Example variants of open families, listed by :func:`list_backbones`.
_EXAMPLES: dict[str, list[str]] = {}


def register_backbone(
    name: str, examples: Sequence[str] = ()
) -> Callable[[BackboneFactory], BackboneFactory]:
    """Register a backbone factory (decorator).

    Args:
        name: A family (``"timm"``; the factory builds any variant) or one
            ``family:variant`` name (the factory builds that variant).
        examples: Example variants of a family, listed by :func:`list_backbones`.

    Returns:
        A decorator registering the factory and returning it unchanged.
    """

    def decorator(factory: BackboneFactory) -> BackboneFactory:
        _REGISTRY[name] = factory
        if examples:
            _EXAMPLES[name] = list(examples)
        return factory

    return decorator


def _registry() -> dict[str, BackboneFactory]:
    """The registered factories plus the factories of backbone entry points."""
    plugins: dict[str, BackboneFactory] = {}
    for ep in iter_entry_points(BACKBONE_GROUP):
        if ep.name in _REGISTRY:
            continue
        try:
            loaded = ep.load()
        except Exception as err:
            raise ValueError(
                f"backbone plugin {ep.name!r} ({ep.value}) from entry-point group "
                f"{BACKBONE_GROUP!r} failed to load: {type(err).__name__}: {err}"
            ) from err
        if not isinstance(loaded, ModuleType):  # a module registers on import
            plugins[ep.name] = loaded
    return plugins | _REGISTRY


def list_backbones() -> list[str]:
    """List registered backbone names and families.

    Returns:
        Sorted names: each family as ``family:``, its examples, and every
        registered ``family:variant``.
    """
    names = set()
    for name in _registry():
        family, _, variant = name.partition(":")
        names.add(f"{family}:")
        if variant:
            names.add(name)
        names.update(f"{family}:{v}" for v in _EXAMPLES.get(name, []))
    return sorted(names)


def _check_dims(backbone: Backbone, name: str, num_bands: int) -> None:
    """Run one small input through the backbone and compare declared dims."""
    size = backbone.input_size or 64
    channels = num_bands if isinstance(backbone.bands, str) else len(backbone.bands)
    x = torch.zeros(1, channels, size, size)
    was_training = backbone.training
    backbone.eval()
    try:
        with torch.no_grad():
            pooled = backbone(x)
            levels = backbone.forward_intermediates(x)
    finally:
        backbone.train(was_training)
    if pooled.ndim != 2 or pooled.shape[1] != backbone.num_features:
        raise ValueError(
            f"backbone {name!r} declares num_features={backbone.num_features} but "
            f"its pooled features have shape {tuple(pooled.shape)}"
        )
    declared = [level["num_chs"] for level in backbone.feature_info]
    actual = [int(level.shape[1]) for level in levels]
    if declared != actual or any(level.ndim != 4 for level in levels):
        raise ValueError(
            f"backbone {name!r} declares level channels {declared} in feature_info "
            "but forward_intermediates returns shapes "
            f"{[tuple(t.shape) for t in levels]}"
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
        **kwargs: Family-specific model arguments (e.g. ``depth=2``,
            ``pool="avg"``).

    Returns:
        The backbone.

    Raises:
        ValueError: If the name is unknown (close matches are listed), a band is
            missing, or declared and actual feature sizes differ.
    """
    registry = _registry()
    family, _, variant = name.partition(":")
    factory = registry.get(name) or registry.get(family)
    if factory is None:
        choices = [n.rstrip(":") for n in list_backbones()]
        close = difflib.get_close_matches(name, choices, n=5, cutoff=0.4)
        families = sorted({n.partition(":")[0] for n in registry})
        raise ValueError(
            f"unknown backbone {name!r}; close matches: {close or 'none'}; "
            f"registered families: {families} (names are 'family:variant')"
        )
    data_bands = tuple(bands) if bands is not None else S2_BANDS
    backbone = factory(
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
