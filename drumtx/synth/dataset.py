"""Plan and render a synthetic E-GMD folder: performances x kits -> audio + MIDI + csv.

The plan is a pure function of the recipe (``data.synth``) and the seed. Every track's
files are written atomically (temporary name, then ``os.replace``), so an interrupted
build leaves only whole tracks; a rerun skips every track whose audio and MIDI exist and
writes the csv at the end from what is on disk. A ``synth_recipe.yaml`` fingerprint
stops a rerun from mixing two different recipes in one folder.

Two chains turn a kit render into a track: ``variety`` (:mod:`drumtx.synth.effects`, the
older recipes, kept byte-identical) or ``production`` (:mod:`drumtx.synth.production`), which
may add ``accompaniment`` (:mod:`drumtx.synth.accompaniment`): a share of tracks gets
generated music under the drums, some tracks are music alone (their MIDI has no notes: an
empty target), and every test-only-kit track gets a twin with held-out music. The labels are
always the drum notes alone.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import functools
import glob
import hashlib
import json
import logging
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from omegaconf import DictConfig, OmegaConf

from drumtx.atomic import atomic_output, atomic_write_text
from drumtx.synth import accompaniment as acc
from drumtx.synth import effects, production
from drumtx.synth.kits import (
    CYMBAL_PIECES,
    KITS_DIR,
    Kit,
    KitError,
    csv_kit_name,
    load_kits,
    retuned,
    select_kits,
)
from drumtx.synth.render import KitRenderer, snap_notes, write_midi
from drumtx.synth.sources import Performance, SourceError, stable_hash
from drumtx.vocab import NOTE_MAPS

SPLITS = ("train", "validation", "test")  # E-GMD's split names, as a track's csv row gives them

log = logging.getLogger(__name__)

EGMD_COLUMNS = ("drummer", "session", "id", "style", "bpm", "beat_type", "time_signature", "duration",
                "split", "midi_filename", "audio_filename", "kit_name")
#: Extra csv columns of recipes with a production chain: per track, the chain drawn, the
#: accompaniment (seed, sound font, ``role:program/style`` per part, drums re music in dB RMS)
#: and the unlabelled distractor percussion (``part@dB`` re the drums).
SONG_COLUMNS = ("production", "accompaniment_seed", "accompaniment_font", "accompaniment_programs",
                "drum_to_music_db", "distractor")
#: kit_name suffix of tracks with accompaniment; ``none`` is the kit of a music-only track.
MUSIC_SUFFIX, NO_KIT = "+music", "none"
RECIPE_FILE = "synth_recipe.yaml"
AUDIO_FORMATS = {"wav": ("WAV", "PCM_16"), "flac": ("FLAC", "PCM_16")}


class SynthError(ValueError):
    """The recipe cannot be built (no kits, bad settings, a folder rendered from another recipe)."""


@dataclass
class RenderSettings:
    """``data.synth.render``."""

    render_rate: int = 48000
    sample_rate: int = 24000
    hold_s: float = 3.0
    tail_s: float = 1.5
    format: str = "wav"

    def __post_init__(self):
        if self.format not in AUDIO_FORMATS:
            raise SynthError(f"data.synth.render.format must be one of {sorted(AUDIO_FORMATS)}, got {self.format!r}")


@dataclass(frozen=True)
class Track:
    """One performance played on one kit: one csv row, one audio file, one MIDI file.

    ``music``: generated accompaniment under the drums; ``drums=False`` (kit ``none``): the
    accompaniment alone, on the performance's grid, with an empty MIDI file.
    """

    perf: Performance
    kit: str
    unseen: bool  # a kit training never plays: test-only, or held out for validation
    music: bool = False
    drums: bool = True

    @property
    def audio(self) -> str:  # relative to the dataset root; also the track key
        if not self.drums:
            return f"{self.perf.stem}_music_only"
        return f"{self.perf.stem}_{self.kit}" + ("_music" if self.music else "")

    @property
    def seed(self) -> list[int]:
        return [stable_hash(self.audio)]

    @property
    def music_seed(self) -> int:
        """The accompaniment's seed (the csv's ``accompaniment_seed``)."""
        return stable_hash(self.audio + "#music") % 2**31

    @property
    def kit_name(self) -> str:
        """The csv ``kit_name``: ``[unseen:]<kit>[+music]``, ``none+music`` for music alone."""
        return csv_kit_name((self.kit if self.drums else NO_KIT) + (MUSIC_SUFFIX if self.music else ""), self.unseen)


@dataclass
class Recipe:
    """The parsed ``data.synth`` block plus the dataset location."""

    root: Path
    csv_name: str
    seed: int
    sources: dict  # name -> source object
    train_kits: list[Kit]
    test_kits: list[Kit]  # every test-only kit (all groups)
    copies: dict  # split -> (lo, hi)
    unseen_copies: tuple[int, int]
    render: RenderSettings
    variety: effects.VarietyConfig
    kits_dir: Path
    raw: dict = field(default_factory=dict)  # the plain config, for the fingerprint
    missing_kits: list[str] = field(default_factory=list)
    # test_kits by group: a mapping ``test_kits: {group: [kits]}`` draws ``unseen_copies`` kits
    # per group for each test performance (the realism ladder's rungs); a list is one group.
    test_groups: list[list[Kit]] = field(default_factory=list)
    production: production.ProductionConfig | None = None  # None: the older ``variety`` chain
    accompaniment: acc.AccompanimentConfig | None = None
    # training kits held out for validation: they play validation performances only (see plan)
    heldout_kits: list[Kit] = field(default_factory=list)

    def fingerprint(self) -> str:
        # an empty heldout_kits leaves the fingerprint of folders rendered before the key existed
        blob = {"recipe": {k: v for k, v in self.raw.items()
                           if k not in ("workers",) and not (k == "heldout_kits" and not v)},
                "kits": [k.fingerprint() for k in self.train_kits + self.test_kits]}
        return hashlib.sha1(json.dumps(blob, sort_keys=True, default=str).encode()).hexdigest()


def _range(value, what: str) -> tuple[int, int]:
    if isinstance(value, int | float):
        lo = hi = int(value)
    else:
        lo, hi = (int(v) for v in value)
    if lo < 0 or hi < lo:
        raise SynthError(f"{what} must be n or [min, max] with 0 <= min <= max, got {value}")
    return lo, hi


def parse_recipe(data_cfg) -> Recipe:
    """Check a ``data`` config with a ``synth`` block and build its sources and kit lists."""
    from hydra.utils import instantiate

    data = OmegaConf.to_container(data_cfg, resolve=True) if isinstance(data_cfg, DictConfig) else dict(data_cfg)
    if "synth" not in data or not data["synth"]:
        raise SynthError(f"data={data.get('name')}: no synth block; pick a synthetic recipe, e.g. data=synth_default")
    if data.get("format", "egmd") != "egmd" or data.get("note_map", "roland_td17") != "roland_td17":
        raise SynthError("a synthetic dataset is written in E-GMD format with Roland TD-17 notes: "
                         "set data.format=egmd and data.note_map=roland_td17")
    syn = data["synth"]
    kits_dir = Path(syn.get("kits_dir") or KITS_DIR)
    kits = load_kits(kits_dir)
    train, missing_train = select_kits(kits, syn.get("train_kits") or [], "data.synth.train_kits")
    test_spec = syn.get("test_kits") or []
    groups_spec = test_spec if isinstance(test_spec, Mapping) else {"": test_spec}
    test, missing_test, test_groups = [], [], []
    for group, names in groups_spec.items():
        chosen, missing = select_kits(kits, names or [], f"data.synth.test_kits{'.' + group if group else ''}")
        test += chosen
        missing_test += missing
        if chosen:
            test_groups.append(chosen)
    overlap = {k.name for k in train} & {k.name for k in test}
    if overlap:
        raise SynthError(f"kits {sorted(overlap)} are both training and test-only kits")
    heldout_names = syn.get("heldout_kits") or []
    if isinstance(heldout_names, str) or not isinstance(heldout_names, Sequence):
        raise SynthError(f"data.synth.heldout_kits must be a list of kit names, got {heldout_names!r}")
    playable = {k.name: k for k in train}
    strangers = [n for n in heldout_names if n not in playable and n not in missing_train]
    if strangers:
        raise SynthError(f"data.synth.heldout_kits: {strangers} are not in data.synth.train_kits "
                         "(a held-out kit is a training kit kept for validation)")
    heldout = [playable[n] for n in dict.fromkeys(heldout_names) if n in playable]
    if train and len(heldout) == len(train):
        raise SynthError("data.synth.heldout_kits holds out every training kit; leave at least one to train on")
    if heldout_names and not heldout:
        raise SynthError(f"none of data.synth.heldout_kits {list(heldout_names)} can be played (not installed, "
                         "named above): there would be no held-out validation")
    if heldout and _range(syn.get("unseen_copies", 1), "data.synth.unseen_copies")[1] == 0:
        raise SynthError("data.synth.unseen_copies is 0, so the held-out kits would play nothing; "
                         "set it to how many of them each validation performance plays")
    if not train:
        raise SynthError(f"no training kit can be played (wanted {syn.get('train_kits')}; not installed: "
                         f"{missing_train}); install them (make system) or list installed kits "
                         f"(python -m drumtx.synth.kits)")
    # each kit skipped (not installed) was already named with its reason by select_kits; a broken one is an error there
    copies_cfg = syn.get("copies", 1)
    if not isinstance(copies_cfg, Mapping):
        copies_cfg = {"train": copies_cfg, "validation": copies_cfg, "test": copies_cfg}
    copies = {split: _range(copies_cfg.get(split, 1), f"data.synth.copies.{split}") for split in SPLITS}
    sources = {}
    for name, spec in (syn.get("sources") or {}).items():
        if spec is None:
            continue  # a source switched off with data.synth.sources.<name>=null
        try:
            sources[name] = instantiate(spec)
        except Exception as exc:  # hydra wraps constructor errors ("Error in call to target …"): its cause, one line
            cause = exc.__cause__ if isinstance(exc.__cause__, ValueError | TypeError) else exc
            raise SynthError(f"data.synth.sources.{name}: {cause}") from None
    if not sources:
        raise SynthError("data.synth.sources is empty")
    prod_cfg = acc_cfg = None
    if syn.get("production") is not None:
        if syn.get("variety") is not None:
            raise SynthError("data.synth: set either variety (the older effects chain) or production, not both "
                             "(add data.synth.variety=null to use production)")
        try:
            prod_cfg = production.ProductionConfig.from_config(syn["production"])
            if syn.get("accompaniment") is not None:
                acc_cfg = acc.AccompanimentConfig.from_config(syn["accompaniment"])
                for held_out in (False, True):
                    if not acc_cfg.fonts(held_out):
                        raise SynthError(f"data.synth.accompaniment.{'test_' if held_out else ''}soundfonts: none of "
                                         f"{acc_cfg.test_soundfonts if held_out else acc_cfg.soundfonts} is installed")
        except (production.ProductionError, acc.AccompanimentError) as exc:
            raise SynthError(str(exc)) from None
    elif syn.get("accompaniment") is not None:
        raise SynthError("data.synth.accompaniment needs a data.synth.production chain")
    try:  # the older effects chain: one line naming the key (its messages start data.synth.variety)
        variety = effects.VarietyConfig.from_config(syn.get("variety"))
    except ValueError as exc:
        raise SynthError(str(exc)) from None
    render_keys = {f.name for f in dataclasses.fields(RenderSettings)}
    unknown = sorted(set(syn.get("render") or {}) - render_keys)
    if unknown:
        raise SynthError(f"data.synth.render: unknown keys {unknown}; known: {sorted(render_keys)}")
    render = RenderSettings(**(syn.get("render") or {}))
    return Recipe(
        root=Path(data["root"]).expanduser(),
        csv_name=data.get("csv") or "e-gmd-v1.0.0.csv",
        seed=int(syn.get("seed", 0)),
        sources=sources,
        train_kits=train,
        test_kits=test,
        test_groups=test_groups,
        copies=copies,
        unseen_copies=_range(syn.get("unseen_copies", 1), "data.synth.unseen_copies"),
        render=render,
        variety=variety,
        kits_dir=kits_dir,
        raw=syn,
        missing_kits=missing_train + missing_test,
        production=prod_cfg,
        accompaniment=acc_cfg,
        heldout_kits=heldout,
    )


def plan(recipe: Recipe) -> list[Track]:
    """Every track of the recipe: each performance on ``copies`` training kits, and each
    test performance also on ``unseen_copies`` test-only kits (per group of ``test_kits``).
    Deterministic in the seed.

    With ``accompaniment``: a training-kit track gets music with probability ``prob``; each
    test-only-kit track gets a twin with held-out music (``test_twins``); a performance gets a
    music-only track with probability ``music_only_prob`` (held-out music in the test split).
    These draws use a stream of their own, so the kit choices match the recipe without music.

    With ``heldout_kits`` (training kits kept for validation): no training or test performance
    plays them (a draw that lands on one is dropped, not redrawn, so every other track stays as
    in the recipe without them and its renders can be reused); every validation performance
    plays on ``unseen_copies`` of them instead (a stream of its own), as unseen kits, each with
    a music twin under ``test_twins`` (training music: the held-out music stays for the test)."""
    tracks: list[Track] = []
    seen_ids: dict[str, str] = {}
    heldout = {k.name for k in recipe.heldout_kits}
    for name, source in recipe.sources.items():
        try:
            perfs = source.performances(recipe.seed)
        except SourceError as exc:
            raise SynthError(f"data.synth.sources.{name}: {exc}") from None
        for perf in perfs:
            if perf.id in seen_ids:
                raise SynthError(f"performance id {perf.id} comes from sources {seen_ids[perf.id]} and {name}")
            seen_ids[perf.id] = name
            rng = np.random.default_rng([recipe.seed, stable_hash(perf.id)])
            lo, hi = recipe.copies.get(perf.split, recipe.copies["train"])
            n = min(int(rng.integers(lo, hi + 1)), len(recipe.train_kits))
            music = recipe.accompaniment
            mrng = np.random.default_rng([recipe.seed, stable_hash(perf.id), 5])
            for i in rng.choice(len(recipe.train_kits), size=n, replace=False):
                with_music = music is not None and bool(mrng.random() < music.prob)  # drawn either way
                kit = recipe.train_kits[int(i)].name
                if kit not in heldout:
                    tracks.append(Track(perf, kit, False, music=with_music))
            for group in recipe.test_groups if perf.split == "test" else []:
                tracks += _unseen_tracks(perf, group, rng, recipe.unseen_copies, music)
            if perf.split == "validation" and recipe.heldout_kits:
                hrng = np.random.default_rng([recipe.seed, stable_hash(perf.id), 7])
                tracks += _unseen_tracks(perf, recipe.heldout_kits, hrng, recipe.unseen_copies, music)
            if music is not None and mrng.random() < music.music_only_prob:
                tracks.append(Track(perf, NO_KIT, perf.split == "test", music=True, drums=False))
    return tracks


def _unseen_tracks(perf: Performance, kits: Sequence[Kit], rng: np.random.Generator, copies: tuple[int, int],
                   music: acc.AccompanimentConfig | None) -> list[Track]:
    """``copies`` (a [min, max] draw from ``rng``) of ``kits`` for ``perf``, as unseen-kit tracks,
    each with a music twin under ``test_twins``."""
    lo, hi = copies
    n = min(int(rng.integers(lo, hi + 1)), len(kits))
    out = []
    for i in rng.choice(len(kits), size=n, replace=False):
        out.append(Track(perf, kits[int(i)].name, True))
        if music is not None and music.test_twins:
            out.append(Track(perf, kits[int(i)].name, True, music=True))
    return out


# ---------------------------------------------------------------------------- workers
_WORKER: dict = {}
#: CPU seconds this process spent per stage of the production path, and the audio seconds
#: each stage made (read by the bench).
STAGE_CPU_S: Counter = Counter()
STAGE_AUDIO_S: Counter = Counter()


#: Every Roland note that strikes a cymbal: what a hybrid kit plays on its cymbal kit.
CYMBAL_NOTES = frozenset(n for notes in CYMBAL_PIECES.values() for n in notes)
#: The closed and pedal hi-hat's Roland TD-17 notes (42, 22, 44): never rung on
#: (:func:`cymbal_ring`); the open hi-hat, the ride and the crashes may be.
CLOSED_HAT_NOTES = frozenset(n for n, label in NOTE_MAPS["roland_td17"].items()
                             if label in ("hihat_closed", "hihat_pedal"))
#: The Roland TD-17 notes of each piece that may ring on (production.RING_PIECES): open hi-hat
#: 46, 26; ride 51, 59 and its bell 53; crashes 49, 55, 52, 57.
RING_NOTES = {piece: frozenset(n for n, label in NOTE_MAPS["roland_td17"].items()
                               if n in CYMBAL_NOTES and label in labels)
              for piece, labels in (("hihat_open", ("hihat_open",)), ("ride", ("ride", "ride_bell")),
                                    ("crash", ("crash",)))}
assert tuple(RING_NOTES) == production.RING_PIECES


def _init_worker(kits_dir: str, render: RenderSettings, music_rate: int | None = None,
                 cymbal_kits: tuple[str, ...] = ()) -> None:
    """Per process: the kit tables and one renderer (sound fonts load on first use)."""
    _WORKER["cymbal_kits"] = tuple(cymbal_kits)
    _WORKER["kits"] = load_kits(kits_dir)
    _WORKER["renderer"] = KitRenderer(render.render_rate, render.sample_rate, render.hold_s, render.tail_s)
    _WORKER["render"] = render
    _WORKER["music"] = acc.MusicRenderer(music_rate, render.sample_rate) if music_rate else None
    _WORKER["kits_dir"] = kits_dir


def _drum_audio(kit: Kit, notes: Sequence, velocity_curve: float, duration: float | None = None,
                seed_notes: Sequence | None = None) -> np.ndarray:
    """Mono drum audio of ``notes`` on ``kit`` at the output rate (the kit's renderer), ``duration``
    seconds long (None: until the tail after the last note). A sampled kit chooses its layers and
    alternates as it would for ``seed_notes`` (a hybrid kit's part: the whole performance's)."""
    seed = None
    if seed_notes is not None and kit.sampled:
        seed = _WORKER["renderer"].player.default_seed(kit, seed_notes)
    return _WORKER["renderer"].render(kit, notes, duration=duration, velocity_curve=velocity_curve, seed=seed)


def production_params(track: Track, cfg: production.ProductionConfig, cymbal_kits: Sequence[str] = ()) -> dict:
    """The track's production chain (a pure function of the track: the csv re-draws it); a
    music-only track has no kit to retune, so no ``tuning`` (drawn last: the rest is unchanged);
    ``cymbal_kit`` where :func:`cymbal_kit` draws one from ``cymbal_kits``."""
    params = production.draw(cfg, np.random.default_rng([*track.seed, 1]))
    if not track.drums:
        params.pop("tuning", None)
    donor = cymbal_kit(track, cfg, cymbal_kits)
    if donor is not None:
        params["cymbal_kit"] = donor
    ring = cymbal_ring(track, cfg)
    if ring is not None:
        params["cymbal_ring"] = ring
    return params


def cymbal_kits(recipe: Recipe) -> tuple[str, ...]:
    """The kits a hybrid kit may take its cymbals from: the training kits not held out."""
    heldout = {k.name for k in recipe.heldout_kits}
    return tuple(k.name for k in recipe.train_kits if k.name not in heldout)


def cymbal_kit(track: Track, cfg: production.ProductionConfig, kits: Sequence[str]) -> str | None:
    """The kit that plays ``track``'s cymbals (:data:`CYMBAL_NOTES`), or None (its own kit):
    with probability ``cfg.cymbal_kit_prob``, one of ``kits`` other than the track's own, for a
    drum track of the training or validation split on a training kit; never for a test track or an
    unseen kit, so every rung is played on whole kits. A stream of its own (the track's seed), so
    every other draw is unchanged."""
    if cfg.cymbal_kit_prob <= 0 or not track.drums or track.unseen or track.perf.split == "test":
        return None
    others = [k for k in kits if k != track.kit]
    rng = np.random.default_rng([*track.seed, 6])
    if not others or rng.random() >= cfg.cymbal_kit_prob:
        return None
    return others[int(rng.integers(len(others)))]


def cymbal_ring(track: Track, cfg: production.ProductionConfig) -> dict | None:
    """How ``track``'s cymbal stem rings on (:func:`drumtx.synth.production.ring_cymbals`), or None:
    with probability ``cfg.cymbal_ring_prob``, for a drum track of the training or validation split
    on a training kit; never for a test track or an unseen kit, so every rung is played on kits as
    they are. A stream of its own (the track's seed), so every other draw is unchanged."""
    if cfg.cymbal_ring_prob <= 0 or not track.drums or track.unseen or track.perf.split == "test":
        return None
    rng = np.random.default_rng([*track.seed, 7])
    if rng.random() >= cfg.cymbal_ring_prob:
        return None
    ring = production.draw_cymbal_ring(cfg, rng)
    if tuple(cfg.cymbal_ring_pieces) != production.RING_PIECES:  # (all of them: as before the key)
        ring["pieces"] = [p for p in production.RING_PIECES if p in cfg.cymbal_ring_pieces]
    return ring


def arrangement(track: Track, cfg: acc.AccompanimentConfig) -> acc.Arrangement:
    """The track's accompaniment plan (held-out music for test-only-kit and test music-only tracks;
    validation tracks on held-out kits keep the training music, so the test music stays unheard)."""
    return acc.draw(track.music_seed, cfg, test=track.unseen and track.perf.split == "test")


@functools.lru_cache(maxsize=8)
def _distractor_parts(kits_dir: str) -> tuple[str, ...]:
    """The parts the installed distractor kits play (the tables are read once per process)."""
    from drumtx.synth.kits import load_distractor_kits

    return tuple(sorted({p for d in load_distractor_kits(kits_dir).values() if d.available for p in d.parts}))


def distractor_plan(track: Track, cfg: acc.AccompanimentConfig | None, kits_dir) -> tuple[str, float] | None:
    """(part, level dB re the drums) of the track's unlabelled distractor percussion, or None:
    a pure function of the track and the installed distractor kits (the csv re-draws it)."""
    if cfg is None or cfg.distractor_prob <= 0 or track.unseen:
        return None
    rng = np.random.default_rng([*track.seed, 4])
    if rng.random() >= cfg.distractor_prob:
        return None
    parts = _distractor_parts(str(kits_dir))
    if not parts:
        return None
    return parts[int(rng.integers(len(parts)))], float(rng.uniform(*cfg.distractor_db))


def _distractor_audio(track: Track, part: str, notes: list, seconds: float, sr: int) -> np.ndarray:
    """The part on the performance's grid (drumtx.synth.sampled.distractors), ``seconds`` long."""
    from drumtx.synth.sampled.distractors import render_distractor

    bpb, _sub = acc._beats_per_bar(track.perf.time_signature)
    downbeat = acc.estimate_grid(notes, track.perf.bpm, bpb)
    audio, _info = render_distractor(float(track.perf.bpm), seconds, [*track.seed, 5], part=part, downbeat=downbeat,
                                     beats_per_bar=int(round(bpb)), sample_rate=sr, kits_dir=_WORKER["kits_dir"],
                                     player=_WORKER["renderer"].player)
    return audio


def _song_audio(track: Track, notes: list, settings: RenderSettings, prod: production.ProductionConfig,
                music_cfg: acc.AccompanimentConfig | None) -> np.ndarray:
    """Drums (unless music-only) through the drum bus, mixed with the accompaniment, mastered."""
    clock = time.process_time
    params = production_params(track, prod, _WORKER.get("cymbal_kits", ()))
    sr = settings.sample_rate
    seconds = max(n.start for n in notes) + settings.tail_s
    drums = music = None
    if track.drums:
        t0 = clock()

        def tuned(kit: Kit) -> Kit:
            if "tuning" not in params:
                return kit
            tuning = params["tuning"]
            return retuned(kit, tuning["kit_semitones"], tuning["tom_semitones"], tuning.get("cymbal_semitones"))

        kit = tuned(_WORKER["kits"][track.kit])
        donor = params.get("cymbal_kit")
        ring = params.get("cymbal_ring")
        cymbals = [n for n in notes if n.pitch in CYMBAL_NOTES] if donor or ring else []
        if cymbals:  # the cymbals as a stem of their own (on a hybrid kit's drawn kit, and/or ringing
            # on), the rest on the track's own kit, summed
            rest = [n for n in notes if n.pitch not in CYMBAL_NOTES]
            cymbal_kit = tuned(_WORKER["kits"][donor]) if donor else kit
            drums = _drum_audio(cymbal_kit, cymbals, params["velocity_curve"], seconds, notes)
            gain = 1.0
            if donor and prod.cymbal_kit_level_match:  # the RMS the own kit gives these notes (silence: as is)
                own = production._rms(_drum_audio(kit, cymbals, params["velocity_curve"], seconds, notes))
                theirs = production._rms(drums)
                gain = own / theirs if own > 0 and theirs > 0 else 1.0
                drums = drums * gain
            if ring:  # the open hi-hat, ride and crashes (or ring["pieces"]) ring on; the closed and
                # pedal hi-hat stay dry (they are short on every kit), and so do the pieces left out.
                # They are taken out by difference, so that the open hat is still choked by the closed
                # one as in one render: each hit of a sampled kit draws its own layers (the same in
                # both renders), and a sound font's voices add up alike.
                ringing = frozenset().union(*(RING_NOTES[p] for p in ring.get("pieces", production.RING_PIECES)))
                closed = [n for n in cymbals if n.pitch not in ringing]
                dry = gain * _drum_audio(cymbal_kit, closed, params["velocity_curve"], seconds, notes) \
                    if closed else np.zeros_like(drums)
                drums = production.ring_cymbals(drums - dry, sr, ring)[: drums.size] + dry  # (the tail past the end is cut)
            if rest:  # seeded as the whole kit's render: the drums sound as on the plain track
                shells = _drum_audio(kit, rest, params["velocity_curve"], seconds, notes)
                n = max(drums.size, shells.size)
                drums = np.pad(drums, (0, n - drums.size)) + np.pad(shells, (0, n - shells.size))
        else:
            drums = _drum_audio(kit, notes, params["velocity_curve"])
        t1 = clock()
        drums = production.drum_bus(drums, sr, params, max_order=prod.max_order)
        STAGE_CPU_S["kit"] += t1 - t0
        STAGE_CPU_S["production"] += clock() - t1
        seconds = drums.size / sr
    level = 0.0
    if track.music:
        t0 = clock()
        arr = arrangement(track, music_cfg)
        arr = acc.arrange(arr, notes, track.perf.bpm, track.perf.time_signature, seconds, music_cfg)
        music = _WORKER["music"].render(arr, seconds)
        level = arr.drum_to_music_db
        STAGE_CPU_S["accompaniment"] += clock() - t0
        STAGE_AUDIO_S["accompaniment"] += seconds
    dplan = distractor_plan(track, music_cfg, _WORKER["kits_dir"])
    if dplan is not None:  # unlabelled percussion, on the drum bus (or with the music, if alone)
        t0 = clock()
        extra = _distractor_audio(track, dplan[0], notes, seconds, sr)
        base = drums if drums is not None else music
        extra = np.pad(extra, (0, max(0, base.size - extra.size)))[: base.size]
        rb, re_ = production._rms(base), production._rms(extra)
        if rb > 0 and re_ > 0:
            extra = extra * (rb / re_) * 10 ** (dplan[1] / 20)
            if drums is not None:
                drums = drums + extra
            else:
                music = music + extra
        STAGE_CPU_S["distractor"] += clock() - t0
        STAGE_AUDIO_S["distractor"] += seconds
    t0 = clock()
    out = production.master(production.mix(drums, music, level), sr, params)
    STAGE_CPU_S["production"] += clock() - t0
    STAGE_AUDIO_S["production"] += seconds
    STAGE_AUDIO_S["kit"] += seconds if track.drums else 0.0
    return out


def render_track(track: Track, root: str, variety: effects.VarietyConfig,
                 prod: production.ProductionConfig | None = None,
                 music_cfg: acc.AccompanimentConfig | None = None) -> tuple[str, float, str | None, dict]:
    """Render one track into ``root``. Returns (audio path, seconds, error line or None, dropped notes).

    ``prod`` set: the production chain (and ``music_cfg`` the accompaniment); else ``variety``."""
    import soundfile as sf

    audio_rel = track.audio + "." + _WORKER["render"].format
    try:
        notes, dropped = track.perf.load()
        if not notes:
            raise ValueError("no drum notes in the Roland TD-17 map")
        settings: RenderSettings = _WORKER["render"]
        notes = snap_notes(notes, settings.render_rate)
        if prod is not None:
            audio = _song_audio(track, notes, settings, prod, music_cfg)
            if not track.drums:
                notes, dropped = [], Counter()  # music alone: the target is empty
        else:
            rng = np.random.default_rng(track.seed)
            params = effects.draw(variety, rng)
            kit = _WORKER["kits"][track.kit]
            audio = _drum_audio(kit, notes, params["velocity_curve"])
            audio = effects.apply(audio, settings.sample_rate, params)
        if not np.all(np.isfinite(audio)):
            raise ValueError("rendered audio is not finite")
        out_audio = Path(root) / audio_rel
        out_midi = Path(root) / (track.audio + ".midi")
        out_audio.parent.mkdir(parents=True, exist_ok=True)
        for final in (out_audio, out_midi):  # what a killed earlier render of this track left behind
            for stale in final.parent.glob(glob.escape(final.name) + ".*.tmp"):
                stale.unlink(missing_ok=True)
        tmp_midi = out_midi.with_name(out_midi.name + f".{os.getpid()}.tmp")
        write_midi(notes, tmp_midi, settings.render_rate)
        os.replace(tmp_midi, out_midi)
        fmt, subtype = AUDIO_FORMATS[settings.format]
        tmp_audio = out_audio.with_name(out_audio.name + f".{os.getpid()}.tmp")
        sf.write(str(tmp_audio), audio, settings.sample_rate, format=fmt, subtype=subtype)
        os.replace(tmp_audio, out_audio)  # the audio last: its presence marks a finished track
        return audio_rel, audio.size / settings.sample_rate, None, dict(dropped)
    except Exception as exc:  # one bad performance must not stop the batch
        src = track.perf.midi or track.perf.id
        return audio_rel, 0.0, f"{src} (kit {track.kit_name}): {type(exc).__name__}: {exc}", {}


def _done(root: Path, track: Track, fmt: str) -> bool:
    return (root / f"{track.audio}.{fmt}").is_file() and (root / f"{track.audio}.midi").is_file()


def _check_recipe_file(recipe: Recipe, overwrite: bool) -> None:
    path = recipe.root / RECIPE_FILE
    fp = recipe.fingerprint()
    if path.is_file() and not overwrite:
        stored = OmegaConf.to_container(OmegaConf.load(path))
        if stored.get("fingerprint") != fp:
            keys = recipe_differences(stored.get("synth") or {}, recipe.raw, skip=("workers",))
            keys += [f"kit {k}" for k in kit_differences(stored.get("kits") or {}, recipe)]
            raise SynthError(f"{recipe.root} was rendered from another recipe (differ: {_shown(keys)}); "
                             f"pass overwrite=true to re-render it or choose another data.root")
    recipe.root.mkdir(parents=True, exist_ok=True)
    text = OmegaConf.to_yaml({"fingerprint": fp, "synth": recipe.raw,
                              "kits": {k.name: k.fingerprint() for k in recipe.train_kits + recipe.test_kits}})
    atomic_write_text(path, text)


def _plain(obj):
    """``obj`` as a recipe file holds it (lists for tuples, strings for paths)."""
    return json.loads(json.dumps(obj, sort_keys=True, default=str))


def _kit_prints(recipe: Recipe) -> dict:
    return _plain({k.name: k.fingerprint() for k in recipe.train_kits + recipe.test_kits})


def recipe_differences(stored: dict, raw: dict, skip: Sequence[str] = ()) -> list[str]:
    """The dotted keys (``production.reverb_prob``) whose values differ between a stored recipe
    (``synth_recipe.yaml``'s ``synth``) and ``raw``, top-level keys in ``skip`` left out; sorted."""
    def differ(a, b, prefix: str) -> list[str]:
        if isinstance(a, dict) and isinstance(b, dict):
            return [d for k in sorted(set(a) | set(b)) for d in differ(a.get(k), b.get(k), f"{prefix}{k}.")]
        return [] if a == b else [prefix.rstrip(".")]

    theirs, ours = _plain(stored), _plain(raw)
    return [d for k in sorted(set(theirs) | set(ours)) if k not in skip
            for d in differ(theirs.get(k), ours.get(k), f"{k}.")]


def kit_differences(stored_kits: dict, recipe: Recipe) -> list[str]:
    """The kits of ``recipe`` that a stored recipe names with another fingerprint or not at all
    (samples, mapping, latency or tuning changed; or the kit is new to it); sorted."""
    theirs = _plain(stored_kits)
    return [name for name, fp in sorted(_kit_prints(recipe).items()) if theirs.get(name) != fp]


def _shown(keys: Sequence[str], most: int = 6) -> str:
    """``keys`` for a one-line error: the first ``most``, then how many more."""
    if not keys:  # the fingerprint also covers what no key names (e.g. a kit dropped)
        return "kits dropped from the recipe"
    return ", ".join(keys[:most]) + (f" and {len(keys) - most} more" if len(keys) > most else "")


#: Recipe keys that choose which tracks exist, not how a track sounds (see :func:`link_renders`;
#: the kits are compared by each track's kit fingerprint, the performances by the track itself).
PLAN_KEYS = ("seed", "copies", "unseen_copies", "train_kits", "test_kits", "heldout_kits", "workers",
             "kits_dir", "sources")
#: Chain keys compared per track, not as settings: a track that draws no cymbal kit and no cymbal
#: ring in either recipe sounds alike whatever the shares, ranges or the level match (:func:`_reusable`).
PER_TRACK_KEYS = ("production.cymbal_kit_prob", "production.cymbal_kit_level_match",
                  "production.cymbal_ring_prob", "production.cymbal_ring_rt60_s", "production.cymbal_ring_db",
                  "production.cymbal_treble_db", "production.cymbal_treble_hz", "production.cymbal_ring_pieces")


def link_renders(recipe: Recipe, tracks: Sequence[Track], source_root: str | Path) -> int:
    """Hard-link (copy where the file system cannot) into ``recipe.root`` every track of
    ``tracks`` that the folder ``source_root`` holds rendered alike, instead of rendering it:
    the same :class:`Track` (performance, kit, unseen, music) planned by the recipe stored in
    ``source_root``, whose render, chain, accompaniment and kit fingerprint are this recipe's
    (a track's sound is a function of these and its name). Files already in ``recipe.root`` stay.

    Returns:
        The number of tracks linked.

    Raises:
        SynthError: ``source_root`` holds no recipe (``synth_recipe.yaml``), or it renders
            tracks otherwise (render settings, chain, accompaniment: nothing can be reused).
    """
    return _link(recipe, tracks, *_reusable(recipe, source_root))["linked"]


#: Why a track was not linked (:func:`sort_for_reuse`'s counts), as the log says it.
UNLINKED_REASONS = {
    "not_planned_there": "not planned by that folder's recipe (its seed, copies, kits or sources differ)",
    "kit_differs_there": "with a kit that sounds otherwise there (its kit fingerprint differs: samples, "
                         "mapping, latency or tuning; or its cymbals come from another kit, play at another level or ring otherwise)",
    "not_rendered_there": "planned there but not rendered (yet, or failed)",
}


def sort_for_reuse(recipe: Recipe, tracks: Sequence[Track], alike: set[Track], other_kit: set[Track],
                   src: Path) -> tuple[list[Track], Counter]:
    """Of ``tracks`` not yet in ``recipe.root``: those the folder ``src`` holds rendered alike
    (to link), and how many of the rest are not, by reason (:data:`UNLINKED_REASONS`).
    ``alike``/``other_kit``: :func:`_reusable`'s track sets."""
    fmt, linkable, why = recipe.render.format, [], Counter()
    for t in tracks:
        if _done(recipe.root, t, fmt):
            continue
        if t not in alike:
            why["kit_differs_there" if t in other_kit else "not_planned_there"] += 1
        elif not _done(src, t, fmt):
            why["not_rendered_there"] += 1
        else:
            linkable.append(t)
    return linkable, why


def unlinked_text(why: Counter) -> str:
    """``why`` (:func:`sort_for_reuse`) as one clause for a log line ('' when empty)."""
    return "; ".join(f"{n} {UNLINKED_REASONS[k]}" for k, n in sorted(why.items()))


def _link(recipe: Recipe, tracks: Sequence[Track], alike: set[Track], other_kit: set[Track],
          src: Path) -> Counter:
    """Link what :func:`link_renders` says; returns counts: ``linked`` and each of
    :data:`UNLINKED_REASONS` (tracks already in ``recipe.root`` are not counted)."""
    import shutil

    fmt = recipe.render.format
    linkable, counts = sort_for_reuse(recipe, tracks, alike, other_kit, src)
    for t in linkable:
        for suffix in (fmt, "midi"):
            dst = recipe.root / f"{t.audio}.{suffix}"
            dst.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileNotFoundError):
                dst.unlink()
            try:
                os.link(src / f"{t.audio}.{suffix}", dst)
            except OSError:  # another file system, or no hard links there
                shutil.copy2(src / f"{t.audio}.{suffix}", dst)
    counts["linked"] = len(linkable)
    return counts


def _reusable(recipe: Recipe, source_root) -> tuple[set[Track], set[Track], Path]:
    """The tracks ``source_root``'s recipe plans that sound as this recipe's would (see
    :func:`link_renders`), those it plans with a kit that sounds otherwise, and the folder;
    raises :class:`SynthError` when nothing can be reused."""
    if not isinstance(source_root, (str, os.PathLike)) or not str(source_root):
        raise SynthError(f"reuse must be a folder's path, got {source_root!r}")
    src = Path(source_root).expanduser()
    if not src.exists():
        raise SynthError(f"reuse={src}: no such folder")
    if src.resolve() == recipe.root.resolve():
        raise SynthError(f"reuse={src}: is this recipe's own folder (data.root); name another recipe's folder")
    stored_path = src / RECIPE_FILE
    if not stored_path.is_file():
        raise SynthError(f"reuse={src}: no {RECIPE_FILE} there (not a folder drumtx.synth rendered)")
    stored = OmegaConf.to_container(OmegaConf.load(stored_path))
    theirs = _plain(stored.get("synth") or {})
    keys = [k for k in recipe_differences(theirs, recipe.raw, skip=PLAN_KEYS) if k not in PER_TRACK_KEYS]
    if keys:
        raise SynthError(f"reuse={src}: its recipe renders tracks otherwise (differ: {_shown(keys)})")
    try:
        source = parse_recipe({"root": str(src), "csv": recipe.csv_name, "synth": theirs})
        theirs_planned = plan(source)
    except (SynthError, KitError) as exc:
        raise SynthError(f"reuse={src}: its recipe ({RECIPE_FILE}): {exc}") from None
    kit_prints = _plain(stored.get("kits") or {})
    ours_kits = _kit_prints(recipe)
    donors = (cymbal_kits(source), cymbal_kits(recipe))

    def sounds_alike(t: Track) -> bool:  # the same kit, the same cymbal kit (if any) sounding the same, the same ring
        if kit_prints.get(t.kit) != ours_kits.get(t.kit):
            return False
        if recipe.production is None or source.production is None:
            return True
        if cymbal_ring(t, source.production) != cymbal_ring(t, recipe.production):
            return False
        d_theirs = cymbal_kit(t, source.production, donors[0])
        d_ours = cymbal_kit(t, recipe.production, donors[1])
        return d_theirs == d_ours and (d_ours is None or (
            kit_prints.get(d_ours) == ours_kits.get(d_ours)
            and source.production.cymbal_kit_level_match == recipe.production.cymbal_kit_level_match))

    alike = {t for t in theirs_planned if sounds_alike(t)}
    return alike, set(theirs_planned) - alike, src


def write_csv(recipe: Recipe, tracks: Sequence[Track]) -> tuple[Path, list[dict], float]:
    """The E-GMD csv of every planned track whose files exist; returns (path, its rows, hours)."""
    import soundfile as sf

    fmt = recipe.render.format
    rows, seconds = [], 0.0
    songs = recipe.production is not None
    for t in tracks:
        if not _done(recipe.root, t, fmt):
            continue
        audio = f"{t.audio}.{fmt}"
        try:
            duration = sf.info(str(recipe.root / audio)).duration
        except Exception as exc:  # a file damaged after the fact: leave it out, say so
            log.error("%s: unreadable audio (%s), left out of the csv", recipe.root / audio, exc)
            continue
        seconds += duration
        p = t.perf
        rows.append({
            "drummer": p.drummer, "session": p.session, "id": p.id, "style": p.style,
            "bpm": int(p.bpm) if float(p.bpm).is_integer() else p.bpm, "beat_type": p.beat_type,
            "time_signature": p.time_signature, "duration": f"{duration:.6f}", "split": p.split,
            "midi_filename": f"{t.audio}.midi", "audio_filename": audio, "kit_name": t.kit_name,
        })
        if songs:
            rows[-1].update(_song_columns(recipe, t))
    rows.sort(key=lambda r: (r["split"], r["id"], r["kit_name"]))
    path = recipe.root / recipe.csv_name
    with atomic_output(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=EGMD_COLUMNS + (SONG_COLUMNS if songs else ()))
        writer.writeheader()
        writer.writerows(rows)
    return path, rows, seconds / 3600


def _song_columns(recipe: Recipe, t: Track) -> dict:
    row = {"production": production.summary(production_params(t, recipe.production, cymbal_kits(recipe))),
           "accompaniment_seed": "",
           "accompaniment_font": "", "accompaniment_programs": "", "drum_to_music_db": "", "distractor": ""}
    dplan = distractor_plan(t, recipe.accompaniment, recipe.kits_dir)
    if dplan is not None:
        row["distractor"] = f"{dplan[0]}@{dplan[1]:.1f}dB"
    if t.music:
        arr = arrangement(t, recipe.accompaniment)
        row.update({"accompaniment_seed": t.music_seed, "accompaniment_font": Path(arr.soundfont).name,
                    "accompaniment_programs": arr.programs,
                    "drum_to_music_db": f"{arr.drum_to_music_db:.2f}" if t.drums else ""})
    return row


def _readme(recipe: Recipe, tracks: Sequence[Track], summary: Mapping) -> str:
    kits = recipe.train_kits + recipe.test_kits
    lines = [
        f"# {recipe.root.name}: synthetic E-GMD rendered by drumtx.synth",
        "",
        "Drum MIDI performances rendered through drum kits (sound fonts with FluidSynth; Hydrogen and SFZ",
        "sampled kits with drumtx's sample player), in the layout",
        f"of E-GMD ({recipe.csv_name}: one row per performance x kit; MIDI in Roland TD-17 notes).",
        "Rebuild with the same recipe: `python -m drumtx.synth` with the config in synth_recipe.yaml.",
        "",
        f"Tracks: {summary['tracks']} ({summary['hours']:.2f} h). Splits follow the performances;",
        "`kit_name` values starting with `unseen:` are kits held out of training (test-only kits in the test",
        "split; in the validation split, training kits held out to tune on): select them to measure",
        "generalisation to unseen kits.",
        "",
        "## Sources and licences",
    ]
    used = {t.perf.source for t in tracks}
    if "gmd" in used:
        lines.append("- Performances from the Groove MIDI Dataset: Jon Gillick, Adam Roberts, Jesse Engel, Douglas Eck, "
                     "David Bamman, \"Learning to Groove with Inverse Sequence Transformations\", ICML 2019. "
                     "CC BY 4.0, https://magenta.tensorflow.org/datasets/groove")
    if "generated" in used:
        lines.append("- Generated performances: drumtx.synth.generator (procedural grooves).")
    if "midi" in used:
        lines.append("- Performances from a user MIDI folder (see synth_recipe.yaml; check its licence).")
    for font in sorted({str(k.soundfont) for k in kits}):
        names = [k for k in kits if str(k.soundfont) == font]
        what = {"sf2": "sound font", "hydrogen": "Hydrogen kit", "sfz": "SFZ kit"}.get(names[0].format, "kit file")
        lines.append(f"- Kits {', '.join(k.name for k in names)}: {what} {font} ({names[0].licence}).")
    if recipe.accompaniment is not None:
        lines += ["", "## Accompaniment and production",
                  "Tracks whose kit_name ends in `+music` have generated accompaniment (drumtx.synth.accompaniment) "
                  "under the drums; `none+music` tracks are music alone (empty MIDI: nothing to transcribe). "
                  "The labels are the drums only. Training music: "
                  f"{', '.join(recipe.accompaniment.fonts(False))}; held-out music (test-only kits): "
                  f"{', '.join(recipe.accompaniment.fonts(True))}. The csv columns {', '.join(SONG_COLUMNS)} "
                  "record each track's production chain and accompaniment."]
    elif recipe.production is not None:
        lines += ["", "The csv column `production` records each track's production chain (drumtx.synth.production)."]
    prod = recipe.production
    if prod is not None and prod.cymbal_kit_prob > 0:
        level = ("scaled to the RMS the track's own kit gives the same notes" if prod.cymbal_kit_level_match
                 else "at that kit's own level")
        lines += ["", "## Hybrid kits",
                  f"On about {prod.cymbal_kit_prob:.0%} of the training and validation tracks on training kits, the "
                  "cymbals (hi-hat, ride, crashes) are played on another training kit, " + level + ": the "
                  "`production` column names it (`cymbals:<kit>`), while `kit_name` names the kit of the other "
                  "pieces. Test tracks and unseen kits are always whole kits. The labels are the same notes."]
    if prod is not None and prod.cymbal_ring_prob > 0:
        rt60, ring, treble = prod.cymbal_ring_rt60_s, prod.cymbal_ring_db, prod.cymbal_treble_db
        lines += ["", "## Ringing cymbals",
                  f"On about {prod.cymbal_ring_prob:.0%} of the training and validation tracks on training kits, the "
                  f"{_ring_pieces_text(prod.cymbal_ring_pieces)} ring on (the closed and pedal hi-hat stay dry"
                  f"{'' if tuple(prod.cymbal_ring_pieces) == production.RING_PIECES else ', and so do the other cymbals'}) "
                  f"with a decaying tail (RT60 {rt60[0]:g}-{rt60[1]:g} s, "
                  f"{ring[0]:g}..{ring[1]:g} dB re the stem) and loses treble (a high shelf of {treble[0]:g}..{treble[1]:g} "
                  "dB): the `production` column says how (`ring<RT60>s<dB>/treble<dB>`, then the pieces when not all ring, "
                  "`/hihat_open&ride`). Test tracks and unseen kits "
                  "never ring on. The labels are the same notes."]
    return "\n".join(lines) + "\n"


def _ring_pieces_text(pieces) -> str:
    names = {"hihat_open": "open hi-hat", "ride": "ride", "crash": "crashes"}
    words = [names[p] for p in production.RING_PIECES if p in pieces]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _worker_args(recipe: Recipe) -> tuple:
    music_rate = recipe.accompaniment.render_rate if recipe.accompaniment is not None else None
    return str(recipe.kits_dir), recipe.render, music_rate, cymbal_kits(recipe)


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """Within the block, SIGTERM raises KeyboardInterrupt in the main thread (as Ctrl-C does),
    so a terminated build stops its render workers; elsewhere (a thread) nothing changes.

    Yields ``shutting_down(stopping)``, to call before stopping the workers: SIGTERM is ignored
    from then on, so a second SIGTERM (a scheduler's repeat, a user's second ``kill``) cannot
    kill the process by signal while the workers finish their tracks. After a failure
    (``stopping`` False) the handler from before comes back when the block ends; after an
    interrupt (``stopping`` True: Ctrl-C, or a SIGTERM, which calls it itself) SIGTERM stays
    ignored until the process exits, which it is about to do: a SIGTERM during the interpreter's
    exit would otherwise turn the one-line exit 130 into death by signal (seen in CI, when the
    handler was put back at the end of the block). A library caller that catches the
    KeyboardInterrupt and carries on must restore SIGTERM itself."""
    main = threading.current_thread() is threading.main_thread()
    keep_ignored = []

    def shutting_down(stopping: bool) -> None:
        if main:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            if stopping:
                keep_ignored.append(True)

    if not main:
        yield shutting_down
        return

    def interrupt(signum, frame):
        shutting_down(True)
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield shutting_down
    finally:
        # None: a handler installed outside Python, which cannot be put back
        if previous is not None and not keep_ignored:
            signal.signal(signal.SIGTERM, previous)


def check_splits(splits) -> None:
    """Raise :class:`SynthError` (one line) unless ``splits`` is None or a non-empty list of :data:`SPLITS`."""
    if splits is None:
        return
    unknown = sorted(set(splits) - set(SPLITS))
    if unknown or not splits:
        raise SynthError(f"splits={list(splits)}: " + (f"{unknown} not among {list(SPLITS)}" if unknown
                         else f"no split to render (null renders all of {list(SPLITS)})"))


def build_dataset(data_cfg, workers: int = 2, overwrite: bool = False, progress: bool = True,
                  limit: int | None = None, splits: list[str] | None = None, reuse: str | None = None) -> dict:
    """Render every missing track of the recipe, then write the csv. Returns a summary dict.

    Args:
        data_cfg: a ``data`` config with a ``synth`` block (``conf/data/synth_*.yaml``), as a
            DictConfig or dict; its ``root`` is the dataset folder.
        workers: render processes (spawned).
        overwrite: re-render every track, also into a folder rendered from another recipe.
        progress: a progress bar.
        limit: render only the first ``limit`` planned tracks of the chosen ``splits`` (a quick
            check); the csv then lists those of them on disk.
        splits: render only the tracks of these splits (``train``, ``validation``, ``test``;
            None: all), e.g. ``["test"]`` to score a model before the training audio is done.
            The csv still lists every planned track already on disk.
        reuse: a folder another recipe rendered: the tracks it holds alike are linked from it,
            not rendered (:func:`link_renders`).

    Returns:
        The summary (also in the dataset's README.md): ``root``, ``csv``, ``tracks`` (rows in
        the csv: tracks on disk), ``planned``, ``rendered``, ``linked``, ``not_linked`` (with ``reuse``: tracks left to render
        that were not linked, by reason, :data:`UNLINKED_REASONS`), ``failed``, ``hours`` of audio,
        ``render_wall_s``, ``speed_x_realtime``, ``splits`` (tracks per split), ``missing_kits``,
        ``dropped_notes`` (source MIDI note -> count of notes outside its note map) and more
        counts. A track that fails is logged and counted, not raised.

    Raises:
        SynthError: a bad recipe (no ``synth`` block, no playable training kit, a bad source
            or range ...), or ``root`` was rendered from another recipe and not ``overwrite``.
    """
    check_splits(splits)  # before anything is read or written
    recipe = parse_recipe(data_cfg)
    tracks = plan(recipe)
    if limit is not None:  # the first `limit` planned tracks of the chosen splits
        tracks = [t for t in tracks if splits is None or t.perf.split in set(splits)][: int(limit)]
        if not tracks:
            log.warning("limit=%s: no planned track in scope (splits=%s): nothing to render", limit, splits)
    if isinstance(reuse, str) and not reuse.strip():
        reuse = None  # reuse= with no value: nothing to reuse
    reusable = None
    if reuse is not None:  # checked before anything is written
        if overwrite:
            raise SynthError("reuse and overwrite=true exclude each other (overwrite renders every track again)")
        reusable = _reusable(recipe, reuse)
    _check_recipe_file(recipe, overwrite)
    fmt = recipe.render.format
    todo = tracks if overwrite else [t for t in tracks if not _done(recipe.root, t, fmt)]
    if splits is not None:
        wanted = set(splits)
        todo = [t for t in todo if t.perf.split in wanted]
    linked, not_linked = 0, {}
    if reusable is not None and todo:
        counts = _link(recipe, todo, *reusable)
        linked = counts.pop("linked", 0)
        not_linked = dict(sorted(counts.items()))
        why = unlinked_text(counts)
        log.info("%d of %d tracks to render linked (or copied) from %s, rendered alike there%s", linked,
                 len(todo), reuse, f"; not linked: {why}" if why else "")
        todo = [t for t in todo if not _done(recipe.root, t, fmt)]
    log.info("%s: %d tracks planned (%d performances, %d train kits of which %d held out for validation, "
             "%d test-only kits), %d to render", recipe.root, len(tracks), len({t.perf.id for t in tracks}),
             len(recipe.train_kits), len(recipe.heldout_kits), len(recipe.test_kits), len(todo))
    errors: list[str] = []
    dropped: Counter = Counter()
    rendered_s, t0 = 0.0, time.perf_counter()
    done = 0
    if todo:
        import multiprocessing as mp

        from tqdm import tqdm

        # spawn: workers import torch (EQ) and FluidSynth fresh instead of inheriting a forked parent.
        with ProcessPoolExecutor(max_workers=max(1, int(workers)), mp_context=mp.get_context("spawn"),
                                 initializer=_init_worker, initargs=_worker_args(recipe)) as pool:
            futures = [pool.submit(render_track, t, str(recipe.root), recipe.variety, recipe.production,
                                   recipe.accompaniment) for t in todo]
            bar = tqdm(as_completed(futures), total=len(futures), desc=f"render {recipe.root.name}",
                       unit="track", disable=not progress)
            with _sigterm_as_interrupt() as shutting_down:
                try:
                    for fut in bar:
                        _, seconds, error, drop = fut.result()
                        done += 1
                        rendered_s += seconds
                        dropped.update(drop)
                        if error:
                            errors.append(error)
                            log.error(error)
                except BaseException as exc:
                    # Interrupted (Ctrl-C, SIGTERM) or failed: start no more tracks, let the ones
                    # the workers already hold finish (each is written whole), and stop the
                    # workers with this process (the pool's own exit would first render every
                    # queued track; a SIGTERM used to kill this process alone and leave the
                    # workers rendering on). A second SIGTERM meanwhile is ignored (SIGKILL is not).
                    shutting_down(isinstance(exc, KeyboardInterrupt))
                    pool.shutdown(wait=True, cancel_futures=True)
                    log.warning("stopped after %d of %d tracks; rerun the same command to resume", done, len(todo))
                    raise
    wall = time.perf_counter() - t0
    csv_path, csv_rows, hours = write_csv(recipe, tracks)
    rows = len(csv_rows)
    summary = {
        "root": str(recipe.root), "csv": str(csv_path), "tracks": rows, "planned": len(tracks),
        "rendered": len(todo) - len(errors), "linked": linked, "not_linked": not_linked,
        "failed": len(errors), "hours": round(hours, 4),
        "render_wall_s": round(wall, 2), "rendered_audio_s": round(rendered_s, 1),
        "speed_x_realtime": round(rendered_s / wall, 1) if wall > 0 and rendered_s else None,
        "workers": int(workers), "splits": dict(Counter(r["split"] for r in csv_rows)),  # on disk
        "planned_splits": dict(Counter(t.perf.split for t in tracks)),
        "unseen_kit_tracks": sum(t.unseen for t in tracks), "missing_kits": recipe.missing_kits,
        "music_tracks": sum(t.music for t in tracks), "music_only_tracks": sum(not t.drums for t in tracks),
        "dropped_notes": {str(k): v for k, v in sorted(dropped.items())},
    }
    atomic_write_text(recipe.root / "README.md", _readme(recipe, tracks, summary))
    if errors:
        log.warning("%d of %d tracks failed; the csv lists the %d tracks on disk", len(errors), len(todo), rows)
    return summary
