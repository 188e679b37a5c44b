"""experiments/scripts/ship_rows.py: the ship rule's table from rung reports (no model, no data)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "experiments" / "scripts" / "ship_rows.py"
RUNGS = ("a_unseen_soundfont_kits", "b_unseen_sampled_kits", "c_unseen_kits_with_music", "training_kits",
         "d_music_alone")


def _report(root: Path, run: str, f: float, crash_p: float, fp_per_minute: float, crash_threshold: float) -> None:
    for rung in RUNGS:
        d = root / run / f"eval_{rung}"
        d.mkdir(parents=True)
        overall = {"micro": {"f_measure": f}, "fp_per_minute": fp_per_minute}
        crash = {"f_measure": f / 2, "precision": crash_p}
        m = {"info": {"thresholds": {"crash": {"threshold": crash_threshold, "min_gap_s": 0.01}}},
             "levels": {"instrument": {"overall": overall, "classes": {"crash": crash}}}}
        (d / "metrics.json").write_text(json.dumps(m))


def _run(root: Path, *runs: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), "--root", str(root), *runs],
                          capture_output=True, text=True, cwd="/")


def test_a_cell_below_the_reference_is_marked_and_music_alone_is_lower_is_better(tmp_path):
    _report(tmp_path, "v2", 0.70, 0.90, 40.0, 0.76)
    _report(tmp_path, "arm", 0.7004, 0.80, 50.0, 0.8)  # F equal as shown (70.0), crash P below, more false onsets
    _report(tmp_path, "arm/crash_all_kits", 0.75, 0.95, 30.0, 0.51)
    r = _run(tmp_path, "v2", "arm", "arm/crash_all_kits")
    assert r.returncode == 0, r.stderr
    header, _, ref, arm, every = r.stdout.splitlines()
    cols = [c.strip() for c in header.strip("|").split("|")]
    row = dict(zip(cols, (c.strip() for c in arm.strip("|").split("|")), strict=True))
    assert row["F (a)"] == "70.0" and row["F (training)"] == "70.0"  # a tie as shown: no ✗
    assert row["(d) onsets / min"] == "50.0 ✗" and row["crash P (b)"] == "80.0 ✗"
    assert row["crash threshold"] == "0.80"
    assert "✗" not in ref and "✗" not in every and every.endswith("| 0.51 |")


def test_a_run_without_reports_is_one_line_naming_what_makes_them(tmp_path):
    _report(tmp_path, "v2", 0.70, 0.90, 40.0, 0.76)
    r = _run(tmp_path, "v2", "nosuch_run_x/crash_all_kits")
    assert r.returncode == 1 and r.stdout == "" and r.stderr.count("\n") == 1
    assert "no rung reports for nosuch_run_x/crash_all_kits" in r.stderr and "crash_tune_kits.sh" in r.stderr
