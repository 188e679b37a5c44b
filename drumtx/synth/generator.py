"""A procedural groove generator: drum performances in Roland TD-17 notes from a seed.

Why: the embedded default dataset must need no download, and human grooves (GMD, E-GMD)
seldom play the classes a transcriber finds hardest (crash, ride bell, rimshot, open
hi-hat, floor tom). The generator plays them on purpose, at rates set in the recipe.

A performance is a run of *phrases* (2-4 bars). Each phrase picks how time is kept
(closed or open hi-hat, ride with or without bell accents, floor tom, crash riding),
how the backbeat is struck (snare head, rimshot, cross-stick) and whether it has
open-hat accents; phrases start with a crash and may end with a tom fill. The style
gives the kick and backbeat figures, the grid (straight 16ths, swung 16ths or
triplets) and the tempo range. Timing is humanised (per-note jitter, per-limb lean,
slow tempo drift) and so is velocity (accents, ghost notes, per-performance dynamics).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from drumtx.synth.render import Note

#: Roland TD-17 keys by playing zone (see drumtx.vocab.NOTE_MAPS["roland_td17"]).
ROLAND = {
    "kick": 36, "snare": 38, "rim": 40, "xstick": 37,
    "tom_hi": 48, "tom_hi_rim": 50, "tom_mid": 45, "tom_mid_rim": 47, "floor": 43, "floor_rim": 58,
    "hh_closed": 42, "hh_closed_edge": 22, "hh_open": 46, "hh_open_edge": 26, "pedal": 44,
    "crash1": 49, "crash1_edge": 55, "crash2": 57, "crash2_edge": 52,
    "ride": 51, "ride_edge": 59, "bell": 53,
}

#: Per style: grid ("straight" 16ths, "swing" 16ths, "triplet"), default tempo range and the
#: share of phrases that keep time on the ride when the recipe does not say otherwise.
STYLES = {
    "rock": {"grid": "straight", "tempo": (80, 170)},
    "funk": {"grid": "straight", "tempo": (85, 125)},
    "pop": {"grid": "straight", "tempo": (80, 130)},
    "jazz": {"grid": "triplet", "tempo": (60, 200)},
    "disco": {"grid": "straight", "tempo": (110, 132)},
    "hiphop": {"grid": "swing", "tempo": (70, 100)},
    "metal": {"grid": "straight", "tempo": (130, 200)},
    "shuffle": {"grid": "triplet", "tempo": (70, 140)},
    "halftime": {"grid": "straight", "tempo": (60, 160)},
}


@dataclass
class GrooveConfig:
    """Knobs of the generator; the recipe (``data.synth.sources.*``) sets them."""

    styles: dict[str, float] = field(default_factory=lambda: {s: 1.0 for s in STYLES})  # style -> weight
    tempo: dict[str, list[int]] = field(default_factory=dict)  # style -> [min, max] bpm overrides
    phrase_bars: list[int] = field(default_factory=lambda: [2, 4])
    fill: float = 0.6  # a phrase ends with a tom fill
    crash: float = 0.85  # a phrase starts with a crash
    ride: float = 0.3  # a phrase keeps time on the ride (jazz: always)
    bell: float = 0.5  # a ride phrase accents the bell
    rimshot: float = 0.5  # a phrase's backbeat is rimshots
    cross_stick: float = 0.2  # a phrase's backbeat is cross-stick
    open_hat: float = 0.7  # a hi-hat phrase has open-hat accents (or, 1 in 4, is played open)
    floor_tom: float = 0.1  # a phrase keeps time on the floor tom
    ghost: float = 0.6  # a performance has ghost notes (funk, hip-hop, shuffle: always)
    edge: float = 0.25  # a phrase plays edge zones (hi-hat 22/26, crash 55/52, ride 59, tom rims)
    timing_ms: list[float] = field(default_factory=lambda: [3.0, 10.0])  # per-performance jitter sd range
    velocity_sd: list[float] = field(default_factory=lambda: [4.0, 10.0])
    note_length: float = 0.1  # MIDI note length (the renderer holds hits anyway)

    def __post_init__(self):
        for name in ("fill", "crash", "ride", "bell", "rimshot", "cross_stick", "open_hat", "floor_tom", "ghost", "edge"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and not isinstance(value, bool) and 0.0 <= value <= 1.0):
                raise ValueError(f"groove.{name} is a probability in [0, 1], got {value!r}")
        unknown = (set(self.styles) | set(self.tempo)) - set(STYLES)
        if unknown:
            raise ValueError(f"unknown groove styles {sorted(unknown)}; known: {sorted(STYLES)}")
        if any(not isinstance(w, int | float) or isinstance(w, bool) or w < 0 for w in self.styles.values()):
            raise ValueError(f"groove.styles: weights must be numbers >= 0, got {dict(self.styles)}")
        if not any(w > 0 for w in self.styles.values()):
            raise ValueError("groove styles: at least one weight must be > 0")
        if not self.phrase_bars or any(not isinstance(b, int) or isinstance(b, bool) or b < 1 for b in self.phrase_bars):
            raise ValueError(f"groove.phrase_bars must be whole numbers of bars >= 1, got {self.phrase_bars}")
        for name in ("timing_ms", "velocity_sd"):
            rng = getattr(self, name)
            numbers = isinstance(rng, list | tuple) and all(isinstance(x, int | float) and not isinstance(x, bool) for x in rng)
            if not numbers or len(rng) != 2 or not 0 <= rng[0] <= rng[1]:
                raise ValueError(f"groove.{name} must be [low, high] with 0 <= low <= high, got {rng}")
        if not self.note_length > 0:
            raise ValueError(f"groove.note_length must be > 0 seconds, got {self.note_length}")
        for style, rng in self.tempo.items():
            lo, hi = rng
            if not 30 <= lo <= hi <= 300:
                raise ValueError(f"tempo.{style} must be [min, max] within 30..300 bpm, got {rng}")

    def tempo_range(self, style: str) -> tuple[int, int]:
        lo, hi = self.tempo.get(style, STYLES[style]["tempo"])
        return int(lo), int(hi)


@dataclass
class Groove:
    style: str
    bpm: int
    notes: list[Note]
    seconds: float  # end of the last bar


@dataclass
class _Phrase:
    timekeeper: str  # hihat | ride | floor | crash | pedal
    rate: int  # steps between timekeeper hits
    backbeat: str  # snare | rim | xstick
    bell: str | None  # None | quarters | accents
    open_steps: tuple[int, ...]
    edge: bool
    kick: tuple[int, ...]
    pedal: bool


class GrooveGenerator:
    """``generate(seed, seconds, style=None) -> Groove``; the same seed gives the same groove."""

    def __init__(self, config: GrooveConfig | None = None, **kwargs):
        self.cfg = config or GrooveConfig(**kwargs)

    # ------------------------------------------------------------------ public
    def pick_style(self, rng: np.random.Generator) -> str:
        names = [s for s, w in self.cfg.styles.items() if w > 0]
        weights = np.array([self.cfg.styles[s] for s in names], dtype=float)
        return names[int(rng.choice(len(names), p=weights / weights.sum()))]

    def generate(self, seed: int | list[int], seconds: float, style: str | None = None, bpm: int | None = None) -> Groove:
        rng = np.random.default_rng(seed)
        style = style or self.pick_style(rng)
        if style not in STYLES:
            raise ValueError(f"unknown groove style {style!r}; known: {sorted(STYLES)}")
        lo, hi = self.cfg.tempo_range(style)
        bpm = int(bpm or rng.integers(lo, hi + 1))
        grid = STYLES[style]["grid"]
        sub = 3 if grid == "triplet" else 4
        swing = float(rng.uniform(0.54, 0.62)) if grid == "swing" else 0.5
        ghosts = style in ("funk", "hiphop", "shuffle") or rng.random() < self.cfg.ghost
        dyn = float(rng.uniform(-15, 8))  # a soft or a loud player
        vel_sd = float(rng.uniform(*self.cfg.velocity_sd))
        jitter = float(rng.uniform(*self.cfg.timing_ms)) / 1000
        lean = {v: float(rng.normal(0, jitter / 2)) for v in ("kick", "snare", "hands")}

        hits: list[tuple[float, str, float]] = []  # (time, zone, velocity)
        t_bar, tempo_walk, bar_no = 0.05, 0.0, 0
        phrase_start_crash = True
        while True:
            n_bars = int(rng.choice(self.cfg.phrase_bars))
            phrase = self._phrase(style, sub, bpm, rng)
            for b in range(n_bars):
                beat = 60.0 / (bpm * (1 + tempo_walk))
                step_dur = beat / sub
                last_bar = b == n_bars - 1
                fill_beats = self._fill_beats(rng) if last_bar and rng.random() < self.cfg.fill else 0
                bar = self._bar(style, sub, phrase, fill_beats, ghosts, rng)
                if b == 0 and phrase_start_crash:
                    bar = self._with_crash(bar, phrase, sub, rng)
                if fill_beats:
                    bar += self._fill(sub, bpm, fill_beats, phrase, rng)
                for step, zone, vel in bar:
                    off = step_dur * (swing - 0.5) * 2 if (sub == 4 and step % 2 == 1) else 0.0
                    t = t_bar + step * step_dur + off
                    hits.append((t, zone, vel))
                t_bar += 4 * beat
                bar_no += 1
                tempo_walk = float(np.clip(tempo_walk + rng.normal(0, 0.003), -0.03, 0.03))
            phrase_start_crash = rng.random() < self.cfg.crash or bool(fill_beats)
            if t_bar >= seconds:
                break
        if rng.random() < 0.5:  # end on a crash and kick, as drummers do
            hits += [(t_bar, self._crash_zone(phrase.edge, rng), 115.0), (t_bar, "kick", 110.0)]

        notes = []
        for t, zone, vel in hits:
            limb = "kick" if zone == "kick" else "snare" if zone in ("snare", "rim", "xstick") else "hands"
            t = t + lean[limb] + float(rng.normal(0, jitter))
            # Ghost notes stay soft but audible (>= 12); the player's dynamics move the rest.
            lo = 12 if vel < 50 else 30
            v = int(np.clip(round(vel + dyn * (vel > 50) + rng.normal(0, vel_sd)), lo, 127))
            key = ROLAND[zone]
            notes.append(Note(max(0.0, t), max(0.0, t) + self.cfg.note_length, key, v))
        notes.sort(key=lambda n: (n.start, n.pitch))
        return Groove(style=style, bpm=bpm, notes=_drop_doubles(notes), seconds=t_bar)

    # ------------------------------------------------------------------ phrase
    def _phrase(self, style: str, sub: int, bpm: int, rng) -> _Phrase:
        c = self.cfg
        edge = rng.random() < c.edge
        if style == "jazz":
            keeper = "ride"
        elif rng.random() < c.floor_tom and style not in ("disco",):
            keeper = "floor"
        elif style == "metal" and rng.random() < 0.25:
            keeper = "crash"
        elif rng.random() < c.ride:
            keeper = "ride"
        else:
            keeper = "hihat"
        fast = bpm >= 140
        if keeper in ("crash",):
            rate = sub  # quarters
        elif sub == 3:
            rate = 0  # the shuffle/swing figure (see _bar)
        elif style in ("funk", "disco") and not fast and rng.random() < 0.6:
            rate = 1
        else:
            rate = 2 if (fast or rng.random() < 0.75) else 1
        r = rng.random()
        backbeat = "rim" if r < c.rimshot else "xstick" if r < c.rimshot + c.cross_stick else "snare"
        if style == "metal" and backbeat == "xstick":
            backbeat = "rim"
        bell = None
        if keeper == "ride" and rng.random() < c.bell:
            bell = "accents" if style == "jazz" else str(rng.choice(["quarters", "accents"]))
        open_steps: tuple[int, ...] = ()
        if keeper == "hihat":
            if style == "disco":
                open_steps = tuple(range(2, 16, 4))
            elif rng.random() < c.open_hat:
                if rng.random() < 0.25:  # a loose, washy hat: every stroke open (rock choruses)
                    open_steps = tuple(range(4 * sub))
                else:  # open accents on offbeats, closed by the next stroke
                    choices = [s for s in range(4 * sub) if s % sub != 0]
                    k = int(rng.integers(1, 4))
                    open_steps = tuple(sorted(rng.choice(choices, size=k, replace=False).tolist()))
        pedal = keeper != "hihat" and (style == "jazz" or rng.random() < 0.6)
        return _Phrase(keeper, rate, backbeat, bell, open_steps, edge, self._kick(style, sub, rng), pedal)

    @staticmethod
    def _kick(style: str, sub: int, rng) -> tuple[int, ...]:
        def some(options, k_lo, k_hi):
            k = int(rng.integers(k_lo, k_hi + 1))
            return list(rng.choice(options, size=min(k, len(options)), replace=False)) if k else []

        if style == "disco":
            steps = [0, 4, 8, 12]
        elif style == "funk":
            steps = [0] + some([3, 6, 7, 10, 11, 14], 2, 3)
        elif style == "hiphop":
            steps = [0] + some([3, 7, 10, 11, 14], 1, 3)
        elif style == "metal":
            steps = list(range(16)) if rng.random() < 0.6 else list(range(0, 16, 2)) + some([3, 7, 11, 15], 0, 2)
        elif style == "halftime":
            steps = [0] + some([3, 6, 10, 11, 14], 1, 2)
        elif style == "shuffle":
            steps = [0, 6] + some([5, 11, 8], 0, 2)
        elif style == "jazz":
            steps = [0, 3, 6, 9] if rng.random() < 0.4 else some([0, 5, 8, 11], 0, 2)  # feathering / bombs
        elif style == "pop":
            steps = [0, 8] + some([6, 7, 10, 14], 0, 2)
        else:  # rock
            steps = [0, 8] + some([6, 10, 11, 14, 3], 0, 2)
        return tuple(sorted({int(s) for s in steps}))

    # ------------------------------------------------------------------ bar
    def _bar(self, style, sub, ph: _Phrase, fill_beats: int, ghosts: bool, rng) -> list[tuple[int, str, float]]:
        n = 4 * sub
        stop = n - fill_beats * sub  # the fill takes the bar's last beats
        out: list[tuple[int, str, float]] = []

        # time keeping
        if ph.rate:
            keep = list(range(0, n, ph.rate))
        elif style == "jazz":
            keep = [0, 3, 5, 6, 9, 11]  # spang-a-lang
        else:
            keep = [s for s in range(n) if s % 3 != 1]  # shuffle: beat and last triplet
        for s in keep:
            if s >= stop:
                continue
            on_beat = s % sub == 0
            if ph.timekeeper == "hihat":
                opened = s in ph.open_steps
                zone = ("hh_open_edge" if ph.edge and rng.random() < 0.5 else "hh_open") if opened else (
                    "hh_closed_edge" if ph.edge and rng.random() < 0.6 else "hh_closed")
                out.append((s, zone, 92 if on_beat else 68 if ph.rate == 1 else 78))
            elif ph.timekeeper == "ride":
                bell = ph.bell == "quarters" and on_beat or ph.bell == "accents" and rng.random() < 0.25
                zone = "bell" if bell else ("ride_edge" if ph.edge and rng.random() < 0.5 else "ride")
                out.append((s, zone, 100 if bell else 85 if on_beat else 72))
            elif ph.timekeeper == "floor":
                zone = "floor_rim" if ph.edge and rng.random() < 0.3 else "floor"
                out.append((s, zone, 95 if on_beat else 75))
            elif ph.timekeeper == "crash":
                out.append((s, self._crash_zone(ph.edge, rng), 110))
        if ph.pedal:
            for s in ((sub, 3 * sub) if style != "metal" else range(0, n, sub)):
                if s < stop:
                    out.append((s, "pedal", 70))

        # kick and backbeat
        for s in ph.kick:
            if s < stop:
                out.append((s, "kick", 100 if s % sub == 0 else 88))
        if style == "halftime":
            backbeats = [2 * sub]
        elif style == "jazz":
            backbeats = [3 * sub] if ph.backbeat == "xstick" else []
        else:
            backbeats = [sub, 3 * sub]
        for s in backbeats:
            if s < stop:
                out.append((s, ph.backbeat, {"snare": 108, "rim": 116, "xstick": 88}[ph.backbeat]))
        if style == "jazz":  # comping on the snare
            for s in range(stop):
                if rng.random() < 0.12:
                    out.append((s, "snare", float(rng.choice([45, 60, 95]))))

        # ghost notes
        if ghosts and style != "jazz":
            taken = {s for s, z, _ in out if z in ("snare", "rim", "xstick")}
            for s in range(stop):
                if s in taken or (s % sub == 0 and rng.random() < 0.7):
                    continue
                if rng.random() < 0.22:
                    out.append((s, "snare", float(rng.uniform(18, 45))))
        return out

    def _with_crash(self, bar, ph: _Phrase, sub, rng):
        """Phrase start: a crash with the kick on the downbeat, replacing the time-keeping hit."""
        out = [h for h in bar if not (h[0] == 0 and h[1] not in ("kick", "pedal"))]
        out.append((0, self._crash_zone(ph.edge, rng), 118))
        if not any(h[0] == 0 and h[1] == "kick" for h in out):
            out.append((0, "kick", 108))
        return out

    @staticmethod
    def _crash_zone(edge: bool, rng) -> str:
        second = rng.random() < 0.4
        if edge and rng.random() < 0.5:
            return "crash2_edge" if second else "crash1_edge"
        return "crash2" if second else "crash1"

    @staticmethod
    def _fill_beats(rng) -> int:
        return int(rng.choice([1, 2, 4], p=[0.45, 0.4, 0.15]))

    def _fill(self, sub, bpm, beats, ph: _Phrase, rng) -> list[tuple[int, str, float]]:
        """A fill over the last ``beats`` beats, mostly down the toms, ending loud."""
        n = 4 * sub
        start = n - beats * sub
        rate = 2 if (sub == 4 and bpm > 150) else 1
        steps = list(range(start, n, rate))
        kind = rng.choice(["descend", "descend", "floor_kick", "roll", "random"])
        voices = ["snare", "tom_hi", "tom_mid", "floor"]
        if rng.random() < 0.3:
            voices = voices[1:]
        out = []
        for i, s in enumerate(steps):
            frac = i / max(1, len(steps) - 1)
            if kind == "descend":
                zone = voices[min(len(voices) - 1, int(frac * len(voices)))]
            elif kind == "floor_kick":
                zone = "floor" if i % 2 == 0 else "kick"
            elif kind == "roll":
                zone = "snare" if frac < 0.6 else str(rng.choice(["tom_mid", "floor"]))
            else:
                zone = str(rng.choice(voices))
            if zone.startswith("tom") or zone == "floor":
                if ph.edge and rng.random() < 0.3:
                    zone = {"tom_hi": "tom_hi_rim", "tom_mid": "tom_mid_rim", "floor": "floor_rim"}[zone]
            elif zone == "snare" and rng.random() < 0.25:
                zone = "rim"
            out.append((s, zone, 72 + 45 * frac + (8 if s % sub == 0 else 0)))
        if rng.random() < 0.5:  # kick under the fill's beats
            out += [(s, "kick", 95) for s in range(start, n, sub)]
        return out


def _drop_doubles(notes: list[Note], min_gap: float = 0.02) -> list[Note]:
    """One key cannot sound twice within ``min_gap`` (a stick can't): keep the louder."""
    out: list[Note] = []
    last: dict[int, int] = {}
    for n in notes:
        j = last.get(n.pitch)
        if j is not None and n.start - out[j].start < min_gap:
            if n.velocity > out[j].velocity:
                out[j] = n
            continue
        last[n.pitch] = len(out)
        out.append(n)
    out.sort(key=lambda n: (n.start, n.pitch))
    return out
