"""Generated accompaniment: bass, chords and a lead on a drum performance's own time grid.

Songs put bass, keys and guitars over the drums; a transcriber trained on drums alone
hears hi-hats in strummed guitars and kicks in bass notes. This module writes a seeded
arrangement for one performance and renders it with FluidSynth through the General MIDI
melodic programs of the sound fonts; :mod:`drumtx.synth.dataset` mixes it under the drums.
Nothing here reaches a label: the arrangement is audio only.

* **Grid**: the tempo is the performance's (csv ``bpm``); the beat phase and the bar's
  downbeat come from the drum onsets (:func:`estimate_grid`: kicks on strong beats,
  backbeats on weak ones).
* **Harmony**: a random key (major or minor) and a common progression (pop, rock, minor,
  jazz ii-V-I, 12-bar blues), one chord per bar, two bars or half a bar.
* **Parts**: a bass line (locked to the kick, roots on 8ths/quarters, walking, or held), one
  or two chord parts (piano, organ, clean/distorted guitar, pad, strings, brass) in a style
  their instrument plays (held, strummed with a per-string spread, arpeggiated, comped,
  stabs on the snare or the off-beats) and, sometimes, a lead line (phrases on the scale,
  chord tones on strong beats, repeated with variation).

:func:`draw` is the cheap part (key, programs, styles, mix level from the seed alone: the csv
records it without rendering); :func:`arrange` adds the notes; :class:`MusicRenderer` plays them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

from drumtx.synth.config import config_from_mapping
from drumtx.synth.render import BLOCK, Note, check_render_rate, play_events, resample

#: GM programs (0-based) by instrument family, and the styles each family plays.
FAMILIES = {
    "piano": {"programs": [0, 1, 2, 4, 5], "styles": ["sustained", "comp", "arpeggiated", "stabs"]},
    "organ": {"programs": [16, 17, 18, 19], "styles": ["sustained", "comp", "stabs"]},
    "guitar_clean": {"programs": [24, 25, 26, 27], "styles": ["strummed", "arpeggiated", "stabs"]},
    "guitar_distorted": {"programs": [29, 30], "styles": ["power", "strummed", "sustained"]},
    "pad": {"programs": [88, 89, 90, 91, 92, 94, 95], "styles": ["sustained"]},
    "strings": {"programs": [48, 49, 50], "styles": ["sustained", "arpeggiated"]},
    "brass": {"programs": [61, 62], "styles": ["stabs", "sustained"]},
}
BASS_PROGRAMS = [32, 33, 34, 35, 36, 37, 38, 39]
BASS_STYLES = {"kick": 0.45, "eighths": 0.2, "quarters": 0.15, "walking": 0.1, "held": 0.1}
LEAD_PROGRAMS = [11, 29, 56, 65, 66, 71, 73, 80, 81]

MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)
QUALITY = {"maj": (0, 4, 7), "min": (0, 3, 7), "7": (0, 4, 7, 10), "maj7": (0, 4, 7, 11), "min7": (0, 3, 7, 10),
           "dim": (0, 3, 6)}
#: Scale degrees of Roman numerals, semitones above the key's root (a ``b`` before one flattens it).
ROMAN_DEGREES = {"I": 0, "II": 2, "III": 4, "IV": 5, "V": 7, "VI": 9, "VII": 11}


def roman_chord(numeral: str) -> tuple[int, str]:
    """One chord in Roman-numeral notation as ``(semitones above the key's root, quality)``.

    Upper case is major, lower case minor; a suffix ``7`` makes it a dominant seventh (upper case)
    or a minor seventh (lower case), ``maj7`` a major seventh, ``dim`` diminished; ``b`` flattens the
    degree. E.g. ``"bVII"`` -> ``(10, "maj")``, ``"ii7"`` -> ``(2, "min7")``, ``"Imaj7"`` -> ``(0, "maj7")``.

    Raises:
        ValueError: not a numeral of that form.
    """
    flat = numeral.startswith("b")
    body = numeral[1:] if flat else numeral
    for suffix in ("maj7", "dim", "7", ""):
        roman = body[: len(body) - len(suffix)] if suffix else body
        if body.endswith(suffix) and roman.upper() in ROMAN_DEGREES and roman in (roman.upper(), roman.lower()):
            major = roman.isupper()
            quality = {"maj7": "maj7", "dim": "dim", "7": "7" if major else "min7", "": "maj" if major else "min"}
            return (ROMAN_DEGREES[roman.upper()] - flat) % 12, quality[suffix]
    raise ValueError(f"not a Roman-numeral chord: {numeral!r}")


#: Chord progressions per mode, one chord per bar, in Roman numerals (relative to the key's root;
#: minor keys count from their own root, so its bVI is the minor sixth).
PROGRESSIONS = {
    mode: [[roman_chord(c) for c in p.split()] for p in progressions]
    for mode, progressions in {
        "major": [
            "I V vi IV",
            "I IV V IV",
            "I vi IV V",
            "vi IV I V",
            "I bVII IV I",
            "ii7 V7 Imaj7 Imaj7",
            "I7 I7 I7 I7 IV7 IV7 I7 I7 V7 IV7 I7 V7",  # 12-bar blues
        ],
        "minor": [
            "i bVI bIII bVII",
            "i iv v i",
            "i bVII bVI bVII",
            "i iv bVII bIII",
            "i7 iv7 i7 V7",
        ],
    }.items()
}
KICK, SNARES, CRASHES = 36, (37, 38, 40), (49, 52, 55, 57)


class AccompanimentError(ValueError):
    """``data.synth.accompaniment`` is malformed or names a missing sound font."""


@dataclass
class AccompanimentConfig:
    """``data.synth.accompaniment``. Shares are per drum track / per performance; the music
    of test tracks on test-only kits uses ``test_soundfonts`` (held out of training)."""

    #: Where the block sits in a config (errors name it; drumtx.cli finds its settings by it).
    WHERE: ClassVar[str] = "data.synth.accompaniment"

    prob: float = 0.4  # a training/validation (or seen-kit test) drum track gets music
    music_only_prob: float = 0.05  # a performance also gets a track of music alone (empty target)
    test_twins: bool = True  # every test-only-kit track also gets a twin with held-out music
    drum_to_music_db: list[float] = field(default_factory=lambda: [-9.0, 9.0])  # RMS, drums re music
    soundfonts: list[str] = field(default_factory=lambda: ["/usr/share/sounds/sf2/FluidR3_GM.sf2",
                                                           "/usr/share/sounds/sf3/MuseScore_General.sf3"])
    test_soundfonts: list[str] = field(default_factory=lambda: ["/usr/share/sounds/sf2/TimGM6mb.sf2"])
    families: dict[str, float] = field(default_factory=lambda: {f: 1.0 for f in FAMILIES})  # chord family weights
    chord_parts: list[int] = field(default_factory=lambda: [1, 2])
    bass_prob: float = 0.9
    lead_prob: float = 0.5
    render_rate: int = 48000  # FluidSynth rate (multiple of 64), decimated to the output rate
    humanise_ms: float = 8.0  # timing jitter (s.d.) of the parts
    # Unlabelled non-kit percussion (drumtx.synth.sampled.distractors) on a share of the
    # training/validation tracks (never on test-only-kit tracks: the ladder's rungs stay clean),
    # at a level re the drums (re the music on music-only tracks), RMS dB.
    distractor_prob: float = 0.0
    distractor_db: list[float] = field(default_factory=lambda: [-18.0, -6.0])

    @classmethod
    def from_config(cls, cfg: Mapping | None) -> AccompanimentConfig:
        """The block's settings over the defaults; raises :class:`AccompanimentError` (one line) for
        an unknown key, a ``*prob`` outside [0, 1], an unknown family or no positive family weight,
        a ``drum_to_music_db`` that is not [low, high] or ``chord_parts`` not [min, max] within 1..3;
        ``ValueError`` for a ``render_rate`` below 8 kHz or not a multiple of 64 Hz."""
        out = config_from_mapping(cls, cfg, cls.WHERE, AccompanimentError,
                                  ranges=("drum_to_music_db",))
        bad = set(out.families) - set(FAMILIES)
        if bad or not any(float(w) > 0 for w in out.families.values()):
            raise AccompanimentError(f"data.synth.accompaniment.families: unknown {sorted(bad)} or no positive "
                                     f"weight; known: {sorted(FAMILIES)}")
        if not 1 <= out.chord_parts[0] <= out.chord_parts[1] <= 3:
            raise AccompanimentError("data.synth.accompaniment.chord_parts must be [min, max] within 1..3, "
                                     f"got {out.chord_parts}")
        check_render_rate(out.render_rate)
        return out

    def fonts(self, test: bool) -> list[str]:
        """The installed sound fonts for training music (``test=False``) or held-out music."""
        names = self.test_soundfonts if test else self.soundfonts
        found = [str(Path(f).expanduser().resolve()) for f in names if Path(f).expanduser().is_file()]
        return list(dict.fromkeys(found))  # one font installed under two names counts once


@dataclass(frozen=True)
class Part:
    """One instrument of an arrangement."""

    role: str  # bass | chords | lead
    family: str
    program: int  # GM program, 0-based
    style: str
    volume: int  # MIDI channel volume (CC 7)
    notes: tuple[Note, ...] = ()


@dataclass(frozen=True)
class Arrangement:
    """What :func:`draw` decides from the seed (and :func:`arrange` fills with notes)."""

    seed: int
    soundfont: str
    key: int  # pitch class of the tonic
    mode: str  # major | minor
    progression: tuple[tuple[int, str], ...]
    bars_per_chord: float
    drum_to_music_db: float
    parts: tuple[Part, ...]

    @property
    def programs(self) -> str:
        """``role:program`` per part, e.g. ``bass:33 chords:29 lead:65`` (the csv column)."""
        return " ".join(f"{p.role}:{p.program}/{p.style}" for p in self.parts)


def draw(seed: int, cfg: AccompanimentConfig, test: bool = False) -> Arrangement:
    """Key, progression, instruments, styles and the drum-to-music level, from ``seed`` alone.

    Args:
        seed: the track's accompaniment seed.
        cfg: the recipe's accompaniment block.
        test: draw the music of a test-only-kit track (held-out sound fonts).
    Raises:
        AccompanimentError: none of the wanted sound fonts is installed.
    """
    fonts = cfg.fonts(test)
    if not fonts:
        raise AccompanimentError(f"no {'test_' if test else ''}soundfonts installed for the accompaniment: "
                                 f"{cfg.test_soundfonts if test else cfg.soundfonts}")
    rng = np.random.default_rng([int(seed), 11])
    font = fonts[int(rng.integers(len(fonts)))]
    mode = "major" if rng.random() < 0.6 else "minor"
    progs = PROGRESSIONS[mode]
    progression = tuple(progs[int(rng.integers(len(progs)))])
    bars_per_chord = float(rng.choice([1.0, 2.0, 0.5], p=[0.7, 0.2, 0.1]))
    if len(progression) == 12:
        bars_per_chord = 1.0
    parts: list[Part] = []
    if rng.random() < cfg.bass_prob:
        styles = list(BASS_STYLES)
        style = styles[int(rng.choice(len(styles), p=np.array(list(BASS_STYLES.values())) / sum(BASS_STYLES.values())))]
        parts.append(Part("bass", "bass", int(rng.choice(BASS_PROGRAMS)), style, int(rng.integers(95, 121))))
    fams = [f for f, w in cfg.families.items() if float(w) > 0]
    weights = np.array([float(cfg.families[f]) for f in fams])
    n_chords = int(rng.integers(cfg.chord_parts[0], cfg.chord_parts[1] + 1))
    for fam_i in rng.choice(len(fams), size=min(n_chords, len(fams)), replace=False, p=weights / weights.sum()):
        fam = fams[int(fam_i)]
        spec = FAMILIES[fam]
        parts.append(Part("chords", fam, int(rng.choice(spec["programs"])),
                          str(rng.choice(spec["styles"])), int(rng.integers(70, 111))))
    if rng.random() < cfg.lead_prob or not parts:
        parts.append(Part("lead", "lead", int(rng.choice(LEAD_PROGRAMS)), "phrases", int(rng.integers(75, 111))))
    return Arrangement(int(seed), font, int(rng.integers(12)), mode, progression, bars_per_chord,
                       float(rng.uniform(*cfg.drum_to_music_db)), tuple(parts))


# ------------------------------------------------------------------------------- the grid
def _beats_per_bar(time_signature: str) -> tuple[float, int]:
    """(beats per bar, subdivisions per beat) of a csv time signature such as ``4-4`` or ``6-8``."""
    try:
        num, den = (int(v) for v in str(time_signature).replace("/", "-").split("-")[:2])
    except ValueError:
        return 4.0, 2
    if den == 8 and num % 3 == 0:
        return float(num // 3), 3  # compound: dotted-quarter beats in triplets
    return float(num), 2


def estimate_grid(notes: Sequence[Note], bpm: float, beats_per_bar: float) -> float:
    """The time (s) of a bar's downbeat, from the drum onsets at tempo ``bpm``.

    The beat phase is the one (searched in 5 ms steps) that puts the most kicks and snares
    near beats and every other onset near 8th notes; of the bar's beats, the downbeat is the
    one that best puts kicks on strong beats (1 and, in 4/4, 3), snares on the others,
    crashes on 1, and the first onset of the performance on 1. Returns a time in [0, one bar).
    """
    beat = 60.0 / float(bpm)
    bar = beat * beats_per_bar
    if not notes:
        return 0.0
    t = np.array([n.start for n in notes])
    w = np.array([n.velocity for n in notes], float) / 127
    main = np.array([n.pitch == KICK or n.pitch in SNARES for n in notes])
    cands = np.arange(0.0, beat, 0.005)
    pos = (t[None, :] - cands[:, None]) / beat  # in beats
    on_beat = np.exp(-((pos - np.round(pos)) * 8) ** 2)
    on_eighth = np.exp(-((2 * pos - np.round(2 * pos)) * 8) ** 2)
    score = (np.where(main, on_beat, 0.5 * on_eighth) * w).sum(axis=1)
    phase = float(cands[int(np.argmax(score))])
    nb = max(1, int(round(beats_per_bar)))
    best, best_score = 0, -np.inf
    for k in range(nb):
        start = phase + k * beat
        score = 0.0
        for n in notes:
            pos = ((n.start - start) / beat) % nb
            idx = int(round(pos)) % nb
            near = math.exp(-((pos - round(pos)) * 4) ** 2)
            strong = idx == 0 or (nb == 4 and idx == 2)
            if n.pitch == KICK:
                score += near * (1.0 if strong else -0.3) * (2.0 if idx == 0 else 1.0)
            elif n.pitch in SNARES:
                score += near * (-1.0 if strong else 1.0)
            elif n.pitch in CRASHES and idx == 0:
                score += near
        # Kicks on 1 and 3 cannot tell beat 1 from beat 3: performances start on a downbeat.
        first = ((notes[0].start - start) / beat) % nb
        score += 3.0 * math.exp(-((min(first, nb - first)) * 4) ** 2)
        if score > best_score:
            best, best_score = k, score
    return float((phase + best * beat) % bar)


# ------------------------------------------------------------------------------ the notes
def _voicing(root: int, quality: str, center: int, prev: Sequence[int] | None) -> list[int]:
    """Close-position chord tones near ``center`` (MIDI), the inversion nearest the previous chord."""
    tones = QUALITY[quality]
    best, best_cost = None, None
    for inv in range(len(tones)):
        pcs = list(tones[inv:]) + [t + 12 for t in tones[:inv]]
        base = root + pcs[0]
        shift = round((center - (base + pcs[-1] - pcs[0]) / 2 - root) / 12) * 12
        chord = [root + shift + p for p in pcs]
        cost = abs(np.mean(chord) - center) if prev is None else sum(abs(a - b) for a, b in zip(chord, prev, strict=False))
        if best_cost is None or cost < best_cost:
            best, best_cost = chord, cost
    return best


class _Timeline:
    """Chord symbols along the performance: which chord sounds at a time."""

    def __init__(self, arr: Arrangement, downbeat: float, bar: float, seconds: float):
        self.bar, self.seconds = bar, seconds
        span = bar * arr.bars_per_chord
        first = downbeat - bar if downbeat > 0 else downbeat  # music from the start of the first bar
        self.chords: list[tuple[float, float, int, str]] = []  # (start, end, root pc, quality)
        t, i = first, 0
        while t < seconds:
            deg, q = arr.progression[i % len(arr.progression)]
            self.chords.append((t, t + span, (arr.key + deg) % 12, q))
            t += span
            i += 1


def arrange(arr: Arrangement, drum_notes: Sequence[Note], bpm: float, time_signature: str, seconds: float,
            cfg: AccompanimentConfig) -> Arrangement:
    """The arrangement with every part's notes, on the drums' grid.

    Args:
        arr: from :func:`draw`.
        drum_notes: the performance (Roland TD-17 notes, seconds); kicks and snares place
            kick-locked bass notes and stabs, all onsets the grid.
        bpm: the performance tempo.
        time_signature: csv form, e.g. ``4-4``.
        seconds: the music stops here (the drum audio's length).
        cfg: humanising settings.
    Returns:
        A copy of ``arr`` whose parts carry notes (GM pitches, seconds, velocities 1..127).
    """
    bpb, sub = _beats_per_bar(time_signature)
    beat = 60.0 / max(20.0, float(bpm))
    bar = beat * bpb
    downbeat = estimate_grid(drum_notes, bpm, bpb)
    tl = _Timeline(arr, downbeat, bar, seconds)
    end_music = max((n.start for n in drum_notes), default=seconds) + beat
    kicks = [n for n in drum_notes if n.pitch == KICK]
    snares = [n for n in drum_notes if n.pitch in SNARES]
    jit = cfg.humanise_ms / 1000
    parts = []
    for part in arr.parts:
        prng = np.random.default_rng([arr.seed, 13, len(parts)])
        if part.role == "bass":
            raw = _bass(part, tl, beat, sub, kicks, prng)
        elif part.role == "chords":
            raw = _chords(part, tl, beat, sub, snares, prng)
        else:
            raw = _lead(arr, tl, beat, sub, prng)
        notes = []
        lean: dict[int, float] = {}  # one timing jitter per chord: its voices move together
        for start, end, pitch, vel, *group in raw:  # group: a strum's own time, for its strings
            key = round((group[0] if group else start) * 1000)
            if key not in lean:
                lean[key] = float(prng.normal(0, jit))
            start = start + lean[key]
            if start < 0 or start >= min(seconds, end_music):
                continue
            end = min(end, seconds)
            vel = int(np.clip(round(vel + prng.normal(0, 6)), 20, 127))
            notes.append(Note(start, max(start + 0.03, end), int(np.clip(pitch, 0, 127)), vel))
        parts.append(Part(part.role, part.family, part.program, part.style, part.volume, tuple(notes)))
    return Arrangement(arr.seed, arr.soundfont, arr.key, arr.mode, arr.progression, arr.bars_per_chord,
                       arr.drum_to_music_db, tuple(parts))


def _bass(part: Part, tl: _Timeline, beat: float, sub: int, kicks: Sequence[Note], rng) -> list:
    out = []
    for c0, c1, root, q in tl.chords:
        r = 28 + (root - 28) % 12  # E1..D#2
        fifth = r + 7
        if part.style == "kick":
            hits = [k for k in kicks if c0 <= k.start < c1] or [Note(c0, c0, KICK, 90)]
            for i, k in enumerate(hits):
                nxt = hits[i + 1].start if i + 1 < len(hits) else c1
                pitch = r if rng.random() < 0.75 else rng.choice([fifth, r + 12])
                out.append((k.start, min(nxt, k.start + beat * 1.5) - 0.01, pitch, 70 + k.velocity * 0.35))
        elif part.style in ("eighths", "quarters"):
            step = beat / sub if part.style == "eighths" else beat
            t = c0
            while t < c1 - 1e-6:
                pitch = r if rng.random() < 0.85 else rng.choice([fifth, r + 12])
                out.append((t, t + step * 0.9, pitch, 95 if abs((t - c0) % beat) < 1e-6 else 80))
                t += step
        elif part.style == "walking":
            tones = [r + x for x in QUALITY[q]] + [r + 12]
            t, prev = c0, r
            while t < c1 - 1e-6:
                pitch = r if abs(t - c0) < 1e-6 else int(rng.choice(tones + [prev + 1, prev - 1, prev + 2]))
                out.append((t, t + beat * 0.95, pitch, 90))
                prev, t = pitch, t + beat
        else:  # held
            out.append((c0, c1 - 0.02, r, 95))
    return out


def _chord_rhythm(style: str, bar_beats: float, sub: int, rng) -> list[tuple[float, float, int]]:
    """One bar's pattern as (start beat, length in beats, direction +1 down / -1 up strum)."""
    steps = int(round(bar_beats * sub))
    if style in ("strummed", "power"):
        density = rng.choice([1, 2]) if style == "strummed" else 2
        pat = []
        for i in range(steps):
            on_beat = i % sub == 0
            if (density == 2 and (on_beat or rng.random() < 0.7)) or (density == 1 and on_beat):
                pat.append((i / sub, 1 / sub if density == 2 else 1.0, 1 if on_beat else -1))
        return pat
    if style == "comp":
        return [(i / sub, 1 / sub * rng.integers(1, 3), 1) for i in range(steps) if rng.random() < 0.4] or [(0, 1, 1)]
    return []


def _chords(part: Part, tl: _Timeline, beat: float, sub: int, snares: Sequence[Note], rng) -> list:
    out, prev = [], None
    center = {"pad": 64, "strings": 66, "brass": 64, "guitar_distorted": 52}.get(part.family, 62)
    bar_beats = tl.bar / beat
    patterns = {s: _chord_rhythm(part.style, bar_beats, sub, rng) for s in ("a", "b")}
    arp_rate = sub * int(rng.choice([1, 2]))
    arp_order = rng.choice(["up", "updown", "random"])
    for ci, (c0, c1, root, q) in enumerate(tl.chords):
        if part.style == "power":
            r = 40 + (root - 40) % 12
            voicing = [r, r + 7, r + 12]
        else:
            voicing = _voicing(root, q, center, prev)
        prev = voicing
        if part.style == "sustained":
            for p in voicing:
                out.append((c0, c1 - 0.03, p, 80))
        elif part.style == "stabs":
            hits = [s.start for s in snares if c0 <= s.start < c1]
            if not hits or rng.random() < 0.3:  # off-beat skank instead
                hits = list(np.arange(c0 + beat / 2, c1 - 1e-6, beat))
            for h in hits:
                for p in voicing:
                    out.append((h, h + float(rng.uniform(0.08, 0.2)), p, 95))
        elif part.style == "arpeggiated":
            step = beat / arp_rate
            seq = voicing + [voicing[0] + 12]
            if arp_order == "updown":
                seq = seq + seq[-2:0:-1]
            t, i = c0, 0
            while t < c1 - 1e-6:
                p = seq[i % len(seq)] if arp_order != "random" else int(rng.choice(seq))
                out.append((t, t + step * 1.6, p, 85 if i % arp_rate == 0 else 72))
                t, i = t + step, i + 1
        else:  # strummed, power, comp: the bar pattern over the chord's span
            t_bar = c0
            while t_bar < c1 - 1e-6:
                pat = patterns["a" if (ci % 4) < 3 else "b"]
                for b, length, direction in pat:
                    t = t_bar + b * beat
                    if t >= c1:
                        break
                    order = voicing if direction > 0 else voicing[::-1]
                    spread = float(rng.uniform(0.006, 0.025)) if part.style != "comp" else 0.0
                    vel = 100 if direction > 0 else 80
                    for j, p in enumerate(order):
                        out.append((t + j * spread, t + length * beat * 0.95, p, vel, t))
                t_bar += tl.bar
    return out


def _lead(arr: Arrangement, tl: _Timeline, beat: float, sub: int, rng) -> list:
    scale = MAJOR if arr.mode == "major" else MINOR
    pitches = [p for p in range(60, 85) if (p - arr.key) % 12 in scale]
    phrase_beats = tl.bar / beat * 2
    durations = np.array([1 / sub, 1.0, 1.5, 2.0, 0.5 if sub == 2 else 1 / 3])
    motif: list[tuple[float, float, int]] = []
    t, idx = 0.0, len(pitches) // 2
    while t < phrase_beats:
        d = float(rng.choice(durations))
        if rng.random() < 0.25:
            motif.append((t, d, -1))  # a rest
        else:
            idx = int(np.clip(idx + rng.integers(-2, 3), 0, len(pitches) - 1))
            motif.append((t, d, idx))
        t += d
    out = []
    if not tl.chords:
        return out
    start, phrase = tl.chords[0][0], 0
    while start < tl.seconds:
        if phrase % 4 == 3 and rng.random() < 0.5:  # a phrase of rest now and then
            start += phrase_beats * beat
            phrase += 1
            continue
        for b, d, i in motif:
            if i < 0:
                continue
            if phrase % 2 == 1 and rng.random() < 0.3:  # variation
                i = int(np.clip(i + rng.integers(-2, 3), 0, len(pitches) - 1))
            out.append((start + b * beat, start + (b + d) * beat * 0.95, pitches[i], 90))
        start += phrase_beats * beat
        phrase += 1
    return out


# ------------------------------------------------------------------------------ rendering
class MusicRenderer:
    """FluidSynth (reverb and chorus off), one synthesizer per sound font, kept per process.

    :meth:`render` silences and primes every voice first (as
    :class:`drumtx.synth.render.KitRenderer` does), so a track's audio does not depend on what
    the process rendered before it.
    """

    CHANNELS = (0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15)  # never the GM drum channel

    def __init__(self, render_rate: int = 48000, sample_rate: int = 24000, polyphony: int = 256):
        check_render_rate(render_rate)
        self.render_rate, self.sample_rate, self.polyphony = int(render_rate), int(sample_rate), int(polyphony)
        self._synths: dict[str, tuple[object, int]] = {}

    def _synth(self, font: str):
        if font not in self._synths:
            import fluidsynth

            from drumtx.synth.render import RenderError, _write_float

            synth = fluidsynth.Synth(gain=0.5, samplerate=float(self.render_rate),
                                     **{"synth.reverb.active": 0, "synth.chorus.active": 0,
                                        "synth.polyphony": self.polyphony, "synth.cpu-cores": 1})
            # No dynamic sample loading (unlike the kits): a song switches programs on every
            # channel per track, and reloading (decoding, for .sf3) a preset's samples on each
            # program_select cost 12 ms a call; the whole font loads once per process instead.
            sfid = synth.sfload(font)
            if sfid < 0:
                raise RenderError(f"{font}: FluidSynth could not load the sound font")
            self._synths[font] = (synth, sfid)
            self._write = _write_float()
        return self._synths[font]

    def _pull(self, synth, n: int) -> np.ndarray:
        left, right = np.zeros(n, np.float32), np.zeros(n, np.float32)
        self._write(synth.synth, n, left.ctypes.data, 0, 1, right.ctypes.data, 0, 1)
        return (left + right) * 0.5

    def _prime(self, synth, sfid: int) -> None:
        for chan in range(16):
            synth.all_sounds_off(chan)
        self._pull(synth, BLOCK)
        for chan in self.CHANNELS:
            synth.program_select(chan, sfid, 0, 0)
        target = self.polyphony - 2
        for key in range(36, 96):
            for chan in self.CHANNELS:
                if synth.get_active_voice_count() >= target:
                    break
                synth.noteon(chan, key, 100)
        self._pull(synth, BLOCK)
        for chan in range(16):
            synth.all_sounds_off(chan)
            synth.cc(chan, 121, 0)
        self._pull(synth, BLOCK)

    def render(self, arr: Arrangement, seconds: float) -> np.ndarray:
        """Mono float32 audio at ``sample_rate``, ``seconds`` long, of the arranged parts."""
        synth, sfid = self._synth(arr.soundfont)
        self._prime(synth, sfid)
        rate = self.render_rate
        events = []  # (block, is_on, chan, key, vel): offs before ons
        for chan, part in zip(self.CHANNELS, arr.parts, strict=False):
            synth.program_select(chan, sfid, 0, part.program)
            synth.cc(chan, 7, part.volume)
            by_key: dict[int, list[tuple[int, int, int]]] = {}
            for n in part.notes:
                on = round(n.start * rate / BLOCK)
                by_key.setdefault(n.pitch, []).append((on, max(on + 1, round(n.end * rate / BLOCK)), n.velocity))
            for key, hits in by_key.items():
                hits.sort()
                for i, (on, off, vel) in enumerate(hits):
                    if i + 1 < len(hits):  # a note-off releases the whole key: end before the next strike
                        off = min(off, max(on + 1, hits[i + 1][0]))
                    events.append((on, 1, chan, key, vel))
                    events.append((off, 0, chan, key, 0))
        n_blocks = max(1, math.ceil(seconds * rate / BLOCK))
        audio = play_events(synth, events, n_blocks, lambda n: self._pull(synth, n))
        return resample(audio, rate, self.sample_rate)[: int(round(seconds * self.sample_rate))]

    def close(self) -> None:
        for synth, _ in self._synths.values():
            synth.delete()
        self._synths.clear()

