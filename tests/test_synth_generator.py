"""The procedural groove generator: deterministic, in the Roland map, musical, and rich in rare classes."""

from __future__ import annotations

import glob
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from drumtx.synth.generator import ROLAND, STYLES, GrooveConfig, GrooveGenerator
from drumtx.targets import TargetPolicy, notes_to_onsets
from drumtx.vocab import NOTE_MAPS

GMD = Path(__file__).resolve().parents[2] / "shared" / "data" / "groove-midi"
RARE = ("crash", "ride_bell", "snare_rim", "hihat_open", "tom_floor")
ROLAND_MAP = NOTE_MAPS["roland_td17"]


DEFAULT_POLICY = TargetPolicy()


def _labels(notes, policy=DEFAULT_POLICY):
    """Fine classes of the notes under the default policy (cross-stick counts as snare rim)."""
    return Counter(o.fine_class for o in notes_to_onsets(((n.start, n.pitch, n.velocity) for n in notes),
                                                          "roland_td17", policy))


def test_zone_table_matches_the_roland_map():
    expect = {"kick": "kick", "snare": "snare_head", "rim": "snare_rim", "xstick": "cross_stick",
              "tom_hi": "tom_high", "tom_hi_rim": "tom_high", "tom_mid": "tom_mid", "tom_mid_rim": "tom_mid",
              "floor": "tom_floor", "floor_rim": "tom_floor", "hh_closed": "hihat_closed",
              "hh_closed_edge": "hihat_closed", "hh_open": "hihat_open", "hh_open_edge": "hihat_open",
              "pedal": "hihat_pedal", "crash1": "crash", "crash1_edge": "crash", "crash2": "crash",
              "crash2_edge": "crash", "ride": "ride", "ride_edge": "ride", "bell": "ride_bell"}
    assert {zone: ROLAND_MAP[key] for zone, key in ROLAND.items()} == expect
    assert sorted(ROLAND.values()) == sorted(ROLAND_MAP)  # every TD-17 note can be generated


def test_same_seed_same_groove_and_seeds_differ():
    gen = GrooveGenerator()
    a, b, c = gen.generate([3, 1], 15), gen.generate([3, 1], 15), gen.generate([3, 2], 15)
    assert a.notes == b.notes and (a.style, a.bpm) == (b.style, b.bpm)
    assert a.notes != c.notes


@pytest.mark.parametrize("style", sorted(STYLES))
def test_every_style_is_a_playable_groove(style):
    gen = GrooveGenerator()
    groove = gen.generate([9, 9], 20, style=style)
    lo, hi = STYLES[style]["tempo"]
    assert groove.style == style and lo <= groove.bpm <= hi and 60 <= groove.bpm <= 200
    notes = groove.notes
    assert groove.seconds >= 20 and notes[-1].start <= groove.seconds + 0.2
    assert all(n.pitch in ROLAND_MAP and 1 <= n.velocity <= 127 and n.start >= 0 for n in notes)
    assert [n.start for n in notes] == sorted(n.start for n in notes)
    labels = _labels(notes)
    assert labels["kick"] > 0 and labels["crash"] > 0
    beat = 60 / groove.bpm
    kicks = [n.start for n in notes if n.pitch == 36]
    if style == "metal" and len(kicks) > 2:
        assert np.median(np.diff(kicks)) < beat * 0.6  # double kick: eighths or sixteenths
    if style == "jazz":
        assert labels["ride"] + labels["ride_bell"] > labels["hihat_closed"]
        assert labels.get("hihat_pedal", 0) == 0 and any(n.pitch == 44 for n in notes)  # pedal on 2 and 4
    if style == "disco":
        assert any(n.pitch in (46, 26) for n in notes) or labels["ride"] > 0


def test_humanised_timing_and_velocity():
    gen = GrooveGenerator(GrooveConfig(styles={"rock": 1.0}))
    groove = gen.generate([1, 1], 20, bpm=120)
    keep = np.array([n.start for n in groove.notes if n.pitch in (42, 22, 46, 26, 51, 59, 53)])
    ioi = np.diff(keep)
    eighths = ioi[np.abs(ioi - 0.25) < 0.06]  # time-keeping eighths at 120 bpm
    assert len(eighths) > 20
    assert 0.002 < np.std(eighths) < 0.02  # off the grid by a few ms, not by a sixteenth
    assert np.std([n.velocity for n in groove.notes]) > 8


def test_fills_crashes_and_accents_follow_the_config():
    every = GrooveGenerator(GrooveConfig(fill=1.0, crash=1.0, bell=1.0, ride=1.0, styles={"rock": 1.0}))
    g = every.generate([2, 2], 20)
    labels = _labels(g.notes)
    assert labels["tom_high"] + labels["tom_mid"] + labels["tom_floor"] >= 4
    assert labels["ride_bell"] > 0 and labels["crash"] >= 2
    assert any(n.pitch in (49, 57, 55, 52) and n.start < 0.1 for n in g.notes)  # crash on the first downbeat
    never = GrooveGenerator(GrooveConfig(fill=0.0, crash=0.0, bell=0.0, ride=0.0, floor_tom=0.0, open_hat=0.0,
                                         rimshot=0.0, cross_stick=0.0, styles={"rock": 1.0}))
    g = never.generate([2, 2], 20)
    labels = _labels(g.notes)
    assert labels["ride_bell"] == labels["hihat_open"] == labels["snare_rim"] == 0
    assert labels["tom_high"] + labels["tom_mid"] + labels["tom_floor"] == 0


def test_bad_config_fails_clearly():
    with pytest.raises(ValueError, match="unknown groove styles"):
        GrooveConfig(styles={"polka": 1.0})
    with pytest.raises(ValueError, match="tempo"):
        GrooveConfig(tempo={"rock": [10, 500]})


def _shares(counter: Counter) -> dict[str, float]:
    total = sum(counter.values())
    return {k: v / total for k, v in counter.items()}


def test_rare_classes_are_common_in_generated_grooves():
    gen = GrooveGenerator()
    total, present = Counter(), Counter()
    for i in range(60):
        labels = _labels(gen.generate([0, i], 25).notes)
        total.update(labels)
        present.update(set(labels))
    shares = _shares(total)
    for cls in RARE:
        assert shares.get(cls, 0) >= 0.02, (cls, shares.get(cls))
        assert present[cls] >= 0.4 * 60, (cls, present[cls])
    # Every class of the vocabulary appears.
    assert set(total) >= {"kick", "snare_head", "snare_rim", "tom_high", "tom_mid", "tom_floor", "hihat_closed",
                          "hihat_open", "ride", "ride_bell", "crash"}


@pytest.mark.skipif(not GMD.is_dir(), reason="Groove MIDI Dataset not in shared/data")
def test_generator_plays_rare_classes_more_often_than_human_grooves():
    """Against the GMD (every 10th file): each rare class has at least the human share."""
    from drumtx.synth.render import read_midi_notes

    human = Counter()
    for path in sorted(glob.glob(str(GMD / "**" / "*.mid"), recursive=True))[::10]:
        human.update(_labels(read_midi_notes(path)))
    gen = GrooveGenerator()
    synthetic = Counter()
    for i in range(60):
        synthetic.update(_labels(gen.generate([0, i], 25).notes))
    h, s = _shares(human), _shares(synthetic)
    for cls in ("crash", "ride_bell", "tom_floor", "hihat_open"):
        assert s[cls] >= h.get(cls, 0), (cls, s[cls], h.get(cls))
    # GMD drummers play rimshot and cross-stick backbeats a lot: the generator comes close.
    assert s["snare_rim"] >= 0.8 * h["snare_rim"], (s["snare_rim"], h["snare_rim"])
