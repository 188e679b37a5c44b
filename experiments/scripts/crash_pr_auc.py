"""The crash of each run on each rung, threshold-free beside tuned: frame PR-AUC and the frame
precision at a few frame recalls, and the tuned onset precision / recall, from the rung reports
``drumtx.evaluate`` wrote (no model, no data).

    .venv/bin/python experiments/scripts/crash_pr_auc.py music_w4_s42 scratch_w4_s42 scratch_w4_s43 \
        candidate16k_w4_s42 candidate16k_w4_s43 hybrid_w4_s42 hybrid_w4_s43 \
        hardneg_scratch_w4_s42 hardneg_scratch_w4_s43 ring_w4_s42 ring_w4_s43 \
        electronic_w4_s42 electronic_w4_s43 > experiments/default_model_v2/crash_pr_auc.md

A run is a folder name under ``--root`` (default outputs/default_model_v2) whose
``eval_<rung>/metrics.json`` and ``curves.json`` exist; a rung whose two files are not both there
is read from the stash (experiments/default_model_v2/resume/<run>). A run with no report on any
rung is an error. Why: the tuned crash moves along its precision-recall curve with the threshold
the tuner picks (experiments/default_model_v2/README.md, "A floor just missed"), so two models'
tuned precision compares operating points as much as models; the frame PR-AUC
(``levels.instrument.classes.crash.pr_auc``) and the interpolated frame precision at equal frame
recall (``curves.json``: the best precision at recall >= r) do not depend on the threshold.
"""

from __future__ import annotations

import sys
from pathlib import Path

from rung_reports import STASH, load, runs_parser

from drumtx.evaluation.report import num

RUNGS = ("a_unseen_soundfont_kits", "b_unseen_sampled_kits", "c_unseen_kits_with_music")
RECALLS = (0.2, 0.3, 0.4, 0.5)


def _reports(run: str, rung: str, root: Path) -> tuple[dict, dict] | None:
    """(metrics, curves) of RUN's rung, both from the first folder that has both; else None."""
    return load(run, rung, root, ("metrics.json", "curves.json"))


def crash_cell(metrics: dict) -> str:
    """'PR-AUC · P / R' of the crash (P, R: tuned onset scores in %); '–' for what is undefined."""
    c = metrics["levels"]["instrument"]["classes"].get("crash")
    if c is None:
        return "–"
    p, r = c.get("precision"), c.get("recall")
    pr = "–" if p is None or r is None else f"{100 * p:.1f} / {100 * r:.1f}"
    return f"{num(c.get('pr_auc'))} · {pr}"


def precision_cell(curves: dict, recalls: tuple[float, ...] = RECALLS) -> str:
    """The crash's frame precision at each frame recall of RECALLS, '/'-joined; '–' where the
    report has no crash curve. Looked up on the stored recall grid (any ``eval.curve_points``)."""
    curve = curves.get("instrument", {}).get("crash")
    if not curve:
        return "–"
    grid = curve["recall"]
    out = []
    for r in recalls:
        i = min(range(len(grid)), key=lambda k: abs(grid[k] - r))
        out.append("–" if abs(grid[i] - r) > 0.005 else f"{curve['precision'][i]:.2f}")
    return " / ".join(out)


def main() -> None:
    args = runs_parser("crash_pr_auc.py", __doc__, "run folder names (music_w4_s42 is the shipped v2)").parse_args()
    found = {run: [_reports(run, rung, args.root) for rung in RUNGS] for run in args.runs}
    missing = [run for run, reps in found.items() if all(r is None for r in reps)]
    if missing:
        sys.exit(f"crash_pr_auc.py: no rung reports for {', '.join(missing)} under {args.root} or {STASH}")
    print("| run | " + " | ".join(f"crash ({r[0]}): frame PR-AUC · tuned onset P / R %" for r in RUNGS) + " |")
    print("|---|" + "---:|" * len(RUNGS))
    for run, reps in found.items():
        print(f"| {run} | " + " | ".join("–" if x is None else crash_cell(x[0]) for x in reps) + " |")
    at = " / ".join(f"{r:.1f}" for r in RECALLS)
    print(f"\nThe crash's frame precision at frame recall {at} (equal recall, every model):\n")
    print("| run | " + " | ".join(f"crash ({r[0]})" for r in RUNGS) + " |")
    print("|---|" + "---:|" * len(RUNGS))
    for run, reps in found.items():
        print(f"| {run} | " + " | ".join("–" if x is None else precision_cell(x[1]) for x in reps) + " |")


if __name__ == "__main__":
    main()
