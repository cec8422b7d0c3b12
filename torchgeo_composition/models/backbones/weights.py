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

from ..satmae.checkpoint import extract_state_dict

__all__ = ["load_state_file", "load_weights", "local_weights"]


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
    filename = os.path.basename(urlparse(weights.url).path)
    path = os.path.join(torch.hub.get_dir(), "checkpoints", filename)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"weights {name!r} are not available locally and are never downloaded: "
            f"place the file {filename} (from {weights.url}) at {path}, "
            "or use weights: null for random init"
        )
    return weights


def load_state_file(model: nn.Module, path: str) -> None:
    """Load a local state-dict file into ``model`` (``strict=False``).

    The file may hold a bare state dict or a checkpoint with a ``model`` or
    ``state_dict`` entry (see
    :func:`~torchgeo_composition.models.satmae.checkpoint.extract_state_dict`).

    Args:
        model: The model to fill.
        path: The file (read with ``weights_only=True``).

    Raises:
        ValueError: If the file holds no parameter of ``model``.
    """
    obj = torch.load(path, map_location="cpu", weights_only=True)
    try:
        state = extract_state_dict(obj if isinstance(obj, dict) else {})
    except ValueError as err:
        raise ValueError(f"weights file {path!r} holds no state dict: {err}") from err
    if not set(state) & set(model.state_dict()):
        raise ValueError(
            f"weights file {path!r} holds no parameter of {type(model).__name__}"
        )
    model.load_state_dict(state, strict=False)


def load_weights(model: nn.Module, weights: str | None) -> None:
    """Load ``weights`` into ``model``: a local file, a TorchGeo enum, or nothing.

    Args:
        model: The model to fill.
        weights: ``None`` (keep the random init), a local state-dict file, or a
            TorchGeo weights enum name whose file is in the torch hub cache.

    Raises:
        ValueError: If ``weights`` is neither a file nor a TorchGeo enum name.
        FileNotFoundError: If the enum's file is not available locally.
    """
    if weights is None:
        return
    if os.path.isfile(weights):
        load_state_file(model, weights)
        return
    enum = local_weights(weights)
    model.load_state_dict(enum.get_state_dict(progress=False), strict=False)
