"""Where performances come from: the groove generator, the Groove MIDI Dataset, any MIDI folder.

Each source lists :class:`Performance` records (cheap: no MIDI is parsed, no groove is
generated); a render worker calls :meth:`Performance.load` for the notes. Every source
returns notes in Roland TD-17 numbering, the one the rendered MIDI files carry.
Sources are built from the recipe with ``hydra.utils.instantiate`` (``_target_``).
"""

from __future__ import annotations

import csv
import hashlib
import logging
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from drumtx.synth.render import Note, read_midi_notes
from drumtx.vocab import NOTE_MAPS, note_map

log = logging.getLogger(__name__)

#: fine class / articulation -> the Roland key that plays it (for sources in other note maps).
ROLAND_KEY = {
    "kick": 36, "snare_head": 38, "snare_rim": 40, "cross_stick": 37,
    "tom_high": 48, "tom_mid": 45, "tom_floor": 43,
    "hihat_closed": 42, "hihat_open": 46, "hihat_pedal": 44,
    "crash": 49, "ride": 51, "ride_bell": 53,
}


class SourceError(ValueError):
    """A source cannot be listed (missing folder or csv)."""


def stable_hash(text: str) -> int:
    """A 63-bit integer from a string, the same in every process (unlike ``hash``)."""
    return int.from_bytes(hashlib.sha1(text.encode()).digest()[:8], "big") >> 1


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.-]+", "-", str(text)).strip("-") or "x"


@dataclass(frozen=True)
class Performance:
    """One performance to render through one or more kits (the csv's ``id``)."""

    source: str  # generated | gmd | midi
    id: str
    drummer: str
    session: str
    style: str
    bpm: float
    beat_type: str
    time_signature: str
    split: str
    stem: str  # output path without suffix, relative to the dataset root; the kit name is appended
    seconds: float | None = None  # known length (csv, generator), for planning and benchmarks
    midi: str | None = None  # gmd / midi: the file to read
    note_map: str = "roland_td17"  # of ``midi``
    generator: Mapping | None = field(default=None, hash=False)  # generated: GrooveConfig kwargs
    seed: tuple[int, ...] = ()

    def load(self) -> tuple[list[Note], Counter]:
        """The notes in Roland numbering, and the count of notes dropped (not in the note map)."""
        if self.source == "generated":
            from drumtx.synth.generator import GrooveConfig, GrooveGenerator

            gen = GrooveGenerator(GrooveConfig(**dict(self.generator or {})))
            groove = gen.generate(list(self.seed), float(self.seconds), style=self.style, bpm=int(self.bpm))
            return groove.notes, Counter()
        return to_roland(read_midi_notes(self.midi), self.note_map)


def to_roland(notes: list[Note], map_name: str) -> tuple[list[Note], Counter]:
    """Notes of any input map as Roland TD-17 notes; notes the map lacks are dropped and counted."""
    dropped: Counter = Counter()
    if map_name == "roland_td17":
        known = NOTE_MAPS["roland_td17"]
        kept = [n for n in notes if n.pitch in known]
        dropped.update(n.pitch for n in notes if n.pitch not in known)
        return kept, dropped
    mapping = note_map(map_name)
    out = []
    for n in notes:
        label = mapping.get(n.pitch)
        if label is None:
            dropped[n.pitch] += 1
            continue
        out.append(Note(n.start, n.end, ROLAND_KEY[label], n.velocity))
    return out, dropped


def _split_counts(n: int, split: Mapping[str, float]) -> dict[str, int]:
    val, test = float(split.get("validation", 0.0)), float(split.get("test", 0.0))
    if val < 0 or test < 0 or val + test >= 1:
        raise SourceError(f"split fractions must be >= 0 and leave some training data, got {dict(split)}")
    n_val, n_test = int(round(n * val)), int(round(n * test))
    if n >= 3:  # a small dataset still gets one validation and one test performance
        n_val, n_test = max(n_val, 1 if val > 0 else 0), max(n_test, 1 if test > 0 else 0)
    return {"validation": n_val, "test": n_test, "train": n - n_val - n_test}


class GeneratorSource:
    """``n`` generated grooves; exact split shares (by fraction).

    Each groove's length is drawn from ``seconds`` [min, max] and played in whole phrases
    (``groove.phrase_bars``, 2 or 4 bars) until it is reached, so a track runs up to one phrase
    longer (at 60 bpm a 4-bar phrase is 16 s), then the render's ``tail_s``.
    """

    name = "generated"

    def __init__(self, n: int, seconds=(20.0, 30.0), split: Mapping | None = None, groove: Mapping | None = None,
                 prefix: str = "generated"):
        from drumtx.synth.config import config_from_mapping
        from drumtx.synth.generator import GrooveConfig

        self.n = int(n)
        self.seconds = (float(seconds[0]), float(seconds[1]))
        if not 0 < self.seconds[0] <= self.seconds[1]:
            raise ValueError(f"seconds must be [min, max] with 0 < min <= max, got {list(seconds)}")
        self.split = dict(split or {"validation": 0.1, "test": 0.15})
        self.groove = dict(groove or {})
        # keys and values checked now, not in every render worker
        self.config = config_from_mapping(GrooveConfig, self.groove, "groove")
        self.prefix = prefix

    def performances(self, seed: int) -> list[Performance]:
        from drumtx.synth.generator import GrooveGenerator

        gen = GrooveGenerator(self.config)
        counts = _split_counts(self.n, self.split)
        order = np.random.default_rng([seed, 1]).permutation(self.n)
        split_of = {}
        for i, idx in enumerate(order):
            split_of[int(idx)] = ("validation" if i < counts["validation"]
                                  else "test" if i < counts["validation"] + counts["test"] else "train")
        out = []
        for i in range(self.n):
            rng = np.random.default_rng([seed, 2, i])
            style = gen.pick_style(rng)
            lo, hi = self.config.tempo_range(style)
            bpm = int(rng.integers(lo, hi + 1))
            seconds = round(float(rng.uniform(*self.seconds)), 2)
            session = f"{self.prefix}/{style}"
            out.append(Performance(
                source="generated", id=f"{session}/{i:05d}", drummer=self.prefix, session=session, style=style,
                bpm=bpm, beat_type="beat", time_signature="4-4", split=split_of[i],
                stem=f"{session}/{i:05d}_{style}_{bpm}_beat_4-4", seconds=seconds,
                generator=self.groove, seed=(int(seed), 3, i),
            ))
        return out


class GMDSource:
    """The Groove MIDI Dataset (Gillick et al. 2019, CC BY 4.0) from its info.csv, keeping its splits.

    ``beat_types`` keeps beats and/or fills; ``max_tracks`` caps each split (a hash-spread subset).
    """

    name = "gmd"

    def __init__(self, root, csv: str = "info.csv", beat_types=("beat", "fill"), max_tracks: int | None = None,
                 min_seconds: float = 0.0, max_seconds: float | None = None):
        self.root = Path(root).expanduser()
        self.csv = csv
        self.beat_types = tuple(beat_types)
        self.max_tracks = max_tracks
        self.min_seconds, self.max_seconds = float(min_seconds), max_seconds

    def performances(self, seed: int) -> list[Performance]:
        path = self.root / self.csv
        if not path.is_file():
            raise SourceError(f"{path}: GMD info.csv missing (set data.synth.sources.gmd.root)")
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        need = {"drummer", "session", "id", "style", "bpm", "beat_type", "time_signature", "midi_filename",
                "duration", "split"}
        if rows and not need <= set(rows[0]):
            raise SourceError(f"{path}: columns {sorted(need - set(rows[0]))} missing")
        by_split: dict[str, list[Performance]] = {}
        for row in rows:
            seconds = float(row["duration"] or 0)
            if row["beat_type"] not in self.beat_types or seconds < self.min_seconds:
                continue
            if self.max_seconds is not None and seconds > float(self.max_seconds):
                continue
            midi = row["midi_filename"]
            by_split.setdefault(row["split"], []).append(Performance(
                source="gmd", id=row["id"], drummer=row["drummer"], session=row["session"], style=row["style"],
                bpm=float(row["bpm"]), beat_type=row["beat_type"], time_signature=row["time_signature"],
                split=row["split"], stem=str(Path(midi).with_suffix("")), seconds=seconds,
                midi=str(self.root / midi), note_map="roland_td17",
            ))
        out = []
        for _split, perfs in sorted(by_split.items()):
            if self.max_tracks is not None and len(perfs) > self.max_tracks:
                perfs = sorted(perfs, key=lambda p: stable_hash(f"{seed}:{p.id}"))[: int(self.max_tracks)]
            out += sorted(perfs, key=lambda p: p.id)
        return out


class MidiFolderSource:
    """Every .mid/.midi file under ``root`` (drum tracks, ``note_map`` numbering); split drawn per file."""

    name = "midi"

    def __init__(self, root, note_map: str = "general_midi", split: Mapping | None = None, prefix: str = "midi",
                 style: str = "unknown", bpm: float = 120.0):
        self.root = Path(root).expanduser()
        note_map_check = NOTE_MAPS.get(note_map)
        if note_map_check is None:
            raise SourceError(f"unknown note map {note_map!r}; choose one of {sorted(NOTE_MAPS)}")
        self.note_map = note_map
        self.split = dict(split or {"validation": 0.1, "test": 0.1})
        self.prefix, self.style, self.bpm = prefix, style, float(bpm)

    def performances(self, seed: int) -> list[Performance]:
        if not self.root.is_dir():
            raise SourceError(f"{self.root}: MIDI folder missing")
        files = sorted(p for p in self.root.rglob("*") if p.suffix.lower() in (".mid", ".midi") and p.is_file())
        val, test = float(self.split.get("validation", 0.0)), float(self.split.get("test", 0.0))
        out = []
        for p in files:
            rel = p.relative_to(self.root).with_suffix("").as_posix()
            u = stable_hash(f"{seed}:{rel}") / 2**63
            split = "validation" if u < val else "test" if u < val + test else "train"
            stem = f"{self.prefix}/{'/'.join(_slug(part) for part in rel.split('/'))}"
            out.append(Performance(
                source="midi", id=f"{self.prefix}/{rel}", drummer=self.prefix, session=str(Path(stem).parent),
                style=self.style, bpm=self.bpm, beat_type="beat", time_signature="4-4", split=split, stem=stem,
                midi=str(p), note_map=self.note_map,
            ))
        return out
