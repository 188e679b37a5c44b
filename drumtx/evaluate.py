"""Evaluate a model, or compare two: ``python -m drumtx.evaluate [ckpt=…] [data=…] [split=test] …``.

Everything needed to decide whether a model is better, and why (the design's Phase 8): onset
P/R/F per fine class, instrument and branch (micro and per-track mean), frame ROC-/PR-AUC,
variation accuracy given the right instrument, confusion matrices, false positives per minute,
tier-1 recall, and the slices (fills vs grooves, kits, ghost notes, simultaneous hits, soft
dynamics). With ``compare_ckpt=`` the design's comparison table (Rec / Prec / F1 and deltas) too.
Where the references carry velocities: the velocity error on matched onsets and mir_eval's
transcription-with-velocity F (:mod:`drumtx.evaluation.velocity`), on the velocities a user gets
(the model's velocity output, else measured loudness).

What is scored (``source``):

* ``data``: a split of the data option (``data=…``, E-GMD format), features from the feature
  cache (prepared on the fly when missing), references with exact MIDI times;
* ``midi_folder``: audio files with a MIDI file of the same stem (``external.note_map``);
* ``text_folder``: audio files with ``onset_seconds label`` text files and a label map
  (``external.label_map``); both sides are scored on the classes they share.

Output (``out_dir`` or the Hydra run folder): the model's report (``report.md``, ``metrics.json``,
``curves.json``, ``tracks.csv``, ``figures/``); with a comparison also ``baseline/`` (the
baseline's own report) and ``compare/`` (``compare.md``, ``compare.json``, ``figures/``).
"""

from __future__ import annotations

import fnmatch
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from drumtx.checkpoint import PACKAGED_MODEL
from drumtx.cli import EXIT_SOME_FAILED, EXIT_USAGE, fail, hydra_main
from drumtx.config_schema import EVALUATE
from drumtx.data.datasets import as_list, kit_filter
from drumtx.decode import decode_onsets
from drumtx.evaluation.annotations import (
    AnnotationCounts,
    AnnotationError,
    LabelMap,
    read_text_annotations,
    shared_scheme,
)
from drumtx.evaluation.compare import write_comparison
from drumtx.evaluation.inference import fine_from_instruments, infer_audio, infer_mel
from drumtx.evaluation.matching import default_levels
from drumtx.evaluation.report import flat_metrics, write_report
from drumtx.evaluation.scores import EvalSettings, Evaluation, TrackEval
from drumtx.evaluation.velocity import estimated_velocities, velocity_scores
from drumtx.inference import InferenceSettings, resolve_device
from drumtx.targets import LabelCounts, TargetPolicy, read_midi_onsets
from drumtx.vocab import Vocabulary

if TYPE_CHECKING:
    from drumtx.transcriber import Transcriber

log = logging.getLogger(__name__)

MIDI_SUFFIXES = (".mid", ".midi")


class EvaluationSetupError(ValueError):
    """The evaluation cannot start (no checkpoint, unknown split, empty folder ...); one line."""


# ---------------------------------------------------------------------------------------- models


def find_default_checkpoint(search_dirs, packaged: Path = PACKAGED_MODEL) -> tuple[Path, str]:
    """The newest ``best.safetensors`` under ``search_dirs``, else the packaged model."""
    found = []
    for d in search_dirs:
        d = Path(d)
        if d.is_dir():
            found += [p for p in d.rglob("best.safetensors") if p.with_suffix(".json").is_file()]
    if found:
        newest = max(found, key=lambda p: p.stat().st_mtime)
        return newest, f"the newest trained model ({len(found)} found under {', '.join(map(str, search_dirs))})"
    if packaged.is_file():
        return packaged, "the packaged default model (no best.safetensors under the output folders)"
    raise EvaluationSetupError(
        f"no model to evaluate: pass ckpt=<path>; nothing matches {' or '.join(f'{d}/**/best.safetensors' for d in search_dirs)}"
        f" and there is no packaged model at {packaged}"
    )


def model_kind(meta: dict) -> str:
    target = str(((meta.get("config") or {}).get("branches") or {}).get("_target_", "model"))
    cls = target.rsplit(".", 1)[-1]
    return {"FiveBranchHeads": "five_branch", "FlatHead": "flat"}.get(cls, cls)


def default_name(meta: dict, path: Path) -> str:
    run = path.parent.name if path.name == "best.safetensors" else path.stem
    kind = model_kind(meta)
    return kind if run == kind else f"{kind} ({run})"


@dataclass
class ModelUnderTest:
    """A loaded checkpoint wrapped in the transcription pipeline (thresholds, features, gate)."""

    path: Path
    name: str
    transcriber: Transcriber
    meta: dict

    @property
    def model(self):
        return self.transcriber.model

    @property
    def vocab(self) -> Vocabulary:
        return self.transcriber.vocab

    @property
    def fps(self) -> float:
        return float(self.transcriber.fps)

    @property
    def thresholds(self) -> dict:
        return {i: self.transcriber.thresholds[i] for i in self.vocab.instruments}

    def policy(self, fallback: dict | None = None) -> TargetPolicy:
        trained = ((self.meta.get("config") or {}).get("data") or {}).get("targets")
        return TargetPolicy(**(trained or fallback or {}))


def load_model(path: Path, cfg: DictConfig, name: str | None) -> ModelUnderTest:
    from drumtx.transcriber import Transcriber

    thresholds = OmegaConf.to_container(cfg.thresholds, resolve=True) if cfg.get("thresholds") else None
    settings = InferenceSettings.from_config(OmegaConf.to_container(cfg.inference, resolve=True))
    transcriber = Transcriber.from_checkpoint(path, device=str(resolve_device(cfg.device)), thresholds=thresholds,
                                              settings=settings)
    return ModelUnderTest(Path(path), name or default_name(transcriber.meta, Path(path)), transcriber, transcriber.meta)




# ---------------------------------------------------------------------------------------- tracks


@dataclass
class TrackSet:
    """The scored tracks of one model plus what the report must say about them."""

    tracks: list[TrackEval]
    reference_vocab: Vocabulary
    label_map: LabelMap | None = None
    problems: list[str] = field(default_factory=list)
    facts: dict = field(default_factory=dict)
    annotation_counts: dict | None = None
    label_counts: dict | None = None
    # (key, reference, estimate with the velocities a user gets) of the tracks whose references
    # carry velocities, for drumtx.evaluation.velocity
    velocity: list = field(default_factory=list)


def with_velocities(mut: ModelUnderTest, estimate, velocity, audio) -> list | None:
    """``estimate`` with the velocities transcription gives, for the velocity scores.

    Args:
        mut: the model under test (fps, fine classes).
        estimate: decoded onsets of one track.
        velocity: the model's velocity output (T, C), velocity / 127; None: measure from ``audio``.
        audio: the track's audio file (None: none).

    Returns:
        The onsets with MIDI velocities 1..127, or None where neither source can be had (no
        velocity output and no or unreadable audio; logged, the track is left out of the
        velocity scores only).
    """
    from drumtx.audio import AudioError

    if velocity is None and audio is None:
        return None
    try:
        return estimated_velocities(estimate, velocity=velocity, fps=mut.fps, fine_classes=mut.vocab.fine_classes,
                                    audio=None if velocity is not None else audio)
    except AudioError as exc:
        log.warning("velocity not scored: %s", str(exc).splitlines()[0])
        return None


def derive_columns(meta: dict, derived: dict) -> dict:
    """Add derived track columns: ``{column: {from: source column, values: {value: pattern}}}``."""
    out = dict(meta)
    for col, spec in (derived or {}).items():
        src = meta.get(spec.get("from"))
        if src in (None, ""):
            continue
        for value, pattern in spec.get("values", {}).items():
            if fnmatch.fnmatchcase(str(src), str(pattern)):
                out[col] = value
                break
    return out


def _data_module(cfg: DictConfig, mut: ModelUnderTest):
    from hydra.utils import get_class

    from drumtx.features import LogMel

    if cfg.get("data") is None:
        raise EvaluationSetupError("source=data needs a data option (data=<name>)")
    data = OmegaConf.to_container(cfg.data, resolve=True)
    trained = ((mut.meta.get("config") or {}).get("data") or {}).get("targets")
    if cfg.use_checkpoint_targets and trained:
        data["targets"] = trained
    cls = get_class(data.pop("_target_"))
    features = LogMel(**mut.transcriber.features.config_dict())
    data["num_workers"] = 0
    return cls(**data, features=features, augmentation=None)


def data_tracks(mut: ModelUnderTest, cfg: DictConfig) -> TrackSet:
    """Run the model over ``cfg.split`` of the data option, from the feature cache."""
    from drumtx.data.cache import prepare_cache

    dm = _data_module(cfg, mut)
    index = dm.index
    split = str(cfg.split)
    tracks = dm.split_tracks(split)
    if not tracks:
        known = sorted({t.split for t in index.tracks})
        raise EvaluationSetupError(f"{index.root}: split {split!r} has no tracks; splits there: {known}")
    before = len(tracks)
    # one string (kit_names=unseen:*) is a one-item list, never its letters (drumtx.data.datasets.as_list)
    kit_names, exclude = as_list(cfg.get("kit_names"), "kit_names"), as_list(cfg.get("exclude_kit_names"), "exclude_kit_names")
    tracks = [t for t in tracks if kit_filter(t.meta, kit_names, exclude)]
    if not tracks:
        kits = sorted({str(t.meta.get("kit_name")) for t in dm.split_tracks(split)})
        raise EvaluationSetupError(
            f"no {split} track passes kit_names={kit_names} exclude_kit_names={exclude}; kit names there: {kits}"
        )
    report = prepare_cache(dm.cache, tracks, None, num_workers=int(cfg.prepare_workers),
                           retry_failed=False, progress=True)
    manifest = dm.cache.manifest()
    problems = [f"{v['path']}: {v['reason']}" for v in report.skipped.values()]
    problems += [f"{t.key}: not in the feature cache" for t in tracks if t.key not in manifest and t.key not in report.skipped]
    out, velocity = [], []
    for t in tqdm([t for t in tracks if t.key in manifest], desc=f"{mut.name} on {split}", unit="track"):
        cached = dm.cache.load(t.key)
        probs, fine, vel = infer_mel(mut.transcriber, cached.mel)  # float16 as cached: what transcribe computes
        out.append(_track_eval(mut, t.key, probs, {c: fine[:, k] for k, c in enumerate(mut.vocab.fine_classes)},
                               cached.mel.shape[1], cached.onsets(), derive_columns({**t.meta, "split": split}, cfg.derived_columns)))
        est = with_velocities(mut, out[-1].estimate, vel, t.audio)
        if est is not None:
            velocity.append((t.key, out[-1].reference, est))
    chosen = f"{len(tracks)} of {before} in split {split}"
    chosen += f", kit_names={list(kit_names)}" if kit_names else ""
    chosen += f", exclude_kit_names={list(exclude)}" if exclude else ""
    facts = {"tracks selected": chosen}
    return TrackSet(out, dm.vocab, problems=problems, facts=facts, velocity=velocity)


def _track_eval(mut, key, probs, fine_probs, n_frames, reference, meta, has_velocity=True) -> TrackEval:
    estimate = decode_onsets(probs, mut.fps, mut.vocab, mut.thresholds)
    return TrackEval(
        key=key,
        duration=max(0.0, (n_frames - 1) / mut.fps),
        reference=list(reference),
        estimate=estimate,
        fps=mut.fps,
        fine_probs=fine_probs,
        activations={i: a for i, (a, _) in probs.items()},
        meta=meta,
        has_velocity=has_velocity,
    )


def find_annotation(audio: Path, rel: Path, ann_dir: Path, suffixes) -> Path | None:
    """The annotation of an audio file: same relative path and stem under ``ann_dir``, else the
    same stem anywhere directly in ``ann_dir``; suffixes tried in order."""
    for base in (ann_dir / rel, ann_dir / rel.name):
        for s in suffixes:
            p = base.with_name(base.name + s)
            if p.is_file() and p.resolve() != audio.resolve():
                return p
    return None


def external_tracks(mut: ModelUnderTest, cfg: DictConfig) -> TrackSet:
    """Run the transcription pipeline over an external folder of annotated audio."""
    from drumtx.audio import AudioError
    from drumtx.transcriber import InputError, collect_inputs

    ext = cfg.external
    if not ext.audio_dir:
        raise EvaluationSetupError(f"source={cfg.source} needs external.audio_dir")
    audio_dir = Path(str(ext.audio_dir)).expanduser()
    if not audio_dir.is_dir():
        raise EvaluationSetupError(f"{audio_dir}: external.audio_dir is not a folder")
    ann_dir = Path(str(ext.annotation_dir)).expanduser() if ext.annotation_dir else audio_dir
    jobs, errors = collect_inputs([audio_dir])
    if not jobs:
        raise EvaluationSetupError("; ".join(errors) or f"{audio_dir}: no audio files")
    if ext.max_files:
        jobs = jobs[: int(ext.max_files)]
    text = cfg.source == "text_folder"
    label_map = None
    if text:
        if not ext.label_map:
            raise EvaluationSetupError("source=text_folder needs external.label_map (a name in conf/label_maps/ or a path)")
        label_map = LabelMap.load(str(ext.label_map))
    suffixes = list(ext.annotation_ext) if text else list(MIDI_SUFFIXES)
    policy = mut.policy()
    ann_counts, label_counts = AnnotationCounts(), LabelCounts()
    problems = list(errors)
    out, velocity = [], []
    for job in tqdm(jobs, desc=f"{mut.name} on {audio_dir.name}", unit="file"):
        ann = find_annotation(job.source, job.rel, ann_dir, suffixes)
        if ann is None:
            problems.append(f"{job.source}: no annotation ({'/'.join(suffixes)}) of the same stem in {ann_dir}")
            continue
        file_ann, file_labels = AnnotationCounts(), LabelCounts()
        try:
            if text:
                reference = read_text_annotations(ann, label_map, file_ann)
            else:
                reference = read_midi_onsets(ann, str(ext.note_map), policy, file_labels)
            probs, n_frames, vel = infer_audio(mut.transcriber, job.source)
        except (AnnotationError, ValueError, InputError, AudioError) as exc:
            problems.append(str(exc).splitlines()[0] if str(exc) else f"{job.source}: {type(exc).__name__}")
            continue
        ann_counts.update(file_ann)  # counted only for the files that are scored
        label_counts.update(file_labels)
        out.append(_track_eval(mut, job.rel.as_posix(), probs, fine_from_instruments(probs, mut.vocab), n_frames,
                               reference, {"annotation": str(ann)}, has_velocity=not text))
        est = None if text else with_velocities(mut, out[-1].estimate, vel, job.source)
        if est is not None:
            velocity.append((out[-1].key, reference, est))
    if not out:
        raise EvaluationSetupError(f"{audio_dir}: no file could be scored: " + "; ".join(problems[:5]))
    facts = {"external data": f"{ext.name}: {audio_dir}" + (f" (label map {label_map.name})" if label_map else
                                                             f" (note map {ext.note_map})")}
    return TrackSet(out, policy.vocab, label_map=label_map, problems=problems, facts=facts,
                    annotation_counts=ann_counts.to_dict() if text else None,
                    label_counts=None if text else label_counts.to_dict(), velocity=velocity)


def collect_tracks(mut: ModelUnderTest, cfg: DictConfig) -> TrackSet:
    if cfg.source == "data":
        return data_tracks(mut, cfg)
    if cfg.source in ("midi_folder", "text_folder"):
        return external_tracks(mut, cfg)
    raise EvaluationSetupError(f"source must be data, midi_folder or text_folder, not {cfg.source!r}")


def build_levels(ts: TrackSet, model_vocab: Vocabulary) -> tuple[dict, str]:
    """The class schemes scored: fine / instrument / branch when the references speak the
    model's vocabulary, else the classes a label map shares with the model."""
    if ts.label_map is None:
        return default_levels(ts.reference_vocab), "instrument"
    levels = {"coarse": shared_scheme(ts.label_map, model_vocab, "coarse")}
    if ts.label_map.level == "fine":
        levels["fine"] = shared_scheme(ts.label_map, model_vocab, "fine")
    return levels, "coarse"


def evaluate_model(mut: ModelUnderTest, cfg: DictConfig) -> tuple[Evaluation, dict]:
    """Score one model on what ``cfg.source`` names (a data split or an annotated folder).

    Args:
        mut: the model, loaded by :func:`load_model` (transcriber, thresholds, inference settings).
        cfg: the composed ``evaluate`` config: ``source``, ``data``/``split``/``kit_names`` or
            ``external``, and ``eval`` (:class:`~drumtx.evaluation.scores.EvalSettings`: onset
            window in seconds, slices).

    Returns:
        The :class:`~drumtx.evaluation.scores.Evaluation` (call ``summary()`` for the scores)
        and the facts its report states: model, checkpoint, data, split, thresholds, notes, the
        tracks left out (``problems``, one line each), the annotation/label counts and, where the
        references carry velocities, ``velocity`` (:func:`drumtx.evaluation.velocity.velocity_scores`).

    Raises:
        EvaluationSetupError: nothing can be scored (no data option, an empty split or kit
            filter, no audio or no file with an annotation in the folder).
        drumtx.evaluation.annotations.AnnotationError: the label map cannot be used.
        drumtx.data.datasets.DatasetError: the data option's dataset is unusable.
    """
    ts = collect_tracks(mut, cfg)
    for p in ts.problems:
        log.warning("left out: %s", p)
    levels, slice_level = build_levels(ts, mut.vocab)
    ev_cfg = OmegaConf.to_container(cfg.eval, resolve=True)
    evaluation = Evaluation(ts.tracks, levels, EvalSettings(**ev_cfg), slice_level)
    info = {
        "model": mut.name,
        "checkpoint": str(mut.path),
        "model_kind": model_kind(mut.meta),
        "data": (f"{cfg.data.get('name')} ({cfg.data.get('root')})" if cfg.source == "data" and cfg.get("data") else None),
        "split": str(cfg.split) if cfg.source == "data" else None,
        "source": str(cfg.source),
        "thresholds": mut.thresholds,
        "extra_facts": ts.facts,
        "notes": [] if cfg.source == "data" else [
            "scored through the transcription pipeline (drumtx.transcribe); fine-class frame probabilities "
            "are activation x variation"],
        "problems": ts.problems,
        "annotation_counts": ts.annotation_counts,
        "label_counts": ts.label_counts,
    }
    if ts.velocity:  # velocity error and mir_eval's transcription-with-velocity F (drumtx.evaluation.velocity)
        vs = velocity_scores(ts.velocity, mut.vocab.fine_classes, onset_window=float(cfg.eval.window_s))
        vs["source"] = "the model's velocity output" if mut.model.has_velocity else "measured loudness (drumtx.dynamics)"
        info["velocity"] = vs
        mae = "-" if vs["mae"] is None else f"{vs['mae']:.1f}"
        f_mean = "-" if vs["f_measure_mean"] is None else f"{vs['f_measure_mean']:.3f}"
        info["extra_facts"] = {**ts.facts, "velocity": (
            f"from {vs['source']}: mean absolute error {mae} (MIDI velocity) on {vs['n_matched']} matched onsets; "
            f"mir_eval transcription-with-velocity F {f_mean} (mean over tracks), {vs['micro']['f_measure']:.3f} (micro)")}
    return evaluation, info


# ---------------------------------------------------------------------------------------- run


def output_dir(cfg: DictConfig) -> Path:
    if cfg.get("out_dir"):
        return Path(str(cfg.out_dir)).expanduser()
    try:
        from hydra.core.hydra_config import HydraConfig

        return Path(HydraConfig.get().runtime.output_dir)
    except ValueError:
        raise EvaluationSetupError("out_dir is not set and there is no Hydra run folder") from None


def resolve_checkpoint(cfg: DictConfig) -> Path:
    if cfg.get("ckpt"):
        path = Path(str(cfg.ckpt)).expanduser()
        log.info("evaluating %s", path)
        return path
    dirs = [Path(str(cfg.paths.log_dir)), Path(str(cfg.paths.sweep_dir))]
    path, why = find_default_checkpoint(dirs)
    log.info("evaluating %s: %s", path, why)
    print(f"drumtx.evaluate: no ckpt given, evaluating {path} ({why})", file=sys.stderr)
    return path


def run(cfg: DictConfig) -> dict:
    """Everything ``python -m drumtx.evaluate`` does; returns the written paths and summaries."""
    if cfg.get("torch_threads"):
        import torch

        torch.set_num_threads(int(cfg.torch_threads))
    out = output_dir(cfg)
    mut = load_model(resolve_checkpoint(cfg), cfg, cfg.get("name"))
    evaluation, info = evaluate_model(mut, cfg)
    rep = cfg.report
    figures = bool(rep.get("figures", True))
    result = {"out_dir": out, "model": write_report(out, evaluation, info, int(rep.pianorolls), float(rep.pianoroll_seconds),
                                                    figures=figures),
              "summary": evaluation.summary(), "evaluation": evaluation, "problems": list(info.get("problems") or [])}
    if cfg.get("compare_ckpt"):
        base = load_model(Path(str(cfg.compare_ckpt)).expanduser(), cfg, cfg.get("compare_name"))
        base_eval, base_info = evaluate_model(base, cfg)
        result["baseline"] = write_report(out / "baseline", base_eval, base_info, int(rep.pianorolls),
                                          float(rep.pianoroll_seconds), figures=figures)
        result["compare"] = write_comparison(
            out / "compare", base_eval.summary(), evaluation.summary(), base.name, mut.name,
            base_eval.curves, evaluation.curves, evaluations=(base_eval, evaluation),
            n_tracks=int(rep.compare_tracks), pianorolls=int(rep.pianorolls), pianoroll_seconds=float(rep.pianoroll_seconds),
            figures=figures,
        )
        result["baseline_summary"] = base_eval.summary()
    log_results(cfg, result)
    _print_summary(result)
    return result


def _print_summary(result: dict) -> None:
    s = result["summary"]
    finest = "fine" if "fine" in s["levels"] else s["slice_level"]
    o = s["levels"][finest]["overall"]
    tier1 = ", ".join(f"{k} {v['recall']:.3f}" for k, v in s["tier1"].items() if v.get("recall") is not None)
    print(f"{s['n_tracks']} tracks: onset F1 ({finest}, micro) {o['micro']['f_measure']:.3f}, "
          f"macro {o['macro_f1'] or 0:.3f}; tier-1 recall {tier1}")
    print(f"report: {result['model']['report']}")
    if "compare" in result:
        print(f"comparison: {result['compare']['report']}")


def log_results(cfg: DictConfig, result: dict) -> None:
    """Scalars, tables and figures to the configured experiment logger (W&B, CSV, ...)."""
    lc = cfg.get("logger")
    if not lc or lc.get("_target_") is None:
        return
    from drumtx.run_logging import build_logger, finish_logger  # Lightning only when a logger is on

    logger = build_logger(cfg)
    if not logger:
        return
    metrics = flat_metrics(result["summary"], "test")
    if "baseline_summary" in result:
        metrics.update(flat_metrics(result["baseline_summary"], "baseline"))
    logger.log_metrics(metrics)
    if hasattr(logger, "log_image"):
        for folder in [result["model"]["figures"]] + ([result["compare"]["figures"]] if "compare" in result else []):
            for png in sorted(Path(folder).glob("*.png")):
                logger.log_image(key=f"{Path(folder).parent.name}/{png.stem}", images=[str(png)])
    if hasattr(logger, "log_table") and "compare" in result:
        import json

        cmp = json.loads(Path(result["compare"]["json"]).read_text())
        cols = ["class", "baseline_rec", "baseline_prec", "baseline_f1", "candidate_rec", "candidate_prec",
                "candidate_f1", "d_rec", "d_prec", "d_f1"]
        rows = [[r["label"], *(r[m][k] for m in ("baseline", "candidate") for k in ("recall", "precision", "f_measure")),
                 *(r["delta"][k] for k in ("recall", "precision", "f_measure"))] for r in cmp["table"]]
        logger.log_table(key="compare/table", columns=cols, data=rows)
    finish_logger(logger)


@hydra_main("evaluate", EVALUATE)
def main(cfg: DictConfig) -> None:
    from drumtx.checkpoint import CheckpointError

    try:
        result = run(cfg)
    except (EvaluationSetupError, CheckpointError, AnnotationError) as exc:
        fail("drumtx.evaluate", exc, EXIT_USAGE)
    if result["problems"]:  # some tracks could not be scored: status 1 (drumtx.cli); the rest are reported
        n = len(result["problems"])
        fail("drumtx.evaluate", f"{n} track(s) left out, listed in {result['out_dir']}/report.md", EXIT_SOME_FAILED)


if __name__ == "__main__":
    main()
