"""One table for many evaluation reports: an ablation's arms side by side.

    python -m drumtx.evaluation.summary -o experiments/transfer_ablation --title "Unseen kits" \\
        "baseline=outputs/default_model/eval_unseen_kits/metrics.json" \\
        "no augmentation=outputs/ablation/aug_none/eval_unseen_kits/metrics.json" ...

Reads the ``metrics.json`` that ``python -m drumtx.evaluate`` writes (no model is run), and
writes ``summary.md`` (instrument onset F with the change against the first report, crash
precision and frame PR-AUC, variation accuracy, overall F per kit), ``summary.json`` and bar charts in
``figures/``. ``evaluate compare_ckpt=`` compares two models in depth; this lines up any number.

A change against the first report means something only on the same tracks: a report scored on
other tracks (its track list, or where a report has none its track count, differs from the
first's) gets a warning line and a note under the table. An undefined score (no reference and
no estimated onset of a class; a precision without estimates) shows as ``–`` with no change,
older metrics.json files' 1.0 for it included (:func:`drumtx.evaluation.scores.undefined_as_none`).

Raises (one line, exit 2): a spec that is not NAME=METRICS_JSON, an unreadable report, a name
given twice, an output path that is not a folder.
"""

from __future__ import annotations

import sys
from pathlib import Path

from drumtx.atomic import atomic_write_text, write_json
from drumtx.cli import EXIT_USAGE, error, fail
from drumtx.evaluation import plots
from drumtx.evaluation.commands import output_folder, parser, read_reports
from drumtx.evaluation.report import UNDEFINED_NOTE, md_table, pct
from drumtx.evaluation.scores import undefined_as_none

PROG = "drumtx.evaluation.summary"

VARIATIONS = ("hihat", "ride", "snare", "tom")


def _delta(x, ref) -> str:
    if x is None or ref is None:
        return pct(x)
    d = 100 * (x - ref)
    return f"{pct(x)} ({d:+.1f})"


def rows_of(metrics: dict) -> dict[str, float | None]:
    """The summary's numbers of one report, by row name."""
    inst = metrics["levels"]["instrument"]
    out: dict[str, float | None] = {f"{c} F": v.get("f_measure") for c, v in inst["classes"].items()}
    out["overall F (micro)"] = inst["overall"]["micro"]["f_measure"]
    out["crash precision"] = inst["classes"].get("crash", {}).get("precision")
    # threshold-free: tuned precision compares operating points as much as models (a stricter
    # threshold buys precision with recall); the frame PR-AUC does not depend on the threshold
    out["crash frame PR-AUC"] = inst["classes"].get("crash", {}).get("pr_auc")
    for b in VARIATIONS:
        if b in metrics.get("variation_accuracy", {}):
            out[f"{b} variation accuracy"] = metrics["variation_accuracy"][b]["accuracy"]
    return out


def kits_of(metrics: dict) -> dict[str, float | None]:
    """Overall instrument onset F (micro) per ``kit_name`` slice of one report."""
    groups = metrics.get("slices", {}).get("groups", {}).get("kit_name", {})
    return {kit: g["overall"]["micro"]["f_measure"] for kit, g in sorted(groups.items()) if g}


def crash_kits_of(metrics: dict) -> dict[str, tuple[float | None, float | None, int | None]]:
    """The crash's (precision, recall, false crashes) per ``kit_name`` slice of one report: the
    instrument scored precision first, whose failures on some kits an overall F hides."""
    groups = metrics.get("slices", {}).get("groups", {}).get("kit_name", {})
    out = {}
    for kit, g in sorted(groups.items()):
        c = (g or {}).get("classes", {}).get("crash")
        if c and (c.get("n_ref") or c.get("n_est")):
            out[kit] = (c.get("precision"), c.get("recall"), c.get("false_positives"))
    return out


def tracks_of(metrics: dict) -> set[str] | None:
    """The keys of the tracks a report scored (None where it lists none)."""
    rows = metrics.get("tracks")
    if not isinstance(rows, list) or (not rows and metrics.get("n_tracks")):
        return None
    return {str(r.get("track")) for r in rows if isinstance(r, dict)}


def track_mismatches(reports: dict[str, dict]) -> dict[str, str]:
    """Report name -> how its tracks differ from the first report's, for every report scored on
    other tracks (its track set, or its count where either lists no tracks)."""
    names = list(reports)
    ref = names[0]
    ref_tracks, ref_n = tracks_of(reports[ref]), reports[ref].get("n_tracks")
    out = {}
    for n in names[1:]:
        tracks, count = tracks_of(reports[n]), reports[n].get("n_tracks")
        if tracks is not None and ref_tracks is not None:
            if tracks != ref_tracks:
                out[n] = (f"{len(tracks)} tracks against {len(ref_tracks)} of {ref}, "
                          f"{len(tracks & ref_tracks)} in common")
        elif count != ref_n:
            out[n] = f"{count} tracks against {ref_n} of {ref}"
    return out


def summarize(reports: dict[str, dict], title: str) -> tuple[str, dict, dict[str, list]]:
    """(markdown, json-able numbers, bar-chart series) for ``reports`` (the first is the reference).
    Older reports' undefined scores are set to ``None`` first (in place)."""
    for m in reports.values():
        undefined_as_none(m)
    names = list(reports)
    differ = track_mismatches(reports)
    rows = {n: rows_of(m) for n, m in reports.items()}
    kits = {n: kits_of(m) for n, m in reports.items()}
    ref = names[0]
    row_names = list(dict.fromkeys(r for n in names for r in rows[n]))
    def line(key, values: dict[str, dict]) -> list[str]:
        """``key``'s value in every report, the reference plain, the others with their change."""
        return [key] + [pct(values[n].get(key)) if n == ref else _delta(values[n].get(key), values[ref].get(key))
                        for n in names]

    table = [line(r, rows) for r in row_names]
    kit_names = list(dict.fromkeys(k for n in names for k in kits[n]))
    kit_table = [line(k, kits) for k in kit_names]
    crash = {n: crash_kits_of(m) for n, m in reports.items()}
    crash_kits = list(dict.fromkeys(k for n in names for k in crash[n]))
    crash_table = [[k] + [f"{pct(crash[n][k][0])} / {pct(crash[n][k][1])} ({crash[n][k][2]})" if k in crash[n]
                          else "–" for n in names] for k in crash_kits]
    header = [f"{n} †" if n in differ else n for n in names]
    window_ms = 1000 * reports[ref].get("settings", {}).get("window_s", 0.05)
    md = [f"# {title}", "", f"Onset F-measure per instrument (±{window_ms:.0f} ms, micro over tracks); in "
          f"brackets the change in points against **{ref}**. {UNDEFINED_NOTE}", "",
          md_table(["", *header], table)]
    if differ:
        md += ["", f"† Scored on other tracks than **{ref}**, so its changes compare different tracks, not "
                   "only models: " + "; ".join(f"**{n}** ({why})" for n, why in differ.items()) + "."]
    if kit_names:
        md += ["", "## Per kit (overall instrument F, micro)", "", md_table(["kit", *header], kit_table)]
    if crash_kits:
        md += ["", "## The crash per kit (precision / recall, false crashes in brackets)", "",
               md_table(["kit", *header], crash_table)]
    md += ["", "## Reports", ""] + [f"- **{n}**: {m.get('info', {}).get('checkpoint', '?')} "
                                     f"({m.get('n_tracks')} tracks)" for n, m in reports.items()]
    numbers = {"reference": ref, "rows": rows, "kits": kits, "crash_kits": crash, "other_tracks": differ}
    instruments = [r for r in row_names if r.endswith(" F") and not r.startswith("overall")]
    bars = instruments + ["overall F (micro)"]
    series = {"instruments": [[i.removesuffix(" F").replace("overall F (micro)", "all instruments") for i in bars],
                              {n: [rows[n].get(i) for i in bars] for n in names}],
              "kits": [kit_names, {n: [kits[n].get(k) for k in kit_names] for n in names}]}
    return "\n".join(md) + "\n", numbers, series


def main(argv: list[str] | None = None) -> int:
    ap = parser(PROG, __doc__.split("\n\n")[0])
    ap.add_argument("reports", nargs="+", metavar="NAME=METRICS_JSON",
                    help="evaluation reports (drumtx.evaluate's metrics.json, or its report folder); the first is the "
                         "reference")
    ap.add_argument("-o", "--out", required=True, type=Path, help="folder for summary.md/.json and figures/")
    ap.add_argument("--title", default="Evaluation summary")
    args = ap.parse_args(argv)
    reports = {}
    for name, _, metrics in read_reports(PROG, args.reports, lambda m: m["levels"]["instrument"]["classes"]):
        if name in reports:
            fail(PROG, f"report name {name!r} given twice")
        reports[name] = metrics
    md, numbers, series = summarize(reports, args.title)
    for name, why in numbers["other_tracks"].items():
        error(PROG, f"warning: {name} was scored on other tracks than {numbers['reference']} ({why}); "
                    "its changes compare different tracks")
    out = output_folder(PROG, args.out)
    try:
        fig_dir = out / "figures"
        fig_dir.mkdir(parents=True, exist_ok=True)
        plots.bars(fig_dir / "instrument_f.png", f"{args.title}: onset F per instrument", *series["instruments"],
                   ylabel="onset F")
        figures = ["![instrument F](figures/instrument_f.png)"]
        if series["kits"][0]:
            plots.bars(fig_dir / "kit_f.png", f"{args.title}: overall onset F per kit", *series["kits"],
                       ylabel="onset F")
            figures.append("![per-kit F](figures/kit_f.png)")
        atomic_write_text(out / "summary.md", md + "\n" + "\n\n".join(figures) + "\n")
        write_json(out / "summary.json", numbers)
    except OSError as exc:
        fail(PROG, f"{out}: cannot write the summary ({exc})", EXIT_USAGE)
    print(md)
    print(f"wrote {out / 'summary.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
