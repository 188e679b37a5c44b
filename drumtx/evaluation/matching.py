"""Which labels are scored together, and which onsets match: the class schemes and the matching
under them that :mod:`drumtx.evaluation.scores` aggregates.

A :class:`ClassScheme` says which labels are scored together: the fine classes, the instruments,
the five branches (kick, snare, tom, rhythm cymbal, crash), or the coarse classes an external
annotation set shares with the model. Onsets are matched with mir_eval
(:func:`drumtx.metrics.match_onsets`, one-to-one within a tolerance) within each scored class
(:func:`match_track`), and across classes for the confusion matrices (:func:`confusion_counts`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from drumtx.metrics import OnsetCounts, match_onsets
from drumtx.targets import SLOTS, Onset
from drumtx.vocab import Vocabulary

# --------------------------------------------------------------------------------------------
# class schemes


@dataclass
class ClassScheme:
    """Scored classes: class name -> the fine classes it stands for (disjoint).

    Labels on onsets may be fine classes, instrument names, or extra names listed in
    ``label_fines`` (an external label map's groups, e.g. ``cymbal`` = ride + crash); a label
    belongs to the class whose fine classes contain all of its own, else it is left out.
    ``left_out`` records, for the report, what could not be scored and why.
    """

    name: str
    classes: dict[str, tuple[str, ...]]
    vocab: Vocabulary
    label_fines: dict[str, tuple[str, ...]] = field(default_factory=dict)
    left_out: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        seen: dict[str, str] = {}
        for c, fine in self.classes.items():
            for f in fine:
                if f in seen:
                    raise ValueError(f"class scheme {self.name}: {f!r} is in both {seen[f]!r} and {c!r}")
                seen[f] = c
        self._owner = seen
        self._cache: dict[str, str | None] = {}

    def fines_of(self, label: str) -> tuple[str, ...]:
        if label in self.vocab.fine_classes or label in self._owner:
            return (label,)
        if label in self.classes:
            return self.classes[label]
        if label in self.vocab.instruments:
            return self.vocab.instruments[label]
        return tuple(self.label_fines.get(label, ()))

    def key(self, label: str) -> str | None:
        """The class ``label`` is scored as, or None when it is left out."""
        if label not in self._cache:
            owners = {self._owner.get(f) for f in self.fines_of(label)}
            self._cache[label] = owners.pop() if len(owners) == 1 and None not in owners else None
        return self._cache[label]

    def frame_prob(self, cls: str, fine_probs: Mapping, activations: Mapping) -> np.ndarray | None:
        """Frame probability of ``cls``: instrument activations for whole instruments, fine
        probabilities for the rest, combined as P(any) = 1 - prod(1 - p) (noisy-or; exact for
        the flat head's independent sigmoids, within p_a * p_b of the sum for exclusive heads)."""
        members = set(self.classes[cls])
        parts = []
        for inst, fine in self.vocab.instruments.items():
            if set(fine) <= members:
                if inst in activations:
                    parts.append(np.asarray(activations[inst], dtype=np.float64))
                    members -= set(fine)
        for f in sorted(members):
            if f not in fine_probs:
                return None
            parts.append(np.asarray(fine_probs[f], dtype=np.float64))
        if not parts:
            return None
        if len(parts) == 1:
            return parts[0]
        return 1.0 - np.prod([1.0 - p for p in parts], axis=0)


def fine_scheme(vocab: Vocabulary) -> ClassScheme:
    return ClassScheme("fine", {c: (c,) for c in vocab.fine_classes}, vocab)


def instrument_scheme(vocab: Vocabulary) -> ClassScheme:
    return ClassScheme("instrument", dict(vocab.instruments), vocab)


def branch_of(instrument: str, vocab: Vocabulary) -> str:
    """The design's branch of an instrument: the single-label slot its classes share
    (snare, tom, cymbal = hi-hat + ride, from :data:`drumtx.targets.SLOTS`) or itself."""
    first = vocab.instruments[instrument][0]
    for slot, members in SLOTS.items():
        if first in members:
            return slot
    return instrument


def branch_scheme(vocab: Vocabulary) -> ClassScheme:
    classes: dict[str, tuple[str, ...]] = {}
    for inst, fine in vocab.instruments.items():
        b = branch_of(inst, vocab)
        classes[b] = classes.get(b, ()) + tuple(fine)
    return ClassScheme("branch", classes, vocab)


def grouped_scheme(name: str, base: ClassScheme, groups: Mapping[str, Sequence[str]]) -> tuple[ClassScheme, dict]:
    """A coarser scheme whose classes are unions of ``base`` classes or instruments.

    Returns the scheme and, per group that cannot be formed exactly from ``base`` (e.g.
    rhythm hand = hi-hat + ride when the annotations merge ride and crash), the reason.
    """
    classes, skipped = {}, {}
    for g, parts in groups.items():
        wanted = set()
        for p in parts:
            wanted |= set(base.vocab.instruments.get(p, (p,)))
        owners = {base._owner.get(f) for f in wanted}
        if None in owners:
            skipped[g] = f"{sorted(wanted - set(base._owner))} not scored here"
            continue
        have = set().union(*(base.classes[o] for o in owners))
        if have != wanted:
            skipped[g] = f"the scored classes {sorted(owners)} also hold {sorted(have - wanted)}"
            continue
        classes[g] = tuple(sorted(have))
    scheme = ClassScheme(name, classes, base.vocab, label_fines={**base.label_fines, **base.classes})
    return scheme, skipped


# --------------------------------------------------------------------------------------------
# matching


def match_pairs(ref_times: Sequence[float], est_times: Sequence[float], window: float) -> list[tuple[int, int]]:
    """mir_eval's one-to-one matching, with indices into the lists as given (unsorted)."""
    ref = np.asarray(ref_times, dtype=float)
    est = np.asarray(est_times, dtype=float)
    if ref.size == 0 or est.size == 0:
        return []
    ro, eo = np.argsort(ref, kind="stable"), np.argsort(est, kind="stable")
    return [(int(ro[i]), int(eo[j])) for i, j in match_onsets(ref[ro], est[eo], window)]


@dataclass
class TrackMatch:
    """Per-onset outcome of matching one track under one scheme."""

    ref_class: list[str | None]
    est_class: list[str | None]
    ref_hit: np.ndarray
    est_hit: np.ndarray

    def counts(self, classes: Iterable[str]) -> dict[str, OnsetCounts]:
        rc, ec = np.array(self.ref_class, dtype=object), np.array(self.est_class, dtype=object)
        return {
            c: OnsetCounts(int(self.ref_hit[rc == c].sum()), int((rc == c).sum()), int((ec == c).sum()))
            for c in classes
        }


def match_track(reference: Sequence[Onset], estimate: Sequence[Onset], scheme: ClassScheme, window: float) -> TrackMatch:
    rc = [scheme.key(o.fine_class) for o in reference]
    ec = [scheme.key(o.fine_class) for o in estimate]
    ref_hit = np.zeros(len(reference), dtype=bool)
    est_hit = np.zeros(len(estimate), dtype=bool)
    for c in scheme.classes:
        ri = [i for i, k in enumerate(rc) if k == c]
        ei = [j for j, k in enumerate(ec) if k == c]
        pairs = match_pairs([reference[i].time for i in ri], [estimate[j].time for j in ei], window)
        for a, b in pairs:
            ref_hit[ri[a]] = True
            est_hit[ei[b]] = True
    return TrackMatch(rc, ec, ref_hit, est_hit)


def confusion_counts(
    reference: Sequence[Onset],
    estimate: Sequence[Onset],
    label_of: Callable[[Onset], str | None],
    labels: Sequence[str],
    window: float,
) -> np.ndarray:
    """Onset confusion matrix ``(n + 1, n + 1)``: rows reference, columns estimate, last = none.

    Two stages, so that a correct label is never traded for a wrong one nearby: first each
    label is matched with itself (the diagonal), then the leftovers of all labels are matched
    with each other regardless of label (the confusions). Unmatched references land in the
    ``none`` column (misses), unmatched estimates in the ``none`` row (false alarms).
    """
    n = len(labels)
    idx = {lab: i for i, lab in enumerate(labels)}
    R = [(o.time, idx[lab]) for o in reference if (lab := label_of(o)) in idx]
    E = [(o.time, idx[lab]) for o in estimate if (lab := label_of(o)) in idx]
    M = np.zeros((n + 1, n + 1), dtype=np.int64)
    ref_free, est_free = np.ones(len(R), dtype=bool), np.ones(len(E), dtype=bool)
    for k in range(n):
        ri = [i for i, (_, lab) in enumerate(R) if lab == k]
        ei = [j for j, (_, lab) in enumerate(E) if lab == k]
        for a, b in match_pairs([R[i][0] for i in ri], [E[j][0] for j in ei], window):
            M[k, k] += 1
            ref_free[ri[a]] = est_free[ei[b]] = False
    ri, ei = np.flatnonzero(ref_free), np.flatnonzero(est_free)
    for a, b in match_pairs([R[i][0] for i in ri], [E[j][0] for j in ei], window):
        M[R[ri[a]][1], E[ei[b]][1]] += 1
        ref_free[ri[a]] = est_free[ei[b]] = False
    for i in np.flatnonzero(ref_free):
        M[R[i][1], n] += 1
    for j in np.flatnonzero(est_free):
        M[n, E[j][1]] += 1
    return M


def default_levels(vocab: Vocabulary) -> dict[str, ClassScheme]:
    """Fine classes, instruments and the design's five branches."""
    return {"fine": fine_scheme(vocab), "instrument": instrument_scheme(vocab), "branch": branch_scheme(vocab)}
