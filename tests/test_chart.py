"""Charts: the written notes.mid parses back (mido) to the documented lanes, times and markers."""

from __future__ import annotations

import configparser

import mido
import numpy as np
import pytest
import soundfile as sf

from drumtx.chart import (
    BEAT_BAR,
    BEAT_BEAT,
    CHART_LANES,
    LANE_NOTES,
    RESOLUTION,
    TOM_MARKERS,
    ChartStats,
    SongInfo,
    chart_midi,
    difficulty_tier,
    read_chart_gems,
    snap_ticks,
    write_chart,
)
from drumtx.midi_out import TempoMap
from drumtx.targets import Onset
from drumtx.vocab import Vocabulary

# A tempo that drifts from 100 to 140 bpm, so ticks and seconds are not proportional.
BEATS = np.cumsum(np.linspace(0.6, 60 / 140, 40)) + 0.25


def _tempo() -> TempoMap:
    return TempoMap.from_beats(BEATS, RESOLUTION)


def _half_tick(tempo: TempoMap) -> float:
    return max(tempo.us_per_beat) / tempo.resolution / 2e6 + 1e-6


def test_every_fine_class_lands_on_its_documented_lane(tmp_path):
    tempo = _tempo()
    classes = [c for c in Vocabulary(hihat_pedal=True).fine_classes]
    onsets = [Onset(1.0 + 0.5 * i, c, 100) for i, c in enumerate(classes)]
    stats = write_chart(tmp_path / "song", onsets, tempo, 12.0, SongInfo("song", artist="Band"), divisions=())
    gems, extras = read_chart_gems(tmp_path / "song" / "notes.mid")

    expected = [(o.time, *CHART_LANES[o.fine_class]) for o in onsets if CHART_LANES[o.fine_class] is not None]
    assert len(gems) == len(expected) == len(classes) - 1  # the pedal is not charted
    for (t, lane, tom), (et, elane, etom) in zip(gems, expected, strict=True):
        assert lane == elane and tom == etom
        assert abs(t - et) <= _half_tick(tempo)
    # The table's promises, spelled out: toms are yellow/blue/green under markers 110/111/112.
    by_class = {c: CHART_LANES[c] for c in classes}
    assert by_class["tom_high"] == ("yellow", True) and by_class["hihat_open"] == ("yellow", False)
    assert by_class["tom_mid"] == ("blue", True) and by_class["ride_bell"] == ("blue", False)
    assert by_class["tom_floor"] == ("green", True) and by_class["crash"] == ("green", False)
    assert by_class["snare_rim"] == ("red", False) and by_class["kick"] == ("kick", False)
    assert LANE_NOTES == {"kick": 96, "red": 97, "yellow": 98, "blue": 99, "green": 100}
    assert TOM_MARKERS == {"yellow": 110, "blue": 111, "green": 112}
    assert stats.dropped["not_charted:hihat_pedal"] == 1
    assert extras["resolution"] == 480
    assert {"PART DRUMS", "BEAT", "EVENTS"} <= set(extras["tracks"])


def test_tom_marker_never_turns_the_next_cymbal_into_a_tom(tmp_path):
    tempo = TempoMap.constant(120.0, RESOLUTION)  # 1 tick = 1/960 s
    onsets = [
        Onset(1.000, "tom_high", 100),
        Onset(1.010, "hihat_closed", 100),  # 9.6 ticks later, inside a naive marker's length
        Onset(2.000, "ride", 100),
        Onset(2.005, "tom_mid", 100),
        Onset(2.020, "ride_bell", 100),
    ]
    write_chart(tmp_path, onsets, tempo, 3.0, "x", divisions=())  # exact ticks: 9.6 ticks apart stay apart
    gems, _ = read_chart_gems(tmp_path / "notes.mid")
    assert [(lane, tom) for _, lane, tom in gems] == [
        ("yellow", True),
        ("yellow", False),
        ("blue", False),
        ("blue", True),
        ("blue", False),
    ]


def test_hits_heard_as_one_chord_share_a_grid_tick(tmp_path):
    """A charter's try (2026-12-07): gems kept their exact ticks, so a snare and a hi-hat 9 ticks
    apart were two gems a game draws as a flam, and a tom fill sat 7-14 ticks off its 16ths."""
    tempo = TempoMap.constant(120.0, RESOLUTION)  # 1 tick = 1/960 s
    onsets = [Onset(1.500, "snare_head", 100), Onset(1.5094, "hihat_closed", 90),  # 9 ticks apart
              Onset(2.250, "kick", 100), Onset(2.2594, "hihat_closed", 90)]
    onsets += [Onset(3.0 + 0.125 * k + d, "tom_high", 100) for k, d in enumerate((0.007, -0.006, 0.0145, 0.009))]
    write_chart(tmp_path, onsets, tempo, 5.0, "x")  # the default grid
    gems, _ = read_chart_gems(tmp_path / "notes.mid")
    ticks = [round(t * 960) for t, _, _ in gems]
    assert ticks == [1440, 1440, 2160, 2160, 2880, 3000, 3120, 3240]
    assert all(t % 120 == 0 for t in ticks)


def test_snap_ticks_takes_triplets_only_where_a_beat_fits_them_clearly_better():
    r = RESOLUTION
    straight = [0 + 9, 120 - 14, 240 + 20, 360 - 25]  # 16ths with up to 25 ticks of timing
    swung = [r + 0, r + 160 + 12, r + 320 - 10]  # 8th-note triplets
    assert snap_ticks(straight).tolist() == [0, 120, 240, 360]
    assert snap_ticks(swung).tolist() == [r, r + 160, r + 320]
    assert snap_ticks(straight + swung).tolist() == [0, 120, 240, 360, r, r + 160, r + 320]  # a grid per beat
    assert snap_ticks([r - 30], divisions=(4,)).tolist() == [r]  # the beat's end is on its grid
    assert snap_ticks([130, 250], divisions=()).tolist() == [130, 250]  # off: exact
    assert snap_ticks(straight, divisions=(4, 6)).tolist() == [0, 120, 240, 360]
    with pytest.raises(ValueError, match="7 does not divide the chart's 480 ticks per beat"):
        snap_ticks([0], divisions=(7,))
    with pytest.raises(ValueError, match="margin must be within 0..1, got 1.5"):
        snap_ticks([0], margin=1.5)


def test_a_roll_finer_than_the_grid_keeps_every_stroke():
    """A charter's re-check: an 8-note 32nd snare roll became 4 gems on the 16th grid, and a kick
    played a 32nd before the downbeat was moved onto it. A beat whose grids would put two strokes
    of one lane on one tick takes a finer one (32nds first); one stroke found twice still merges."""
    r = RESOLUTION
    roll = [2 * r + 60 * k + 3 for k in range(8)]
    assert snap_ticks(roll, lanes=["red"] * 8).tolist() == [2 * r + 60 * k for k in range(8)]
    assert len(set(snap_ticks(roll).tolist())) == 5  # without lanes: the plain grid (the last on the next beat)
    double = [4 * r - 58, 4 * r]  # a kick double: a 32nd (played 2 ticks late), then the downbeat
    assert snap_ticks(double, lanes=["kick", "kick"]).tolist() == [4 * r - 60, 4 * r]
    assert snap_ticks([r + 2, r + 20], lanes=["red", "red"]).tolist() == [r, r]  # one stroke found twice
    assert snap_ticks([r + 2, r + 124], lanes=["red", "yellow"]).tolist() == [r, r + 120]  # 16ths stay 16ths
    # a roll in the next beat leaves this beat's 16ths alone
    both = [r + 85, *roll]  # (on 32nds it would be r + 60)
    assert snap_ticks(both, lanes=["yellow"] + ["red"] * 8).tolist()[0] == r + 120


def test_same_lane_clashes_keep_the_cymbal_and_are_counted():
    tempo = TempoMap.constant(120.0, RESOLUTION)
    onsets = [
        Onset(1.0, "hihat_closed", 90),
        Onset(1.0, "tom_high", 90),  # yellow lane clash
        Onset(2.0, "snare_head", 60),
        Onset(2.0, "snare_rim", 110),  # one red gem, the louder velocity
    ]
    stats = ChartStats()
    midi = chart_midi(onsets, tempo, duration=3.0, name="x", stats=stats)
    assert stats.dropped["lane_conflict:yellow"] == 1
    assert stats.dropped["merged_same_tick"] == 1
    assert stats.gems == {"yellow": 1, "red": 1}
    assert stats.summary() == "2 gems; not charted: 1 on a gem's tick, 1 tom under a cymbal; Hard 2, Medium 2, Easy 2"
    drums = next(t for t in midi.tracks if t.name == "PART DRUMS")
    ons = [m for m in drums if m.type == "note_on" and m.velocity > 0]
    assert sorted(m.note for m in ons if m.note >= 96) == [97, 98]  # Expert; no tom marker survived
    red = next(m for m in ons if m.note == 97)
    assert red.velocity == 100  # 110 is normal: below the accent bound


def _dynamics(tmp_path, onsets, tempo=None) -> tuple[list[int], bool]:
    """Chart velocities of the written PART DRUMS gems, and whether dynamics are on."""
    write_chart(tmp_path, onsets, tempo or TempoMap.constant(100.0, RESOLUTION), 40.0, "x", divisions=())
    _, extras = read_chart_gems(tmp_path / "notes.mid")
    drums = next(t for t in mido.MidiFile(tmp_path / "notes.mid").tracks if t.name == "PART DRUMS")
    return extras["velocities"], any(m.type == "text" and m.text == "[ENABLE_CHART_DYNAMICS]" for m in drums)


def _velocities_by_lane(tmp_path, onsets) -> dict[str, list[tuple[float, int]]]:
    """Chart the onsets (dynamics on) and read each lane's gems back as (time s, chart velocity)."""
    velocities, on = _dynamics(tmp_path, onsets)
    assert on
    gems, _ = read_chart_gems(tmp_path / "notes.mid")
    by: dict[str, list[tuple[float, int]]] = {}
    for (t, lane, _), v in zip(gems, velocities, strict=True):
        by.setdefault(lane, []).append((round(t, 2), v))
    return by


def test_dynamics_ghosts_and_accents_relative_to_their_surroundings(tmp_path):
    """Ghost notes (far below the lane's loud hits) are 1, accents (well above its normal
    hits) 127, the rest 100 -- judged per lane, so a loud kick never makes snares ghosts."""
    onsets = []
    for bar in range(8):
        t0 = 1.0 + 2.4 * bar
        onsets += [Onset(t0, "kick", 120), Onset(t0 + 1.2, "kick", 120)]
        onsets += [Onset(t0 + 0.6, "snare_head", 80), Onset(t0 + 1.8, "snare_head", 80)]
        onsets += [Onset(t0 + 1.05, "snare_head", 15), Onset(t0 + 1.35, "snare_head", 14)]  # ghosts
        onsets += [Onset(t0 + 0.3 * k, "hihat_closed", 127 if k == 0 else 78 + k % 3) for k in range(8)]
    onsets.sort(key=lambda o: o.time)
    by = _velocities_by_lane(tmp_path, onsets)
    snare = dict(by["red"])
    assert {snare[round(1.0 + 2.4 * b + 1.05, 2)] for b in range(8)} == {1}  # ghosts
    assert {snare[round(1.0 + 2.4 * b + 0.6, 2)] for b in range(8)} == {100}  # backbeats normal
    assert {v for _, v in by["kick"]} == {100}  # steady: no accents, no ghosts
    hats = dict(by["yellow"])
    assert {hats[round(1.0 + 2.4 * b, 2)] for b in range(8)} == {127}  # the accented downbeat hat
    assert sorted(set(hats.values())) == [100, 127]


def test_kicks_are_never_ghosts_or_accents(tmp_path):
    """The formats mark dynamics on the pads, not the kick (``.chart``'s accent and ghost
    modifiers are red to green): soft and hard kicks among steady ones stay 100 while the
    snare's ghosts in the same bars are 1 (a charter's try, 2026-12-08)."""
    onsets = []
    for bar in range(8):
        t0 = 1.0 + 2.4 * bar
        onsets += [Onset(t0, "kick", 127), Onset(t0 + 0.3, "kick", 12), Onset(t0 + 1.2, "kick", 80)]
        onsets += [Onset(t0 + 0.6, "snare_head", 80), Onset(t0 + 1.8, "snare_head", 80)]
        onsets += [Onset(t0 + 1.05, "snare_head", 15)]
    onsets.sort(key=lambda o: o.time)
    by = _velocities_by_lane(tmp_path, onsets)
    assert {v for _, v in by["kick"]} == {100} and 1 in {v for _, v in by["red"]}


def test_flat_beat_has_no_dynamics(tmp_path):
    """Small velocity differences (a human playing evenly) are no accents: dynamics stay off."""
    rng = np.random.default_rng(0)
    onsets = [
        Onset(0.5 + 0.25 * k, c, int(v))
        for k in range(120)
        for c, v in [("hihat_closed", 85 + rng.integers(-8, 9))]
        + ([("kick", 100 + rng.integers(-6, 7))] if k % 4 == 0 else [])
        + ([("snare_head", 105 + rng.integers(-6, 7))] if k % 4 == 2 else [])
    ]
    velocities, on = _dynamics(tmp_path, onsets)
    assert set(velocities) == {100} and not on


def test_too_few_hits_are_never_marked(tmp_path):
    """A lane with fewer than 4 gems nearby has nothing to compare with: normal (unsure)."""
    velocities, on = _dynamics(tmp_path, [Onset(1.0, "snare_head", 10), Onset(1.5, "snare_head", 127)])
    assert velocities == [100, 100] and not on


def test_beat_track_tempo_map_and_events(tmp_path):
    tempo = _tempo()
    write_chart(tmp_path, [Onset(5.0, "kick", 100)], tempo, 20.0, "x")
    midi = mido.MidiFile(tmp_path / "notes.mid")
    gems, extras = read_chart_gems(tmp_path / "notes.mid")
    beats = extras["beats"]
    assert all(tick % RESOLUTION == 0 for tick, _ in beats)
    assert [note for _, note in beats[:8]] == [BEAT_BAR, BEAT_BEAT, BEAT_BEAT, BEAT_BEAT] * 2
    assert tempo.ticks_to_seconds([beats[-1][0]])[0] >= 20.0  # the beat track covers the audio
    # Every tracked beat sits on a BEAT note (tempo map written exactly).
    beat_times = extras["tempo"].ticks_to_seconds([t for t, _ in beats])
    for b in BEATS[BEATS <= 20.0]:
        assert np.min(np.abs(beat_times - b)) < 1e-4
    events = next(t for t in midi.tracks if t.name == "EVENTS")
    assert [m.text for m in events if m.type == "text"] == ["[music_start]", "[music_end]", "[end]"]
    # Notes never overlap one of their own pitch (note-off before the next note-on).
    for track in midi.tracks:
        open_notes = set()
        for msg in track:
            if msg.type == "note_on" and msg.velocity > 0:
                assert msg.note not in open_notes
                open_notes.add(msg.note)
            elif msg.type in ("note_off", "note_on"):
                open_notes.discard(msg.note)
        assert not open_notes


def test_song_ini_and_difficulty(tmp_path):
    tempo = TempoMap.constant(120.0, RESOLUTION)
    onsets = [Onset(0.5 + 0.25 * i, "kick" if i % 2 else "hihat_closed", 100) for i in range(80)]
    write_chart(tmp_path, onsets, tempo, 30.0, SongInfo("My Song", artist="Me"))
    ini = configparser.ConfigParser()
    ini.read(tmp_path / "song.ini")
    song = ini["song"]
    assert song["name"] == "My Song" and song["artist"] == "Me"
    assert song["charter"] == "drumtx" and song["pro_drums"] == "True" and song["delay"] == "0"
    assert song["song_length"] == "30000"
    assert "album" not in song and "genre" not in song  # left out unless given (README)
    write_chart(tmp_path / "full", onsets, tempo, 30.0, SongInfo("My Song", artist="Me", album="LP", genre="Funk"))
    ini.read(tmp_path / "full" / "song.ini")
    assert ini["song"]["album"] == "LP" and ini["song"]["genre"] == "Funk"
    assert int(song["diff_drums"]) == difficulty_tier(80, 30.0) == 2  # 2.7 notes/s
    assert difficulty_tier(0, 30.0) == -1 and difficulty_tier(600, 30.0) == 6


@pytest.mark.parametrize(("suffix", "expected"), [(".wav", "song.wav"), (".flac", "song.ogg")])
def test_chart_audio_copied_or_transcoded(tmp_path, suffix, expected):
    sr = 22050
    audio = tmp_path / f"in{suffix}"
    sf.write(audio, 0.1 * np.sin(np.arange(sr) / sr * 2 * np.pi * 220).astype(np.float32), sr)
    write_chart(tmp_path / "chart", [], TempoMap.constant(), 1.0, "in", audio=audio)
    out = tmp_path / "chart" / expected
    assert out.is_file()
    info = sf.info(out)
    assert info.samplerate == sr and abs(info.duration - 1.0) < 0.05
    gems, _ = read_chart_gems(tmp_path / "chart" / "notes.mid")
    assert gems == []


def test_chart_stats_summary_names_dynamics_and_every_drop():
    stats = ChartStats()
    assert stats.summary() == "0 gems"
    stats.gems.update({"red": 10, "yellow_tom": 2})
    stats.dynamics.update({"ghost": 3, "accent": 1})
    stats.dropped.update({"not_charted:hihat_pedal": 2, "lane_conflict:blue": 1, "lane_conflict:green": 2})
    assert stats.summary() == "12 gems (3 ghost, 1 accent); not charted: 3 toms under cymbals, 2 hihat_pedal"
