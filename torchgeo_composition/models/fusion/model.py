"""Feature-level fusion of several backbones.

:class:`FeatureFusion` runs N registry backbones on one input (each through its
:class:`~torchgeo_composition.models.backbones.adapters.BandAdapter`), optionally projects
each backbone's features, fuses them (``concat``, ``mean``, ``weighted`` or
``attention``) and applies a classification head, or a UPerNet decoder over the
fused multi-level maps for segmentation.

A backbone is given by its registry name or a mapping::

    {"name": "timm:hiera_tiny_224", "frozen": True, "normalize": True,
     "weights": None, "input_size": None, **factory_arguments}
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..backbones.adapters import BandAdapter
from ..backbones.base import Backbone
from ..backbones.registry import create_backbone
from .layers import PYRAMID_STRIDES, FusedUPerNet, Fuser, make_head

__all__ = [
    "INPUT_NORMALIZATIONS",
    "BackboneSpec",
    "FeatureFusion",
    "InputNormalization",
    "parse_backbone_spec",
]

#: A backbone given by name or as a mapping (see the module docstring).
BackboneSpec = str | Mapping[str, Any]

_SPEC_KEYS = ("name", "weights", "input_size", "frozen", "normalize")

#: Where the inputs of the backbones are normalised (see :class:`FeatureFusion`).
InputNormalization = Literal["datamodule", "backbone"]
INPUT_NORMALIZATIONS: tuple[str, ...] = ("datamodule", "backbone")


def parse_backbone_spec(spec: BackboneSpec, freeze: bool = True) -> dict[str, Any]:
    """Normalise a backbone spec to a dict with all keys of the spec format.

    Args:
        spec: A registry name or a mapping with at least ``name``.
        freeze: Default of ``frozen``.

    Returns:
        ``{"name", "weights", "input_size", "frozen", "normalize", "kwargs"}``.

    Raises:
        ValueError: If the mapping lacks ``name``.
    """
    if isinstance(spec, str):
        spec = {"name": spec}
    if "name" not in spec:
        raise ValueError(
            f"backbone spec {dict(spec)!r} has no 'name'; expected e.g. "
            "{'name': 'timm:resnet18', 'frozen': true}"
        )
    kwargs = {k: v for k, v in spec.items() if k not in _SPEC_KEYS}
    return {
        "name": str(spec["name"]),
        "weights": spec.get("weights"),
        "input_size": spec.get("input_size"),
        "frozen": bool(spec.get("frozen", freeze)),
        "normalize": bool(spec.get("normalize", True)),
        "kwargs": kwargs,
    }


class FeatureFusion(nn.Module):
    """N backbones, per-backbone projection, fusion and a head or decoder."""

    input_mean: Tensor
    input_std: Tensor

    def __init__(
        self,
        backbones: Sequence[BackboneSpec],
        bands: Sequence[str],
        num_classes: int,
        fusion: str = "concat",
        freeze: bool = True,
        projection_dim: int | None = None,
        head: Literal["linear", "mlp"] = "linear",
        head_hidden_dim: int = 256,
        dropout: float = 0.0,
        decoder: Literal["upernet"] | None = None,
        decoder_channels: int = 64,
        input_normalization: InputNormalization = "datamodule",
    ) -> None:
        """Initialise the model.

        Args:
            backbones: Backbone names or spec mappings.
            bands: Band names of the input, in order.
            num_classes: Outputs of the head (classes or labels).
            fusion: ``"concat"``, ``"mean"``, ``"weighted"`` or ``"attention"``.
            freeze: Default ``frozen`` of each backbone (frozen backbones run
                without gradients and stay in eval mode).
            projection_dim: Project each backbone's features (and maps) to this
                size with a linear layer (a 1x1 conv for maps) before fusion.
            head: ``"linear"`` (probe) or ``"mlp"``.
            head_hidden_dim: Hidden width of the MLP head.
            dropout: Dropout in the head.
            decoder: ``None`` (classification) or ``"upernet"`` (segmentation).
            decoder_channels: Width of the segmentation decoder.
            input_normalization: ``"datamodule"``: feed inputs as delivered (already
                normalised by the datamodule); ``"backbone"``: undo the input
                normalisation (see :meth:`set_input_stats`) and apply each
                backbone's own.

        Raises:
            ValueError: On an empty backbone list, an unknown fusion, head,
                decoder or normalisation, or a band a backbone needs but the
                data lacks.
        """
        super().__init__()
        if not backbones:
            raise ValueError("backbones is empty; give at least one backbone name")
        if input_normalization not in INPUT_NORMALIZATIONS:
            raise ValueError(
                f"input_normalization={input_normalization!r} is invalid; valid "
                f"choices: {INPUT_NORMALIZATIONS}"
            )
        if decoder not in (None, "upernet"):
            raise ValueError(
                f"decoder={decoder!r} is invalid; valid choices: (None, 'upernet')"
            )
        self.bands = tuple(bands)
        self.specs = [parse_backbone_spec(s, freeze) for s in backbones]
        self.input_normalization = input_normalization
        self.backbones = nn.ModuleList()
        self.adapters = nn.ModuleList()
        for spec in self.specs:
            backbone = create_backbone(
                spec["name"],
                bands=self.bands,
                weights=spec["weights"],
                input_size=spec["input_size"],
                **spec["kwargs"],
            )
            if spec["frozen"]:
                backbone.requires_grad_(False)
                backbone.eval()
            self.backbones.append(backbone)
            self.adapters.append(
                BandAdapter(
                    self.bands,
                    backbone,
                    normalize=spec["normalize"] and input_normalization == "backbone",
                    name=spec["name"],
                )
            )
        self.register_buffer("input_mean", torch.zeros(len(self.bands)))
        self.register_buffer("input_std", torch.ones(len(self.bands)))
        dims = [b.num_features for b in self._backbones]
        self.projections = nn.ModuleList(
            nn.Identity() if projection_dim is None else nn.Linear(d, projection_dim)
            for d in dims
        )
        proj_dims = dims if projection_dim is None else [projection_dim] * len(dims)
        self.fuser = Fuser(fusion, proj_dims)
        self.feature_dim = self.fuser.out_dim
        self.segmentation = decoder is not None
        if decoder is None:
            self.head = make_head(
                self.feature_dim, num_classes, head, head_hidden_dim, dropout
            )
        else:
            self._configure_decoder(projection_dim, fusion, num_classes)
            self.decoder = FusedUPerNet(
                [int(f.out_dim) for f in self.level_fusers],  # type: ignore[arg-type]
                num_classes,
                decoder_channels,
            )

    def _configure_decoder(
        self, projection_dim: int | None, fusion: str, num_classes: int
    ) -> None:
        """Build per-level projections and fusers of the segmentation pyramid."""
        self.level_sources: list[list[int]] = []
        self.level_projections = nn.ModuleList()
        self.level_fusers = nn.ModuleList()
        for backbone in self._backbones:
            n = len(backbone.out_indices)
            self.level_sources.append(
                [round(k * (n - 1) / (len(PYRAMID_STRIDES) - 1)) for k in range(4)]
            )
        for k in range(len(PYRAMID_STRIDES)):
            chans = [
                b.feature_info[b.out_indices[src[k]]]["num_chs"]
                for b, src in zip(self._backbones, self.level_sources, strict=True)
            ]
            self.level_projections.append(
                nn.ModuleList(
                    nn.Identity()
                    if projection_dim is None
                    else nn.Conv2d(c, projection_dim, kernel_size=1)
                    for c in chans
                )
            )
            out = chans if projection_dim is None else [projection_dim] * len(chans)
            self.level_fusers.append(Fuser(fusion, out))

    @property
    def _backbones(self) -> list[Backbone]:
        return list(self.backbones)  # type: ignore[arg-type]

    @property
    def _adapters(self) -> list[BandAdapter]:
        return list(self.adapters)  # type: ignore[arg-type]

    def get_backbone(self, index: int) -> Backbone:
        """Return one backbone.

        Args:
            index: Position in the ``backbones`` list.

        Returns:
            The backbone.
        """
        return self._backbones[index]

    @property
    def frozen(self) -> list[bool]:
        """Whether each backbone is frozen."""
        return [spec["frozen"] for spec in self.specs]

    def set_input_stats(self, mean: Sequence[float], std: Sequence[float]) -> None:
        """Set the normalisation the data carries, undone for ``"backbone"`` inputs.

        Args:
            mean: Per-band mean subtracted by the datamodule.
            std: Per-band std the datamodule divided by.

        Raises:
            ValueError: If the number of values differs from the bands.
        """
        mean_t = torch.as_tensor(mean, dtype=torch.float32).flatten()
        std_t = torch.as_tensor(std, dtype=torch.float32).flatten()
        if mean_t.numel() == 1:
            mean_t = mean_t.expand(len(self.bands))
        if std_t.numel() == 1:
            std_t = std_t.expand(len(self.bands))
        if mean_t.numel() != len(self.bands) or std_t.numel() != len(self.bands):
            raise ValueError(
                f"input mean/std have {mean_t.numel()}/{std_t.numel()} values but "
                f"bands has {len(self.bands)}: {list(self.bands)}"
            )
        self.input_mean.copy_(mean_t)
        self.input_std.copy_(std_t)

    def train(self, mode: bool = True) -> FeatureFusion:
        """Set train mode; frozen backbones always stay in eval mode."""
        super().train(mode)
        for backbone, frozen in zip(self.backbones, self.frozen, strict=True):
            if frozen:
                backbone.eval()
        return self

    def _inputs(self, x: Tensor) -> list[Tensor]:
        """Adapted input per backbone, sharing select/resize results.

        With ``input_normalization="backbone"``, backbones with their own
        normalisation get the de-normalised input; the others get the input as
        delivered.
        """
        raw = x
        if self.input_normalization == "backbone" and any(
            a.normalize for a in self._adapters
        ):
            raw = x * self.input_std.view(1, -1, 1, 1) + self.input_mean.view(
                1, -1, 1, 1
            )
        shared: dict[Any, Tensor] = {}
        out = []
        for adapter in self._adapters:
            key = (adapter.normalize, adapter.share_key)
            if key not in shared:
                shared[key] = adapter.prepare(raw if adapter.normalize else x)
            out.append(adapter.finish(shared[key]))
        return out

    def backbone_features(self, x: Tensor) -> list[Tensor]:
        """Pooled features of each backbone (frozen ones without gradients).

        Args:
            x: Input ``(N, C, H, W)`` in :attr:`bands` order.

        Returns:
            One ``(N, D_b)`` tensor per backbone.
        """
        feats = []
        for backbone, frozen, xb in zip(
            self._backbones, self.frozen, self._inputs(x), strict=True
        ):
            with torch.no_grad() if frozen else nullcontext():
                feats.append(backbone(xb))
        return feats

    def fuse(self, features: Sequence[Tensor]) -> Tensor:
        """Project and fuse pooled per-backbone features.

        Args:
            features: Output of :meth:`backbone_features`.

        Returns:
            Fused ``(N, feature_dim)`` features.
        """
        projected = [p(f) for p, f in zip(self.projections, features, strict=True)]
        return self.fuser(projected)

    def fused_features(self, x: Tensor) -> Tensor:
        """Fused features of ``x`` (before the head)."""
        return self.fuse(self.backbone_features(x))

    def head_from_features(self, features: Sequence[Tensor]) -> Tensor:
        """Classification logits from (cached) per-backbone features."""
        return self.head(self.fuse(features))

    def forward_levels(self, x: Tensor) -> list[Tensor]:
        """Fused pyramid maps at strides 4, 8, 16, 32 of the input.

        Args:
            x: Input ``(N, C, H, W)``.

        Returns:
            Four fused maps, finest first.
        """
        h, w = x.shape[-2:]
        per_backbone = []
        for backbone, frozen, xb in zip(
            self._backbones, self.frozen, self._inputs(x), strict=True
        ):
            with torch.no_grad() if frozen else nullcontext():
                per_backbone.append(
                    backbone.forward_intermediates(xb, backbone.out_indices)
                )
        fused = []
        for k, stride in enumerate(PYRAMID_STRIDES):
            size = (max(1, -(-h // stride)), max(1, -(-w // stride)))
            maps = []
            for b, levels in enumerate(per_backbone):
                m = levels[self.level_sources[b][k]]
                if tuple(m.shape[-2:]) != size:
                    m = F.interpolate(
                        m, size=size, mode="bilinear", align_corners=False
                    )
                maps.append(self.level_projections[k][b](m))  # type: ignore[index]
            fused.append(self.level_fusers[k](maps))
        return fused

    def forward(self, x: Tensor) -> Tensor:
        """Logits: ``(N, num_classes)``, or ``(N, num_classes, H, W)`` with a decoder.

        Args:
            x: Input ``(N, C, H, W)`` in :attr:`bands` order.

        Returns:
            The logits.
        """
        if self.segmentation:
            size = (int(x.shape[-2]), int(x.shape[-1]))
            return self.decoder(self.forward_levels(x), size)
        return self.head(self.fused_features(x))

    def backbone_fingerprint(self) -> str:
        """SHA-256 of the backbones' configuration, adapters and weights.

        Returns:
            A hex digest that changes when any backbone, its weights, its input
            adaptation or the band list changes.
        """
        h = hashlib.sha256()
        config = {
            "bands": self.bands,
            "normalization": self.input_normalization,  # key kept: caches stay valid
            "specs": self.specs,
            "input_mean": self.input_mean.tolist(),
            "input_std": self.input_std.tolist(),
        }
        h.update(json.dumps(config, sort_keys=True, default=str).encode())
        for backbone in self.backbones:
            for key, value in sorted(backbone.state_dict().items()):
                h.update(key.encode())
                h.update(value.detach().cpu().contiguous().numpy().tobytes())
        return h.hexdigest()
