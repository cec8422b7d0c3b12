import pytest

from torchgeo_composition import __version__, cli


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0
    assert __version__ in capsys.readouterr().out


def test_help_lists_extra_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    for name in ("fit", "validate", "test", "predict", *cli.COMMANDS):
        assert name in out


def test_every_command_target_resolves() -> None:
    for target, _ in cli.COMMANDS.values():
        assert callable(cli._resolve(target))


def test_unknown_subcommand_fails() -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["frobnicate"])
    assert exc.value.code != 0
