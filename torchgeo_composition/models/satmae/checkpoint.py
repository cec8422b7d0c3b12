"""Load SatMAE checkpoints and export encoders.

Three sources are understood: a reference SatMAE checkpoint (a dict whose
``model`` entry is the state dict), a Lightning checkpoint of
:class:`~torchgeo_composition.trainers.SatMAETask` (``state_dict`` entries under
``model.``), and a bare state dict. Encoders can be loaded from masked-autoencoder
checkpoints: the decoder is reported as ignored, and ``norm`` becomes ``fc_norm``
for global pooling. Files are read with ``weights_only=True`` and an allow-list
(:mod:`torchgeo_composition.serialization`); nothing in them is ever run.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ...files import atomic_path
from ...serialization import check_state_fits, load_checkpoint, preview
from .config import encoder_kwargs
from .encoder import GroupChannelViT

#: Checkpoint entries an encoder may ignore: the MAE decoder and classifier heads.
_ENCODER_IGNORABLE = ("decoder_", "mask_token", "head.")

#: Encoder parameters a MAE checkpoint does not have; they keep their zero init.
_ENCODER_OPTIONAL = ("channel_cls_embed",)


@dataclass(frozen=True)
class LoadReport:
    """What :func:`load_satmae_checkpoint` did.

    Attributes:
        missing: Model parameters the checkpoint lacked (left as initialised).
        ignored: Checkpoint entries the model does not use.
        renamed: ``"old -> new"`` for entries loaded under another name.
    """

    missing: tuple[str, ...] = ()
    ignored: tuple[str, ...] = ()
    renamed: tuple[str, ...] = field(default_factory=tuple)


def read_checkpoint(
    source: str | os.PathLike[str], what: str = "checkpoint"
) -> dict[str, Any]:
    """Read a checkpoint file onto the CPU, without running code from it.

    The file is loaded with ``torch.load(weights_only=True)`` and the allow-list
    of :func:`~torchgeo_composition.serialization.load_checkpoint` (tensors,
    plain containers, ``argparse.Namespace`` as in the reference's checkpoints,
    numpy scalars, paths); anything else is refused, never unpickled.

    Args:
        source: Path of the file.
        what: How error messages name the file.

    Returns:
        The loaded dictionary.

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If the file is not a ``torch.save`` dictionary, or holds a
            type outside the allow-list (an
            :class:`~torchgeo_composition.serialization.UnsafeCheckpointError`);
            the message names the file.
    """
    return load_checkpoint(source, what)


def extract_state_dict(
    checkpoint: Mapping[str, Any], what: str = "checkpoint"
) -> dict[str, Tensor]:
    """Return the model state dict inside a checkpoint of any supported kind.

    Args:
        checkpoint: A reference checkpoint (``model`` entry), a Lightning checkpoint
            (``state_dict`` with ``model.`` prefixes) or a bare state dict.
        what: How the error message names the checkpoint (e.g. its path).

    Returns:
        Parameter name -> tensor, with ``model.``, ``module.`` and ``_orig_mod.``
        prefixes removed.

    Raises:
        ValueError: If no state dict is found.
    """
    if isinstance(checkpoint.get("model"), Mapping):
        state = dict(checkpoint["model"])
    elif isinstance(checkpoint.get("state_dict"), Mapping):
        state = {
            k.removeprefix("model."): v
            for k, v in checkpoint["state_dict"].items()
            if k.startswith("model.")
        }
    else:
        state = dict(checkpoint)
    out: dict[str, Tensor] = {}
    for key, value in state.items():
        if not isinstance(value, Tensor):
            continue
        for prefix in ("module.", "_orig_mod."):
            key = key.removeprefix(prefix)
        out[key] = value
    if not out:
        raise ValueError(
            f"{what} holds no state dict: expected a 'model' entry (SatMAE), a "
            "'state_dict' entry (Lightning) or tensors; found keys "
            f"{preview(sorted(map(str, checkpoint)))}"
        )
    return out


def load_satmae_checkpoint(
    model: nn.Module,
    source: str | os.PathLike[str] | Mapping[str, Any],
    strict: bool = True,
    *,
    what: str = "checkpoint",
) -> LoadReport:
    """Load SatMAE weights into a :class:`GroupChannelMAE` or :class:`GroupChannelViT`.

    Args:
        model: The model to load into.
        source: A checkpoint path (read with :func:`read_checkpoint`, never
            unpickled freely), or an already loaded checkpoint or state dict.
        strict: Raise if a model parameter is missing or an unknown entry is
            present. Decoder, mask-token and head entries are always allowed
            (ignored) when loading an encoder, and ``channel_cls_embed`` may be
            missing (it keeps its zero init, as in the reference).
        what: How error messages name the checkpoint (with its path).

    Returns:
        A :class:`LoadReport`.

    Raises:
        FileNotFoundError: If ``source`` is a path that does not exist.
        ValueError: If the file is not a checkpoint or holds a refused type, if
            it holds no weights of the model (another architecture), if shapes
            differ (the message names the keys with both shapes), or, with
            ``strict``, if entries are missing or unknown. Messages name the file.
    """
    if isinstance(source, Mapping):
        checkpoint, label = source, what
    else:
        checkpoint = read_checkpoint(source, what)
        label = f"{what} {str(source)!r}"
    return _load_state(model, extract_state_dict(checkpoint, label), label, strict)


def _load_state(
    model: nn.Module, state: dict[str, Tensor], label: str, strict: bool
) -> LoadReport:
    expected = model.state_dict()
    name = type(model).__name__
    renamed = []
    is_encoder = isinstance(model, GroupChannelViT)
    if is_encoder and model.global_pool and "fc_norm.weight" not in state:
        for suffix in ("weight", "bias"):
            if f"norm.{suffix}" in state:
                state[f"fc_norm.{suffix}"] = state.pop(f"norm.{suffix}")
                renamed.append(f"norm.{suffix} -> fc_norm.{suffix}")
    check_state_fits(
        model, state, label, "check img_size, patch_size, channel_groups and the preset"
    )
    missing = sorted(k for k in expected if k not in state)
    ignored = sorted(k for k in state if k not in expected)
    if strict:
        optional = _ENCODER_OPTIONAL if is_encoder else ()
        ignorable = (*_ENCODER_IGNORABLE, "norm.") if is_encoder else ()
        bad_missing = [k for k in missing if k not in optional]
        bad_ignored = [k for k in ignored if not k.startswith(ignorable)]
        if bad_missing or bad_ignored:
            raise ValueError(
                f"{label} does not fit {name} (strict=True): missing "
                f"{preview(bad_missing)}, unexpected {preview(bad_ignored)}"
            )
    model.load_state_dict(
        {k: v for k, v in state.items() if k in expected}, strict=False
    )
    return LoadReport(tuple(missing), tuple(ignored), tuple(renamed))


def encoder_state_dict(
    state: Mapping[str, Tensor], global_pool: bool = True
) -> dict[str, Tensor]:
    """Convert a masked-autoencoder state dict to the reference encoder's names.

    Args:
        state: :class:`GroupChannelMAE` state dict.
        global_pool: Name the final norm ``fc_norm`` (global pooling) or ``norm``.

    Returns:
        The encoder state dict, with a zero ``channel_cls_embed``.
    """
    out: dict[str, Tensor] = {}
    for key, value in state.items():
        if key.startswith(_ENCODER_IGNORABLE):
            continue
        if global_pool and key.startswith("norm."):
            key = "fc_norm." + key.removeprefix("norm.")
        out[key] = value.detach().clone()
    if "channel_cls_embed" not in out and "channel_embed" in out:
        out["channel_cls_embed"] = torch.zeros(1, 1, out["channel_embed"].shape[-1])
    return out


def export_encoder(
    task_checkpoint: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    global_pool: bool = True,
) -> Path:
    """Write the encoder of a pretraining checkpoint as a SatMAE encoder checkpoint.

    The file holds ``{"model": state_dict, "config": kwargs}`` with the reference
    fine-tuning names, so it loads strictly into :class:`GroupChannelViT` (and the
    reference's fine-tuning model). ``config`` rebuilds the encoder with
    :func:`load_satmae_encoder` when the source is a task checkpoint. The file is
    written atomically.

    Args:
        task_checkpoint: A :class:`~torchgeo_composition.trainers.SatMAETask`
            checkpoint, or any checkpoint :func:`extract_state_dict` understands.
        out_path: Destination file.
        global_pool: Export ``fc_norm`` (global pooling) or ``norm``.

    Returns:
        The path written.

    Raises:
        FileNotFoundError: If ``task_checkpoint`` does not exist.
        ValueError: If it is not a checkpoint, holds a type outside the
            allow-list or holds no SatMAE state dict (the message names it).
    """
    label = f"checkpoint {str(task_checkpoint)!r}"
    checkpoint = read_checkpoint(task_checkpoint)
    state = extract_state_dict(checkpoint, label)
    if "channel_embed" not in state or "pos_embed" not in state:
        raise ValueError(
            f"{label} is not a SatMAE checkpoint: it has no 'channel_embed' or "
            f"'pos_embed' entry (found {preview(sorted(state), 3)})"
        )
    payload: dict[str, Any] = {"model": encoder_state_dict(state, global_pool)}
    config = checkpoint.get("satmae_config")
    if isinstance(config, Mapping):
        payload["config"] = encoder_kwargs(config) | {"global_pool": global_pool}
    out = Path(out_path)
    with atomic_path(out) as tmp:
        torch.save(payload, tmp)
    return out


def load_satmae_encoder(path: str | os.PathLike[str]) -> GroupChannelViT:
    """Rebuild and load an encoder written by :func:`export_encoder`.

    Args:
        path: The exported file (it must carry its ``config``).

    Returns:
        The encoder with its weights.

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If the file is not a checkpoint, holds a type outside the
            allow-list, has no valid ``config`` entry or its weights do not fit
            (the message names the file).
    """
    label = f"encoder checkpoint {str(path)!r}"
    checkpoint = read_checkpoint(path, "encoder checkpoint")
    config = checkpoint.get("config")
    if not isinstance(config, Mapping):
        raise ValueError(
            f"{label} has no 'config' entry (it is not written by export_encoder); "
            "build the encoder with create_satmae_encoder(preset, checkpoint=path) "
            "instead"
        )
    try:
        model = GroupChannelViT(**dict(config))
    except (TypeError, ValueError) as err:
        raise ValueError(f"{label} has an invalid 'config' entry: {err}") from err
    _load_state(model, extract_state_dict(checkpoint, label), label, strict=True)
    return model
