"""The command contract (drumtx/cli.py): every command is a console script, answers --version,
exits 0 done / 1 some inputs failed / 2 bad usage or setup, with one-line errors; the Hydra
commands' --help lists their real config groups and no data table."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
import tomllib

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

import drumtx
from drumtx import CONF_DIR, PROJECT_ROOT
from drumtx.cli import group_options

SCRIPTS = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]["scripts"]
# console script -> the entry config of the Hydra commands (the rest are argparse commands)
HYDRA = {
    "drumtx-train": "train",
    "drumtx-evaluate": "evaluate",
    "drumtx-tune-thresholds": "tune_thresholds",
    "drumtx-prepare": "prepare",
    "drumtx-stats": "stats",
    "drumtx-synth": "synth",
    "drumtx-synth-bench": "synth",
}
VERSION = f"drumtx {drumtx.__version__}"


def entry(script: str):
    module, _, attr = SCRIPTS[script].partition(":")
    return getattr(importlib.import_module(module), attr)


@pytest.fixture(autouse=True)
def _fresh_hydra():
    GlobalHydra.instance().clear()
    yield
    GlobalHydra.instance().clear()


def command_modules() -> set[str]:
    """Modules that run as ``python -m``: a ``__main__`` guard, or a package's ``__main__.py``."""
    found = set()
    for path in (PROJECT_ROOT / "drumtx").rglob("*.py"):
        if "plugins" in path.parts:
            continue
        rel = path.relative_to(PROJECT_ROOT).with_suffix("")
        if path.name == "__main__.py" or re.search(r'(?m)^if __name__ == "__main__":', path.read_text()):
            found.add(".".join(rel.parts))
    return found


def test_every_command_module_is_a_console_script():
    targets = {value.partition(":")[0] for value in SCRIPTS.values()}
    assert command_modules() == targets
    assert all(name.startswith("drumtx-") for name in SCRIPTS)


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_version(script, monkeypatch, capsys):
    main = entry(script)
    assert callable(main)
    monkeypatch.setattr(sys, "argv", [script, "--version"])
    if script in HYDRA:
        assert main() is None  # console scripts do sys.exit(main()): None is status 0
    else:
        with pytest.raises(SystemExit) as exc:
            main(["--version"])
        assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == VERSION


@pytest.mark.parametrize(
    ("override", "message"),
    [
        # a mistyped key names the closest (a new-user trial: Hydra's "To append to your config
        # use +loss.crsh=0.6" sent users the wrong way)
        ("loss.crsh=0.6", "drumtx.train: bad config: Could not override 'loss.crsh' (Key 'crsh' is not in struct) "
                          "(did you mean loss.crash?)"),
        ("los.crash=0.6", "drumtx.train: bad config: Could not override 'los.crash' (Key 'los' is not in struct) "
                          "(did you mean loss?)"),
        ("zzzz=1", "drumtx.train: bad config: Could not override 'zzzz'. To append to your config use +zzzz=1"),
        # a real setting the yaml leaves out: the '+' is the way (a new-user trial: it was told
        # "did you mean …clip_prob?")
        ("data=synth_songs data.synth.production.cymbal_kit_prob=0.5",
         "drumtx.train: bad config: Could not override 'data.synth.production.cymbal_kit_prob' (Key 'cymbal_kit_prob' "
         "is not in struct) (data.synth.production.cymbal_kit_prob is a setting this config leaves at its default: "
         "add it with a '+', +data.synth.production.cymbal_kit_prob=…)"),
        ("data=synth_songs data.synth.production.cymbal_kit_prb=0.5", "drumtx.train: bad config: Could not override "
         "'data.synth.production.cymbal_kit_prb' (Key 'cymbal_kit_prb' is not in struct) (did you mean "
         "+data.synth.production.cymbal_kit_prob?)"),
        # a setting of a block the recipe does not have (a new-user trial: the '+' Hydra proposed
        # then failed on the recipe's older variety chain)
        ("data=synth_default data.synth.production.cymbal_ring_prob=0.5", "drumtx.train: bad config: Could not "
         "override 'data.synth.production.cymbal_ring_prob' (Key 'production' is not in struct) (this recipe has no "
         "data.synth.production block: choose a data option that has one, e.g. data=synth_songs)"),
        ("branches=fivebranch", "drumtx.train: bad config: In 'train': Could not find 'branches/fivebranch'"),
        # the closest option last (a new-user trial: Hydra lists them all, unordered by likeness)
        ("data=synth_defualt", "drumtx.train: bad config: In 'train': Could not find 'data/synth_defualt' Available "
         "options in 'data': base egmd"),
        # a name-keyed map's key (Hydra proposed +loss.shared_weights.kck, which the schema then refused)
        ("loss.shared_weights.kck=kick", "drumtx.train: bad config: Could not override 'loss.shared_weights.kck' "
         "(Key 'kck' is not in struct) (did you mean +loss.shared_weights.kick?)"),
        # a key under a wildcard section is no missing block (a review: branches.heads.* was taken for one)
        ("branches.heads.kick.hiden=[64]", "drumtx.train: bad config: Could not override 'branches.heads.kick.hiden' "
         "(Key 'hiden' is not in struct) (did you mean branches.heads.kick.hidden?)"),
    ],
)
def test_hydra_config_error_is_one_line_and_status_2(override, message, monkeypatch, capsys):
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    monkeypatch.setattr(sys, "argv", ["drumtx-train", *override.split(), "--cfg", "job"])
    with pytest.raises(SystemExit) as exc:
        entry("drumtx-train")()
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(message), err
    if "synth_defualt" in override:
        assert err[0].endswith(" (did you mean data=synth_default?)"), err
    assert "HYDRA_FULL_ERROR" not in __import__("os").environ  # restored, not leaked to the command


def test_a_search_space_given_under_hydra_sweeper_params_says_the_form_that_works(monkeypatch, capsys):
    """A new user's trial: Hydra's own "Sweeping over Hydra's configuration is not supported"."""
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    monkeypatch.setattr(sys, "argv", ["drumtx-train", "-m", "hydra.sweeper.params.loss.crash=interval(0.1,0.5)"])
    with pytest.raises(SystemExit) as exc:
        entry("drumtx-train")()
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].endswith("(to search loss.crash, give it as 'loss.crash=interval(0.1,0.5)' with -m)")


def test_cfg_job_prints_a_required_key_unset(monkeypatch, capsys):
    """Review: the check behind --cfg job refused tune_thresholds' required ckpt, which the
    printout shows as ??? (its --help: --cfg job prints every key you can set)."""
    monkeypatch.setattr(sys, "argv", ["drumtx-tune-thresholds", "--cfg", "job"])
    assert entry("drumtx-tune-thresholds")() is None
    assert "ckpt: ???" in capsys.readouterr().out


def test_hydra_cfg_job_returns_none(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["drumtx-train", "loss.crash=0.6", "--cfg", "job"])
    assert entry("drumtx-train")() is None
    assert "crash: 0.6" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("script", "override", "message"),
    [
        ("drumtx-train", "trainer.max_steps=-5", "drumtx.train: trainer.max_steps=-5: expected an integer >= -1"),
        ("drumtx-train", "loss.crash=abc", "drumtx.train: loss.crash='abc': expected a finite number"),
        ("drumtx-train", "data=base", "drumtx.train: data=base: an abstract base"),
        ("drumtx-prepare", "num_workers=-2", "drumtx.prepare: num_workers=-2: expected"),
    ],
)
@pytest.mark.parametrize("flag", ["job", "all"])
def test_hydra_cfg_print_checks_the_config_first(script, override, message, flag, monkeypatch, capsys):
    """``--cfg job`` previews the config the command would run: a value the command refuses is
    refused here too (one line, exit 2), not printed as if it were fine."""
    monkeypatch.setattr(sys, "argv", [script, override, "--cfg", flag])
    with pytest.raises(SystemExit) as exc:
        entry(script)()
    assert exc.value.code == 2
    out = capsys.readouterr()
    err = out.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(message), err
    assert out.out == ""


def test_hydra_command_under_python_m_keeps_its_job_name(tmp_path):
    """``python -m drumtx.prepare`` runs the module as __main__: Hydra still names the job
    ``prepare`` (its log file), and --version is drumtx's, not Hydra's."""
    run = [sys.executable, "-m", "drumtx.prepare"]
    out = subprocess.run([*run, "--cfg", "hydra"], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr
    assert re.search(r"(?m)^\s+name: prepare$", out.stdout)
    out = subprocess.run([*run, "--version"], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert (out.returncode, out.stdout.strip()) == (0, VERSION)


@pytest.mark.parametrize(
    ("script", "args", "message"),
    [
        (
            "drumtx-prepare",
            ["data=egmd", "data.root=/nonexistent"],
            "drumtx.prepare: /nonexistent: dataset root missing",
        ),
        (
            "drumtx-tune-thresholds",
            ["ckpt=/nonexistent.safetensors"],
            "drumtx.tune_thresholds: /nonexistent.safetensors",
        ),
    ],
)
def test_setup_errors_exit_2_with_one_line(script, args, message, tmp_path, monkeypatch, capsys):
    """A missing dataset (prepare) or checkpoint (tune_thresholds): status 2, one line (was 1 with a
    traceback, and 1 with a log line)."""
    quiet = ["hydra/job_logging=none", "hydra/hydra_logging=none", f"hydra.run.dir={tmp_path}"]
    monkeypatch.setattr(sys, "argv", [script, *args, *quiet])
    with pytest.raises(SystemExit) as exc:
        entry(script)()
    err = capsys.readouterr().err
    assert exc.value.code == 2, err[-2000:]
    assert err.strip().splitlines()[-1].startswith(message) and "Traceback" not in err, err[-2000:]


def test_argparse_commands_exit_2_on_bad_setup(tmp_path, capsys):
    from drumtx.evaluation.compare import main as compare
    from drumtx.synth.kits.__main__ import main as kits

    assert kits(["--kits-dir", str(tmp_path)]) == 2  # no maps.yaml there
    assert compare([str(tmp_path / "none"), str(tmp_path / "none"), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0] == f"drumtx.synth.kits: {tmp_path / 'maps.yaml'}: kit note maps missing"
    assert len(err) == 2 and err[1].startswith("drumtx.evaluation.compare: ")


def help_groups(config_name: str) -> dict[str, str]:
    """``group: options`` lines of the command's --help, as Hydra renders the template."""
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name=config_name, return_hydra_config=True)
    text = cfg.hydra.help.template
    block = text.split("== Config groups (group=option) ==\n", 1)[1].split("\n\n", 1)[0]
    return dict(m.groups() for line in block.splitlines() if (m := re.match(r"  (\w+):\s+(.*)$", line)))


@pytest.mark.parametrize("config_name", sorted(set(HYDRA.values())))
def test_help_lists_the_real_config_groups(config_name):
    defaults = OmegaConf.load(CONF_DIR / f"{config_name}.yaml").defaults
    groups = {
        next(iter(d))
        for d in defaults
        if OmegaConf.is_dict(d) and next(iter(d)) != "hydra" and not next(iter(d)).startswith("override ")
    }
    listed = help_groups(config_name)
    assert set(listed) == groups
    for group, line in listed.items():
        assert line.startswith(group_options(group)), (group, line)
    # kits/ and label_maps/ are data tables read by the code, not groups to choose from
    assert (CONF_DIR / "kits").is_dir() and (CONF_DIR / "label_maps").is_dir()
    assert not {"kits", "label_maps"} & set(listed)


def test_group_options_reads_the_folder():
    assert group_options("branches") == "five_branch, flat"
    assert "default_model" in group_options("experiment")  # the checkout's experiments/experiment/
    assert group_options("no_such_group") == "(none here)"


def test_help_runs(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "drumtx.synth", "--help"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("drumtx-synth (python -m drumtx.synth): render a synthetic E-GMD folder")
    assert f"  data:  {group_options('data')}" in out.stdout and "kits:" not in out.stdout


def test_some_inputs_failed_is_status_1(tmp_path, monkeypatch, capsys):
    """Tracks left out of an evaluation, or not rendered by synth: the rest is done, status 1."""
    import drumtx.evaluate
    import drumtx.synth.dataset

    monkeypatch.setattr(
        drumtx.evaluate, "run", lambda cfg: {"problems": ["a.wav: broken"], "out_dir": tmp_path}
    )
    with pytest.raises(SystemExit) as exc:
        entry("drumtx-evaluate")(OmegaConf.create({}))
    assert exc.value.code == 1
    assert (
        capsys.readouterr().err.strip()
        == f"drumtx.evaluate: 1 track(s) left out, listed in {tmp_path}/report.md"
    )

    # of the tracks this run tried (3 rendered, 2 failed), not of the 20 planned
    monkeypatch.setattr(drumtx.synth.dataset, "build_dataset", lambda *a, **k: {"failed": 2, "rendered": 3, "planned": 20})
    cfg = OmegaConf.create({"data": {}, "workers": 1, "overwrite": False, "progress": False, "limit": None, "splits": None})
    with pytest.raises(SystemExit) as exc:
        entry("drumtx-synth")(cfg)
    assert exc.value.code == 1
    assert (
        capsys.readouterr()
        .err.strip()
        .endswith("drumtx.synth: 2 of 5 tracks to render failed (logged above)")
    )
    monkeypatch.setattr(drumtx.synth.dataset, "build_dataset", lambda *a, **k: {"failed": 0, "rendered": 5, "planned": 5})
    assert entry("drumtx-synth")(cfg) == {"failed": 0, "rendered": 5, "planned": 5}


@pytest.mark.parametrize(
    ("script", "args", "key"),
    [
        ("drumtx-prepare", ["data=synth_default", "num_workers=abc"], "num_workers"),
        ("drumtx-stats", ["data=synth_default", "data.max_tracks=abc"], "data.max_tracks"),
        ("drumtx-evaluate", ["data.max_tracks=abc"], "data.max_tracks"),
        ("drumtx-evaluate", ["torch_threads=abc"], "torch_threads"),
        ("drumtx-evaluate", ["eval.window_s=abc"], "eval.window_s"),
        ("drumtx-tune-thresholds", ["n_trials=abc"], "n_trials"),
        ("drumtx-synth", ["workers=abc"], "workers"),
        ("drumtx-synth-bench", ["bench.tracks=0"], "bench.tracks"),
        ("drumtx-train", ["trainer.max_epochs=abc"], "trainer.max_epochs"),
    ],
)
def test_bad_config_value_is_one_line_and_status_2(script, args, key, tmp_path, monkeypatch, capsys):
    """Issues 17 and 20: a bad value crashed every command but train with a traceback (exit 1),
    often naming no key; now each checks its config first: ``<command>: <key>=<value>: expected …``."""
    quiet = ["hydra/job_logging=none", "hydra/hydra_logging=none", f"hydra.run.dir={tmp_path}"]
    prog, err = _refused(script, [*args, *quiet], monkeypatch, capsys)
    assert len(err) == 1 and err[0].startswith(f"{prog}: {key}=") and ": expected " in err[0], err


def _refused(script: str, argv: list[str], monkeypatch, capsys) -> tuple[str, list[str]]:
    """Run ``script`` with ``argv``; it must exit 2 without a traceback: (its module name, stderr lines)."""
    monkeypatch.setattr(sys, "argv", [script, *argv])
    with pytest.raises(SystemExit) as exc:
        entry(script)()
    captured = capsys.readouterr()
    assert exc.value.code == 2, captured.err[-2000:]
    assert "Traceback" not in captured.err + captured.out
    return SCRIPTS[script].partition(":")[0].removesuffix(".__main__"), captured.err.strip().splitlines()


@pytest.mark.parametrize(
    ("script", "override", "message"),
    [
        ("drumtx-train", "+data.crop_secnds=2",
         "data.crop_secnds: not a setting of drumtx.data.datamodule.DrumDataModule (did you mean data.crop_seconds?)"),
        ("drumtx-evaluate", "+data.crop_secnds=2",
         "data.crop_secnds: not a setting of drumtx.data.datamodule.DrumDataModule (did you mean data.crop_seconds?)"),
        ("drumtx-evaluate", "+eval.window_ss=0.1",  # was a traceback after the model pass
         "eval.window_ss: not a setting of the eval section (did you mean eval.window_s?)"),
        ("drumtx-evaluate", "+inference.gate_dbb=-60",  # was ignored
         "inference.gate_dbb: not a setting of the inference section (did you mean inference.gate_db?)"),
        ("drumtx-tune-thresholds", "ckpt=drumtx/assets/default_model.safetensors +threshold.stpe=0.02",
         "threshold.stpe: not a setting of the threshold section (did you mean threshold.step?)"),
        # a new top-level key: no command reads it (ran with the default thread count)
        ("drumtx-train", "+torch_thread=2", "torch_thread: not a setting of this command (did you mean torch_threads?)"),
        ("drumtx-evaluate", "ckpt=x +zzzz=1", "zzzz: not a setting of this command (nothing in this command reads it)"),
        # a required key left out: was omegaconf's 16-line traceback, exit 1, a run folder left
        ("drumtx-tune-thresholds", "+data.crop_secnds=2", "ckpt: required, not given (add ckpt=…; see --help)"),
    ],
)
def test_an_added_key_nothing_reads_is_one_line_and_status_2(script, override, message, tmp_path, monkeypatch, capsys):
    """``+data.crop_secnds=2`` used to train on silently (the data module took ``**extra_config``)."""
    prog, err = _refused(script, [*override.split(), f"hydra.run.dir={tmp_path / 'run'}"], monkeypatch, capsys)
    assert err == [f"{prog}: {message}"], err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("script", ["drumtx-evaluate", "drumtx-train"])
def test_a_refused_run_leaves_no_run_folder_and_a_resumed_one_is_kept(script, tmp_path, monkeypatch, capsys):
    """A typo used to leave a dated run folder holding only .hydra/ and an empty log; a folder
    with a run's files in it (a resume into it with a typo) must keep them all, its .hydra/
    record included."""
    fresh, resumed = tmp_path / "outputs" / "2026-12-01_10-00-00", tmp_path / "run"
    (resumed / "checkpoints").mkdir(parents=True)
    (resumed / "checkpoints" / "last.ckpt").write_bytes(b"weights")
    (resumed / ".hydra").mkdir()
    record = {"config.yaml": b"seed: 7\n", "overrides.yaml": b"- seed=7\n"}  # the run's own config
    for name, data in record.items():
        (resumed / ".hydra" / name).write_bytes(data)
    bad = "torch_threads=abc" if script == "drumtx-evaluate" else "trainer.max_epochs=abc"
    for run_dir in (fresh, resumed):
        monkeypatch.setattr(sys, "argv", [script, bad, f"hydra.run.dir={run_dir}"])
        with pytest.raises(SystemExit) as exc:
            entry(script)()
        assert exc.value.code == 2
        capsys.readouterr()
    assert not fresh.exists() and not fresh.parent.exists()  # nor the task folder it was the only run of
    assert (resumed / "checkpoints" / "last.ckpt").read_bytes() == b"weights"
    # Hydra rewrote .hydra/ before the check refused the command: it is put back as it was
    assert {p.name: p.read_bytes() for p in (resumed / ".hydra").iterdir()} == record
    # and the job log Hydra started there for the refused command is not left behind
    assert sorted(p.name for p in resumed.iterdir()) == [".hydra", "checkpoints"]


def test_a_sweep_refused_before_its_first_job_leaves_no_sweep_folder(tmp_path, monkeypatch, capsys):
    """``-m loss.crahs=0.5,0.6``: Hydra's sweeper writes multirun.yaml before it composes a job,
    so the typo left a dated sweep folder with nothing run in it. A folder that was there keeps
    its own multirun.yaml (a sweep's record is not replaced by a refused one)."""
    fresh, kept = tmp_path / "multirun" / "train" / "2026-12-01_10-00-00", tmp_path / "sweep"
    kept.mkdir()
    (kept / "multirun.yaml").write_bytes(b"the earlier sweep\n")
    for sweep_dir in (fresh, kept):
        monkeypatch.setattr(sys, "argv", ["drumtx-train", "-m", "loss.crahs=0.5,0.6", f"hydra.sweep.dir={sweep_dir}"])
        with pytest.raises(SystemExit) as exc:
            entry("drumtx-train")()
        assert exc.value.code == 2
        assert "(did you mean loss.crash?)" in capsys.readouterr().err
    assert not (tmp_path / "multirun").exists()
    assert [p.name for p in kept.iterdir()] == ["multirun.yaml"]
    assert (kept / "multirun.yaml").read_bytes() == b"the earlier sweep\n"


@pytest.mark.parametrize("args, message", [
    (["-m", "loss.crash=0.5,0.6", "+paths.data_dri=/x"], "paths.data_dri: not a setting of the paths section (did you mean paths.data_dir?)"),
    (["-m", "+loss.crsh=0.5,0.6"], "loss.crsh: not a setting of drumtx.models.losses.DrumLoss (did you mean loss.crash?)"),
    (["-m", "loss.crash=0.5,0.6", "optimizer.lr=abc"], "optimizer.lr='abc': expected a finite number > 0"),
    (["-m", "hparams_search=loss_weights", "loss.crsh=interval(0.1,0.5)"], "(did you mean loss.crash?)"),
    (["hparams_search=loss_weights", "+paths.data_dri=/x"], "(did you mean paths.data_dir?)"),
])
def test_what_every_job_of_a_sweep_shares_is_checked_before_the_sweep_starts(tmp_path, monkeypatch, capsys, args, message):
    """A setting every job of a sweep shares (a ``+key`` typo, a bad value, a typo in a key the
    Optuna sweeper searches) is refused in one line before the sweeper makes its folder, writes
    over an existing sweep's record or opens its study: it was a traceback per job, a dated
    folder, and (Optuna) a failed or stuck trial the corrected command ran again."""
    kept = tmp_path / "sweep"
    kept.mkdir()
    (kept / "multirun.yaml").write_bytes(b"the earlier sweep\n")
    for sweep_dir in (tmp_path / "multirun" / "train" / "2026-12-01_10-00-00", kept):
        monkeypatch.setattr(sys, "argv", ["drumtx-train", *args, f"paths.sweep_dir={tmp_path}/multirun",
                                          f"hydra.sweep.dir={sweep_dir}"])
        with pytest.raises(SystemExit) as exc:
            entry("drumtx-train")()
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "multirun").exists()  # no sweep folder, no optuna.db
    assert [p.name for p in kept.iterdir()] == ["multirun.yaml"]
    assert (kept / "multirun.yaml").read_bytes() == b"the earlier sweep\n"


def test_a_sweep_whose_data_is_not_there_is_refused_before_it_starts(tmp_path, monkeypatch, capsys):
    """``make sweep`` before ``make data`` (a new user's try): a traceback per job (basic
    sweeper) or a failed trial in the shared Optuna study. Now one line, exit status 2, before
    the sweep starts; a sweep that varies the data is left to its jobs."""
    from omegaconf import OmegaConf

    from drumtx.train import _sweep_check

    for args in (["-m", "loss.crash=0.5,0.6"], ["hparams_search=loss_weights", "hydra.sweeper.n_trials=1"]):
        monkeypatch.setattr(sys, "argv", ["drumtx-train", *args, f"paths.data_dir={tmp_path}/data",
                                          f"paths.sweep_dir={tmp_path}/multirun", "data=synth_default"])
        with pytest.raises(SystemExit) as exc:
            entry("drumtx-train")()
        assert exc.value.code == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err == [f"drumtx.train: {tmp_path}/data/synth_default: not rendered yet; render it with "
                       "python -m drumtx.synth data=synth_default (or set data.root to a render)"]
    assert not (tmp_path / "multirun").exists()
    cfg = OmegaConf.create({"data": {"root": str(tmp_path / "none"), "name": "egmd"}})
    assert _sweep_check(cfg, {"loss.crash"}) == f"{tmp_path}/none: dataset root missing (set data.root)"
    assert _sweep_check(cfg, {"data", "loss.crash"}) is None and _sweep_check(cfg, {"data.root"}) is None
    # a config group swept may switch the data (experiment=… presets do): left to the jobs
    from hydra import compose, initialize_config_dir
    from hydra.core.hydra_config import HydraConfig

    from drumtx import CONF_DIR

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        composed = compose("train", overrides=[f"paths.data_dir={tmp_path}"], return_hydra_config=True)
    HydraConfig.instance().set_config(composed)
    assert _sweep_check(cfg, {"experiment"}) is None and _sweep_check(cfg, {"branches"}) is None
    assert _sweep_check(cfg, {"loss.crash"}) is not None
    # an error about a value the sweep varies is not the whole sweep's: the data's line comes up front
    monkeypatch.setattr(sys, "argv", ["drumtx-train", "-m", "loss.crash=-1,0.5", f"paths.data_dir={tmp_path}/data",
                                      f"paths.sweep_dir={tmp_path}/multirun", "data=synth_default"])
    with pytest.raises(SystemExit) as exc:
        entry("drumtx-train")()
    assert exc.value.code == 2 and "not rendered yet" in capsys.readouterr().err


def test_an_error_about_a_varied_key_is_left_to_the_jobs():
    from drumtx.cli import _names_a_varied_key

    assert _names_a_varied_key("loss.crash=-1: expected a finite number >= 0", {"loss.crash"})
    assert _names_a_varied_key("optimizer.lr=0.0: expected a finite number > 0", {"optimizer.lr", "seed"})
    assert _names_a_varied_key("loss.crash=[1]: expected a finite number >= 0", {"loss"})
    assert not _names_a_varied_key("loss.crsh: not a setting of drumtx.models.losses.DrumLoss", {"loss.crsh"})
    assert not _names_a_varied_key("optimizer.lr='abc': expected a finite number > 0", {"loss.crash"})
    assert not _names_a_varied_key("paths.data_dri: not a setting of the paths section", {"paths.data"})


@pytest.mark.parametrize("script, varied", [("drumtx-evaluate", "ckpt=x,y"), ("drumtx-tune-thresholds", "ckpt=x,y")])
def test_a_job_refused_inside_a_sweep_does_not_end_the_sweep(script, varied, tmp_path, monkeypatch, capsys):
    """evaluate and tune_thresholds exited the whole sweep at the first job's bad input (a
    checkpoint that is not there), so the next job never ran; as in train, the job fails alone."""
    sweep = tmp_path / "sweep"
    monkeypatch.setattr(sys, "argv", [script, "-m", varied, f"hydra.sweep.dir={sweep}"])
    with pytest.raises(SystemExit) as exc:
        entry(script)()
    err = capsys.readouterr().err
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == ["0", "1"]  # both jobs ran
    # each job's reason in one line as it fails (Hydra's basic sweeper showed the first job's alone,
    # as a traceback), then how many failed: status 1, some inputs failed
    prog = script.replace("drumtx-", "drumtx.").replace("-", "_")
    assert f"{prog}: job #0 (ckpt=x): " in err
    assert f"{prog}: job #1 (ckpt=y): " in err
    assert exc.value.code == 1 and err.rstrip().endswith(f"{prog}: 2 of 2 sweep jobs failed (each named above)")
    assert "Traceback" not in err and "Error executing job" not in err  # (Hydra's line for the first failed job)
    assert "job #1 (ckpt=y" in next((sweep / "1").glob("*.log")).read_text()  # and in the job's log


def test_a_training_sweep_whose_jobs_all_lack_data_ends_in_one_line_per_job(tmp_path, monkeypatch, capsys):
    """A sweep that varies the data is left to its jobs (no data check up front); where none has
    any, every job's reason is named and the sweep ends in one line, not Hydra's traceback."""
    sweep = tmp_path / "sweep"
    monkeypatch.setattr(sys, "argv", ["drumtx-train", "-m", f"data.root={tmp_path}/a,{tmp_path}/b", "logger=none",
                                      f"hydra.sweep.dir={sweep}"])
    with pytest.raises(SystemExit) as exc:
        entry("drumtx-train")()
    err = capsys.readouterr().err
    assert exc.value.code == 1 and "Traceback" not in err
    for n, name in enumerate("ab"):
        assert f"drumtx.train: job #{n} (data.root={tmp_path}/{name} logger=none): {tmp_path}/{name}: not rendered yet" in err
    assert "2 of 2 sweep jobs failed" in err


def test_a_bug_in_a_sweep_job_keeps_its_traceback(tmp_path, monkeypatch, capsys):
    """Only a job's bad input is one line: any other error is a bug, and its traceback is printed."""
    import drumtx.evaluate

    def broken(cfg):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(drumtx.evaluate, "run", broken)
    sweep = tmp_path / "sweep"
    monkeypatch.setattr(sys, "argv", ["drumtx-evaluate", "-m", "ckpt=x,y", f"hydra.sweep.dir={sweep}"])
    with pytest.raises(SystemExit) as exc:
        entry("drumtx-evaluate")()
    err = capsys.readouterr().err
    assert exc.value.code == 1 and err.count("Traceback") == 2 and err.count("ZeroDivisionError: a bug") == 2
    assert "drumtx.evaluate: 2 of 2 sweep jobs failed" in err


def test_a_setup_refusal_inside_the_command_leaves_no_run_folder_either(tmp_path, monkeypatch, capsys):
    """Refusals after the schema check (here tune_thresholds' unknown instrument) go through the
    same cli.fail: nothing done, no folder left."""
    from drumtx.checkpoint import PACKAGED_MODEL

    run_dir = tmp_path / "runs" / "2026-12-01_10-00-00"
    monkeypatch.setattr(sys, "argv", ["drumtx-tune-thresholds", f"ckpt={PACKAGED_MODEL}", "+min_precision.crsh=0.9",
                                      f"hydra.run.dir={run_dir}"])
    with pytest.raises(SystemExit) as exc:
        entry("drumtx-tune-thresholds")()
    assert exc.value.code == 2 and "['crsh'] not among" in capsys.readouterr().err
    assert not run_dir.exists() and not run_dir.parent.exists()


@pytest.mark.parametrize("config_name", sorted(set(HYDRA.values())))
def test_help_leaves_out_base_options(config_name):
    """conf/data/base.yaml is what the data options extend (required keys left ???), not one to run."""
    assert (CONF_DIR / "data" / "base.yaml").is_file()
    options = group_options("data").split(", ")
    assert "base" not in options and "synth_default" in options
    if "data" in help_groups(config_name):
        assert "base" not in help_groups(config_name)["data"].split(", ")


@pytest.mark.parametrize("script", ["drumtx-prepare", "drumtx-stats", "drumtx-evaluate", "drumtx-synth", "drumtx-train"])
def test_a_base_option_is_refused_with_one_line(script, tmp_path, monkeypatch, capsys):
    """data=base crashed with MissingMandatoryValue (exit 1)."""
    quiet = ["hydra/job_logging=none", "hydra/hydra_logging=none", f"hydra.run.dir={tmp_path}"]
    monkeypatch.setattr(sys, "argv", [script, "data=base", *quiet])
    with pytest.raises(SystemExit) as exc:
        entry(script)()
    err = capsys.readouterr().err.strip().splitlines()
    assert exc.value.code == 2
    prog = SCRIPTS[script].partition(":")[0].removesuffix(".__main__")
    assert len(err) == 1 and err[0].startswith(f"{prog}: data=base: an abstract base"), err
    assert "synth_default" in err[0]


@pytest.mark.parametrize("script", ["drumtx-synth", "drumtx-synth-bench"])
def test_synth_errors_are_one_line_on_stderr(script, tmp_path, monkeypatch, capsys):
    """synth and synth.bench logged their fatal errors to stdout with a timestamp; now one stderr line."""
    quiet = ["hydra/job_logging=none", "hydra/hydra_logging=none", f"hydra.run.dir={tmp_path}"]
    monkeypatch.setattr(sys, "argv", [script, f"data.synth.kits_dir={tmp_path}", f"data.root={tmp_path / 'd'}", *quiet])
    with pytest.raises(SystemExit) as exc:
        entry(script)()
    captured = capsys.readouterr()
    prog = SCRIPTS[script].partition(":")[0].removesuffix(".__main__")
    assert exc.value.code == 2
    assert captured.err.strip().splitlines() == [f"{prog}: {tmp_path / 'maps.yaml'}: kit note maps missing"]
    assert "maps.yaml" not in captured.out


@pytest.mark.parametrize("script", sorted(set(SCRIPTS) - set(HYDRA)))
def test_usage_names_the_command_as_it_was_run(script, monkeypatch, capsys):
    """Run as a console script, a command's usage says ``drumtx-x``; run with ``python -m``
    (argv[0] is then the module's file), ``python -m drumtx.x``."""
    module = SCRIPTS[script].partition(":")[0].removesuffix(".__main__")
    for argv0, name in ((f"/venv/bin/{script}", script), (f"/src/{module.replace('.', '/')}.py", f"python -m {module}")):
        monkeypatch.setattr(sys, "argv", [argv0, "--help"])
        with pytest.raises(SystemExit) as exc:
            entry(script)(["--help"])
        assert exc.value.code == 0
        assert capsys.readouterr().out.startswith(f"usage: {name} "), (script, argv0)


@pytest.mark.parametrize("script", sorted(set(SCRIPTS) - set(HYDRA)))
def test_a_usage_error_of_every_argparse_command_is_one_line_naming_its_module(script, monkeypatch, capsys):
    """The benchmarks and package_model printed argparse's usage block and a second line; every
    argparse command now answers as the README's contract says (drumtx.transcribe as it was run)."""
    module = SCRIPTS[script].partition(":")[0].removesuffix(".__main__")
    monkeypatch.setattr(sys, "argv", [f"/venv/bin/{script}", "--no-such-option"])
    with pytest.raises(SystemExit) as exc:
        entry(script)(["--no-such-option"])
    err = capsys.readouterr().err.strip().splitlines()
    assert exc.value.code == 2 and len(err) == 1, err
    assert err[0].startswith(f"{script}: error: " if module == "drumtx.transcribe" else f"{module}: "), err


def test_ctrl_c_in_a_plain_sweep_names_the_job_it_stopped(tmp_path, monkeypatch, capsys):
    """A new user's try: Ctrl-C in a plain -m sweep said only "interrupted"."""
    import drumtx.evaluate
    from drumtx.data.datasets import DatasetError

    calls = []

    def run(cfg):
        calls.append(1)
        if len(calls) == 1:
            raise DatasetError("no data here")
        raise KeyboardInterrupt

    monkeypatch.setattr(drumtx.evaluate, "run", run)
    monkeypatch.setattr(sys, "argv", ["drumtx-evaluate", "-m", "ckpt=x,y,z", f"hydra.sweep.dir={tmp_path / 's'}"])
    with pytest.raises(SystemExit) as exc:
        entry("drumtx-evaluate")()
    err = capsys.readouterr().err
    assert exc.value.code == 130 and len(calls) == 2
    assert err.strip().splitlines()[-1] == "drumtx.evaluate: interrupted in job #1 of the sweep; the 1 job(s) before " \
        "it ran to their end"
