"""The crash of each run on each rung, threshold-free beside tuned: frame PR-AUC and the frame
precision at a few frame recalls, and the tuned onset precision / recall, from the rung reports ``drumtx.evaluate`` wrote (no model, no data).

    .venv/bin/python experiments/scripts/crash_pr_auc.py music_w4_s42 scratch_w4_s42 scratch_w4_s43 \
        electronic_w4_s42 electronic_w4_s43 > experiments/default_model_v2/crash_pr_auc.md

A run is a folder name under ``--root`` (default outputs/default_model_v2) whose
``eval_<rung>/metrics.json`` exist; where a rung is missing there, the stash
(experiments/default_model_v2/resume/<run>) is read. Why: the tuned crash moves along its
precision-recall curve with the threshold the tuner picks (README "A floor just missed"), so two
models' tuned precision compares operating points as much as models; the frame PR-AUC
(``levels.instrument.classes.crash.pr_auc``) does not depend on the threshold.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

RUNGS = ("a_unseen_soundfont_kits", "b_unseen_sampled_kits", "c_unseen_kits_with_music")
STASH = Path("experiments/default_model_v2/resume")


def _report(run: str, rung: str, root: Path, name: str) -> dict | None:
    for base in (root, STASH):
        f = base / run / f"eval_{rung}" / name
        if f.is_file():
            return json.loads(f.read_text())
    return None


def crash_cells(run: str, root: Path) -> list[str]:
    """One "PR-AUC · P / R" cell per rung of RUNGS; '–' where the rung's report is missing."""
    cells = []
    for rung in RUNGS:
        m = _report(run, rung, root, "metrics.json")
        if m is None:
            cells.append("–")
            continue
        c = m["levels"]["instrument"]["classes"]["crash"]
        p, r = c.get("precision"), c.get("recall")
        pr = "–" if p is None or r is None else f"{100 * p:.1f} / {100 * r:.1f}"
        cells.append(f"{c['pr_auc']:.3f} · {pr}")
    return cells


def precision_cells(run: str, root: Path, recalls: tuple[float, ...]) -> list[str]:
    """Per rung, the crash's frame precision at each frame recall of RECALLS (curves.json: the
    interpolated precision on a 0.01 recall grid), '/'-joined; '–' where the report is missing."""
    cells = []
    for rung in RUNGS:
        c = _report(run, rung, root, "curves.json")
        if c is None:
            cells.append("–")
            continue
        curve = c["instrument"]["crash"]
        cells.append(" / ".join(f"{curve['precision'][round(100 * r)]:.2f}" for r in recalls))
    return cells


def main() -> None:
    ap = argparse.ArgumentParser(prog="crash_pr_auc.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", help="run folder names (music_w4_s42 is the shipped v2)")
    ap.add_argument("--root", type=Path, default=Path("outputs/default_model_v2"))
    args = ap.parse_args()
    print("| run | " + " | ".join(f"crash ({r[0]}): frame PR-AUC · P / R %" for r in RUNGS) + " |")
    print("|---|" + "---:|" * len(RUNGS))
    for run in args.runs:
        print(f"| {run} | " + " | ".join(crash_cells(run, args.root)) + " |")
    recalls = (0.2, 0.3, 0.4, 0.5)
    at = " / ".join(f"{r:.1f}" for r in recalls)
    print(f"\nThe crash's frame precision at frame recall {at} (equal recall, every model):\n")
    print("| run | " + " | ".join(f"crash ({r[0]})" for r in RUNGS) + " |")
    print("|---|" + "---:|" * len(RUNGS))
    for run in args.runs:
        print(f"| {run} | " + " | ".join(precision_cells(run, args.root, recalls)) + " |")


if __name__ == "__main__":
    main()
