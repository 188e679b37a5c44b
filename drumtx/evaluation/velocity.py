"""Velocity scores: how well the estimated onsets' MIDI velocities follow the reference's.

Two numbers, as the OaF-Drums paper (E-GMD) reports them:

* **Velocity error**: on onsets matched by time (within ``onset_window``) and fine class, the
  mean absolute difference of estimated and reference MIDI velocity (1..127 units), pooled over
  all matched onsets of all tracks, and per fine class.
* **Transcription-with-velocity F** (:mod:`mir_eval.transcription_velocity`): every onset is a
  note of fixed length :data:`NOTE_SECONDS` (offsets ignored) whose pitch stands for its fine
  class (one semitone apart, so no two classes are within mir_eval's 50-cent pitch tolerance);
  a matched estimate counts when, after mir_eval's per-track linear rescaling of the estimated
  velocities to the reference ones (normalised to [0, 1]), it is within ``velocity_tolerance``
  (0.1) of its reference. Reported per track (mir_eval's P/R/F), as the mean over tracks with
  reference onsets, and micro (matches summed over tracks).

The onset matching is mir_eval's (:func:`mir_eval.transcription.match_notes`, a maximum
bipartite matching; the same tolerance as :mod:`drumtx.metrics`, 50 ms by default), for both.

Estimated velocities come from :func:`estimated_velocities` (:func:`drumtx.dynamics.onset_velocities`,
the supplier transcription uses: the model's velocity head, else measured loudness), never from
the decoder's peak confidence.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from drumtx.metrics import DEFAULT_WINDOW_S
from drumtx.targets import Onset

#: Length (s) of the note every onset becomes for mir_eval (offsets are not scored).
NOTE_SECONDS = 0.05
#: MIDI note of the first fine class's stand-in pitch; class k is ``BASE_NOTE + k``.
BASE_NOTE = 36
#: mir_eval's default: a rescaled velocity within 0.1 of the (normalised) reference counts.
VELOCITY_TOLERANCE = 0.1


def _hz(midi_note: float) -> float:
    return 440.0 * 2.0 ** ((midi_note - 69.0) / 12.0)


def mir_eval_notes(onsets: Sequence[Onset], fine_classes: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The onsets of ``fine_classes`` as mir_eval notes (others are left out).

    Returns:
        ``(intervals (n, 2) s, pitches (n,) Hz, velocities (n,) MIDI 1..127)``, float64.
    """
    index = {c: k for k, c in enumerate(fine_classes)}
    kept = [o for o in onsets if o.fine_class in index]
    times = np.array([o.time for o in kept], dtype=np.float64)
    intervals = np.stack([times, times + NOTE_SECONDS], axis=1) if kept else np.zeros((0, 2))
    pitches = np.array([_hz(BASE_NOTE + index[o.fine_class]) for o in kept], dtype=np.float64)
    velocities = np.array([float(o.velocity) for o in kept], dtype=np.float64)
    return intervals, pitches, velocities


@dataclass
class TrackVelocityScores:
    """One track's velocity scores.

    Attributes:
        key: the track.
        n_ref, n_est: onsets of the scored classes.
        ref_class: fine class of each matched pair.
        abs_error: ``|estimated - reference|`` MIDI velocity of each matched pair.
        n_velocity_matched: matches that also pass mir_eval's velocity check.
        precision, recall, f_measure: mir_eval's transcription-with-velocity scores (0 when
            either side is empty, as mir_eval returns).
    """

    key: str
    n_ref: int
    n_est: int
    ref_class: list[str] = field(default_factory=list)
    abs_error: np.ndarray = field(default_factory=lambda: np.zeros(0))
    n_velocity_matched: int = 0
    precision: float = 0.0
    recall: float = 0.0
    f_measure: float = 0.0

    @property
    def mae(self) -> float | None:
        """Mean absolute velocity error over the matched onsets (MIDI units); None without any."""
        return float(self.abs_error.mean()) if self.abs_error.size else None


def track_velocity_scores(
    key: str,
    reference: Sequence[Onset],
    estimate: Sequence[Onset],
    fine_classes: Sequence[str],
    onset_window: float = DEFAULT_WINDOW_S,
    velocity_tolerance: float = VELOCITY_TOLERANCE,
) -> TrackVelocityScores:
    """Velocity error and mir_eval's transcription-with-velocity P/R/F of one track.

    Args:
        key: the track's name (kept in the result).
        reference: reference onsets (time s, fine class, MIDI velocity 1..127).
        estimate: estimated onsets, their ``velocity`` the one to score (see :func:`estimated_velocities`).
        fine_classes: the classes scored; onsets of other classes on either side are left out.
        onset_window: onset tolerance (s).
        velocity_tolerance: mir_eval's velocity tolerance (on the [0, 1] normalised scale).

    Returns:
        :class:`TrackVelocityScores`.

    Raises:
        ValueError: a negative velocity or a negative onset time (mir_eval's validation).
    """
    from mir_eval import transcription, transcription_velocity

    ref_i, ref_p, ref_v = mir_eval_notes(reference, fine_classes)
    est_i, est_p, est_v = mir_eval_notes(estimate, fine_classes)
    out = TrackVelocityScores(str(key), int(ref_p.size), int(est_p.size))
    if ref_p.size == 0 or est_p.size == 0:
        return out
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # mir_eval warns about what is handled above
        transcription_velocity.validate(ref_i, ref_p, ref_v, est_i, est_p, est_v)
        matched = transcription.match_notes(
            ref_i, ref_p, est_i, est_p, onset_tolerance=onset_window, offset_ratio=None
        )
        p, r, f, _ = transcription_velocity.precision_recall_f1_overlap(
            ref_i, ref_p, ref_v, est_i, est_p, est_v,
            onset_tolerance=onset_window, offset_ratio=None, velocity_tolerance=velocity_tolerance,
        )
        with_velocity = transcription_velocity.match_notes(
            ref_i, ref_p, ref_v, est_i, est_p, est_v,
            onset_tolerance=onset_window, offset_ratio=None, velocity_tolerance=velocity_tolerance,
        )
    classes = [o.fine_class for o in reference if o.fine_class in set(fine_classes)]
    out.ref_class = [classes[i] for i, _ in matched]
    out.abs_error = np.array([abs(est_v[j] - ref_v[i]) for i, j in matched], dtype=np.float64)
    out.n_velocity_matched = len(with_velocity)
    out.precision, out.recall, out.f_measure = float(p), float(r), float(f)
    return out


def _mean(values: Iterable[float]) -> float | None:
    values = list(values)
    return float(np.mean(values)) if values else None


def velocity_scores(
    tracks: Iterable[tuple[str, Sequence[Onset], Sequence[Onset]]],
    fine_classes: Sequence[str],
    onset_window: float = DEFAULT_WINDOW_S,
    velocity_tolerance: float = VELOCITY_TOLERANCE,
) -> dict:
    """Velocity scores of a set of tracks (a test split).

    Args:
        tracks: ``(key, reference onsets, estimated onsets)`` per track; only tracks whose
            references carry velocities belong here (not text annotations).
        fine_classes: the classes scored.
        onset_window, velocity_tolerance: see :func:`track_velocity_scores`.

    Returns:
        A JSON-able dict: ``mae`` (pooled over all matched onsets, MIDI units; None without a
        match), ``mae_by_class`` (class -> {mae, n}), ``n_matched``, ``f_measure_mean`` /
        ``precision_mean`` / ``recall_mean`` (mir_eval's per-track scores averaged over tracks
        with reference onsets; None without any), ``micro`` (precision, recall, f_measure from
        the velocity-checked matches summed over tracks), the settings, and ``tracks`` (one row
        per track: key, n_ref, n_est, n_matched, mae, precision, recall, f_measure).

    Raises:
        ValueError: see :func:`track_velocity_scores`.
    """
    scored = [
        track_velocity_scores(k, ref, est, fine_classes, onset_window, velocity_tolerance)
        for k, ref, est in tracks
    ]
    errors = np.concatenate([s.abs_error for s in scored]) if scored else np.zeros(0)
    classes = [c for s in scored for c in s.ref_class]
    by_class = {}
    for c in fine_classes:
        e = errors[[k for k, x in enumerate(classes) if x == c]] if classes else np.zeros(0)
        if e.size:
            by_class[c] = {"mae": float(e.mean()), "n": int(e.size)}
    with_ref = [s for s in scored if s.n_ref > 0]
    n_ref = sum(s.n_ref for s in scored)
    n_est = sum(s.n_est for s in scored)
    tp = sum(s.n_velocity_matched for s in scored)
    p = tp / n_est if n_est else 0.0
    r = tp / n_ref if n_ref else 0.0
    return {
        "onset_window": float(onset_window),
        "velocity_tolerance": float(velocity_tolerance),
        "n_tracks": len(scored),
        "n_matched": int(errors.size),
        "mae": float(errors.mean()) if errors.size else None,
        "mae_by_class": by_class,
        "precision_mean": _mean(s.precision for s in with_ref),
        "recall_mean": _mean(s.recall for s in with_ref),
        "f_measure_mean": _mean(s.f_measure for s in with_ref),
        "micro": {
            "precision": p,
            "recall": r,
            "f_measure": 2 * p * r / (p + r) if p + r > 0 else 0.0,
            "tp": int(tp),
            "n_ref": int(n_ref),
            "n_est": int(n_est),
        },
        "tracks": [
            {
                "key": s.key,
                "n_ref": s.n_ref,
                "n_est": s.n_est,
                "n_matched": int(s.abs_error.size),
                "mae": s.mae,
                "precision": s.precision,
                "recall": s.recall,
                "f_measure": s.f_measure,
            }
            for s in scored
        ],
    }


def estimated_velocities(
    onsets: Sequence[Onset],
    *,
    velocity: np.ndarray | None = None,
    fps: float | None = None,
    fine_classes: Sequence[str] | None = None,
    audio: str | Path | None = None,
) -> list[Onset]:
    """``onsets`` with the velocities a user gets (:func:`drumtx.dynamics.onset_velocities`):
    the model's velocity output (``velocity`` (T, C), ``fps``, ``fine_classes``) when given,
    else measured from ``audio``.

    Raises:
        ValueError: neither a velocity output nor an audio file.
        drumtx.audio.AudioError: the audio cannot be read (measuring only).
    """
    from drumtx.dynamics import onset_velocities

    if velocity is None and audio is None:
        raise ValueError("estimated velocities need the model's velocity output or the audio to measure")
    values = onset_velocities(audio, onsets, velocity=velocity, fps=fps, fine_classes=fine_classes)
    return [dataclasses.replace(o, velocity=int(v)) for o, v in zip(onsets, values, strict=True)]


def markdown(scores: dict, source: str) -> list[str]:
    """Report lines (Markdown) for :func:`velocity_scores`' result; ``source`` says where the
    estimated velocities came from (the model's velocity output or measured loudness)."""
    def num(x, fmt):
        return "-" if x is None else format(x, fmt)

    lines = [
        "## Velocity",
        "",
        f"Estimated velocities: {source}. Matched onsets: {scores['n_matched']} "
        f"(within {scores['onset_window'] * 1000:g} ms, same fine class) in {scores['n_tracks']} tracks.",
        "",
        f"- Mean absolute velocity error: {num(scores['mae'], '.1f')} (MIDI velocity units)",
        f"- Transcription-with-velocity F (mir_eval, tolerance {scores['velocity_tolerance']:g}): "
        f"mean over tracks {num(scores['f_measure_mean'], '.3f')}, micro {scores['micro']['f_measure']:.3f}",
    ]
    if scores["mae_by_class"]:
        lines += ["", "| class | matched | velocity MAE |", "|---|---:|---:|"]
        lines += [f"| {c} | {v['n']} | {v['mae']:.1f} |" for c, v in scores["mae_by_class"].items()]
    return lines
