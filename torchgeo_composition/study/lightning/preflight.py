"""Build every model and datamodule of a study once, cheaply, before any step runs.

Parsing (:func:`~torchgeo_composition.study.lightning.check_lightning_configs`)
finds wrong class paths and argument types; the values themselves (a
``mask_ratio`` of 1.5, a band the pool does not have) are checked by the classes'
``__init__``. :func:`preflight` runs those: the pretraining and probe models are
built on PyTorch's ``meta`` device (no memory is allocated for their weights),
the datamodules without ``setup`` (no sample is read; the pool is opened as the
first composition step would open it). An error names the section and the
parameter in one line, seconds after the start instead of after every
composition and diversity step.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..protocols import protocol_names
from ..schema import StudyConfig
from .checks import instantiate, one_line, root_cause
from .configs import pretrain_config, probe_config, selection_of

__all__ = ["preflight"]

#: Errors that say the configuration is wrong (anything else may come from the
#: ``meta`` device, and the object is then built for real).
_VALUE_ERRORS: tuple[type[Exception], ...] = (
    ValueError,
    TypeError,
    LookupError,
    OSError,
)


def _class_name(spec: Mapping[str, Any]) -> str:
    return str(spec.get("class_path", "?")).rpartition(".")[2]


def _build(spec: Mapping[str, Any], base: type, section: str, meta: bool) -> Any:
    """Instantiate ``spec`` (on the meta device when ``meta``); name the section."""
    import torch

    what = f"{section} ({_class_name(spec)})"
    try:
        if meta:
            try:
                with torch.device("meta"):
                    return instantiate(spec, base)
            except Exception as err:
                # jsonargparse wraps the class's own error: look at the innermost
                if isinstance(root_cause(err), _VALUE_ERRORS):
                    raise
                # else e.g. an operation the meta device lacks: build it for real
        return instantiate(spec, base)
    except Exception as err:
        raise ValueError(f"{what}: {one_line(err)}") from err


def _without(node: Any, path: str) -> Any:
    """Replace every value equal to ``path`` by ``None`` (no encoder file yet)."""
    if isinstance(node, str):
        return None if node == path else node
    if isinstance(node, list):
        return [_without(v, path) for v in node]
    if isinstance(node, Mapping):
        return {k: _without(v, path) for k, v in node.items()}
    return node


def _encoder_config(model: Any, export: Mapping[str, Any]) -> dict[str, Any]:
    """The architecture an exported encoder of ``model`` would carry."""
    from ...models.satmae.config import encoder_kwargs

    config = getattr(getattr(model, "model", None), "config", None)
    if not isinstance(config, Mapping):
        return {}
    kwargs = encoder_kwargs(config) | {"global_pool": export.get("global_pool", True)}
    return {
        k: [list(g) if isinstance(g, tuple) else g for g in v]
        if isinstance(v, tuple | list)
        else v
        for k, v in kwargs.items()
    }


def _check_selection(study: StudyConfig, data: Any) -> None:
    """Check stratify_by, filters and compositions against the pool's index."""
    from ...sampling import check_selection_options

    pool = getattr(data, "pool", None)
    if pool is None or (study.stratify_by is None and study.filters is None):
        return
    try:
        check_selection_options(
            pool, [c.spec for c in study.compositions], study.stratify_by, study.filters
        )
    except ValueError as err:
        raise ValueError(f"compositions: {one_line(err)}") from err


def preflight(study: StudyConfig) -> None:
    """Build the pretraining and every probe model and datamodule once.

    Models are built on the ``meta`` device, datamodules without ``setup``. A
    probe is built without its encoder checkpoint (it does not exist yet), with
    the architecture the exported encoder will have.

    Args:
        study: The study.

    Raises:
        ValueError: One line naming the section (``pretrain model``,
            ``downstream 'eurosat' data`` ...), its class and the error of the
            class (which names the parameter); or, with ``stratify_by`` or
            ``filters``, a composition, column or filter the pool's index
            refuses.
    """
    from lightning.pytorch import LightningDataModule, LightningModule

    selection = selection_of(study, study.compositions[0])
    with tempfile.TemporaryDirectory(prefix="study-preflight-") as tmp:
        folder = Path(tmp)
        config = pretrain_config(
            selection, study.pretrain, study.seeds[0], folder / "m.parquet", folder
        )
        model = _build(config["model"], LightningModule, "pretrain model", meta=True)
        data = _build(config["data"], LightningDataModule, "pretrain data", meta=False)
        _check_selection(study, data)
        encoder = str(folder / "encoder.pth")
        arch = _encoder_config(model, study.export)
        for evaluation in study.downstream:
            for protocol in protocol_names(evaluation):
                config = probe_config(evaluation, 0, encoder, arch, folder, protocol)
                section = f"downstream {evaluation.name!r}"
                model = section + ("" if protocol is None else f" {protocol}")
                spec = _without(config["model"], encoder)
                _build(spec, LightningModule, f"{model} model", meta=True)
            _build(config["data"], LightningDataModule, f"{section} data", meta=False)
