"""Evaluation protocols of frozen or fine-tuned encoders, as model configurations.

How the study (or any caller) should use this: build one ``model`` section per
protocol with :func:`protocol_model` from the arguments shared by every protocol
(``backbones``, ``bands``, ``task``, ``num_classes``, ``input_normalization``,
``feature_cache``, ``regions``, ``region_attribute``, ``min_region_samples``, ...)
and run it with ``torchgeo-composition fit`` then ``test`` (a k-NN ``fit`` needs
``trainer.max_epochs: 1``: it takes no optimiser step). Repeats are separate runs
with different ``seed_everything``; combine their ``test_summary.json`` values with
:func:`torchgeo_composition.evaluation.summarize_repeats`. Each ``test`` writes
``test_predictions.csv`` and ``test_summary.json`` into the logger's folder
(``trainer.log_dir``), and logs ``test_<metric>/<region>`` and
``test_num_samples/<region>`` when ``regions`` is set.

Protocols (:data:`PROTOCOLS`):

* ``linear``: :class:`FusionClassificationTask`, frozen backbones, linear head
  (the feature cache applies);
* ``knn``: :class:`KNNClassificationTask` (``k``, ``vote``, ``temperature``; the
  feature cache applies);
* ``finetune``: :class:`FusionClassificationTask`, trainable backbones, linear
  head and layer-wise learning-rate decay (``layer_decay``, default 0.75); no
  feature cache.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from .fusion import FusionClassificationTask
from .knn import KNNClassificationTask

__all__ = ["PROTOCOLS", "check_protocol", "protocol_model"]

#: The evaluation protocols, in the order results are reported.
PROTOCOLS: tuple[str, ...] = ("linear", "knn", "finetune")

_CLASSES: dict[str, type[FusionClassificationTask | KNNClassificationTask]] = {
    "linear": FusionClassificationTask,
    "knn": KNNClassificationTask,
    "finetune": FusionClassificationTask,
}
_FIXED: dict[str, dict[str, Any]] = {
    "linear": {"freeze_backbones": True, "head": "linear", "layer_decay": None},
    "knn": {},
    "finetune": {"freeze_backbones": False, "head": "linear", "feature_cache": None},
}
_DEFAULTS: dict[str, dict[str, Any]] = {"finetune": {"layer_decay": 0.75}}


def check_protocol(protocol: str) -> str:
    """Validate a protocol name.

    Args:
        protocol: The name given.

    Returns:
        ``protocol``.

    Raises:
        ValueError: If it is not one of :data:`PROTOCOLS`.
    """
    if protocol not in PROTOCOLS:
        raise ValueError(
            f"protocol={protocol!r} is invalid; valid choices: {PROTOCOLS}"
        )
    return protocol


def protocol_model(protocol: str, init_args: Mapping[str, Any]) -> dict[str, Any]:
    """The LightningCLI ``model`` section of a protocol.

    Args:
        protocol: One of :data:`PROTOCOLS`.
        init_args: Arguments of the task; those the protocol's class does not
            take (e.g. ``lr`` for ``knn``, ``k`` for ``linear``) are dropped, and
            the protocol's fixed choices (frozen or not, head, cache) override.

    Returns:
        ``{"class_path": ..., "init_args": {...}}``.

    Raises:
        ValueError: On an unknown protocol.
    """
    cls = _CLASSES[check_protocol(protocol)]
    accepted = set(inspect.signature(cls.__init__).parameters) - {"self"}
    args = dict(_DEFAULTS.get(protocol, {})) | dict(init_args) | _FIXED[protocol]
    return {
        "class_path": f"{cls.__module__.rsplit('.', 1)[0]}.{cls.__name__}",
        "init_args": {k: v for k, v in args.items() if k in accepted},
    }
