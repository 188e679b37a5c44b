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

Output (``out_dir``, which is then also the Hydra run folder with ``.hydra/`` and
``evaluate.log``; else a dated run folder ``outputs/evaluate/<time>``): the model's report
(``report.md``, ``metrics.json``, ``curves.json``, ``tracks.csv``, ``figures/``); with a
comparison also ``baseline/`` (the baseline's own report) and ``compare/`` (``compare.md``,
``compare.json``, ``figures/``). A folder holding an earlier report gets this run's in its place,
as a whole (:func:`staged_report`); files the command did not write are left alone.

Names: ``name=`` and ``compare_name=`` label the two models in the reports; by default
``<kind> (<run folder or file stem>)``, with the folders above it when the two would read the
same (two ``default_model.safetensors``).

Setup errors (no such data folder, split or kit, an unknown note or label map, a bad checkpoint,
an output path that is a file) are refused before a model runs: one line, status 2, and the run
folder the command made is removed (:mod:`drumtx.cli`).
"""

from __future__ import annotations

import fnmatch
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from drumtx.checkpoint import PACKAGED_MODEL, model_path
from drumtx.cli import EXIT_SOME_FAILED, EXIT_USAGE, fail, hydra_main, job_failed
from drumtx.config_schema import EVALUATE
from drumtx.data.datasets import DatasetError, as_list, kit_filter
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

# conf/evaluate.yaml's hydra.run.dir: out_dir when set, else the dated run folder
OmegaConf.register_new_resolver("drumtx_or", lambda *values: next((v for v in values if v not in (None, "")), None),
                                replace=True)

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
    where = " or ".join(map(str, search_dirs))
    if found:
        newest = max(found, key=lambda p: p.stat().st_mtime)
        return newest, f"the newest of {len(found)} trained models under {where}"
    if packaged.is_file():
        return packaged, f"the packaged default model; no best.safetensors under {where}"
    raise EvaluationSetupError(
        f"no model to evaluate: pass ckpt=<path>; nothing matches {' or '.join(f'{d}/**/best.safetensors' for d in search_dirs)}"
        f" and there is no packaged model at {packaged}"
    )


def model_kind(meta: dict) -> str:
    target = str(((meta.get("config") or {}).get("branches") or {}).get("_target_", "model"))
    cls = target.rsplit(".", 1)[-1]
    return {"FiveBranchHeads": "five_branch", "FlatHead": "flat"}.get(cls, cls)


def _run_parts(path: Path) -> list[str]:
    """What names a checkpoint, innermost last: its run folder for a ``best.safetensors``, else
    its stem, after the folders above it (``outputs/train/<run>``, ``v1/default_model``)."""
    path = Path(path).expanduser().absolute()
    if path.name == "best.safetensors":
        return [p for p in path.parent.parts if p != path.anchor]
    return [p for p in path.parent.parts if p != path.anchor] + [path.stem]


def default_name(meta: dict, path: Path, depth: int = 1) -> str:
    """``<model kind> (<run>)``: the run folder of a ``best.safetensors``, else the file's stem;
    ``depth`` > 1 adds that many folders in all (``five_branch (v1/default_model)``)."""
    run = "/".join(_run_parts(path)[-depth:])
    kind = model_kind(meta)
    return kind if run == kind else f"{kind} ({run})"


def distinct_names(a: tuple[dict, Path], b: tuple[dict, Path]) -> tuple[str, str]:
    """Default display names of two compared checkpoints, ``(meta, path)`` each, that differ:
    with the folders above them until they do (two ``default_model.safetensors`` become
    ``five_branch (v1/default_model)`` and ``five_branch (assets/default_model)``); the same
    file twice is told apart by `` [baseline]`` on the second."""
    parts = max(len(_run_parts(a[1])), len(_run_parts(b[1])))
    for depth in range(1, parts + 1):
        names = default_name(*a, depth=depth), default_name(*b, depth=depth)
        if names[0] != names[1]:
            return names
    first = default_name(*a)
    return first, f"{first} [baseline]"


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


@dataclass
class Selection:
    """What is scored, chosen from the config alone before any model is loaded: a bad split, kit
    filter, folder or map is refused at once, and a comparison scores both models on the same.

    ``tracks``: the data split's :class:`~drumtx.data.datasets.Track` (``source=data``) or the
    folder's audio files (:func:`drumtx.transcriber.collect_inputs` jobs); ``facts``: what the
    report says about the choice; ``problems``: files left out already (one line each).
    """

    tracks: list
    facts: dict
    problems: list[str] = field(default_factory=list)
    split: str | None = None
    label_map: LabelMap | None = None
    audio_dir: Path | None = None
    annotation_dir: Path | None = None
    suffixes: tuple[str, ...] = ()


def select_data_tracks(cfg: DictConfig) -> Selection:
    """The tracks of ``cfg.split`` of the data option that pass ``kit_names`` /
    ``exclude_kit_names``, then at most ``data.max_tracks`` of those (a fixed spread-out subset).

    Raises:
        EvaluationSetupError: no data option, an empty split or no track of the kits asked for
            (naming the splits, or the split's kit names).
        drumtx.data.datasets.DatasetError: the dataset is unusable (root or csv missing ...).
    """
    from drumtx.data.datasets import build_index

    if cfg.get("data") is None:
        raise EvaluationSetupError("source=data needs a data option (data=<name>)")
    index = build_index(cfg.data)
    split = str(cfg.split)
    whole = index.split(split)
    if not whole:
        import difflib

        known = sorted({t.split for t in index.tracks})
        close = difflib.get_close_matches(split, known, n=1)
        raise EvaluationSetupError(f"{index.root}: split {split!r} has no tracks; splits there: {known}"
                                   + (f" (did you mean split={close[0]}?)" if close else ""))
    # one string (kit_names=unseen:*) is a one-item list, never its letters (drumtx.data.datasets.as_list)
    kit_names, exclude = as_list(cfg.get("kit_names"), "kit_names"), as_list(cfg.get("exclude_kit_names"), "exclude_kit_names")

    def wanted(t) -> bool:
        return kit_filter(t.meta, kit_names, exclude)

    matching = index.split(split, where=wanted) if kit_names or exclude else whole
    if not matching:
        kits = sorted({str(t.meta.get("kit_name")) for t in whole})
        raise EvaluationSetupError(
            f"no {split} track passes kit_names={kit_names} exclude_kit_names={exclude}; kit names there: {kits}"
        )
    for pattern in exclude or ():
        if not any(kit_filter(t.meta, [pattern], None) for t in whole):
            # a warning, not a refusal: a recipe's exclusion (*+music) may have nothing to exclude
            # on a data set without it; a misspelt kit name excluded nothing silently before
            log.warning("exclude_kit_names: %r matches no %s track's kit, so excludes nothing; kit names there: %s",
                        pattern, split, sorted({str(t.meta.get("kit_name")) for t in whole}))
    max_tracks = cfg.data.get("max_tracks")
    # the kit filter first, then the cap: data.max_tracks counts the tracks of the kits asked for
    tracks = index.split(split, max_tracks, where=wanted if kit_names or exclude else None)
    chosen = f"{len(tracks)} of {len(whole)} in split {split}"
    chosen += f", kit_names={list(kit_names)}" if kit_names else ""
    chosen += f", exclude_kit_names={list(exclude)}" if exclude else ""
    if len(tracks) < len(matching):
        chosen += f", data.max_tracks={max_tracks}" + (f" of the {len(matching)} that match" if kit_names or exclude else "")
    return Selection(tracks, {"tracks selected": chosen}, split=split)


def select_external(cfg: DictConfig) -> Selection:
    """The audio files of ``external.audio_dir`` (at most ``external.max_files``) and how their
    annotations are read: the label map (``text_folder``) or the note map (``midi_folder``).

    Raises:
        EvaluationSetupError: no or no such folder, no audio in it, no label map, an unknown note map.
        drumtx.evaluation.annotations.AnnotationError: the label map cannot be used.
    """
    from drumtx.transcriber import collect_inputs
    from drumtx.vocab import note_map

    ext = cfg.external
    if not ext.audio_dir:
        raise EvaluationSetupError(f"source={cfg.source} needs external.audio_dir")
    audio_dir = Path(str(ext.audio_dir)).expanduser()
    if not audio_dir.is_dir():
        raise EvaluationSetupError(f"{audio_dir}: external.audio_dir is not a folder")
    text = cfg.source == "text_folder"
    label_map = None
    if text:
        if not ext.label_map:
            raise EvaluationSetupError("source=text_folder needs external.label_map (a name in conf/label_maps/ or a path)")
        label_map = LabelMap.load(str(ext.label_map))
        facts = {"external data": f"{ext.name}: {audio_dir} (label map {label_map.name})"}
    else:
        try:
            note_map(str(ext.note_map))
        except KeyError as exc:
            raise EvaluationSetupError(f"external.note_map={ext.note_map}: {exc.args[0]}") from None
        facts = {"external data": f"{ext.name}: {audio_dir} (note map {ext.note_map})"}
    jobs, errors = collect_inputs([audio_dir])
    if not jobs:
        raise EvaluationSetupError("; ".join(errors) or f"{audio_dir}: no audio files")
    if ext.max_files:
        jobs = jobs[: int(ext.max_files)]
    ann_dir = Path(str(ext.annotation_dir)).expanduser() if ext.annotation_dir else audio_dir
    suffixes = tuple(ext.annotation_ext) if text else MIDI_SUFFIXES
    return Selection(jobs, facts, list(errors), label_map=label_map, audio_dir=audio_dir, annotation_dir=ann_dir,
                     suffixes=suffixes)


def select_tracks(cfg: DictConfig) -> Selection:
    """What ``cfg.source`` names: :func:`select_data_tracks` or :func:`select_external`."""
    if cfg.source == "data":
        return select_data_tracks(cfg)
    if cfg.source in ("midi_folder", "text_folder"):
        return select_external(cfg)
    raise EvaluationSetupError(f"source must be data, midi_folder or text_folder, not {cfg.source!r}")


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


def data_tracks(mut: ModelUnderTest, cfg: DictConfig, selection: Selection | None = None) -> TrackSet:
    """Run the model over the selected tracks of the data option (:func:`select_data_tracks`,
    chosen here when ``selection`` is None), from the feature cache."""
    from drumtx.data.cache import prepare_cache

    selection = selection or select_data_tracks(cfg)
    split, tracks = str(selection.split), selection.tracks
    dm = _data_module(cfg, mut)
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
    return TrackSet(out, dm.vocab, problems=problems, facts=dict(selection.facts), velocity=velocity)


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


def after_audio(reference, seconds: float, window_s: float) -> int:
    """How many reference onsets (objects with ``time`` in seconds) lie beyond an audio file of
    ``seconds``: later than its end plus the onset window, so no estimate could match them."""
    return sum(1 for onset in reference if onset.time > seconds + window_s)


def external_tracks(mut: ModelUnderTest, cfg: DictConfig, selection: Selection | None = None) -> TrackSet:
    """Run the transcription pipeline over an external folder of annotated audio
    (:func:`select_external`, chosen here when ``selection`` is None)."""
    from drumtx.audio import AudioError
    from drumtx.transcriber import InputError

    sel = selection or select_external(cfg)
    text = cfg.source == "text_folder"
    label_map, ann_dir, suffixes = sel.label_map, sel.annotation_dir, list(sel.suffixes)
    policy = mut.policy()
    ann_counts, label_counts = AnnotationCounts(), LabelCounts()
    problems = list(sel.problems)
    out, velocity = [], []
    for job in tqdm(sel.tracks, desc=f"{mut.name} on {sel.audio_dir.name}", unit="file"):
        ann = find_annotation(job.source, job.rel, ann_dir, suffixes)
        if ann is None:
            problems.append(f"{job.source}: no annotation ({'/'.join(suffixes)}) of the same stem in {ann_dir}")
            continue
        file_ann, file_labels = AnnotationCounts(), LabelCounts()
        try:
            if text:
                reference = read_text_annotations(ann, label_map, file_ann)
            else:
                reference = read_midi_onsets(ann, str(cfg.external.note_map), policy, file_labels)
            probs, n_frames, vel = infer_audio(mut.transcriber, job.source)
        except (AnnotationError, ValueError, InputError, AudioError) as exc:
            problems.append(str(exc).splitlines()[0] if str(exc) else f"{job.source}: {type(exc).__name__}")
            continue
        late = after_audio(reference, n_frames / mut.fps, float(cfg.eval.window_s))
        if late:  # scored, each would be a miss no model could avoid
            problems.append(f"{ann}: {late} of its {len(reference)} onsets fall after its audio ends "
                            f"({n_frames / mut.fps:.1f} s, {job.source.name}); not scored (the annotation of a "
                            "longer take, or audio cut short?)")
            continue
        ann_counts.update(file_ann)  # counted only for the files that are scored
        label_counts.update(file_labels)
        out.append(_track_eval(mut, job.rel.as_posix(), probs, fine_from_instruments(probs, mut.vocab), n_frames,
                               reference, {"annotation": str(ann)}, has_velocity=not text))
        est = None if text else with_velocities(mut, out[-1].estimate, vel, job.source)
        if est is not None:
            velocity.append((out[-1].key, reference, est))
    if not out:
        raise EvaluationSetupError(f"{sel.audio_dir}: no file could be scored: " + "; ".join(problems[:5]))
    return TrackSet(out, policy.vocab, label_map=label_map, problems=problems, facts=dict(sel.facts),
                    annotation_counts=ann_counts.to_dict() if text else None,
                    label_counts=None if text else label_counts.to_dict(), velocity=velocity)


def collect_tracks(mut: ModelUnderTest, cfg: DictConfig, selection: Selection | None = None) -> TrackSet:
    """Score ``mut`` on what ``cfg.source`` names (``selection``: chosen by :func:`select_tracks`)."""
    selection = selection or select_tracks(cfg)
    if cfg.source == "data":
        return data_tracks(mut, cfg, selection)
    return external_tracks(mut, cfg, selection)


def build_levels(ts: TrackSet, model_vocab: Vocabulary) -> tuple[dict, str]:
    """The class schemes scored: fine / instrument / branch when the references speak the
    model's vocabulary, else the classes a label map shares with the model."""
    if ts.label_map is None:
        return default_levels(ts.reference_vocab), "instrument"
    levels = {"coarse": shared_scheme(ts.label_map, model_vocab, "coarse")}
    if ts.label_map.level == "fine":
        levels["fine"] = shared_scheme(ts.label_map, model_vocab, "fine")
    return levels, "coarse"


def evaluate_model(mut: ModelUnderTest, cfg: DictConfig, selection: Selection | None = None) -> tuple[Evaluation, dict]:
    """Score one model on what ``cfg.source`` names (a data split or an annotated folder).

    Args:
        mut: the model, loaded by :func:`load_model` (transcriber, thresholds, inference settings).
        cfg: the composed ``evaluate`` config: ``source``, ``data``/``split``/``kit_names`` or
            ``external``, and ``eval`` (:class:`~drumtx.evaluation.scores.EvalSettings`: onset
            window in seconds, slices).
        selection: the tracks (:func:`select_tracks`); None: chosen here.

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
    ts = collect_tracks(mut, cfg, selection)
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
        "inference": mut.transcriber.settings.to_dict(),  # resolved: the model's own presence gate applied
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


#: The entries of a report folder that this command writes (:func:`write_report`, and with a
#: comparison ``baseline/`` and ``compare/``): each run replaces all of them (:func:`staged_report`).
REPORT_ENTRIES = ("report.md", "metrics.json", "curves.json", "tracks.csv", "figures", "baseline", "compare")


def output_dir(cfg: DictConfig) -> Path:
    """Where the report goes: ``out_dir``, else the Hydra run folder; checked before anything runs.

    Raises:
        EvaluationSetupError: no folder can be made there (a file in the way, no permission), or
            neither ``out_dir`` nor a Hydra run folder is there.
    """
    if cfg.get("out_dir"):
        out = Path(str(cfg.out_dir)).expanduser()
    else:
        try:
            from hydra.core.hydra_config import HydraConfig

            out = Path(HydraConfig.get().runtime.output_dir)
        except ValueError:
            raise EvaluationSetupError("out_dir is not set and there is no Hydra run folder") from None
    if out.exists() and not out.is_dir():
        raise EvaluationSetupError(f"out_dir={out}: a file is there, not a folder")
    existing = next(p for p in (out, *out.absolute().parents) if p.exists())
    if not existing.is_dir():
        raise EvaluationSetupError(f"out_dir={out}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise EvaluationSetupError(f"out_dir={out}: {existing} is not writable")
    return out


@contextmanager
def staged_report(out: Path) -> Iterator[Path]:
    """A fresh hidden folder in ``out`` to write a report into. When the body succeeds, what it
    wrote replaces, in ``out``, everything an earlier run of this command wrote there
    (:data:`REPORT_ENTRIES`, whether this run writes that entry or not: no stale ``compare/`` or
    ``figures/pianoroll_3.png`` stays beside a new report); other files in ``out`` (Hydra's
    ``.hydra/`` and log, the user's own) are left alone. An error leaves the earlier report as it
    was. The staging folder is removed either way; one a killed run left (``kill -9``: its
    process id, in the name, is gone) is removed by the next run in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    remove_orphaned_stages(out)
    stage = Path(tempfile.mkdtemp(prefix=f".evaluate-partial-{os.getpid()}-", dir=out))
    try:
        yield stage
        new = sorted(p.name for p in stage.iterdir())
        old = [out / n for n in sorted(set(REPORT_ENTRIES) | set(new)) if os.path.lexists(out / n)]
        retired = Path(tempfile.mkdtemp(prefix=f".evaluate-old-{os.getpid()}-", dir=out))
        try:
            for p in old:  # renames within one folder: the swap takes no time, whatever the report's size
                os.replace(p, retired / p.name)
            for n in new:
                os.replace(stage / n, out / n)
        finally:
            shutil.rmtree(retired, ignore_errors=True)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def remove_orphaned_stages(out: Path) -> list[Path]:
    """Remove the staging folders (``.evaluate-partial-<pid>-*``, ``.evaluate-old-<pid>-*``) in
    ``out`` whose process is no longer running: what a killed run left. A running evaluation's
    folders (its process alive) are left alone. Returns the folders removed."""
    removed = []
    for p in out.glob(".evaluate-*-*-*"):
        kind, _, rest = p.name[len(".evaluate-"):].partition("-")
        pid = rest.partition("-")[0]
        if kind not in ("partial", "old") or not pid.isdigit() or not p.is_dir() or _alive(int(pid)):
            continue
        shutil.rmtree(p, ignore_errors=True)
        log.info("removed %s, left by a run that was killed", p)
        removed.append(p)
    return removed


def _alive(pid: int) -> bool:
    """True when process ``pid`` exists (on this machine)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _moved(value, stage: Path, out: Path):
    """``value`` (a path, or a dict of them) with ``stage`` swapped for ``out``."""
    if isinstance(value, dict):
        return {k: _moved(v, stage, out) for k, v in value.items()}
    if isinstance(value, Path) and value.is_relative_to(stage):
        return out / value.relative_to(stage)
    return value


def resolve_checkpoint(cfg: DictConfig) -> Path:
    """``ckpt``, else :func:`find_default_checkpoint` (logged once, with why)."""
    if cfg.get("ckpt"):
        path = model_path(cfg.ckpt).expanduser()  # "default": the packaged model
        if path.is_file():  # (a missing one is the error line alone, not "evaluating" it first)
            log.info("evaluating %s", path)
        return path
    dirs = [Path(str(cfg.paths.log_dir)), Path(str(cfg.paths.sweep_dir))]
    path, why = find_default_checkpoint(dirs)
    log.info("no ckpt given: evaluating %s, %s", path, why)
    return path


def run(cfg: DictConfig) -> dict:
    """Everything ``python -m drumtx.evaluate`` does; returns the written paths and summaries.

    The setup is checked before a model runs: the output folder, the tracks (split, kit
    filter, folder, maps) and both checkpoints. The report is written aside and then replaces
    the one an earlier run left in the folder (:func:`staged_report`).
    """
    if cfg.get("torch_threads"):
        import torch

        torch.set_num_threads(int(cfg.torch_threads))
    out = output_dir(cfg)
    selection = select_tracks(cfg)
    mut = load_model(resolve_checkpoint(cfg), cfg, cfg.get("name"))
    base = None
    if cfg.get("compare_ckpt"):
        base = load_model(model_path(cfg.compare_ckpt).expanduser(), cfg, cfg.get("compare_name"))
        if base.name == mut.name and not cfg.get("name") and not cfg.get("compare_name"):
            mut.name, base.name = distinct_names((mut.meta, mut.path), (base.meta, base.path))
    evaluation, info = evaluate_model(mut, cfg, selection)
    if base is not None:
        base_eval, base_info = evaluate_model(base, cfg, selection)
    rep = cfg.report
    figures = bool(rep.get("figures", True))
    result = {"out_dir": out, "summary": evaluation.summary(), "evaluation": evaluation,
              "problems": list(info.get("problems") or [])}
    with staged_report(out) as stage:
        paths = {"model": write_report(stage, evaluation, info, int(rep.pianorolls), float(rep.pianoroll_seconds),
                                       figures=figures)}
        if base is not None:
            paths["baseline"] = write_report(stage / "baseline", base_eval, base_info, int(rep.pianorolls),
                                             float(rep.pianoroll_seconds), figures=figures)
            paths["compare"] = write_comparison(
                stage / "compare", base_eval.summary(), evaluation.summary(), base.name, mut.name,
                base_eval.curves, evaluation.curves, evaluations=(base_eval, evaluation),
                n_tracks=int(rep.compare_tracks), pianorolls=int(rep.pianorolls),
                pianoroll_seconds=float(rep.pianoroll_seconds), figures=figures,
            )
    result.update(_moved(paths, stage, out))
    if base is not None:
        result["baseline_summary"] = base_eval.summary()
    log_results(cfg, result)
    _print_summary(result)
    return result


def _print_summary(result: dict) -> None:
    s = result["summary"]
    finest = "fine" if "fine" in s["levels"] else s["slice_level"]
    o = s["levels"][finest]["overall"]
    tier1 = ", ".join(f"{k} {v['recall']:.3f}" for k, v in s["tier1"].items() if v.get("recall") is not None)
    f1, macro = o["micro"]["f_measure"], o["macro_f1"]  # None: undefined (no reference and no estimate)
    print(f"{s['n_tracks']} tracks: onset F1 ({finest}, micro) {'–' if f1 is None else f'{f1:.3f}'}, "
          f"macro {'–' if macro is None else f'{macro:.3f}'}; tier-1 recall {tier1 or '–'}")
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
    except (EvaluationSetupError, CheckpointError, AnnotationError, DatasetError) as exc:
        # one line; the run folder it made is removed; in a sweep the job's line, and the next job runs (drumtx.cli)
        job_failed("drumtx.evaluate", exc, EXIT_USAGE)
    if result["problems"]:  # some tracks could not be scored: status 1 (drumtx.cli); the rest are reported
        n = len(result["problems"])
        fail("drumtx.evaluate", f"{n} track(s) left out, listed in {result['out_dir']}/report.md", EXIT_SOME_FAILED)


if __name__ == "__main__":
    main()
