from pathlib import Path

import pytest
import yaml

from torchgeo_composition import __version__, cli

ROOT = Path(__file__).resolve().parents[1]


def test_version_names_the_program_once(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"torchgeo-composition {__version__}"


def test_help_lists_extra_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    for name in ("fit", "validate", "test", "predict", *cli.COMMANDS, "--debug"):
        assert name in out


def test_every_command_target_resolves() -> None:
    for target, _ in cli.COMMANDS.values():
        assert callable(cli.resolve_command(target))


def test_callbacks_config_keeps_the_checkpoint_section(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A second --config that sets trainer.callbacks adds the entropy monitor; the
    # checkpoint section (snapshots every 5 epochs, last.ckpt) stays.
    with pytest.raises(SystemExit) as exc:
        cli.main(
            [
                "fit",
                "--config",
                str(ROOT / "configs/pretrain/europe.yaml"),
                "--config",
                str(ROOT / "configs/callbacks/spectral_entropy.yaml"),
                "--print_config",
            ]
        )
    assert exc.value.code == 0
    config = yaml.safe_load(capsys.readouterr().out)
    checkpoint = config["checkpoint"]
    assert checkpoint["every_n_epochs"] == 5 and checkpoint["save_top_k"] == -1
    assert checkpoint["save_last"] is True
    assert checkpoint["last_every_n_train_steps"] == 1000
    callbacks = [c["class_path"] for c in config["trainer"]["callbacks"]]
    assert callbacks == [
        "torchgeo_composition.callbacks.SpectralEntropyMonitor",
        "torchgeo_composition.callbacks.CompositionSummary",
    ]


def test_lightning_tips_and_srun_warning_are_quiet(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    recwarn: pytest.WarningsRecorder,
) -> None:
    from tests.cli.tiny import tiny_config

    # an srun on PATH, but no Slurm job: Lightning would warn that srun is unused
    srun = tmp_path / "bin" / "srun"
    srun.parent.mkdir()
    srun.write_text("#!/bin/sh\n")
    srun.chmod(0o755)
    monkeypatch.setenv("PATH", f"{srun.parent}:{__import__('os').environ['PATH']}")
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    config = tiny_config(tmp_path / "fit.yaml", tmp_path / "run", logger=True)
    assert cli.main(["fit", "--config", str(config), "--trainer.fast_dev_run=1"]) == 0
    out = capsys.readouterr()
    assert "Tip" not in out.out + out.err + caplog.text
    assert not [w for w in recwarn if "srun" in str(w.message)]
