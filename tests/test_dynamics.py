"""Velocity follows how hard each drum was struck (issue 18, C13): measured on real kit renders.

Grooves are rendered through a sound-font kit and a sampled kit (drumtx.synth); the known
onsets go through :func:`drumtx.dynamics.onset_velocities` (the one velocity supplier) and
:func:`drumtx.chart.chart_midi`. Before this, velocity was the model's confidence: a clean
ghost note came out 127 and the chart marked it an accent.
"""

from __future__ import annotations

import mido
import numpy as np
import pytest
import soundfile as sf

from drumtx.chart import RESOLUTION, ChartStats, chart_midi
from drumtx.dynamics import NORMAL_VELOCITY, onset_velocities
from drumtx.midi_out import TempoMap
from drumtx.synth.kits import load_kits
from drumtx.synth.render import KitRenderer, Note, snap_notes
from drumtx.targets import Onset

KITS = load_kits()
#: A General MIDI sound font (steep velocity curve) and a sampled kit (velocity layers).
KIT_NAMES = ["fluidr3_standard", "h2_gmrockkit"]
#: Sam's Sonor plays some of one velocity's hits ~10 dB apart (round-robin hi-hat and ride
#: samples): the audio then really has loud and soft hits, so it only takes the flat-beat test.
FLAT_KIT_NAMES = [*KIT_NAMES, "sfz_sams_sonor"]
ROLAND = {"kick": 36, "snare_head": 38, "hihat_closed": 42, "ride": 51}
SR = 24000


@pytest.fixture(scope="module")
def renderer():
    r = KitRenderer(sample_rate=SR)
    yield r
    r.close()


def _render(renderer, kit_name, onsets, path):
    kit = KITS[kit_name]
    if not kit.available:
        pytest.skip(f"kit {kit_name} not installed")
    notes = snap_notes([Note(o.time, o.time + 0.1, ROLAND[o.fine_class], o.velocity) for o in onsets])
    audio = renderer.render(kit, notes, seed=0)
    sf.write(path, audio, SR)
    # The onsets as the audio has them (times snapped to the renderer's grid).
    names = {v: k for k, v in ROLAND.items()}
    return [Onset(n.start, names[n.pitch], n.velocity) for n in notes]


def _groove(bars: int, bpm: float, snare_ghosts: bool, accent_every_bar: bool = False, jitter: int = 0):
    rng = np.random.default_rng(1)
    sixteenth = 60 / bpm / 4
    onsets = []
    for k in range(bars * 16):
        t, s = 0.3 + k * sixteenth, k % 16

        def v(x):
            return int(np.clip(x + rng.integers(-jitter, jitter + 1), 1, 127)) if jitter else x

        if s in (0, 10):
            onsets.append(Onset(t, "kick", v(100)))
        if s in (4, 12):
            onsets.append(Onset(t, "snare_head", v(110)))
        if snare_ghosts and s in (7, 9, 15):
            onsets.append(Onset(t, "snare_head", 25))
        if s % 2 == 0:
            hat = 127 if accent_every_bar and s == 0 else v(80)
            onsets.append(Onset(t, "ride" if accent_every_bar else "hihat_closed", hat))
    return onsets


def _chart_velocities(onsets, velocities, tmp_path):
    measured = [Onset(o.time, o.fine_class, int(v)) for o, v in zip(onsets, velocities, strict=True)]
    stats = ChartStats()
    # exact ticks: the gems are read back by their onsets' times (the grid is tests/test_chart.py's)
    midi = chart_midi(measured, TempoMap.constant(96.0, RESOLUTION), 30.0, "x", stats, divisions=())
    drums = next(t for t in midi.tracks if t.name == "PART DRUMS")
    on = any(m.type == "text" and m.text == "[ENABLE_CHART_DYNAMICS]" for m in drums)
    tempo = TempoMap.constant(96.0, RESOLUTION)
    tick, gems = 0, {}
    for m in drums:
        tick += m.time
        if m.type == "note_on" and m.velocity > 0 and 96 <= m.note <= 100:
            gems[(round(float(tempo.ticks_to_seconds([tick])[0]), 2), m.note)] = m.velocity
    lane = {"kick": 96, "snare_head": 97, "hihat_closed": 98, "ride": 99}
    chart = [gems.get((round(o.time, 2), lane[o.fine_class])) for o in onsets]
    assert None not in chart
    return chart, on, stats


@pytest.mark.parametrize("kit_name", KIT_NAMES)
def test_ghost_notes_are_soft_and_charted_as_ghosts(renderer, kit_name, tmp_path):
    onsets = _render(renderer, kit_name, _groove(8, 96, snare_ghosts=True), tmp_path / "g.wav")
    velocities = onset_velocities(tmp_path / "g.wav", onsets)
    played = np.array([o.velocity for o in onsets])
    snare = np.array([o.fine_class == "snare_head" for o in onsets])
    ghosts, backbeats = snare & (played == 25), snare & (played == 110)
    # MIDI: ghosts clearly softer than backbeats, backbeats and the steady kick normal.
    assert np.max(velocities[ghosts]) < 0.5 * np.min(velocities[backbeats])
    kick = np.array([o.fine_class == "kick" for o in onsets])
    assert np.all(np.abs(velocities[kick] - NORMAL_VELOCITY) <= 10)
    # Chart: every ghost a ghost gem, no backbeat or kick an accent or a ghost.
    chart, on, stats = _chart_velocities(onsets, velocities, tmp_path)
    chart = np.array(chart)
    assert on and set(chart[ghosts]) == {1}
    assert set(chart[backbeats]) == {100} and set(chart[kick]) == {100}


@pytest.mark.parametrize("kit_name", FLAT_KIT_NAMES)
def test_a_flat_rock_beat_gets_no_accents(renderer, kit_name, tmp_path):
    """Even playing (velocities within +-6) has no accents and no ghosts: dynamics stay off,
    even where the snare's sizzle lands in the hi-hat's band on 2 and 4."""
    onsets = _render(renderer, kit_name, _groove(8, 120, snare_ghosts=False, jitter=6), tmp_path / "f.wav")
    velocities = onset_velocities(tmp_path / "f.wav", onsets)
    chart, on, stats = _chart_velocities(onsets, velocities, tmp_path)
    assert set(chart) == {100} and not on, stats.dynamics
    assert np.all((velocities >= 40) & (velocities <= 110))


@pytest.mark.parametrize("kit_name", KIT_NAMES)
def test_accents_are_found_where_they_were_played(renderer, kit_name, tmp_path):
    """A ride played at 80 with a 127 accent on every bar's one: the accents, and only they,
    are accent gems."""
    onsets = _render(
        renderer, kit_name, _groove(8, 96, snare_ghosts=False, accent_every_bar=True), tmp_path / "a.wav"
    )
    velocities = onset_velocities(tmp_path / "a.wav", onsets)
    chart, on, _ = _chart_velocities(onsets, velocities, tmp_path)
    ride = [(o.velocity, c) for o, c in zip(onsets, chart, strict=True) if o.fine_class == "ride"]
    accented = [c for v, c in ride if v == 127]
    assert on and accented.count(127) >= len(accented) - 1  # the first bar has no bar before it
    assert {c for v, c in ride if v != 127} == {100}


@pytest.mark.parametrize("kit_name", KIT_NAMES)
def test_velocities_and_chart_dynamics_do_not_depend_on_the_level(renderer, kit_name, tmp_path):
    """The ghost-note groove at 0, -30, -50 and -60 dBFS peak (32-bit float): the same measured
    velocities (each onset within 1) and the same chart gems, ghosts still ghosts (case C17's
    kind for dynamics: a quiet take is not played softer, nor does a floor flatten its ghosts)."""
    onsets = _render(renderer, kit_name, _groove(4, 96, snare_ghosts=True), tmp_path / "g.wav")
    audio, sr = sf.read(tmp_path / "g.wav", dtype="float32")
    audio = audio / np.abs(audio).max()
    ghosts = [o.fine_class == "snare_head" and o.velocity == 25 for o in onsets]
    measured = {}
    for db in (0.0, -30.0, -50.0, -60.0):
        sf.write(tmp_path / f"{db}.wav", audio * np.float32(10 ** (db / 20)), sr, subtype="FLOAT")
        velocities = onset_velocities(tmp_path / f"{db}.wav", onsets)
        measured[db] = (velocities, _chart_velocities(onsets, velocities, tmp_path)[0])
    ref_velocities, ref_chart = measured[0.0]
    assert {c for c, g in zip(ref_chart, ghosts, strict=True) if g} == {1}
    for db, (velocities, chart) in measured.items():
        assert np.abs(velocities - ref_velocities).max() <= 1, f"{db} dBFS"
        assert chart == ref_chart, f"{db} dBFS"


def test_onset_velocities_on_an_empty_transcription(tmp_path):
    sf.write(tmp_path / "s.wav", np.zeros(SR, np.float32), SR)
    assert onset_velocities(tmp_path / "s.wav", []).size == 0


def test_chart_file_has_no_dynamics_text_without_marks(tmp_path):
    onsets = [Onset(0.5 + 0.5 * k, "kick", 90) for k in range(20)]
    midi = chart_midi(onsets, TempoMap.constant(120.0, RESOLUTION), 12.0, "x")
    midi.save(tmp_path / "n.mid")
    texts = [m.text for t in mido.MidiFile(tmp_path / "n.mid").tracks for m in t if m.type == "text"]
    assert "[ENABLE_CHART_DYNAMICS]" not in texts


def test_transcriptions_get_measured_velocities_or_flat_ones(renderer, tmp_path, capsys):
    """The CLI path (drumtx.transcriber.with_measured_velocities) replaces the decoder's
    confidence velocities by measured ones; unreadable audio gives flat velocities (charts
    then keep dynamics off) and one note on stderr."""
    from drumtx.transcriber import Transcription, with_measured_velocities

    onsets = _render(renderer, "fluidr3_standard", _groove(4, 96, snare_ghosts=True), tmp_path / "g.wav")
    confident = [Onset(o.time, o.fine_class, 127) for o in onsets]  # what confidence gave ghosts
    result = Transcription(
        tmp_path / "g.wav", 12.0, confident, [1.0] * len(onsets), np.zeros(0), {}, np.zeros(10)
    )
    measured = with_measured_velocities(result)
    assert [o.velocity for o in measured.onsets] == list(onset_velocities(tmp_path / "g.wav", onsets))
    ghosts = [m.velocity for o, m in zip(onsets, measured.onsets, strict=True) if o.velocity == 25]
    assert max(ghosts) < 50
    (tmp_path / "bad.m4a").write_bytes(b"not audio")
    flat = with_measured_velocities(
        Transcription(
            tmp_path / "bad.m4a", 12.0, confident, [1.0] * len(onsets), np.zeros(0), {}, np.zeros(10)
        )
    )
    assert {o.velocity for o in flat.onsets} == {NORMAL_VELOCITY}
    assert "velocities not measured" in capsys.readouterr().err
