"""Ship a trained bundle as the package's default model, with its model card.

    python -m drumtx.package_model outputs/default_model/best.safetensors \\
        --eval "unseen kits=outputs/default_model/eval_unseen_kits/metrics.json" \\
        --eval "training kits=outputs/default_model/eval_seen_kits/metrics.json" \\
        --command "python -m drumtx.train experiment=default_model ..."

copies ``best.safetensors`` + its ``.json`` sidecar (thresholds included) to
``drumtx/assets/default_model.*`` — what ``transcribe`` and ``evaluate`` load when no
checkpoint is given — and writes ``drumtx/assets/MODEL_CARD.md`` from the bundle's stored
config, the run's ``metrics.json`` and the evaluation reports, so that the card cannot drift
from the weights. Absolute paths of the training machine are replaced by ``<project>``.
The bundle is loaded first (weights only): a broken file is never shipped.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from drumtx import PROJECT_ROOT
from drumtx.atomic import atomic_output, atomic_write_text, write_json
from drumtx.bench import git_commit
from drumtx.checkpoint import load_transcriber
from drumtx.cli import module_parser
from drumtx.evaluation.report import md_table, pct
from drumtx.evaluation.scores import undefined_as_none
from drumtx.metrics import OnsetCounts, precision_lower_bound
from drumtx.models.transcriber import count_parameters

ASSETS = PROJECT_ROOT / "drumtx" / "assets"

# The aims on the unseen-kit test split (onset F-measure, 50 ms, micro over tracks).
AIMS_F = {"kick": 0.90, "snare": 0.90, "hihat": 0.90, "tom": 0.80, "ride": 0.80, "crash": 0.80}
AIM_CRASH_PRECISION = 0.85
AIM_VARIATION = {"hihat": 0.85, "ride": 0.85}


# The training machine's absolute paths, in the order they are replaced: the project, then its
# parent folder (where ``../shared`` data lives).
_PATH_SUBSTITUTES = [(str(PROJECT_ROOT), "<project>")]
if PROJECT_ROOT.parent != Path(PROJECT_ROOT.anchor):
    _PATH_SUBSTITUTES.append((str(PROJECT_ROOT.parent) + "/", "<project>/../"))


def held_out_kits(synth: dict) -> list[str]:
    """The test-only kits of a ``data.synth`` recipe: ``test_kits`` is a list of kit names, or
    ``{group: [names]}`` (the realism ladder's rungs, ``data=synth_songs``)."""
    spec = synth.get("test_kits") or []
    if isinstance(spec, dict):
        return [name for names in spec.values() for name in (names or [])]
    return list(spec)


def unseen_kits_scored(evals: dict[str, dict], train_kits: list[str]) -> list[str]:
    """The kits of the evaluation reports' tracks that the model never heard: each track's
    ``kit_name`` marked ``unseen:`` (drumtx.evaluate's ``kit_set``), without its ``+music``,
    that is not a training kit and not ``none`` (music alone), sorted.

    A bundle trained on a derivative recipe (``synth_songs_electronic``) lists only its own new
    test kits under ``test_kits``; the kits of the rungs it was scored on come from here."""
    names = set()
    for metrics in evals.values():
        for track in metrics.get("tracks") or []:
            kit = str(track.get("kit_name") or "")
            if track.get("kit_set") == "unseen" or kit.startswith("unseen:"):
                names.add(kit.removeprefix("unseen:").removesuffix("+music"))
    return sorted(names - set(train_kits) - {"none", ""})


def kit_lines(synth: dict, evals: dict[str, dict]) -> list[str]:
    """The model card's lines on the kits of a ``data.synth`` recipe: its training kits, its
    held-out kits (``test_kits``) and the other unseen kits its reports score it on
    (:func:`unseen_kits_scored`)."""
    held_out = held_out_kits(synth)
    groups = synth.get("test_kits")
    held_out_text = (
        "; ".join(f"{g}: {', '.join(names)}" for g, names in groups.items() if names)
        if isinstance(groups, dict)
        else ", ".join(held_out)
    )
    lines = [
        f"- training kits ({len(synth.get('train_kits', []))}): {', '.join(synth.get('train_kits', []))}",
        f"- held-out kits, never heard in training ({len(held_out)}): {held_out_text}",
    ]
    scored = [k for k in unseen_kits_scored(evals, synth.get("train_kits", [])) if k not in held_out]
    if scored:  # a derivative recipe's rungs: kits its own test_kits do not list
        lines.append(f"- other unseen kits its evaluation reports below score it on, never heard in training "
                     f"({len(scored)}): {', '.join(scored)}")
    return lines


def _optimized_text(run_metrics: dict, monitor: str | None) -> str:
    """The card's ``; best <metric> = <value>`` of a run, or, where the bundle's checkpoint was kept by
    another monitor (``callbacks.model_checkpoint.monitor``, e.g. the training clock), the
    optimized metric's last value and that monitor (runs before 2026-12-07 wrote the monitor's
    best under ``value``)."""
    name = run_metrics.get("optimized_metric")
    if monitor and monitor != name:
        last = (run_metrics.get("final") or {}).get(name)
        return (f"; last {name} = {last:.4f}" if isinstance(last, (int, float)) else "") + f" (bundle: the checkpoint by {monitor})"
    return f"; best {name} = {run_metrics.get('value'):.4f}"


def _map_strings(obj, fn):
    """``obj`` (a JSON-like value) with ``fn`` applied to every string in it."""
    if isinstance(obj, dict):
        return {k: _map_strings(v, fn) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_map_strings(v, fn) for v in obj]
    return fn(obj) if isinstance(obj, str) else obj


def _scrub_path(text: str) -> str:
    for path, substitute in _PATH_SUBSTITUTES:
        text = text.replace(path, substitute)
    return text


def _scrub(obj):
    """``obj`` (a JSON-like value) with the training machine's absolute paths replaced."""
    return _map_strings(obj, _scrub_path)


def project_paths(obj):
    """``obj`` (a JSON-like value, e.g. a packaged model's stored ``data`` config) with the
    ``<project>`` that :func:`_scrub` wrote for the packaging machine's project read as this
    project's root (``<project>/../shared`` becomes ``<this project>/../shared``)."""
    return _map_strings(obj, lambda text: text.replace("<project>", str(PROJECT_ROOT)))


def _instrument_table(evals: dict[str, dict]) -> str:
    rows = []
    for inst in next(iter(evals.values()))["levels"]["instrument"]["classes"]:
        cells = [m["levels"]["instrument"]["classes"].get(inst, {}) for m in evals.values()]
        rows.append([inst] + [f"{pct(c.get('precision'))} / {pct(c.get('recall'))} / **{pct(c.get('f_measure'))}**"
                              for c in cells])
    return md_table(["Instrument", *(f"{n}: P / R / **F**" for n in evals)], rows)


def _variation_table(evals: dict[str, dict]) -> str:
    rows = []
    for b, first in next(iter(evals.values()))["variation_accuracy"].items():
        cells = [m["variation_accuracy"].get(b, {}) for m in evals.values()]
        rows.append([f"{b} ({' / '.join(first['labels'])})"]
                    + [f"{pct(v.get('accuracy'))} (n={v.get('n_matched', 0)})" for v in cells])
    return md_table(["Given the instrument", *evals], rows)


def aims(metrics: dict) -> list[tuple[str, float, float | None, bool | None]]:
    """(aim, target, measured, met) rows of the issue's aims for one evaluation report."""
    classes = metrics["levels"]["instrument"]["classes"]
    rows = []
    for inst, target in AIMS_F.items():
        f = classes.get(inst, {}).get("f_measure")
        rows.append((f"{inst} onset F", target, f, None if f is None else f >= target))
    crash = classes.get("crash", {})
    p = crash.get("precision")
    met = None if p is None else p >= AIM_CRASH_PRECISION
    if p is not None and "n_est" in crash:
        # held as tune_thresholds holds its floor, by the 95 % Wilson interval's lower end: 2
        # crashes found of 916, both right, is a precision of 1 that shows nothing
        counts = OnsetCounts(int(crash["tp"]), int(crash["n_ref"]), int(crash["n_est"]))
        met = None if counts.n_est == 0 else precision_lower_bound(counts) >= AIM_CRASH_PRECISION
    rows.append(("crash precision (met if its 95 % interval is above)", AIM_CRASH_PRECISION, p, met))
    for b, target in AIM_VARIATION.items():
        a = metrics["variation_accuracy"].get(b, {}).get("accuracy")
        rows.append((f"{b} variation accuracy", target, a, None if a is None else a >= target))
    return rows


def model_card(
    meta: dict,
    n_params: int,
    size_bytes: int,
    run_metrics: dict | None,
    evals: dict[str, dict],
    command: str | None,
    commit: str,
    notes: list[str],
) -> str:
    cfg = meta.get("config", {})
    data, enc = cfg.get("data", {}), cfg.get("encoder", {})
    synth = data.get("synth") or {}
    trainer = cfg.get("trainer", {})
    name = meta.get("model_name")
    lines = [
        f"# drumtx default model{f' {name}' if name else ''}",
        "",
        "The model `python -m drumtx.transcribe` and `python -m drumtx.evaluate` use when no checkpoint",
        "is given (`drumtx/assets/default_model.safetensors` + `.json`; loaded without pickle).",
        "Written by `python -m drumtx.package_model` from the bundle and its evaluation reports.",
        "",
        "## Model",
        f"- {cfg.get('branches', {}).get('_target_', '?').rsplit('.', 1)[-1]} heads on "
        f"`{enc.get('_target_', '?').rsplit('.', 1)[-1]}` (channels {enc.get('channels')}, BiLSTM "
        f"{enc.get('rnn_layers')}×{enc.get('rnn_hidden')} per direction)"
        f"{', with a velocity head (MIDI velocity per fine class)' if cfg.get('branches', {}).get('velocity') else ''}"
        f": {n_params:,} parameters, "
        f"{size_bytes / 1e6:.1f} MB",
        f"- input: log-mel {meta['features'].get('n_mels')} bins at {meta['features'].get('sample_rate')} Hz, "
        f"{meta.get('fps')} frames/s; output classes: {', '.join(meta['vocab']['fine_classes'])}",
        "",
        "## Training",
        f"- data: `{data.get('name')}` — {data.get('format')} layout, note map `{data.get('note_map')}`, "
        f"target policy {json.dumps({k: data.get('targets', {}).get(k) for k in ('cross_stick', 'hihat_pedal', 'collision')})}",
    ]
    if synth:
        lines += kit_lines(synth, evals)
        if synth.get("variety") is not None:
            lines.append(f"- render variety: {json.dumps(synth.get('variety'))}")
        if synth.get("production") is not None:
            lines.append(f"- production chain per track (drumtx.synth.production): {json.dumps(synth['production'])}")
        if synth.get("accompaniment") is not None:
            acc = {k: v for k, v in synth["accompaniment"].items() if "soundfont" not in k}
            lines.append(f"- accompaniment (drumtx.synth.accompaniment): {json.dumps(acc)}")
    lines += [
        f"- augmentation: {json.dumps({k: v for k, v in cfg.get('augmentation', {}).items() if k != '_target_'})}",
        f"- optimiser {cfg.get('optimizer', {}).get('_target_', '?').rsplit('.', 1)[-1]} "
        f"lr {cfg.get('optimizer', {}).get('lr')}, scheduler "
        f"{cfg.get('scheduler', {}).get('_target_', '?').rsplit('.', 1)[-1]}, loss weights "
        f"{json.dumps({k: v for k, v in cfg.get('loss', {}).items() if not k.startswith('_') and isinstance(v, (int, float))})}",
        f"- trainer: max_time {trainer.get('max_time')}, {trainer.get('limit_train_batches')} batches of "
        f"{data.get('batch_size')} × {data.get('crop_seconds')} s per epoch, seed {cfg.get('seed')}",
    ]
    if run_metrics:
        secs = run_metrics.get("fit_seconds")
        lines.append(
            f"- ran {run_metrics.get('epoch')} epochs, {run_metrics.get('global_step')} steps"
            + (f", {secs / 3600:.2f} h of training" if secs else "")
            + (" in this run, resumed from an earlier one's checkpoint" if cfg.get("ckpt_path") else "")
            + _optimized_text(run_metrics, (cfg.get("callbacks") or {}).get("model_checkpoint", {}).get("monitor"))
        )
    if command:
        lines += ["", "Command:", "", "```", command, "```"]
    lines += ["", f"Packaged with the code of git commit `{commit}` (the commit that adds this model comes after it).", ""]

    tuning = meta.get("threshold_tuning") or {}
    lines += [
        "## Peak picking",
        f"Per-instrument thresholds tuned on the `{tuning.get('split', '?')}` split "
        f"({tuning.get('n_tracks', '?')} tracks) by `python -m drumtx.tune_thresholds`:",
        "",
        md_table(["Instrument", "Threshold", "Min gap"],
                 [[inst, f"{t['threshold']:.2f}", f"{1000 * t['min_gap_s']:.0f} ms"]
                  for inst, t in (meta.get("thresholds") or {}).items()]),
        "",
    ]
    lines += presence_lines(meta.get("presence"))

    if evals:
        lines += ["## Evaluation", ""]
        for name, m in evals.items():
            lines.append(
                f"- **{name}**: {m['info'].get('data')}, split `{m['info'].get('split')}`, {m['n_tracks']} tracks, "
                f"{m['duration_s'] / 3600:.2f} h, {m['n_reference_onsets']:,} reference onsets "
                f"({m['info'].get('extra_facts', {}).get('tracks selected', '')})"
            )
        lines += ["", "Onset precision / recall / F-measure (±50 ms, summed over tracks):", ""]
        lines.append(_instrument_table(evals))
        lines += ["", "Variation accuracy, given a matched instrument onset:", ""]
        lines.append(_variation_table(evals))
        rows = {name: aims(m) for name, m in evals.items()}
        lines += ["", "Aims of the project (set for the unseen kits):", ""]
        table = []
        for i, (aim, target, _, _) in enumerate(next(iter(rows.values()))):
            cells = []
            for r in rows.values():
                _, _, got, met = r[i]
                cells.append(f"{pct(got)} {'' if met is None else ('(met)' if met else '**(not met)**')}".strip())
            table.append([aim, pct(target), *cells])
        lines.append(md_table(["Aim", "Target", *rows], table))
        lines.append("")
    if notes:
        lines += ["## Limitations and notes", ""] + [f"- {n}" for n in notes] + [""]
    return "\n".join(lines)


def presence_lines(presence: dict | None) -> list[str]:
    """The model card's paragraph on the drum presence gate the bundle carries (none: no lines)."""
    if not presence:
        return []
    line = (f"Drum presence gate (the model's own; `drumtx.inference`): no onset of any instrument unless one of "
            f"{', '.join(presence['instruments'])} reaches {presence['confidence']:g} within "
            f"{presence['seconds']:g} s, so music without drums gets no invented hits. "
            "`--presence-confidence P|off` overrides it.")
    if presence.get("source"):
        line += f" Measured: {presence['source']}."
    return [line, ""]


def presence_entry(confidence: float, seconds: float | None = None, source: str | None = None) -> dict:
    """The bundle meta's ``presence`` (:meth:`drumtx.inference.InferenceSettings.for_model`): the
    gate's confidence, its reach in seconds (default: the inference config's) and the
    instruments that open it (the inference config's ``presence_instruments``).

    Raises:
        ValueError: confidence outside (0, 1) or a negative reach (one line).
    """
    from drumtx.inference import InferenceSettings

    defaults = InferenceSettings.from_config({})
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1 (exclusive), got {confidence:g}")
    seconds = defaults.presence_seconds if seconds is None else float(seconds)
    if not seconds >= 0.0:
        raise ValueError(f"the reach must be >= 0 s, got {seconds:g}")
    entry = {"confidence": confidence, "seconds": seconds, "instruments": list(defaults.presence_instruments)}
    if source:
        entry["source"] = source
    return entry


def main(argv: list[str] | None = None) -> int:
    ap = module_parser("drumtx.package_model", __doc__.splitlines()[0])
    ap.add_argument(
        "bundle", type=Path, help="a .safetensors bundle with its .json sidecar (thresholds tuned)"
    )
    ap.add_argument(
        "--eval",
        action="append",
        default=[],
        metavar="NAME=METRICS_JSON",
        help="an evaluation report (drumtx.evaluate's metrics.json) to put on the card; each is checked against the aims",
    )
    ap.add_argument(
        "--run-metrics", type=Path, default=None, help="the run's metrics.json (default: beside the bundle)"
    )
    ap.add_argument("--command", default=None, help="the training command, as run")
    ap.add_argument("--note", action="append", default=[], help="a limitation or note for the card")
    ap.add_argument(
        "--presence",
        type=float,
        default=None,
        metavar="CONFIDENCE",
        help="ship the drum presence gate with this confidence (0 < P < 1), measured for this model; with "
        "--presence-seconds and the inference config's presence_instruments; default: keep the bundle's own",
    )
    ap.add_argument("--presence-seconds", type=float, default=None, help="the gate's reach on each side (s)")
    ap.add_argument("--presence-source", default=None, help="where the gate was measured (for the card)")
    ap.add_argument("--name", default=None, help="the model's name, e.g. v2.1: on its card, and in every JSON "
                    "output drumtx.transcribe writes with it (model.name)")
    ap.add_argument("--out", type=Path, default=ASSETS, help="the assets folder")
    args = ap.parse_args(argv)

    try:
        model, meta = load_transcriber(args.bundle)
    except Exception as exc:  # noqa: BLE001 - any load failure is a one-line refusal
        print(f"drumtx.package_model: cannot load {args.bundle}: {exc}", file=sys.stderr)
        return 2
    if not meta.get("thresholds"):
        print(
            f"drumtx.package_model: {args.bundle} has no tuned thresholds; run drumtx.tune_thresholds first",
            file=sys.stderr,
        )
        return 2
    evals = {}
    for item in args.eval:
        name, sep, path = item.partition("=")
        if not sep or not Path(path).is_file():
            print(f"drumtx.package_model: --eval wants NAME=metrics.json, got {item!r}", file=sys.stderr)
            return 2
        try:
            # older reports stored an undefined score (a class with no reference and no estimate) as 1.0
            evals[name] = undefined_as_none(json.loads(Path(path).read_text()))
        except json.JSONDecodeError as exc:
            print(f"drumtx.package_model: {path} is not an evaluation report ({exc})", file=sys.stderr)
            return 2
    if args.presence is not None:
        try:
            meta["presence"] = presence_entry(args.presence, args.presence_seconds, args.presence_source)
        except ValueError as exc:
            print(f"drumtx.package_model: --presence: {exc}", file=sys.stderr)
            return 2
    if args.name is not None:
        if not args.name.strip() or args.name != " ".join(args.name.split()):
            print(f"drumtx.package_model: --name wants one line of text, got {args.name!r}", file=sys.stderr)
            return 2
        meta["model_name"] = args.name
    run_metrics_path = args.run_metrics or args.bundle.parent / "metrics.json"
    run_metrics = json.loads(run_metrics_path.read_text()) if run_metrics_path.is_file() else None

    args.out.mkdir(parents=True, exist_ok=True)
    weights = args.out / "default_model.safetensors"
    with atomic_output(weights) as tmp:
        shutil.copyfile(args.bundle, tmp)
    sidecar = _scrub(meta)  # the bundle's .json, as loaded and checked
    write_json(args.out / "default_model.json", sidecar)
    card = model_card(
        sidecar,
        count_parameters(model),
        weights.stat().st_size,
        _scrub(run_metrics) if run_metrics else None,
        {k: _scrub(v) for k, v in evals.items()},
        args.command,
        git_commit() or "unknown",
        args.note,
    )
    atomic_write_text(args.out / "MODEL_CARD.md", card)
    print(f"wrote {weights}, {weights.with_suffix('.json')}, {args.out / 'MODEL_CARD.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
