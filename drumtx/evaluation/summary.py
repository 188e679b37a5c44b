"""One table for many evaluation reports: an ablation's arms side by side.

    python -m drumtx.evaluation.summary -o experiments/transfer_ablation --title "Unseen kits" \\
        "baseline=outputs/default_model/eval_unseen_kits/metrics.json" \\
        "no augmentation=outputs/ablation/aug_none/eval_unseen_kits/metrics.json" ...

Reads the ``metrics.json`` that ``python -m drumtx.evaluate`` writes (no model is run), and
writes ``summary.md`` (instrument onset F with the change against the first report, crash
precision, variation accuracy, overall F per kit), ``summary.json`` and bar charts in
``figures/``. ``evaluate compare_ckpt=`` compares two models in depth; this lines up any number.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from drumtx.atomic import atomic_write_text, write_json
from drumtx.cli import add_version, prog_name
from drumtx.evaluation import plots
from drumtx.evaluation.report import md_table, pct

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
    for b in VARIATIONS:
        if b in metrics.get("variation_accuracy", {}):
            out[f"{b} variation accuracy"] = metrics["variation_accuracy"][b]["accuracy"]
    return out


def kits_of(metrics: dict) -> dict[str, float | None]:
    """Overall instrument onset F (micro) per ``kit_name`` slice of one report."""
    groups = metrics.get("slices", {}).get("groups", {}).get("kit_name", {})
    return {kit: g["overall"]["micro"]["f_measure"] for kit, g in sorted(groups.items()) if g}


def summarize(reports: dict[str, dict], title: str) -> tuple[str, dict, dict[str, list]]:
    """(markdown, json-able numbers, bar-chart series) for ``reports`` (the first is the reference)."""
    names = list(reports)
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
    md = [f"# {title}", "", f"Onset F-measure per instrument (±{1000 * reports[ref]['settings']['window_s']:.0f} ms, "
          f"micro over tracks); in brackets the change in points against **{ref}**.", "",
          md_table(["", *names], table)]
    if kit_names:
        md += ["", "## Per kit (overall instrument F, micro)", "", md_table(["kit", *names], kit_table)]
    md += ["", "## Reports", ""] + [f"- **{n}**: {m.get('info', {}).get('checkpoint', '?')} "
                                     f"({m.get('n_tracks')} tracks)" for n, m in reports.items()]
    numbers = {"reference": ref, "rows": rows, "kits": kits}
    instruments = [r for r in row_names if r.endswith(" F") and not r.startswith("overall")]
    bars = instruments + ["overall F (micro)"]
    series = {"instruments": [[i.removesuffix(" F").replace("overall F (micro)", "all instruments") for i in bars],
                              {n: [rows[n].get(i) for i in bars] for n in names}],
              "kits": [kit_names, {n: [kits[n].get(k) for k in kit_names] for n in names}]}
    return "\n".join(md) + "\n", numbers, series


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog=prog_name("drumtx.evaluation.summary"), description=__doc__.split("\n\n")[0])
    ap.add_argument("reports", nargs="+", metavar="NAME=METRICS_JSON",
                    help="evaluation reports (drumtx.evaluate's metrics.json); the first is the reference")
    ap.add_argument("-o", "--out", required=True, type=Path, help="folder for summary.md/.json and figures/")
    ap.add_argument("--title", default="Evaluation summary")
    add_version(ap)
    args = ap.parse_args(argv)
    reports = {}
    for spec in args.reports:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            ap.error(f"expected NAME=METRICS_JSON, got {spec!r}")
        try:
            metrics = json.loads(Path(path).read_text())
            metrics["levels"]["instrument"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            ap.error(f"{path}: not a drumtx.evaluate metrics.json ({type(exc).__name__}: {exc})")
        if name in reports:
            ap.error(f"report name {name!r} given twice")
        reports[name] = metrics
    md, numbers, series = summarize(reports, args.title)
    fig_dir = args.out / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    plots.bars(fig_dir / "instrument_f.png", f"{args.title}: onset F per instrument", *series["instruments"],
               ylabel="onset F")
    figures = ["![instrument F](figures/instrument_f.png)"]
    if series["kits"][0]:
        plots.bars(fig_dir / "kit_f.png", f"{args.title}: overall onset F per kit", *series["kits"], ylabel="onset F")
        figures.append("![per-kit F](figures/kit_f.png)")
    atomic_write_text(args.out / "summary.md", md + "\n" + "\n\n".join(figures) + "\n")
    write_json(args.out / "summary.json", numbers)
    print(md)
    print(f"wrote {args.out / 'summary.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
