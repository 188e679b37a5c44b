"""Ground truth of external annotated audio: two-column text annotations and label maps.

Several public drum datasets (IDMT-SMT-Drums, ENST-Drums, MDB Drums, ADTOF, ...) annotate each
audio file with lines of ``onset_seconds label``; their labels (``KD SD HH``, ``bd sd chh``, MIDI
pitches, ``0 1 2``) are turned into this project's classes by a *label map*,
``conf/label_maps/<name>.yaml``::

    name: idmt_smt_drums
    labels: {KD: kick, SD: snare, HH: hihat}   # label -> fine class | instrument | group | null
    groups: {}                                 # extra names for several classes: cymbal: [ride, crash]
    patterns: []                               # [regex, target] pairs tried when no label matches
    case_sensitive: false
    level: coarse                              # coarse | fine (targets are all fine classes)

When the two vocabularies differ, :func:`shared_scheme` scores both sides on the coarse classes
they share (instruments, merged where the annotations merge them) and lists what was left out.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import OmegaConf

from drumtx import CONF_DIR
from drumtx.evaluation.matching import ClassScheme
from drumtx.targets import Onset
from drumtx.vocab import INSTRUMENTS, Vocabulary

LABEL_MAP_DIR = CONF_DIR / "label_maps"
_SPLIT = re.compile(r"[\s,;]+")


class AnnotationError(ValueError):
    """An annotation file or label map that cannot be used; the message names the file and why."""


@dataclass
class LabelMap:
    """Dataset label -> this project's class (see the module docstring for the file format)."""

    name: str
    labels: dict[str, str | None]
    groups: dict[str, list[str]] = field(default_factory=dict)
    patterns: list[tuple[str, str | None]] = field(default_factory=list)
    case_sensitive: bool = False
    level: str = "coarse"
    source: str = ""

    def __post_init__(self) -> None:
        known = set(INSTRUMENTS) | {c for fine in INSTRUMENTS.values() for c in fine}
        for g, members in self.groups.items():
            bad = [m for m in members if m not in known]
            if bad:
                raise AnnotationError(f"label map {self.source or self.name}: group {g!r} has unknown members {bad}")
        targets = [t for t in [*self.labels.values(), *(t for _, t in self.patterns)] if t is not None]
        bad = sorted({t for t in targets if t not in known and t not in self.groups})
        if bad:
            raise AnnotationError(
                f"label map {self.source or self.name}: unknown targets {bad}; use fine classes, "
                f"instruments {sorted(INSTRUMENTS)} or a name from groups"
            )
        if self.level not in ("coarse", "fine"):
            raise AnnotationError(f"label map {self.source or self.name}: level must be coarse or fine")
        fold = (lambda s: s) if self.case_sensitive else str.casefold
        self._fold = fold
        self._exact = {fold(str(k)): v for k, v in self.labels.items()}
        flags = 0 if self.case_sensitive else re.IGNORECASE
        try:
            self._patterns = [(re.compile(p, flags), t) for p, t in self.patterns]
        except re.error as exc:
            raise AnnotationError(f"label map {self.source or self.name}: bad pattern: {exc}") from None

    _UNKNOWN = object()

    def resolve(self, label: str):
        """The target of ``label``: a class name, None (deliberately ignored), or
        :attr:`LabelMap._UNKNOWN` when the map does not know it."""
        key = self._fold(label)
        if key in self._exact:
            return self._exact[key]
        for pattern, target in self._patterns:
            if pattern.fullmatch(label):
                return target
        return self._UNKNOWN

    def targets(self) -> list[str]:
        seen = []
        for t in [*self.labels.values(), *(t for _, t in self.patterns)]:
            if t is not None and t not in seen:
                seen.append(t)
        return seen

    def fines_of(self, target: str, vocab: Vocabulary) -> tuple[str, ...]:
        """The model's fine classes a target stands for (groups and instruments expanded)."""
        if target in vocab.fine_classes:
            return (target,)
        if target in vocab.instruments:
            return tuple(vocab.instruments[target])
        out: list[str] = []
        for m in self.groups.get(target, []):
            out += [f for f in self.fines_of(m, vocab) if f not in out]
        return tuple(out)

    @classmethod
    def load(cls, name_or_path: str | Path) -> LabelMap:
        """A map by name (``conf/label_maps/<name>.yaml``) or by path to any such YAML file."""
        path = Path(name_or_path)
        if not path.suffix:
            path = LABEL_MAP_DIR / f"{name_or_path}.yaml"
        if not path.is_file():
            known = sorted(p.stem for p in LABEL_MAP_DIR.glob("*.yaml"))
            raise AnnotationError(f"label map {name_or_path}: no such file {path}; known maps: {known}")
        try:
            data = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
        except Exception as exc:  # yaml/omegaconf raise several types for malformed files
            raise AnnotationError(f"label map {path}: unreadable YAML: {exc}") from None
        if not isinstance(data, dict) or not isinstance(data.get("labels"), dict):
            raise AnnotationError(f"label map {path}: needs a 'labels' mapping of dataset label -> class")
        patterns = [tuple(p) for p in data.get("patterns") or []]
        if any(len(p) != 2 for p in patterns):
            raise AnnotationError(f"label map {path}: patterns must be [regex, target] pairs")
        return cls(
            name=str(data.get("name", path.stem)),
            labels={str(k): v for k, v in data["labels"].items()},
            groups={str(k): list(v) for k, v in (data.get("groups") or {}).items()},
            patterns=patterns,
            case_sensitive=bool(data.get("case_sensitive", False)),
            level=str(data.get("level", "coarse")),
            source=str(path),
        )


@dataclass
class AnnotationCounts:
    """What happened to the annotation labels, for the report."""

    kept: Counter = field(default_factory=Counter)  # target -> onsets
    ignored: Counter = field(default_factory=Counter)  # label -> onsets mapped to null
    unknown: Counter = field(default_factory=Counter)  # label -> onsets the map does not know

    def update(self, other: AnnotationCounts) -> None:
        self.kept.update(other.kept)
        self.ignored.update(other.ignored)
        self.unknown.update(other.unknown)

    def to_dict(self) -> dict:
        return {k: dict(sorted(getattr(self, k).items())) for k in ("kept", "ignored", "unknown")}


def read_text_annotations(path: str | Path, label_map: LabelMap, counts: AnnotationCounts | None = None) -> list[Onset]:
    """Onsets from a ``onset_seconds label`` text file (whitespace, comma or semicolon separated;
    blank lines and ``#`` comments skipped; further columns ignored), sorted by time.

    The onset's ``fine_class`` holds the label map's target (a fine class, an instrument or a
    group name). Raises :class:`AnnotationError` naming the file and line for malformed lines.
    """
    path = Path(path)
    counts = counts if counts is not None else AnnotationCounts()
    try:
        text = path.read_text(encoding="utf-8-sig", errors="replace")
    except OSError as exc:
        raise AnnotationError(f"{path}: unreadable annotation file: {exc.strerror or exc}") from None
    onsets = []
    first = True
    for lineno, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        header_allowed, first = first, False
        parts = [p for p in _SPLIT.split(line) if p]
        if len(parts) < 2:
            raise AnnotationError(f"{path}:{lineno}: expected 'onset_seconds label', got {line!r}")
        try:
            time = float(parts[0])
        except ValueError:
            if header_allowed:  # a header row such as "time label"
                continue
            raise AnnotationError(f"{path}:{lineno}: onset time {parts[0]!r} is not a number") from None
        if not math.isfinite(time) or time < 0:
            raise AnnotationError(f"{path}:{lineno}: onset time {parts[0]!r} must be finite and >= 0")
        label = parts[1]
        target = label_map.resolve(label)
        if target is LabelMap._UNKNOWN:
            counts.unknown[label] += 1
            continue
        if target is None:
            counts.ignored[label] += 1
            continue
        counts.kept[target] += 1
        onsets.append(Onset(time, target))
    onsets.sort(key=lambda o: (o.time, o.fine_class))
    return onsets


def shared_scheme(label_map: LabelMap, vocab: Vocabulary, level: str = "coarse") -> ClassScheme:
    """The classes both the annotations and the model can express.

    ``coarse``: instruments, merged where one annotation target spans several (e.g. a
    ``cymbal`` label for ride and crash makes one ``cymbal`` class). ``fine``: the fine classes
    the map names (only for maps whose targets are all fine classes). Instruments or fine
    classes the annotations never name are left out on both sides, and say so.
    """
    targets = label_map.targets()
    label_fines = {t: label_map.fines_of(t, vocab) for t in targets}
    empty = [t for t, f in label_fines.items() if not f]
    left_out = {t: "not in this model's vocabulary" for t in empty}
    if level == "fine":
        not_fine = [t for t in targets if t not in vocab.fine_classes]
        if not_fine:
            raise AnnotationError(f"label map {label_map.name}: fine level needs fine-class targets, not {not_fine}")
        classes = {c: (c,) for c in vocab.fine_classes if c in targets}
        for c in vocab.fine_classes:
            if c not in classes:
                left_out[c] = f"not annotated in {label_map.name}"
        return ClassScheme("fine", classes, vocab, label_fines=label_fines, left_out=left_out)

    # Merge instruments touched by one target (union-find over instrument names).
    parent = {inst: inst for inst in vocab.instruments}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    touched: set[str] = set()
    names: dict[frozenset, str] = {}
    for t, fines in label_fines.items():
        insts = sorted({vocab.instrument_of(f) for f in fines})
        touched.update(insts)
        for a in insts[1:]:
            parent[find(a)] = find(insts[0])
        if len(insts) > 1:
            names.setdefault(frozenset(insts), t)
    groups: dict[str, list[str]] = {}
    for inst in vocab.instruments:
        if inst in touched:
            groups.setdefault(find(inst), []).append(inst)
    classes = {}
    for members in groups.values():
        name = members[0] if len(members) == 1 else names.get(frozenset(members), "+".join(members))
        classes[name] = tuple(f for m in members for f in vocab.instruments[m])
    for inst in vocab.instruments:
        if inst not in touched:
            left_out[inst] = f"not annotated in {label_map.name}"
    return ClassScheme("coarse", classes, vocab, label_fines=label_fines, left_out=left_out)
