"""The comparative study as one command: compositions x pretraining x probing.

A study (one YAML file, :func:`load_study`) lists compositions, a pool, a budget,
pretraining seeds, a SatMAE pretraining config, downstream evaluations and
diversity settings. :func:`build_steps` turns it into a graph of steps (compose,
diversity, pretrain, export, probe, collect), each identified by a hash of its
resolved configuration and inputs; :func:`run_study` runs the steps that are not
done yet, each in its own folder, and writes the results table, the correlation
of diversity with downstream scores and a panel of composition maps.
"""

from .collect import (
    DIVERSITY_COLUMNS,
    collect_results,
    correlation_table,
    plot_composition_maps,
    results_table,
)
from .completion import RunCompletionMarker, completion_path
from .config import (
    STUDY_KEYS,
    load_study,
    parse_study,
    study_from_config,
    study_parser,
)
from .lightning import EXECUTORS, pretrain_config, probe_config
from .plan import STEP_KINDS, build_steps, step_command, write_plan
from .records import Step, is_done
from .runner import (
    STUDY_FILE,
    StudyReport,
    check_output_dir,
    claim_study_dir,
    lock_study_dir,
    run_study,
)
from .schema import (
    BASELINE,
    ENCODER_PLACEHOLDER,
    CompositionEntry,
    DiversitySettings,
    DownstreamEval,
    StudyConfig,
    config_hash,
)
from .steps import StepResult, run_step

__all__ = [
    "BASELINE",
    "DIVERSITY_COLUMNS",
    "ENCODER_PLACEHOLDER",
    "EXECUTORS",
    "STEP_KINDS",
    "STUDY_FILE",
    "STUDY_KEYS",
    "CompositionEntry",
    "DiversitySettings",
    "DownstreamEval",
    "RunCompletionMarker",
    "Step",
    "StepResult",
    "StudyConfig",
    "StudyReport",
    "build_steps",
    "check_output_dir",
    "claim_study_dir",
    "collect_results",
    "completion_path",
    "config_hash",
    "correlation_table",
    "is_done",
    "load_study",
    "lock_study_dir",
    "parse_study",
    "plot_composition_maps",
    "pretrain_config",
    "probe_config",
    "results_table",
    "run_step",
    "run_study",
    "step_command",
    "study_from_config",
    "study_parser",
    "write_plan",
]
