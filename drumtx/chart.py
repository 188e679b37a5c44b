"""Rhythm-game charts: a Clone Hero / Rock Band ``notes.mid`` with ``song.ini``.

Layout written for one input ``<stem>``: ``OUT_DIR/<stem>/notes.mid``, ``OUT_DIR/<stem>/song.ini``
and, unless disabled, the audio as ``song.<ext>`` (copied when Clone Hero plays the format,
else transcoded to Ogg Vorbis), so the folder can be dropped into Clone Hero's ``Songs``.

``notes.mid`` (480 ticks per beat) holds a conductor track (tempo map from beat tracking,
4/4), ``PART DRUMS`` (Expert, pro drums: cymbal by default, a tom marker turns the
yellow/blue/green note under it into a tom), ``BEAT`` (12 on bar starts, 13 on the other
beats) and ``EVENTS`` ([music_start], [music_end], [end]). The instrument -> lane mapping
is the data table :data:`CHART_LANES`; ``docs`` and tests read it from there.
"""

from __future__ import annotations

import configparser
import shutil
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import mido
import numpy as np

import drumtx
from drumtx.midi_out import TempoMap, _track, atomic_output, conductor_track, note_events
from drumtx.targets import Onset

#: Expert difficulty note per lane (Rock Band / Clone Hero ``PART DRUMS``).
LANE_NOTES: dict[str, int] = {"kick": 96, "red": 97, "yellow": 98, "blue": 99, "green": 100}
#: Pro-drums tom markers: a note on this lane under the marker is a tom, not a cymbal.
TOM_MARKERS: dict[str, int] = {"yellow": 110, "blue": 111, "green": 112}

#: fine class -> (lane, is_tom). Snare head and rim are both red; the hi-hat pedal is not
#: charted (Clone Hero has no lane for it). A yellow/blue/green entry with is_tom False is a cymbal.
CHART_LANES: dict[str, tuple[str, bool] | None] = {
    "kick": ("kick", False),
    "snare_head": ("red", False),
    "snare_rim": ("red", False),
    "hihat_closed": ("yellow", False),
    "hihat_open": ("yellow", False),
    "ride": ("blue", False),
    "ride_bell": ("blue", False),
    "crash": ("green", False),
    "tom_high": ("yellow", True),
    "tom_mid": ("blue", True),
    "tom_floor": ("green", True),
    "hihat_pedal": None,
}

#: A lane holds one gem per tick: when a cymbal and a tom meet there, the cymbal stays
#: (it usually carries the time) and the tom is dropped and counted.
LANE_CONFLICT_KEEP = "cymbal"

#: Clone Hero drum dynamics ([ENABLE_CHART_DYNAMICS]): velocity 1 is a ghost note, 127 an
#: accent, anything else normal. Transcribed velocities at or below / at or above these become them.
GHOST_MAX_VELOCITY = 45
ACCENT_MIN_VELOCITY = 115

#: diff_drums tier (0..6) for a mean density in notes per second: the first bound it is below.
DIFFICULTY_NPS_BOUNDS = (1.0, 2.0, 3.0, 4.5, 6.0, 8.0)

BEAT_BAR, BEAT_BEAT = 12, 13
RESOLUTION = 480
NOTE_LENGTH_TICKS = RESOLUTION // 8  # a 32nd note: drums have no sustains

#: Audio formats Clone Hero plays as ``song.<ext>``; anything else soundfile can read is transcoded to ogg.
CH_AUDIO = (".ogg", ".mp3", ".wav", ".opus")


@dataclass
class Gem:
    tick: int
    lane: str
    tom: bool
    velocity: int


@dataclass
class ChartStats:
    gems: Counter = field(default_factory=Counter)  # lane[+tom] -> gems
    dropped: Counter = field(default_factory=Counter)  # reason -> onsets not charted

    def to_dict(self) -> dict:
        return {"gems": dict(self.gems), "dropped": dict(self.dropped)}


def chart_velocity(velocity: int) -> int:
    if velocity <= GHOST_MAX_VELOCITY:
        return 1
    if velocity >= ACCENT_MIN_VELOCITY:
        return 127
    return 100


def onsets_to_gems(onsets: Sequence[Onset], tempo: TempoMap, stats: ChartStats | None = None) -> list[Gem]:
    """Place onsets on lanes and ticks; merge same-lane hits on one tick, resolve tom/cymbal clashes."""
    stats = stats if stats is not None else ChartStats()
    ticks = tempo.seconds_to_ticks([o.time for o in onsets])
    slots: dict[tuple[int, str], Gem] = {}
    for tick, onset in zip(ticks, onsets, strict=True):
        lane = CHART_LANES.get(onset.fine_class)
        if lane is None:
            stats.dropped[f"not_charted:{onset.fine_class}"] += 1
            continue
        name, tom = lane
        key = (int(tick), name)
        old = slots.get(key)
        if old is None:
            slots[key] = Gem(int(tick), name, tom, onset.velocity)
        elif old.tom == tom:
            old.velocity = max(old.velocity, onset.velocity)
            stats.dropped["merged_same_tick"] += 1
        else:
            keep_tom = LANE_CONFLICT_KEEP == "tom"
            if tom == keep_tom:
                slots[key] = Gem(int(tick), name, tom, onset.velocity)
            stats.dropped[f"lane_conflict:{name}"] += 1
    gems = sorted(slots.values(), key=lambda g: (g.tick, LANE_NOTES[g.lane]))
    for g in gems:
        stats.gems[g.lane + ("_tom" if g.tom else "")] += 1
    return gems


def _tom_marker_events(gems: list[Gem], length: int) -> list[tuple[int, int, mido.Message]]:
    """One marker per tom gem, ending before the next cymbal gem of its lane so that it never
    turns a cymbal into a tom."""
    notes = []
    for lane, marker in TOM_MARKERS.items():
        on_lane = [g for g in gems if g.lane == lane]
        cymbal_ticks = np.array([g.tick for g in on_lane if not g.tom], dtype=np.int64)
        for g in on_lane:
            if not g.tom:
                continue
            nxt = cymbal_ticks[np.searchsorted(cymbal_ticks, g.tick, side="right") :]
            end = min(g.tick + length, int(nxt[0]) if nxt.size else g.tick + length)
            notes.append((g.tick, marker, 100, end - g.tick))
    events = []
    for tick, pitch, velocity, dur in notes:
        events += note_events([(tick, pitch, velocity)], dur, channel=0)
    return events


def chart_midi(
    onsets: Sequence[Onset], tempo: TempoMap, duration: float, name: str, stats: ChartStats | None = None
):
    """The ``notes.mid`` of a chart as a :class:`mido.MidiFile` (type 1, 480 ticks per beat)."""
    if tempo.resolution != RESOLUTION:
        raise ValueError(f"charts use {RESOLUTION} ticks per beat, the tempo map has {tempo.resolution}")
    gems = onsets_to_gems(onsets, tempo, stats)
    midi = mido.MidiFile(type=1, ticks_per_beat=RESOLUTION)
    midi.tracks.append(conductor_track(name, tempo))

    drums = [(0, 0, mido.MetaMessage("text", text="[ENABLE_CHART_DYNAMICS]", time=0))]
    drums += note_events(
        [(g.tick, LANE_NOTES[g.lane], chart_velocity(g.velocity)) for g in gems], NOTE_LENGTH_TICKS, 0
    )
    drums += _tom_marker_events(gems, NOTE_LENGTH_TICKS)
    midi.tracks.append(_track("PART DRUMS", drums))

    end_tick = int(tempo.seconds_to_ticks([duration])[0])
    last_gem = gems[-1].tick if gems else 0
    n_beats = max(end_tick, last_gem) // RESOLUTION + 2  # cover the audio and every gem
    beat_notes = [(b * RESOLUTION, BEAT_BAR if b % 4 == 0 else BEAT_BEAT, 100) for b in range(n_beats)]
    midi.tracks.append(_track("BEAT", note_events(beat_notes, RESOLUTION // 4, 0)))

    final = n_beats * RESOLUTION
    events = [
        (0, 0, mido.MetaMessage("text", text="[music_start]", time=0)),
        (final - RESOLUTION, 1, mido.MetaMessage("text", text="[music_end]", time=0)),
        (final, 2, mido.MetaMessage("text", text="[end]", time=0)),
    ]
    midi.tracks.append(_track("EVENTS", events))
    return midi


def difficulty_tier(n_gems: int, duration: float) -> int:
    """Clone Hero's 0..6 ``diff_drums`` from the mean note density (no notes: -1, no part)."""
    if n_gems == 0:
        return -1
    nps = n_gems / max(duration, 1e-3)
    return int(np.searchsorted(DIFFICULTY_NPS_BOUNDS, nps, side="right"))


def song_ini(name: str, artist: str, duration: float, diff: int) -> str:
    ini = configparser.ConfigParser()
    ini.optionxform = str  # keep key case as Clone Hero writes it
    ini["song"] = {
        "name": name,
        "artist": artist,
        "album": "",
        "genre": "",
        "charter": "drumtx",
        "pro_drums": "True",
        "five_lane_drums": "False",
        "delay": "0",
        "diff_drums": str(diff),
        "diff_drums_real": str(diff),
        "song_length": str(int(round(duration * 1000))),
        "loading_phrase": f"Drums transcribed by drumtx {drumtx.__version__}",
    }
    from io import StringIO

    buf = StringIO()
    ini.write(buf)
    return buf.getvalue()


def write_chart(
    folder: str | Path,
    onsets: Sequence[Onset],
    tempo: TempoMap,
    duration: float,
    name: str,
    artist: str = "Unknown Artist",
    audio: str | Path | None = None,
) -> ChartStats:
    """Write ``folder/notes.mid``, ``folder/song.ini`` and (with ``audio``) ``folder/song.<ext>``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stats = ChartStats()
    midi = chart_midi(onsets, tempo, duration, name, stats)
    with atomic_output(folder / "notes.mid") as tmp:
        midi.save(str(tmp))
    n_gems = sum(stats.gems.values())
    with atomic_output(folder / "song.ini") as tmp:
        tmp.write_text(song_ini(name, artist, duration, difficulty_tier(n_gems, duration)))
    if audio is not None:
        copy_song_audio(audio, folder)
    return stats


def copy_song_audio(audio: str | Path, folder: Path, block_frames: int = 1 << 16) -> Path:
    """Put the audio into the chart folder as Clone Hero expects it (``song.<ext>``).

    Formats Clone Hero plays are copied; others are transcoded block by block to Ogg Vorbis
    with soundfile (memory stays flat for long files).
    """
    import soundfile as sf

    audio = Path(audio)
    ext = audio.suffix.lower()
    if ext in CH_AUDIO:
        target = folder / f"song{ext}"
        with atomic_output(target) as tmp:
            shutil.copyfile(audio, tmp)
        return target
    target = folder / "song.ogg"
    with sf.SoundFile(audio) as src, atomic_output(target, suffix=".ogg") as tmp:
        channels = min(src.channels, 2)
        with sf.SoundFile(
            tmp, "w", samplerate=src.samplerate, channels=channels, format="OGG", subtype="VORBIS"
        ) as dst:
            for block in src.blocks(blocksize=block_frames, dtype="float32", always_2d=True):
                if src.channels > 2:
                    block = block.mean(axis=1, keepdims=True).repeat(2, axis=1)
                dst.write(np.nan_to_num(block))
    return target


def read_chart_gems(path: str | Path) -> tuple[list[tuple[float, str, bool]], dict]:
    """Parse a ``notes.mid`` back: ``(time s, lane, is_tom)`` per Expert drum gem, and extras
    (track names, tempo changes, beats) — the check that the written chart says what we meant."""
    midi = mido.MidiFile(str(path))
    tracks = {}
    tempo_changes = []
    for i, track in enumerate(midi.tracks):
        name = next((m.name for m in track if m.type == "track_name"), f"track{i}")
        tracks[name] = track
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type == "set_tempo":
                tempo_changes.append((tick, msg.tempo))
    tempo_changes.sort()
    res = midi.ticks_per_beat
    ticks = tuple(t for t, _ in tempo_changes) or (0,)
    tempos = tuple(u for _, u in tempo_changes) or (500000,)
    micros, q = [], 0
    for i, t in enumerate(ticks):
        if i:
            q += round((t - ticks[i - 1]) * tempos[i - 1] / res)
        micros.append(q)
    tempo = TempoMap(res, ticks, tuple(micros), tempos)

    def notes_of(track):
        out, tick, open_ = [], 0, {}
        for msg in track:
            tick += msg.time
            if msg.type == "note_on" and msg.velocity > 0:
                open_[msg.note] = (tick, msg.velocity)
            elif msg.type in ("note_off", "note_on") and msg.note in open_:
                start, vel = open_.pop(msg.note)
                out.append((start, tick, msg.note, vel))
        return out

    drum_notes = notes_of(tracks["PART DRUMS"])
    markers = {lane: [(s, e) for s, e, n, _ in drum_notes if n == m] for lane, m in TOM_MARKERS.items()}
    lane_of = {n: lane for lane, n in LANE_NOTES.items()}
    gems = []
    for start, _, note, _ in drum_notes:
        lane = lane_of.get(note)
        if lane is None:
            continue
        tom = any(s <= start < e for s, e in markers.get(lane, []))
        gems.append((float(tempo.ticks_to_seconds([start])[0]), lane, tom))
    gems.sort()
    beats = [(s, n) for s, _, n, _ in notes_of(tracks["BEAT"])] if "BEAT" in tracks else []
    velocities = [v for _, _, n, v in drum_notes if n in lane_of]
    extras = {
        "tracks": list(tracks),
        "tempo": tempo,
        "beats": beats,
        "velocities": velocities,
        "resolution": res,
    }
    return gems, extras
