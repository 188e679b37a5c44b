"""`pip install drumtx` transcribes without the `train` extra, and a command that needs the extra
says so in one line (drumtx/extras.py, pyproject.toml). The commands run in a subprocess whose
imports of the extra's modules fail, as in an environment without them."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import soundfile as sf
from packaging.requirements import Requirement
from test_transcribe import render_groove

from drumtx import PROJECT_ROOT
from drumtx.extras import TRAIN_MODULES, missing_extra_message

PROJECT = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
RUNNER = '''import importlib.abc, runpy, sys
blocked = set(sys.argv[1].split(","))
class Blocked(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Blocked())
module, sys.argv = sys.argv[2], [sys.argv[2], *sys.argv[3:]]
runpy.run_module(module, run_name="__main__", alter_sys=True)
'''


def without_train_extra(tmp_path: Path, module: str, *args) -> subprocess.CompletedProcess:
    runner = tmp_path / "without_train_extra.py"
    runner.write_text(RUNNER)
    blocked = ",".join([*TRAIN_MODULES.values(), "pytorch_lightning"])
    return subprocess.run([sys.executable, str(runner), blocked, module, *map(str, args)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)


def test_the_train_extra_is_pyprojects_and_none_of_it_is_a_core_dependency():
    train = {Requirement(r).name for r in PROJECT["optional-dependencies"]["train"]}
    assert train == set(TRAIN_MODULES)
    core = {Requirement(r).name.lower() for r in PROJECT["dependencies"]}
    assert not core & {d.lower() for d in TRAIN_MODULES}
    assert {"torch", "numpy", "soundfile", "mido", "safetensors"} <= core


def test_transcription_needs_nothing_from_the_train_extra(tmp_path):
    audio, _ = render_groove(12.0, 44100)
    sf.write(tmp_path / "groove.wav", audio, 44100)
    r = without_train_extra(tmp_path, "drumtx.transcribe", "groove.wav", "-o", "out",
                            "--format", "midi,chart,csv,json", "--threads", "1")
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr and "drumtx[train]" not in r.stderr
    assert {p.name for p in (tmp_path / "out").iterdir()} >= {"groove.mid", "groove.csv", "groove.json", "groove"}


@pytest.mark.parametrize("command", [
    ["drumtx.train", "--help"],  # its own imports need the extra: the import hook
    ["drumtx.synth", "data=synth_default", "limit=1"],  # imports it lazily: checked before it starts
    ["drumtx.prepare", "data=synth_default"],
    ["drumtx.data.stats", "data=synth_default"],
])
def test_a_command_that_needs_the_train_extra_says_so_in_one_line(tmp_path, command):
    r = without_train_extra(tmp_path, *command)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{command[0]}: needs "), r.stderr
    assert "pip install 'drumtx[train]'" in lines[0]
    assert not (tmp_path / "outputs").exists() and not (tmp_path / "data").exists()  # nothing was started


@pytest.mark.parametrize("module", ["drumtx.train", "drumtx.synth"])
def test_a_command_answers_version_without_the_train_extra(tmp_path, module):
    r = without_train_extra(tmp_path, module, "--version")
    assert r.returncode == 0 and r.stdout.strip().startswith("drumtx ") and not r.stderr.strip(), r.stderr


def test_a_program_that_imports_drumtx_keeps_its_own_import_errors(tmp_path):
    (tmp_path / "user_script.py").write_text("import drumtx\nimport pandas\n")
    r = without_train_extra(tmp_path, "user_script")
    assert r.returncode == 1 and "Traceback" in r.stderr and "drumtx[train]" not in r.stderr
    # its --version is its own: drumtx's import hook does not answer it
    (tmp_path / "user_tool.py").write_text("import drumtx.train\n")
    r = without_train_extra(tmp_path, "user_tool", "--version")
    assert r.returncode == 2 and "drumtx[train]" in r.stderr and not r.stdout.strip(), r.stderr


def test_only_the_train_extras_modules_get_the_message():
    assert missing_extra_message(ModuleNotFoundError("x", name="numpy")) is None
    assert missing_extra_message(ValueError("fluidsynth")) is None
    assert "needs pyfluidsynth (module 'fluidsynth')" in missing_extra_message(
        ModuleNotFoundError("x", name="fluidsynth"))
    assert "needs lightning" in missing_extra_message(ModuleNotFoundError("x", name="pytorch_lightning.core"))


def test_the_console_script_is_named_by_its_module_as_every_other_error_line(monkeypatch):
    import types

    from drumtx import extras

    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))  # a console script: no __spec__
    monkeypatch.setattr(sys, "argv", ["/venv/bin/drumtx-train", "data=x"])
    assert extras._command() == "drumtx.train"
    monkeypatch.setattr(sys, "argv", ["/venv/bin/drumtx-synth"])
    assert extras.missing_extra_message(ModuleNotFoundError("x", name="lightning")).startswith("drumtx.synth: needs ")
    monkeypatch.setattr(sys, "argv", ["/home/me/my_tool.py"])
    assert extras._command() == "my_tool.py"
