"""Writing transcriptions: a beat-tracked tempo map, GM drum MIDI, and atomic file output.

Why the tempo map is built here and the MIDI written with mido rather than pretty_midi:
a MIDI tempo is an *integer* number of microseconds per beat, and pretty_midi truncates the
float tempo it holds when it writes. With one tempo change per beat (what a beat-tracked
map is) the truncation error adds up over an hour to milliseconds, and notes drift off the
audio. :class:`TempoMap` quantises every tempo to whole microseconds *first*, carrying the
rounding error forward, and converts note times with that same quantised map, so a note's
time in seconds survives the round trip to within half a tick, however long the file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import mido
import numpy as np

from drumtx.atomic import atomic_output
from drumtx.targets import Onset
from drumtx.vocab import OUTPUT_NOTES

#: Bars of the MIDI and chart outputs: 4/4 (no meter is detected), after a pickup bar where the
#: music's first downbeat needs one (:attr:`TempoMap.pickup_beats`).
BEATS_PER_BAR = 4
#: GM drums live on MIDI channel 10, which mido counts from 0.
GM_DRUM_CHANNEL = 9
MAX_US_PER_BEAT = 0xFFFFFF  # the largest tempo a set_tempo event can hold (24 bits)
#: Text in MIDI meta events (track names from file names and titles) is written as UTF-8, the
#: de facto convention of current DAWs and chart tools; mido's default (latin-1) cannot hold
#: Cyrillic, Japanese or emoji names at all. Read our files back with ``charset=MIDI_CHARSET``.
MIDI_CHARSET = "utf-8"


def one_line_text(text: str) -> str:
    """Any user text (a file stem, ``--artist``) as one line of valid Unicode, for every output.

    Control characters (line breaks, tabs, NUL) become spaces and surrounding blanks go; bytes
    of a file name that are not UTF-8 (which Python keeps as lone surrogates) become U+FFFD.
    Everything else (any script, emoji, ``%``, ``;``, ``=``, ``[``, quotes) is kept as given.
    """
    text = str(text).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return "".join(" " if ord(ch) < 32 or ord(ch) == 127 else ch for ch in text).strip()


def steady_anchors(beats: np.ndarray, tolerance_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Split increasing beat times into stretches of one tempo each, every beat within
    ``tolerance_s`` of where its stretch's tempo puts it.

    From an anchor (the first beat, then each stretch's end), a stretch takes beats for as long
    as one inter-beat interval fits them all: beat ``k`` admits intervals within
    ``(beat_k ± tolerance_s - anchor) / (k - start)``, and the stretch ends before the beat
    that would leave no interval. Its interval is the least-squares one through the anchor,
    clipped to what every beat admits, and the stretch's end (the next anchor) is placed where
    that interval puts it. One pass, O(beats).

    Why not a library: madmom and librosa give beat times, not tempo segments, and a
    least-squares piecewise fit (e.g. ``pwlf``) bounds the squared error, not each beat's.

    Args:
        beats: ``(n,)`` increasing beat times (s), ``n >= 2``.
        tolerance_s: how far (s) any beat may sit from its place in the map; > 0.

    Returns:
        ``(index, times)``: the anchors' beat indices ``(m,)`` (increasing, first 0, last
        ``n - 1``) and their times (s) ``(m,)``; between two anchors the tempo is constant.
    """
    beats = np.asarray(beats, dtype=np.float64)
    index, times = [0], [float(beats[0])]
    start, anchor, k = 0, float(beats[0]), 1
    while k < beats.size:
        lo, hi, sxy, sxx = -np.inf, np.inf, 0.0, 0.0
        end = k
        while end < beats.size:
            n = end - start
            b_lo, b_hi = (beats[end] - tolerance_s - anchor) / n, (beats[end] + tolerance_s - anchor) / n
            if max(lo, b_lo) > min(hi, b_hi):
                break
            lo, hi = max(lo, b_lo), min(hi, b_hi)
            sxy, sxx = sxy + n * (beats[end] - anchor), sxx + n * n
            end += 1
        ibi = float(np.clip(sxy / sxx, lo, hi))
        anchor += (end - 1 - start) * ibi
        start = end - 1
        index.append(start)
        times.append(anchor)
        k = end
    return np.asarray(index), np.asarray(times)


@dataclass(frozen=True)
class TempoMap:
    """Piecewise-constant tempo: segment ``i`` starts at ``ticks[i]`` / ``micros[i]`` µs and
    lasts ``us_per_beat[i]`` µs per beat. Beats fall on multiples of ``resolution`` ticks.
    Bars are 4/4 from tick 0, or after a first bar of ``pickup_beats`` beats (1..3: a bar of
    that many quarter notes, so the next bar starts on the music's downbeat)."""

    resolution: int
    ticks: tuple[int, ...]
    micros: tuple[int, ...]
    us_per_beat: tuple[int, ...]
    pickup_beats: int = 0

    def bar_starts(self, n_beats: int) -> list[bool]:
        """Whether each of the first ``n_beats`` beats starts a bar."""
        p = self.pickup_beats
        return [b == 0 or (b >= p and (b - p) % BEATS_PER_BAR == 0) for b in range(n_beats)]

    def time_signature_events(self) -> list[tuple[int, mido.MetaMessage]]:
        """``(absolute tick, time_signature)``: 4/4, after a first bar of ``pickup_beats``/4."""
        four = mido.MetaMessage("time_signature", numerator=BEATS_PER_BAR, denominator=4, time=0)
        if not self.pickup_beats:
            return [(0, four)]
        pickup = mido.MetaMessage("time_signature", numerator=self.pickup_beats, denominator=4, time=0)
        return [(0, pickup), (self.pickup_beats * self.resolution, four)]

    @classmethod
    def constant(cls, bpm: float = 120.0, resolution: int = 480) -> TempoMap:
        us = int(np.clip(round(60e6 / bpm), 1, MAX_US_PER_BEAT))
        return cls(resolution, (0,), (0,), (us,))

    @classmethod
    def from_beats(
        cls,
        beat_times: Sequence[float],
        resolution: int = 480,
        fallback_bpm: float = 120.0,
        steady_s: float = 0.0,
        downbeat: float | None = None,
    ) -> TempoMap:
        """A tempo map whose beat ticks fall on the tracked beats.

        Args:
            beat_times: tracked beat times (s); unsorted, duplicates and times <= 0 are dropped.
            resolution: ticks per beat.
            fallback_bpm: the constant tempo of a map from fewer than two beats.
            steady_s: 0: one tempo per inter-beat interval, each kept beat exactly on a beat
                tick (to the µs). > 0: one tempo per *steady stretch* (:func:`steady_anchors`),
                every kept beat within ``steady_s`` seconds of its beat tick (plus half a µs
                per beat of its stretch, the tempos' rounding), so a steady beat tracked on a
                frame grid (10 ms) gets one tempo instead of one that flips between two
                neighbouring values on every beat. Beats closer than ``2 * steady_s`` to the
                one before are dropped (a stretch's end may sit ``steady_s`` late).
            downbeat: a time (s) that starts a bar (the music's first downbeat,
                :func:`first_downbeat`): the tracked beat nearest it (within half a beat) starts
                a 4/4 bar, after a shorter first bar (``pickup_beats``) where needed. None, or
                no beat near it: bars from tick 0.

        Before the first beat the map holds a whole number of beats at about the first tempo,
        at least one (the first beat is skipped when it comes within a quarter of a beat of the
        file's start, whose tick 0 then stands for it; between a quarter and a half, the one
        lead-in beat is up to 4x faster, so the beat keeps its tick). Fewer than two beats: a
        constant ``fallback_bpm``.
        """
        beats = np.unique(np.asarray(beat_times, dtype=np.float64))
        beats = beats[beats > 0]
        if beats.size >= 2:
            # Beats closer than 1 ms cannot be meant; they would make absurd tempos. With a
            # tolerance, a stretch's end may sit up to steady_s after its beat: the next beat
            # must come later than that, or the next tempo would be negative.
            keep = np.concatenate(([True], np.diff(beats) >= max(1e-3, 2 * steady_s)))
            beats = beats[keep]
        if beats.size < 2:
            return cls.constant(fallback_bpm, resolution)
        first_ibi = beats[1] - beats[0]
        if beats[0] < 0.25 * first_ibi:
            beats = beats[1:]
            if beats.size < 2:
                return cls.constant(60.0 / first_ibi, resolution)
        lead_in = max(1, int(round(beats[0] / first_ibi)))
        pickup = 0
        if downbeat is not None:
            k = int(np.argmin(np.abs(beats - downbeat)))
            local_ibi = beats[min(k + 1, beats.size - 1)] - beats[max(k - 1, 0)]
            if abs(beats[k] - downbeat) <= 0.25 * local_ibi:  # (half the beat: the 2-beat span's quarter)
                pickup = (lead_in + k) % BEATS_PER_BAR
        index, times = steady_anchors(beats, steady_s) if steady_s > 0 else (np.arange(beats.size), beats)
        # Anchors: (beat index, target time in µs); the gap to the next anchor is one tempo.
        beat_index = np.concatenate(([0], lead_in + index))
        target_us = np.concatenate(([0], np.round(times * 1e6).astype(np.int64)))
        ticks, micros, tempos = [], [], []
        q = 0  # quantised time of the current anchor, in µs
        for i in range(len(beat_index) - 1):
            n_beats = int(beat_index[i + 1] - beat_index[i])
            # Aim at the *target* time of the next anchor from the *quantised* time of this one,
            # so rounding errors never accumulate (at most n_beats/2 µs at any anchor).
            us = int(np.clip(round((target_us[i + 1] - q) / n_beats), 1, MAX_US_PER_BEAT))
            ticks.append(int(beat_index[i]) * resolution)
            micros.append(q)
            tempos.append(us)
            q += us * n_beats
        return cls(resolution, tuple(ticks), tuple(micros), tuple(tempos), pickup)

    def seconds_to_ticks(self, seconds: Sequence[float] | np.ndarray) -> np.ndarray:
        """Absolute ticks (int64) of times in seconds, rounded to the nearest tick."""
        us = np.asarray(seconds, dtype=np.float64) * 1e6
        seg = np.clip(np.searchsorted(np.asarray(self.micros), us, side="right") - 1, 0, None)
        start_tick = np.asarray(self.ticks, dtype=np.float64)[seg]
        start_us = np.asarray(self.micros, dtype=np.float64)[seg]
        tempo = np.asarray(self.us_per_beat, dtype=np.float64)[seg]
        return np.round(start_tick + (us - start_us) * self.resolution / tempo).astype(np.int64)

    def ticks_to_seconds(self, ticks: Sequence[int] | np.ndarray) -> np.ndarray:
        t = np.asarray(ticks, dtype=np.float64)
        seg = np.clip(np.searchsorted(np.asarray(self.ticks), t, side="right") - 1, 0, None)
        start_tick = np.asarray(self.ticks, dtype=np.float64)[seg]
        start_us = np.asarray(self.micros, dtype=np.float64)[seg]
        tempo = np.asarray(self.us_per_beat, dtype=np.float64)[seg]
        return (start_us + (t - start_tick) * tempo / self.resolution) / 1e6

    def tempo_events(self) -> list[tuple[int, mido.MetaMessage]]:
        """``(absolute tick, set_tempo)`` for every tempo change, redundant ones dropped."""
        events, last = [], None
        for tick, us in zip(self.ticks, self.us_per_beat, strict=True):
            if us != last:
                events.append((tick, mido.MetaMessage("set_tempo", tempo=us, time=0)))
                last = us
        return events

    def mean_bpm(self) -> float:
        """The map's tempo (bpm) after its lead-in: its beats over its time, each segment
        weighed by its length in beats (the last, open-ended one as one beat); a map of one
        segment is that segment's tempo. (An unweighted mean let the one-beat lead-in of a map
        with one steady stretch pull a steady 120 bpm to 158.)"""
        us = np.asarray(self.us_per_beat, dtype=np.float64)
        beats = np.append(np.diff(np.asarray(self.ticks, dtype=np.float64)) / self.resolution, 1.0)
        if us.size > 1:  # the first segment is the lead-in before the first tracked beat
            us, beats = us[1:], beats[1:]
        return float(60e6 * beats.sum() / (beats * us).sum())


def midi_track(name: str, events: list[tuple[int, int, mido.Message | mido.MetaMessage]]) -> mido.MidiTrack:
    """A track from ``(absolute tick, order, message)``; order sorts same-tick events
    (note-offs before note-ons, so a repeated note is never cut by its predecessor's end)."""
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("track_name", name=one_line_text(name), time=0))
    now = 0
    for tick, _, msg in sorted(events, key=lambda e: (e[0], e[1])):
        track.append(msg.copy(time=int(tick - now)))
        now = int(tick)
    track.append(mido.MetaMessage("end_of_track", time=0))
    return track


def note_events(
    notes: Sequence[tuple[int, int, int]], length_ticks: int, channel: int
) -> list[tuple[int, int, mido.Message]]:
    """Note on/off events for ``(tick, pitch, velocity)`` notes of fixed length.

    A note is cut short (to at least one tick) where the next note of the same pitch starts;
    two notes of one pitch on one tick become one (the louder).
    """
    by_pitch: dict[int, dict[int, int]] = {}
    for tick, pitch, velocity in notes:
        slot = by_pitch.setdefault(int(pitch), {})
        slot[int(tick)] = max(slot.get(int(tick), 0), int(np.clip(velocity, 1, 127)))
    events = []
    for pitch, hits in by_pitch.items():
        starts = sorted(hits)
        for i, start in enumerate(starts):
            end = start + length_ticks
            if i + 1 < len(starts):
                end = min(end, starts[i + 1])
            end = max(end, start + 1)
            events.append(
                (start, 1, mido.Message("note_on", note=pitch, velocity=hits[start], channel=channel))
            )
            events.append((end, 0, mido.Message("note_off", note=pitch, velocity=0, channel=channel)))
    return events


def conductor_track(name: str, tempo: TempoMap, texts: Sequence[str] = ()) -> mido.MidiTrack:
    """Track 0 of a type-1 file: its name, ``texts`` as text meta events at tick 0 (e.g.
    ``"Artist: …"``; UTF-8, one line each), the time signatures (4/4, after a pickup bar where
    the map has one) and the tempo map."""
    events = [(0, 0, mido.MetaMessage("text", text=one_line_text(t), time=0)) for t in texts]
    events += [(tick, 0, msg) for tick, msg in tempo.time_signature_events()]
    events += [(tick, 1, msg) for tick, msg in tempo.tempo_events()]
    return midi_track(name, events)


def drum_midi(
    onsets: Sequence[Onset],
    tempo: TempoMap,
    note_length_beats: float = 0.125,
    name: str = "drumtx",
    texts: Sequence[str] = (),
) -> mido.MidiFile:
    """A type-1 MIDI file: conductor track (named ``name``, with ``texts`` as text meta events)
    + one GM drum track (channel 10, notes from :data:`drumtx.vocab.OUTPUT_NOTES`), notes of a
    fixed short length (a 32nd note)."""
    midi = mido.MidiFile(type=1, ticks_per_beat=tempo.resolution, charset=MIDI_CHARSET)
    midi.tracks.append(conductor_track(name, tempo, texts))
    ticks = tempo.seconds_to_ticks([o.time for o in onsets])
    notes = [(int(t), OUTPUT_NOTES[o.fine_class], o.velocity) for t, o in zip(ticks, onsets, strict=True)]
    length = max(1, int(round(note_length_beats * tempo.resolution)))
    events = [(0, 0, mido.Message("program_change", program=0, channel=GM_DRUM_CHANNEL))]
    events += note_events(notes, length, GM_DRUM_CHANNEL)
    midi.tracks.append(midi_track("Drums", events))
    return midi


def save_midi(midi: mido.MidiFile, path: str | Path) -> None:
    with atomic_output(path, suffix=".mid") as tmp:
        midi.save(str(tmp))
