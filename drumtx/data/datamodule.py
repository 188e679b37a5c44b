"""The LightningDataModule: cached features in, training crops and whole evaluation tracks out.

Build it from the composed config (``features`` and ``augmentation`` stay configs; the module
instantiates them)::

    dm = hydra.utils.instantiate(cfg.data, features=cfg.features, augmentation=cfg.augmentation,
                                 _recursive_=False)
    # or, the same: dm = DrumDataModule.from_config(cfg)

``prepare_data()`` fills the feature cache when tracks are missing (same code as
``python -m drumtx.prepare``), so ``python -m drumtx.train`` works on a fresh checkout.
"""

from __future__ import annotations

import bisect
import fnmatch
import functools
import json
import logging
import math
import random
from collections import OrderedDict
from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from drumtx.data.augment import Augmentation
from drumtx.data.cache import (
    SPLITS,
    DataSource,
    FeatureCache,
    PrepareReport,
    VariantSpec,
    load_arrays,
)
from drumtx.data.cache_jobs import target_names
from drumtx.data.datasets import DatasetError, DatasetIndex, Track
from drumtx.features import LogMel
from drumtx.targets import Onset, TargetPolicy, hierarchical_targets
from drumtx.vocab import Vocabulary

log = logging.getLogger(__name__)

class _TrackReader:
    """Memory-mapped arrays of cached tracks, a bounded number open at a time per process.

    Bounded because every open map counts against ``vm.max_map_count`` (65530 by default),
    and E-GMD has 45k tracks with four arrays each.
    """

    def __init__(self, tracks_dir: Path, max_open: int = 256):
        self.tracks_dir = Path(tracks_dir)
        self.max_open = max_open
        self._open: OrderedDict = OrderedDict()

    def __getstate__(self):  # workers open their own maps
        return {"tracks_dir": self.tracks_dir, "max_open": self.max_open}

    def __setstate__(self, state):
        self.__init__(**state)

    def __call__(self, dirname: str, key: str | None = None) -> dict[str, np.ndarray]:
        """The track's arrays; a missing, truncated or unreadable file is a one-line
        :class:`~drumtx.data.cache.CacheError` naming the track (``key``) and the file."""
        arrays = self._open.get(dirname)
        if arrays is None:
            arrays = load_arrays(self.tracks_dir / dirname, key or dirname)
            self._open[dirname] = arrays
            if len(self._open) > self.max_open:
                self._open.popitem(last=False)
        else:
            self._open.move_to_end(dirname)
        return arrays


def _example(arrays: dict, start: int, length: int, names: list[str], pad_value: float) -> dict:
    """Frames ``[start, start + length)`` of one track, zero-padded (mask False) past its end.

    A negative ``start`` puts ``-start`` frames of silence (``pad_value``, no onsets, mask True:
    scored as silence) before the track's first frame.
    """
    n = arrays["roll"].shape[0]
    lead, first = max(0, -start), max(0, start)
    stop = min(start + length, n)
    real = max(0, stop - first)
    span = slice(lead, lead + real)
    mel = np.full((arrays["mel"].shape[0], length), pad_value, dtype=np.float32)
    mel[:, span] = arrays["mel"][:, first:stop]
    roll = np.zeros((length, arrays["roll"].shape[1]), dtype=np.float32)
    roll[span] = arrays["roll"][first:stop]
    velocity = np.zeros_like(roll)
    velocity[span] = arrays["velocity"][first:stop]
    targets = np.zeros((length, len(names)), dtype=np.int64)
    targets[span] = arrays["targets"][first:stop]
    mask = np.zeros(length, dtype=bool)
    mask[: lead + real] = True
    return {
        "mel": torch.from_numpy(mel),
        "roll": torch.from_numpy(roll),
        "velocity": torch.from_numpy(velocity),
        "targets": {name: torch.from_numpy(np.ascontiguousarray(targets[:, k])) for k, name in enumerate(names)},
        "mask": torch.from_numpy(mask),
    }


class CropDataset(Dataset):
    """Random fixed-length crops for training.

    An epoch holds ``sum(ceil(T / crop))`` crops, each track drawn in proportion to its
    length (about one pass over the data); the crop start is uniform in the track. A track's
    ``weight`` multiplies its crops (``round(weight * ceil(T / crop))``, at least 1): a weight of
    4 serves it four times as often, and the epoch grows accordingly (epoch-based warm-up and
    patience stretch with it unless ``trainer.limit_train_batches`` fixes the epoch).

    With ``lead_silence_prob`` > 0, that share of crops instead starts 1 to
    ``lead_silence_frames`` frames (uniform) before the track: silence, then the track's first
    frames. Why: a hit on a file's first frame is missed by a model that has only seen tracks
    begin at a crop's edge (experiments/edge_silence/: the shipped v2 finds 65.8 % of first hits);
    inference can pad the file with silence (``inference.edge_silence_seconds``), but that costs
    fills elsewhere, so the model should learn the lead-in itself.

    Index with ``(i, seed)`` (what :class:`CropSampler` yields): the crop start is drawn from
    ``seed``, so a crop depends on the epoch's seed only, never on which process draws it; a
    plain ``i`` draws from torch's RNG (the DataLoader seeds it per worker).

    Args:
        reader: the cache's track reader.
        entries: ``(key, track directory, n_frames)`` per training track.
        crop_frames: crop length in frames.
        weights: one positive weight per entry (default: all 1).
        names: the hierarchical target names (:func:`drumtx.data.cache_jobs.target_names`).
        pad_value: log-mel value of silence, for crops past a track's end.
        lead_silence_prob: share of crops that start with silence before the track, in [0, 1].
        lead_silence_frames: the longest such lead, in frames (>= 1 when the share is > 0).

    Examples are dicts: ``mel`` float32 (n_mels, crop); ``roll`` and ``velocity`` float32
    (crop, C), velocity / 127 at onset frames; ``targets`` {name: int64 (crop,)}; ``mask`` bool
    (crop,), False past the track's end; ``track`` (key), ``chunk_start`` (first frame, negative
    for a crop that starts with silence) and, indexed with a seed, ``seed``.

    Raises:
        ValueError: ``entries`` is empty, ``weights`` is not one positive number per entry, or the
            lead silence is out of range.
        drumtx.data.cache.CacheError: a cached track cannot be read (when indexed).
    """

    def __init__(self, reader: _TrackReader, entries: list[tuple[str, str, int]], crop_frames: int,
                 names: list[str], pad_value: float, weights: list[float] | None = None,
                 lead_silence_prob: float = 0.0, lead_silence_frames: int = 0):
        if not entries:
            raise ValueError("no training tracks in the cache")
        if not 0 <= lead_silence_prob <= 1 or (lead_silence_prob > 0 and lead_silence_frames < 1):
            raise ValueError(f"lead silence needs a share in [0, 1] and at least one frame, got "
                             f"{lead_silence_prob} and {lead_silence_frames} frames")
        self.lead_prob, self.lead_frames = float(lead_silence_prob), int(lead_silence_frames)
        weights = [1.0] * len(entries) if weights is None else [float(w) for w in weights]
        if len(weights) != len(entries) or not all(0 < w < math.inf for w in weights):
            raise ValueError(f"{len(entries)} training tracks need as many positive, finite weights, got {weights}")
        self.reader, self.entries, self.crop = reader, entries, int(crop_frames)
        self.names, self.pad_value = names, pad_value
        self.cum = np.cumsum(
            [max(1, round(w * math.ceil(n / self.crop))) for (_, _, n), w in zip(entries, weights, strict=True)]
        ).tolist()

    def __len__(self) -> int:
        return self.cum[-1]

    def __getitem__(self, index) -> dict:
        i, seed = index if isinstance(index, tuple) else (index, None)
        key, dirname, n = self.entries[bisect.bisect_right(self.cum, i)]
        high = max(1, n - self.crop + 1)
        rng = None if seed is None else np.random.default_rng(seed)

        def integer(lo: int, hi: int) -> int:  # uniform in [lo, hi), from the seed where given
            return int(torch.randint(lo, hi, (1,))) if rng is None else int(rng.integers(lo, hi))

        start = integer(0, high)
        # (drawn after the start: a share of 0 leaves every crop as it was)
        if self.lead_prob > 0 and (float(torch.rand(1)) if rng is None else rng.random()) < self.lead_prob:
            start = -integer(1, self.lead_frames + 1)
        ex = _example(self.reader(dirname, key), start, self.crop, self.names, self.pad_value)
        ex["track"] = key  # named in errors (a non-finite loss names its batch's tracks)
        ex["chunk_start"] = torch.tensor(start, dtype=torch.int64)
        if seed is not None:
            ex["seed"] = seed
        return ex


class CropSampler(torch.utils.data.Sampler):
    """The training order: a permutation of the crops plus one seed per crop, both drawn from
    ``(seed, epoch)`` alone.

    Why: crops and augmentation then do not depend on DataLoader workers (how many, or how far
    their RNGs have advanced), so a run resumed from an epoch-end ``last.ckpt`` sees exactly
    the batches of an uninterrupted run, with any ``data.num_workers``. Lightning calls
    :meth:`set_epoch` before each epoch (also through its distributed sampler wrapper), the way
    torch's ``DistributedSampler`` is seeded.

    Yields:
        ``(crop index, crop seed)`` tuples for :class:`CropDataset`.
    """

    def __init__(self, n: int, seed: int):
        self.n, self.seed, self.epoch, self.skip = int(n), int(seed), 0, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def skip_once(self, n: int) -> None:
        """Leave out the first ``n`` items of the next pass only (a mid-epoch resume: Lightning
        continues its batch count but restarts the loader)."""
        self.skip = int(n)

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed + 1_000_003 * self.epoch)
        order = torch.randperm(self.n, generator=g).tolist()
        seeds = torch.randint(0, 2**62, (self.n,), generator=g).tolist()
        skip, self.skip = self.skip, 0
        yield from zip(order[skip:], seeds[skip:], strict=True)


class ChunkDataset(Dataset):
    """Whole tracks, in order, cut into consecutive chunks of ``chunk_frames``.

    Each example carries ``track`` (key) and ``chunk_start`` (frame offset): concatenating a
    track's chunks (masked frames dropped) restores the whole track. The other keys and shapes
    are :class:`CropDataset`'s with ``chunk_frames`` for the crop (a track's last chunk is
    padded, mask False); the arguments are too, ``entries`` in the order served.

    Raises:
        drumtx.data.cache.CacheError: a cached track cannot be read (when indexed).
    """

    def __init__(self, reader: _TrackReader, entries: list[tuple[str, str, int]], chunk_frames: int,
                 names: list[str], pad_value: float):
        self.reader, self.entries, self.names, self.pad_value = reader, entries, names, pad_value
        self.items = [(k, d, s, min(chunk_frames, n - s)) for k, d, n in entries for s in range(0, n, chunk_frames)]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict:
        key, dirname, start, length = self.items[i]
        ex = _example(self.reader(dirname, key), start, length, self.names, self.pad_value)
        ex["track"] = key
        ex["chunk_start"] = torch.tensor(start, dtype=torch.int64)
        return ex


def pad_collate(examples: list[dict], pad_value: float) -> dict:
    """Stack examples, padding time to the longest (padding: silence, zero targets, mask False)."""
    t = max(ex["mask"].shape[0] for ex in examples)

    def pad(x: torch.Tensor, dim: int, value=0) -> torch.Tensor:
        missing = t - x.shape[dim]
        if not missing:
            return x
        shape = list(x.shape)
        shape[dim] = missing
        return torch.cat([x, torch.full(shape, value, dtype=x.dtype)], dim=dim)

    batch = {
        "mel": torch.stack([pad(ex["mel"], 1, pad_value) for ex in examples]),
        "roll": torch.stack([pad(ex["roll"], 0) for ex in examples]),
        "velocity": torch.stack([pad(ex["velocity"], 0) for ex in examples]),
        "targets": {n: torch.stack([pad(ex["targets"][n], 0) for ex in examples]) for n in examples[0]["targets"]},
        "mask": torch.stack([pad(ex["mask"], 0, False) for ex in examples]),
    }
    if "track" in examples[0]:
        batch["track"] = [ex["track"] for ex in examples]
        batch["chunk_start"] = torch.stack([ex["chunk_start"] for ex in examples])
    return batch


def _retarget(roll: np.ndarray, vocab: Vocabulary, policy: TargetPolicy) -> dict[str, np.ndarray]:
    return hierarchical_targets(roll, vocab, policy)


class TrainCollate:
    """Collate + on-the-fly augmentation; only the training DataLoader uses it."""

    def __init__(self, augmentation: Augmentation, log_eps: float, pad_value: float, policy: TargetPolicy):
        self.augmentation, self.log_eps, self.pad_value = augmentation, log_eps, pad_value
        self.retarget = functools.partial(_retarget, vocab=policy.vocab, policy=policy)

    def __call__(self, examples: list[dict]) -> dict:
        seeds = [ex.pop("seed") for ex in examples if "seed" in ex]
        batch = pad_collate(examples, self.pad_value)
        if self.augmentation.active:
            # Drawn from the crops' seeds (CropSampler), not from the worker's RNG: the same
            # batch gets the same augmentation in any process (exact resume with workers).
            generator = torch.Generator().manual_seed(seeds[0]) if seeds else None
            batch = self.augmentation(batch, self.log_eps, self.retarget, generator)
        return batch


def seed_worker(worker_id: int) -> None:
    """Seed numpy and random in each DataLoader worker from torch's per-worker seed."""
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def _instantiate(obj, default_cls):
    if obj is None:
        return default_cls()
    if isinstance(obj, torch.nn.Module | Augmentation):
        return obj
    from hydra.utils import instantiate

    return instantiate(obj)


def _kit_weights(spec) -> dict[str, float]:
    """``data.train_kit_weights`` as {pattern: weight}, checked by the config's own rule (the
    commands check it before they start; this covers a module built in Python).

    Raises:
        drumtx.config_schema.ConfigValueError: not a mapping of positive numbers (one line).
    """
    from drumtx.config_schema import TRAIN

    checked = TRAIN["data.train_kit_weights"].check("data.train_kit_weights", spec)
    return {str(pattern): float(w) for pattern, w in (checked or {}).items()}


class DrumDataModule(pl.LightningDataModule):
    """Serves the cached dataset described by a ``data`` config.

    Construction (``_recursive_=False`` keeps ``features``/``augmentation`` as configs)::

        dm = hydra.utils.instantiate(cfg.data, features=cfg.features,
                                     augmentation=cfg.augmentation, _recursive_=False)
        dm = DrumDataModule.from_config(cfg)  # the same
        dm.prepare_data(); dm.setup("fit")

    ``val_max_tracks`` caps the validation split to a fixed, spread-out subset, so that a run
    with a wall-clock budget spends it training rather than validating; threshold tuning and
    evaluation ignore it and use the whole split.

    ``fit_kit_names`` (fnmatch patterns of the ``kit_name`` column) keeps only those kits'
    tracks in the train and validation splits: a kit-variety ablation trains as if the other
    kits did not exist. The test split is never filtered here (``drumtx.evaluate`` has its own
    ``kit_names``).

    ``train_kit_weights`` ({fnmatch pattern of ``kit_name``: weight > 0}; the first matching
    pattern counts, other tracks weigh 1) serves the matching training tracks ``weight`` times as
    often per epoch (:class:`CropDataset`): e.g. ``{none+music: 4}`` for more music without drums.

    ``lead_silence_prob`` of the training crops start up to ``lead_silence_seconds`` before the
    track, on silence (:class:`CropDataset`); a model trained so hears that much silence around a
    file at inference (:func:`drumtx.inference.trained_lead_silence`).

    ``features`` / ``augmentation`` may also be a :class:`LogMel` / :class:`Augmentation`
    instance or None (defaults). ``synth`` is the recipe that rendered the dataset
    (``python -m drumtx.synth`` reads it; kept here as ``synth_config``); any other key is refused
    before the run starts (:func:`drumtx.config_schema.check_targets`).

    Batches (dict): ``mel`` float32 (B, n_mels, T); ``roll`` float32 (B, T, C); ``targets``
    {name: int64 (B, T)} for :func:`target_names`; ``velocity`` float32 (B, T, C); ``mask``
    bool (B, T); ``track`` (list[str], the track keys) and ``chunk_start`` int64 (B,), the
    first frame of each example in its track. Validation/test batches are padded only to the
    longest chunk in the batch. Training batches are random crops of ``crop_seconds`` with the
    augmentation applied.
    """

    def __init__(
        self,
        name: str,
        root: str,
        format: str = "egmd",  # noqa: A002 - the config key
        csv: str | None = None,
        note_map: str = "roland_td17",
        targets: dict | None = None,
        splits: dict | None = None,
        crop_seconds: float = 4.0,
        eval_chunk_seconds: float = 30.0,
        batch_size: int = 16,
        num_workers: int = 2,
        max_tracks: int | None = None,
        val_max_tracks: int | None = None,
        fit_kit_names: list[str] | None = None,
        train_kit_weights: dict[str, float] | None = None,
        lead_silence_prob: float = 0.0,
        lead_silence_seconds: float = 1.0,
        cache_dir: str = "cache",
        folder_split: dict | None = None,
        features=None,
        augmentation=None,
        prepare_workers: int = 2,
        auto_prepare: bool = True,
        leak_check: str = "raise",
        pin_memory: bool = False,
        synth: dict | None = None,
    ) -> None:
        super().__init__()
        from omegaconf import DictConfig, OmegaConf

        def plain(x):
            return OmegaConf.to_container(x, resolve=True) if isinstance(x, DictConfig) else x

        data_config = {
            "name": name, "root": str(root), "format": format, "csv": csv, "splits": plain(splits),
            "folder_split": plain(folder_split), "leak_check": leak_check,
            "synth": bool(synth),  # a recipe drumtx renders: build_index says how, when not rendered yet
        }
        policy = TargetPolicy(**(plain(targets) or {}))
        self.features: LogMel = _instantiate(features, LogMel)
        self.augmentation: Augmentation = _instantiate(augmentation, Augmentation).bind(self.features)
        self.source = DataSource(data_config, self.features, policy, note_map, cache_dir,
                                 VariantSpec.from_config(self.augmentation.audio_variants), max_tracks, prepare_workers,
                                 plain(fit_kit_names))
        self.policy = policy
        self.vocab = policy.vocab
        self.fps = self.features.fps
        self.target_names = target_names(policy)
        self.crop_frames = max(1, int(round(crop_seconds * self.fps)))
        self.chunk_frames = max(1, int(round(eval_chunk_seconds * self.fps)))
        self.batch_size, self.num_workers = int(batch_size), int(num_workers)
        self.auto_prepare, self.pin_memory = auto_prepare, pin_memory
        self.val_max_tracks = None if val_max_tracks is None else int(val_max_tracks)
        self.fit_kit_names = self.source.fit_kit_names
        self.train_kit_weights = _kit_weights(plain(train_kit_weights))
        self.lead_silence_prob = float(lead_silence_prob)
        self.lead_silence_frames = max(1, int(round(float(lead_silence_seconds) * self.fps)))
        self.synth_config = plain(synth)
        self._entries: dict[str, list[tuple[str, str, int]]] = {}
        self._set_up = False
        self._train_weights: list[float] | None = None

    @classmethod
    def from_config(cls, cfg) -> DrumDataModule:
        from hydra.utils import instantiate

        return instantiate(cfg.data, features=cfg.features, augmentation=cfg.augmentation, _recursive_=False)

    # ---- dataset and cache (see drumtx.data.cache.DataSource) ---------------------------------------
    @property
    def index(self) -> DatasetIndex:
        return self.source.index

    @property
    def cache(self) -> FeatureCache:
        return self.source.cache

    @property
    def variants(self) -> VariantSpec | None:
        return self.source.variants

    def split_tracks(self, split: str) -> list[Track]:
        return self.source.split_tracks(split)

    def validation_keys(self) -> set[str] | None:
        """The keys of the fixed spread-out validation subset ``val_max_tracks`` keeps (the same
        every epoch, see :meth:`DatasetIndex.split`); None without a cap."""
        if self.val_max_tracks is None:
            return None
        return {t.key for t in self.source.split_tracks("validation", self.val_max_tracks)}

    def prepare(self, splits=SPLITS, retry_failed: bool = False, num_workers: int | None = None,
                progress: bool = True) -> PrepareReport:
        """Compute the missing tracks of ``splits`` (and training variants) into the cache:
        the code behind both ``python -m drumtx.prepare`` and :meth:`prepare_data`."""
        return self.source.prepare(splits, retry_failed, num_workers, progress)

    def prepare_data(self) -> None:
        """Fill the cache when tracks are missing, and recompute cached tracks whose source
        files changed or whose arrays are truncated (a no-op otherwise)."""
        missing, stale = self.source.missing_keys(), self.source.stale_keys()
        if not missing and not stale:
            return
        if not self.auto_prepare:
            why = f"; e.g. {next(iter(stale.values()))}" if stale else ""
            raise DatasetError(f"{len(missing)} tracks missing from and {len(stale)} stale in {self.cache.directory}"
                               f"{why}; run python -m drumtx.prepare")
        log.info("preparing %d missing and %d stale tracks into %s", len(missing), len(stale), self.cache.directory)
        report = self.prepare()
        log.info(report.summary())

    def setup(self, stage: str | None = None) -> None:
        """Fill the cache if needed (:meth:`prepare_data`) and list each split's prepared tracks.
        Once: ``drumtx.train`` calls it before the parameter table and the first log, so bad data
        is refused before the run folder holds anything (what needs no data, ``init_weights`` and
        the Trainer's values, is checked before it); Lightning's later calls do nothing.

        Raises:
            drumtx.data.datasets.DatasetError: no dataset root, ``data.fit_kit_names`` matching
                no train or validation track, a ``data.train_kit_weights`` pattern matching none.
        """
        if self._set_up:
            return
        self.prepare_data()  # a no-op when every track is cached and sound
        manifest = self.cache.manifest()
        lost = 0
        for split in SPLITS:
            keys = self.source.keys(split)
            # fit_kit_names: DataSource.split_tracks keeps only those kits' train/validation tracks,
            # before data.max_tracks (and val_max_tracks) count them
            if split in ("train", "validation") and self.fit_kit_names and not keys:
                raise DatasetError(f"data.fit_kit_names={self.fit_kit_names} matches no {split} track's kit_name")
            keep = self.validation_keys() if split == "validation" else None
            if keep is not None:
                keys = [k for k in keys if k in keep]
            self._entries[split] = [(k, manifest[k]["dir"], int(manifest[k]["n_frames"])) for k in keys if k in manifest]
            lost += len(keys) - len(self._entries[split])
        if lost:
            log.warning("%d tracks unavailable (reasons in %s)", lost, self.cache.directory / "skipped.json")
        if self.train_kit_weights and self._entries.get("train"):
            # once, here: an unknown pattern fails before training (and before the run folder holds anything)
            self._train_weights = self._weights_of(self._entries["train"], manifest)
        self._set_up = True

    # ---- loaders -------------------------------------------------------------------------------
    def _reader(self) -> _TrackReader:
        return _TrackReader(self.cache.tracks_dir)

    def _entries_for(self, split: str) -> list[tuple[str, str, int]]:
        if not self._entries:
            self.setup()
        entries = self._entries.get(split, [])
        if not entries:
            raise DatasetError(f"split {split!r} has no prepared tracks in {self.cache.directory} (is it in the "
                               f"data's csv? render and prepare it: python -m drumtx.synth / drumtx.prepare)")
        return entries

    def _loader(self, dataset, shuffle: bool, collate, sampler=None) -> DataLoader:
        generator = torch.Generator()
        generator.manual_seed(torch.initial_seed() % 2**63)
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            shuffle=shuffle,
            sampler=sampler,
            num_workers=self.num_workers,
            collate_fn=collate,
            worker_init_fn=seed_worker,
            generator=generator,
            persistent_workers=self.num_workers > 0,
            pin_memory=self.pin_memory,
        )

    def train_weights(self) -> list[float] | None:
        """One weight per training entry from ``train_kit_weights`` (None when it is empty),
        as :meth:`setup` derived them.

        Raises:
            drumtx.data.datasets.DatasetError: see :meth:`_weights_of` (from :meth:`setup`).
        """
        self._entries_for("train")  # set up
        return self._train_weights

    def kit_names(self, split: str = "train") -> dict[str, str]:
        """Track key -> ``kit_name`` for the prepared tracks of ``split`` (an audio variant's is its
        source track's; "" where the dataset names no kit, e.g. a folder of the user's audio).

        Raises:
            drumtx.data.datasets.DatasetError: the split has no prepared tracks.
        """
        return self._kit_names_of(self._entries_for(split), self.cache.manifest(), split)

    def _kit_names_of(self, entries: list[tuple[str, str, int]], manifest: dict, split: str) -> dict[str, str]:
        meta = {t.key: t.meta for t in self.source.split_tracks(split)}

        def kit(key: str) -> str:
            track = meta[key] if key in meta else meta.get(manifest.get(key, {}).get("variant_of"), {})
            return str(track.get("kit_name") or "")

        return {k: kit(k) for k, _, _ in entries}

    def _weights_of(self, entries: list[tuple[str, str, int]], manifest: dict) -> list[float]:
        """The ``train_kit_weights`` weight of each entry, by its track's (or, for an audio
        variant, its source track's) ``kit_name``; 1 where no pattern matches.

        Raises:
            drumtx.data.datasets.DatasetError: a pattern matches no training track's
                ``kit_name`` left by the patterns before it (a typo would silently train on
                the plain mix).
        """
        kits = self._kit_names_of(entries, manifest, "train")
        used: set[str] = set()

        def weight(key: str) -> float:
            kit = kits[key]
            for pattern, w in self.train_kit_weights.items():
                if fnmatch.fnmatchcase(kit, pattern):
                    used.add(pattern)
                    return w
            return 1.0

        weights = [weight(k) for k, _, _ in entries]
        unused = [p for p in self.train_kit_weights if p not in used]
        if unused:
            raise DatasetError(
                f"data.train_kit_weights: {unused} match no training track's kit_name"
                " (not taken already by an earlier pattern)"
            )
        return weights

    def train_dataloader(self) -> DataLoader:
        ds = CropDataset(self._reader(), self._entries_for("train"), self.crop_frames, self.target_names,
                         self.features.silence, self.train_weights(), self.lead_silence_prob,
                         self.lead_silence_frames)
        collate = TrainCollate(self.augmentation, self.features.log_eps, self.features.silence, self.policy)
        # seed_everything(cfg.seed) set torch's initial seed: the order is a function of (seed, epoch)
        sampler = CropSampler(len(ds), torch.initial_seed() % 2**62)
        if self.trainer is not None:
            # Lightning builds the first epoch's iterator (and workers prefetch from it) before
            # its set_epoch call, so a resumed run's sampler must know its epoch already: the
            # number Lightning passes to set_epoch, restored from the checkpoint.
            fit = self.trainer.fit_loop
            sampler.set_epoch(fit.epoch_progress.current.processed)
            epochs = fit.epoch_progress.total
            if epochs.started == epochs.processed + 1:  # restored from a mid-epoch checkpoint
                # (times the ranks: under DDP each rank reads every world_size-th item of this order)
                sampler.skip_once(fit.epoch_loop.batch_progress.current.processed * self.batch_size
                                  * self.trainer.world_size)
        return self._loader(ds, False, collate, sampler=sampler)

    def _eval_loader(self, split: str) -> DataLoader:
        ds = ChunkDataset(self._reader(), self._entries_for(split), self.chunk_frames, self.target_names,
                          self.features.silence)
        return self._loader(ds, False, functools.partial(pad_collate, pad_value=self.features.silence))

    def val_dataloader(self) -> DataLoader:
        return self._eval_loader("validation")

    def test_dataloader(self) -> DataLoader:
        return self._eval_loader("test")

    # ---- evaluation helpers ----------------------------------------------------------------------
    def track_keys(self, split: str) -> list[str]:
        return [k for k, _, _ in self._entries_for(split)]

    def n_frames(self, split: str) -> dict[str, int]:
        return {k: n for k, _, n in self._entries_for(split)}

    def reference_onsets(self, split: str) -> dict[str, list[Onset]]:
        """Exact MIDI onset times (after the note map and policy) of every track of ``split``."""
        out = {}
        for key, dirname, _ in self._entries_for(split):
            data = json.loads((self.cache.tracks_dir / dirname / "onsets.json").read_text())
            out[key] = [Onset(float(t), str(c), int(v)) for t, c, v in data]
        return out
