"""``python -m drumtx.evaluate``'s setup and output folder, as a fresh user meets them.

A setup error (no data folder, an unknown split, kit or note map, a bad checkpoint, an output
path that is a file) is one line on stderr, status 2, and leaves no run folder behind; the kit
filters come before ``data.max_tracks``; ``out_dir`` is the run folder, and a report written
there replaces an earlier one as a whole; two models of one file name get distinct names.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
from pathlib import Path

import pytest
from conftest import FIXTURE_SPLITS, compose_config, save_tiny_bundle
from hydra.core.global_hydra import GlobalHydra

import drumtx.evaluate as ev
from drumtx import CONF_DIR
from drumtx.checkpoint import PACKAGED_MODEL

pytestmark = pytest.mark.usefixtures("one_torch_thread")

RUN_NAME = "2026-12-01_10-00-00"


@pytest.fixture(autouse=True)
def _fresh_hydra():
    GlobalHydra.instance().clear()
    yield
    GlobalHydra.instance().clear()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return save_tiny_bundle(tmp_path_factory.mktemp("tiny") / "tiny.safetensors")


def cli(monkeypatch, capsys, *args: str) -> tuple[int, list[str], str]:
    """Run ``drumtx-evaluate args`` in this process: (exit status, stderr lines, stdout). Hydra's
    job logging (console and ``evaluate.log``) is on, as from a shell, and taken off afterwards."""
    monkeypatch.setattr(sys, "argv", ["drumtx-evaluate", *args])
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    code = 0
    try:
        ev.main()
    except SystemExit as exc:
        code = exc.code
    finally:
        for h in [h for h in root.handlers if h not in handlers]:
            root.removeHandler(h)
            h.close()
        root.setLevel(level)
    captured = capsys.readouterr()
    return code, captured.err.strip().splitlines(), captured.out


def eval_config(tmp_path, egmd_fixture, *overrides):
    return compose_config("evaluate", [
        "data=egmd", f"data.root={egmd_fixture}", f"paths.root_dir={tmp_path}", f"paths.cache_dir={tmp_path / 'cache'}",
        f"out_dir={tmp_path / 'eval'}", "report.figures=false", *overrides,
    ])


@pytest.mark.parametrize("case", ["no data folder", "unknown note map", "unknown split", "no such kit", "no checkpoint",
                                  "not a checkpoint", "out_dir is a file", "out_dir under a file"])
def test_setup_errors_are_one_line_status_2_and_leave_no_run_folder(case, tmp_path, egmd_fixture, monkeypatch, capsys):
    """Issues 1-3 and 5: a missing data folder and an unknown note map were tracebacks (status 1),
    an out_dir that is a file failed only after the model had run, and every refused run left
    its dated run folder (.hydra/ and a log with lines) under outputs/evaluate/."""
    (tmp_path / "a.json").write_text("{}")
    (tmp_path / "afile").write_text("mine")
    args, expected = {
        "no data folder": (["data=egmd", f"data.root={tmp_path / 'none'}"], "dataset root missing"),
        "unknown note map": (["source=midi_folder", f"external.audio_dir={egmd_fixture}", "external.note_map=roland"],
                             "external.note_map=roland: unknown note map 'roland'; choose one of"),
        "unknown split": (["split=tst"], "split 'tst' has no tracks; splits there: ['test', 'train', 'validation'] "
                                          "(did you mean split=test?)"),
        "no such kit": (["kit_names=[nomatch*]"], "kit names there: ['Kit 1']"),
        "no checkpoint": ([f"ckpt={tmp_path / 'none.safetensors'}"], "no such checkpoint file"),
        "not a checkpoint": ([f"ckpt={tmp_path / 'a.json'}"], "not a model checkpoint"),
        "out_dir is a file": ([f"out_dir={tmp_path / 'afile'}"], f"{tmp_path / 'afile'}"),
        "out_dir under a file": ([f"out_dir={tmp_path / 'afile' / 'report'}"], f"{tmp_path / 'afile'}"),
    }[case]
    base = ["data=egmd", f"data.root={egmd_fixture}", f"paths.root_dir={tmp_path}", f"paths.cache_dir={tmp_path / 'cache'}",
            f"ckpt={PACKAGED_MODEL}", "torch_threads=1"]
    runs = tmp_path / "outputs" / "evaluate" / RUN_NAME
    run_dir = [] if case.startswith("out_dir") else [f"hydra.run.dir={runs}"]
    code, err, out = cli(monkeypatch, capsys, *base, *args, *run_dir)
    assert code == 2, err
    assert len(err) == 1 and err[0].startswith("drumtx.evaluate: ") and expected in err[0], err
    assert "Traceback" not in out
    assert not (tmp_path / "outputs").exists()  # nor outputs/evaluate/, made for it
    assert (tmp_path / "afile").read_text() == "mine"


def test_out_dir_that_is_a_file_is_refused_before_a_model_loads(tmp_path, egmd_fixture, monkeypatch):
    """Issue 3: the FileExistsError came only after the model had run over every track."""
    (tmp_path / "report").write_text("mine")
    monkeypatch.setattr(ev, "load_model", lambda *a, **k: pytest.fail("a model was loaded"))
    with pytest.raises(ev.EvaluationSetupError, match="a file is there, not a folder"):
        ev.run(eval_config(tmp_path, egmd_fixture, f"out_dir={tmp_path / 'report'}"))
    with pytest.raises(ev.EvaluationSetupError, match=f"{tmp_path / 'report'} is a file, not a folder"):
        ev.run(eval_config(tmp_path, egmd_fixture, f"out_dir={tmp_path / 'report' / 'sub'}"))


@pytest.mark.parametrize("kit", ["Kit 1", "Kit 2"])
def test_kit_filter_comes_before_max_tracks(kit, tmp_path, egmd_fixture, tiny):
    """Issue 4: data.max_tracks sampled the split first and the kit filter then kept what it could,
    here one kit's track or none (the validation split holds one track of each kit)."""
    result = ev.run(eval_config(tmp_path, egmd_fixture, f"ckpt={tiny}", "split=validation", "data.max_tracks=1",
                                f"kit_names=[{kit}]"))
    s = result["summary"]
    assert s["n_tracks"] == 1 and s["tracks"][0]["kit_name"] == kit
    facts = json.loads((tmp_path / "eval" / "metrics.json").read_text())["info"]["extra_facts"]
    assert facts["tracks selected"] == f"1 of 2 in split validation, kit_names=['{kit}']"


def test_an_unmatched_kit_lists_the_kits_of_the_whole_split(tmp_path, egmd_fixture, monkeypatch, caplog):
    """Issue 4: the kit names in the error were those of the data.max_tracks sample only."""
    monkeypatch.setattr(ev, "load_model", lambda *a, **k: pytest.fail("a model was loaded"))
    with pytest.raises(ev.EvaluationSetupError, match=r"kit names there: \['Kit 1', 'Kit 2'\]$"):
        ev.run(eval_config(tmp_path, egmd_fixture, "split=train", "data.max_tracks=1", "kit_names=[nomatch*]"))
    sel = ev.select_data_tracks(eval_config(tmp_path, egmd_fixture, "split=train", "data.max_tracks=1",
                                            "exclude_kit_names=[Kit 2]"))
    assert [t.meta["kit_name"] for t in sel.tracks] == ["Kit 1"]
    assert sel.facts["tracks selected"] == "1 of 4 in split train, exclude_kit_names=['Kit 2'], data.max_tracks=1 of the 3 that match"
    assert "matches no" not in caplog.text
    # a misspelt exclusion excluded nothing without a word: it is named (a warning: a recipe's
    # exclusion may have nothing to exclude on another data set)
    sel = ev.select_data_tracks(eval_config(tmp_path, egmd_fixture, "split=train", "exclude_kit_names=[Kit 3]"))
    assert len(sel.tracks) == 4
    assert "exclude_kit_names: 'Kit 3' matches no train track's kit, so excludes nothing" in caplog.text


def test_out_dir_is_the_run_folder(tmp_path, egmd_fixture, tiny, monkeypatch, capsys):
    """Issue 5: with out_dir set, a successful run also made an unused outputs/evaluate/<time>/
    (its .hydra/ and log): now out_dir is the run folder, and nothing is written elsewhere."""
    out = tmp_path / "report"
    code, err, stdout = cli(monkeypatch, capsys, "data=egmd", f"data.root={egmd_fixture}", f"paths.root_dir={tmp_path}",
                            f"paths.cache_dir={tmp_path / 'cache'}", f"ckpt={tiny}", "split=validation",
                            "report.figures=false", "torch_threads=1", f"out_dir={out}")
    assert code == 0, err
    assert {p.name for p in out.iterdir()} == {".hydra", "evaluate.log", "report.md", "metrics.json", "curves.json",
                                               "tracks.csv"}
    assert f"evaluating {tiny}" in (out / "evaluate.log").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "report"]
    assert f"report: {out / 'report.md'}" in stdout


def test_a_report_replaces_the_previous_one_as_a_whole(tmp_path, egmd_fixture, tiny, monkeypatch):
    """Issue 6: an existing out_dir kept an earlier run's files beside the new report (an old
    figures/pianoroll_3.png, a comparison the new run did not make); files the command did not
    write stay; a run that fails leaves the earlier report as it was."""
    out = tmp_path / "eval"
    for rel in ("figures/pianoroll_3.png", "compare/compare.md", "baseline/report.md", "report.md"):
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_text("old")
    (out / "notes.txt").write_text("mine")
    ev.run(eval_config(tmp_path, egmd_fixture, f"ckpt={tiny}", "split=validation"))
    assert {p.name for p in out.iterdir()} == {"notes.txt", "report.md", "metrics.json", "curves.json", "tracks.csv"}
    assert (out / "notes.txt").read_text() == "mine" and (out / "report.md").read_text() != "old"
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(ev, "write_comparison", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        ev.run(eval_config(tmp_path, egmd_fixture, f"ckpt={tiny}", f"compare_ckpt={tiny}", "split=validation"))
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no staging folder left


def test_a_killed_runs_staging_folders_go_with_the_next_run(tmp_path):
    """A ``kill -9`` during the report's swap left ``.evaluate-partial-*`` in out_dir for good."""
    import subprocess

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    left = [tmp_path / f".evaluate-partial-{dead.pid}-x1", tmp_path / f".evaluate-old-{dead.pid}-x2"]
    running = [tmp_path / f".evaluate-partial-{os.getpid()}-x3"]  # this process: a run in progress
    mine = [tmp_path / ".evaluate-notes-1-2", tmp_path / "figures"]
    for p in left + running + mine:
        (p / "sub").mkdir(parents=True)
    assert sorted(ev.remove_orphaned_stages(tmp_path)) == sorted(left)
    assert sorted(p for p in tmp_path.iterdir()) == sorted(running + mine)


def test_two_models_of_one_file_name_get_distinct_names(tmp_path, egmd_fixture, tiny):
    """Issue 7: compare_ckpt=.../v1/default_model.safetensors beside the packaged model labelled
    both "five_branch (default_model)"."""
    for folder in ("v1", "assets"):
        (tmp_path / folder).mkdir()
        for suffix in (".safetensors", ".json"):
            shutil.copy(tiny.with_suffix(suffix), tmp_path / folder / f"default_model{suffix}")
    result = ev.run(eval_config(tmp_path, egmd_fixture, f"ckpt={tmp_path / 'assets' / 'default_model.safetensors'}",
                                f"compare_ckpt={tmp_path / 'v1' / 'default_model.safetensors'}", "split=validation"))
    cmp = json.loads(Path(result["compare"]["json"]).read_text())
    assert (cmp["baseline"], cmp["candidate"]) == ("five_branch (v1/default_model)", "five_branch (assets/default_model)")
    assert json.loads((tmp_path / "eval" / "baseline" / "metrics.json").read_text())["info"]["model"] == cmp["baseline"]
    # the same file twice, and names given
    same = ev.run(eval_config(tmp_path, egmd_fixture, f"ckpt={tiny}", f"compare_ckpt={tiny}", "split=validation"))
    cmp = json.loads(Path(same["compare"]["json"]).read_text())
    assert (cmp["baseline"], cmp["candidate"]) == ("five_branch (tiny) [baseline]", "five_branch (tiny)")
    named = ev.run(eval_config(tmp_path, egmd_fixture, f"ckpt={tiny}", f"compare_ckpt={tiny}", "split=validation",
                               "name=new", "compare_name=old"))
    assert json.loads(Path(named["compare"]["json"]).read_text())["baseline"] == "old"
    help_text = (CONF_DIR / "hydra" / "help" / "evaluate.yaml").read_text()
    assert "name=TEXT" in help_text and "compare_name=TEXT" in help_text
    assert "name=" in ev.__doc__ and "compare_name=" in ev.__doc__


def test_ckpt_default_is_the_packaged_model(tmp_path, caplog):
    """A fresh user's trial: init_weights=default worked in train, ckpt=default was refused here."""
    cfg = compose_config("evaluate", [f"paths.root_dir={tmp_path}", "ckpt=default"])
    with caplog.at_level(logging.INFO, logger="drumtx.evaluate"):
        assert ev.resolve_checkpoint(cfg) == PACKAGED_MODEL


def test_the_default_checkpoint_is_said_once(tmp_path, capsys, caplog):
    """Issue 8: "no ckpt given ..." came twice (the log and stderr), with nested parentheses."""
    cfg = compose_config("evaluate", [f"paths.root_dir={tmp_path}"])
    with caplog.at_level(logging.INFO, logger="drumtx.evaluate"):
        assert ev.resolve_checkpoint(cfg) == PACKAGED_MODEL
    assert capsys.readouterr().err == ""
    lines = [r.getMessage() for r in caplog.records if "no ckpt given" in r.getMessage()]
    assert lines == [f"no ckpt given: evaluating {PACKAGED_MODEL}, the packaged default model; no best.safetensors "
                     f"under {tmp_path / 'outputs'} or {tmp_path / 'multirun'}"]


def test_fixture_splits_hold_what_these_tests_assume():
    assert len(FIXTURE_SPLITS["validation"]) == 2 and len(FIXTURE_SPLITS["test"]) == 1


def test_summary_line_of_a_report_with_nothing_to_score(capsys):
    """Music alone scored by a model that writes nothing: every score is undefined (None), and
    the console summary says so instead of failing on a format."""
    from drumtx.evaluate import _print_summary

    overall = {"micro": {"f_measure": None}, "macro_f1": None}
    _print_summary({"summary": {"n_tracks": 2, "levels": {"fine": {"overall": overall}}, "slice_level": "fine",
                                "tier1": {"kick": {"recall": None}}},
                    "model": {"report": "r/report.md"}})
    out = capsys.readouterr().out
    assert "2 tracks: onset F1 (fine, micro) –, macro –; tier-1 recall –" in out
