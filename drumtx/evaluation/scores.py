"""Everything that decides whether a model is better, and why, computed from onsets and probabilities.

Pure functions of per-track inputs (:class:`TrackEval`: reference onsets with exact times, decoded
onsets, optional frame probabilities); nothing here runs a model, so the same code scores the
E-GMD-format test split, external annotated audio and hand-made event lists in the tests.

Onsets are matched with mir_eval (:func:`drumtx.metrics.match_onsets`, 50 ms by default) within
each scored class of a :class:`~drumtx.evaluation.matching.ClassScheme` (the fine classes, the
instruments, the five branches, or the coarse classes an external annotation set shares with the
model); the schemes and the matching live in :mod:`drumtx.evaluation.matching`, the aggregation,
frame scores, slices and the whole :class:`Evaluation` here.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from drumtx.evaluation.matching import ClassScheme, confusion_counts, grouped_scheme, match_track
from drumtx.metrics import DEFAULT_WINDOW_S, OnsetCounts
from drumtx.targets import Onset

log = logging.getLogger(__name__)

NONE_LABEL = "none"


# --------------------------------------------------------------------------------------------
# inputs and settings


@dataclass
class TrackEval:
    """One track's inputs to scoring.

    ``fine_probs`` (fine class -> (T,)) and ``activations`` (instrument -> (T,)) are the model's
    frame probabilities at ``fps``; without them the frame-level scores are left out.
    ``meta`` holds per-track columns such as ``beat_type`` (fill / beat) and ``kit_name`` for the
    slices. ``has_velocity`` is False when the annotations carry no loudness (text annotations),
    which rules the track out of the velocity slices.
    """

    key: str
    duration: float
    reference: list[Onset]
    estimate: list[Onset]
    fps: float = 100.0
    fine_probs: dict[str, np.ndarray] = field(default_factory=dict)
    activations: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict = field(default_factory=dict)
    has_velocity: bool = True

    @property
    def n_frames(self) -> int:
        for arr in (*self.fine_probs.values(), *self.activations.values()):
            return len(arr)
        return int(math.floor(self.duration * self.fps)) + 1


@dataclass
class EvalSettings:
    """Tolerances and slice definitions (``eval:`` in conf/evaluate.yaml)."""

    window_s: float = DEFAULT_WINDOW_S  # onset tolerance (MIREX drum transcription: 50 ms)
    ghost_velocity: int = 40  # reference onsets softer than this are ghost notes
    simultaneous_s: float = 0.02  # another instrument within this -> a simultaneous hit
    soft_velocity: float = 60.0  # tracks whose mean reference velocity is below this are "soft"
    velocity_bins: Sequence[int] = (1, 20, 40, 60, 80, 100, 128)  # recall-by-velocity bin edges
    frame_tolerance: int = 0  # frames next to an onset frame left out of the frame negatives
    worst_tracks: int = 10
    curve_points: int = 101  # PR curve points kept (interpolated precision on a recall grid)
    # tier-1 groups of the rhythm-game design: name -> instruments scored as one class
    tier1: Mapping[str, Sequence[str]] = field(
        default_factory=lambda: {"kick": ["kick"], "snare": ["snare"], "rhythm_hand": ["hihat", "ride"]}
    )
    group_by: Sequence[str] = ("beat_type", "kit_name")  # track columns to slice by

    def to_dict(self) -> dict:
        d = asdict(self)
        d["velocity_bins"] = list(self.velocity_bins)
        d["tier1"] = {k: list(v) for k, v in self.tier1.items()}
        d["group_by"] = list(self.group_by)
        return d


# --------------------------------------------------------------------------------------------
# aggregation


def _nan_to_none(x: float | None) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def prf_dict(c: OnsetCounts) -> dict:
    """P/R/F with the counts; a score that is undefined (a 0/0) is ``None``
    (:meth:`~drumtx.metrics.OnsetCounts.scores`), never 1 or 0."""
    p, r, f = c.scores()
    return {"precision": p, "recall": r, "f_measure": f, "tp": c.tp, "n_ref": c.n_ref, "n_est": c.n_est}


def _has_counts(d: object) -> bool:
    return isinstance(d, dict) and all(isinstance(d.get(k), int) for k in ("tp", "n_ref", "n_est"))


def undefined_as_none(summary: dict) -> dict:
    """``summary`` (a metrics.json) with every undefined P/R/F set to ``None``, in place.

    Reports written before undefined scores were stored as ``null`` hold 1.0 for a class with
    neither reference nor estimate onsets (precision and recall of 0/0, and the F of those),
    and 0.0 for a precision without estimates or a recall without references. Every row that
    carries its counts (``tp``, ``n_ref``, ``n_est``: per-class and micro rows of each level
    and slice group, tier-1 rows, track rows) is rescored from them; newer files are unchanged.
    Per-track means (``track_mean``) cannot be rescored from the sums and are left as stored.
    """

    def fix(row: dict) -> None:
        if _has_counts(row) and any(k in row for k in ("precision", "recall", "f_measure")):
            p, r, f = OnsetCounts(row["tp"], row["n_ref"], row["n_est"]).scores()
            for key, value in (("precision", p), ("recall", r), ("f_measure", f)):
                if key in row:
                    row[key] = value

    def level(lv: dict | None) -> None:
        if not isinstance(lv, dict):
            return
        for row in (lv.get("classes") or {}).values():
            fix(row)
        fix((lv.get("overall") or {}).get("micro"))

    for lv in (summary.get("levels") or {}).values():
        level(lv)
    for row in (summary.get("tier1") or {}).values():
        fix(row)
    for row in summary.get("tracks") or []:
        fix(row)
    slices = summary.get("slices") or {}
    for groups in (slices.get("groups") or {}).values():
        for g in (groups or {}).values():
            level(g)
    for key in ("soft", "other"):
        level((slices.get("soft_tracks") or {}).get(key))
    return summary


def _mean_defined(values) -> float | None:
    """Mean of the defined values (an undefined score is left out, not counted as 0 or 1)."""
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def aggregate(per_track: Sequence[dict[str, OnsetCounts]], classes: Sequence[str], minutes: float) -> dict:
    """Per-class micro (summed) and per-track-mean P/R/F, false positives per minute (and the
    ``minutes`` of audio scored, in ``overall``), and the
    micro / macro / weighted F1 over classes.

    The per-track mean of a class averages the tracks where the score is defined: precision over
    the tracks with an estimate of the class, recall over those with a reference, F over those
    with either. A score that is undefined (0/0) is ``None``, in the per-class and micro rows
    too. Macro F1 averages the classes with any reference or estimate; weighted F1 weights each
    class by its support (n_ref).
    """
    out: dict = {"classes": {}}
    total = OnsetCounts()
    fs, supports = {}, {}
    for c in classes:
        counts = [t[c] for t in per_track if c in t]
        summed = sum(counts, OnsetCounts())
        active = [n for n in counts if n.n_ref or n.n_est]
        row = prf_dict(summed)
        row["support"] = summed.n_ref
        row["false_positives"] = summed.n_est - summed.tp
        row["fp_per_minute"] = (summed.n_est - summed.tp) / minutes if minutes > 0 else None
        track_scores = [n.scores() for n in active]
        row["track_mean"] = {
            k: _mean_defined(s[i] for s in track_scores) for i, k in enumerate(("precision", "recall", "f_measure"))
        }
        row["track_mean"]["n_tracks"] = len(active)
        out["classes"][c] = row
        total = total + summed
        if summed.n_ref or summed.n_est:
            fs[c], supports[c] = summed.f_measure, summed.n_ref
    sup = sum(supports.values())
    track_f = [
        sum((t[c] for c in classes if c in t), OnsetCounts()) for t in per_track
    ]
    track_f = [n.f_measure for n in track_f if n.n_ref or n.n_est]
    out["overall"] = {
        "micro": prf_dict(total),
        "macro_f1": float(np.mean(list(fs.values()))) if fs else None,
        "weighted_f1": float(sum(fs[c] * supports[c] for c in fs) / sup) if sup else None,
        "track_mean_f1": float(np.mean(track_f)) if track_f else None,
        "fp_per_minute": (total.n_est - total.tp) / minutes if minutes > 0 else None,
        "minutes": minutes,
        "classes_scored": sorted(fs, key=list(classes).index),
    }
    return out


def _interp_pr_curve(y: np.ndarray, p: np.ndarray, points: int) -> dict:
    """PR curve on a fixed recall grid (interpolated precision: best precision at recall >= r),
    small enough to store in JSON and to overlay two models."""
    from sklearn.metrics import precision_recall_curve

    prec, rec, _ = precision_recall_curve(y, p)
    grid = np.linspace(0.0, 1.0, points)
    order = np.argsort(rec)
    rec, prec = rec[order], prec[order]
    best = np.maximum.accumulate(prec[::-1])[::-1]  # best precision at recall >= rec[i]
    idx = np.searchsorted(rec, grid, side="left")
    interp = np.where(idx < len(rec), best[np.minimum(idx, len(rec) - 1)], 0.0)
    return {"recall": grid.round(4).tolist(), "precision": interp.round(4).tolist()}


def frame_scores(
    tracks: Sequence[TrackEval], scheme: ClassScheme, tolerance: int = 0, curve_points: int = 101
) -> tuple[dict, dict]:
    """Frame-level ROC-AUC and PR-AUC (average precision) per class over all frames of all tracks.

    A frame is positive when a reference onset of the class lands on it (``round(t * fps)``,
    the training targets' convention). ``tolerance`` > 0 drops the frames within that many
    frames of an onset from the negatives, so a peak one frame late is not a false alarm.
    Uses scikit-learn's well-tested ranking metrics. Returns (scores, PR curves).
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    scores, curves = {}, {}
    for cls in scheme.classes:
        ys, ps = [], []
        for tr in tracks:
            p = scheme.frame_prob(cls, tr.fine_probs, tr.activations)
            if p is None:
                ys = None
                break
            y = np.zeros(len(p), dtype=np.int8)
            frames = [int(round(o.time * tr.fps)) for o in tr.reference if scheme.key(o.fine_class) == cls]
            frames = [f for f in frames if 0 <= f < len(p)]
            y[frames] = 1
            keep = np.ones(len(p), dtype=bool)
            if tolerance > 0 and frames:
                near = np.convolve(y, np.ones(2 * tolerance + 1), mode="same") > 0
                keep = ~near | (y == 1)
            ys.append(y[keep])
            ps.append(p[keep])
        if ys is None or not ys:
            continue
        y, p = np.concatenate(ys), np.concatenate(ps)
        n_pos = int(y.sum())
        row = {"n_frames": int(y.size), "n_positive": n_pos, "roc_auc": None, "pr_auc": None}
        if 0 < n_pos < y.size:
            row["roc_auc"] = float(roc_auc_score(y, p))
            row["pr_auc"] = float(average_precision_score(y, p))
            curves[cls] = _interp_pr_curve(y, p, curve_points)
        scores[cls] = row
    return scores, curves


def _simultaneous_flags(reference: Sequence[Onset], classes: Sequence[str | None], within: float) -> np.ndarray:
    """True for reference onsets with an onset of another (scored) class within ``within`` s."""
    n = len(reference)
    flags = np.zeros(n, dtype=bool)
    if n < 2:
        return flags
    times = np.array([o.time for o in reference])
    order = np.argsort(times, kind="stable")
    st = times[order]
    lo = np.searchsorted(st, st - within - 1e-9, side="left")
    hi = np.searchsorted(st, st + within + 1e-9, side="right")
    cls = [classes[i] for i in order]
    for k in range(n):
        if cls[k] is None:
            continue
        if any(cls[m] is not None and cls[m] != cls[k] for m in range(lo[k], hi[k]) if m != k):
            flags[order[k]] = True
    return flags


def _recall_rows(hits: np.ndarray, classes: Sequence[str | None], names: Sequence[str]) -> dict:
    cls = np.array(classes, dtype=object)
    out = {}
    for c in names:
        sel = cls == c
        n = int(sel.sum())
        tp = int(hits[sel].sum())
        out[c] = {"recall": tp / n if n else None, "tp": tp, "n_ref": n}
    n = int(sum(1 for c in classes if c is not None))
    tp = int(sum(h for h, c in zip(hits, classes, strict=True) if c is not None))
    out["all"] = {"recall": tp / n if n else None, "tp": tp, "n_ref": n}
    return out


# --------------------------------------------------------------------------------------------
# the whole evaluation


class Evaluation:
    """All scores of one model on one set of tracks.

    ``levels`` are the schemes scored (e.g. fine, instrument, branch; or the coarse classes an
    external set shares with the model); ``slice_level`` names the one used for the slices,
    the worst-track list and tier-1 recall. Call :meth:`summary` for the JSON-able result.
    """

    def __init__(
        self,
        tracks: Sequence[TrackEval],
        levels: Mapping[str, ClassScheme],
        settings: EvalSettings | None = None,
        slice_level: str = "instrument",
    ):
        if slice_level not in levels:
            raise ValueError(f"slice_level {slice_level!r} is not one of the levels {list(levels)}")
        self.tracks = list(tracks)
        self.levels = dict(levels)
        self.settings = settings or EvalSettings()
        self.slice_level = slice_level
        w = self.settings.window_s
        self.matches = {
            name: [match_track(t.reference, t.estimate, s, w) for t in self.tracks] for name, s in self.levels.items()
        }
        self.curves: dict[str, dict] = {}
        self._summary: dict | None = None

    @property
    def minutes(self) -> float:
        return sum(t.duration for t in self.tracks) / 60.0

    def per_track_counts(self, level: str) -> list[dict[str, OnsetCounts]]:
        classes = list(self.levels[level].classes)
        return [m.counts(classes) for m in self.matches[level]]

    # ---- pieces -------------------------------------------------------------------------

    def level_scores(self, level: str) -> dict:
        scheme = self.levels[level]
        out = aggregate(self.per_track_counts(level), list(scheme.classes), self.minutes)
        frames, curves = frame_scores(
            self.tracks, scheme, self.settings.frame_tolerance, self.settings.curve_points
        )
        self.curves[level] = curves
        for c, row in out["classes"].items():
            f = frames.get(c, {})
            row["roc_auc"] = _nan_to_none(f.get("roc_auc"))
            row["pr_auc"] = _nan_to_none(f.get("pr_auc"))
        aucs = [r["pr_auc"] for r in out["classes"].values() if r["pr_auc"] is not None]
        rocs = [r["roc_auc"] for r in out["classes"].values() if r["roc_auc"] is not None]
        out["overall"]["pr_auc_mean"] = float(np.mean(aucs)) if aucs else None
        out["overall"]["roc_auc_mean"] = float(np.mean(rocs)) if rocs else None
        if scheme.left_out:
            out["left_out"] = dict(scheme.left_out)
        return out

    def confusions(self) -> dict:
        """Onset confusion matrices: one per branch over its fine classes (variations and, for
        the rhythm cymbal, hi-hat against ride), and one over all classes of the finest level."""
        w = self.settings.window_s
        out = {}
        finest = self.levels.get("fine") or next(iter(self.levels.values()))
        if "fine" in self.levels and "branch" in self.levels:
            fine, branch = self.levels["fine"], self.levels["branch"]
            for b, members in branch.classes.items():
                labels = [c for c in fine.classes if c in members]
                M = sum(
                    (confusion_counts(t.reference, t.estimate, lambda o: fine.key(o.fine_class), labels, w) for t in self.tracks),
                    np.zeros((len(labels) + 1,) * 2, dtype=np.int64),
                )
                out[b] = {"labels": labels + [NONE_LABEL], "matrix": M.tolist()}
        labels = list(finest.classes)
        M = sum(
            (confusion_counts(t.reference, t.estimate, lambda o: finest.key(o.fine_class), labels, w) for t in self.tracks),
            np.zeros((len(labels) + 1,) * 2, dtype=np.int64),
        )
        out["all"] = {"labels": labels + [NONE_LABEL], "matrix": M.tolist()}
        return out

    def variation_accuracy(self) -> dict:
        """Among reference onsets of an instrument matched by an estimate of that instrument,
        the fraction whose variation (fine class) is right too."""
        if "fine" not in self.levels:
            return {}
        fine = self.levels["fine"]
        w = self.settings.window_s
        out = {}
        for inst, members in fine.vocab.instruments.items():
            labels = [c for c in members if c in fine.classes]
            if len(labels) < 2:
                continue
            M = sum(
                (confusion_counts(t.reference, t.estimate, lambda o: fine.key(o.fine_class), labels, w) for t in self.tracks),
                np.zeros((len(labels) + 1,) * 2, dtype=np.int64),
            )
            matched = M[:-1, :-1]
            n, correct = int(matched.sum()), int(np.trace(matched))
            out[inst] = {
                "accuracy": correct / n if n else None,
                "n_matched": n,
                "n_correct": correct,
                "per_variation": {
                    lab: {
                        "accuracy": int(matched[i, i]) / int(matched[i].sum()) if matched[i].sum() else None,
                        "n_matched": int(matched[i].sum()),
                    }
                    for i, lab in enumerate(labels)
                },
                "labels": labels,
                "matrix": matched.tolist(),
            }
        return out

    def tier1(self) -> dict:
        base = self.levels[self.slice_level]
        scheme, skipped = grouped_scheme("tier1", base, self.settings.tier1)
        w = self.settings.window_s
        counts = [match_track(t.reference, t.estimate, scheme, w).counts(scheme.classes) for t in self.tracks]
        summed = {c: sum((n[c] for n in counts), OnsetCounts()) for c in scheme.classes}
        out = {c: {"recall": n.scores()[1], "precision": n.scores()[0], "tp": n.tp,
                   "n_ref": n.n_ref, "n_est": n.n_est, "instruments": list(self.settings.tier1[c])}
               for c, n in summed.items()}
        for c, why in skipped.items():
            out[c] = {"recall": None, "skipped": why, "instruments": list(self.settings.tier1[c])}
        return out

    def slices(self) -> dict:
        """Ghost notes, simultaneous hits, velocity bins (recall over reference onsets), soft
        tracks and the ``group_by`` columns such as beat_type = fill / beat (full P/R/F)."""
        s = self.settings
        level = self.slice_level
        scheme = self.levels[level]
        names = list(scheme.classes)
        matches = self.matches[level]
        out: dict = {"level": level}

        vel_tracks = [i for i, t in enumerate(self.tracks) if t.has_velocity]
        hits, cls, vel, simul = [], [], [], []
        for t, m in zip(self.tracks, matches, strict=True):
            hits.append(m.ref_hit)
            cls.extend(m.ref_class)
            vel.append(np.array([o.velocity if t.has_velocity else -1 for o in t.reference], dtype=float))
            simul.append(_simultaneous_flags(t.reference, m.ref_class, s.simultaneous_s))
        hits_a = np.concatenate(hits) if hits else np.zeros(0, bool)
        vel_a = np.concatenate(vel) if vel else np.zeros(0)
        sim_a = np.concatenate(simul) if simul else np.zeros(0, bool)
        cls_a = np.array(cls, dtype=object)

        def subset(mask):
            return _recall_rows(hits_a[mask], list(cls_a[mask]), names)

        has_v = vel_a >= 0
        out["ghost_notes"] = {
            "definition": f"reference velocity < {s.ghost_velocity}",
            "ghost": subset(has_v & (vel_a < s.ghost_velocity)),
            "other": subset(has_v & (vel_a >= s.ghost_velocity)),
            "available": bool(vel_tracks),
        }
        out["simultaneous"] = {
            "definition": f"another {level} within {s.simultaneous_s * 1000:.0f} ms",
            "simultaneous": subset(sim_a),
            "isolated": subset(~sim_a),
        }
        edges = list(s.velocity_bins)
        bins = {}
        for lo, hi in zip(edges[:-1], edges[1:], strict=True):
            bins[f"{lo}-{hi - 1}"] = subset(has_v & (vel_a >= lo) & (vel_a < hi))
        out["velocity_bins"] = {"edges": edges, "bins": bins, "available": bool(vel_tracks)}

        per_track = self.per_track_counts(level)

        def track_group(indices):
            if not indices:
                return None
            res = aggregate([per_track[i] for i in indices], names, sum(self.tracks[i].duration for i in indices) / 60)
            res["n_tracks"] = len(indices)
            return res

        means = [np.mean([o.velocity for o in t.reference]) if t.reference and t.has_velocity else None for t in self.tracks]
        soft = [i for i, m in enumerate(means) if m is not None and m < s.soft_velocity]
        loud = [i for i, m in enumerate(means) if m is not None and m >= s.soft_velocity]
        out["soft_tracks"] = {
            "definition": f"mean reference velocity < {s.soft_velocity:g}",
            "soft": track_group(soft),
            "other": track_group(loud),
            "available": bool(vel_tracks),
        }
        groups, absent = {}, []
        for col in s.group_by:
            values = sorted({str(t.meta[col]) for t in self.tracks if t.meta.get(col) not in (None, "")})
            if not values:
                if not any(col in t.meta for t in self.tracks):
                    absent.append(col)
                continue
            groups[col] = {
                v: track_group([i for i, t in enumerate(self.tracks) if str(t.meta.get(col)) == v]) for v in values
            }
        out["groups"] = groups
        if absent:
            columns = sorted({k for t in self.tracks for k in t.meta} - {"split", "annotation"})  # (evaluate's bookkeeping)
            # tracks with columns but not this one: a misspelt column sliced nothing without a word;
            # tracks with none (a folder of the user's audio and MIDI) have no kits to slice by
            (log.warning if columns else log.info)(
                "eval.group_by: no track has a %s column, so no slices by %s; columns: %s",
                " or ".join(repr(c) for c in absent), "them" if len(absent) > 1 else "it", columns or "none")
        return out

    def track_rows(self) -> list[dict]:
        """One row per track at the slice level, worst first (lowest micro F, most onsets; a
        track with no onset of either side, whose F is undefined, last)."""
        level = self.slice_level
        rows = []
        for t, counts in zip(self.tracks, self.per_track_counts(level), strict=True):
            total = sum(counts.values(), OnsetCounts())
            rows.append(
                {
                    "track": t.key,
                    "duration_s": round(t.duration, 3),
                    **{k: v for k, v in t.meta.items() if isinstance(v, str | int | float | bool) or v is None},
                    **prf_dict(total),
                    "classes": {c: [n.tp, n.n_ref, n.n_est] for c, n in counts.items() if n.n_ref or n.n_est},
                }
            )
        rows.sort(key=lambda r: (r["f_measure"] is None, r["f_measure"] or 0.0, -r["n_ref"]))
        return rows

    # ---- everything -----------------------------------------------------------------------

    def summary(self) -> dict:
        if self._summary is None:
            tracks = self.track_rows()
            self._summary = {
                "settings": self.settings.to_dict(),
                "n_tracks": len(self.tracks),
                "duration_s": sum(t.duration for t in self.tracks),
                "n_reference_onsets": sum(len(t.reference) for t in self.tracks),
                "n_estimated_onsets": sum(len(t.estimate) for t in self.tracks),
                "slice_level": self.slice_level,
                "levels": {name: self.level_scores(name) for name in self.levels},
                "variation_accuracy": self.variation_accuracy(),
                "confusion": self.confusions(),
                "tier1": self.tier1(),
                "slices": self.slices(),
                "tracks": tracks,
                "worst_tracks": [r["track"] for r in tracks if r["n_ref"] or r["n_est"]][: self.settings.worst_tracks],
            }
        return self._summary
