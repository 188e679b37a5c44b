"""The evaluation report of one model: metrics.json, curves.json, tracks.csv, report.md, figures/.

Layout of ``out_dir``::

    report.md          the human-readable report (tables + figures below)
    metrics.json       everything in report.md as data (plus per-track rows)
    curves.json        frame-level PR curves per level and class (for overlays in comparisons)
    tracks.csv         one row per track, worst first
    figures/           f1_<level>.png, pr_curves_<level>.png, fp_per_minute.png,
                       confusion_<branch>.png, variation_accuracy.png, slice_*.png,
                       pianoroll_<n>.png (worst tracks)
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from pathlib import Path

from drumtx.atomic import atomic_write_text, write_json
from drumtx.evaluation import plots
from drumtx.evaluation.plots import pretty
from drumtx.evaluation.scores import Evaluation

LEVEL_TITLES = {
    "branch": "Per branch",
    "instrument": "Per instrument",
    "fine": "Per fine class",
    "coarse": "Per shared coarse class",
}
# The classes of a level, for the labels of its overall figures ("over all instruments").
LEVEL_CLASSES = {
    "branch": "branches",
    "instrument": "instruments",
    "fine": "fine classes",
    "coarse": "shared classes",
}
UNDEFINED_NOTE = (
    "– marks a score that is undefined (precision without an estimated onset, recall without a "
    "reference onset, every score of a class with neither) or not measured; it enters no mean or "
    "delta."
)


def level_classes(name: str) -> str:
    return LEVEL_CLASSES.get(name, f"{name} classes")


# ------------------------------------------------------------------------------------ helpers


def pct(x, digits: int = 1) -> str:
    return "–" if x is None else f"{100 * x:.{digits}f}%"


def num(x, digits: int = 3) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def md_table(header: Sequence[str], rows: Sequence[Sequence], align: str | None = None) -> str:
    align = align or "l" + "r" * (len(header) - 1)
    sep = ["---:" if a == "r" else ":---" for a in align]
    out = ["| " + " | ".join(map(str, header)) + " |", "| " + " | ".join(sep) + " |"]
    out += ["| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |" for r in rows]
    return "\n".join(out)


def safe_name(text: str, limit: int = 60) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)[-limit:].strip("_") or "track"


def tracks_csv(rows: Sequence[dict]) -> str:
    if not rows:
        return ""
    fixed = ["track", "duration_s", "f_measure", "precision", "recall", "tp", "n_ref", "n_est"]
    extra = sorted({k for r in rows for k in r if k not in fixed and k != "classes"})
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fixed + extra, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()})
    return buf.getvalue()


# ------------------------------------------------------------------------------------ sections


def level_table(level: dict, name: str = "") -> str:
    """One level's table; ``name`` (the level) labels its overall row ("All instruments")."""
    rows = []
    for c, r in level["classes"].items():
        rows.append([
            pretty(c), r["support"], r["n_est"], pct(r["precision"]), pct(r["recall"]), pct(r["f_measure"]),
            pct(r["track_mean"]["f_measure"]), num(r["fp_per_minute"], 2), num(r["roc_auc"]), num(r["pr_auc"]),
        ])
    o = level["overall"]
    m = o["micro"]
    label = f"**All {level_classes(name)} (micro)**" if name else "**Overall (micro)**"
    rows.append([
        label, m["n_ref"], m["n_est"], pct(m["precision"]), pct(m["recall"]), pct(m["f_measure"]),
        pct(o["track_mean_f1"]), num(o["fp_per_minute"], 2), num(o["roc_auc_mean"]), num(o["pr_auc_mean"]),
    ])
    table = md_table(
        ["Class", "Support", "Est.", "Prec", "Rec", "F1", "F1 (track mean)", "FP/min", "ROC-AUC", "PR-AUC"], rows
    )
    extra = f"\n\nMacro F1 {pct(o['macro_f1'])}, weighted F1 {pct(o['weighted_f1'])} over {len(o['classes_scored'])} classes."
    if level.get("left_out"):
        extra += "\n\nLeft out: " + "; ".join(f"{pretty(k)} ({v})" for k, v in level["left_out"].items()) + "."
    return table + extra


def _group_table(groups: dict, classes: Sequence[str]) -> str:
    header = ["Class"] + [f"{v} (n={g['n_tracks']})" if g else v for v, g in groups.items()]
    rows = []
    for c in classes:
        rows.append([pretty(c)] + [pct(g["classes"][c]["f_measure"]) if g and g["classes"][c]["n_ref"] + g["classes"][c]["n_est"] else "–"
                                   for g in groups.values()])
    rows.append(["**Overall F1 (micro)**"] + [pct(g["overall"]["micro"]["f_measure"]) if g else "–" for g in groups.values()])
    return md_table(header, rows)


def _recall_table(parts: dict, classes: Sequence[str]) -> str:
    header = ["Class"] + [f"{k} recall" for k in parts] + [f"{k} n" for k in parts]
    rows = []
    for c in [*classes, "all"]:
        rows.append([pretty(c) if c != "all" else "**All**"] + [pct(p[c]["recall"]) for p in parts.values()]
                    + [p[c]["n_ref"] for p in parts.values()])
    return md_table(header, rows)


def render_markdown(summary: dict, info: dict, figures: dict[str, str]) -> str:
    s = summary
    lines = [f"# Evaluation: {info.get('model', 'model')}", ""]
    facts = [
        ("checkpoint", info.get("checkpoint")),
        ("data", info.get("data")),
        ("split", info.get("split")),
        ("tracks", f"{s['n_tracks']} ({s['duration_s'] / 60:.1f} min)"),
        ("onsets", f"{s['n_reference_onsets']} reference, {s['n_estimated_onsets']} estimated"),
        ("onset tolerance", f"±{s['settings']['window_s'] * 1000:.0f} ms (mir_eval)"),
    ]
    facts += [(k, v) for k, v in info.get("extra_facts", {}).items()]
    lines += [f"- **{k}**: {v}" for k, v in facts if v is not None]
    if info.get("thresholds"):
        th = info["thresholds"]
        lines += ["- **peak picking**: " + ", ".join(f"{k} {v['threshold']:.2f}/{v['min_gap_s'] * 1000:.0f} ms"
                                                    for k, v in th.items())]
    inference = info.get("inference") or {}
    if inference.get("presence_confidence"):
        lines += [f"- **drum presence gate**: an onset needs one of {', '.join(inference['presence_instruments'])} "
                  f"at {inference['presence_confidence']:g} within {inference['presence_seconds']:g} s"]
    elif inference:
        lines += ["- **drum presence gate**: none"]
    for note in info.get("notes", []):
        lines += [f"- {note}"]
    levels = s["levels"]
    primary = s["slice_level"]
    finest = "fine" if "fine" in levels else primary
    o = levels[finest]["overall"]
    # The coarser level beside the finest: its overall figures are the other "overall" numbers.
    coarse = next((n for n in ("instrument", "coarse", "branch") if n in levels and n != finest), None)
    what = level_classes(finest)
    lines += ["", "## Summary", ""]
    for name in (finest, coarse) if coarse else (finest,):
        m = levels[name]["overall"]["micro"]
        lines += [f"- Onset F1 over all {level_classes(name)} (micro): **{pct(m['f_measure'])}** "
                  f"(precision {pct(m['precision'])}, recall {pct(m['recall'])})"]
    lines += [
        f"- {what.capitalize()}: macro F1 {pct(o['macro_f1'])}, weighted F1 {pct(o['weighted_f1'])}, "
        f"per-track mean F1 {pct(o['track_mean_f1'])}",
        f"- Frame PR-AUC mean {num(o['pr_auc_mean'])}, ROC-AUC mean {num(o['roc_auc_mean'])} over the {what}",
        f"- False positives per minute: {num(o['fp_per_minute'], 2)} over all {what}"
        + (f", {num(levels[coarse]['overall']['fp_per_minute'], 2)} over all {level_classes(coarse)}" if coarse else ""),
    ]
    if s["tier1"]:
        parts = []
        for k, v in s["tier1"].items():
            parts.append(f"{pretty(k)} {pct(v.get('recall'))}" + (f" (n/a: {v['skipped']})" if v.get("skipped") else ""))
        lines += ["- Tier-1 recall: " + ", ".join(parts)]
    lines += [""]
    if coarse and finest == "fine":
        lines += ["A fine-class onset must have the right variation: an open hi-hat heard as closed is both a "
                  f"miss and a false alarm among the fine classes, but found among the {level_classes(coarse)}. "
                  "So the fine-class figures are lower, and their false positives per minute higher, than the "
                  f"overall rows of the {level_classes(coarse)}"
                  + (" and branches" if "branch" in levels and coarse != "branch" else "") + " below.", ""]
    lines += [UNDEFINED_NOTE]
    for name in ("branch", "instrument", "coarse", "fine"):
        if name not in levels:
            continue
        lines += ["", f"## {LEVEL_TITLES.get(name, name)}", "", level_table(levels[name], name)]
        if f"f1_{name}" in figures:
            lines += ["", f"![F1 per class]({figures[f'f1_{name}']})"]
    lines += ["", "## Threshold-independent frame scores", ""]
    lines += ["Frame ROC-AUC / PR-AUC (average precision) over every frame; a frame is positive where a "
              f"reference onset lands (frame tolerance {s['settings']['frame_tolerance']})."]
    for key, fig in figures.items():
        if key.startswith("pr_curves"):
            lines += ["", f"![PR curves]({fig})"]
    lines += ["", "## False positives per minute (the frustration figure)", "",
              f"Per {finest} class: a {'wrong variation' if finest == 'fine' else 'wrong class'} counts as a false alarm.",
              ""]
    if "fp_per_minute" in figures:
        lines += [f"![False positives per minute]({figures['fp_per_minute']})"]
    va = s["variation_accuracy"]
    lines += ["", "## Hierarchical quality", ""]
    if va:
        lines += ["Variation accuracy given the right instrument: among reference onsets matched by an "
                  "estimate of the same instrument, the share with the right variation.", ""]
        rows = [[pretty(k), pct(v["accuracy"]), v["n_matched"],
                 ", ".join(f"{pretty(lab)} {pct(p['accuracy'])} (n={p['n_matched']})" for lab, p in v["per_variation"].items())]
                for k, v in va.items()]
        lines += [md_table(["Instrument", "Accuracy", "Matched", "Per variation"], rows, "lrrl")]
        if "variation_accuracy" in figures:
            lines += ["", f"![Variation accuracy]({figures['variation_accuracy']})"]
    lines += ["", "Onset confusion matrices (rows: reference, columns: estimate; `none` = missed / false alarm):", ""]
    for key, fig in figures.items():
        if key.startswith("confusion_"):
            lines += [f"![{key}]({fig})"]
    lines += ["", "## Slices", ""] + _slices_md(s["slices"], list(levels[primary]["classes"]), figures)
    lines += ["", "## Worst tracks", ""]
    rows = [[f"`{r['track']}`", pct(r["f_measure"]), pct(r["precision"]), pct(r["recall"]), r["n_ref"], r["n_est"],
             ", ".join(f"{k}={r[k]}" for k in ("beat_type", "kit_name", "style") if r.get(k))]
            for r in s["tracks"] if r["track"] in s["worst_tracks"]]
    lines += [md_table(["Track", "F1", "Prec", "Rec", "Ref", "Est", "Meta"], rows, "lrrrrrl") if rows else "No tracks."]
    for key, fig in figures.items():
        if key.startswith("pianoroll"):
            lines += ["", f"![{key}]({fig})"]
    if info.get("annotation_counts"):
        ac = info["annotation_counts"]
        lines += ["", "## Annotation labels", ""]
        lines += [f"- kept: {ac['kept']}", f"- ignored by the label map: {ac['ignored'] or 'none'}",
                  f"- unknown to the label map (left out): {ac['unknown'] or 'none'}"]
    if info.get("problems"):
        lines += ["", "## Tracks left out", ""] + [f"- {p}" for p in info["problems"]]
    return "\n".join(lines) + "\n"


def _slices_md(sl: dict, classes: Sequence[str], figures: dict[str, str]) -> list[str]:
    lines = []
    titles = {"beat_type": "Fills versus grooves (beat_type)", "kit_name": "Per kit (kit_name)"}
    for col, groups in sl["groups"].items():
        lines += [f"### {titles.get(col, col)}", "", "Onset F1 per class on the tracks of each value.", "",
                  _group_table(groups, classes)]
        if f"slice_{col}" in figures:
            lines += ["", f"![{col}]({figures[f'slice_{col}']})"]
        lines += [""]
    g = sl["ghost_notes"]
    lines += ["### Ghost notes", "", f"Recall of reference onsets with {g['definition']}.", ""]
    lines += [_recall_table({"ghost": g["ghost"], "other": g["other"]}, classes) if g["available"]
              else "No velocities in these annotations."]
    if "slice_ghost_notes" in figures:
        lines += ["", f"![ghost notes]({figures['slice_ghost_notes']})"]
    si = sl["simultaneous"]
    lines += ["", "### Simultaneous hits", "", f"Recall of reference onsets with {si['definition']}.", ""]
    lines += [_recall_table({"simultaneous": si["simultaneous"], "isolated": si["isolated"]}, classes)]
    if "slice_simultaneous" in figures:
        lines += ["", f"![simultaneous]({figures['slice_simultaneous']})"]
    so = sl["soft_tracks"]
    lines += ["", "### Soft dynamics", ""]
    if so["available"]:
        lines += [f"Tracks with {so['definition']} against the rest (onset F1):", "",
                  _group_table({"soft": so["soft"], "other": so["other"]}, classes)]
        if "slice_soft_tracks" in figures:
            lines += ["", f"![soft tracks]({figures['slice_soft_tracks']})"]
        lines += ["", "Recall by reference velocity:", ""]
        bins = sl["velocity_bins"]["bins"]
        rows = [[pretty(c)] + [pct(b[c]["recall"]) for b in bins.values()] for c in [*classes, "all"]]
        lines += [md_table(["Class"] + [f"vel {k}" for k in bins], rows)]
        if "slice_velocity" in figures:
            lines += ["", f"![recall by velocity]({figures['slice_velocity']})"]
    else:
        lines += ["No velocities in these annotations."]
    return lines


# ------------------------------------------------------------------------------------ figures


def make_figures(evaluation: Evaluation, fig_dir: Path, pianorolls: int = 3, pianoroll_seconds: float = 8.0) -> dict[str, str]:
    """Every figure of the report; returns key -> path relative to the report."""
    s = evaluation.summary()
    levels = s["levels"]
    rel = fig_dir.name
    out: dict[str, str] = {}

    def add(key: str, path: Path) -> None:
        out[key] = f"{rel}/{path.name}"

    for name, level in levels.items():
        cls = list(level["classes"])
        rows = level["classes"]
        add(f"f1_{name}", plots.bars(
            fig_dir / f"f1_{name}.png", f"Onset scores ({name})", cls,
            {"precision": [rows[c]["precision"] if rows[c]["n_est"] else None for c in cls],
             "recall": [rows[c]["recall"] if rows[c]["n_ref"] else None for c in cls],
             "F1": [rows[c]["f_measure"] if rows[c]["n_ref"] + rows[c]["n_est"] else None for c in cls]},
            annotate=[f"n={rows[c]['support']}" for c in cls]))
        if evaluation.curves.get(name):
            add(f"pr_curves_{name}", plots.pr_curves(
                fig_dir / f"pr_curves_{name}.png", f"Frame PR curves ({name})", {"model": evaluation.curves[name]}, cls))
    finest = "fine" if "fine" in levels else s["slice_level"]
    fp = levels[finest]["classes"]
    add("fp_per_minute", plots.bars(
        fig_dir / "fp_per_minute.png", f"False positives per minute ({finest})", list(fp),
        {"FP/min": [r["fp_per_minute"] for r in fp.values()]}, ylabel="false positives / minute", ylim=None))
    va = s["variation_accuracy"]
    if va:
        add("variation_accuracy", plots.bars(
            fig_dir / "variation_accuracy.png", "Variation accuracy given the right instrument", list(va),
            {"accuracy": [v["accuracy"] for v in va.values()]}, annotate=[f"n={v['n_matched']}" for v in va.values()]))
    for name, conf in s["confusion"].items():
        add(f"confusion_{name}", plots.confusion(
            fig_dir / f"confusion_{safe_name(name)}.png", f"Onset confusion: {pretty(name)}", conf["labels"], conf["matrix"]))
    sl = s["slices"]
    classes = list(levels[s["slice_level"]]["classes"])
    for col, groups in sl["groups"].items():
        series = {v: [g["classes"][c]["f_measure"] if g and g["classes"][c]["n_ref"] + g["classes"][c]["n_est"] else None
                      for c in classes] for v, g in groups.items()}
        add(f"slice_{col}", plots.bars(fig_dir / f"slice_{safe_name(col)}.png", f"Onset F1 by {col}", classes, series))
    if sl["ghost_notes"]["available"]:
        g = sl["ghost_notes"]
        add("slice_ghost_notes", plots.bars(
            fig_dir / "slice_ghost_notes.png", f"Recall: ghost notes ({g['definition']})", [*classes, "all"],
            {k: [g[k][c]["recall"] for c in [*classes, "all"]] for k in ("ghost", "other")}, ylabel="recall"))
    si = sl["simultaneous"]
    add("slice_simultaneous", plots.bars(
        fig_dir / "slice_simultaneous.png", f"Recall: simultaneous hits ({si['definition']})", [*classes, "all"],
        {k: [si[k][c]["recall"] for c in [*classes, "all"]] for k in ("simultaneous", "isolated")}, ylabel="recall"))
    if sl["soft_tracks"]["available"]:
        so = sl["soft_tracks"]
        series = {k: [so[k]["classes"][c]["f_measure"] if so[k] else None for c in classes] for k in ("soft", "other")}
        add("slice_soft_tracks", plots.bars(fig_dir / "slice_soft_tracks.png", f"Onset F1: {so['definition']}",
                                            classes, series))
        bins = sl["velocity_bins"]["bins"]
        add("slice_velocity", plots.lines(
            fig_dir / "slice_velocity.png", "Recall by reference velocity", list(bins),
            {c: [b[c]["recall"] for b in bins.values()] for c in [*classes, "all"]}, "recall"))
    # Piano rolls of the worst tracks, at the finest level scored.
    scheme = evaluation.levels[finest]
    by_key = {t.key: t for t in evaluation.tracks}
    for n, key in enumerate(s["worst_tracks"][:pianorolls], start=1):
        track = by_key[key]
        span = plots.error_window(track, scheme, evaluation.settings.window_s, pianoroll_seconds)
        add(f"pianoroll_{n}", plots.pianoroll(
            fig_dir / f"pianoroll_{n}.png", f"Worst track {n}, {span[0]:.1f}-{span[1]:.1f} s",
            {"model": track}, scheme, evaluation.settings.window_s, span))
    return out


def write_report(
    out_dir: Path,
    evaluation: Evaluation,
    info: dict,
    pianorolls: int = 3,
    pianoroll_seconds: float = 8.0,
    figures: bool = True,
) -> dict[str, Path]:
    """Write the whole report of one evaluation into ``out_dir``; returns the main paths.
    ``figures=False`` skips the plots (the tables and JSON are complete without them)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = evaluation.summary()
    figures = make_figures(evaluation, out_dir / "figures", pianorolls, pianoroll_seconds) if figures else {}
    paths = {
        "metrics": write_json(out_dir / "metrics.json", {"info": info, **summary}, allow_nan=False),
        "curves": write_json(out_dir / "curves.json", evaluation.curves, allow_nan=False),
        "tracks": atomic_write_text(out_dir / "tracks.csv", tracks_csv(summary["tracks"])),
        "report": atomic_write_text(out_dir / "report.md", render_markdown(summary, info, figures)),
    }
    paths["figures"] = out_dir / "figures"
    return paths


def flat_metrics(summary: dict, prefix: str = "test") -> dict[str, float]:
    """Scalar metrics for an experiment logger: ``test/<level>/<class>/f1`` and friends."""
    out = {}
    for name, level in summary["levels"].items():
        for c, r in level["classes"].items():
            for k, short in (("precision", "precision"), ("recall", "recall"), ("f_measure", "f1"),
                             ("roc_auc", "roc_auc"), ("pr_auc", "pr_auc"), ("fp_per_minute", "fp_per_min")):
                if r.get(k) is not None:
                    out[f"{prefix}/{name}/{c}/{short}"] = float(r[k])
        o = level["overall"]
        for k in ("macro_f1", "weighted_f1", "track_mean_f1", "pr_auc_mean", "roc_auc_mean", "fp_per_minute"):
            if o.get(k) is not None:
                out[f"{prefix}/{name}/{k}"] = float(o[k])
        if o["micro"].get("f_measure") is not None:
            out[f"{prefix}/{name}/micro_f1"] = float(o["micro"]["f_measure"])
    for c, v in summary["tier1"].items():
        if v.get("recall") is not None:
            out[f"{prefix}/tier1/{c}/recall"] = float(v["recall"])
    for c, v in summary["variation_accuracy"].items():
        if v.get("accuracy") is not None:
            out[f"{prefix}/variation_accuracy/{c}"] = float(v["accuracy"])
    return out
