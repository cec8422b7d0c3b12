"""Our SatMAE encoders in TerraTorch's backbone registry (needs the terratorch extra).

Importing this module adds a source ``tgc`` to TerraTorch's ``BACKBONE_REGISTRY``
holding one backbone per SatMAE preset (:data:`TERRATORCH_BACKBONES`), so TerraTorch
configs and its ``EncoderDecoderFactory`` build them by name::

    import torchgeo_composition.models.backbones.terratorch_registry  # registers
    from terratorch.registry import BACKBONE_REGISTRY

    encoder = BACKBONE_REGISTRY.build("tgc_satmae_vit_small_patch8_96")

A built backbone follows TerraTorch's contract for convolutional backbones: its
``forward`` returns one ``(N, D, H / 8, W / 8)`` map per selected block (tokens
averaged over SatMAE's channel groups) and ``out_channels`` lists their widths, so no
``ReshapeTokensToImage`` neck is needed. It selects SatMAE's ten bands from the
data's ``bands`` and applies SatMAE's pretraining normalisation, so it takes raw
Sentinel-2 reflectances (``normalize=False`` when the data are already normalised).
Registering twice is a no-op.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from terratorch.registry import BACKBONE_REGISTRY, Registry
from torch import Tensor, nn

from ...bands import SATMAE_BANDS
from ..satmae import SATMAE_PRESETS
from .adapters import BandAdapter
from .satmae import satmae_backbone

__all__ = [
    "TERRATORCH_BACKBONES",
    "TERRATORCH_PREFIX",
    "TerraTorchEncoder",
    "register_terratorch_backbones",
]

#: Prefix of our source in TerraTorch's ``BACKBONE_REGISTRY``.
TERRATORCH_PREFIX = "tgc"

#: TerraTorch names of the registered backbones (``tgc_<SatMAE preset>``).
TERRATORCH_BACKBONES: tuple[str, ...] = tuple(
    f"{TERRATORCH_PREFIX}_{name}" for name in sorted(SATMAE_PRESETS)
)


class TerraTorchEncoder(nn.Module):
    """A SatMAE encoder as TerraTorch takes it: a list of maps, ``out_channels``."""

    def __init__(
        self,
        preset: str,
        bands: Sequence[str] | None = None,
        ckpt_path: str | None = None,
        out_indices: Sequence[int] | None = None,
        img_size: int | None = None,
        normalize: bool = True,
    ) -> None:
        """Build the encoder.

        Args:
            preset: SatMAE preset, e.g. ``"satmae_vit_small_patch8_96"``.
            bands: Band names of the data, in order (``None``: SatMAE's ten
                bands); SatMAE's bands are selected from them.
            ckpt_path: A SatMAE checkpoint (reference format or ours), loaded
                with the package's safe loader; ``None``: random initialisation.
            out_indices: Blocks whose outputs :meth:`forward` returns (negative
                ones count from the end); ``None``: every block.
            img_size: Input size (default: the preset's, 96).
            normalize: Apply SatMAE's pretraining normalisation to the input.

        Raises:
            ValueError: If ``bands`` lack a SatMAE band, an index is out of
                range, or the checkpoint is refused (the message names it).
        """
        super().__init__()
        data_bands = tuple(bands) if bands is not None else SATMAE_BANDS
        self.backbone = satmae_backbone(
            preset, bands=data_bands, checkpoint=ckpt_path, input_size=img_size
        )
        self.adapter = BandAdapter(
            data_bands, self.backbone, normalize=normalize, name=preset
        )
        depth = len(self.backbone.feature_info)
        indices = list(out_indices) if out_indices is not None else list(range(depth))
        bad = [i for i in indices if not -depth <= i < depth]
        if bad or not indices:
            raise ValueError(
                f"out_indices {indices} do not select blocks of {preset!r}, which "
                f"has {depth}; valid indices are {-depth}..{depth - 1}"
            )
        self.out_indices = [i % depth for i in indices]
        self.out_channels = [
            int(self.backbone.feature_info[i]["num_chs"]) for i in self.out_indices
        ]

    def forward(self, x: Tensor) -> list[Tensor]:
        """Return one ``(N, D, H', W')`` map per selected block.

        Args:
            x: Input ``(N, C, H, W)`` with the data's bands.

        Returns:
            The maps, in :attr:`out_indices` order.
        """
        return self.backbone.forward_intermediates(self.adapter(x), self.out_indices)


def _factory(preset: str) -> Callable[..., TerraTorchEncoder]:
    """A TerraTorch constructor for one preset (named after the preset)."""

    def build(
        pretrained: bool = False,
        ckpt_path: str | None = None,
        bands: Sequence[str] | None = None,
        out_indices: Sequence[int] | None = None,
        img_size: int | None = None,
        normalize: bool = True,
    ) -> TerraTorchEncoder:
        if pretrained and ckpt_path is None:
            raise ValueError(
                f"backbone_pretrained=True for {preset!r} needs backbone_ckpt_path "
                "(a local SatMAE checkpoint); nothing is downloaded"
            )
        return TerraTorchEncoder(
            preset,
            bands=bands,
            ckpt_path=ckpt_path,
            out_indices=out_indices,
            img_size=img_size,
            normalize=normalize,
        )

    build.__name__ = build.__qualname__ = preset
    build.__doc__ = f"Build the SatMAE encoder {preset!r} for TerraTorch."
    return build


def register_terratorch_backbones() -> tuple[str, ...]:
    """Add the ``tgc`` source to TerraTorch's ``BACKBONE_REGISTRY`` (idempotent).

    Returns:
        The registered names, as TerraTorch configs write them.
    """
    if TERRATORCH_PREFIX not in BACKBONE_REGISTRY.keys():
        source = Registry()
        for preset in sorted(SATMAE_PRESETS):
            source.register(_factory(preset))
        BACKBONE_REGISTRY.register_source(TERRATORCH_PREFIX, source)
    return TERRATORCH_BACKBONES


register_terratorch_backbones()
