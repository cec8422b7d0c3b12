"""Every bad input of the Lightning commands: one ``error:`` line, exit code 2."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.trainers.satmae_tiny import TINY_TASK
from torchgeo_composition.bands import SATMAE_BANDS
from torchgeo_composition.cli import COMMANDS, LIGHTNING_COMMANDS, main


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from torchgeo_composition.datasets import SyntheticSentinel2Pool

    root = tmp_path_factory.mktemp("pool")
    SyntheticSentinel2Pool(root, num_chips=36, size=16, seed=0)
    return root


@pytest.fixture
def config(tmp_path: Path, pool: Path) -> Path:
    """A valid fit config: tiny SatMAE on a stratified set of the demo pool."""
    cfg = {
        "trainer": {
            "accelerator": "cpu",
            "max_epochs": 1,
            "default_root_dir": str(tmp_path / "run"),
            "enable_progress_bar": False,
            "enable_model_summary": False,
        },
        "model": {
            "class_path": "torchgeo_composition.trainers.SatMAETask",
            "init_args": {**TINY_TASK, "plot_every_n_epochs": 0},
        },
        "data": {
            "class_path": "torchgeo_composition.datamodules.ContinentStratifiedDataModule",
            "init_args": {
                "pool": {
                    "class_path": "torchgeo_composition.datasets.ChipFolder",
                    "init_args": {"root": str(pool)},
                },
                "composition": "global",
                "num_samples": 8,
                "on_shortfall": "replace",
                "val_fraction": 0.5,
                "batch_size": 4,
                "num_workers": 0,
                "bands": list(SATMAE_BANDS),
                "crop_size": 16,
            },
        },
    }
    path = tmp_path / "fit.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _std(values: str) -> list[str]:
    zeros = "[" + ", ".join(["0"] * len(SATMAE_BANDS)) + "]"
    return [
        "--data.init_args.normalization=standard",
        f"--data.init_args.mean={zeros}",
        f"--data.init_args.std={values}",
    ]


def _earlier_run(tmp_path: Path) -> list[str]:
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    last.parent.mkdir(parents=True)
    last.write_bytes(b"")
    return []


def _file_in_the_way(tmp_path: Path) -> str:
    (tmp_path / "a_file").write_text("")
    return str(tmp_path / "a_file" / "run")


TEN = len(SATMAE_BANDS)
Args = Callable[[Path], list[str]]
ALL = ", ".join([*LIGHTNING_COMMANDS, *COMMANDS])

# (id, arguments after "--config fit.yaml" (or the whole line), text of the error)
CASES: list[tuple[str, Args, str]] = [
    ("unknown band", lambda t: ["--data.init_args.bands=[B2, B99]"], "B99"),
    ("mask ratio", lambda t: ["--model.init_args.mask_ratio=1.5"], "mask_ratio"),
    ("missing config", lambda t: ["--config", str(t / "nope.yaml")], "nope.yaml"),
    (
        "unknown class_path",
        lambda t: ["--model", "torchgeo_composition.trainers.NoTask"],
        "NoTask",
    ),
    ("unknown key", lambda t: ["--trainer.max_epochz=3"], "max_epochz"),
    ("wrong type", lambda t: ["--trainer.max_epochs=abc"], "trainer.max_epochs"),
    (
        "bad choice",
        lambda t: ["--model.init_args.masking=bad"],
        "model.init_args.masking",
    ),
    ("bad ckpt_path", lambda t: ["--ckpt_path", str(t / "x.ckpt")], "ckpt_path"),
    ("ckpt_path last, none", lambda t: ["--ckpt_path", "last"], "ckpt_path"),
    ("fresh fit over last.ckpt", _earlier_run, "--ckpt_path last"),
    (
        "unwritable default_root_dir",
        lambda t: ["--trainer.default_root_dir", _file_in_the_way(t)],
        "trainer.default_root_dir",
    ),
    (
        "bad checkpoint setting",
        lambda t: ["--checkpoint.last_every_n_train_steps=0"],
        "last_every_n_train_steps",
    ),
    (
        "missing pool",
        lambda t: ["--data.init_args.pool.init_args.root", str(t / "no_pool")],
        "no_pool",
    ),
    (
        "shortfall at setup",
        lambda t: [
            "--data.init_args.num_samples=1000",
            "--data.init_args.on_shortfall=error",
        ],
        "num_samples",
    ),
    (
        "manifest in the way",
        lambda t: ["--data.init_args.manifest_path", _file_in_the_way(t) + "/m.pq"],
        "a_file",
    ),
]

#: Whole command lines (no config prepended).
LINES: list[tuple[str, Callable[[Path, Path], list[str]], str]] = [
    (
        "validate without a val split",
        lambda t, c: [
            "validate",
            "--config",
            str(c),
            "--data.init_args.val_fraction=0",
        ],
        "validation data",
    ),
    (
        "test without a test step",
        lambda t, c: ["test", "--config", str(c)],
        "test_step",
    ),
    (
        "mistyped command",
        lambda t, c: ["fitt"],
        f"did you mean 'fit'? (commands: {ALL})",
    ),
    ("no command", lambda t, c: [], f"no command given (commands: {ALL})"),
    (
        "mistyped command after options",
        lambda t, c: ["--config", str(c), "valdate"],
        f"did you mean 'validate'? (commands: {ALL})",
    ),
]

#: Normalisation statistics that the datamodule refuses.
NORMALISATION = [
    ("std 0", _std("[" + ", ".join(["0"] + ["1"] * (TEN - 1)) + "]"), "std"),
    ("std negative", _std("[" + ", ".join(["-1"] + ["1"] * (TEN - 1)) + "]"), "std"),
    ("std NaN", _std("[" + ", ".join([".nan"] + ["1"] * (TEN - 1)) + "]"), "std"),
]


def _one_error_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    try:
        code = main(argv)
    except SystemExit as err:  # pragma: no cover - main returns its codes
        code = err.code  # type: ignore[assignment]
    stderr = capsys.readouterr().err
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert code == 2, stderr
    assert len(errors) == 1, stderr
    assert "Traceback" not in stderr
    return errors[0]


@pytest.mark.parametrize(
    ("args", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_fit_bad_input(
    args: Args,
    expected: str,
    config: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    line = _one_error_line(["fit", "--config", str(config), *args(tmp_path)], capsys)
    assert expected in line


@pytest.mark.parametrize(
    ("argv", "expected"), [c[1:] for c in LINES], ids=[c[0] for c in LINES]
)
def test_command_bad_input(
    argv: Callable[[Path, Path], list[str]],
    expected: str,
    config: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    line = _one_error_line(argv(tmp_path, config), capsys)
    assert expected in line


@pytest.mark.parametrize(
    ("args", "expected"),
    [c[1:] for c in NORMALISATION],
    ids=[c[0] for c in NORMALISATION],
)
def test_fit_bad_normalisation(
    args: list[str],
    expected: str,
    config: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    line = _one_error_line(
        ["fit", "--config", str(config), *args, "--trainer.fast_dev_run=1"], capsys
    )
    assert expected in line


def test_debug_shows_the_traceback(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "fit",
        "--config",
        str(config),
        "--model.init_args.mask_ratio=1.5",
        "--debug",
    ]
    assert main(argv) == 2
    stderr = capsys.readouterr().err
    assert "Traceback" in stderr and "mask_ratio" in stderr.splitlines()[-1]
