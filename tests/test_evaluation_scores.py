"""The evaluation's scores pinned on hand-made event lists with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from drumtx.evaluation.matching import (
    ClassScheme,
    branch_scheme,
    confusion_counts,
    default_levels,
    fine_scheme,
    grouped_scheme,
    instrument_scheme,
    match_pairs,
    match_track,
)
from drumtx.evaluation.scores import EvalSettings, Evaluation, TrackEval, frame_scores
from drumtx.targets import Onset
from drumtx.vocab import Vocabulary

VOCAB = Vocabulary()


def track(ref, est, duration=10.0, key="t", meta=None, **kw) -> TrackEval:
    return TrackEval(key, duration, [Onset(*r) for r in ref], [Onset(*e) for e in est], meta=meta or {}, **kw)


def run(*tracks, **settings) -> dict:
    return Evaluation(list(tracks), default_levels(VOCAB), EvalSettings(**settings)).summary()


def cls(summary, level, name):
    return summary["levels"][level]["classes"][name]


def test_onset_40ms_off_counts_60ms_off_does_not():
    near = run(track([(1.0, "kick")], [(1.04, "kick")]))
    far = run(track([(1.0, "kick")], [(1.06, "kick")]))
    assert cls(near, "fine", "kick")["tp"] == 1 and cls(near, "fine", "kick")["f_measure"] == 1.0
    k = cls(far, "fine", "kick")
    assert (k["tp"], k["precision"], k["recall"], k["f_measure"]) == (0, 0.0, 0.0, 0.0)
    # The tolerance is a setting.
    assert cls(run(track([(1.0, "kick")], [(1.06, "kick")]), window_s=0.07), "fine", "kick")["tp"] == 1


def test_empty_predictions():
    s = run(track([(1.0, "kick"), (2.0, "snare_head")], []))
    k = cls(s, "fine", "kick")
    # No estimate: the precision is undefined (0/0), not 0; the F of all misses is 0.
    assert (k["precision"], k["recall"], k["f_measure"], k["support"], k["fp_per_minute"]) == (None, 0.0, 0.0, 1, 0.0)
    assert s["levels"]["fine"]["overall"]["micro"]["f_measure"] == 0.0
    assert s["levels"]["fine"]["overall"]["macro_f1"] == 0.0
    assert s["tier1"]["kick"]["recall"] == 0.0


def test_empty_references():
    s = run(track([], [(1.0, "crash"), (3.0, "crash"), (5.0, "crash")], duration=60.0))
    c = cls(s, "fine", "crash")
    assert (c["support"], c["n_est"], c["precision"], c["f_measure"]) == (0, 3, 0.0, 0.0)
    assert c["fp_per_minute"] == pytest.approx(3.0)  # the frustration figure: 3 false crashes in a minute
    # Only the crash has anything to score; classes with neither reference nor estimate stay out of macro F1.
    assert s["levels"]["fine"]["overall"]["classes_scored"] == ["crash"]
    assert s["tier1"]["kick"]["recall"] is None


def test_a_class_with_neither_reference_nor_estimate_is_undefined_not_perfect():
    """Crash and ride with support 0 and no estimate were scored P/R/F 1.0 (and the F of a
    ride with only false alarms against one with nothing read as +100 points)."""
    s = run(track([(1.0, "kick"), (2.0, "kick")], [(1.0, "kick"), (2.0, "kick"), (5.0, "ride")], key="a"),
            track([(1.0, "kick")], [], key="b"))
    for level in ("fine", "instrument", "branch"):
        c = cls(s, level, "crash")
        assert (c["precision"], c["recall"], c["f_measure"]) == (None, None, None), level
        assert c["track_mean"] == {"precision": None, "recall": None, "f_measure": None, "n_tracks": 0}
    ride = cls(s, "instrument", "ride")  # only a false alarm: precision 0, recall undefined, F 0
    assert (ride["precision"], ride["recall"], ride["f_measure"]) == (0.0, None, 0.0)
    # Per-track means leave a track's undefined score out: track b has no kick estimate.
    kick = cls(s, "instrument", "kick")
    assert kick["track_mean"]["precision"] == 1.0 and kick["track_mean"]["recall"] == pytest.approx(0.5)
    assert s["tier1"]["kick"]["precision"] == 1.0
    assert s["levels"]["instrument"]["overall"]["classes_scored"] == ["kick", "ride"]
    nothing = run(track([], []))
    assert nothing["levels"]["fine"]["overall"]["micro"]["f_measure"] is None
    assert nothing["tier1"]["kick"]["precision"] is None and nothing["tracks"][0]["f_measure"] is None


def test_undefined_as_none_rescores_older_reports():
    """metrics.json written before undefined scores were null held 1.0 for a 0/0 class."""
    old_row = {"precision": 1.0, "recall": 1.0, "f_measure": 1.0, "tp": 0, "n_ref": 0, "n_est": 0}
    no_est = {"precision": 0.0, "recall": 0.0, "f_measure": 0.0, "tp": 0, "n_ref": 3, "n_est": 0}
    fine = {"precision": 0.5, "recall": 1.0, "f_measure": 2 / 3, "tp": 1, "n_ref": 1, "n_est": 2}
    level = {"classes": {"crash": dict(old_row), "kick": dict(no_est), "snare": dict(fine)},
             "overall": {"micro": dict(old_row), "macro_f1": None}}
    old = {"levels": {"instrument": level}, "tier1": {"kick": {"recall": None, **old_row}},
           "tracks": [{"track": "t", **old_row}],
           "slices": {"groups": {"kit_name": {"k": {"classes": {"crash": dict(old_row)},
                                                     "overall": {"micro": dict(old_row)}}}},
                      "soft_tracks": {"soft": None, "other": None}}}
    from drumtx.evaluation.scores import undefined_as_none

    new = undefined_as_none(old)
    inst = new["levels"]["instrument"]
    assert (inst["classes"]["crash"]["precision"], inst["classes"]["crash"]["f_measure"]) == (None, None)
    assert inst["classes"]["kick"]["precision"] is None and inst["classes"]["kick"]["recall"] == 0.0
    assert inst["classes"]["snare"] == fine  # defined scores stay as they are
    assert inst["overall"]["micro"]["f_measure"] is None and new["tier1"]["kick"]["precision"] is None
    assert new["tracks"][0]["f_measure"] is None
    assert new["slices"]["groups"]["kit_name"]["k"]["overall"]["micro"]["f_measure"] is None
    assert undefined_as_none({"levels": {}}) == {"levels": {}}  # a sparse file is read as it is


def test_nothing_at_all():
    s = run(track([], []))
    assert s["levels"]["fine"]["overall"]["macro_f1"] is None
    assert s["worst_tracks"] == []


def test_micro_versus_per_track_mean():
    a = track([(t, "kick") for t in range(1, 10)], [(t, "kick") for t in range(1, 10)], key="a")  # 9/9
    b = track([(1.0, "kick")], [], key="b")  # 0/1
    k = cls(run(a, b), "fine", "kick")
    assert k["recall"] == pytest.approx(9 / 10)
    assert k["track_mean"]["recall"] == pytest.approx((1.0 + 0.0) / 2)
    assert k["track_mean"]["n_tracks"] == 2


def test_macro_and_weighted_f1():
    t = track([(t, "kick") for t in (1, 2, 3)] + [(5.0, "snare_head")], [(t, "kick") for t in (1, 2, 3)])
    o = run(t)["levels"]["fine"]["overall"]
    assert o["macro_f1"] == pytest.approx((1.0 + 0.0) / 2)
    assert o["weighted_f1"] == pytest.approx((3 * 1.0 + 1 * 0.0) / 4)
    assert o["micro"]["recall"] == pytest.approx(3 / 4) and o["micro"]["precision"] == 1.0


def test_levels_variation_accuracy_and_confusion():
    ref = [(1.0, "snare_rim"), (2.0, "snare_head"), (3.0, "hihat_closed"), (4.0, "tom_floor")]
    est = [(1.0, "snare_head"), (2.01, "snare_head"), (3.0, "ride"), (4.02, "tom_high")]
    s = run(track(ref, est))
    # Fine: the rim hit was called head; instrument: it is a snare all the same.
    assert cls(s, "fine", "snare_rim")["tp"] == 0 and cls(s, "fine", "snare_head")["n_est"] == 2
    assert cls(s, "instrument", "snare")["tp"] == 2 and cls(s, "instrument", "snare")["recall"] == 1.0
    # A hi-hat heard as ride: wrong instrument, right branch (the rhythm cymbal).
    assert cls(s, "instrument", "hihat")["tp"] == 0 and cls(s, "branch", "cymbal")["tp"] == 1
    va = s["variation_accuracy"]
    assert va["snare"]["accuracy"] == 0.5 and va["snare"]["n_matched"] == 2
    assert va["tom"]["accuracy"] == 0.0 and va["tom"]["n_matched"] == 1
    assert va["hihat"]["n_matched"] == 0 and va["hihat"]["accuracy"] is None
    conf = s["confusion"]["cymbal"]
    labels = conf["labels"]
    assert labels == ["hihat_closed", "hihat_open", "ride", "ride_bell", "none"]
    assert conf["matrix"][labels.index("hihat_closed")][labels.index("ride")] == 1
    snare = s["confusion"]["snare"]
    assert snare["matrix"] == [[1, 0, 0], [1, 0, 0], [0, 0, 0]]  # rows head, rim, none; cols head, rim, none
    assert s["tier1"]["rhythm_hand"]["recall"] == 1.0  # hi-hat + ride together


def test_confusion_prefers_the_right_label_nearby():
    ref = [Onset(1.00, "hihat_closed"), Onset(1.00, "ride")]
    est = [Onset(1.00, "ride"), Onset(1.01, "hihat_closed"), Onset(3.0, "ride_bell")]
    labels = ["hihat_closed", "ride", "ride_bell"]
    M = confusion_counts(ref, est, lambda o: o.fine_class, labels, 0.05)
    assert M.tolist() == [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0], [0, 0, 1, 0]]


def test_match_pairs_maps_back_to_unsorted_indices():
    pairs = match_pairs([3.0, 1.0, 2.0], [2.01, 0.0, 3.02], 0.05)
    assert sorted(pairs) == [(0, 2), (2, 0)]


def test_branch_scheme_follows_the_slots():
    assert branch_scheme(VOCAB).classes == {
        "kick": ("kick",), "snare": ("snare_head", "snare_rim"), "tom": ("tom_floor", "tom_high", "tom_mid"),
        "cymbal": ("hihat_closed", "hihat_open", "ride", "ride_bell"), "crash": ("crash",),
    }


def test_slices_ghost_simultaneous_velocity_and_groups():
    fill = track([(1.0, "snare_head", 30), (2.0, "snare_head", 100), (3.0, "kick", 90), (3.01, "hihat_closed", 80)],
                 [(2.0, "snare_head"), (3.0, "kick")], key="fill", meta={"beat_type": "fill"})
    beat = track([(1.0, "kick", 20), (2.0, "kick", 20)], [(1.0, "kick"), (2.0, "kick")], key="beat",
                 meta={"beat_type": "beat"})
    s = run(fill, beat)
    sl = s["slices"]
    ghost = sl["ghost_notes"]
    assert ghost["ghost"]["snare"]["recall"] == 0.0 and ghost["other"]["snare"]["recall"] == 1.0
    assert ghost["ghost"]["kick"]["n_ref"] == 2 and ghost["ghost"]["kick"]["recall"] == 1.0
    sim = sl["simultaneous"]
    assert sim["simultaneous"]["kick"]["n_ref"] == 1 and sim["simultaneous"]["hihat"]["recall"] == 0.0
    assert sim["isolated"]["all"]["n_ref"] == 4
    groups = sl["groups"]["beat_type"]
    assert groups["fill"]["n_tracks"] == 1 and groups["fill"]["classes"]["snare"]["recall"] == 0.5
    assert groups["beat"]["overall"]["micro"]["f_measure"] == 1.0
    soft = sl["soft_tracks"]
    assert soft["soft"]["n_tracks"] == 1 and soft["other"]["n_tracks"] == 1  # mean velocity 20 vs 75
    bins = sl["velocity_bins"]["bins"]
    assert bins["20-39"]["kick"]["n_ref"] == 2 and bins["1-19"]["all"]["n_ref"] == 0
    # Worst track first.
    assert s["worst_tracks"][0] == "fill"


def test_slices_without_velocities():
    t = track([(1.0, "kick")], [(1.0, "kick")], has_velocity=False)
    sl = run(t)["slices"]
    assert not sl["ghost_notes"]["available"] and sl["ghost_notes"]["ghost"]["all"]["n_ref"] == 0
    assert sl["soft_tracks"]["soft"] is None


def test_frame_auc_and_tolerance():
    rng = np.random.default_rng(0)
    T = 400
    onsets = [50, 150, 250, 350]
    p = rng.uniform(0.0, 0.2, T)
    p[onsets] = 0.3
    p[[f + 1 for f in onsets]] = 0.9  # the model peaks one frame late
    t = track([(f / 100, "kick") for f in onsets], [], duration=4.0, fine_probs={"kick": p}, activations={"kick": p})
    scheme = fine_scheme(VOCAB)
    strict, _ = frame_scores([t], scheme, tolerance=0)
    loose, curves = frame_scores([t], scheme, tolerance=1)
    assert strict["kick"]["roc_auc"] < 1.0 and strict["kick"]["pr_auc"] < 0.6
    assert loose["kick"]["roc_auc"] == pytest.approx(1.0) and loose["kick"]["pr_auc"] == pytest.approx(1.0)
    assert loose["kick"]["n_positive"] == 4 and "snare_head" not in loose  # no probabilities given
    assert curves["kick"]["precision"][-1] == pytest.approx(1.0)


def test_frame_probability_of_a_merged_class_is_noisy_or():
    hh, rd = np.array([0.5, 0.0]), np.array([0.5, 0.2])
    s, _ = grouped_scheme("x", instrument_scheme(VOCAB), {"rhythm_hand": ["hihat", "ride"]})
    p = s.frame_prob("rhythm_hand", {}, {"hihat": hh, "ride": rd})
    assert p.tolist() == pytest.approx([0.75, 0.2])


def test_coarse_labels_and_left_out_classes():
    # External annotations name coarse classes; a 'cymbal' group holds ride and crash.
    scheme = ClassScheme("coarse", {"kick": ("kick",), "snare": ("snare_head", "snare_rim"),
                                    "hihat": ("hihat_closed", "hihat_open"),
                                    "cymbal": ("ride", "ride_bell", "crash")}, VOCAB,
                         label_fines={"cymbal": ("ride", "ride_bell", "crash")}, left_out={"tom": "not annotated"})
    assert scheme.key("snare") == "snare" and scheme.key("snare_rim") == "snare"
    assert scheme.key("crash") == "cymbal" and scheme.key("cymbal") == "cymbal"
    assert scheme.key("tom_floor") is None and scheme.key("hihat") == "hihat" and scheme.key("ride") == "cymbal"
    t = track([(1.0, "snare"), (2.0, "cymbal")], [(1.0, "snare_rim"), (2.0, "ride_bell"), (3.0, "tom_high")])
    s = Evaluation([t], {"coarse": scheme}, slice_level="coarse").summary()
    assert cls(s, "coarse", "snare")["tp"] == 1 and cls(s, "coarse", "cymbal")["tp"] == 1
    assert s["levels"]["coarse"]["overall"]["micro"]["precision"] == 1.0  # the tom estimate is not scored
    assert s["levels"]["coarse"]["left_out"] == {"tom": "not annotated"}
    assert s["tier1"]["rhythm_hand"]["recall"] is None and "crash" in s["tier1"]["rhythm_hand"]["skipped"]
    assert s["variation_accuracy"] == {}


def test_match_track_drops_labels_outside_the_scheme():
    m = match_track([Onset(1.0, "kick"), Onset(1.0, "nonsense")], [Onset(1.0, "kick")], instrument_scheme(VOCAB), 0.05)
    assert m.ref_class == ["kick", None] and m.ref_hit.tolist() == [True, False]
    assert m.counts(["kick"])["kick"].n_ref == 1


def test_overlapping_scheme_is_refused():
    with pytest.raises(ValueError, match="in both"):
        ClassScheme("bad", {"a": ("kick",), "b": ("kick",)}, VOCAB)


def test_a_group_by_column_no_track_has_is_named(caplog):
    """A new-user trial: eval.group_by=[kitname] gave no slices, and dropped the default ones,
    without a word; a column some tracks lack (an external folder's) is not warned about."""
    fill = track([(1.0, "kick")], [(1.0, "kick")], key="fill", meta={"beat_type": "fill", "kit_name": "k"})
    plain = track([(1.0, "kick")], [(1.0, "kick")], key="plain", meta={"beat_type": "beat"})
    s = run(fill, plain, group_by=("kitname", "kit_name"))
    assert list(s["slices"]["groups"]) == ["kit_name"]
    assert "no track has a 'kitname' column" in caplog.text and "no track has a 'kit_name'" not in caplog.text


def test_tracks_without_any_column_get_one_quiet_line_for_the_default_slices(caplog):
    """A new user's trial: evaluating a folder of their own audio and MIDI (no track columns)
    warned three times, once per default group_by column."""
    bare = track([(1.0, "kick")], [(1.0, "kick")], key="song", meta={"annotation": "songs/song.mid"})  # as evaluate's
    with caplog.at_level("INFO"):
        s = run(bare, group_by=("beat_type", "kit_name", "kit_set"))
    assert s["slices"]["groups"] == {}
    lines = [r for r in caplog.records if "eval.group_by" in r.getMessage()]
    assert len(lines) == 1 and lines[0].levelname == "INFO"
    assert "no track has a 'beat_type' or 'kit_name' or 'kit_set' column, so no slices by them" in lines[0].getMessage()
