"""torchgeo-composition: what to pretrain geospatial foundation models on.

A TorchGeo plugin that builds geographically stratified pretraining sets, pretrains
SatMAE on them, fuses several pretrained backbones, and measures the spectral
diversity of pretraining data.

Subpackages are imported lazily so that ``import torchgeo_composition`` stays cheap;
``torchgeo_composition.datamodules`` etc. are regular imports.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
