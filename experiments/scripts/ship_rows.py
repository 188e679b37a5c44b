"""The ship rule's numbers, one row per run, against the first run (the shipped v2): overall onset
F (micro) on rungs (a)-(c) and the training kits, false onsets per minute of music alone (d), and
the crash's onset F / precision on (a)-(c), and the crash threshold rung (b) was scored at; a cell
below the reference's (as shown, to 0.1) is marked ✗ (for (d): above it). From the rung reports
``drumtx.evaluate`` wrote (no model, no data).

    .venv/bin/python experiments/scripts/ship_rows.py music_w4_s42 electronic_w4_s43 \
        electronic_w4_s43/crash_all_kits

A run is a folder name under ``--root`` (default outputs/default_model_v2) holding
``eval_<rung>/metrics.json`` (a rung missing there is read from the stash,
experiments/default_model_v2/resume/<run>); a rung with no report shows ``–``. ``RUN/crash_all_kits``
is RUN scored with its crash tuned on every kit family (experiments/scripts/crash_tune_kits.sh RUN). The ship rule
(experiments/default_model_v2/README.md): a model replaces v2 only with no ✗ in its row.
"""

from __future__ import annotations

import sys
from pathlib import Path

from rung_reports import STASH, load, runs_parser

F_RUNGS = ("a_unseen_soundfont_kits", "b_unseen_sampled_kits", "c_unseen_kits_with_music", "training_kits")
MUSIC_ALONE = "d_music_alone"
CRASH_RUNGS = F_RUNGS[:3]


def numbers(run: str, root: Path) -> dict[str, float | None]:
    """The row's numbers by column name, in % (onsets per minute for music alone); None: no report
    or an undefined score. Each rung's report is read once."""
    reports = {rung: load(run, rung, root) for rung in (*F_RUNGS, MUSIC_ALONE)}
    metrics = {rung: None if found is None else found[0] for rung, found in reports.items()}
    out: dict[str, float | None] = {}
    for rung in F_RUNGS:
        m = metrics[rung]
        out[f"F ({rung[0] if rung != 'training_kits' else 'training'})"] = (
            None if m is None else 100 * m["levels"]["instrument"]["overall"]["micro"]["f_measure"])
    m = metrics[MUSIC_ALONE]
    out["(d) onsets / min"] = None if m is None else m["levels"]["instrument"]["overall"]["fp_per_minute"]
    for rung in CRASH_RUNGS:
        m = metrics[rung]
        c = None if m is None else m["levels"]["instrument"]["classes"].get("crash")
        for key, name in (("f_measure", "F"), ("precision", "P")):
            v = None if c is None else c.get(key)
            out[f"crash {name} ({rung[0]})"] = None if v is None else 100 * v
    m = metrics[CRASH_RUNGS[1]]
    crash = None if m is None else (m["info"].get("thresholds") or {}).get("crash")
    out["crash threshold"] = None if crash is None else crash["threshold"]
    return out


def cell(value: float | None, ref: float | None, lower_is_better: bool = False) -> str:
    if value is None:
        return "–"
    value, ref = round(value, 1), None if ref is None else round(ref, 1)  # as shown: no ✗ on a tie
    worse = ref is not None and (value > ref if lower_is_better else value < ref)
    return f"{value:.1f}{' ✗' if worse else ''}"


def main() -> None:
    args = runs_parser("ship_rows.py", __doc__,
                       "run folder names; the first is the reference (the shipped v2: music_w4_s42)").parse_args()
    rows = {run: numbers(run, args.root) for run in args.runs}
    empty = [run for run, r in rows.items() if all(v is None for v in r.values())]
    if empty:
        hint = ("; RUN/crash_all_kits comes from experiments/scripts/crash_tune_kits.sh RUN"
                if any(run.endswith("crash_all_kits") for run in empty) else "")
        sys.exit(f"ship_rows.py: no rung reports for {', '.join(empty)} under {args.root.resolve()} or {STASH}{hint}")
    ref = rows[args.runs[0]]
    cols = list(ref)
    print("| run | " + " | ".join(cols) + " |")
    print("|---|" + "---:|" * len(cols))
    for run, r in rows.items():
        cells = [("–" if r[c] is None else f"{r[c]:.2f}") if c == "crash threshold"  # (no rule on it)
                 else cell(r[c], None if run == args.runs[0] else ref[c], c.startswith("(d)")) for c in cols]
        print(f"| {run} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
