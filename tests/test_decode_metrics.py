"""Peak picking and onset scoring, pinned on hand-made inputs with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from drumtx.decode import decode_onsets, onset_confidences, pick_peaks, velocity_from_activation
from drumtx.metrics import OnsetCounts, onset_counts, per_class_counts, sum_counts
from drumtx.targets import Onset
from drumtx.vocab import Vocabulary


def test_pick_peaks_threshold_local_max_and_gap():
    act = np.zeros(100)
    act[[10, 12, 40, 99]] = [0.9, 0.7, 0.4, 0.8]
    assert pick_peaks(act, 0.5, 1).tolist() == [10, 12, 99]
    # Within the minimum gap only the higher peak survives.
    assert pick_peaks(act, 0.5, 3).tolist() == [10, 99]
    assert pick_peaks(act, 0.3, 1).tolist() == [10, 12, 40, 99]
    assert pick_peaks(np.zeros(0), 0.5).size == 0


def test_pick_peaks_plateau_counts_once():
    act = np.array([0, 0.8, 0.8, 0.8, 0])
    assert len(pick_peaks(act, 0.5, 1)) == 1


def test_decode_takes_variation_at_the_peak():
    vocab = Vocabulary()
    T = 50
    probs = {inst: (np.zeros(T), np.full((T, len(fine)), 1.0 / len(fine))) for inst, fine in vocab.instruments.items()}
    act, var = probs["hihat"]
    act[20], var[20] = 0.95, [0.2, 0.8]  # open
    act[30], var[30] = 0.9, [0.7, 0.3]  # closed
    probs["kick"][0][5] = 0.99
    onsets = decode_onsets(probs, fps=100, vocab=vocab)
    assert [(o.time, o.fine_class) for o in onsets] == [(0.05, "kick"), (0.2, "hihat_open"), (0.3, "hihat_closed")]
    assert all(1 <= o.velocity <= 127 for o in onsets)
    conf = onset_confidences(probs, onsets, 100, vocab)
    assert conf[1] == pytest.approx(0.95 * 0.8)


def test_velocity_is_monotonic_and_bounded():
    v = [velocity_from_activation(p, 0.5) for p in (0.5, 0.6, 0.8, 1.0)]
    assert v == sorted(v) and v[0] >= 1 and v[-1] == 127


def test_onset_40ms_off_counts_60ms_does_not():
    assert onset_counts([1.0], [1.04]).tp == 1
    assert onset_counts([1.0], [1.06]).tp == 0


def test_each_onset_matches_once():
    c = onset_counts([1.0, 1.02], [1.01])
    assert (c.tp, c.n_ref, c.n_est) == (1, 2, 1)
    assert c.precision == 1.0 and c.recall == 0.5


def test_empty_predictions_and_empty_references():
    assert onset_counts([1.0, 2.0], []).as_dict()["f_measure"] == 0.0
    empty = onset_counts([], [])
    assert empty.precision == empty.recall == 1.0
    none_ref = onset_counts([], [1.0])
    assert none_ref.precision == 0.0 and none_ref.f_measure == 0.0


def test_per_class_and_micro_sum():
    ref = [Onset(1.0, "kick"), Onset(1.0, "snare_head"), Onset(2.0, "snare_rim")]
    est = [Onset(1.01, "kick"), Onset(2.0, "snare_head")]
    fine = per_class_counts(ref, est, ["kick", "snare_head", "snare_rim"])
    assert fine["kick"].tp == 1 and fine["snare_head"].tp == 0 and fine["snare_rim"].tp == 0
    coarse = per_class_counts(ref, est, ["snare"], key=lambda o: o.fine_class.split("_")[0])
    # As an instrument, the rim hit at 2.0 s is found (by an estimate labelled head); 1.0 s is missed.
    assert (coarse["snare"].tp, coarse["snare"].n_ref, coarse["snare"].n_est) == (1, 2, 1)
    total = sum_counts([fine, fine])
    assert total["kick"] == OnsetCounts(2, 2, 2)


def test_scores_leave_undefined_ratios_undefined():
    """The float properties keep their 0/0 conventions (training logs, threshold search);
    scores() is what a report shows: None for a 0/0, never a made-up 1 or 0."""
    assert OnsetCounts(0, 0, 0).scores() == (None, None, None)  # nothing either side: not a perfect score
    assert OnsetCounts(0, 0, 3).scores() == (0.0, None, 0.0)  # only false alarms
    assert OnsetCounts(0, 2, 0).scores() == (None, 0.0, 0.0)  # only misses
    c = OnsetCounts(1, 2, 4)
    assert c.scores() == (c.precision, c.recall, c.f_measure) == (0.25, 0.5, pytest.approx(1 / 3))
