"""Distractors: non-kit percussion (shaker, tambourine, claps off the backbeat, congas,
cowbell, woodblock) played on a performance's grid and mixed in **unlabelled**, so a model
learns what not to transcribe.

The sounds come from the percussion kits of ``conf/kits/*.yaml`` ``distractors:`` sections
(Hydrogen's Gimme A Hand and circAfrique); each part names the kit instruments that can
play it. Patterns are one- or two-bar templates in sixteenth notes, picked and humanised
(timing and velocity) from a seed, so a track's distractor is reproducible.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from drumtx.synth.kits import Kit, KitNote, load_distractor_kits
from drumtx.synth.render import Note
from drumtx.synth.sampled.player import SamplePlayer

#: Parts a distractor can play.
PARTS = ("shaker", "tambourine", "claps", "congas", "cowbell", "woodblock")

# Templates: (bars, [(sixteenth index, instrument slot, accent)]). Slot 1 is a second
# instrument of the part (the low conga); accent scales the velocity range.
_TEMPLATES: dict[str, list[tuple[int, list[tuple[int, int, bool]]]]] = {
    "shaker": [(1, [(i, 0, i % 2 == 0) for i in range(16)]),            # sixteenths, eighths accented
               (1, [(i, 0, i % 4 == 0) for i in range(0, 16, 2)])],      # eighths
    "tambourine": [(1, [(i, 0, i in (4, 12)) for i in range(0, 16, 2)]),  # eighths, 2 and 4 accented
                   (1, [(i, 0, True) for i in (2, 6, 10, 14)]),          # off-beat eighths
                   (1, [(i, 0, i in (4, 12)) for i in (4, 11, 12, 15)])],
    # Claps off the backbeat (a clap on 2 and 4 is the snare's role and is labelled there).
    "claps": [(1, [(6, 0, True), (14, 0, True)]),
              (1, [(3, 0, True), (7, 0, False), (11, 0, True)]),
              (1, [(0, 0, True), (8, 0, True)]),
              (2, [(6, 0, True), (10, 0, False), (22, 0, True), (30, 0, True)])],
    "congas": [(1, [(0, 1, True), (6, 0, False), (7, 0, True), (10, 1, False), (14, 0, True), (15, 0, True)]),  # tumbao
               (1, [(i, i % 4 == 0, i % 4 == 2) for i in range(0, 16, 2)]),
               (2, [(0, 1, True), (3, 0, False), (6, 0, True), (8, 1, False), (12, 0, True), (19, 0, True),
                    (22, 1, True), (26, 0, False), (28, 0, True)])],
    "cowbell": [(1, [(i, 0, i == 0) for i in (0, 4, 8, 12)]),
                (1, [(i, 0, i % 4 == 0) for i in range(0, 16, 2)]),
                (1, [(i, 0, True) for i in (0, 3, 6, 10, 12)])],
    "woodblock": [(2, [(i, 0, True) for i in (0, 6, 12, 20, 24)]),       # son clave 3-2
                  (2, [(i, 0, True) for i in (4, 8, 16, 22, 28)]),       # son clave 2-3
                  (1, [(i, 0, i % 4 == 0) for i in range(0, 16, 2)])],
}


def distractor_notes(part: str, instruments: Sequence[int], bpm: float, duration: float,
                     rng: np.random.Generator, downbeat: float = 0.0, beats_per_bar: int = 4,
                     timing_ms: float = 4.0) -> list[Note]:
    """One part's hits on the grid (``Note.pitch`` is the kit instrument id, not a Roland note).

    Args:
        part: one of :data:`PARTS`.
        instruments: kit instrument ids that can play the part (slot 0, slot 1 for congas).
        bpm: tempo (quarter notes per minute); a sixteenth is ``60 / bpm / 4`` s.
        duration: length of the track (s); hits stop 0.1 s before it.
        rng: draws the template, instruments, velocities and timing.
        downbeat: time (s) of a bar's first beat (e.g. the performance's first onset).
        beats_per_bar: bar length in quarter notes (the templates are 4/4; other meters wrap).
        timing_ms: standard deviation of the human timing error (ms).

    Returns:
        Sorted :class:`drumtx.synth.render.Note` list.

    Raises:
        ValueError: unknown part, no instrument, or a tempo that is not positive.
    """
    if part not in _TEMPLATES:
        raise ValueError(f"unknown distractor part {part!r}; known: {', '.join(PARTS)}")
    if not instruments:
        raise ValueError(f"distractor part {part}: no instrument")
    if not bpm > 0:
        raise ValueError(f"distractor tempo must be positive, got {bpm}")
    bars, hits = _TEMPLATES[part][int(rng.integers(len(_TEMPLATES[part])))]
    slots = list(rng.permutation(list(instruments)))
    if part == "congas" and len(slots) > 1:  # slot 0 the higher drum, slot 1 another
        slots = slots[:2]
    six = 60.0 / bpm / 4
    span = bars * 16 if beats_per_bar == 4 else bars * 4 * beats_per_bar
    base_vel = rng.uniform(55, 100)
    first = downbeat - np.ceil(downbeat / (span * six)) * span * six if downbeat > 0 else downbeat
    notes = []
    t0 = first
    while t0 < duration:
        for pos, slot, accent in hits:
            if pos >= span:
                continue
            t = t0 + pos * six + rng.normal(0.0, timing_ms / 1000)
            if 0.0 <= t < duration - 0.1:
                vel = base_vel * (1.15 if accent else 0.8) + rng.normal(0, 6)
                notes.append(Note(float(t), float(t) + 0.1, int(slots[min(slot, len(slots) - 1)]),
                                  int(np.clip(round(vel), 1, 127))))
        t0 += span * six
    notes.sort(key=lambda n: (n.start, n.pitch))
    return notes


def render_distractor(bpm: float, duration: float, seed: int | Sequence[int], part: str | None = None,
                      downbeat: float = 0.0, beats_per_bar: int = 4, sample_rate: int = 24000,
                      kits_dir: str | Path | None = None, player: SamplePlayer | None = None,
                      ) -> tuple[np.ndarray, dict]:
    """A non-kit percussion part for one track, to be mixed in with **no labels**.

    Args:
        bpm: the performance's tempo (csv ``bpm``).
        duration: length of the output (s), usually the drum audio's.
        seed: the track's seed (the same seed gives the same audio, byte for byte).
        part: one of :data:`PARTS`, or None to draw one.
        downbeat: time (s) of a bar's first beat (e.g. the first drum onset).
        beats_per_bar: the meter's quarter notes per bar.
        sample_rate: output rate (Hz).
        kits_dir: kit tables folder (default ``conf/kits``).
        player: a :class:`SamplePlayer` to reuse (its sample cache); default a new one.

    Returns:
        (mono float32 audio of ``ceil(duration * sample_rate)`` samples, info) where info is
        ``{"distractor_kit", "part", "hits"}`` for the csv. The level is the kit's own: the
        caller scales it against the drums.

    Raises:
        ValueError: no installed distractor kit plays ``part``, or bad arguments.
    """
    rng = np.random.default_rng(seed)
    dkits = [d for d in load_distractor_kits(kits_dir).values() if d.available]
    if part is None:
        offered = sorted({p for d in dkits for p in d.parts})
        if not offered:
            raise ValueError("no distractor kit is installed (make system installs hydrogen-drumkits)")
        part = offered[int(rng.integers(len(offered)))]
    choices = [d for d in dkits if part in d.parts]
    if not choices:
        raise ValueError(f"no installed distractor kit plays {part!r}")
    dk = choices[int(rng.integers(len(choices)))]
    ids = dk.parts[part]
    notes = distractor_notes(part, ids, bpm, duration, rng, downbeat, beats_per_bar)
    kit = Kit(name=dk.name, family=dk.family, soundfont_candidates=dk.file_candidates, bank=0, program=0, channel=0,
              notes={i: KitNote((i,)) for i in ids}, licence=dk.licence, format=dk.format, kind="percussion")
    player = player or SamplePlayer(sample_rate)
    audio = player.render(kit, notes, duration=duration, seed=[*np.atleast_1d(seed).tolist(), 7])
    return audio, {"distractor_kit": dk.name, "part": part, "hits": len(notes)}
