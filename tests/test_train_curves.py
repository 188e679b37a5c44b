"""python -m drumtx.evaluation.train_curves: validation points of resumed runs, against time."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from drumtx import PROJECT_ROOT
from drumtx.evaluation.train_curves import CurveError, main, read_curve


def write_log(run: Path, version: int, rows: list[dict]) -> None:
    keys = ["epoch", "step", "train/loss_step", "time/train_seconds", "val/pr_auc_mean", "val/onset_f_mean"]
    d = run / "csv" / f"version_{version}"
    d.mkdir(parents=True)
    lines = [",".join(keys)] + [",".join(str(r.get(k, "")) for k in keys) for r in rows]
    (d / "metrics.csv").write_text("\n".join(lines) + "\n")


def test_resumed_versions_join_and_the_later_one_wins(tmp_path):
    run = tmp_path / "a"
    write_log(run, 0, [{"epoch": 0, "step": 5, "train/loss_step": 0.9},  # a training row: no point
                       {"epoch": 0, "step": 99, "time/train_seconds": 60, "val/pr_auc_mean": 0.1, "val/onset_f_mean": 0.0},
                       {"epoch": 1, "step": 199, "time/train_seconds": 120, "val/pr_auc_mean": 0.2}])
    # version_10 sorts after version_2 by number, not by name
    write_log(run, 10, [{"epoch": 1, "step": 199, "time/train_seconds": 125, "val/pr_auc_mean": 0.25},
                        {"epoch": 2, "step": 299, "time/train_seconds": 180, "val/pr_auc_mean": 0.3}])
    write_log(run, 2, [{"epoch": 1, "step": 199, "time/train_seconds": 121, "val/pr_auc_mean": 0.21}])
    curve = read_curve(run, ["val/pr_auc_mean", "val/onset_f_mean"])
    assert [p["step"] for p in curve] == [99, 199, 299]
    assert curve[1]["val/pr_auc_mean"] == 0.25 and curve[1]["time/train_seconds"] == 125
    assert "val/onset_f_mean" not in curve[2]
    out = tmp_path / "out"
    assert main(["-o", str(out), f"a={run}"]) == 0
    written = json.loads((out / "curves.json").read_text())
    assert written["x"] == "time/train_seconds" and len(written["curves"]["a"]) == 3
    assert "| a | 299 | 3.0 | 0.3000 |" in (out / "curves.md").read_text()
    assert (out / "curves.png").stat().st_size > 1000
    assert main(["-o", str(out), "--x", "step", f"a={run}"]) == 0
    assert json.loads((out / "curves.json").read_text())["x"] == "step"
    assert main(["-o", str(out), str(run)]) == 0  # a bare run folder is named after itself
    assert list(json.loads((out / "curves.json").read_text())["curves"]) == [run.name]


def test_a_run_without_logs_or_points_is_one_line_exit_2(tmp_path):
    with pytest.raises(CurveError, match="no csv"):
        read_curve(tmp_path, ["val/pr_auc_mean"])
    write_log(tmp_path / "b", 0, [{"epoch": 0, "step": 5, "train/loss_step": 0.9}])
    cmd = [sys.executable, "-m", "drumtx.evaluation.train_curves", "-o", str(tmp_path / "o"), f"b={tmp_path / 'b'}"]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"drumtx.evaluation.train_curves: {tmp_path / 'b'}: no validation point with val/pr_auc_mean"]


def test_a_run_without_training_time_is_named_and_leaves_no_empty_column(tmp_path, capsys):
    """One run without time/train_seconds switched the whole plot to steps without a word, and
    curves.md kept an empty 'training min' column."""
    write_log(tmp_path / "timed", 0, [{"epoch": 0, "step": 99, "time/train_seconds": 60, "val/pr_auc_mean": 0.1}])
    write_log(tmp_path / "old", 0, [{"epoch": 0, "step": 99, "val/pr_auc_mean": 0.2}])
    out = tmp_path / "out"
    assert main(["-o", str(out), f"timed={tmp_path / 'timed'}", f"old={tmp_path / 'old'}"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["drumtx.evaluation.train_curves: warning: no time/train_seconds in old: every run plotted "
                   "against the step"]
    written = json.loads((out / "curves.json").read_text())
    assert written["x"] == "step" and "old logged no" in written["x_note"]
    md = (out / "curves.md").read_text()
    assert "old logged no `time/train_seconds`" in md
    assert "| timed | 99 | 1.0 | 0.1000 | – |" in md and "| old | 99 | – | 0.2000 | – |" in md
    assert main(["-o", str(out), "--x", "step", f"old={tmp_path / 'old'}"]) == 0  # asked for steps: no warning
    assert capsys.readouterr().err == ""
    md = (out / "curves.md").read_text()
    assert "training min" not in md and "| old | 99 | 0.2000 | – |" in md


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-o", "{out}", "a={missing}"], "{missing}: no such run folder"),
        (["-o", "{out}", "a={file}"], "{file}: not a folder"),
        (["-o", "{file}", "a={run}"], "{file}: exists and is not a folder"),
        (["-o", "{file}/sub", "a={run}"], "{file}/sub: cannot make the output folder"),
        (["a={run}"], "the following arguments are required: -o/--out"),
    ],
)
def test_usage_and_path_errors_are_one_line_with_one_prefix(args, message, tmp_path, capsys):
    """A missing run folder said 'no csv/version_*/metrics.csv'; -o naming a file gave a
    FileExistsError traceback; argparse's errors had another prefix ('drumtx-train-curves: error:')."""
    write_log(tmp_path / "run", 0, [{"epoch": 0, "step": 99, "time/train_seconds": 60, "val/pr_auc_mean": 0.1}])
    (tmp_path / "file").write_text("x")
    paths = {"out": tmp_path / "out", "missing": tmp_path / "nope", "file": tmp_path / "file", "run": tmp_path / "run"}
    with pytest.raises(SystemExit) as exc:
        main([a.format(**paths) for a in args])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"drumtx.evaluation.train_curves: {message.format(**paths)}"), err
