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
