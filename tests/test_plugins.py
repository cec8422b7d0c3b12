import importlib.metadata
import sys
import types

import pytest

from torchgeo_composition import plugins


def _fake_entry_points(
    monkeypatch: pytest.MonkeyPatch, group: str, values: dict[str, str]
) -> None:
    eps = [
        importlib.metadata.EntryPoint(name=name, value=value, group=group)
        for name, value in values.items()
    ]

    def fake(*, group: str | None = None) -> list[importlib.metadata.EntryPoint]:
        return [ep for ep in eps if ep.group == group]

    monkeypatch.setattr(plugins, "entry_points", fake)


def test_own_modules_are_registered() -> None:
    names = {
        ep.name: ep.value for ep in plugins.iter_entry_points(plugins.PLUGIN_GROUP)
    }
    assert names["datamodules"] == "torchgeo_composition.datamodules"
    assert names["trainers"] == "torchgeo_composition.trainers"


def test_load_plugins_imports_modules(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("tgc_fake_plugin")
    module.MARKER = 42  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "tgc_fake_plugin", module)
    _fake_entry_points(monkeypatch, "grp", {"fake": "tgc_fake_plugin"})
    loaded = plugins.load_plugins("grp")
    assert loaded["fake"].MARKER == 42


def test_broken_plugin_warns_and_others_load(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("tgc_good_plugin")
    monkeypatch.setitem(sys.modules, "tgc_good_plugin", module)
    _fake_entry_points(
        monkeypatch,
        "grp",
        {"broken": "tgc_no_such_module_xyz", "good": "tgc_good_plugin"},
    )
    with pytest.warns(plugins.PluginWarning, match="'broken'.*tgc_no_such_module_xyz"):
        loaded = plugins.load_plugins("grp")
    assert list(loaded) == ["good"]
