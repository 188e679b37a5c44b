"""Validation curves of training runs, side by side, against steps or training time.

    python -m drumtx.evaluation.train_curves -o experiments/default_model_v2/width \\
        "crnn_small=outputs/default_model_v2/width_small_s42" \\
        "crnn_medium=outputs/default_model_v2/width_medium_s42"

Reads each run folder's CSV logs (``<run>/csv/version_*/metrics.csv``, which every
training run writes beside its logger unless ``csv_log=false``; a resumed run's versions are joined, a later version's value winning at a step
both logged), keeps the validation points, and writes ``curves.md`` (one row per validation:
step, training seconds, the metrics), ``curves.json`` and ``curves.png`` (each metric against
training time where every run logged ``time/train_seconds`` (``callbacks.train_clock``), else,
or with ``--x step``, against the step). No model is run. When a run's points lack the training
time, ``--x time`` (the default) says so in one warning line naming the runs, and plots every
run against the step.

Raises (one line, exit 2): a run folder that does not exist, one without CSV logs or without a
validation point, an output path that is not a folder.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Sequence
from pathlib import Path

from drumtx.atomic import atomic_write_text, write_json
from drumtx.cli import EXIT_USAGE, error, fail
from drumtx.evaluation import plots
from drumtx.evaluation.commands import output_folder, parser
from drumtx.evaluation.report import md_table

PROG = "drumtx.evaluation.train_curves"
CLOCK = "time/train_seconds"
DEFAULT_METRICS = ("val/pr_auc_mean", "val/onset_f_mean")


class CurveError(ValueError):
    """A run folder holds no validation curve."""


def read_curve(run: Path, metrics: Sequence[str]) -> list[dict[str, float]]:
    """The validation points of one run, by step: ``[{"step", "epoch", CLOCK?, metric...}]``.

    Raises:
        CurveError: ``run`` is not a folder, no ``csv/version_*/metrics.csv`` under it, or no row
            with ``metrics[0]``.
    """
    if not Path(run).exists():
        raise CurveError(f"{run}: no such run folder")
    if not Path(run).is_dir():
        raise CurveError(f"{run}: not a folder (a run folder holds csv/version_*/metrics.csv)")
    files = sorted(
        (p for p in (Path(run) / "csv").glob("version_*/metrics.csv") if p.parent.name[8:].isdigit()),
        key=lambda p: int(p.parent.name[8:]),  # version_10 after version_2
    )
    if not files:
        raise CurveError(f"{run}: no csv/version_*/metrics.csv (trained with csv_log=false, or not a training run)")
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


def untimed_runs(curves: dict[str, list[dict]]) -> list[str]:
    """The runs with a validation point that has no training time (``time/train_seconds``)."""
    return [name for name, c in curves.items() if any(CLOCK not in p for p in c)]


def write_curves(
    out: Path, curves: dict[str, list[dict]], metrics: Sequence[str], title: str, x: str = "time"
) -> dict[str, Path]:
    """``curves.md``, ``curves.json`` and ``curves.png`` in ``out``; returns their paths. ``x``:
    ``"time"`` plots against training minutes where every point has them (else steps, with a
    note in curves.md and ``x_note`` in curves.json naming the runs without them), ``"step"``
    against the step. The "training min" column is left out when no point has the time."""
    out.mkdir(parents=True, exist_ok=True)
    untimed = untimed_runs(curves)
    timed = x == "time" and not untimed
    any_clock = any(CLOCK in p for c in curves.values() for p in c)
    header = ["run", "step", *(["training min"] if any_clock else []), *metrics]
    rows = [
        [name, str(p["step"]), *([f"{p[CLOCK] / 60:.1f}" if CLOCK in p else "–"] if any_clock else []),
         *(f"{p[m]:.4f}" if m in p else "–" for m in metrics)]
        for name, c in curves.items() for p in c
    ]
    note = ""
    if x == "time" and untimed:
        note = (f"Plotted against the optimizer step, not training time: {', '.join(untimed)} logged no "
                f"`{CLOCK}` (train with callbacks.train_clock).")
    md = f"# {title}\n\nOne row per validation (`python -m {PROG}`).\n\n"
    md += (note + "\n\n" if note else "") + md_table(header, rows) + "\n"
    paths = {"md": out / "curves.md", "json": out / "curves.json", "png": out / "curves.png"}
    atomic_write_text(paths["md"], md)
    record = {"title": title, "x": CLOCK if timed else "step", "curves": curves}
    if note:
        record["x_note"] = note
    write_json(paths["json"], record)
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
    ap = parser(PROG, __doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", metavar="[NAME=]RUN_DIR",
                    help="a run folder and its name in the table (default: the folder's name)")
    ap.add_argument("-o", "--out", type=Path, required=True, help="folder for curves.md/.json/.png")
    ap.add_argument("--metric", action="append", default=None,
                    help=f"a logged validation metric (repeatable; default {', '.join(DEFAULT_METRICS)})")
    ap.add_argument("--title", default="Validation curves")
    ap.add_argument("--x", choices=["time", "step"], default="time",
                    help="plot against training minutes (where every run logged them; default) or optimizer steps")
    args = ap.parse_args(argv)
    metrics = args.metric or list(DEFAULT_METRICS)
    curves = {}
    for item in args.runs:
        name, sep, run = item.partition("=")
        if not sep or Path(item).is_dir():  # a bare folder (one whose name holds "=" too) names itself
            name, run = Path(item).resolve().name, item
        if not name or not run:
            fail(PROG, f"{item!r}: expected [NAME=]RUN_DIR", EXIT_USAGE)
        if name in curves:
            fail(PROG, f"{name!r} names two runs", EXIT_USAGE)
        try:
            curves[name] = read_curve(Path(run), metrics)
        except CurveError as exc:
            fail(PROG, exc, EXIT_USAGE)
    untimed = untimed_runs(curves)
    if args.x == "time" and untimed:
        error(PROG, f"warning: no {CLOCK} in {', '.join(untimed)}: every run plotted against the step")
    out = output_folder(PROG, args.out)
    try:
        paths = write_curves(out, curves, metrics, args.title, args.x)
    except OSError as exc:
        fail(PROG, f"{out}: cannot write the curves ({exc})", EXIT_USAGE)
    print(f"wrote {paths['md']} and {paths['png'].name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
