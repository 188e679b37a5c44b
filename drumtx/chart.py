"""Rhythm-game charts: a Clone Hero / YARG ``notes.mid`` (pro drums, Expert) with ``song.ini``.

Layout written for one input ``<stem>``: ``OUT_DIR/<stem>/notes.mid``, ``OUT_DIR/<stem>/song.ini``
and, unless disabled, the audio as ``song.<ext>`` (copied when Clone Hero plays the format,
else transcoded to Ogg Vorbis), so the folder can be dropped into Clone Hero's ``Songs``.

``notes.mid`` (480 ticks per beat, meta text UTF-8) holds a conductor track (tempo map from
beat tracking, :mod:`drumtx.tempo`; 4/4 bars from the first kick or crash on a beat, after a
pickup bar where needed), ``PART DRUMS`` (Expert, pro drums: cymbal by default, a tom marker
turns the yellow/blue/green note under it into a tom; gems on the beat grid, :func:`snap_ticks`;
ghost/accent dynamics only where the playing has them, :func:`chart_dynamics`), ``BEAT`` (12 on
bar starts, 13 on the other beats) and ``EVENTS`` ([music_start], [music_end], [end]). The
instrument -> lane mapping is the data table :data:`CHART_LANES`; ``docs`` and tests read it from there.
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
from drumtx.atomic import atomic_output
from drumtx.chart_reductions import DIFFICULTIES, fill_beats, gem_parts, reduce_gems, reductions
from drumtx.midi_out import (
    MIDI_CHARSET,
    TempoMap,
    conductor_track,
    midi_track,
    note_events,
    one_line_text,
)
from drumtx.output_settings import output_settings
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

#: Clone Hero / YARG drum dynamics (``[ENABLE_CHART_DYNAMICS]``): gem velocity 1 is a ghost
#: note, 127 an accent, anything else normal. Which gems are which is decided per gem kind
#: (lane and tom/cymbal) relative to its surroundings by :func:`chart_dynamics`, from the
#: onsets' MIDI velocities (velocity ~ sqrt(amplitude), so dB = 40 log10 velocity):
#: a ghost is ``GHOST_DB`` below the loudest tenth of the kind's gems within
#: ``+-DYNAMICS_WINDOW_S``, an accent ``ACCENT_DB`` above the median of the non-ghosts there and
#: at least ``ACCENT_SPREAD`` robust standard deviations of them (a kit whose hits vary by
#: +-6 dB at one velocity, like Sam's Sonor's round-robin hi-hats, has no accents in it).
#: Sampled kits play velocity 127 ~5 dB above 80 (measured: h2_gmrockkit, sfz_sams_sonor rides).
#: With fewer than ``DYNAMICS_MIN_GEMS`` such gems near, a gem stays normal (unsure), and a
#: chart with no ghost and no accent has dynamics off (no text event, every gem 100). Kicks
#: stay normal: the formats mark dynamics on the pads (``.chart`` has accent and ghost
#: modifiers for red to green, none for the kick; a charter's try, 2026-12-08, found ghost
#: and accent kicks written).
GHOST_VELOCITY, NORMAL_VELOCITY, ACCENT_VELOCITY = 1, 100, 127
_DYN = output_settings()["chart_dynamics"]  # conf/outputs/default.yaml
GHOST_DB = float(_DYN["ghost_db"])
ACCENT_DB = float(_DYN["accent_db"])
ACCENT_SPREAD = float(_DYN["accent_spread"])
DYNAMICS_WINDOW_S = float(_DYN["window_s"])
DYNAMICS_MIN_GEMS = int(_DYN["min_gems"])

#: The chart's grid (:func:`snap_ticks`): beat divisions tried per beat, the first preferred.
_GRID = output_settings()["chart_grid"]  # conf/outputs/default.yaml
SNAP_DIVISIONS: tuple[int, ...] = tuple(int(d) for d in _GRID["divisions"] or ())
SNAP_MARGIN = float(_GRID["margin"])
#: Finer grids a beat falls back to, coarsest first, when every grid of ``divisions`` would put
#: two strokes of one lane on one tick (a 32nd-note roll or kick double on a 16th grid).
FALLBACK_DIVISIONS: tuple[int, ...] = tuple(int(d) for d in _GRID["fallback"] or ())
#: Hits of one lane at least this far apart (beats) are two strokes, never merged by the grid.
TWO_STROKES_BEATS = float(_GRID["two_strokes"])

#: The difficulties a chart holds unless asked otherwise (``chart_difficulties``).
CHART_DIFFICULTIES: tuple[str, ...] = tuple(output_settings()["chart_difficulties"])


def check_difficulties(difficulties: Sequence[str]) -> None:
    """Check chart difficulties asked for.

    Raises:
        ValueError: none, or one that is not expert, hard, medium or easy, in one line.
    """
    if not difficulties:
        raise ValueError(f"no chart difficulty given; name one or more of {', '.join(DIFFICULTIES)}")
    unknown = [d for d in difficulties if d not in DIFFICULTIES]
    if unknown:
        raise ValueError(f"chart difficulties are some of {', '.join(DIFFICULTIES)}, "
                         f"not {', '.join(map(repr, unknown))}")


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


#: The empty bars a summary names (the rest as "…").
EMPTY_BARS_LISTED = 5


@dataclass
class ChartStats:
    gems: Counter = field(default_factory=Counter)  # lane[+tom] -> gems
    dropped: Counter = field(default_factory=Counter)  # reason -> onsets not charted
    dynamics: Counter = field(default_factory=Counter)  # "ghost"/"accent" -> gems
    difficulties: Counter = field(default_factory=Counter)  # difficulty written -> gems
    empty_bars: dict = field(default_factory=dict)  # difficulty below Expert -> bars it leaves empty (1-based)
    bars: int = 0  # bars that hold an Expert gem

    def to_dict(self) -> dict:
        return {"gems": dict(self.gems), "dropped": dict(self.dropped), "dynamics": dict(self.dynamics),
                "difficulties": dict(self.difficulties), "empty_bars": dict(self.empty_bars), "bars": self.bars}

    def written(self) -> int:
        """Gems of the highest difficulty written (Expert's unless left out): what ``diff_drums`` rates."""
        return next((self.difficulties[d] for d in DIFFICULTIES if d in self.difficulties), sum(self.gems.values()))

    def summary(self) -> str:
        """One phrase for the command's line per file: the gems, their ghost notes and accents,
        and the onsets the chart could not hold, by reason (a charter's try, 2026-12-07: these
        counts were kept but never shown), then the lower difficulties' gems and the bars each
        leaves empty where Expert has gems (a reduction that silences whole bars is worth a look
        before publishing; bars numbered from 1, as in an editor), e.g. ``612 gems (31 ghost, 12
        accent); not charted: 4 on a gem's tick, 1 tom under a cymbal; Hard 540, Medium 301, Easy
        177 (2 of 64 bars empty: 1, 33)``. The first count is Expert's, said so when Expert is
        not written (``--chart-difficulties easy``: ``308 gems on Expert, not written; Easy 51``)."""
        dyn = ", ".join(f"{self.dynamics[k]} {k}" for k in ("ghost", "accent") if self.dynamics[k])
        expert = "" if "expert" in self.difficulties or not self.difficulties else " on Expert, not written"
        text = f"{sum(self.gems.values())} gems{expert}" + (f" ({dyn})" if dyn else "")
        dropped = []
        merged = self.dropped["merged_same_tick"]
        if merged:
            dropped.append(f"{merged} on a gem's tick")
        clashes = sum(n for k, n in self.dropped.items() if k.startswith("lane_conflict:"))
        if clashes:  # one lane holds one gem per tick: LANE_CONFLICT_KEEP's kind stays
            kept, lost = ("cymbal", "tom") if LANE_CONFLICT_KEEP == "cymbal" else ("tom", "cymbal")
            dropped.append(f"{clashes} {lost} under a {kept}" if clashes == 1 else f"{clashes} {lost}s under {kept}s")
        dropped += [f"{n} {k.split(':', 1)[1]}" for k, n in sorted(self.dropped.items()) if k.startswith("not_charted:")]
        text += f"; not charted: {', '.join(dropped)}" if dropped else ""
        lower = []
        for d, n in self.difficulties.items() if self.gems else ():
            if d == "expert":
                continue
            empty = self.empty_bars.get(d, ())  # a reduction that silences bars Expert plays in is worth a look
            listed = ", ".join(map(str, empty[:EMPTY_BARS_LISTED])) + (", …" if len(empty) > EMPTY_BARS_LISTED else "")
            lower.append(f"{d.capitalize()} {n}" + (f" ({len(empty)} of {self.bars} bars empty: {listed})" if empty else ""))
        return text + (f"; {', '.join(lower)}" if lower else "")


def chart_dynamics(gems: Sequence[Gem], tempo: TempoMap) -> list[int]:
    """Chart velocity per gem: :data:`GHOST_VELOCITY`, :data:`NORMAL_VELOCITY` or
    :data:`ACCENT_VELOCITY`, by the rule documented at :data:`GHOST_DB`.

    Args:
        gems: the chart's gems; ``velocity`` is the onset's MIDI velocity (1..127).
        tempo: the chart's tempo map (gem ticks -> seconds).

    Returns:
        One chart velocity per gem, in the order given.
    """
    out = [NORMAL_VELOCITY] * len(gems)
    times = tempo.ticks_to_seconds([g.tick for g in gems]) if gems else np.zeros(0)
    db = 40.0 * np.log10(np.clip([g.velocity for g in gems], 1, 127).astype(np.float64))
    kinds: dict[tuple[str, bool], list[int]] = {}
    for i, g in enumerate(gems):
        kinds.setdefault((g.lane, g.tom), []).append(i)
    for (lane, _), idx in kinds.items():
        if lane == "kick":  # no dynamics on the pedal (above)
            continue
        idx = np.array(sorted(idx, key=lambda i: times[i]))
        t, level = times[idx], db[idx]
        lo = np.searchsorted(t, t - DYNAMICS_WINDOW_S, side="left")
        hi = np.searchsorted(t, t + DYNAMICS_WINDOW_S, side="right")
        for k, i in enumerate(idx):
            near = level[lo[k] : hi[k]]
            if near.size < DYNAMICS_MIN_GEMS:
                continue
            loud = np.percentile(near, 90)
            if level[k] <= loud - GHOST_DB:
                out[i] = GHOST_VELOCITY
                continue
            normal = near[near > loud - GHOST_DB]
            if normal.size < DYNAMICS_MIN_GEMS:
                continue
            centre = np.median(normal)
            spread = 1.4826 * np.median(np.abs(normal - centre))  # robust standard deviation
            if level[k] >= centre + max(ACCENT_DB, ACCENT_SPREAD * spread):
                out[i] = ACCENT_VELOCITY
    return out


def check_divisions(divisions: Sequence[int], resolution: int = RESOLUTION) -> None:
    """Check a chart grid's steps per beat (:func:`snap_ticks`'s ``divisions``).

    Raises:
        ValueError: a step count below 1, or one that does not divide ``resolution`` (ticks per
            beat), named in a one-line message.
    """
    low = [str(d) for d in divisions if int(d) < 1]
    if low:
        raise ValueError(f"chart grid: steps per beat are whole numbers from 1, not {', '.join(low)}")
    bad = [str(d) for d in divisions if resolution % int(d)]
    if bad:
        raise ValueError(f"chart grid: {' and '.join(bad)} {'does' if len(bad) == 1 else 'do'} not divide "
                         f"the chart's {resolution} ticks per beat")


def snap_ticks(
    ticks: Sequence[int] | np.ndarray,
    resolution: int = RESOLUTION,
    divisions: Sequence[int] = SNAP_DIVISIONS,
    margin: float = SNAP_MARGIN,
    lanes: Sequence[str] | None = None,
) -> np.ndarray:
    """Ticks moved onto the beat grid, one grid per beat.

    A chart's gems sit on a grid: hits the ear hears as one chord (a hi-hat and a snare ~10 ms
    apart) must share a tick, or a game draws a flam. Each beat (``resolution`` ticks, the
    tempo map's beats) takes the grid of ``divisions[0]`` steps (16ths for 4), unless a later
    division's squared error over that beat's hits is below ``margin`` times the best so far
    (8th-note triplets where the hits swing or play triplets); every tick then moves to its
    nearest point of that grid (the beat's end included). A hit is of the beat it starts in.
    With ``lanes``, a grid that would put two strokes of one lane on one tick (hits
    :data:`TWO_STROKES_BEATS` or more apart: a roll, a kick double) is not taken for that beat; where every grid of
    ``divisions`` would, the first of :data:`FALLBACK_DIVISIONS` that does not is (a charter's
    try, 2026-12-07: an 8-note 32nd roll became 4 gems and a 32nd kick moved onto the next
    downbeat). Hits of one lane closer than that still share a tick (one stroke found twice).

    Args:
        ticks: absolute ticks of the hits (any order).
        resolution: ticks per beat.
        divisions: steps per beat tried, the first preferred; each must divide ``resolution``;
            empty: ticks unchanged.
        margin: 0..1, how much better a later grid must fit.
        lanes: each hit's lane (any hashable), or None (no merge check).

    Returns:
        The snapped ticks (int64), in the order given.

    Raises:
        ValueError: a division that :func:`check_divisions` refuses, or ``margin`` outside 0..1.
    """
    ticks = np.asarray(ticks, dtype=np.int64)
    if not divisions or ticks.size == 0:
        return ticks.copy()
    check_divisions(divisions, resolution)
    if not 0.0 <= margin <= 1.0:
        raise ValueError(f"chart grid: the margin must be within 0..1, got {margin}")
    fallback = [d for d in FALLBACK_DIVISIONS if resolution % d == 0 and d not in divisions]
    steps = np.array([resolution // int(d) for d in (*divisions, *fallback)], dtype=np.int64)[:, None]
    snapped = np.round(ticks[None, :] / steps).astype(np.int64) * steps  # (grids, hits)
    err = (snapped - ticks[None, :]).astype(np.float64) ** 2
    beat = ticks // resolution
    stroke = round(TWO_STROKES_BEATS * resolution)  # hits of one lane this far apart are two strokes
    lane_of = np.asarray(lanes, dtype=object) if lanes is not None else None
    order = np.argsort(beat, kind="stable")  # hits by beat: each beat's and its neighbours' are slices
    by_beat = beat[order]

    def fits(g: int, near: np.ndarray, b: int) -> bool:  # grid g keeps beat b's strokes apart
        return lane_of is None or not _merges(snapped[g, near], ticks[near], lane_of[near], beat[near] == b, stroke)

    out = snapped[0].copy()
    for b in np.unique(beat):
        lo, hi = np.searchsorted(by_beat, [b, b + 1])
        hits = order[lo:hi]
        near = order[np.searchsorted(by_beat, b - 1):np.searchsorted(by_beat, b + 2)]  # (its neighbours' hits too)
        usable = [g for g in range(len(divisions)) if fits(g, near, b)]
        if usable:
            cost = err[:, hits].sum(axis=1)
            best = usable[0]
            for g in usable[1:]:
                if cost[g] < margin * cost[best]:
                    best = g
        else:  # (the fallbacks are checked only here: most beats never need them)
            best = next((g for g in range(len(divisions), len(steps)) if fits(g, near, b)), len(steps) - 1)
        out[hits] = snapped[best, hits]
    return out


def _merges(snapped: np.ndarray, ticks: np.ndarray, lanes: np.ndarray, mine: np.ndarray, stroke: int) -> bool:
    """Whether two hits of one lane at least ``stroke`` ticks apart share a snapped tick, one of
    them ``mine`` (the beat being decided; its neighbours' merges are theirs to decide)."""
    seen: dict[tuple, list[tuple[int, bool]]] = {}
    for s, t, lane, m in zip(snapped.tolist(), ticks.tolist(), lanes.tolist(), mine.tolist(), strict=True):
        if lane is None:  # not charted
            continue
        others = seen.setdefault((s, lane), [])
        if any(abs(o - t) >= stroke and (m or om) for o, om in others):
            return True
        others.append((t, m))
    return False


def onsets_to_gems(
    onsets: Sequence[Onset],
    tempo: TempoMap,
    stats: ChartStats | None = None,
    divisions: Sequence[int] = SNAP_DIVISIONS,
) -> list[Gem]:
    """Place onsets on lanes and ticks (on the beat grid of ``divisions``, :func:`snap_ticks`);
    merge same-lane hits on one tick, resolve tom/cymbal clashes."""
    stats = stats if stats is not None else ChartStats()
    lanes = [(CHART_LANES.get(o.fine_class) or (None,))[0] for o in onsets]  # (a tom and a cymbal share a lane)
    ticks = snap_ticks(tempo.seconds_to_ticks([o.time for o in onsets]), tempo.resolution, divisions, lanes=lanes)
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
    onsets: Sequence[Onset],
    tempo: TempoMap,
    duration: float,
    name: str,
    stats: ChartStats | None = None,
    divisions: Sequence[int] = SNAP_DIVISIONS,
    difficulties: Sequence[str] = CHART_DIFFICULTIES,
):
    """The ``notes.mid`` of a chart as a :class:`mido.MidiFile` (type 1, 480 ticks per beat,
    meta text in UTF-8); gems on the grid of ``divisions`` (:func:`snap_ticks`; empty: exact
    ticks); ``[ENABLE_CHART_DYNAMICS]`` only when some gem is a ghost or accent; the
    ``difficulties`` asked for (Hard, Medium and Easy reduced from Expert,
    :mod:`drumtx.chart_reductions`).

    Raises:
        ValueError: the tempo map's resolution is not :data:`RESOLUTION`, or an unknown difficulty.
    """
    if tempo.resolution != RESOLUTION:
        raise ValueError(f"charts use {RESOLUTION} ticks per beat, the tempo map has {tempo.resolution}")
    check_difficulties(difficulties)
    stats = stats if stats is not None else ChartStats()
    gems = onsets_to_gems(onsets, tempo, stats, divisions)
    midi = mido.MidiFile(type=1, ticks_per_beat=RESOLUTION, charset=MIDI_CHARSET)
    midi.tracks.append(conductor_track(name, tempo))

    end_tick = int(tempo.seconds_to_ticks([duration])[0])
    last_gem = gems[-1].tick if gems else 0
    n_beats = max(end_tick, last_gem) // RESOLUTION + 2  # cover the audio and every gem
    bar_starts = tempo.bar_starts(n_beats)

    velocities = chart_dynamics(gems, tempo)
    stats.dynamics.update(
        {"ghost": velocities.count(GHOST_VELOCITY), "accent": velocities.count(ACCENT_VELOCITY)}
    )
    drums = []
    dynamic = False  # whether a gem written is a ghost or an accent (Expert's may not be written)
    keep = np.ones(len(gems), dtype=bool)
    rules = reductions()
    gem_ticks = np.array([g.tick for g in gems], dtype=np.int64)
    gem_lanes = np.array([g.lane for g in gems], dtype=object)
    gem_velocities = np.array(velocities, dtype=np.int64)
    gem_seconds = tempo.ticks_to_seconds(gem_ticks) if gems else np.zeros(0)
    parts = gem_parts(gem_ticks, gem_lanes, [g.tom for g in gems], RESOLUTION, fill_beats())
    gem_bars = (np.cumsum(bar_starts) - 1)[gem_ticks // RESOLUTION]  # bar number of each gem
    expert_bars = set(gem_bars.tolist())
    stats.bars = len(expert_bars)
    lowest = max(list(DIFFICULTIES).index(d) for d in difficulties)
    for level, kick_note in list(DIFFICULTIES.items())[: lowest + 1]:  # each below Expert from the one above it
        if level != "expert":
            idx = np.flatnonzero(keep)
            keep[idx[~reduce_gems(gem_ticks[idx], gem_lanes[idx], parts[idx], gem_velocities[idx],
                                  gem_seconds[idx], rules[level], RESOLUTION, bar_starts, GHOST_VELOCITY)]] = False
        if level not in difficulties:
            continue
        stats.difficulties[level] = int(keep.sum())
        if level != "expert":
            stats.empty_bars[level] = sorted(b + 1 for b in expert_bars - set(gem_bars[keep].tolist()))
        drums += note_events([(g.tick, kick_note + LANE_NOTES[g.lane] - LANE_NOTES["kick"], v)
                              for g, v, k in zip(gems, velocities, keep, strict=True) if k], NOTE_LENGTH_TICKS, 0)
        dynamic |= bool(np.isin(gem_velocities[keep], (GHOST_VELOCITY, ACCENT_VELOCITY)).any())
    if dynamic:
        drums.insert(0, (0, 0, mido.MetaMessage("text", text="[ENABLE_CHART_DYNAMICS]", time=0)))
    drums += _tom_marker_events(gems, NOTE_LENGTH_TICKS)  # every difficulty's gems are Expert's
    midi.tracks.append(midi_track("PART DRUMS", drums))

    beat_notes = [(b * RESOLUTION, BEAT_BAR if bar else BEAT_BEAT, 100) for b, bar in enumerate(bar_starts)]
    midi.tracks.append(midi_track("BEAT", note_events(beat_notes, RESOLUTION // 4, 0)))

    final = n_beats * RESOLUTION
    events = [
        (0, 0, mido.MetaMessage("text", text="[music_start]", time=0)),
        (final - RESOLUTION, 1, mido.MetaMessage("text", text="[music_end]", time=0)),
        (final, 2, mido.MetaMessage("text", text="[end]", time=0)),
    ]
    midi.tracks.append(midi_track("EVENTS", events))
    return midi


def difficulty_tier(n_gems: int, duration: float) -> int:
    """Clone Hero's 0..6 ``diff_drums`` from the mean note density (no notes: -1, no part)."""
    if n_gems == 0:
        return -1
    nps = n_gems / max(duration, 1e-3)
    return int(np.searchsorted(DIFFICULTY_NPS_BOUNDS, nps, side="right"))


@dataclass(frozen=True)
class SongInfo:
    """What ``song.ini`` says about the song; any text, written as given (UTF-8)."""

    name: str
    artist: str = "Unknown Artist"
    album: str = ""
    genre: str = ""
    charter: str = "drumtx"

    def credits(self) -> list[str]:
        """``"Artist: …"``, ``"Album: …"``, ``"Genre: …"``, ``"Charter: …"`` for the fields that
        are set: the text meta events of the MIDI file's conductor track."""
        fields = (("Artist", self.artist), ("Album", self.album), ("Genre", self.genre), ("Charter", self.charter))
        return [f"{label}: {value}" for label, value in fields if value]


#: How every song.ini drumtx writes begins its ``loading_phrase`` (the version follows): what
#: :func:`is_drumtx_chart` recognises.
LOADING_PHRASE = "Drums transcribed by drumtx"


def is_drumtx_chart(folder: str | Path) -> bool:
    """Whether ``folder`` is a chart folder drumtx wrote (its ``song.ini`` has drumtx's loading phrase).

    Its ``song.<ext>`` is then a copy of audio already transcribed, which a folder walk must
    not take for a new input; chart folders of other charters (a Clone Hero library) are inputs.
    An unreadable or malformed ``song.ini`` is not drumtx's.
    """
    ini = configparser.ConfigParser(interpolation=None)
    try:
        ini.read(Path(folder) / "song.ini", encoding="utf-8")
    except (OSError, UnicodeDecodeError, configparser.Error):
        return False
    return ini.get("song", "loading_phrase", fallback="").startswith(LOADING_PHRASE)


def song_ini(info: SongInfo, duration: float, diff: int) -> str:
    """The text of ``song.ini`` (section ``[song]``, Clone Hero keys).

    Args:
        info: name, artist, album, genre, charter (any Unicode, ``%`` included).
        duration: song length in s (``song_length`` in ms).
        diff: ``diff_drums`` tier, see :func:`difficulty_tier`.

    Returns:
        The ini text; write it as UTF-8.
    """
    # interpolation=None: a "%" in a name or artist ("100% Drums", "AC%DC") is text, not syntax.
    # Values are one line each (one_line_text); ";", "=", "[" and quotes inside a value are text to
    # configparser and Clone Hero alike (no inline comments, the first "=" splits key and value).
    ini = configparser.ConfigParser(interpolation=None)
    ini.optionxform = str  # keep key case as Clone Hero writes it
    ini["song"] = {
        "name": one_line_text(info.name),
        "artist": one_line_text(info.artist),
        # album and genre only when given: an empty key is a blank column in a game's song list
        **{k: one_line_text(v) for k, v in (("album", info.album), ("genre", info.genre)) if one_line_text(v)},
        "charter": one_line_text(info.charter),
        "pro_drums": "True",
        "five_lane_drums": "False",
        "delay": "0",
        "diff_drums": str(diff),
        "diff_drums_real": str(diff),
        "song_length": str(int(round(duration * 1000))),
        "loading_phrase": f"{LOADING_PHRASE} {drumtx.__version__}",
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
    info: SongInfo | str,
    audio: str | Path | None = None,
    divisions: Sequence[int] = SNAP_DIVISIONS,
    difficulties: Sequence[str] = CHART_DIFFICULTIES,
    stats: ChartStats | None = None,
) -> ChartStats:
    """Write ``folder/notes.mid``, ``folder/song.ini`` and (with ``audio``) ``folder/song.<ext>``.

    Each file is written atomically; a whole chart folder that appears complete or not at all
    is the caller's (``drumtx.transcribe`` writes it in a staging folder and moves it in).

    Args:
        folder: the chart folder (created).
        onsets: the onsets (time s, fine class, MIDI velocity).
        tempo: tempo map at :data:`RESOLUTION` ticks per beat.
        duration: audio length in s.
        info: song.ini text, or just the song name.
        audio: audio to copy or transcode in as ``song.<ext>``.
        divisions: the gems' beat grid (:func:`snap_ticks`; empty: exact ticks).
        difficulties: the difficulties written (of ``expert``, ``hard``, ``medium``, ``easy``).
        stats: counts are added to it (a new one when None).

    Returns:
        Gem, drop, dynamics and lower difficulties' counts (``stats`` where given).

    Raises:
        ValueError: the tempo map's resolution is not :data:`RESOLUTION`, or an unknown difficulty.
        OSError: a file cannot be written.
    """
    info = SongInfo(info) if isinstance(info, str) else info
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stats = stats if stats is not None else ChartStats()
    midi = chart_midi(onsets, tempo, duration, info.name, stats, divisions, difficulties)
    with atomic_output(folder / "notes.mid") as tmp:
        midi.save(str(tmp))
    with atomic_output(folder / "song.ini") as tmp:  # diff_drums: the highest difficulty written
        tmp.write_text(song_ini(info, duration, difficulty_tier(stats.written(), duration)), encoding="utf-8")
    if audio is not None:
        copy_song_audio(audio, folder)
    return stats


def song_audio(folder: str | Path) -> Path | None:
    """The chart folder's ``song.<ext>`` in a format Clone Hero plays, or None."""
    return next((p for ext in CH_AUDIO if (p := Path(folder) / f"song{ext}").is_file()), None)


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
    midi = mido.MidiFile(str(path), charset=MIDI_CHARSET)
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
