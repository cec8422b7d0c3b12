"""Weights of the backbone families: local state-dict files and TorchGeo enums.

Nothing is ever downloaded: a TorchGeo weights enum is used only when its file
is already in the torch hub cache.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlparse

import torch
from torch import nn

from ...serialization import check_state_fits, load_checkpoint
from ..satmae.checkpoint import extract_state_dict

__all__ = ["load_state_file", "load_weights", "local_weights", "resolve_weights"]


def _cache_file(weights: Any) -> str:
    filename = os.path.basename(urlparse(weights.url).path)
    return os.path.join(torch.hub.get_dir(), "checkpoints", filename)


def local_weights(name: str) -> Any:
    """Return a TorchGeo weights enum member whose file is available locally.

    Args:
        name: Weights enum name, e.g. ``"ViTSmall16_Weights.SENTINEL2_ALL_MOCO"``.

    Returns:
        The weights enum member.

    Raises:
        ValueError: If the name is not a TorchGeo weights enum.
        FileNotFoundError: If the weights file is not in the torch hub cache;
            the message says where to place it (nothing is downloaded).
    """
    from torchgeo.models import get_weight

    try:
        weights = get_weight(name)
    except Exception as err:
        raise ValueError(
            f"weights={name!r} is neither a local file nor a TorchGeo weights enum "
            "name (e.g. 'ViTSmall16_Weights.SENTINEL2_ALL_MOCO'); use weights: null "
            "for random init"
        ) from err
    path = _cache_file(weights)
    if not os.path.isfile(path):
        filename = os.path.basename(path)
        raise FileNotFoundError(
            f"weights {name!r} are not available locally and are never downloaded: "
            f"place the file {filename} (from {weights.url}) at {path}, "
            "or use weights: null for random init"
        )
    return weights


def resolve_weights(weights: str | None) -> Any:
    """Return the TorchGeo weights enum ``weights`` names, or ``None`` for a file.

    ``weights`` is a file (loaded by :func:`load_weights`) when it exists, holds
    a path separator or ends in ``.pth``, ``.pt``, ``.ckpt`` or ``.bin``; a
    missing file is reported as such, not as an unknown enum name.

    Args:
        weights: ``None``, a file path or a TorchGeo weights enum name.

    Returns:
        The enum member, or ``None`` for ``None`` and files.

    Raises:
        ValueError: If a name is not a TorchGeo weights enum.
        FileNotFoundError: If the enum's file is not available locally.
    """
    if weights is None or _is_file_name(weights):
        return None
    return local_weights(weights)


def _is_file_name(weights: str) -> bool:
    return (
        os.path.exists(weights)
        or "/" in weights
        or os.sep in weights
        or weights.endswith((".pth", ".pt", ".ckpt", ".bin"))
    )


def load_state_file(model: nn.Module, path: str, what: str = "weights file") -> None:
    """Load a local state-dict file into ``model`` (``strict=False``).

    The file may hold a bare state dict or a checkpoint with a ``model`` or
    ``state_dict`` entry (see
    :func:`~torchgeo_composition.models.satmae.checkpoint.extract_state_dict`).
    It is read with ``weights_only=True`` and the allow-list of
    :func:`~torchgeo_composition.serialization.load_checkpoint`; nothing in it
    is run.

    Args:
        model: The model to fill.
        path: The file.
        what: How error messages name the file.

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If the file is not a checkpoint, holds a type outside the
            allow-list, holds no parameter of ``model`` (another architecture)
            or entries of another shape; the message names the file.
    """
    label = f"{what} {path!r}"
    state = extract_state_dict(load_checkpoint(path, what), label)
    check_state_fits(model, state, label)
    model.load_state_dict(state, strict=False)


def load_weights(model: nn.Module, weights: str | None) -> None:
    """Load ``weights`` into ``model``: a local file, a TorchGeo enum, or nothing.

    Both are read with :func:`load_state_file` (``weights_only=True``).

    Args:
        model: The model to fill.
        weights: ``None`` (keep the random init), a local state-dict file, or a
            TorchGeo weights enum name whose file is in the torch hub cache.

    Raises:
        ValueError: If ``weights`` is neither a file nor a TorchGeo enum name, or
            the file does not load (see :func:`load_state_file`).
        FileNotFoundError: If the file, or the enum's file, is not available.
    """
    enum = resolve_weights(weights)
    if enum is not None:
        load_state_file(model, _cache_file(enum), f"weights {weights!r}: file")
    elif weights is not None:
        load_state_file(model, weights, "weights")
