"""Two models side by side: the design's comparison table (Rec / Prec / F1 and the deltas).

Works on the JSON summaries that :mod:`drumtx.evaluation.report` writes, so it runs both inside
``python -m drumtx.evaluate ckpt=B compare_ckpt=A`` (with piano-roll excerpts, which need the
models' frame probabilities) and afterwards on two saved evaluation folders::

    python -m drumtx.evaluation.compare outputs/evaluate/<flat run> outputs/evaluate/<five-branch run> -o cmp/

The first model is the *baseline*, the second the *candidate*; every delta is candidate minus
baseline, in percentage points. Output (``out_dir``): ``compare.md``, ``compare.json`` and
``figures/`` (F1 bars, deltas, overlaid PR curves, piano rolls of the largest regressions).

A score that is undefined in either report (precision without estimated onsets, recall without
reference onsets; every score of a class with neither) has no delta: it shows as ``–`` and is
left out of the figures. Older metrics.json files, which stored such scores as 1 or 0, are
read with them set to undefined (:func:`drumtx.evaluation.scores.undefined_as_none`).

Raises (one line, exit 2): an unreadable evaluation folder, an output path that is not a folder.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

from drumtx.atomic import atomic_write_text, write_json
from drumtx.cli import EXIT_USAGE, error
from drumtx.evaluation import plots
from drumtx.evaluation.commands import output_folder, parser
from drumtx.evaluation.plots import pretty
from drumtx.evaluation.report import UNDEFINED_NOTE, md_table, num, pct, safe_name
from drumtx.evaluation.scores import undefined_as_none

PROG = "drumtx.evaluation.compare"


def _delta(a, b):
    return None if a is None or b is None else b - a


def _pp(x) -> str:
    """Signed percentage points."""
    return "–" if x is None else f"{100 * x:+.1f}"


def _pct0(x) -> str:
    """A whole percentage for the fixed-width table, ``–`` when undefined."""
    return "–" if x is None else f"{100 * x:.0f}%"


def table_rows(sa: dict, sb: dict) -> list[dict]:
    """The design's table: instruments, then the variations, then overall; each row with
    Rec / Prec / F1 of both models and the deltas. Classes either model lacks are skipped."""
    rows = []

    def add(level: str, cls: str, label: str) -> None:
        la, lb = sa["levels"].get(level), sb["levels"].get(level)
        if not la or not lb or cls not in la["classes"] or cls not in lb["classes"]:
            return
        a, b = la["classes"][cls], lb["classes"][cls]
        if not (a["n_ref"] or a["n_est"] or b["n_est"]):
            return
        rows.append(_row(label, level, cls, a, b))

    coarse = "instrument" if "instrument" in sa["levels"] else sa["slice_level"]
    for cls in sa["levels"][coarse]["classes"]:
        add(coarse, cls, pretty(cls))
    if "fine" in sa["levels"]:
        vocab_groups = _variation_groups(sa)
        for fine in vocab_groups:
            add("fine", fine, pretty(fine) if fine != "ride" else "Ride (bow)")
    for level, label in ((coarse, f"Overall ({coarse})"), ("fine", "Overall (fine)")):
        if level in sa["levels"] and level in sb["levels"]:
            a, b = sa["levels"][level]["overall"]["micro"], sb["levels"][level]["overall"]["micro"]
            rows.append(_row(label, level, "overall", a, b))
    return rows


def _variation_groups(summary: dict) -> list[str]:
    """Fine classes of the instruments with more than one variation, in vocabulary order."""
    fine = list(summary["levels"]["fine"]["classes"])
    multi = {lab for v in summary.get("variation_accuracy", {}).values() for lab in v["labels"]}
    return [c for c in fine if c in multi]


def _row(label: str, level: str, cls: str, a: dict, b: dict) -> dict:
    return {
        "label": label, "level": level, "class": cls,
        "baseline": {k: a[k] for k in ("recall", "precision", "f_measure", "n_ref", "n_est")},
        "candidate": {k: b[k] for k in ("recall", "precision", "f_measure", "n_ref", "n_est")},
        "delta": {k: _delta(a[k], b[k]) for k in ("recall", "precision", "f_measure")},
    }


def auc_rows(sa: dict, sb: dict, level: str) -> list[dict]:
    la, lb = sa["levels"].get(level), sb["levels"].get(level)
    if not la or not lb:
        return []
    out = []
    for c in la["classes"]:
        if c not in lb["classes"]:
            continue
        a, b = la["classes"][c], lb["classes"][c]
        out.append({"class": c, **{f"{k}_{m}": r[k] for m, r in (("baseline", a), ("candidate", b))
                                    for k in ("roc_auc", "pr_auc")},
                    "delta_roc_auc": _delta(a["roc_auc"], b["roc_auc"]), "delta_pr_auc": _delta(a["pr_auc"], b["pr_auc"])})
    return out


def track_deltas(sa: dict, sb: dict) -> list[dict]:
    """Per-track F1 of both models on the tracks both scored, largest regression first."""
    fa = {r["track"]: r for r in sa["tracks"]}
    out = []
    for r in sb["tracks"]:
        a = fa.get(r["track"])
        if a is None or not (r["n_ref"] or r["n_est"] or a["n_est"]):
            continue
        out.append({"track": r["track"], "baseline_f1": a["f_measure"], "candidate_f1": r["f_measure"],
                    "delta_f1": _delta(a["f_measure"], r["f_measure"]), "n_ref": r["n_ref"],
                    **{k: r[k] for k in ("beat_type", "kit_name") if r.get(k)}})
    # A track with an undefined F on one side (no onset of either kind) has no delta: last.
    out.sort(key=lambda x: (x["delta_f1"] is None, x["delta_f1"] or 0.0, -x["n_ref"]))
    return out


def comparison(sa: dict, sb: dict, name_a: str, name_b: str, n_tracks: int = 10) -> dict:
    """Everything of the comparison report as data. Older summaries' undefined scores are set
    to ``None`` first (:func:`~drumtx.evaluation.scores.undefined_as_none`, in place)."""
    undefined_as_none(sa)
    undefined_as_none(sb)
    if set(sa["levels"]) != set(sb["levels"]):
        raise ValueError(f"the two evaluations scored different levels: {sorted(sa['levels'])} vs {sorted(sb['levels'])}")
    oa, ob = ({lvl: s["levels"][lvl]["overall"] for lvl in s["levels"]} for s in (sa, sb))
    overall = {
        lvl: {k: {"baseline": oa[lvl][k], "candidate": ob[lvl][k], "delta": _delta(oa[lvl][k], ob[lvl][k])}
              for k in ("macro_f1", "weighted_f1", "track_mean_f1", "pr_auc_mean", "roc_auc_mean", "fp_per_minute")}
        for lvl in oa
    }
    tier1 = {k: {"baseline": sa["tier1"][k].get("recall"), "candidate": sb["tier1"].get(k, {}).get("recall"),
                 "delta": _delta(sa["tier1"][k].get("recall"), sb["tier1"].get(k, {}).get("recall"))}
             for k in sa["tier1"]}
    var = {k: {"baseline": v["accuracy"], "candidate": sb["variation_accuracy"].get(k, {}).get("accuracy"),
               "delta": _delta(v["accuracy"], sb["variation_accuracy"].get(k, {}).get("accuracy"))}
           for k, v in sa["variation_accuracy"].items()}
    finest = "fine" if "fine" in sa["levels"] else sa["slice_level"]
    fp = {c: {"baseline": sa["levels"][finest]["classes"][c]["fp_per_minute"],
              "candidate": sb["levels"][finest]["classes"][c]["fp_per_minute"],
              "delta": _delta(sa["levels"][finest]["classes"][c]["fp_per_minute"],
                              sb["levels"][finest]["classes"][c]["fp_per_minute"])}
          for c in sa["levels"][finest]["classes"]}
    slices = _slice_deltas(sa["slices"], sb["slices"])
    tracks = track_deltas(sa, sb)
    return {
        "baseline": name_a,
        "candidate": name_b,
        "n_tracks": {"baseline": sa["n_tracks"], "candidate": sb["n_tracks"], "common": len(tracks)},
        "table": table_rows(sa, sb),
        "frame_auc": {lvl: auc_rows(sa, sb, lvl) for lvl in sa["levels"]},
        "overall": overall,
        "tier1_recall": tier1,
        "variation_accuracy": var,
        "fp_per_minute": fp,
        "slices": slices,
        "largest_regressions": [t for t in tracks if t["delta_f1"] is not None and t["delta_f1"] < 0][:n_tracks],
        "largest_improvements": [t for t in reversed(tracks) if t["delta_f1"] is not None and t["delta_f1"] > 0][:n_tracks],
        "worst_candidate_tracks": sb["worst_tracks"][:n_tracks],
        "worst_baseline_tracks": sa["worst_tracks"][:n_tracks],
    }


def _slice_deltas(a: dict, b: dict) -> dict:
    """Overall F1 / recall of every slice for both models."""
    out = {}
    for col, groups in a["groups"].items():
        for v, g in groups.items():
            gb = b["groups"].get(col, {}).get(v)
            if g and gb:
                fa, fb = g["overall"]["micro"]["f_measure"], gb["overall"]["micro"]["f_measure"]
                out[f"{col}={v}"] = {"metric": "f1", "baseline": fa, "candidate": fb, "delta": _delta(fa, fb)}
    for name, parts in (("ghost_notes", ("ghost", "other")), ("simultaneous", ("simultaneous", "isolated"))):
        for p in parts:
            ra, rb = a[name][p]["all"]["recall"], b[name][p]["all"]["recall"]
            if ra is not None and rb is not None:
                out[f"{name}:{p}"] = {"metric": "recall", "baseline": ra, "candidate": rb, "delta": rb - ra}
    for p in ("soft", "other"):
        ga, gb = a["soft_tracks"].get(p), b["soft_tracks"].get(p)
        if ga and gb:
            fa, fb = ga["overall"]["micro"]["f_measure"], gb["overall"]["micro"]["f_measure"]
            out[f"soft_tracks:{p}"] = {"metric": "f1", "baseline": fa, "candidate": fb, "delta": _delta(fa, fb)}
    return out


def render_markdown(cmp: dict, figures: dict[str, str]) -> str:
    a, b = cmp["baseline"], cmp["candidate"]
    lines = [f"# Comparison: {b} against {a}", "",
             f"Baseline **{a}**, candidate **{b}**; Δ = candidate − baseline in percentage points. "
             f"Tracks: {cmp['n_tracks']['common']} scored by both.", "", UNDEFINED_NOTE, "",
             "## Onset scores (±50 ms)", "", "```"]
    # The design's fixed-width table, then the same as a Markdown table.
    keys = ("recall", "precision", "f_measure")
    head1 = f"{'Class':<22}{'Baseline':<19}{'Candidate':<19}Improvement"
    cols = " ".join(f"{h:>5}" for h in ("Rec", "Prec", "F1"))
    head2 = f"{'':<22}{cols}  {cols}  " + " ".join(f"{h:>6}" for h in ("ΔRec", "ΔPrec", "ΔF1"))
    lines += [head1, head2, "-" * len(head2)]
    for r in cmp["table"]:
        if r["label"].startswith("Overall"):
            lines.append("-" * len(head2))
        ra, rb, d = r["baseline"], r["candidate"], r["delta"]
        lines.append(
            f"{r['label'][:21]:<22}"
            + " ".join(f"{_pct0(ra[k]):>5}" for k in keys) + "  "
            + " ".join(f"{_pct0(rb[k]):>5}" for k in keys) + "  "
            + " ".join(f"{_pp(d[k]):>6}" for k in keys)
        )
    lines += ["```", ""]
    rows = [[r["label"], pct(r["baseline"]["recall"]), pct(r["baseline"]["precision"]), pct(r["baseline"]["f_measure"]),
             pct(r["candidate"]["recall"]), pct(r["candidate"]["precision"]), pct(r["candidate"]["f_measure"]),
             _pp(r["delta"]["recall"]), _pp(r["delta"]["precision"]), _pp(r["delta"]["f_measure"]), r["candidate"]["n_ref"]]
            for r in cmp["table"]]
    lines += [md_table(["Class", f"{a} Rec", "Prec", "F1", f"{b} Rec", "Prec", "F1", "ΔRec", "ΔPrec", "ΔF1", "Support"], rows)]
    for key in ("f1_bars", "f1_delta"):
        if key in figures:
            lines += ["", f"![{key}]({figures[key]})"]
    lines += ["", "## Summary deltas", ""]
    rows = []
    for lvl, o in cmp["overall"].items():
        for k, v in o.items():
            fmt = (lambda x: num(x, 2)) if k == "fp_per_minute" else (num if "auc" in k else pct)
            dfmt = (lambda x: "–" if x is None else f"{x:+.2f}") if k == "fp_per_minute" else (
                (lambda x: "–" if x is None else f"{x:+.3f}") if "auc" in k else _pp)
            rows.append([f"{lvl} {k}", fmt(v["baseline"]), fmt(v["candidate"]), dfmt(v["delta"])])
    for k, v in cmp["tier1_recall"].items():
        rows.append([f"tier-1 recall {pretty(k)}", pct(v["baseline"]), pct(v["candidate"]), _pp(v["delta"])])
    for k, v in cmp["variation_accuracy"].items():
        rows.append([f"variation accuracy {pretty(k)}", pct(v["baseline"]), pct(v["candidate"]), _pp(v["delta"])])
    lines += [md_table(["Metric", a, b, "Δ"], rows)]
    lines += ["", "## Frame-level AUC", ""]
    for lvl, arows in cmp["frame_auc"].items():
        if not arows or all(r["pr_auc_baseline"] is None for r in arows):
            continue
        lines += [f"### {lvl}", "", md_table(
            ["Class", f"{a} ROC-AUC", f"{b} ROC-AUC", "Δ", f"{a} PR-AUC", f"{b} PR-AUC", "Δ"],
            [[pretty(r["class"]), num(r["roc_auc_baseline"]), num(r["roc_auc_candidate"]),
              "–" if r["delta_roc_auc"] is None else f"{r['delta_roc_auc']:+.3f}",
              num(r["pr_auc_baseline"]), num(r["pr_auc_candidate"]),
              "–" if r["delta_pr_auc"] is None else f"{r['delta_pr_auc']:+.3f}"] for r in arows]), ""]
    for key, fig in figures.items():
        if key.startswith("pr_curves"):
            lines += [f"![{key}]({fig})", ""]
    lines += ["## False positives per minute", "", md_table(
        ["Class", a, b, "Δ"],
        [[pretty(c), num(v["baseline"], 2), num(v["candidate"], 2), "–" if v["delta"] is None else f"{v['delta']:+.2f}"]
         for c, v in cmp["fp_per_minute"].items()])]
    if cmp["slices"]:
        lines += ["", "## Slices", "", md_table(
            ["Slice", "Metric", a, b, "Δ"],
            [[k, v["metric"], pct(v["baseline"]), pct(v["candidate"]), _pp(v["delta"])] for k, v in cmp["slices"].items()])]
    lines += ["", "## Failure analysis", ""]
    for title, key in (("Largest regressions (candidate worse)", "largest_regressions"),
                       ("Largest improvements", "largest_improvements")):
        lines += [f"### {title}", ""]
        rows = [[f"`{t['track']}`", pct(t["baseline_f1"]), pct(t["candidate_f1"]), _pp(t["delta_f1"]), t["n_ref"],
                 ", ".join(f"{k}={t[k]}" for k in ("beat_type", "kit_name") if t.get(k))] for t in cmp[key]]
        lines += [md_table(["Track", f"{a} F1", f"{b} F1", "ΔF1", "Ref", "Meta"], rows, "lrrrrl") if rows else "None.", ""]
    lines += [f"Worst tracks of {b}: " + (", ".join(f"`{t}`" for t in cmp["worst_candidate_tracks"]) or "none"),
              "", f"Worst tracks of {a}: " + (", ".join(f"`{t}`" for t in cmp["worst_baseline_tracks"]) or "none"), ""]
    for key, fig in figures.items():
        if key.startswith("pianoroll"):
            lines += [f"![{key}]({fig})", ""]
    return "\n".join(lines) + "\n"


def make_figures(cmp: dict, curves_a: dict, curves_b: dict, fig_dir: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    rel = fig_dir.name
    a, b = cmp["baseline"], cmp["candidate"]
    rows = [r for r in cmp["table"] if not r["label"].startswith("Overall")]
    cats = [r["class"] for r in rows]
    out["f1_bars"] = f"{rel}/" + plots.bars(
        fig_dir / "f1_bars.png", "Onset F1", cats,
        {a: [r["baseline"]["f_measure"] for r in rows], b: [r["candidate"]["f_measure"] for r in rows]}).name
    out["f1_delta"] = f"{rel}/" + plots.bars(
        fig_dir / "f1_delta.png", f"Δ (candidate {b} − baseline {a})", cats,
        {k: [r["delta"][key] for r in rows] for k, key in (("ΔRec", "recall"), ("ΔPrec", "precision"), ("ΔF1", "f_measure"))},
        ylim=None, ylabel="difference").name
    for lvl in curves_a:
        if curves_a.get(lvl) and curves_b.get(lvl):
            classes = [c for c in curves_a[lvl] if c in curves_b[lvl]]
            out[f"pr_curves_{lvl}"] = f"{rel}/" + plots.pr_curves(
                fig_dir / f"pr_curves_{lvl}.png", f"Frame PR curves ({lvl})", {a: curves_a[lvl], b: curves_b[lvl]},
                classes).name
    return out


def pianoroll_figures(cmp: dict, eval_a, eval_b, fig_dir: Path, n: int = 3, seconds: float = 8.0) -> dict[str, str]:
    """Excerpts of the largest regressions (then the candidate's worst tracks): both models
    against the truth on the same stretch."""
    out: dict[str, str] = {}
    ta, tb = {t.key: t for t in eval_a.tracks}, {t.key: t for t in eval_b.tracks}
    keys = [t["track"] for t in cmp["largest_regressions"]] + list(cmp["worst_candidate_tracks"])
    keys = [k for i, k in enumerate(keys) if k in ta and k in tb and k not in keys[:i]][:n]
    level = "fine" if "fine" in eval_b.levels else eval_b.slice_level
    scheme = eval_b.levels[level]
    w = eval_b.settings.window_s
    for i, key in enumerate(keys, start=1):
        span = plots.error_window(tb[key], scheme, w, seconds)
        path = plots.pianoroll(fig_dir / f"pianoroll_{i}_{safe_name(key, 40)}.png",
                               f"{key}: {span[0]:.1f}-{span[1]:.1f} s", {cmp["baseline"]: ta[key], cmp["candidate"]: tb[key]},
                               scheme, w, span)
        out[f"pianoroll_{i}"] = f"{fig_dir.name}/{path.name}"
    return out


def write_comparison(
    out_dir: Path,
    summary_a: dict,
    summary_b: dict,
    name_a: str,
    name_b: str,
    curves_a: dict | None = None,
    curves_b: dict | None = None,
    evaluations: tuple | None = None,
    n_tracks: int = 10,
    pianorolls: int = 3,
    pianoroll_seconds: float = 8.0,
    figures: bool = True,
) -> dict[str, Path]:
    """Write compare.md, compare.json and figures/ into ``out_dir``; ``evaluations`` (the two
    :class:`~drumtx.evaluation.scores.Evaluation` objects) adds piano-roll excerpts."""
    out_dir = Path(out_dir)
    if name_a == name_b:
        name_a, name_b = f"{name_a} (baseline)", f"{name_b} (candidate)"
    cmp = comparison(summary_a, summary_b, name_a, name_b, n_tracks)
    fig_dir = out_dir / "figures"
    links: dict[str, str] = {}
    if figures:
        links = make_figures(cmp, curves_a or {}, curves_b or {}, fig_dir)
        if evaluations is not None:
            links.update(pianoroll_figures(cmp, *evaluations, fig_dir, pianorolls, pianoroll_seconds))
    return {
        "json": write_json(out_dir / "compare.json", cmp, allow_nan=False),
        "report": atomic_write_text(out_dir / "compare.md", render_markdown(cmp, links)),
        "figures": fig_dir,
    }


def _load_run(folder: Path) -> tuple[dict, dict, str]:
    metrics = folder / "metrics.json"
    if not metrics.is_file():
        raise FileNotFoundError(f"{folder}: no metrics.json (not an evaluation folder)")
    try:
        summary = json.loads(metrics.read_text())
        curves_path = folder / "curves.json"
        curves = json.loads(curves_path.read_text()) if curves_path.is_file() else {}
    except (OSError, ValueError) as exc:
        raise ValueError(f"{folder}: unreadable evaluation report ({exc})") from None
    if not isinstance(summary, dict) or not isinstance(summary.get("levels"), dict):
        raise ValueError(f"{metrics}: not a drumtx.evaluate metrics.json (no levels)")
    return undefined_as_none(summary), curves, summary.get("info", {}).get("model", folder.name)


def main(argv: Sequence[str] | None = None) -> int:
    p = parser(PROG, __doc__.split("\n\n")[0])
    p.add_argument("baseline", type=Path, help="evaluation folder of the baseline (has metrics.json)")
    p.add_argument("candidate", type=Path, help="evaluation folder of the candidate")
    p.add_argument("-o", "--out", type=Path, required=True, help="folder for compare.md / compare.json / figures/")
    p.add_argument("--tracks", type=int, default=10, help="tracks listed per failure table")
    args = p.parse_args(argv)
    try:
        sa, ca, na = _load_run(args.baseline)
        sb, cb, nb = _load_run(args.candidate)
    except (FileNotFoundError, ValueError, KeyError, json.JSONDecodeError) as exc:
        error(PROG, exc)
        return EXIT_USAGE  # an unreadable evaluation folder is bad usage (drumtx.cli)
    out = output_folder(PROG, args.out)
    try:
        paths = write_comparison(out, sa, sb, na, nb, ca, cb, n_tracks=args.tracks)
    except (ValueError, KeyError) as exc:  # two reports that cannot be lined up
        error(PROG, exc)
        return EXIT_USAGE
    except OSError as exc:
        error(PROG, f"{args.out}: cannot write the comparison ({exc})")
        return EXIT_USAGE
    print(f"comparison written to {paths['report']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
