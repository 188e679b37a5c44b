"""Report of an Optuna sweep, read against the spread of the baseline's own reruns.

    python -m drumtx.evaluation.sweep_report --study loss_weights_finetune \\
        --storage sqlite:///multirun/optuna.db -o experiments/sweep_loss_weights_finetune \\
        --baseline-run "seed 43=outputs/finetune/design_seed43/metrics.json" \\
        --best-run "seed 43=outputs/finetune/best_seed43/metrics.json"

A sweep ranks trials by one number, and a trial beats the baseline only by more than that
number moves when nothing but the seed changes. The baseline is the study's first trial (the
enqueued defaults, see ``hydra.sweeper.enqueue_trials``) unless ``--baseline-trial`` names
another; ``--baseline-run``/``--best-run`` add reruns of the baseline's and of the best trial's
parameters with other seeds (their ``drumtx.train`` ``metrics.json``). Writes ``sweep.md``
(trials ranked, with per-instrument validation metrics from each trial's ``metrics.json``;
the verdict; Optuna's parameter importances), ``sweep.json`` and one scatter per parameter
in ``figures/`` with the baseline's seed band drawn in (Optuna's own slice plot cannot show it).
"""

from __future__ import annotations

import json
import math
import sys
import warnings
from pathlib import Path

from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter

from drumtx.atomic import atomic_write_text, write_json
from drumtx.cli import EXIT_USAGE, error
from drumtx.errors import one_line
from drumtx.evaluation import plots
from drumtx.evaluation.commands import output_folder, parser
from drumtx.evaluation.report import md_table, num

#: The command's name, first word of each error line.
PROG = "drumtx.evaluation.sweep_report"
#: Validation metrics shown beside the objective (``drumtx.train`` metrics.json ``final`` keys).
INSTRUMENTS = ("kick", "snare", "tom", "hihat", "ride", "crash")
EXTRA = ("val/onset_f_mean", *(f"val/inst/{i}/pr_auc" for i in INSTRUMENTS))


class SweepReportError(ValueError):
    """The study or a run file cannot be read; one line."""


def _final(path: Path) -> dict:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise SweepReportError(f"{path}: unreadable drumtx.train metrics.json ({exc})") from None
    if "value" not in data or "final" not in data:
        raise SweepReportError(f"{path}: not a drumtx.train metrics.json (no value/final)")
    return data


def _named(items: list[str], flag: str) -> dict[str, dict]:
    out = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise SweepReportError(f"{flag} takes NAME=path/to/metrics.json, got {item!r}")
        out[name] = _final(Path(path))
    return out


def _sqlite_file(storage: str) -> Path | None:
    """The database file of a ``sqlite:///`` URL (relative to the working folder), else None
    (another database, or SQLite in memory)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(storage)
    except ArgumentError:
        return None  # open_storage names the bad URL
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    database = url.database
    if database.startswith("file:"):  # sqlite:///file:path?uri=true
        database = database.removeprefix("file:").split("?")[0]
    return Path(database)


def load_study(storage: str, study_name: str):
    """The Optuna study ``study_name`` in ``storage``, opened without changing anything on disk.

    Args:
        storage: SQLAlchemy URL, e.g. ``sqlite:///multirun/optuna.db`` (a path relative to the
            working folder) or ``postgresql+psycopg://user:password@host:5432/db``.
        study_name: the study's name (``hydra.sweeper.study_name``).

    Returns:
        The ``optuna.Study``.

    Raises:
        SweepReportError: one line naming the storage (password hidden): a SQLite file that does
            not exist (it is not created), a URL or driver that cannot be used, a server that
            cannot be reached, or no study of that name in the storage.
    """
    import optuna
    from hydra_plugins.drumtx_optuna_sweeper._impl import StorageError, open_storage, redact

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    shown = redact(storage)
    path = _sqlite_file(storage)
    if path is not None and not path.is_file():
        raise SweepReportError(
            f"{shown}: no such study database (run a sweep first, or pass --storage sqlite:///path/to/optuna.db)"
        )
    try:
        rdb = open_storage(storage)
    except StorageError as exc:
        raise SweepReportError(str(exc)) from None
    except Exception as exc:  # e.g. a file that is not an Optuna database, or from another Optuna version
        cause = getattr(exc, "orig", None) or exc  # SQLAlchemy's wrapper adds the SQL and a link
        raise SweepReportError(f"{shown}: cannot open the study database ({one_line(cause)})") from None
    try:
        return optuna.load_study(study_name=study_name, storage=rdb)
    except KeyError:
        import difflib

        names = sorted(optuna.get_all_study_names(storage=rdb))
        close = difflib.get_close_matches(study_name, names, n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        raise SweepReportError(f"no study {study_name!r} in {shown} ({hint}studies: {', '.join(names) or 'none'})") from None


def load_trials(study) -> list[dict]:
    """Complete trials as dicts (number, value, params, final metrics of the trial's metrics.json).
    A trial whose metrics.json is unreadable keeps its value and params, without the extra columns."""
    from optuna.trial import TrialState

    trials = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        out_dir = t.user_attrs.get("output_dir")
        metrics = Path(out_dir) / "metrics.json" if out_dir else None
        final = {}
        if metrics is not None and metrics.is_file():
            try:
                final = _final(metrics)["final"]
            except SweepReportError as exc:
                print(f"{PROG}: warning: trial {t.number}: {exc}", file=sys.stderr)
        trials.append({"number": t.number, "value": t.value, "params": dict(t.params), "final": final})
    if not trials:
        raise SweepReportError(f"study {study.study_name!r} has no complete trial yet")
    return trials


def importances_of(study, n_complete: int) -> dict[str, float]:
    """Optuna's fANOVA parameter importances (empty below 4 complete trials)."""
    import optuna

    if n_complete < 4:
        return {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Optuna flags its importance API as experimental
        evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)  # reproducible forest
        try:
            return dict(optuna.importance.get_param_importances(study, evaluator=evaluator))
        except RuntimeError as exc:  # fANOVA's "Encountered zero total variance in all trees."
            if "zero total variance" not in str(exc):
                raise
            print(f"{PROG}: no parameter importances: the trials' values do not vary", file=sys.stderr)
            return {}


def spread(values: list[float]) -> tuple[float, float, float]:
    """(mean, min, max)."""
    return sum(values) / len(values), min(values), max(values)


def verdict(base: list[float], best: list[float]) -> str:
    """One sentence: does the best trial's range clear the baseline's?"""
    b_mean, b_lo, b_hi = spread(base)
    t_mean, t_lo, t_hi = spread(best)
    gain = t_mean - b_mean
    if len(base) < 2:
        return (f"The best trial is {gain:+.4f} above the baseline, but the baseline has one run: "
                "no seed spread to judge the gain against (add --baseline-run).")
    width = b_hi - b_lo
    if len(best) >= 2 and t_lo > b_hi:
        return (f"The best parameters beat the baseline: every run of them ({t_lo:.4f}–{t_hi:.4f}) is above "
                f"every run of the baseline ({b_lo:.4f}–{b_hi:.4f}); mean gain {gain:+.4f}.")
    if len(best) < 2 and t_mean > b_hi:
        return (f"The best trial ({t_mean:.4f}) is above every baseline run ({b_lo:.4f}–{b_hi:.4f}), "
                "but it has a single run, and the best of many trials is biased upwards: rerun it with "
                "other seeds (--best-run) before trusting the gain.")
    return (f"No trial is shown to beat the baseline: the best parameters' runs ({t_lo:.4f}–{t_hi:.4f}) "
            f"overlap the baseline's seed spread ({b_lo:.4f}–{b_hi:.4f}, width {width:.4f}); "
            f"mean difference {gain:+.4f}.")


def scatter_figures(trials: list[dict], base_values: list[float], out: Path, metric: str) -> dict[str, str]:
    """One panel per parameter: objective against value (log axis), baseline seed band shaded."""
    names = sorted({k for t in trials for k in t["params"]})
    if not names:
        return {}
    cols = min(len(names), 2)
    rows = math.ceil(len(names) / cols)
    fig = plots.new_figure(4.2 * cols, 3.0 * rows)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    lo, hi = min(base_values), max(base_values)
    for ax, name in zip(axes, names, strict=False):
        pts = [(t["params"][name], t["value"]) for t in trials if name in t["params"]]
        ax.axhspan(lo, hi, color="0.85", label="baseline seed spread" if hi > lo else None)
        ax.axhline(spread(base_values)[0], color="0.4", lw=1, ls="--", label="baseline")
        ax.scatter([p for p, _ in pts], [v for _, v in pts], c=range(len(pts)), cmap="viridis", s=28, zorder=3)
        if all(p > 0 for p, _ in pts):
            ax.set_xscale("log")
            ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
            ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
            ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel(name)
        ax.set_ylabel(metric)
    for ax in axes[len(names):]:
        ax.set_visible(False)
    axes[0].legend(fontsize=8, loc="lower right")
    fig.suptitle("Trials by parameter (colour: trial order)")
    plots.save_figure(fig, out / "figures" / "params.png")
    return {"params": "figures/params.png"}


def build(trials, importances, baseline_trial, baseline_runs, best_runs, metric, title):
    """(markdown, json-able summary)."""
    by_number = {t["number"]: t for t in trials}
    if baseline_trial not in by_number:
        raise SweepReportError(f"baseline trial {baseline_trial} is not a complete trial of the study")
    base = by_number[baseline_trial]
    ranked = sorted(trials, key=lambda t: -t["value"])
    best = ranked[0]
    base_values = [base["value"], *(r["value"] for r in baseline_runs.values())]
    best_values = [best["value"], *(r["value"] for r in best_runs.values())]
    params = sorted({k for t in trials for k in t["params"]})
    extra_cols = [e.removeprefix("val/").replace("/pr_auc", " PR-AUC").replace("inst/", "") for e in EXTRA]
    header = ["rank", "trial", metric, "Δ baseline", *params, *extra_cols]
    rows = []
    for rank, t in enumerate(ranked, 1):
        tag = " (baseline)" if t is base else ""
        rows.append([rank, f"{t['number']}{tag}", num(t["value"], 4), f"{t['value'] - base['value']:+.4f}",
                     *(num(t["params"].get(p), 3) for p in params), *(num(t["final"].get(e), 3) for e in EXTRA)])
    lines = [f"# {title}", "", f"{len(trials)} complete trials, ranked by `{metric}` (validation).", "",
             md_table(header, rows), ""]
    if baseline_runs or best_runs:
        rerun_rows = [[f"baseline (trial {base['number']})", "sweep", num(base["value"], 4)]]
        rerun_rows += [["baseline", n, num(r["value"], 4)] for n, r in baseline_runs.items()]
        rerun_rows += [[f"best (trial {best['number']})", "sweep", num(best["value"], 4)]]
        rerun_rows += [["best", n, num(r["value"], 4)] for n, r in best_runs.items()]
        lines += ["## Reruns with other seeds", "", md_table(["parameters", "run", metric], rerun_rows), ""]
    text = verdict(base_values, best_values)
    lines += ["## Verdict", "", text, ""]
    if importances:
        lines += ["## Parameter importances (Optuna, fANOVA)", "",
                  md_table(["parameter", "importance"], [[k, num(v, 3)] for k, v in importances.items()]), ""]
    summary = {
        "metric": metric,
        "baseline": {"trial": base["number"], "params": base["params"], "values": base_values},
        "best": {"trial": best["number"], "params": best["params"], "values": best_values},
        "verdict": text,
        "importances": importances,
        "trials": ranked,
        "baseline_runs": {n: r["value"] for n, r in baseline_runs.items()},
        "best_runs": {n: r["value"] for n, r in best_runs.items()},
    }
    return "\n".join(lines), summary


def main(argv: list[str] | None = None) -> int:
    ap = parser(PROG, __doc__.split("\n\n")[0])
    ap.add_argument("--study", required=True, help="Optuna study name (hydra.sweeper.study_name)")
    ap.add_argument("--storage", default="sqlite:///multirun/optuna.db", help="Optuna storage URL")
    ap.add_argument("-o", "--out", type=Path, help="folder for sweep.md, sweep.json, figures/")
    ap.add_argument("--print-best", action="store_true",
                    help="only print the best trial's parameters as overrides (to rerun them with other seeds)")
    ap.add_argument("--title", default=None)
    ap.add_argument("--metric", default="val/pr_auc_mean", help="name of the study's objective (for labels)")
    ap.add_argument("--baseline-trial", type=int, default=None, help="trial number of the baseline (default: first)")
    ap.add_argument("--baseline-run", action="append", default=[], metavar="NAME=metrics.json")
    ap.add_argument("--best-run", action="append", default=[], metavar="NAME=metrics.json")
    args = ap.parse_args(argv)
    if not args.print_best and args.out is None:
        ap.error("-o/--out is required (unless --print-best)")
    try:
        study = load_study(args.storage, args.study)
        trials = load_trials(study)
        if args.print_best:
            best = max(trials, key=lambda t: t["value"])
            print(" ".join(f"{k}={v!r}" for k, v in sorted(best["params"].items())))
            return 0
        baseline = args.baseline_trial if args.baseline_trial is not None else min(t["number"] for t in trials)
        markdown, summary = build(trials, importances_of(study, len(trials)), baseline, _named(args.baseline_run, "--baseline-run"),
                                  _named(args.best_run, "--best-run"), args.metric,
                                  args.title or f"Sweep {args.study}")
    except SweepReportError as exc:
        error(PROG, exc)
        return EXIT_USAGE
    output_folder(PROG, args.out)
    figures = scatter_figures(trials, summary["baseline"]["values"], args.out, args.metric)
    if figures:
        markdown += "\n![Trials by parameter](figures/params.png)\n"
    atomic_write_text(args.out / "sweep.md", markdown)
    write_json(args.out / "sweep.json", summary)
    print(f"wrote {args.out / 'sweep.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
