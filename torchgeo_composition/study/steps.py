"""What each kind of step does, and running one step in its folder.

Every step reads its parameters from its :class:`~torchgeo_composition.study.records.Step`
(``step.json``) and its inputs from the ``DONE.json`` outputs of the steps it
depends on, so it can run alone: ``python -m torchgeo_composition.study STEP_DIR``.
"""

from __future__ import annotations

import contextlib
import copy
import math
import shutil
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..files import FileLockedError, file_lock, write_text
from .attempts import attempt_dirs, keep_attempt
from .curation import compose_strategy, strategy_outputs, with_reference
from .lightning import (
    Executor,
    instantiate,
    last_metric,
    pretrain_config,
    probe_config,
    run_cli,
    write_yaml,
)
from .measures import create_study_measures, recipe_source
from .protocols import read_protocol_run
from .records import (
    Step,
    done_outputs,
    is_done,
    mark_done,
    mark_started,
    read_json,
)
from .schema import DiversitySettings, DownstreamEval

__all__ = ["StepResult", "run_step"]


def _input_dir(step: Step, kind: str) -> Path:
    for dep in step.depends_on:
        if dep.startswith(kind + "-"):
            return Path(step.inputs[dep]["dir"])
    raise ValueError(f"step {step.id!r} has no {kind} input")  # pragma: no cover


def _compose(step: Step, executor: Executor) -> dict[str, Any]:
    from ..datasets import PoolDataset
    from ..sampling import compose, format_counts_table

    cfg = step.params["config"]
    pool, strategy = compose_strategy(step, instantiate(cfg["pool"], PoolDataset))
    composed = compose(
        pool,
        composition=cfg["composition"],
        num_samples=cfg["budget"],
        seed=cfg["selection_seed"],
        manifest_path=step.dir / "manifest.parquet",
        map_path=step.dir / "map.png",
        on_shortfall=cfg["on_shortfall"],
        title=f"{step.params['composition']}: {cfg['budget']} samples",
        stratify_by=cfg.get("stratify_by"),
        filters=cfg.get("filters"),
        **strategy,
    )
    summary = composed.selection.summary
    print(format_counts_table(summary))
    outputs = {
        "manifest": str(composed.manifest_path),
        "summary": str(composed.summary_path),
        "map": str(composed.map_path),
        "continent_entropy": summary.get("continent_entropy_nats"),
        "stratum_entropy": summary.get("stratum_entropy_nats"),
        "counts": summary.get("counts"),
    }
    if "selection_reference" in strategy:
        outputs["selection_reference"] = strategy["selection_reference"]
    return outputs | strategy_outputs(summary)


def _selection(step: Step, compose: dict[str, Any]) -> dict[str, Any]:
    """The step's selection arguments, its reference as a manifest path."""
    return with_reference(step.params["config"], compose.get("selection_reference"))


def _diversity(step: Step, executor: Executor) -> dict[str, Any]:
    from lightning.pytorch import LightningDataModule

    from ..diversity import diversity_report

    cfg = step.params["config"]
    settings = DiversitySettings(**cfg["settings"])
    compose = done_outputs(_input_dir(step, "compose"))
    config = pretrain_config(
        _selection(step, compose),
        {"data": cfg["data"]},
        step.params["seed"],
        Path(compose["manifest"]),
        step.dir,
    )
    datamodule: Any
    if settings.entropy_recipe is not None:  # the chips as the recipe prepares them
        datamodule = recipe_source(cfg["pool"], compose["manifest"], settings)
    else:
        datamodule = instantiate(config["data"], LightningDataModule)
    if not all(hasattr(datamodule, a) for a in ("aug", "bands", "predict_dataset")):
        raise ValueError(
            f"the pretraining datamodule {type(datamodule).__name__} has no "
            "predict_dataset / aug / bands; the diversity step needs a "
            "ContinentStratifiedDataModule-like datamodule"
        )
    measures = create_study_measures(settings)
    default = settings.measures is None
    recorded: dict[str, Any] = {
        "bins": settings.bins,
        "value_range": list(settings.value_range),
    }
    if settings.entropy_recipe is not None:
        recorded = {"recipe": settings.entropy_recipe}
    report, paths = diversity_report(
        datamodule,
        step.dir,
        measures=measures,
        # the predict set is the pretraining set: ``budget`` samples
        num_samples=None
        if settings.num_samples is None
        else min(settings.num_samples, cfg["budget"]),
        seed=settings.seed,
        batch_size=settings.batch_size,
        num_workers=settings.num_workers,
        settings=recorded if default else None,
        progress=False,
    )
    outputs: dict[str, Any] = {"report": str(paths["json"])}
    for measure in measures:
        overall = report[measure.name]
        outputs[measure.name] = overall.get("mean", math.nan)
        outputs[f"{measure.name}_std"] = overall.get("std") or math.nan
    outputs["continent_entropy"] = compose.get("continent_entropy")
    return outputs


def _pretrain(step: Step, executor: Executor) -> dict[str, Any]:
    cfg = step.params["config"]
    compose = done_outputs(_input_dir(step, "compose"))
    config = pretrain_config(
        _selection(step, compose),
        cfg["pretrain"],
        cfg["seed"],
        Path(compose["manifest"]),
        step.dir,
    )
    path = write_yaml(step.dir / "config.yaml", config)
    last = step.dir / "checkpoints" / "last.ckpt"
    args = ["fit", "--config", str(path)]
    # the earlier attempt's logs: continued in place when resuming, else restarted
    kept = keep_attempt(step.dir, ["logs"], move=not last.is_file())
    if kept is not None:
        print(f"the logs of the earlier attempt are kept in {kept}")
    if last.is_file():
        print(f"continuing from {last}")
        args += ["--ckpt_path", str(last)]
    run_cli(args, step.log, executor)
    if not last.is_file():
        raise FileNotFoundError(
            f"pretraining finished without writing {str(last)!r}; is checkpointing "
            "disabled in the pretrain trainer config?"
        )
    outputs = {"checkpoint": str(last), "config": str(path)}
    return outputs | _attempts(step)


def _attempts(step: Step) -> dict[str, Any]:
    kept = attempt_dirs(step.dir)
    return {"attempts": [str(p) for p in kept]} if kept else {}


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _export(step: Step, executor: Executor) -> dict[str, Any]:
    from ..models import export_encoder
    from ..models.satmae.checkpoint import read_checkpoint

    pretrain = done_outputs(_input_dir(step, "pretrain"))
    kwargs = dict(step.params["config"]["export"])
    out = export_encoder(pretrain["checkpoint"], step.dir / "encoder.pth", **kwargs)
    config = read_checkpoint(out).get("config") or {}
    return {"encoder": str(out), "config": _plain(dict(config))}


def _random_encoder(step: Step, executor: Executor) -> dict[str, Any]:
    """Export a randomly initialised encoder (the no-pretraining baseline)."""
    import torch
    from lightning.pytorch import LightningModule, seed_everything

    from ..models import export_encoder
    from ..models.satmae.checkpoint import read_checkpoint

    cfg = step.params["config"]
    seed_everything(cfg["seed"])
    task = instantiate(cfg["model"], LightningModule)
    model = task.model
    source = step.dir / "random_init.ckpt"
    torch.save(
        {
            "state_dict": {f"model.{k}": v for k, v in model.state_dict().items()},
            "satmae_config": model.config,
        },
        source,
    )
    out = export_encoder(source, step.dir / "encoder.pth", **dict(cfg["export"]))
    source.unlink()
    config = read_checkpoint(out).get("config") or {}
    return {"encoder": str(out), "config": _plain(dict(config))}


def _probe(step: Step, executor: Executor) -> dict[str, Any]:
    cfg = step.params["config"]
    evaluation = DownstreamEval(**cfg["evaluation"])
    export = done_outputs(_input_dir(step, "export"))
    # a probe always starts afresh; the logs of an earlier attempt are kept
    kept = keep_attempt(step.dir, ["logs"], move=True)
    if kept is not None:
        print(f"the logs of the earlier attempt are kept in {kept}")
    shutil.rmtree(step.dir / "checkpoints", ignore_errors=True)
    protocol = step.params.get("protocol")
    config = probe_config(
        evaluation,
        cfg["repeat"],
        export["encoder"],
        export["config"],
        step.dir,
        protocol,
    )
    path = write_yaml(step.dir / "config.yaml", config)
    run_cli(["fit", "--config", str(path)], step.log, executor)
    version = "fit"
    if evaluation.test or protocol is not None:
        test = copy.deepcopy(config)
        logger = test["trainer"].get("logger")
        if (
            isinstance(logger, dict)
            and logger.get("init_args", {}).get("name") == "logs"
        ):
            logger["init_args"]["version"] = "test"
            version = "test"
        test_path = write_yaml(step.dir / "config_test.yaml", test)
        last = step.dir / "checkpoints" / "last.ckpt"
        run_cli(
            ["test", "--config", str(test_path), "--ckpt_path", str(last)],
            step.log,
            executor,
        )
        shutil.rmtree(step.dir / "checkpoints", ignore_errors=True)
    if protocol is not None:  # the test summary: score, CI, regions
        run = read_protocol_run(step.dir / "logs" / version, config)
        return run | {"protocol": protocol, "config": str(path)} | _attempts(step)
    score = last_metric(step.dir / "logs" / version / "metrics.csv", evaluation.metric)
    outputs = {"score": score, "metric": evaluation.metric, "config": str(path)}
    return outputs | _attempts(step)


def _collect(step: Step, executor: Executor) -> dict[str, Any]:
    from .collect import collect_results

    return collect_results(step)


_KINDS: dict[str, Callable[[Step, Executor], dict[str, Any]]] = {
    "compose": _compose,
    "diversity": _diversity,
    "pretrain": _pretrain,
    "export": _export,
    "probe": _probe,
    "random_encoder": _random_encoder,
    "collect": _collect,
}


@dataclass(frozen=True)
class StepResult:
    """Outcome of one step.

    Attributes:
        step: The step.
        status: ``skipped`` (already done), ``done``, ``failed``, ``blocked`` (a
            dependency failed) or ``partial`` (collect with missing inputs).
        seconds: Wall time of the run.
        error: Error message of a failed step.
    """

    step: Step
    status: str
    seconds: float = 0.0
    error: str | None = None


def _missing_inputs(step: Step) -> list[str]:
    missing = []
    for dep, info in step.inputs.items():
        marker = read_json(Path(info["dir"]) / "DONE.json")
        if marker is None or marker.get("hash") != info["hash"]:
            missing.append(dep)
    return missing


def run_step(
    step: Step, executor: Executor = "subprocess", partial: bool = False
) -> StepResult:
    """Run one step in its folder unless it is already done.

    The step's output (and, for Lightning steps run in-process, the CLI's output)
    goes to ``log.txt``; a failure's traceback too. ``DONE.json`` is written only
    after success. The step folder is locked while the step runs (the file
    ``steps/<step>.lock``): a second run of the same step, e.g. a line of
    ``plan.sh`` started while the study runs it, fails at once naming the holder.

    Args:
        step: The step.
        executor: How Lightning steps run (``subprocess`` or ``inprocess``).
        partial: Run even though some inputs are not done (``collect`` only);
            the step is then not marked done.

    Returns:
        The outcome.
    """
    step.dir.parent.mkdir(parents=True, exist_ok=True)
    try:
        with file_lock(step.dir, what="study step", timeout=0):
            return _run_locked(step, executor, partial)
    except FileLockedError as err:
        return StepResult(step, "failed", error=str(err))


def _run_locked(step: Step, executor: Executor, partial: bool) -> StepResult:
    if is_done(step):
        return StepResult(step, "skipped")
    missing = _missing_inputs(step)
    if missing and not partial:
        return StepResult(step, "blocked", error=f"inputs not done: {missing}")
    step.write()
    mark_started(step)
    start = time.perf_counter()
    with step.log.open("a") as log:
        log.write(f"== {step.id} ({step.kind}) hash {step.hash}\n")
        log.flush()
        try:
            with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
                outputs = _KINDS[step.kind](step, executor)
        except Exception as err:
            traceback.print_exc(file=log)
            message = f"{type(err).__name__}: {err}"
            return StepResult(step, "failed", time.perf_counter() - start, message)
    seconds = time.perf_counter() - start
    if missing:
        write_text(step.dir / "PARTIAL.txt", f"inputs not done: {missing}\n")
        return StepResult(step, "partial", seconds, f"inputs not done: {missing}")
    (step.dir / "PARTIAL.txt").unlink(missing_ok=True)
    mark_done(step, outputs, seconds)
    return StepResult(step, "done", seconds)
