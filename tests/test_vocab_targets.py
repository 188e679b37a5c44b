"""Note maps, the policy, the frame roll, every collision kind, and the MIDI round trip."""

from __future__ import annotations

import numpy as np
import pretty_midi
import pytest

from drumtx.targets import (
    HIERARCHY,
    LabelCounts,
    Onset,
    TargetPolicy,
    hierarchical_targets,
    n_frames_for,
    notes_to_onsets,
    onset_roll,
    onsets_to_midi,
    read_midi_onsets,
    targets_to_onsets,
)
from drumtx.vocab import ARTICULATIONS, NOTE_MAPS, OUTPUT_NOTES, Vocabulary, note_map

FPS = 100.0
FINE = ["kick", "snare_head", "snare_rim", "tom_floor", "tom_high", "tom_mid", "hihat_closed", "hihat_open", "ride",
        "ride_bell", "crash"]


# ---- vocabulary and note maps -------------------------------------------------------------------
def test_fine_classes_order_and_pedal():
    assert Vocabulary().fine_classes == FINE
    assert Vocabulary(hihat_pedal=True).fine_classes == FINE + ["hihat_pedal"]
    assert list(Vocabulary().instruments) == ["kick", "snare", "tom", "hihat", "ride", "crash"]
    assert Vocabulary().instrument_of("ride_bell") == "ride"
    with pytest.raises(KeyError):
        Vocabulary().instrument_of("hihat_pedal")


def test_roland_td17_map_pinned():
    expected = {
        36: "kick", 38: "snare_head", 40: "snare_rim", 37: "cross_stick",
        48: "tom_high", 50: "tom_high", 45: "tom_mid", 47: "tom_mid", 43: "tom_floor", 58: "tom_floor",
        46: "hihat_open", 26: "hihat_open", 42: "hihat_closed", 22: "hihat_closed", 44: "hihat_pedal",
        49: "crash", 55: "crash", 57: "crash", 52: "crash", 51: "ride", 59: "ride", 53: "ride_bell",
    }
    assert NOTE_MAPS["roland_td17"] == expected


def test_general_midi_map_pinned():
    gm = note_map("general_midi")
    assert gm[35] == gm[36] == "kick"
    assert gm[38] == gm[40] == "snare_head" and gm[37] == "cross_stick"
    assert gm[41] == gm[43] == "tom_floor" and gm[45] == gm[47] == "tom_mid" and gm[48] == gm[50] == "tom_high"
    assert (gm[42], gm[46], gm[44]) == ("hihat_closed", "hihat_open", "hihat_pedal")
    assert {gm[n] for n in (49, 57, 52, 55)} == {"crash"}
    assert (gm[51], gm[59], gm[53]) == ("ride", "ride", "ride_bell")
    with pytest.raises(KeyError, match="unknown note map"):
        note_map("nope")


def test_every_label_is_known_and_output_notes_read_back():
    known = set(Vocabulary(hihat_pedal=True).fine_classes) | set(ARTICULATIONS)
    for name, mapping in NOTE_MAPS.items():
        assert set(mapping.values()) <= known, name
    # What transcription writes is read back to the same class by the TD-17 map (the E-GMD map);
    # General MIDI has no rim note of its own (40 is "electric snare"), so only that class folds.
    td17 = NOTE_MAPS["roland_td17"]
    assert {c: td17[OUTPUT_NOTES[c]] for c in Vocabulary(hihat_pedal=True).fine_classes} == {
        c: c for c in Vocabulary(hihat_pedal=True).fine_classes
    }
    gm = NOTE_MAPS["general_midi"]
    assert [c for c in FINE if gm[OUTPUT_NOTES[c]] != c] == ["snare_rim"]


# ---- notes -> onsets (policy) -----------------------------------------------------------------
def test_policy_cross_stick_pedal_and_ignored_notes():
    notes = [(0.1, 37, 50), (0.2, 44, 60), (0.3, 60, 70), (0.4, 36, 100)]
    counts = LabelCounts()
    onsets = notes_to_onsets(notes, "roland_td17", TargetPolicy(), counts)
    assert [(o.time, o.fine_class, o.velocity) for o in onsets] == [(0.1, "snare_rim", 50), (0.4, "kick", 100)]
    assert counts.dropped == {"hihat_pedal": 1} and counts.ignored_notes == {60: 1}

    onsets = notes_to_onsets(notes, "roland_td17", TargetPolicy(cross_stick="snare_head", hihat_pedal=True))
    assert [o.fine_class for o in onsets] == ["snare_head", "hihat_pedal", "kick"]
    counts = LabelCounts()
    onsets = notes_to_onsets(notes, "roland_td17", TargetPolicy(cross_stick="ignore"), counts)
    assert [o.fine_class for o in onsets] == ["kick"] and counts.dropped == {"cross_stick": 1, "hihat_pedal": 1}


def test_policy_rejects_bad_values():
    with pytest.raises(ValueError, match="cross_stick"):
        TargetPolicy(cross_stick="rim")
    with pytest.raises(ValueError, match="collision"):
        TargetPolicy(collision="merge")
    with pytest.raises(ValueError, match="priority.snare must list exactly"):
        TargetPolicy(priority={"snare": ["snare_rim"], "tom": [], "cymbal": []})
    with pytest.raises(ValueError, match="priority.toms: no such slot"):
        TargetPolicy(priority={"toms": ["tom_floor", "tom_mid", "tom_high"]})
    bad = TargetPolicy()
    bad.priority = {"snare": ["snare_rim"], "tom": [], "cymbal": []}  # set after construction: still caught
    with pytest.raises(ValueError, match="priority.snare"):
        hierarchical_targets(np.zeros((3, 11), np.uint8), Vocabulary(), bad)


def test_midi_reading_uses_drum_tracks_and_names_bad_files(tmp_path):
    midi = pretty_midi.PrettyMIDI()
    drums = pretty_midi.Instrument(0, is_drum=True)
    drums.notes.append(pretty_midi.Note(100, 36, 0.5, 0.6))
    piano = pretty_midi.Instrument(0, is_drum=False)
    piano.notes += [pretty_midi.Note(80, 38, 0.1, 0.2), pretty_midi.Note(80, 42, 0.3, 0.4)]
    midi.instruments += [drums, piano]
    midi.write(str(tmp_path / "mix.mid"))
    counts = LabelCounts()
    onsets = read_midi_onsets(tmp_path / "mix.mid", "general_midi", TargetPolicy(), counts)
    assert [o.fine_class for o in onsets] == ["kick"] and counts.dropped["non_drum_track"] == 2

    only_piano = pretty_midi.PrettyMIDI()  # drums exported without the channel-10 flag
    only_piano.instruments.append(piano)
    only_piano.write(str(tmp_path / "flagless.mid"))
    assert [o.fine_class for o in read_midi_onsets(tmp_path / "flagless.mid", "general_midi", TargetPolicy())] == [
        "snare_head", "hihat_closed"]

    (tmp_path / "bad.mid").write_bytes(b"MThd garbage")
    with pytest.raises(ValueError, match="unreadable MIDI .*bad.mid") as info:
        read_midi_onsets(tmp_path / "bad.mid", "general_midi", TargetPolicy())
    assert "\n" not in str(info.value)


# ---- onsets -> roll ---------------------------------------------------------------------------
def test_onset_roll_frames_velocity_merges_and_outside():
    vocab = Vocabulary()
    onsets = [Onset(0.104, "kick", 127), Onset(0.096, "kick", 64), Onset(0.155, "crash", 50), Onset(5.0, "kick", 90)]
    counts = LabelCounts()
    roll, vel = onset_roll(onsets, n_frames_for(1.0, FPS), FPS, vocab, counts)
    assert roll.shape == (101, 11) and roll.dtype == np.uint8 and vel.dtype == np.float32
    k, c = vocab.index("kick"), vocab.index("crash")
    assert np.flatnonzero(roll[:, k]).tolist() == [10] and np.flatnonzero(roll[:, c]).tolist() == [16]
    assert vel[10, k] == pytest.approx(1.0) and vel[16, c] == pytest.approx(50 / 127)
    assert counts.onsets == {"kick": 1, "crash": 1} and counts.merged == {"kick": 1}
    assert counts.dropped == {"outside_audio": 1}


# ---- roll -> hierarchical targets: every collision kind, both modes ---------------------------------
def _roll(hits: dict[int, list[str]], n: int = 10, vocab: Vocabulary | None = None) -> np.ndarray:
    vocab = vocab or Vocabulary()
    roll = np.zeros((n, len(vocab.fine_classes)), np.uint8)
    for t, classes in hits.items():
        for c in classes:
            roll[t, vocab.index(c)] = 1
    return roll


def _hier(hits, mode, **kw):
    counts = LabelCounts()
    policy = TargetPolicy(collision=mode, **kw)
    return hierarchical_targets(_roll(hits), policy.vocab, policy, counts), counts


def test_no_collision_targets_and_parent_masking():
    out, counts = _hier({1: ["kick", "snare_head", "tom_mid", "hihat_open", "crash"], 3: ["ride_bell", "snare_rim"],
                         5: ["tom_floor", "hihat_closed"], 7: ["ride", "tom_high"]}, "shift")
    assert set(out) == {n for n in HIERARCHY if n != "hihat_pedal"}
    assert all(v.dtype == np.int64 and v.shape == (10,) for v in out.values())
    assert out["kick"].tolist() == [0, 1, 0, 0, 0, 0, 0, 0, 0, 0]
    assert out["crash"].tolist() == [0, 1, 0, 0, 0, 0, 0, 0, 0, 0]
    assert out["snare"][[1, 3]].tolist() == [1, 2]
    assert out["tom_primary"][[1, 5, 7]].tolist() == [1, 1, 1]
    assert out["tom_variation"][[1, 5, 7]].tolist() == [2, 0, 1]  # mid, floor, high
    assert out["cymbal_primary"][[1, 3, 5, 7]].tolist() == [1, 2, 1, 2]
    assert out["hihat_variation"][[1, 5]].tolist() == [1, 0]
    assert out["ride_variation"][[3, 7]].tolist() == [1, 0]
    # Variations are 0 where their parent is absent.
    assert out["tom_variation"][[0, 2, 3, 4, 6]].tolist() == [0] * 5
    assert out["hihat_variation"][out["cymbal_primary"] != 1].max() == 0
    assert out["ride_variation"][out["cymbal_primary"] != 2].max() == 0
    assert not counts.collisions and not counts.collisions_dropped


@pytest.mark.parametrize("mode", ["shift", "priority"])
def test_same_instrument_collisions_keep_the_priority_winner(mode):
    # snare head + rim, hi-hat open + closed, ride bow + bell: one hit, never shifted.
    out, counts = _hier({2: ["snare_head", "snare_rim", "hihat_open", "hihat_closed"], 5: ["ride", "ride_bell"]}, mode)
    assert out["snare"][2] == 2 and out["snare"][3] == 0
    assert out["cymbal_primary"][2] == 1 and out["hihat_variation"][2] == 1 and out["cymbal_primary"][3] == 0
    assert out["cymbal_primary"][5] == 2 and out["ride_variation"][5] == 1 and out["cymbal_primary"][6] == 0
    assert counts.collisions == {"snare": 1, "hihat": 1, "ride": 1}
    assert counts.collisions_dropped == {"snare": 1, "hihat": 1, "ride": 1}


def test_custom_priority_changes_the_winner():
    pr = {"snare": ["snare_head", "snare_rim"], "tom": ["tom_high", "tom_mid", "tom_floor"],
          "cymbal": ["hihat_closed", "hihat_open", "ride", "ride_bell"]}
    out, _ = _hier({2: ["snare_head", "snare_rim", "hihat_open", "hihat_closed", "tom_floor", "tom_high"]}, "priority",
                   priority=pr)
    assert (out["snare"][2], out["hihat_variation"][2], out["tom_variation"][2]) == (1, 0, 1)


@pytest.mark.parametrize("mode", ["shift", "priority"])
def test_two_toms(mode):
    out, counts = _hier({2: ["tom_floor", "tom_high"]}, mode)
    assert out["tom_primary"][2] == 1 and out["tom_variation"][2] == 0  # floor wins
    assert counts.collisions == {"tom": 1}
    if mode == "shift":  # the high tom moves one frame later
        assert out["tom_primary"][3] == 1 and out["tom_variation"][3] == 1 and not counts.collisions_dropped
    else:
        assert out["tom_primary"][3] == 0 and counts.collisions_dropped == {"tom": 1}


@pytest.mark.parametrize("mode", ["shift", "priority"])
def test_hihat_and_ride(mode):
    out, counts = _hier({4: ["hihat_closed", "ride"]}, mode)
    assert out["cymbal_primary"][4] == 2 and out["ride_variation"][4] == 0  # ride wins
    assert counts.collisions == {"cymbal": 1}
    if mode == "shift":
        assert out["cymbal_primary"][5] == 1 and out["hihat_variation"][5] == 0 and not counts.collisions_dropped
    else:
        assert out["cymbal_primary"][5] == 0 and counts.collisions_dropped == {"cymbal": 1}


def test_shift_drops_when_next_frame_taken_or_at_the_end():
    out, counts = _hier({4: ["hihat_open", "ride"], 5: ["hihat_closed"], 9: ["tom_mid", "tom_high"]}, "shift")
    assert out["cymbal_primary"][[4, 5]].tolist() == [2, 1] and out["hihat_variation"][5] == 0  # 5 keeps its own hit
    assert out["tom_variation"][9] == 2  # mid wins at the last frame; high cannot move
    assert counts.collisions == {"cymbal": 1, "tom": 1} and counts.collisions_dropped == {"cymbal": 1, "tom": 1}
    # Three toms: one shifts, the third has nowhere to go.
    out, counts = _hier({2: ["tom_floor", "tom_mid", "tom_high"]}, "shift")
    assert out["tom_variation"][[2, 3]].tolist() == [0, 2]
    assert counts.collisions == {"tom": 2} and counts.collisions_dropped == {"tom": 1}


def test_hihat_pedal_target_when_enabled():
    policy = TargetPolicy(hihat_pedal=True)
    roll = _roll({3: ["hihat_pedal", "hihat_closed"]}, vocab=policy.vocab)
    out = hierarchical_targets(roll, policy.vocab, policy)
    assert out["hihat_pedal"].tolist() == [0, 0, 0, 1, 0, 0, 0, 0, 0, 0] and out["cymbal_primary"][3] == 1
    back = targets_to_onsets(out, FPS, policy.vocab)
    assert {o.fine_class for o in back} == {"hihat_pedal", "hihat_closed"}


# ---- the round trip ---------------------------------------------------------------------------------
def _write(tmp_path, notes, name="in.mid"):
    midi = pretty_midi.PrettyMIDI(initial_tempo=120)
    inst = pretty_midi.Instrument(0, is_drum=True)
    inst.notes += [pretty_midi.Note(v, p, t, t + 0.05) for t, p, v in notes]
    midi.instruments.append(inst)
    midi.write(str(tmp_path / name))
    return tmp_path / name


@pytest.mark.parametrize("mode", ["shift", "priority"])
def test_round_trip_midi_targets_events_midi(tmp_path, mode):
    rng = np.random.default_rng(3)
    td17 = NOTE_MAPS["roland_td17"]
    pitches = [p for p, label in td17.items() if label not in ARTICULATIONS]
    # One note every 50-90 ms (never two in a frame), every pitch, plus one of each collision kind.
    times = np.cumsum(rng.uniform(0.05, 0.09, 120)) + 0.1
    notes = [(float(t), int(pitches[i % len(pitches)]), int(rng.integers(20, 127))) for i, t in enumerate(times)]
    end = float(times[-1]) + 0.5
    collisions = [(end, 38), (end, 40), (end + 0.5, 43), (end + 0.5, 48), (end + 1.0, 42), (end + 1.0, 51),
                  (end + 1.5, 46), (end + 1.5, 42), (end + 2.0, 51), (end + 2.0, 53)]
    notes += [(round(t, 3), p, 100) for t, p in collisions]
    path = _write(tmp_path, notes)

    policy = TargetPolicy(collision=mode)
    vocab = policy.vocab
    counts = LabelCounts()
    original = read_midi_onsets(path, "roland_td17", policy, counts)
    n = n_frames_for(end + 3.0, FPS)
    roll, _ = onset_roll(original, n, FPS, vocab, counts)
    targets = hierarchical_targets(roll, vocab, policy, counts)
    events = targets_to_onsets(targets, FPS, vocab)
    onsets_to_midi(events).write(str(tmp_path / "out.mid"))
    recovered = read_midi_onsets(tmp_path / "out.mid", "roland_td17", policy)

    assert len(recovered) == len(events) == roll.sum() - sum(counts.collisions_dropped.values())
    expected_drops = {"snare": 1, "hihat": 1, "ride": 1} | ({} if mode == "shift" else {"tom": 1, "cymbal": 1})
    assert counts.collisions_dropped == expected_drops
    unmatched = list(recovered)
    for o in original:
        # Same class within one frame (a shifted collision loser is exactly one frame late) ...
        match = [r for r in unmatched if r.fine_class == o.fine_class and abs(r.time - o.time) <= 1.0 / FPS + 1e-3]
        if match:
            unmatched.remove(min(match, key=lambda r: abs(r.time - o.time)))
            continue
        # ... or the onset lost a same-instrument collision (one hit, the priority variation) or,
        # in priority mode, a different-instrument one: the other label holds the frame.
        frame = round(o.time * FPS)
        assert any(round(r.time * FPS) == frame for r in recovered), o
    assert not unmatched
    # Without collisions every onset comes back within half a frame (plus MIDI tick rounding).
    plain = [o for o in original if o.time < end - 0.2]
    for o in plain:
        assert any(r.fine_class == o.fine_class and abs(r.time - o.time) <= 0.5 / FPS + 2e-3 for r in recovered)
