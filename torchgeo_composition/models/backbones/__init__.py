"""Backbones: the registry, band adapters, weights helpers and one module per family.

Importing this package registers the built-in families (timm's pattern): each
family module registers its factories with :func:`register_backbone` when it is
imported. The same modules are declared in the ``torchgeo_composition.backbones``
entry-point group, the mechanism other packages use to add families.
"""

from . import prithvi, satmae, swin, timm, torchgeo  # noqa: F401 - families register
from .adapters import BandAdapter
from .base import POOLS, Backbone
from .registry import (
    BackboneFactory,
    create_backbone,
    list_backbones,
    register_backbone,
)

__all__ = [
    "POOLS",
    "Backbone",
    "BackboneFactory",
    "BandAdapter",
    "create_backbone",
    "list_backbones",
    "register_backbone",
]
