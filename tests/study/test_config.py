"""Reading study configs: the shipped ones, the command line, bad input."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from tiny_study import tiny_study, write_study

from torchgeo_composition.commands.study import main
from torchgeo_composition.study import (
    CompositionEntry,
    DiversitySettings,
    DownstreamEval,
    build_steps,
    load_study,
    parse_study,
)

CONFIGS = Path(__file__).parents[2] / "configs" / "study"

# Identity and step hashes of configs/study/demo.yaml. A study folder is resumed
# only when these match, so they must not change when parsing changes.
IDENTITY = "e5ee8a12c69a0695552e10a7eb8a07a5519b1f6597e08ca89ec35212ddbefca1"
STEPS = {
    "compose-africa": "c733112b2193f31f6a9c8b591eea224fb9e874596e60f08af12a7c16ef083d99",
    "diversity-africa": "45f75c3e2c1a85703d3c14e7726cdb1b06e97b79056c0c2533cfb7fdef51123c",
    "pretrain-africa-s0": "8ac75b18407e3f38fc3d56e92b4a0c457394192368bfe6d97d002ab039fa9fd9",
    "export-africa-s0": "f0292aba8ac61eabc9cd398692937b9c8a2f199c743f6f0105b4891546c5d83a",
    "probe-africa-s0-landcover-r0": "2e22ed0eb9596652b73413dddb8124cb0b2e1dac14288d2f342587c94333f5c0",
    "probe-africa-s0-landcover-r1": "f3852111e525ea69a901fd43995264d3357f924c6f0eba58c2a31d9d71dc7e5e",
    "compose-asia": "49d1cf9dfe7bb8028b413d0e55488d2668d4018087118c1b550e99a1b4a763aa",
    "diversity-asia": "c2fd8857a71993a9fa45b35c18f1de82efd6dfe3e749b3e67075d32861bb02c5",
    "pretrain-asia-s0": "23b6607b82398952a556f17d881a331a2695a26ed8a66106f645a7d558e50598",
    "export-asia-s0": "d6f22cdbd70f6823a9931d20f5d3bf2fa2b7a628f90e21bd9b4ae603d03b502f",
    "probe-asia-s0-landcover-r0": "dae9630be23a0350b5e81ee640eada49ccd5023192552d6906d09258a5c05bfc",
    "probe-asia-s0-landcover-r1": "43e0bc7d6287e73e03836c4c86c0f0daee045b160529c95fd22cfda8a5a9c5ce",
    "compose-europe": "7be8ec9f699db8b0bb8cf013c4f4962e2963448d692cc2c2366330b749c37a19",
    "diversity-europe": "1bf1ea41d14e90fa0e7a358b3a8b98238b5d80939be86cfffc58af97f972ce99",
    "pretrain-europe-s0": "b5d4a109815c3b441305ddd30a67e08fa21d87f6180d047f11df4a9630f40c5c",
    "export-europe-s0": "6ba156ce2ca610c0e33486e45810f2408f5ec87aa4cc04c656de55805b845c26",
    "probe-europe-s0-landcover-r0": "744cf9cac9695f5051b3a1273e4faede26639e8dc77359299ab82e06bffa929f",
    "probe-europe-s0-landcover-r1": "e39de4283ed7673194c8891d4301cf053d7392e4f8bbe83aaca08157d094685b",
    "compose-north_america": "98e298d10281c7e7651337ebd3f8512b5067148bb803a5aadd02f8afebb03e53",
    "diversity-north_america": "be3e8bbb3f360906a9004389dabae1c12da22b2d4adae7306a5e207d66384654",
    "pretrain-north_america-s0": "4b91659a503a2de74a822df1a0fa0a1b9a931659c2afc339d565e7a4c3b71339",
    "export-north_america-s0": "8d0ccedbe225d17b2998d3f6ca31be2220c5cfc96714d1d8e00a59ad724f3eea",
    "probe-north_america-s0-landcover-r0": "080c62b115c532870243339d1c8e800047787e01337a020d409d31b5196f3481",
    "probe-north_america-s0-landcover-r1": "7e45b4beac7f1f628e1c49800261bedffc2dd137c350189a4f480c8404a0f9bf",
    "compose-oceania": "858b3d2aa66cd8b64c3d3c99d559da11161b1cfe5b7010b9355ced56f3d0fc05",
    "diversity-oceania": "e652651abbab9d456f6898ba3f9611c5ec283623f8ca75fba967fb306b0186b2",
    "pretrain-oceania-s0": "bdb46153ff4dbc9469c48ba400f8d4bb13ff08993f6dd1fe6ab3af2cc1824d2d",
    "export-oceania-s0": "ba0b2e41fe2558d94a85b9adfce166e84edf7a0d50cc43f7449c1964be5a4313",
    "probe-oceania-s0-landcover-r0": "e83cd3af99c6a287fde7bf49ea1bf893332cddf5cbde45433237b6be18e81f88",
    "probe-oceania-s0-landcover-r1": "c277c72802f05d9d10fca26c30756f533fe5367742f1302b8c0f31b0264bf66c",
    "compose-south_america": "7eb2897cd978e73d56e89090b8efbc77ed7de045bf66fdc092dd3f2bcde3383e",
    "diversity-south_america": "2688be8c9a91ff08a7ade7424bfbcb834514e9e462aa3d2a1e0974e8dc8172fb",
    "pretrain-south_america-s0": "99c6350e03ac171d1967ddf4f68a9158f70b4f804428575cfe20e45bf39b8a36",
    "export-south_america-s0": "d58a84e4c2f7f14cfad716b40dc6292c287eb89566d202b8295f4e7ff5c2db62",
    "probe-south_america-s0-landcover-r0": "78d9426cc2313041f6f397f91a2d61c4c05264b654be909e250e3a41a3f75ed8",
    "probe-south_america-s0-landcover-r1": "452bdbb1824b8eabb13a9269bb2f89e300bf5fb0113f01778539e6f955f0fdb7",
    "compose-global": "0ab116c91bb788a8ea4515bc6dbc3a7117253fb66065527e294bdb5f0e7932bb",
    "diversity-global": "c6fdd3fbcf542feb972f0ae592bda39040c33dbba3e5bffacd08856de77e4869",
    "pretrain-global-s0": "9c1692a3c1402637bb1ae1a34d17ad52828ff712035f5dd3e91867cb6461f49f",
    "export-global-s0": "5abe4d32757e00f37566244c1ff6ac175d8ff800e61e1b66d42aa453389ee1f1",
    "probe-global-s0-landcover-r0": "17b88d938665dd41a1a862ae9d8146ef2138f139779956962a008de677f26bce",
    "probe-global-s0-landcover-r1": "e135836e1ae97d909ac79c88ab84597637a77cd095446fb484cdecc78b3967d4",
    "export-no_pretraining-s0": "c5c6c3986d938aeaf13d8d4b51d494b81e4dd77c9e8e491494ff276898515aa2",
    "probe-no_pretraining-s0-landcover-r0": "7ac26f5f13e859d8ed2f2ad8e7b116399ae473ec8aa61cfd9a11f1ad39b4f4a6",
    "probe-no_pretraining-s0-landcover-r1": "16429f66a65d2c826b89eb50b8b23352b584002c1a1e90a3ff3669d5162e5206",
    "collect": "db6d655b0712ac7f701a5a045c9963094d10dfb8bc4a32d687a2f49a5fb50d66",
}


def test_demo_study_keeps_its_identity_and_step_hashes(tmp_path: Path) -> None:
    study = load_study(CONFIGS / "demo.yaml", output_dir=str(tmp_path / "demo"))
    assert study.output_dir == str(tmp_path / "demo")
    assert study.identity() == IDENTITY
    assert {s.id: s.hash for s in build_steps(study)} == STEPS
    assert [s.id for s in build_steps(study)] == list(STEPS)


def test_demo_study_values(tmp_path: Path) -> None:
    study = load_study(CONFIGS / "demo.yaml")
    assert study.output_dir == "demo_output/study"
    assert study.compositions[0] == CompositionEntry("africa", "africa")
    assert all(isinstance(c, CompositionEntry) for c in study.compositions)
    assert study.seeds == (0,)
    assert (study.budget, study.selection_seed, study.baseline) == (60, 0, True)
    assert study.on_shortfall == "error"
    assert study.export == {"global_pool": True}
    assert study.diversity == DiversitySettings(bins=32, value_range=(0.0, 1.0))
    (landcover,) = study.downstream
    assert isinstance(landcover, DownstreamEval)
    assert (landcover.name, landcover.repeats, landcover.seed) == ("landcover", 2, 0)
    assert set(landcover.config) == {"data", "model", "trainer"}
    assert study.pool["init_args"]["num_chips"] == 600
    assert study.pretrain["data"]["init_args"]["normalization"] == "satmae"


def test_printed_config_reads_back_to_the_same_study(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--config", str(CONFIGS / "demo.yaml"), "--print_config"])
    assert exc.value.code == 0
    printed = tmp_path / "printed.yaml"
    printed.write_text(capsys.readouterr().out)
    assert "compositions:\n- africa\n" in printed.read_text()
    out = tmp_path / "out"
    assert main(["--config", str(printed), "--plan", "--output-dir", str(out)]) == 0
    assert json.loads((out / "study.json").read_text())["identity"] == IDENTITY


def test_help_lists_the_study_keys(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for option in ("--compositions", "--budget", "--diversity.bins", "--max-steps"):
        assert option in out


def test_shipped_study_configs_parse(tmp_path: Path) -> None:
    for name in ("demo.yaml", "pretrain_where.yaml"):
        raw = yaml.safe_load((CONFIGS / name).read_text())
        study = load_study(CONFIGS / name, output_dir=str(tmp_path / name))
        steps = build_steps(study)
        assert steps[-1].kind == "collect"
        assert len(study.compositions) == len(raw["compositions"])
    where = load_study(CONFIGS / "pretrain_where.yaml", output_dir=str(tmp_path / "w"))
    assert [c.name for c in where.compositions] == [
        "africa",
        "asia",
        "europe",
        "north_america",
        "oceania",
        "south_america",
        "global",
    ]
    assert where.budget == 700_000


def _edit(edit: Callable[[dict[str, Any]], None], tmp_path: Path) -> dict[str, Any]:
    config = tiny_study(tmp_path)
    edit(config)
    return config


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda c: c["compositions"].append("atlantis"),
            "unknown composition 'atlantis'; valid presets are ['africa'",
        ),
        (lambda c: c["compositions"].append("Europe"), "duplicate composition name"),
        (
            lambda c: c["downstream"].append(copy.deepcopy(c["downstream"][0])),
            "duplicate downstream name 'landcover'",
        ),
        (
            lambda c: c["downstream"][0].pop("data"),
            "downstream 'landcover' has no 'data'",
        ),
        (
            lambda c: c["downstream"][0]["data"].update(class_path="NoSuchDataModule"),
            "downstream 'landcover' config is invalid",
        ),
        (
            lambda c: c["compositions"].append({"composition": {"europe": 1}}),
            "give it a 'name'",
        ),
        (
            lambda c: c["downstream"][0]["model"]["init_args"]["backbones"][0].update(
                checkpoint=None
            ),
            "never uses the pretrained encoder",
        ),
        (lambda c: c.update(budget=0), "budget must be > 0, got 0"),
        (
            lambda c: c.update(colour="red"),
            "'colour' is not accepted; valid study keys are ['name', 'output_dir'",
        ),
        (
            lambda c: c["diversity"].update(colour="red"),
            "'colour'; valid diversity keys are ['bins'",
        ),
        (lambda c: c.update(on_shortfall="ignore"), "on_shortfall"),
        (
            lambda c: c["pretrain"]["model"]["init_args"].update(no_such_arg=1),
            "pretrain config is invalid",
        ),
        (
            lambda c: c.update(diversity={"measures": ["spectral_entropy", "nope"]}),
            "diversity.measures[1]: unknown diversity measure 'nope'; registered "
            "measures are ['spectral_entropy'",
        ),
        (
            lambda c: c.update(
                diversity={"measures": ["spectral_entropy", "SpectralEntropy"]}
            ),
            "two measures named 'spectral_entropy'",
        ),
        (
            lambda c: c.update(diversity={"bins": 8, "measures": ["spectral_entropy"]}),
            "diversity.bins and diversity.value_range configure the default measure",
        ),
        (
            lambda c: c.update(
                diversity={
                    "measures": [
                        {"class_path": "SpectralEntropy", "init_args": {"bins": 1}}
                    ]
                }
            ),
            "diversity.measures[0]: ",
        ),
        (
            lambda c: c.update(baseline=True, compositions=["asia", "no_pretraining"]),
            "unknown composition 'no_pretraining'",
        ),
        (
            lambda c: c.update(
                baseline=True,
                compositions=[{"name": "no_pretraining", "composition": "asia"}],
            ),
            "composition name 'no_pretraining' is taken by the baseline",
        ),
    ],
)
def test_bad_study_config(
    edit: Callable[[dict[str, Any]], None],
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = write_study(tmp_path / "study.yaml", _edit(edit, tmp_path))
    assert main(["--config", str(path), "--plan"]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("error:") == 1
    assert err.count("\n") == 1  # one line
    assert not (tmp_path / "study").exists()  # nothing written


def test_malformed_or_missing_config_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(tmp_path / "nope.yaml")]) == 2
    assert "does not exist" in capsys.readouterr().err
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [demo\nbudget: 3\n")
    assert main(["--config", str(broken)]) == 2
    err = capsys.readouterr().err
    assert "error: " in err and err.count("\n") == 1
    assert "line 1" in err
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_study(tmp_path / "nope.yaml")


def test_measures_enter_the_hashes_only_when_given(tmp_path: Path) -> None:
    assert "measures" not in DiversitySettings().to_dict()
    config = tiny_study(tmp_path)
    default = {s.id: s.hash for s in build_steps(parse_study(config))}
    config["diversity"]["measures"] = None  # the default, said explicitly
    assert {s.id: s.hash for s in build_steps(parse_study(config))} == default
    config["diversity"] = {"batch_size": 16, "measures": ["spectral_entropy"]}
    study = parse_study(config)
    assert study.diversity.measures == ("spectral_entropy",)
    assert tuple(study.diversity.to_dict()["measures"]) == ("spectral_entropy",)
    changed = {s.id: s.hash for s in build_steps(study)}
    assert changed["compose-europe"] == default["compose-europe"]
    assert changed["pretrain-europe-s0"] == default["pretrain-europe-s0"]
    assert changed["diversity-europe"] != default["diversity-europe"]
    assert changed["collect"] != default["collect"]
