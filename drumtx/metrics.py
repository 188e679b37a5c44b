"""Onset-level scores with mir_eval's matching, summed over tracks (micro) or per track.

An estimated onset matches a reference onset of the same class when they are within the
tolerance window (50 ms by default, the MIREX drum-transcription convention); each onset
matches at most once (``mir_eval.util.match_events`` solves the bipartite matching).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import mir_eval
import numpy as np

from drumtx.targets import Onset

DEFAULT_WINDOW_S = 0.05


@dataclass
class OnsetCounts:
    """True positives and totals for one class; add them up over tracks for micro scores.

    :attr:`precision`, :attr:`recall` and :attr:`f_measure` are always numbers, for training's
    logs and threshold search: a ratio of 0/0 is 1 with nothing on the other side (no reference
    and no estimate), else 0. A report must not show those made-up values; :meth:`scores` gives
    ``None`` for every score that is undefined.
    """

    tp: int = 0
    n_ref: int = 0
    n_est: int = 0

    def __add__(self, other: OnsetCounts) -> OnsetCounts:
        return OnsetCounts(self.tp + other.tp, self.n_ref + other.n_ref, self.n_est + other.n_est)

    @property
    def precision(self) -> float:
        return self.tp / self.n_est if self.n_est else (1.0 if self.n_ref == 0 else 0.0)

    @property
    def recall(self) -> float:
        return self.tp / self.n_ref if self.n_ref else (1.0 if self.n_est == 0 else 0.0)

    @property
    def f_measure(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r > 0 else 0.0

    def scores(self) -> tuple[float | None, float | None, float | None]:
        """(precision, recall, F-measure), ``None`` where undefined: precision without an
        estimate, recall without a reference, all three with neither. F is 0 when only one side
        is empty (every reference missed, or every estimate a false alarm)."""
        p = self.tp / self.n_est if self.n_est else None
        r = self.tp / self.n_ref if self.n_ref else None
        if p is None and r is None:
            return None, None, None
        if p is None or r is None:
            return p, r, 0.0
        return p, r, self.f_measure

    def as_dict(self) -> dict[str, float]:
        return {
            "precision": self.precision,
            "recall": self.recall,
            "f_measure": self.f_measure,
            "tp": self.tp,
            "n_ref": self.n_ref,
            "n_est": self.n_est,
        }


def match_onsets(ref_times, est_times, window: float = DEFAULT_WINDOW_S) -> list[tuple[int, int]]:
    """Pairs (ref index, est index) of matched onsets within ``window`` seconds."""
    ref = np.sort(np.asarray(ref_times, dtype=float))
    est = np.sort(np.asarray(est_times, dtype=float))
    if ref.size == 0 or est.size == 0:
        return []
    return mir_eval.util.match_events(ref, est, window)


def onset_counts(ref_times, est_times, window: float = DEFAULT_WINDOW_S) -> OnsetCounts:
    return OnsetCounts(len(match_onsets(ref_times, est_times, window)), len(ref_times), len(est_times))


def per_class_counts(
    reference: Iterable[Onset],
    estimate: Iterable[Onset],
    classes: Iterable[str],
    key: Callable[[Onset], str] = lambda o: o.fine_class,
    window: float = DEFAULT_WINDOW_S,
) -> dict[str, OnsetCounts]:
    """Onset counts of one track per class; ``key`` picks the class (fine class or instrument)."""
    reference, estimate = list(reference), list(estimate)
    out = {}
    for c in classes:
        ref = [o.time for o in reference if key(o) == c]
        est = [o.time for o in estimate if key(o) == c]
        out[c] = onset_counts(ref, est, window)
    return out


def sum_counts(per_track: Iterable[dict[str, OnsetCounts]]) -> dict[str, OnsetCounts]:
    """Micro totals over tracks."""
    total: dict[str, OnsetCounts] = {}
    for counts in per_track:
        for c, n in counts.items():
            total[c] = total.get(c, OnsetCounts()) + n
    return total


def precision_lower_bound(c: OnsetCounts, confidence: float = 0.95) -> float:
    """Lower end of the Wilson score interval of the precision ``tp / n_est`` at ``confidence``
    (two-sided: 0.95 bounds it from below at 97.5 %); 0 with no estimate.

    One right crash out of one estimate is a precision of 1 that shows nothing: its bound is
    0.21. With no false onset, ~22 right ones are needed for a bound of 0.85.
    """
    if c.n_est == 0:
        return 0.0
    from scipy.stats import binomtest

    return float(binomtest(c.tp, c.n_est).proportion_ci(confidence, method="wilson").low)
