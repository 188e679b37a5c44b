"""`pip install .` gives a package that works on its own: the wheel is built, installed into a fresh
environment and, outside the repository, its console scripts train, render, list kits and
transcribe (``make test-wheel``; a few minutes).

The fresh environment is a new venv with only the drumtx wheel installed (``--no-deps``). Its
dependencies (torch, Lightning, Hydra, ... several GB) come from the project's own ``.venv``
through a ``.pth`` file in the new venv's site-packages that names ``.venv``'s site-packages:
no download, no minutes of reinstalling. Why not ``venv --system-site-packages``: that exposes
the system interpreter's packages, and ours live in ``.venv``. A ``.pth`` line that is a plain
folder only appends that folder to ``sys.path`` (after the new venv's own site-packages) and does
not run ``.venv``'s own ``.pth`` files, so ``.venv``'s editable-install hook, which maps
``drumtx`` to this checkout, stays off: ``import drumtx`` finds the installed wheel, and the
test checks that it does.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest

from drumtx import PROJECT_ROOT, __version__

pytestmark = pytest.mark.slow

SCRIPTS = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]["scripts"]


def run(cmd: list[str], env: dict, cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    out = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, (
        f"{' '.join(map(str, cmd))} -> {out.returncode}\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}"
    )
    return out


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(venv bin folder, environment, working folder outside the repository)."""
    tmp = tmp_path_factory.mktemp("wheel")
    # Build from a copy of what the wheel is made of (pip writes build/ beside the sources):
    # drumtx/conf stays a symlink to ../conf, as in the repository.
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(PROJECT_ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("drumtx", "conf"):
        shutil.copytree(PROJECT_ROOT / name, src / name, symlinks=True, ignore=ignore)
    assert (src / "drumtx" / "conf").is_symlink()
    dist = tmp / "dist"
    # --no-build-isolation: setuptools from this environment, so no download is needed.
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(dist),
            str(src),
        ],
        dict(os.environ),
        tmp,
    )
    (wheel,) = dist.glob("drumtx-*.whl")

    names = set(zipfile.ZipFile(wheel).namelist())
    conf = {
        f"drumtx/conf/{p.relative_to(PROJECT_ROOT / 'conf')}" for p in (PROJECT_ROOT / "conf").rglob("*.yaml")
    }
    assert conf and conf <= names, sorted(conf - names)[
        :5
    ]  # every config, data tables and help texts included
    assert "drumtx/assets/default_model.safetensors" in names

    venv = tmp / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], dict(os.environ), tmp)
    py = venv / "bin" / "python"
    purelib = Path(
        subprocess.run(
            [py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(py),
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        dict(os.environ),
        tmp,
    )
    (purelib / "_drumtx_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "DRUMTX_HOME")}
    env.update(
        PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        VIRTUAL_ENV=str(venv),
        WANDB_MODE="offline",
        WANDB_SILENT="true",
        HYDRA_FULL_ERROR="1",
    )
    work = tmp / "work"  # the user's folder: outside the repository, no conf/ in sight
    work.mkdir()
    where = run([str(py), "-c", "import drumtx; print(drumtx.__file__); print(drumtx.CONF_DIR)"], env, work)
    module, conf_dir = where.stdout.split()
    assert Path(module).is_relative_to(venv) and Path(conf_dir) == Path(module).parent / "conf", where.stdout
    assert not Path(conf_dir).is_symlink() and (Path(conf_dir) / "kits" / "maps.yaml").is_file()
    return venv / "bin", env, work


def test_every_console_script_answers_version(installed):
    bin_dir, env, work = installed
    for script in sorted(SCRIPTS):
        out = run([str(bin_dir / script), "--version"], env, work, timeout=300)
        assert out.stdout.strip() == f"drumtx {__version__}", script


def test_config_help_and_kits_from_the_wheel(installed):
    bin_dir, env, work = installed
    out = run(
        [str(bin_dir / "drumtx-train"), "data=synth_default", "encoder=crnn", "--cfg", "job"], env, work
    )
    assert "_target_: drumtx.models.encoder.CRNNEncoder" in out.stdout and "name: synth_default" in out.stdout
    out = run([str(bin_dir / "drumtx-synth"), "--help"], env, work)
    assert out.stdout.startswith("drumtx-synth (python -m drumtx.synth)") and "synth_default" in out.stdout
    out = run([str(bin_dir / "python"), "-m", "drumtx.synth.kits"], env, work)
    assert "fluidr3_standard" in out.stdout
    assert out.stdout == run([str(bin_dir / "drumtx-synth-kits")], env, work).stdout
    # the data tables are read as data from the package: a label map by name, the kit tables
    code = (
        "from drumtx.evaluation.annotations import LabelMap, LABEL_MAP_DIR; from drumtx.synth.kits import KITS_DIR;"
        "LabelMap.load('mdb_drums'); print(LABEL_MAP_DIR); print(KITS_DIR)"
    )
    label_maps, kits = run([str(bin_dir / "python"), "-c", code], env, work).stdout.split()
    assert Path(label_maps).parent == Path(kits).parent and bin_dir.parent in Path(kits).parents


def test_render_train_and_transcribe_from_the_wheel(installed):
    """A tiny rendered set, a 2-step CPU training on it, and a transcription of one of its clips,
    all through the installed console scripts, in a folder outside the repository."""
    bin_dir, env, work = installed
    root = work / "data" / "tiny"
    run(
        [
            str(bin_dir / "drumtx-synth"),
            "data=synth_default",
            f"data.root={root}",
            "data.synth.sources.generated.n=10",
            "data.synth.sources.generated.seconds=[2,3]",
            "data.synth.train_kits=[fluidr3_standard]",
            "data.synth.test_kits=[timgm6mb_standard]",
            "workers=1",
            "progress=false",
        ],
        env,
        work,
    )
    with open(root / "e-gmd-v1.0.0.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["split"] for r in rows} >= {"train", "validation"}

    run_dir = work / "run"
    run(
        [
            str(bin_dir / "drumtx-train"),
            "data=synth_default",
            f"data.root={root}",
            "logger=csv",
            "trainer.max_epochs=1",
            "trainer.limit_train_batches=2",
            "trainer.num_sanity_val_steps=0",
            "trainer.enable_progress_bar=false",
            "data.batch_size=2",
            "data.num_workers=0",
            "data.prepare_workers=1",
            "torch_threads=1",
            f"hydra.run.dir={run_dir}",
        ],
        env,
        work,
        timeout=900,
    )
    assert (run_dir / "best.safetensors").is_file() and (run_dir / "checkpoints" / "last.ckpt").is_file()
    assert (work / "cache").is_dir()  # paths.root_dir is the working folder

    clip = root / next(r["audio_filename"] for r in rows if r["split"] == "test")
    out_dir = work / "transcriptions"
    run(
        [str(bin_dir / "drumtx-transcribe"), str(clip), "-o", str(out_dir), "--format", "midi,csv", "-q"],
        env,
        work,
    )
    assert sorted(p.suffix for p in out_dir.rglob("*") if p.is_file()) == [".csv", ".mid"]
