"""The on-disk feature cache: log-mel and frame targets computed once per track.

Layout (``<cache_root>/<data.name>-<hash>/``, the hash covering the feature config, the
target policy, the note map, the vocabulary and the dataset identity, so a changed
parameter gets a fresh directory instead of stale data)::

    spec.json            what the hash covers, for humans and for the check on open
    manifest.json        key -> {dir, n_frames, duration, variant_of, params, split, files, source}
                         of finished tracks: ``files`` the byte size and SHA-1 of each array,
                         ``source`` the byte size and mtime of the audio and MIDI it was made from
    skipped.json         key -> {path, reason} of tracks that could not be prepared
    tracks/<dir>/        one finished track (written to tmp/ then os.replace'd: atomic)
        mel.npy          float16 (n_mels, T) log-mel
        roll.npy         uint8 (T, C) multi-hot fine-class onsets
        velocity.npy     float16 (T, C) velocity / 127 at onset frames
        targets.npy      uint8 (T, K) hierarchical targets, K = meta["target_names"]
        onsets.json      exact onset times [[seconds, fine_class, velocity], ...] (for evaluation)
        meta.json        key, source files, n_frames, duration, label counts (collisions ...)
    tmp/                 work in progress; cleared at the start of every run

Pre-rendered audio augmentation (pitch shift + time stretch, see
:mod:`drumtx.data.augment`) adds training-only variants ``<key>#<tag>.<i>`` in the same
``tracks/`` folder; ``<tag>`` hashes the variant ranges, so other ranges are new variants.

Resuming: a finished track is a directory under ``tracks/``; the manifest is rebuilt from
those on every run, so an interrupted run loses at most the tracks in flight.

Integrity: a track is reused only while its entry still holds (:meth:`FeatureCache.check`):
its audio and MIDI files have the recorded size and mtime (a file re-rendered or edited in
place is recomputed, although the dataset csv, and so the cache hash, did not change), and
its arrays have the recorded byte sizes; ``verify="full"`` (``python -m drumtx.prepare``)
also compares their SHA-1 and reads them back (shapes, finite log-mel). A broken or stale
track is rebuilt, and reported. A track cached before these records existed is read once
and given them (:meth:`FeatureCache.adopt`) when no source file is newer than it; else rebuilt.

This module keeps the cache directory (manifest, integrity checks, reuse, :func:`prepare_cache`)
and :class:`DataSource`; a track's computation, its records and the worker pool are
:mod:`drumtx.data.cache_jobs`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import time
from collections import Counter
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from drumtx.atomic import write_json
from drumtx.data.cache_jobs import ARRAYS, run_jobs, source_identity, target_names
from drumtx.data.datasets import DatasetError, file_sha1
from drumtx.targets import LabelCounts, Onset, TargetPolicy

log = logging.getLogger(__name__)

#: Bump when the stored arrays change meaning; part of the cache hash.
CACHE_VERSION = 1


UNRECORDED = "cached before drumtx recorded checksums and source files"
#: ``prepare_cache(verify=…)``: ``size`` checks source identities and array sizes, ``full`` also checksums.
VERIFY_MODES = ("size", "full")


class CacheError(DatasetError):
    """A cached track cannot be read (missing, truncated or corrupt file); names track and file."""


def load_arrays(directory: Path, key: str, mmap: bool = True) -> dict[str, np.ndarray]:
    """The four arrays of one cached track (memory maps unless ``mmap=False``).

    Raises:
        CacheError: a file is missing, truncated or unreadable, or the arrays disagree in
            length; one line naming the track ``key`` and the file.
    """
    arrays = {}
    for name in ARRAYS:
        path = Path(directory) / f"{name}.npy"
        try:
            arrays[name] = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise CacheError(f"cached track {key}: {path} is unreadable ({reason}); "
                             "run python -m drumtx.prepare to rebuild it") from None
    lengths = {arrays["mel"].shape[-1], *(arrays[n].shape[0] for n in ARRAYS[1:])}
    if len(lengths) != 1:
        raise CacheError(f"cached track {key}: {directory} holds arrays of different lengths {sorted(lengths)}; "
                         "run python -m drumtx.prepare to rebuild it")
    return arrays


def _short_hash(obj) -> str:
    return hashlib.sha1(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:10]


def _safe_name(key: str) -> str:
    """A file-system-safe, collision-free directory name for a track key."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", key).strip("._")[-80:]
    return f"{stem}-{hashlib.sha1(key.encode()).hexdigest()[:8]}"


@dataclass(frozen=True)
class VariantSpec:
    """Pre-rendered audio augmentation: ``copies`` variants per training track, each with a
    pitch shift (semitones) and a time-stretch factor (duration multiplier) drawn uniformly
    from the ranges, reproducibly from the track key."""

    pitch_shift_semitones: tuple[float, float] = (-2.0, 2.0)
    time_stretch: tuple[float, float] = (0.9, 1.1)
    copies: int = 1
    seed: int = 0

    @classmethod
    def from_config(cls, cfg) -> VariantSpec | None:
        if not cfg:
            return None
        cfg = dict(cfg)
        spec = cls(
            pitch_shift_semitones=tuple(float(x) for x in cfg.get("pitch_shift_semitones", (0.0, 0.0))),
            time_stretch=tuple(float(x) for x in cfg.get("time_stretch", (1.0, 1.0))),
            copies=int(cfg.get("copies", 1)),
            seed=int(cfg.get("seed", 0)),
        )
        lo, hi = spec.time_stretch
        if not 0 < lo <= hi:
            raise ValueError(f"time_stretch range must be 0 < low <= high, got {spec.time_stretch}")
        return spec if spec.copies > 0 else None

    @property
    def tag(self) -> str:
        return "v" + _short_hash([self.pitch_shift_semitones, self.time_stretch, self.seed])[:6]

    def key(self, key: str, i: int) -> str:
        return f"{key}#{self.tag}.{i}"

    def params(self, key: str, i: int) -> dict:
        seed = int.from_bytes(hashlib.sha1(self.key(key, i).encode()).digest()[:8], "big")
        rng = np.random.default_rng(seed)
        return {
            "semitones": float(rng.uniform(*self.pitch_shift_semitones)),
            "stretch": float(rng.uniform(*self.time_stretch)),
        }


@dataclass
class CachedTrack:
    """One prepared track; arrays are read-only memory maps."""

    key: str
    mel: np.ndarray  # (n_mels, T) float16
    roll: np.ndarray  # (T, C) uint8
    velocity: np.ndarray  # (T, C) float16
    targets: np.ndarray  # (T, K) uint8
    meta: dict
    directory: Path

    @property
    def n_frames(self) -> int:
        return self.roll.shape[0]

    def onsets(self) -> list[Onset]:
        data = json.loads((self.directory / "onsets.json").read_text())
        return [Onset(float(t), str(c), int(v)) for t, c, v in data]


@dataclass
class PrepareReport:
    cache_dir: Path
    done: list[str] = field(default_factory=list)  # prepared in this run
    reused: int = 0  # already in the cache
    rebuilt: dict[str, str] = field(default_factory=dict)  # key -> why its cached copy was not reused
    skipped: dict[str, dict] = field(default_factory=dict)  # key -> {path, reason}
    counts: LabelCounts = field(default_factory=LabelCounts)  # labels of the tracks done in this run
    seconds: float = 0.0

    def summary(self) -> str:
        lines = [
            f"cache {self.cache_dir}: {len(self.done)} prepared, {self.reused} reused, "
            f"{len(self.skipped)} skipped in {self.seconds:.1f} s"
        ]
        if self.rebuilt:
            first = next(iter(self.rebuilt.values()))
            lines.append(f"  recomputed {len(self.rebuilt)} stale or broken cached tracks (e.g. {first})")
        reasons = Counter(v["reason"] for v in self.skipped.values())  # a bad track and its variants: one line
        lines += [f"  skipped {r}" + (f" ({n} tracks/variants)" if n > 1 else "") for r, n in reasons.items()]
        return "\n".join(lines)


class FeatureCache:
    """One cache directory: the spec it was made for, its manifest and its tracks."""

    def __init__(self, directory: Path, spec: dict):
        self.directory = Path(directory)
        self.spec = spec
        self.tracks_dir = self.directory / "tracks"
        self.tmp_dir = self.directory / "tmp"

    @classmethod
    def for_config(cls, cache_root, index_name: str, index_identity: dict, features, policy: TargetPolicy,
                   note_map: str) -> FeatureCache:
        spec = {
            "version": CACHE_VERSION,
            "features": features.config_dict(),
            "policy": asdict(policy),
            "note_map": note_map,
            "fine_classes": policy.vocab.fine_classes,
            "target_names": target_names(policy),
            "data": index_identity,
        }
        directory = Path(cache_root).expanduser().resolve() / f"{index_name}-{_short_hash(spec)}"
        return cls(directory, spec)

    def create(self) -> None:
        self.tracks_dir.mkdir(parents=True, exist_ok=True)
        self.tmp_dir.mkdir(exist_ok=True)
        spec_path = self.directory / "spec.json"
        if spec_path.exists():
            stored = json.loads(spec_path.read_text())
            if json.loads(json.dumps(self.spec, default=str)) != stored:
                raise RuntimeError(f"{spec_path}: cache spec differs from the config (hash collision?)")
        else:
            write_json(spec_path, self.spec, indent=1, sort_keys=True)

    # ---- manifest -------------------------------------------------------------------------
    def manifest(self) -> dict[str, dict]:
        path = self.directory / "manifest.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def rebuild_manifest(self) -> dict[str, dict]:
        """The manifest made consistent with ``tracks/``: drop vanished, add unlisted dirs."""
        manifest = self.manifest()
        present = {e.name for e in os.scandir(self.tracks_dir)} if self.tracks_dir.is_dir() else set()
        manifest = {k: v for k, v in manifest.items() if v["dir"] in present}
        listed = {v["dir"] for v in manifest.values()}
        for name in sorted(present - listed):
            try:
                meta = json.loads((self.tracks_dir / name / "meta.json").read_text())
            except (OSError, ValueError):
                shutil.rmtree(self.tracks_dir / name, ignore_errors=True)  # not ours or torn: redo
                continue
            manifest[meta["key"]] = manifest_entry(meta)
        return manifest

    def save_manifest(self, manifest: dict) -> None:
        write_json(self.directory / "manifest.json", manifest, indent=1, sort_keys=True)

    def skipped(self) -> dict[str, dict]:
        path = self.directory / "skipped.json"
        return json.loads(path.read_text()) if path.exists() else {}

    # ---- tracks ---------------------------------------------------------------------------
    def track_dir(self, key: str) -> Path:
        return self.tracks_dir / _safe_name(key)

    def load(self, key: str, mmap: bool = True) -> CachedTrack:
        d = self.track_dir(key)
        arrays = load_arrays(d, key, mmap)
        meta = json.loads((d / "meta.json").read_text())
        return CachedTrack(key=key, meta=meta, directory=d, **arrays)

    def check(self, key: str, entry: dict, sources: dict[str, str | None], full: bool = False) -> str | None:
        """Why the cached track ``key`` (its manifest ``entry``) must not be reused, or None.

        Args:
            key: the track key; entry: its manifest entry.
            sources: ``{"audio": path, "midi": path}`` the track is made from now.
            full: also compare the arrays' SHA-1 with the manifest and read them back
                (shapes, finite log-mel); otherwise only byte sizes and source identities.
        Returns:
            a one-line reason naming the file, or None when the track is sound.
        """
        if "files" not in entry or "source" not in entry:
            return f"{key}: {UNRECORDED}"
        for role, path in sources.items():
            if path and source_identity(path) != entry["source"].get(role):
                return f"{path}: changed since it was cached (size or mtime)"
        d = self.tracks_dir / entry["dir"]
        for name in ARRAYS:
            path, want = d / f"{name}.npy", entry["files"].get(name) or {}
            have = source_identity(path)
            if have is None:
                return f"{path}: missing"
            if have["bytes"] != want.get("bytes"):
                return f"{path}: {have['bytes']} bytes, {want.get('bytes')} recorded (truncated or rewritten)"
            if full and file_sha1(path) != want.get("sha1"):
                return f"{path}: SHA-1 differs from the manifest (corrupt)"
        if full:
            try:
                arrays = load_arrays(d, key, mmap=False)
            except CacheError as exc:
                return str(exc)
            if arrays["roll"].shape[0] != entry.get("n_frames"):
                return f"{d}: {arrays['roll'].shape[0]} frames, {entry.get('n_frames')} recorded"
            if not np.isfinite(arrays["mel"]).all():
                return f"{d / 'mel.npy'}: non-finite values"
        return None

    def adopt(self, key: str, entry: dict, sources: dict[str, str | None]) -> dict | None:
        """Give a track cached before the integrity records existed its records, if it is sound
        and no source file is newer than it (so an E-GMD cache is read once, not recomputed).

        Returns:
            the new manifest entry (also written to the track's ``meta.json``), or None when the
            track must be recomputed (a source newer than the track, unreadable or non-finite arrays).
        """
        d = self.tracks_dir / entry["dir"]
        try:
            made = (d / "meta.json").stat().st_mtime_ns
            meta = json.loads((d / "meta.json").read_text())
            arrays = load_arrays(d, key, mmap=False)
        except (OSError, ValueError, CacheError):
            return None
        source = {role: source_identity(path) for role, path in sources.items()}
        if any(path and (source[role] is None or source[role]["mtime_ns"] > made) for role, path in sources.items()):
            return None
        if arrays["roll"].shape[0] != entry.get("n_frames") or not np.isfinite(arrays["mel"]).all():
            return None
        meta["files"] = {n: {"bytes": (d / f"{n}.npy").stat().st_size, "sha1": file_sha1(d / f"{n}.npy")}
                         for n in ARRAYS}
        meta["source"] = source
        write_json(d / "meta.json", meta, indent=1, sort_keys=True)
        return manifest_entry(meta)

    @contextmanager
    def lock(self):
        """Serialise preparation of one cache across processes (DDP ranks, parallel sweeps).

        A :class:`filelock.FileLock` (a maintained, cross-platform lock file) rather than bare
        ``fcntl``, which does not exist on Windows and left that platform unlocked.
        """
        from filelock import FileLock

        self.directory.mkdir(parents=True, exist_ok=True)
        with FileLock(self.directory / ".lock"):
            yield


def manifest_entry(meta: dict) -> dict:
    keys = ("dir", "n_frames", "duration", "variant_of", "params", "split", "files", "source")
    return {k: meta[k] for k in keys if k in meta}


# ---- orchestration ---------------------------------------------------------------------------
def plan_jobs(tracks: Iterable, cache: FeatureCache, variants: VariantSpec | None = None,
              variant_splits: Iterable[str] = ("train",)) -> list[dict]:
    """One job per track (and per variant of tracks in ``variant_splits``)."""
    spec = cache.spec
    common = {"features": spec["features"], "policy": spec["policy"], "note_map": spec["note_map"],
              "tmp_root": str(cache.tmp_dir)}
    jobs = []
    for t in tracks:
        base = {**common, "midi": str(t.midi), "audio": str(t.audio) if t.audio else None, "split": t.split}
        jobs.append({**base, "key": t.key, "final_dir": str(cache.track_dir(t.key))})
        if variants is not None and t.split in variant_splits:
            for i in range(variants.copies):
                vkey = variants.key(t.key, i)
                jobs.append({**base, "key": vkey, "final_dir": str(cache.track_dir(vkey)), "variant_of": t.key,
                             "params": variants.params(t.key, i)})
    return jobs


def _precheck(job: dict) -> str | None:
    """Reasons known without decoding (so the pool never starts for them)."""
    if not Path(job["midi"]).is_file():
        return f"{job['midi']}: MIDI file missing"
    if not job["audio"]:
        return f"{job['midi']}: no audio file for this track"
    if not Path(job["audio"]).is_file():
        return f"{job['audio']}: audio file missing"
    return None


def prepare_cache(
    cache: FeatureCache,
    tracks: list,
    variants: VariantSpec | None = None,
    variant_splits: Iterable[str] = ("train",),
    num_workers: int = 2,
    retry_failed: bool = True,
    progress: bool = True,
    mp_context: str | None = None,
    verify: str = "size",
) -> PrepareReport:
    """Compute every missing track (and variant) of ``tracks`` into ``cache``.

    Resumable: finished tracks are reused while :meth:`FeatureCache.check` finds them sound
    (``verify="size"``: source identities and array sizes; ``"full"``: also checksums and
    contents); others are recomputed and listed in ``report.rebuilt``. Tracks that failed
    before are retried only with ``retry_failed`` (failures are remembered in ``skipped.json``).
    """
    if verify not in VERIFY_MODES:
        raise ValueError(f"verify must be size or full, got {verify!r}")
    from tqdm.auto import tqdm

    start = time.time()
    report = PrepareReport(cache.directory)
    with cache.lock():
        cache.create()
        shutil.rmtree(cache.tmp_dir, ignore_errors=True)
        cache.tmp_dir.mkdir()
        manifest = cache.rebuild_manifest()
        skipped = cache.skipped()
        jobs = []
        for job in plan_jobs(tracks, cache, variants, variant_splits):
            if job["key"] in manifest:
                reason = cache.check(job["key"], manifest[job["key"]], {"audio": job["audio"], "midi": job["midi"]},
                                     full=verify == "full")
                if reason is not None and reason.endswith(UNRECORDED):
                    sources = {"audio": job["audio"], "midi": job["midi"]}
                    if (adopted := cache.adopt(job["key"], manifest[job["key"]], sources)) is not None:
                        manifest[job["key"]], reason = adopted, None
                if reason is None:
                    report.reused += 1
                    continue
                report.rebuilt[job["key"]] = reason
                log.warning("recomputing %s: %s", job["key"], reason)
                del manifest[job["key"]]
                shutil.rmtree(cache.track_dir(job["key"]), ignore_errors=True)
            if job["key"] in skipped and not retry_failed:
                report.skipped[job["key"]] = skipped[job["key"]]
            elif (reason := _precheck(job)) is not None:
                report.skipped[job["key"]] = skipped[job["key"]] = {"path": job["audio"] or job["midi"],
                                                                    "reason": reason}
            else:
                jobs.append(job)
        bar = tqdm(total=len(jobs), desc=f"prepare {cache.directory.name}", unit="track", disable=not progress)
        last_save = [time.time()]

        def on_result(job: dict, result: dict) -> None:
            bar.update(1)
            if result["ok"]:
                meta = result["meta"]
                manifest[job["key"]] = manifest_entry(meta)
                skipped.pop(job["key"], None)
                report.done.append(job["key"])
                report.counts.update(_counts_from_dict(meta["counts"]))
            else:
                entry = {"path": job["audio"] or job["midi"], "reason": result["reason"]}
                skipped[job["key"]] = report.skipped[job["key"]] = entry
                bar.write(f"skipped {entry['reason']}")
            if time.time() - last_save[0] > 30:  # progress survives a kill, not only a clean stop
                cache.save_manifest(manifest)
                last_save[0] = time.time()

        try:
            run_jobs(jobs, num_workers, on_result, mp_context)
        finally:
            bar.close()
            cache.save_manifest(manifest)
            write_json(cache.directory / "skipped.json", {k: v for k, v in skipped.items() if k not in manifest}, indent=1, sort_keys=True)
            shutil.rmtree(cache.tmp_dir, ignore_errors=True)
    report.seconds = time.time() - start
    return report


def _counts_from_dict(d: dict) -> LabelCounts:
    counts = LabelCounts()
    for name, values in d.items():
        getattr(counts, name).update({k: int(v) for k, v in values.items()})
    return counts


# ---- the configured dataset as seen by the cache (no Lightning needed) ---------------------------------
SPLITS = ("train", "validation", "test")


class DataSource:
    """A ``data`` config resolved: dataset index, target policy, features, cache, variants.

    What ``python -m drumtx.prepare`` and :class:`~drumtx.data.datamodule.DrumDataModule`
    share, so both compute the same cache key and prepare the same tracks.
    """

    def __init__(self, data_config: dict, features, policy: TargetPolicy, note_map: str, cache_root,
                 variants: VariantSpec | None = None, max_tracks: int | None = None, prepare_workers: int = 2,
                 fit_kit_names: list[str] | None = None):
        from drumtx.data.datasets import as_list

        self.data_config = dict(data_config)
        self.features, self.policy, self.note_map = features, policy, note_map
        self.cache_root = Path(str(cache_root))
        self.variants, self.max_tracks, self.prepare_workers = variants, max_tracks, int(prepare_workers)
        # data.fit_kit_names: the train and validation splits hold only those kits' tracks
        self.fit_kit_names = as_list(fit_kit_names, "data.fit_kit_names") or None
        self._index = None
        self._cache = None

    @classmethod
    def from_config(cls, cfg) -> DataSource:
        """From a composed entry config (``cfg.data``, ``cfg.features``, optional ``cfg.augmentation``)."""
        from hydra.utils import instantiate
        from omegaconf import OmegaConf

        data = OmegaConf.to_container(cfg.data, resolve=True)
        aug = cfg.get("augmentation")
        variants = VariantSpec.from_config(OmegaConf.to_container(aug, resolve=True).get("audio_variants")) if aug else None
        return cls(data, instantiate(cfg.features), TargetPolicy(**(data.get("targets") or {})),
                   data.get("note_map", "roland_td17"), data.get("cache_dir", "cache"), variants,
                   data.get("max_tracks"), data.get("prepare_workers", 2), data.get("fit_kit_names"))

    @property
    def index(self):
        if self._index is None:
            from drumtx.data.datasets import build_index

            self._index = build_index(self.data_config)
        return self._index

    @property
    def cache(self) -> FeatureCache:
        if self._cache is None:
            self._cache = FeatureCache.for_config(self.cache_root, self.index.name, self.index.identity, self.features,
                                                  self.policy, self.note_map)
        return self._cache

    def split_tracks(self, split: str, max_tracks: int | None = None) -> list:
        """The tracks of ``split`` that are used: for ``train`` and ``validation`` only the kits
        of ``fit_kit_names`` (when set), then at most ``max_tracks`` (default: ``data.max_tracks``)
        of those, a fixed spread-out subset (:meth:`~drumtx.data.datasets.DatasetIndex.split`).
        The kit filter comes first, so the cap counts tracks of the kits asked for."""
        return self.index.split(split, self.max_tracks if max_tracks is None else max_tracks, self._fit_filter(split))

    def _fit_filter(self, split: str):
        if not self.fit_kit_names or split not in ("train", "validation"):
            return None
        from drumtx.data.datasets import kit_filter

        kits = self.fit_kit_names
        return lambda t: kit_filter(t.meta, kits, None)

    def keys(self, split: str, with_variants: bool = True) -> list[str]:
        """Cache keys of a split: its tracks, plus their variants for ``train``."""
        return [k for t in self.split_tracks(split) for k in (self.keys_of(t) if with_variants else [t.key])]

    def missing_keys(self, splits=SPLITS) -> list[str]:
        """Wanted keys neither in the cache nor known to be unusable."""
        manifest, skipped = self.cache.manifest(), self.cache.skipped()
        return [k for s in splits for k in self.keys(s) if k not in manifest and k not in skipped]

    def stale_keys(self, splits=SPLITS) -> dict[str, str]:
        """Cached keys that must be recomputed -> why (source changed, array truncated...):
        :meth:`FeatureCache.check` without checksums (a ``stat`` per file)."""
        manifest, out = self.cache.manifest(), {}
        for s in splits:
            for t in self.split_tracks(s):
                sources = {"audio": str(t.audio) if t.audio else None, "midi": str(t.midi)}
                for k in self.keys_of(t):
                    if k in manifest and (reason := self.cache.check(k, manifest[k], sources)) is not None:
                        out[k] = reason
        return out

    def keys_of(self, track) -> list[str]:
        """The cache keys made from one track: its own, and its variants for ``train``."""
        keys = [track.key]
        if track.split == "train" and self.variants is not None:
            keys += [self.variants.key(track.key, i) for i in range(self.variants.copies)]
        return keys

    def prepare(self, splits=SPLITS, retry_failed: bool = False, num_workers: int | None = None,
                progress: bool = True, verify: str = "size") -> PrepareReport:
        tracks = [t for s in splits for t in self.split_tracks(s)]
        workers = self.prepare_workers if num_workers is None else int(num_workers)
        return prepare_cache(self.cache, tracks, self.variants, num_workers=workers, retry_failed=retry_failed,
                             progress=progress, verify=verify)
