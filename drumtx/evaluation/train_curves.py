"""Validation curves of training runs, side by side, against steps or training time.

    python -m drumtx.evaluation.train_curves -o experiments/default_model_v2/width \\
        "crnn_small=outputs/default_model_v2/width_small_s42" \\
        "crnn_medium=outputs/default_model_v2/width_medium_s42"

Reads each run folder's CSV logs (``<run>/csv/version_*/metrics.csv``, written by
``logger=csv``; a resumed run's versions are joined, a later version's value winning at a step
both logged), keeps the validation points, and writes ``curves.md`` (one row per validation:
step, training seconds, the metrics), ``curves.json`` and ``curves.png`` (each metric against
training time where every run logged ``time/train_seconds`` (``callbacks.train_clock``), else,
or with ``--x step``, against the step). No model is run.

Raises (one line, exit 2): a run folder without CSV logs or without a validation point.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Sequence
from pathlib import Path

from drumtx.atomic import atomic_write_text, write_json
from drumtx.cli import EXIT_USAGE, add_version, fail, prog_name
from drumtx.evaluation import plots
from drumtx.evaluation.report import md_table

PROG = "drumtx.evaluation.train_curves"
CLOCK = "time/train_seconds"
DEFAULT_METRICS = ("val/pr_auc_mean", "val/onset_f_mean")


class CurveError(ValueError):
    """A run folder holds no validation curve."""


def read_curve(run: Path, metrics: Sequence[str]) -> list[dict[str, float]]:
    """The validation points of one run, by step: ``[{"step", "epoch", CLOCK?, metric...}]``.

    Raises:
        CurveError: no ``csv/version_*/metrics.csv`` under ``run``, or no row with ``metrics[0]``.
    """
    files = sorted(
        (p for p in (Path(run) / "csv").glob("version_*/metrics.csv") if p.parent.name[8:].isdigit()),
        key=lambda p: int(p.parent.name[8:]),  # version_10 after version_2
    )
    if not files:
        raise CurveError(f"{run}: no csv/version_*/metrics.csv (train with logger=csv)")
    points: dict[int, dict[str, float]] = {}
    for path in files:
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                if not row.get(metrics[0]):
                    continue
                step = int(float(row["step"]))
                point = {"step": step, "epoch": int(float(row["epoch"]))}
                for key in (CLOCK, *metrics):
                    if row.get(key):
                        point[key] = float(row[key])
                points[step] = point
    if not points:
        raise CurveError(f"{run}: no validation point with {metrics[0]}")
    return [points[s] for s in sorted(points)]


def write_curves(
    out: Path, curves: dict[str, list[dict]], metrics: Sequence[str], title: str, x: str = "time"
) -> dict[str, Path]:
    """``curves.md``, ``curves.json`` and ``curves.png`` in ``out``; returns their paths. ``x``:
    ``"time"`` plots against training minutes where every point has them (else steps),
    ``"step"`` against the step."""
    out.mkdir(parents=True, exist_ok=True)
    timed = x == "time" and all(CLOCK in p for c in curves.values() for p in c)
    header = ["run", "step", "training min", *metrics]
    rows = [
        [name, str(p["step"]), f"{p[CLOCK] / 60:.1f}" if CLOCK in p else "",
         *(f"{p[m]:.4f}" if m in p else "" for m in metrics)]
        for name, c in curves.items() for p in c
    ]
    md = f"# {title}\n\nOne row per validation (`python -m {PROG}`).\n\n" + md_table(header, rows) + "\n"
    paths = {"md": out / "curves.md", "json": out / "curves.json", "png": out / "curves.png"}
    atomic_write_text(paths["md"], md)
    write_json(paths["json"], {"title": title, "x": CLOCK if timed else "step", "curves": curves})
    fig = plots.new_figure(5.0 * len(metrics), 3.8)
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    for ax, metric in zip(axes, metrics, strict=True):
        for name, c in curves.items():
            xs = [p[CLOCK] / 60 if timed else p["step"] for p in c if metric in p]
            ax.plot(xs, [p[metric] for p in c if metric in p], marker="o", label=name)
        ax.set_xlabel("training minutes (validation left out)" if timed else "optimizer step")
        ax.set_ylabel(metric)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    plots.save_figure(fig, paths["png"])
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=prog_name(PROG), description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", metavar="NAME=RUN_DIR", help="a run folder and its name in the table")
    parser.add_argument("-o", "--out", type=Path, required=True, help="folder for curves.md/.json/.png")
    parser.add_argument("--metric", action="append", default=None,
                        help=f"a logged validation metric (repeatable; default {', '.join(DEFAULT_METRICS)})")
    parser.add_argument("--title", default="Validation curves")
    parser.add_argument("--x", choices=["time", "step"], default="time",
                        help="plot against training minutes (where logged; default) or optimizer steps")
    add_version(parser)
    args = parser.parse_args(argv)
    metrics = args.metric or list(DEFAULT_METRICS)
    curves = {}
    for item in args.runs:
        name, sep, run = item.partition("=")
        if not sep or not name or not run:
            fail(PROG, f"{item!r}: expected NAME=RUN_DIR", EXIT_USAGE)
        if name in curves:
            fail(PROG, f"{name!r} names two runs", EXIT_USAGE)
        try:
            curves[name] = read_curve(Path(run), metrics)
        except CurveError as exc:
            fail(PROG, exc, EXIT_USAGE)
    paths = write_curves(args.out, curves, metrics, args.title, args.x)
    print(f"wrote {paths['md']} and {paths['png'].name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
