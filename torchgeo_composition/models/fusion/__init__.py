"""Fusion: several frozen backbones fused into one model, the feature cache and CKA."""

from .cache import FeatureCache
from .cka import cka_chance_level, cka_matrix, linear_cka
from .layers import FUSIONS
from .model import FeatureFusion

__all__ = [
    "FUSIONS",
    "FeatureCache",
    "FeatureFusion",
    "cka_chance_level",
    "cka_matrix",
    "linear_cka",
]
