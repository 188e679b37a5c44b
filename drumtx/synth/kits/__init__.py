"""Drum kits as data: what plays a kit, and how Roland TD-17 notes map onto it.

The kit tables live in ``conf/kits/*.yaml``: one file per sound font family (played by
FluidSynth), ``hydrogen.yaml`` and ``sfz.yaml`` for sampled kits (played by the sample player
:mod:`drumtx.synth.sampled`), plus ``maps.yaml`` with the shared note maps. This module only
reads and checks the tables; :class:`drumtx.synth.render.KitRenderer` plays every format.
The command that lists, checks and measures them is :mod:`drumtx.synth.kits.__main__`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from omegaconf import OmegaConf

from drumtx import CONF_DIR
from drumtx.vocab import NOTE_MAPS

log = logging.getLogger(__name__)

#: Where the kit tables live unless a recipe names another folder.
KITS_DIR = CONF_DIR / "kits"
#: The notes every kit must map: the Roland TD-17 map that the rendered MIDI files use.
ROLAND_NOTES = tuple(sorted(NOTE_MAPS["roland_td17"]))
#: The Roland notes that strike a tom (heads and rims): what :func:`retuned` moves by the tom shift.
TOM_NOTES = tuple(sorted(n for n, c in NOTE_MAPS["roland_td17"].items() if c.startswith("tom_")))
#: The cymbals of a Roland TD-17 kit, each with the notes that strike it: what :func:`retuned`
#: moves by each cymbal's own shift (the hi-hat's pedal, closed and open notes are one pair of
#: cymbals; crash 1 and crash 2 are two cymbals of the crash class).
CYMBAL_PIECES: dict[str, tuple[int, ...]] = {"hihat": (22, 26, 42, 44, 46), "ride": (51, 53, 59),
                                              "crash_1": (49, 55), "crash_2": (52, 57)}
#: The most a retuned note of a sound-font kit may be shifted (semitones): the pitch-bend range
#: drumtx.synth.render sets. A sampled kit's samples are resampled instead (soxr), which has no such
#: bound; MAX_SAMPLED_SHIFT_SEMITONES keeps them within two octaves of their recording.
MAX_SHIFT_SEMITONES = 12.0
MAX_SAMPLED_SHIFT_SEMITONES = 24.0
#: kit_name prefix in the csv for kits held out for testing (see drumtx.synth docstring).
UNSEEN_KIT_PREFIX = "unseen:"
#: Measured sample start latencies (written by ``python -m drumtx.synth.kits --measure-latency``).
LATENCY_FILE = "latency.yaml"
#: Kit formats: sound fonts (FluidSynth) and sampled kits (drumtx.synth.sampled).
FORMATS = ("sf2", "hydrogen", "sfz")
SAMPLED_FORMATS = ("hydrogen", "sfz")


class KitError(ValueError):
    """A kit table is malformed or names a kit that does not exist."""


@dataclass(frozen=True)
class KitNote:
    """What one Roland note plays on a kit."""

    keys: tuple[int, ...]  # kit keys struck together
    semitones: float = 0.0  # pitch shift (pitch bend on a channel of its own)
    velocity: tuple[float, ...] = ()  # velocity scale per key (empty: 1.0 for all)
    offset_ms: float = 0.0  # trigger this much earlier, on top of the kit's offset

    def scale(self, i: int) -> float:
        return self.velocity[i] if self.velocity else 1.0


@dataclass(frozen=True)
class Kit:
    """One playable drum kit.

    ``soundfont_candidates`` are the kit's file: a sound font (.sf2/.sf3) for ``format``
    ``sf2``, a Hydrogen ``drumkit.xml`` or an ``.sfz`` for the sampled formats; the first
    that exists is used. For sampled kits ``notes`` keys are Hydrogen instrument ids or SFZ
    MIDI keys, and ``bank``/``program``/``channel`` are unused.
    """

    name: str
    family: str  # the kit table file it comes from (fluidr3, musescore, hydrogen, sfz, ...)
    soundfont_candidates: tuple[str, ...]
    bank: int
    program: int
    channel: int  # 9 = GM drum channel; AVL kits need a melodic one
    notes: Mapping[int, KitNote] = field(hash=False)
    offset_ms: float = 0.0  # trigger every note this much earlier (kit table + measured residual)
    licence: str = ""
    # kit key -> measured sample start latency (ms), from conf/kits/latency.yaml; each key
    # is triggered that much earlier so its attack lands on the label. (Sampled kits align
    # every sample on its own measured attack instead; see drumtx.synth.sampled.)
    latency_ms: Mapping[int, float] = field(default_factory=dict, hash=False)
    format: str = "sf2"  # one of FORMATS
    split: str = "train"  # "test": held out of training (the kit config says so)
    # acoustic | electronic (a drum machine's sound, sampled, synthesised or a sound font's 808 /
    # electronic program) | general-midi (a sound font's acoustic programs: the default for sf2)
    kind: str = "acoustic"
    lacks: tuple[str, ...] = ()  # what the kit does not have and what plays instead
    # sampled kits: victim kit key -> kit keys that choke it (fade it out when struck)
    chokes: Mapping[int, tuple[int, ...]] = field(default_factory=dict, hash=False)
    author: str = ""
    source: str = ""  # where the kit comes from (Debian package, web page)
    # sampled kits: sd of the velocity jitter on layer choice (MIDI units), choke fade (ms)
    velocity_jitter: float = 4.0
    choke_fade_ms: float = 40.0
    end_fade_ms: float = 10.0  # fade-out over each sample's last ms (some samples stop abruptly: a click)
    # kits synthesised by drumtx.synth.electronic: the seed its kit.sfz is written from (None: a kit on disk)
    generator_seed: int | None = None

    @property
    def sampled(self) -> bool:
        return self.format in SAMPLED_FORMATS

    def lead_ms(self, roland: int, key: int) -> float:
        """How much earlier than the label ``key`` is struck for Roland note ``roland``."""
        return self.offset_ms + self.notes[roland].offset_ms + self.latency_ms.get(key, 0.0)

    @property
    def soundfont(self) -> Path | None:
        """The first candidate sound font that exists on this machine, else None."""
        for cand in self.soundfont_candidates:
            p = Path(cand).expanduser()
            if p.is_file():
                return p.resolve()
        return None

    @property
    def available(self) -> bool:
        return self.soundfont is not None

    def fingerprint(self) -> dict:
        """Everything that changes the rendered audio (for the recipe fingerprint)."""
        return {
            "name": self.name,
            # a synthesised kit is its seed and generator, wherever its files were written
            "soundfont": ("synthesised" if self.generator_seed is not None
                          else str(self.soundfont or self.soundfont_candidates[0])),
            "bank": self.bank,
            "program": self.program,
            "channel": self.channel,
            "offset_ms": self.offset_ms,
            "latency_ms": {str(k): v for k, v in sorted(self.latency_ms.items())},
            "notes": {
                str(k): [list(v.keys), v.semitones, v.velocity, v.offset_ms]
                for k, v in sorted(self.notes.items())
            },
            **(
                {
                    "format": self.format,
                    "chokes": {str(k): list(v) for k, v in sorted(self.chokes.items())},
                    "velocity_jitter": self.velocity_jitter,
                    "choke_fade_ms": self.choke_fade_ms,
                    "end_fade_ms": self.end_fade_ms,
                }
                if self.sampled
                else {}
            ),
            **({"generator": _generator_fingerprint(self.generator_seed)} if self.generator_seed is not None else {}),
        }


def _generator_fingerprint(seed: int) -> dict:
    from drumtx.synth.electronic import VERSION

    return {"seed": seed, "version": VERSION}


def retuned(kit: Kit, semitones: float = 0.0, tom_semitones: float = 0.0,
            cymbal_semitones: Mapping[str, float] | None = None) -> Kit:
    """``kit`` tuned by ``semitones`` (every note), its toms (:data:`TOM_NOTES`) by ``tom_semitones``
    more, and each cymbal (:data:`CYMBAL_PIECES`: piece -> shift) by its own shift more: a
    drummer's own tuning and cymbals, so that no tom's name is tied to one pitch and no cymbal
    class to one cymbal's sound (a sample played faster or slower: higher and shorter, as a
    smaller cymbal). The toms keep their order (one shift for all of them), and the labels stay
    what was played.

    Raises:
        KitError: a note would be shifted beyond +-:data:`MAX_SHIFT_SEMITONES` (a sound-font
            kit) or +-:data:`MAX_SAMPLED_SHIFT_SEMITONES` (a sampled kit), or an unknown cymbal
            piece (one line).
    """
    cymbals = {k: float(v) for k, v in (cymbal_semitones or {}).items() if v}
    unknown = sorted(set(cymbals) - set(CYMBAL_PIECES))
    if unknown:
        raise KitError(f"kit {kit.name}: unknown cymbal pieces {unknown} (of {list(CYMBAL_PIECES)})")
    if not semitones and not tom_semitones and not cymbals:
        return kit
    piece_shift = {n: cymbals.get(piece, 0.0) for piece, notes in CYMBAL_PIECES.items() for n in notes}
    most = MAX_SAMPLED_SHIFT_SEMITONES if kit.sampled else MAX_SHIFT_SEMITONES
    notes = {}
    for roland, kn in kit.notes.items():
        shift = (kn.semitones + semitones + (tom_semitones if roland in TOM_NOTES else 0.0)
                 + piece_shift.get(roland, 0.0))
        if abs(shift) > most:
            raise KitError(f"kit {kit.name}: note {roland} retuned to {shift:+.2f} semitones, beyond "
                           f"+-{most:g} ({'sampled' if kit.sampled else 'sound-font'} kit)")
        notes[roland] = replace(kn, semitones=round(shift, 4))
    return replace(kit, notes=notes)


def _parse_note(where: str, roland: int, value) -> KitNote:
    """One ``notes`` entry of a kit table; ``where`` is how errors name it (``<table file>: kit <name>``)."""
    if isinstance(value, int):
        return KitNote((value,))
    if isinstance(value, list | tuple):
        return KitNote(tuple(int(v) for v in value))
    if isinstance(value, Mapping):
        unknown = set(value) - {"notes", "semitones", "velocity", "offset_ms"}
        if unknown or "notes" not in value:
            raise KitError(f"{where}: note {roland}: need 'notes', got keys {sorted(value)}")
        keys = value["notes"]
        keys = (int(keys),) if isinstance(keys, int) else tuple(int(k) for k in keys)
        vel = value.get("velocity", 1.0)
        vel = tuple(float(v) for v in vel) if isinstance(vel, list | tuple) else (float(vel),) * len(keys)
        if len(vel) != len(keys):
            raise KitError(f"{where}: note {roland}: {len(keys)} keys but {len(vel)} velocity scales")
        return KitNote(keys, float(value.get("semitones", 0.0)), vel, float(value.get("offset_ms", 0.0)))
    raise KitError(f"{where}: note {roland}: cannot read {value!r}")


def _check_notes(where: str, notes: Mapping[int, KitNote]) -> None:
    missing = [n for n in ROLAND_NOTES if n not in notes]
    extra = [n for n in notes if n not in ROLAND_NOTES]
    if missing or extra:
        parts = ([f"Roland notes not mapped to any key: {missing} (each of the TD-17's {len(ROLAND_NOTES)} "
                  f"notes needs one)"] if missing else []) + ([f"not Roland TD-17 notes: {extra}"] if extra else [])
        raise KitError(f"{where}: {'; '.join(parts)}")
    for roland, kn in notes.items():
        if not kn.keys or any(not 0 <= k <= 127 for k in kn.keys):
            raise KitError(f"{where}: note {roland}: keys must be MIDI notes 0..127, got {kn.keys}")
        if any(not 0.0 < v <= 2.0 for v in kn.velocity) or abs(kn.semitones) > 12:
            raise KitError(f"{where}: note {roland}: velocity in (0, 2], |semitones| <= 12")


def read_table(path: Path) -> dict:
    """A kit table (YAML, interpolations resolved) as a dict; {} for an empty file.

    Raises:
        KitError: unreadable YAML or interpolation; one line naming the file.
    """
    try:
        return OmegaConf.to_container(OmegaConf.load(path), resolve=True) or {}
    except Exception as exc:  # yaml or interpolation errors: one line naming the file
        raise KitError(f"{path}: unreadable kit table ({type(exc).__name__}: {exc})") from None


def _kit_files(path: Path, name: str, spec: Mapping) -> tuple[str, ...]:
    """Candidate paths of a kit's file: ``soundfont`` (sf2) or ``file`` under each ``kits_dir``."""
    fmt = spec.get("format", "sf2")
    if fmt == "sf2":
        fonts = spec.get("soundfont")
        fonts = [fonts] if isinstance(fonts, str) else list(fonts or [])
        if not fonts:
            raise KitError(f"{path}: kit {name}: no soundfont")
        return tuple(str(f) for f in fonts)
    rel = spec.get("file")
    if not rel:
        raise KitError(f"{path}: kit {name}: no file (the kit's drumkit.xml or .sfz)")
    dirs = spec.get("kits_dir") or []
    dirs = [dirs] if isinstance(dirs, str) else list(dirs)
    if Path(str(rel)).expanduser().is_absolute() or not dirs:
        return (str(Path(str(rel)).expanduser()),)
    return tuple(str(Path(str(d)).expanduser() / str(rel)) for d in dirs)


def _int_map(path: Path, name: str, value, what: str, int_keys: bool = True) -> dict:
    out = {}
    for k, v in (value or {}).items():
        try:
            out[int(k) if int_keys else str(k)] = tuple(
                int(x) for x in (v if isinstance(v, list | tuple) else [v])
            )
        except (TypeError, ValueError):
            raise KitError(
                f"{path}: kit {name}: {what} must map ids to lists of ids, got {k}: {v!r}"
            ) from None
    return out


def _table_entries(kits_dir: Path, section: str, what: str) -> Iterator[tuple[Path, str, dict]]:
    """``(table file, name, spec)`` of every entry of ``section`` (``kits`` or ``distractors``) in
    the kit tables of ``kits_dir`` (every ``*.yaml`` but maps.yaml and latency.yaml, by file name),
    each spec over its table's top-level keys (defaults such as ``kits_dir``, ``licence``).

    Raises:
        KitError: an unreadable table, or a name defined twice (``what``, e.g. ``kit``, names it).
    """
    seen: set[str] = set()
    for path in sorted(kits_dir.glob("*.yaml")):
        if path.name in ("maps.yaml", LATENCY_FILE):
            continue
        table = read_table(path)
        defaults = {k: v for k, v in table.items() if k not in ("kits", "distractors")}
        for name, spec in (table.get(section) or {}).items():
            if name in seen:
                raise KitError(f"{path}: {what} {name} defined twice")
            seen.add(name)
            yield path, name, {**defaults, **(spec or {})}


def load_kits(kits_dir: str | Path | None = None) -> dict[str, Kit]:
    """Every kit of every table in ``kits_dir`` (default ``conf/kits``), by name.

    Args:
        kits_dir: folder of kit tables (``maps.yaml``, ``latency.yaml`` and one table per family).

    Returns:
        Kit name -> :class:`Kit` (installed or not; see :attr:`Kit.available`).

    Raises:
        KitError: a malformed table, a kit defined twice, an unknown map or format, or a
            Roland note left unmapped; the message names the table file and the kit.
    """
    kits_dir = Path(kits_dir) if kits_dir else KITS_DIR
    maps_file, latency_file = kits_dir / "maps.yaml", kits_dir / LATENCY_FILE
    if not maps_file.is_file():
        raise KitError(f"{maps_file}: kit note maps missing")
    maps_table = read_table(maps_file)
    maps, map_lacks = maps_table.get("maps", {}), maps_table.get("lacks") or {}
    latency, offsets = {}, {}
    if latency_file.is_file():
        table = read_table(latency_file)
        latency, offsets = table.get("latency_ms") or {}, table.get("offset_ms") or {}
    kits: dict[str, Kit] = {}
    for path, name, spec in _table_entries(kits_dir, "kits", "kit"):
        fmt = spec.get("format", "sf2")
        if fmt not in FORMATS:
            raise KitError(f"{path}: kit {name}: unknown format {fmt!r}; known: {', '.join(FORMATS)}")
        map_name = spec.get("map")
        if map_name is not None and map_name not in maps:
            raise KitError(f"{path}: kit {name}: unknown map {map_name!r}; maps.yaml has {sorted(maps)}")
        if map_name is None and fmt == "sf2":
            raise KitError(f"{path}: kit {name}: unknown map None; maps.yaml has {sorted(maps)}")
        raw = {**(maps[map_name] if map_name else {}), **(spec.get("notes") or {})}
        try:
            notes = {int(k): _parse_note(f"{path}: kit {name}", int(k), v) for k, v in raw.items()}
        except (TypeError, ValueError) as exc:  # a key or value that is not a number
            raise KitError(f"{path}: kit {name}: notes: {exc}") from None
        _check_notes(f"{path}: kit {name}", notes)
        split = str(spec.get("split", "train"))
        if split not in ("train", "test"):
            raise KitError(f"{path}: kit {name}: split must be train or test, got {split!r}")
        lacks = spec.get("lacks", map_lacks.get(map_name, []))
        kits[name] = Kit(
            name=name,
            family=path.stem,
            soundfont_candidates=_kit_files(path, name, spec),
            bank=int(spec.get("bank", 128)),
            program=int(spec.get("program", 0 if fmt != "sf2" else spec["program"])),
            channel=int(spec.get("channel", 9)),
            notes=notes,
            offset_ms=float(spec.get("offset_ms", 0.0)) + float(offsets.get(name, 0.0)),
            licence=str(spec.get("licence", "")),
            latency_ms={int(k): float(v) for k, v in (latency.get(name) or {}).items()},
            format=fmt,
            split=split,
            kind=str(spec.get("kind", "general-midi" if fmt == "sf2" else "acoustic")),
            lacks=tuple(str(x) for x in ([lacks] if isinstance(lacks, str) else lacks)),
            chokes=_int_map(path, name, spec.get("chokes"), "chokes"),
            author=str(spec.get("author", "")),
            source=str(spec.get("source", "")),
            velocity_jitter=float(spec.get("velocity_jitter", 4.0)),
            choke_fade_ms=float(spec.get("choke_fade_ms", 40.0)),
            end_fade_ms=float(spec.get("end_fade_ms", 10.0)),
            generator_seed=_generator_seed(path, name, spec, fmt),
        )
    return kits


def _generator_seed(path: Path, name: str, spec: Mapping, fmt: str) -> int | None:
    seed = spec.get("generator_seed")
    if seed is None:
        return None
    if fmt != "sfz" or isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise KitError(f"{path}: kit {name}: generator_seed must be an integer >= 0 on an sfz kit, "
                       f"got {seed!r} ({fmt})")
    return seed


def generate_missing(kit: Kit) -> None:
    """Write a synthesised kit's files (:mod:`drumtx.synth.electronic`) when they are missing or
    stale; nothing for a kit on disk.

    Raises:
        KitError: the kit's folder cannot be written (one line).
    """
    if kit.generator_seed is None:
        return
    from drumtx.synth.electronic import ElectronicKitError, ensure_kit

    if not Path(kit.soundfont_candidates[0]).expanduser().is_absolute():
        raise KitError(f"kit {kit.name}: {kit.soundfont_candidates[0]}: not an absolute path (its kits_dir is "
                       "empty: DRUMTX_GENERATED_KITS_DIR set to an empty string?)")
    try:
        if ensure_kit(kit.soundfont_candidates[0], kit.generator_seed):
            log.info("kit %s: synthesised from seed %d into %s", kit.name, kit.generator_seed,
                     Path(kit.soundfont_candidates[0]).expanduser().parent)
    except ElectronicKitError as exc:
        raise KitError(f"kit {kit.name}: {exc}") from None


@dataclass(frozen=True)
class DistractorKit:
    """A percussion kit whose parts (shaker, congas, ...) are mixed in unlabelled."""

    name: str
    family: str
    format: str
    file_candidates: tuple[str, ...]
    parts: Mapping[str, tuple[int, ...]] = field(hash=False)  # part -> instrument ids / keys
    licence: str = ""
    author: str = ""

    @property
    def file(self) -> Path | None:
        for cand in self.file_candidates:
            if Path(cand).is_file():
                return Path(cand).resolve()
        return None

    @property
    def available(self) -> bool:
        return self.file is not None


def load_distractor_kits(kits_dir: str | Path | None = None) -> dict[str, DistractorKit]:
    """The ``distractors:`` sections of the sampled kit tables, by name (see conf/kits/hydrogen.yaml)."""
    kits_dir = Path(kits_dir) if kits_dir else KITS_DIR
    out: dict[str, DistractorKit] = {}
    for path, name, spec in _table_entries(kits_dir, "distractors", "distractor kit"):
        fmt = spec.get("format", "sf2")
        if fmt not in SAMPLED_FORMATS:
            raise KitError(f"{path}: distractor kit {name}: format must be one of {SAMPLED_FORMATS}")
        out[name] = DistractorKit(
            name,
            path.stem,
            fmt,
            _kit_files(path, name, spec),
            _int_map(path, name, spec.get("parts"), "parts", int_keys=False),
            str(spec.get("licence", "")),
            str(spec.get("author", "")),
        )
    return out


def kit_problem(kit: Kit) -> str | None:
    """Why ``kit`` cannot be played here (one line naming the kit and file), or None.

    Sound fonts must be installed; sampled kits are also read and checked against their
    map and their samples' headers (malformed file, unmapped note, a sample missing, unreadable
    or cut off), without decoding any audio.
    """
    if not kit.available:
        return f"kit {kit.name}: {kit.soundfont_candidates[0]}: not installed"
    if kit.sampled:
        from drumtx.synth.sampled.formats import SampledKitError
        from drumtx.synth.sampled.player import load_sample_kit

        try:
            sk = load_sample_kit(kit)
        except SampledKitError as exc:
            return str(exc)
        for doubt in sk.doubts:  # (once per check: the render workers read the kit again in silence)
            log.warning("%s", doubt)
    return None


def select_kits(kits: Mapping[str, Kit], names: Iterable[str], what: str) -> tuple[list[Kit], list[str]]:
    """The named kits that can be played here, and the names skipped as not installed.

    Unknown names are an error (a typo in a recipe should not silently shrink a dataset). A kit
    that is not installed (its sound font or kit file is not there: a package the machine lacks)
    is skipped with a one-line warning naming its file. A kit that is there but broken (a
    malformed kit file, a missing, unreadable or cut-off sample, a note mapped to no sample) is
    an error before anything renders: skipped, it would change which kit plays which
    performance, so the folder rendered without it could not be resumed once it is fixed
    (drumtx.synth refused the rerun as "another recipe"; a user's try, 2026-12-07).

    Raises:
        KitError: an unknown name, or a broken kit (the first one's reason, naming its file;
            any others are logged as errors first).
    """
    chosen, missing, broken = [], [], []
    for name in names:
        if name not in kits:
            raise KitError(f"{what}: unknown kit {name!r}; known kits: {', '.join(sorted(kits))}")
        try:
            generate_missing(kits[name])
            problem = kit_problem(kits[name])
        except KitError as exc:
            problem = str(exc)
        if problem and not kits[name].available:
            log.warning("%s: skipped: %s", what, problem)
            missing.append(name)
        elif problem:
            broken.append((name, problem))
        else:
            chosen.append(kits[name])
    for _, problem in broken[1:]:  # each further broken kit: its own line, before the error
        log.error("%s: broken: %s", what, problem)
    if broken:
        others = f" ({len(broken) - 1} more broken, logged above)" if len(broken) > 1 else ""
        raise KitError(f"{what}: {broken[0][1]}; fix the kit or take it out of {what}{others}")
    return chosen, missing


def csv_kit_name(kit: str, unseen: bool) -> str:
    """The csv ``kit_name``: the kit's name, prefixed with ``unseen:`` for test-only kits."""
    return f"{UNSEEN_KIT_PREFIX}{kit}" if unseen else kit


def is_unseen_kit(kit_name: str) -> bool:
    """True for csv ``kit_name`` values of kits held out of training (test-only kits)."""
    return kit_name.startswith(UNSEEN_KIT_PREFIX)


def kit_offsets_in_file(kits_dir: str | Path | None = None) -> dict[str, float]:
    """The measured per-kit offsets currently stored in latency.yaml."""
    path = Path(kits_dir or KITS_DIR) / LATENCY_FILE
    if not path.is_file():
        return {}
    return {
        k: float(v) for k, v in (OmegaConf.to_container(OmegaConf.load(path)).get("offset_ms") or {}).items()
    }


def _instrument_names(kit: Kit) -> dict[int, str]:
    """Kit key -> instrument name for sampled kits (read from the kit file); {} otherwise."""
    if not kit.sampled or not kit.available:
        return {}
    from drumtx.synth.sampled.formats import SampledKitError, read_kit

    try:
        sk = read_kit(kit.name, kit.soundfont, kit.format)
    except SampledKitError:
        return {}
    return {k: ins.name for k, ins in sk.instruments.items()}


def describe_kit(kit: Kit) -> str:
    """A few lines about a kit: format, source, licence, what plays each Roland class, what it lacks."""
    if kit.available and kit.generator_seed is not None:
        from drumtx.synth.electronic import is_current

        stale = not is_current(Path(kit.soundfont).parent, kit.generator_seed)
    else:
        stale = False
    status = ("installed (stale: written again on first use)" if stale else "installed" if kit.available else
              f"synthesised on first use (seed {kit.generator_seed})" if kit.generator_seed is not None else
              f"MISSING ({kit.soundfont_candidates[0]})")
    problem = kit_problem(kit) if kit.available else None
    if problem:
        status = f"BROKEN ({problem})"
    split = "test-only (held out of training)" if kit.split == "test" else "train"
    names = _instrument_names(kit)
    plays: dict[str, list[str]] = {}
    for roland in ROLAND_NOTES:
        kn = kit.notes[roland]
        what = "+".join(names.get(k, str(k)) for k in kn.keys)
        if kn.semitones:
            what += f" ({kn.semitones:+g} st)"
        cls = NOTE_MAPS["roland_td17"][roland]
        if what not in plays.setdefault(cls, []):
            plays[cls].append(what)
    where = "; ".join(x for x in (kit.source, kit.author) if x)
    lines = [
        f"{kit.name}  [{kit.format}, {kit.kind}, {split}]  {status}",
        f"    file:    {kit.soundfont or kit.soundfont_candidates[0]}"
        + (f" (bank {kit.bank} program {kit.program} channel {kit.channel})" if kit.format == "sf2" else ""),
        f"    source:  {where or kit.family}",
        f"    licence: {kit.licence or 'unstated'}",
        "    plays:   " + "; ".join(f"{c}={' | '.join(v)}" for c, v in plays.items()),
        "    lacks:   " + ("; ".join(kit.lacks) if kit.lacks else "nothing the Roland map asks for"),
    ]
    return "\n".join(lines)
