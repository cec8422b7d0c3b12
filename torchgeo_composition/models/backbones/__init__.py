"""Backbones: the registry, band adapters and one module per family."""

from .adapters import BandAdapter
from .registry import Backbone, create_backbone, list_backbones, register_backbone

__all__ = [
    "Backbone",
    "BandAdapter",
    "create_backbone",
    "list_backbones",
    "register_backbone",
]
