"""Dataset readers: every layout becomes one list of :class:`Track` records.

Three formats, picked by ``data.format``:

* ``egmd``: an E-GMD folder described by its csv (``e-gmd-v1.0.0.csv``). Tracks are keyed
  by ``audio_filename`` because ``id`` (the performance) repeats across the 43 kits. The
  synthetic datasets write this format too.
* ``gmd``: the Groove MIDI Dataset (``info.csv``); audio is used where present. Keyed by
  ``id`` (unique per row there).
* ``folder``: any folder of audio files, each with a MIDI file of the same stem beside it.
  The split is drawn per *stem* from a hash, so one performance rendered with several kits
  (same stem in several sub-folders) always lands in one split.

Leakage: the performance id of every track is checked to sit in exactly one split;
:class:`DataLeakError` otherwise (or a warning with ``data.leak_check=warn``).
"""

from __future__ import annotations

import csv
import fnmatch
import hashlib
import logging
import shlex
import warnings
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from drumtx.audio import AUDIO_EXTENSIONS

log = logging.getLogger(__name__)

EGMD_COLUMNS = (
    "drummer", "session", "id", "style", "bpm", "beat_type", "time_signature",
    "duration", "split", "midi_filename", "audio_filename", "kit_name",
)
GMD_COLUMNS = ("id", "midi_filename", "audio_filename", "duration", "split")
MIDI_EXTENSIONS = (".mid", ".midi")


class DatasetError(ValueError):
    """The dataset description itself is unusable (missing root or csv, missing columns)."""


class DataLeakError(DatasetError):
    """One performance appears in more than one split."""


@dataclass(frozen=True)
class Track:
    """One audio + MIDI pair. ``audio`` is None where the dataset has no audio (GMD)."""

    key: str  # unique in the dataset, stable across runs
    midi: Path
    audio: Path | None
    split: str  # drumtx split name: train / validation / test (or a csv value not mapped)
    performance: str  # what must not cross splits
    duration: float | None = None  # seconds, from the csv where it has one
    meta: Mapping[str, str] = field(default_factory=dict, hash=False, compare=False)


@dataclass
class DatasetIndex:
    """All tracks of one dataset plus an identity string for the cache key."""

    name: str
    format: str
    root: Path
    tracks: list[Track]
    identity: dict
    problems: list[tuple[str, str]] = field(default_factory=list)  # (path, reason) found while indexing

    def split(self, name: str, max_tracks: int | None = None, where: Callable[[Track], bool] | None = None) -> list[Track]:
        """Tracks of one split, sorted by key.

        Args:
            name: the split (``train``, ``validation``, ``test`` or another csv value).
            max_tracks: keep a fixed, spread-out subset of at most this many (None: all).
            where: keep only the tracks it accepts (e.g. a :func:`kit_filter`), applied
                before the cap, so ``max_tracks`` counts the tracks that pass it.
        """
        tracks = sorted((t for t in self.tracks if t.split == name and (where is None or where(t))), key=lambda t: t.key)
        if max_tracks is not None and len(tracks) > max_tracks:
            # A hash order rather than the first N: the first N of E-GMD are all one drummer.
            tracks = sorted(sorted(tracks, key=lambda t: _unit_hash(t.key))[:max_tracks], key=lambda t: t.key)
        return tracks

    def by_key(self) -> dict[str, Track]:
        return {t.key: t for t in self.tracks}


def _unit_hash(text: str) -> float:
    """A stable number in [0, 1) from a string (independent of PYTHONHASHSEED)."""
    return int.from_bytes(hashlib.sha1(text.encode()).digest()[:8], "big") / 2**64


def file_sha1(path: Path) -> str:
    """SHA-1 (hex) of a file's bytes, read in 1 MiB pieces (dataset identities, cached arrays)."""
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _invert_splits(splits: Mapping[str, str | list[str]] | None) -> dict[str, str]:
    """``{drumtx split: csv value(s)}`` -> ``{csv value: drumtx split}``."""
    splits = splits or {"train": "train", "validation": "validation", "test": "test"}
    out = {}
    for ours, theirs in splits.items():
        for value in [theirs] if isinstance(theirs, str) else list(theirs):
            out[str(value)] = str(ours)
    return out


def _read_csv(path: Path, required: tuple[str, ...]) -> list[dict[str, str]]:
    if not path.is_file():
        raise DatasetError(f"{path}: dataset csv missing")
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise DatasetError(f"{path}: csv lacks columns {missing}")
        return list(reader)


def _float_or_none(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "") else None
    except ValueError:
        return None


def check_leakage(tracks: list[Track], mode: str = "raise") -> list[str]:
    """Performances found in more than one split. Raises :class:`DataLeakError` in ``raise`` mode."""
    splits_of = defaultdict(set)
    for t in tracks:
        splits_of[t.performance].add(t.split)
    leaked = sorted(p for p, s in splits_of.items() if len(s) > 1)
    if leaked:
        example = ", ".join(f"{p} in {sorted(splits_of[p])}" for p in leaked[:3])
        msg = f"{len(leaked)} performance(s) appear in more than one split (e.g. {example})"
        if mode == "raise":
            raise DataLeakError(msg + "; fix the split column or set data.leak_check=warn")
        if mode == "warn":
            warnings.warn(msg, stacklevel=2)
    return leaked


def _csv_index(name, fmt, root, csv_name, splits, key_column, columns) -> DatasetIndex:
    root = Path(root).expanduser().resolve()
    if not root.is_dir():
        raise DatasetError(f"{root}: dataset root missing (set data.root)")
    csv_path = root / csv_name
    rows = _read_csv(csv_path, columns)
    split_of = _invert_splits(splits)
    tracks, seen = [], set()
    for row in rows:
        key = row[key_column]
        if not key or key in seen:
            raise DatasetError(f"{csv_path}: {key_column} {key!r} is empty or repeated")
        seen.add(key)
        audio = row.get("audio_filename") or ""
        tracks.append(
            Track(
                key=key,
                midi=root / row["midi_filename"],
                audio=(root / audio) if audio else None,
                split=split_of.get(row["split"], row["split"]),
                performance=row["id"],
                duration=_float_or_none(row.get("duration")),
                meta={k: row.get(k, "") for k in ("drummer", "style", "bpm", "kit_name", "beat_type")},
            )
        )
    identity = {"format": fmt, "root": str(root), "csv": csv_name, "csv_sha1": file_sha1(csv_path)}
    return DatasetIndex(name=name, format=fmt, root=root, tracks=tracks, identity=identity)


def egmd_index(name: str, root, csv_name: str = "e-gmd-v1.0.0.csv", splits=None) -> DatasetIndex:
    return _csv_index(name, "egmd", root, csv_name, splits, "audio_filename", EGMD_COLUMNS)


def gmd_index(name: str, root, csv_name: str = "info.csv", splits=None) -> DatasetIndex:
    return _csv_index(name, "gmd", root, csv_name, splits, "id", GMD_COLUMNS)


def folder_index(name: str, root, folder_split: Mapping | None = None) -> DatasetIndex:
    """Audio files with a same-stem MIDI file beside them; split drawn per stem from a hash."""
    root = Path(root).expanduser().resolve()
    if not root.is_dir():
        raise DatasetError(f"{root}: dataset root missing (set data.root)")
    fs = dict(folder_split or {})
    val, test, seed = float(fs.get("validation", 0.1)), float(fs.get("test", 0.1)), fs.get("seed", 0)
    files = sorted(p for p in root.rglob("*") if p.is_file())
    midi_by_stem = {p.with_suffix(""): p for p in files if p.suffix.lower() in MIDI_EXTENSIONS}
    tracks, problems, listing = [], [], []
    paired_midi = set()
    for p in files:
        if p.suffix.lower() not in AUDIO_EXTENSIONS:
            continue
        midi = midi_by_stem.get(p.with_suffix(""))
        rel = p.relative_to(root).as_posix()
        if midi is None:
            problems.append((rel, "no MIDI file of the same stem"))
            continue
        paired_midi.add(midi)
        u = _unit_hash(f"{seed}:{p.stem}")
        split = "validation" if u < val else "test" if u < val + test else "train"
        tracks.append(Track(key=rel, midi=midi, audio=p, split=split, performance=p.stem))
        listing.append((rel, p.stat().st_size, midi.stat().st_size))
    problems += [(m.relative_to(root).as_posix(), "no audio file of the same stem") for m in midi_by_stem.values()
                 if m not in paired_midi]
    if not tracks:
        raise DatasetError(f"{root}: no audio file with a MIDI file of the same stem found")
    listing_sha1 = hashlib.sha1(repr(listing).encode()).hexdigest()
    identity = {"format": "folder", "root": str(root), "listing_sha1": listing_sha1}
    return DatasetIndex(name=name, format="folder", root=root, tracks=tracks, identity=identity, problems=problems)


def check_root(data_cfg) -> None:
    """Refuse a ``data`` config whose ``root`` folder is unset or not there (what
    :func:`build_index` checks first; a sweep checks it before its first job).

    Args:
        data_cfg: a ``data`` config (DictConfig, dict or object with attributes): ``root``,
            ``name``, and ``synth`` (a recipe drumtx renders) when it has one.

    Raises:
        DatasetError: ``root`` unset; a recipe drumtx renders that is not rendered yet (how to
            render it); any other root missing.
    """
    get = data_cfg.get if hasattr(data_cfg, "get") else lambda k, d=None: getattr(data_cfg, k, d)
    root = get("root")
    if root in (None, "???"):
        raise DatasetError("data.root is not set")
    path = Path(root).expanduser().resolve()
    if path.is_dir():
        return
    if get("synth"):  # a recipe drumtx renders, not a download
        name = get("name", "data")
        # a root of the user's own (not the recipe's <data_dir>/<name>): the render command goes there too
        into = "" if path.name == name else f" data.root={shlex.quote(str(path))}"
        raise DatasetError(f"{path}: not rendered yet; render it with "
                           f"python -m drumtx.synth data={name}{into} (or set data.root to a render)")
    raise DatasetError(f"{path}: dataset root missing (set data.root)")


def build_index(data_cfg) -> DatasetIndex:
    """The :class:`DatasetIndex` that a ``data`` config describes, leakage-checked.

    Args:
        data_cfg: a ``data`` config (DictConfig, dict or object with attributes): ``format``
            (egmd, gmd or folder), ``name``, ``root``, optional ``csv``, ``splits`` (drumtx split
            -> csv value(s)), ``folder_split`` and ``leak_check`` (raise, warn or off).

    Returns:
        The index: every track with its split, plus the dataset identity for the cache key.
        Unusable rows are logged as warnings and left out.

    Raises:
        DatasetError: ``root`` is unset or missing, the csv is missing or lacks columns, the
            format is unknown, or a folder holds no audio with a same-stem MIDI file.
        DataLeakError: one performance is in two splits (``leak_check=raise``, the default).
    """
    get = data_cfg.get if hasattr(data_cfg, "get") else lambda k, d=None: getattr(data_cfg, k, d)
    fmt, name, root = get("format", "egmd"), get("name", "data"), get("root")
    check_root(data_cfg)
    if fmt == "egmd":
        index = egmd_index(name, root, get("csv") or "e-gmd-v1.0.0.csv", get("splits"))
    elif fmt == "gmd":
        index = gmd_index(name, root, get("csv") or "info.csv", get("splits"))
    elif fmt == "folder":
        index = folder_index(name, root, get("folder_split"))
    else:
        raise DatasetError(f"unknown data.format {fmt!r}; choose egmd, gmd or folder")
    check_leakage(index.tracks, get("leak_check", "raise"))
    for path, reason in index.problems:
        log.warning("%s: %s (ignored)", path, reason)
    return index


def as_list(value, key: str = "value") -> list[str]:
    """A config list of strings: None -> ``[]``, one string -> a one-item list (so
    ``data.fit_kit_names=fluidr3_*`` without brackets means ``[fluidr3_*]``, never its letters).

    Raises:
        DatasetError: anything else that is not a list of strings, naming ``key``.
    """
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if hasattr(value, "__iter__") and not isinstance(value, (bytes, dict)) and not hasattr(value, "keys"):
        items = list(value)
        if all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in items):
            return [str(v) for v in items]
    raise DatasetError(f"{key}: expected a list of names or patterns, got {value!r}")


def kit_filter(meta: dict, kit_names, exclude_kit_names) -> bool:
    """Keep a track by its ``kit_name`` (fnmatch patterns, a list or one string; a track
    without one never matches ``kit_names``)."""
    kit_names, exclude_kit_names = as_list(kit_names, "kit_names"), as_list(exclude_kit_names, "exclude_kit_names")
    name = str(meta.get("kit_name") or "")
    if kit_names and not any(fnmatch.fnmatchcase(name, str(p)) for p in kit_names):
        return False
    return not (exclude_kit_names and any(fnmatch.fnmatchcase(name, str(p)) for p in exclude_kit_names))
