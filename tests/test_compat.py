"""The TorchGeo compatibility module: names on every supported release, the range check."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

import torchgeo_composition.compat as compat
from torchgeo_composition.cli import main


@pytest.mark.parametrize("version", ["0.8.0", "0.8.1", "0.9.0", "0.10.1", "0.10.0rc1"])
def test_supported_versions_pass(version: str) -> None:
    assert compat.check_torchgeo_version(version) == version


@pytest.mark.parametrize("version", ["0.7.1", "0.11.0", "0.11.0.dev0", "1.0.0", "x.y"])
def test_unsupported_versions_name_the_range(version: str) -> None:
    with pytest.raises(compat.UnsupportedTorchGeoError) as err:
        compat.check_torchgeo_version(version)
    message = str(err.value)
    assert f"torchgeo {version} is not supported" in message
    assert compat.SUPPORTED_TORCHGEO in message
    assert "pip install 'torchgeo>=0.8,<0.11'" in message


def test_installed_torchgeo_is_supported() -> None:
    assert compat.check_torchgeo_version() == compat.torchgeo_version()


def test_names_resolve_to_torchgeo_classes() -> None:
    import torchgeo.datamodules as datamodules

    assert compat.BaseDataModule is datamodules.BaseDataModule
    assert compat.NonGeoDataModule is datamodules.NonGeoDataModule
    assert compat.GeoDataModule is datamodules.GeoDataModule
    assert issubclass(compat.ClassificationTask, compat.BaseTask)
    assert issubclass(compat.SemanticSegmentationTask, compat.BaseTask)
    assert compat.BaseTask.__module__.startswith(compat.tasks_module())
    # the sampler base that indexes a dataset within a region and a time of interest
    params = inspect.signature(compat.GeoSampler.__init__).parameters
    assert list(params)[:4] == ["self", "dataset", "roi", "toi"]


def test_our_tasks_are_torchgeo_tasks() -> None:
    from torchgeo_composition.trainers import FusionClassificationTask, SatMAETask

    assert issubclass(SatMAETask, compat.BaseTask)
    assert issubclass(FusionClassificationTask, compat.BaseTask)


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Trainer'"):
        compat.Trainer  # noqa: B018


def test_import_is_cheap_and_warns_nothing() -> None:
    # importing the module imports no TorchGeo; resolving names on the installed
    # release emits no deprecation warning of TorchGeo's renamed modules
    code = (
        "import sys, warnings\n"
        "warnings.simplefilter('always')\n"
        "import torchgeo_composition.compat as c\n"
        "print('torchgeo' in sys.modules)\n"
        "with warnings.catch_warnings(record=True) as seen:\n"
        "    warnings.simplefilter('always')\n"
        "    c.BaseTask, c.ClassificationTask, c.BaseDataModule\n"
        "print([str(w.message) for w in seen if 'torchgeo' in str(w.message)])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out == ["False", "[]"]


def test_cli_refuses_an_unsupported_torchgeo(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(compat, "torchgeo_version", lambda: "0.7.1")
    assert main(["compose", "--help"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("error: torchgeo 0.7.1 is not supported")
    assert ">=0.8,<0.11" in err[0]


def test_cli_names_a_missing_torchgeo(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(compat, "torchgeo_version", lambda: None)
    assert main(["fit", "--help"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: torchgeo is not installed")
    assert ">=0.8,<0.11" in err
