"""Every command shown in the docs, the README and the config headers runs as written.

The commands are extracted from the ``bash`` / ``sh`` / ``console`` code blocks of
``docs/*.md`` and ``README.md`` and from the header comments of ``configs/``. Each
one is run in-process in a scratch folder holding a copy of ``configs/`` whose
demo pool is shrunk (60 chips of 8 x 8 px instead of 600 of 32 x 32; budgets to 6
samples), so that the cheap commands (compose, diversity, study --plan, --help,
--version, the error examples) really run on the demo data in seconds:

* ``torchgeo-composition`` / ``torchgeo`` commands run as written, except those
  listed in :data:`PARSE_ONLY` (they need data users download, or train for
  long): those are parsed with ``--print_config`` (Lightning and jsonargparse
  commands) and their ``configs/`` files must exist. A ``study`` without
  ``--plan`` is planned (``--plan``) rather than run. A command followed by a
  ``# error: ...`` comment must fail with exactly that line.
* ``make TARGET`` is dry-run (``make -n``).
* ``python benchmarks/SCRIPT.py ...``: the script exists and takes every option.
* Installation commands (:data:`INSTALL`) are checked statically.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from torchgeo_composition.cli import COMMANDS, LIGHTNING_COMMANDS
from torchgeo_composition.cli import main as cli_main
from torchgeo_composition.commands.common import DEBUG_ENV

REPO = Path(__file__).parents[2]
PROGRAMS = ("torchgeo-composition", "torchgeo", "make", "python", "python3", "pip")
SHELL_BLOCKS = ("bash", "sh", "shell", "console")

#: Commands that are only parsed (``--print_config``), never run, and why.
#: Matched with ``re.search`` against the command as written.
PARSE_ONLY: list[tuple[str, str]] = [
    # pretraining runs: 50+ epochs on GPUs over hundreds of thousands of chips
    (r" fit --config configs/pretrain/", "long pretraining run on the user's chips"),
    (r" fit --config configs/quickstart\.yaml$", "trains for 30 epochs (make demo)"),
    (r" fit --config configs/quickstart\.yaml --ckpt_path", "resumes a 30-epoch run"),
    (r" fit --config configs/quickstart\.yaml\s+--config", "trains for 30 epochs"),
    # EuroSAT / LandCover.ai must be downloaded; backbones fetch pretrained weights
    (r" fit --config configs/(fusion|distill)/", "EuroSAT/LandCover.ai + weights"),
    (r" fit --config configs/probe/", "needs a pretrained checkpoint and EuroSAT"),
    (r" cka --config configs/fusion/", "EuroSAT download and pretrained weights"),
    # pools of real chips the user downloads (ChipFolder, SSL4EO-S12, Major TOM ...)
    (r" compose --config configs/compose/(?!demo_)", "a pool of real chips"),
    (r" compose --pool (?!SyntheticSentinel2Pool)", "a pool of real chips"),
    (r" pack --config configs/pack/(?!demo_)", "a pool of real chips + manifest"),
    (r" diversity --pool ChipFolder", "a folder of real chips and a biome layer"),
    (r" diversity --data torchgeo\.datamodules\.EuroSAT", "EuroSAT must be downloaded"),
    (r"^torchgeo fit --model torchgeo\.trainers\.MoCoTask", "a folder of real chips"),
    (r"^torchgeo fit --config configs/quickstart\.yaml", "trains for 30 epochs"),
]

#: Commands whose files are the user's own: only their repository paths are checked.
USER_FILES: list[tuple[str, str]] = [
    (r"^torchgeo fit --config my_config\.yaml$", "the user's own config file"),
]

#: Installation commands: checked statically (they change the environment).
INSTALL = (r"^python3? -m venv ", r"^(\.venv/bin/)?pip install ")

#: Extra arguments for commands whose demo pool is given on the command line
#: rather than in a config (the scratch pool is smaller than the demo's).
TINY_POOL_ARGS: list[tuple[str, list[str]]] = [
    (r"--pool SyntheticSentinel2Pool", ["--pool.num_chips=60", "--pool.size=8"]),
]

#: Classes whose instantiation a parsed-only command must still pass (cheap to
#: build, and a documented example once failed only at this point).
INSTANTIATE_MODEL = (r"MoCoTask",)

TINY = {"num_chips": 60, "size": 8}


@dataclass(frozen=True)
class Command:
    """A command shown in a file, with the error line shown after it (if any)."""

    where: str
    text: str
    error: str | None = None

    @property
    def argv(self) -> list[str]:
        """The command's words, without the ``.venv/bin/`` prefix."""
        words = shlex.split(self.text, comments=True)
        words[0] = words[0].removeprefix(".venv/bin/")
        return words


def _join(lines: list[tuple[int, str]]) -> Iterator[tuple[int, str, list[str]]]:
    """Join continued lines; yield (line number, command, comment lines after it)."""
    i = 0
    while i < len(lines):
        number, line = lines[i]
        parts = [line.rstrip()]
        while parts[-1].endswith("\\") and i + 1 < len(lines):
            i += 1
            parts[-1] = parts[-1][:-1].rstrip()
            parts.append(lines[i][1].strip())
        i += 1
        comments = []
        while i < len(lines) and lines[i][1].lstrip().startswith("#"):
            comments.append(lines[i][1].strip())
            i += 1
        yield number, " ".join(p for p in parts if p), comments


def _commands(where: str, lines: list[tuple[int, str]]) -> list[Command]:
    found = []
    for number, text, comments in _join(lines):
        words = shlex.split(text, comments=True)
        if not words or words[0].removeprefix(".venv/bin/") not in PROGRAMS:
            continue
        error = next(
            (c.lstrip("# ").strip() for c in comments if c.startswith("# error:")),
            None,
        )
        found.append(Command(f"{where}:{number}", text.strip(), error))
    return found


def _markdown_commands(path: Path) -> list[Command]:
    found: list[Command] = []
    where = str(path.relative_to(REPO))
    lang: str | None = None  # inside a code block: its language
    block: list[tuple[int, str]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip().startswith("```"):
            if lang is None:
                lang, block = line.strip()[3:].strip().lower(), []
            else:
                if lang in SHELL_BLOCKS:
                    found += _commands(where, block)
                lang = None
            continue
        if lang not in SHELL_BLOCKS:
            continue
        if lang != "console":
            block.append((number, line))
        elif line.startswith("$ "):  # a console block: prompts only
            block.append((number, line[2:]))
        elif block and block[-1][1].rstrip().endswith("\\"):
            block.append((number, line))
    return found


def _config_commands(path: Path) -> list[Command]:
    lines: list[tuple[int, str]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.startswith("#"):
            break
        body = line[1:].strip()
        if body.startswith(tuple(f"{p} " for p in PROGRAMS)) or (
            lines and lines[-1][1].endswith("\\")
        ):
            lines.append((number, body))
    return _commands(str(path.relative_to(REPO)), lines)


def all_commands() -> list[Command]:
    """Every command of ``docs/*.md``, ``README.md`` and the config headers."""
    found: list[Command] = []
    for path in [*sorted((REPO / "docs").glob("*.md")), REPO / "README.md"]:
        found += _markdown_commands(path)
    for path in sorted((REPO / "configs").rglob("*.yaml")):
        found += _config_commands(path)
    return found


COMMANDS_SHOWN = all_commands()


def _match(table: list[tuple[str, Any]], text: str) -> Any:
    return next((value for pattern, value in table if re.search(pattern, text)), None)


def _shrink(node: Any) -> Any:
    """The demo pool of a config, made tiny (and budgets that fit in it)."""
    if isinstance(node, dict):
        out = {k: _shrink(v) for k, v in node.items()}
        if str(out.get("class_path", "")).endswith("SyntheticSentinel2Pool"):
            out["init_args"] = {**out.get("init_args", {}), **TINY}
        if "composition" in out and isinstance(out.get("num_samples"), int):
            out["num_samples"] = min(out["num_samples"], 6)
        if "budget" in out:
            out["budget"] = min(int(out["budget"]), 6)
        if isinstance(out.get("crop_size"), int):
            out["crop_size"] = TINY["size"]
        if isinstance(out.get("img_size"), int):
            out["img_size"] = TINY["size"]
        return out
    if isinstance(node, list):
        return [_shrink(v) for v in node]
    return node


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the configs (demo pool shrunk) and the tiny demo pool."""
    from torchgeo_composition.datasets import SyntheticSentinel2Pool

    root = tmp_path_factory.mktemp("docs_commands")
    for path in (REPO / "configs").rglob("*.yaml"):
        target = root / path.relative_to(REPO)
        target.parent.mkdir(parents=True, exist_ok=True)
        text = path.read_text(encoding="utf-8")
        if "SyntheticSentinel2Pool" in text:
            text = yaml.safe_dump(_shrink(yaml.safe_load(text)), sort_keys=False)
        target.write_text(text, encoding="utf-8")
    SyntheticSentinel2Pool(root / "demo_output/pool", seed=0, **TINY)
    return root


@pytest.fixture(autouse=True)
def _no_debug(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DEBUG_ENV, "0")  # restored: a --debug example sets it


def _run(argv: list[str]) -> tuple[int, str, str]:
    """Run a ``torchgeo-composition`` or ``torchgeo`` command in this process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            if argv[0] == "torchgeo":
                from torchgeo.main import main as torchgeo_main

                torchgeo_main(argv[1:])
                code = 0
            else:
                code = cli_main(argv[1:])
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else int(bool(stop.code))
    return code, out.getvalue(), err.getvalue()


def _repository_paths(command: Command) -> None:
    """Every input file of the repository it names exists; no ``[--option]``."""
    assert "[--" not in command.text, f"{command.where}: [--option] is not runnable"
    for word in command.argv[1:]:
        value = word.split("=", 1)[-1]
        if re.match(r"(configs|benchmarks|docs|scripts|tests)/.*\.(ya?ml|py)$", value):
            assert (REPO / value).exists(), f"{command.where}: {value} does not exist"


def _check_benchmark(command: Command) -> None:
    words = command.argv
    script = REPO / words[1]
    assert script.is_file(), f"{command.where}: {words[1]} does not exist"
    source = script.read_text(encoding="utf-8")
    for word in words[2:]:
        if word.startswith("--"):
            option = word.split("=", 1)[0]
            assert f'"{option}"' in source, f"{command.where}: {words[1]} {option}?"
        elif word.endswith(".py"):
            assert (script.parent / word).is_file(), f"{command.where}: {word}?"
        elif (
            "/" in word
            and not word.startswith("/")
            and not (REPO / word).parent.is_dir()
        ):
            # an output file in a folder the script must create
            assert ".parent.mkdir(" in source, f"{command.where}: {word}'s folder?"


def _check_install(command: Command) -> None:
    if "pip" in command.argv[0]:
        pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
        for word in command.argv:
            extras = re.search(r"\[([\w,]+)\]", word)
            for extra in extras.group(1).split(",") if extras else []:
                assert re.search(rf"^{extra} = \[", pyproject, re.M), extra
        if "-c" in command.argv:
            constraints = command.argv[command.argv.index("-c") + 1]
            assert (REPO / constraints).is_file(), constraints


def test_the_docs_show_commands() -> None:
    texts = [c.text for c in COMMANDS_SHOWN]
    assert any(t.startswith("torchgeo-composition diversity") for t in texts)
    assert any(c.error for c in COMMANDS_SHOWN)
    assert any(c.where.startswith("configs/") for c in COMMANDS_SHOWN)


@pytest.mark.parametrize(
    "command", COMMANDS_SHOWN, ids=[c.where for c in COMMANDS_SHOWN]
)
def test_command_runs_as_written(
    command: Command, scratch: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _repository_paths(command)
    text = " ".join(command.argv)
    argv = command.argv
    program = argv[0]
    if any(re.search(p, text) for p in INSTALL):
        _check_install(command)
        return
    if program.startswith("python"):
        _check_benchmark(command)
        return
    if program == "make":
        if shutil.which("make") is None:
            pytest.skip("make is not installed")
        dry = subprocess.run(
            ["make", "-n", *argv[1:]], cwd=REPO, capture_output=True, text=True
        )
        assert dry.returncode == 0, f"{command.where}: {dry.stderr}"
        return
    if _match(USER_FILES, text):
        return
    parse_only = _match(PARSE_ONLY, text) is not None
    # parsed: the repository's configs; run: the scratch copies (tiny demo pool)
    monkeypatch.chdir(REPO if parse_only else scratch)
    if parse_only:
        argv = [*argv, "--print_config"]
    elif len(argv) > 1 and argv[1] == "study" and "--plan" not in argv:
        argv = [*argv, "--plan"]  # a study trains for minutes: plan it
    argv += _match(TINY_POOL_ARGS, text) or []
    code, out, err = _run(argv)
    lines = [line for line in err.splitlines() if line.strip()]
    if command.error is not None:
        assert code == 2, f"{command.where}: exit {code}\n{err}"
        assert lines[-1] == command.error, f"{command.where}: {err}"
        return
    if "--debug" in argv:
        assert code == 2 and "Traceback" in err, f"{command.where}: {err}"
        assert lines[-1].startswith("error: "), f"{command.where}: {err}"
        return
    assert code == 0, f"{command.where}: exit {code}\n{err}"
    assert not [line for line in lines if line.startswith("error:")], err
    if parse_only:
        config = yaml.safe_load(out)
        assert isinstance(config, dict), f"{command.where}: {out[:200]}"
        if any(re.search(p, text) for p in INSTANTIATE_MODEL):
            _instantiate_model(config)


def _instantiate_model(config: dict[str, Any]) -> None:
    """Build the model section of a printed Lightning config."""
    from jsonargparse import ArgumentParser

    from torchgeo_composition.compat import BaseTask

    parser = ArgumentParser(exit_on_error=False)
    parser.add_subclass_arguments(BaseTask, "model")
    cfg = parser.parse_object({"model": config["model"]})
    instantiate = getattr(parser, "instantiate", None) or parser.instantiate_classes
    assert isinstance(instantiate(cfg).model, BaseTask)


@pytest.mark.parametrize(
    "command", ["", *LIGHTNING_COMMANDS, *COMMANDS], ids=lambda c: c or "top"
)
def test_every_command_has_help(command: str) -> None:
    code, out, err = _run(
        ["torchgeo-composition", *[c for c in [command] if c], "--help"]
    )
    assert code == 0, err
    assert "usage:" in out.lower()
