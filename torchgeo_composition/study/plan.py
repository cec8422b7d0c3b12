"""The study's steps and their dependencies (a DAG), with content hashes.

For every composition ``c``, pretraining seed ``s``, downstream evaluation ``t``
and repeat ``r``::

    compose-c -> diversity-c
    compose-r -> compose-c   (when ``c`` is ``entropy_matched`` to composition ``r``)
    compose-c -> pretrain-c-s<s> -> export-c-s<s> -> probe-c-s<s>-t-r<r>
                                                  (probe-c-s<s>-t-<protocol>-r<r>
                                                   for a task with protocols)
    every diversity and probe step -> collect

A step's hash covers its own configuration and the hashes of its inputs, so
changing, say, the pretraining config re-runs pretraining, export and probes but
keeps the compositions and diversity measurements.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Any

from ..files import write_text
from .entries import composition_order
from .lightning.configs import selection_of
from .protocols import protocol_names
from .records import Step
from .schema import BASELINE, DownstreamEval, StudyConfig, config_hash

__all__ = ["STEP_KINDS", "build_steps", "step_command", "write_plan"]

#: Kinds of steps, in the order they run for one composition.
STEP_KINDS: tuple[str, ...] = (
    "compose",
    "diversity",
    "pretrain",
    "export",
    "probe",
    "random_encoder",
    "collect",
)

#: Bumped when the meaning of a step's configuration changes.
_VERSION = 1


class _Builder:
    def __init__(self, study: StudyConfig) -> None:
        self.study = study
        self.root = Path(study.output_dir).absolute()
        self.steps: dict[str, Step] = {}

    def add(
        self,
        step_id: str,
        kind: str,
        identity: dict[str, Any],
        labels: dict[str, Any],
        deps: list[str],
    ) -> Step:
        if step_id in self.steps:
            raise ValueError(
                f"duplicate step name {step_id!r}; composition, downstream and seed "
                "names must give unique step names"
            )
        inputs = {
            d: {"dir": str(self.steps[d].dir), "hash": self.steps[d].hash} for d in deps
        }
        digest = config_hash(
            {
                "version": _VERSION,
                "kind": kind,
                "identity": identity,
                "inputs": {d: v["hash"] for d, v in inputs.items()},
            }
        )
        step = Step(
            id=step_id,
            kind=kind,
            dir=self.root / "steps" / step_id,
            hash=digest,
            params={"config": identity, **labels},
            depends_on=tuple(deps),
            inputs=inputs,
        )
        self.steps[step_id] = step
        return step


def _probes(
    b: _Builder,
    evaluations: tuple[DownstreamEval, ...],
    name: str,
    seed: int,
    export: str,
) -> list[str]:
    """Add the probe steps of one exported encoder; return their ids."""
    ids = []
    for evaluation in evaluations:
        for protocol in protocol_names(evaluation):
            task = (
                evaluation.name if protocol is None else f"{evaluation.name}-{protocol}"
            )
            for repeat in range(evaluation.repeats):
                identity: dict[str, Any] = {
                    "evaluation": evaluation.to_dict(),
                    "repeat": repeat,
                }
                labels: dict[str, Any] = {
                    "composition": name,
                    "seed": seed,
                    "downstream": evaluation.name,
                    "repeat": repeat,
                }
                if protocol is not None:
                    identity["protocol"] = labels["protocol"] = protocol
                probe = b.add(
                    f"probe-{name}-s{seed}-{task}-r{repeat}",
                    "probe",
                    identity,
                    labels,
                    [export],
                )
                ids.append(probe.id)
    return ids


def build_steps(study: StudyConfig) -> list[Step]:
    """Build the steps of a study in a valid running order.

    Args:
        study: The study.

    Returns:
        The steps; each comes after the steps it depends on.

    Raises:
        ValueError: If two steps would get the same name.
    """
    b = _Builder(study)
    diversity = study.diversity.to_dict()
    collect_deps: list[str] = []
    for comp in composition_order(study.compositions):
        selection = selection_of(study, comp)
        ref = comp.selection_reference
        compose = b.add(
            f"compose-{comp.name}",
            "compose",
            selection,
            {"composition": comp.name},
            [] if ref is None else [f"compose-{ref}"],
        )
        collect_deps.append(compose.id)
        div = b.add(
            f"diversity-{comp.name}",
            "diversity",
            selection | {"settings": diversity, "data": study.pretrain["data"]},
            {"composition": comp.name, "seed": study.seeds[0]},
            [compose.id],
        )
        collect_deps.append(div.id)
        for seed in study.seeds:
            pretrain = b.add(
                f"pretrain-{comp.name}-s{seed}",
                "pretrain",
                selection | {"pretrain": study.pretrain, "seed": seed},
                {"composition": comp.name, "seed": seed},
                [compose.id],
            )
            export = b.add(
                f"export-{comp.name}-s{seed}",
                "export",
                {"export": study.export},
                {"composition": comp.name, "seed": seed},
                [pretrain.id],
            )
            collect_deps += _probes(b, study.downstream, comp.name, seed, export.id)
    names = [c.name for c in study.compositions]
    if study.baseline:
        names.append(BASELINE)
        for seed in study.seeds:
            export = b.add(
                f"export-{BASELINE}-s{seed}",
                "random_encoder",
                {
                    "model": study.pretrain["model"],
                    "seed": seed,
                    "export": study.export,
                },
                {"composition": BASELINE, "seed": seed},
                [],
            )
            collect_deps += _probes(b, study.downstream, BASELINE, seed, export.id)
    identity: dict[str, Any] = {
        "compositions": [c.to_dict() for c in study.compositions],
        "downstream": [e.name for e in study.downstream],
        "diversity": diversity,
    }
    labels: dict[str, Any] = {
        "compositions": names,
        "downstream": [e.name for e in study.downstream],
        "output_dir": str(b.root),
        "study": study.name,
    }
    protocols = {
        e.name: [p.name for p in e.protocols]
        for e in study.downstream
        if e.protocols is not None
    }
    if protocols:  # a study without protocols keeps its collect hash
        identity["protocols"] = labels["protocols"] = protocols
    b.add("collect", "collect", identity, labels, collect_deps)
    return list(b.steps.values())


def step_command(step: Step) -> str:
    """Return the shell command running one step (from the same working directory).

    Args:
        step: The step.

    Returns:
        ``python -m torchgeo_composition.study STEP_DIR``.
    """
    return shlex.join(
        [sys.executable, "-m", "torchgeo_composition.study", str(step.dir)]
    )


def write_plan(steps: list[Step], root: Path) -> tuple[Path, Path]:
    """Write ``plan.json`` (steps and dependencies) and ``plan.sh`` (commands).

    ``plan.sh`` holds one command per line in a valid order; a cluster scheduler
    can instead submit each command with its ``depends_on`` steps as
    dependencies (from ``plan.json``). Every step folder's ``step.json`` is
    written too, since the commands read it.

    Args:
        steps: The study's steps.
        root: The study directory.

    Returns:
        Paths of ``plan.json`` and ``plan.sh``.
    """
    for step in steps:
        step.write()
    plan = [
        {
            "id": s.id,
            "kind": s.kind,
            "dir": str(s.dir),
            "hash": s.hash,
            "depends_on": list(s.depends_on),
            "command": step_command(s),
        }
        for s in steps
    ]
    json_path = write_text(root / "plan.json", json.dumps(plan, indent=2) + "\n")
    lines = [step_command(s) for s in steps]
    sh_path = write_text(root / "plan.sh", "\n".join(lines) + "\n")
    return json_path, sh_path
