"""Typed, range-checked values of every command's config, checked before anything runs.

Hydra types an override by its spelling: ``trainer.max_epochs=abc`` and ``optimizer.lr=1e-3x``
arrive as strings and used to fail deep inside Lightning or torch (a bare ``AssertionError``,
a ``TypeError``) naming no key, and ``loss.crash=-1`` trained. :func:`validate` checks the keys
in :data:`TRAIN` and raises one :class:`ConfigValueError` line naming the key, the value and
what is allowed. It also turns a single string given where a list of names is expected
(``data.fit_kit_names=fluidr3_*``) into a one-item list, instead of its letters.

One table per entry config: :data:`TRAIN` (checked by ``drumtx.train``), :data:`PREPARE`,
:data:`STATS`, :data:`EVALUATE`, :data:`TUNE_THRESHOLDS` and :data:`SYNTH` (passed to
``drumtx.cli.hydra_main``, which checks them before the command starts and prints
``<command>: <key>=<value>: expected …``, exit 2), built from the shared group tables
:data:`DATA`, :data:`FEATURES`, :data:`AUGMENTATION` and :data:`INFERENCE`.

Why a table here and not Hydra structured configs: every group option is a plain YAML file
with its own ``_target_`` (and experiments add keys); a dataclass schema per option would
duplicate each file. Keys absent from a config (another option of the group) are skipped.

Run ``python -m drumtx.train ... --cfg job`` to see the composed values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace

from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict

_ABSENT = object()


class ConfigValueError(ValueError):
    """A config value of the wrong type or out of range; one line naming the key."""


@dataclass(frozen=True)
class Value:
    """What one key may hold.

    Args:
        kind: ``int``, ``float`` (an int is accepted), ``fraction_or_count`` (a float in
            [0, 1] or an int >= 0: Lightning's ``limit_*_batches``), ``bool``, ``names``
            (a list of strings; one string becomes a one-item list), ``numbers`` (a list of
            numbers, each within the bounds; one number becomes a one-item list), ``weights``
            (a mapping of names to numbers, each within the bounds) or ``settings`` (a mapping
            whose keys are among ``keys``, those of ``required`` present, each pair ``(a, b)`` of
            ``ordered`` with ``a <= b`` where both are given; its values have rules of their own).
        low, high: inclusive bounds (None: unbounded); ``low_open`` / ``high_open``: that bound
            itself excluded.
        null: None is allowed.
        choices: for ``choice`` (one of them) and ``names`` (each one of them): the names, or the
            dotted path of a module-level sequence or mapping holding them (imported when checked).

    Kinds also: ``choice`` (one string of ``choices``), ``device`` (``auto`` or a torch device this
    machine has: ``cuda`` without a GPU is refused here, not when the model is moved), ``file``
    (the path of an existing file, or one of ``choices``), ``metric`` (a metric the training logs,
    :func:`metric_names`).
    """

    kind: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    null: bool = False
    high_open: bool = False
    keys: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    ordered: tuple[tuple[str, str], ...] = ()
    choices: tuple[str, ...] | str = ()

    def options(self) -> list[str]:
        """``choices``, imported where it is a dotted path."""
        if isinstance(self.choices, str):
            from hydra.utils import get_object

            return [str(c) for c in get_object(self.choices)]
        return list(self.choices)

    def describe(self) -> str:
        if self.kind == "choice":
            return "one of " + ", ".join(self.options()) + (" or null" if self.null else "")
        if self.kind == "names" and self.choices:
            return "a list of " + ", ".join(self.options()) + (" or null" if self.null else "")
        what = {"int": "an integer", "float": "a finite number", "bool": "true or false", "names": "a list of names",
                "device": "auto, cpu or a CUDA device this machine has", "file": "the path of an existing file",
                "metric": "a metric the training logs",
                "peak_picking": "a mapping {instrument: threshold or {threshold, min_gap_s}}",
                "numbers": "a list of numbers", "weights": "a mapping {name: number}",
                "fraction_or_count": "a fraction in [0, 1] or a whole number of batches",
                "settings": f"a mapping of {', '.join(self.keys)} (needs {', '.join(self.required)})"}[self.kind]
        bounds = []
        if self.low is not None:
            bounds.append(f"{'>' if self.low_open else '>='} {self.low:g}")
        if self.high is not None:
            bounds.append(f"{'<' if self.high_open else '<='} {self.high:g}")
        return what + (f" {' and '.join(bounds)}" if bounds else "") + (" or null" if self.null else "")

    def check(self, key: str, value):
        """The value, normalised (an int for ``int``, a list for ``names``); raises :class:`ConfigValueError`."""
        if value is None:
            if self.null:
                return None
            raise ConfigValueError(f"{key}=null: expected {self.describe()}")
        if self.kind == "names":
            items = [value] if isinstance(value, str) else value
            if not (isinstance(items, list | tuple) and all(isinstance(v, str) for v in items)):
                raise ConfigValueError(f"{key}={value!r}: expected {self.describe()}")
            bad = [v for v in items if self.choices and v not in self.options()]
            if bad:
                raise ConfigValueError(f"{key}={value!r}: {bad[0]!r} is not {_one_of(bad[0], self.options())}")
            return list(items)
        if self.kind == "choice":
            if isinstance(value, str) and value in self.options():
                return value
            raise ConfigValueError(f"{key}={value!r}: expected {_one_of(str(value), self.options())}")
        if self.kind == "file":
            from pathlib import Path

            if isinstance(value, str) and (Path(value).expanduser().is_file() or value in self.options()):
                return value
            if isinstance(value, str) and Path(value).expanduser().is_dir():
                # a run folder given for its model: name the file it holds (resume state, bundle)
                inside = [p for p in ("checkpoints/last.ckpt", "best.safetensors") if (Path(value).expanduser() / p).is_file()]
                hint = f" (did you mean {Path(value) / inside[0]}?)" if inside else ""
                raise ConfigValueError(f"{key}={value!r}: a folder, not a file{hint}")
            import difflib

            close = difflib.get_close_matches(str(value).lower(), self.options(), n=1, cutoff=0.7)
            hint = f" (did you mean {close[0]}?)" if close and "/" not in str(value) else ""
            raise ConfigValueError(f"{key}={value!r}: no such file{hint}")
        if self.kind == "peak_picking":
            if not isinstance(value, Mapping):
                raise ConfigValueError(f"{key}={value!r}: expected {self.describe()}")
            from drumtx.decode import peak_picking_setting
            from drumtx.vocab import INSTRUMENTS

            unknown = [str(k) for k in value if k not in INSTRUMENTS]
            if unknown:  # (transcribe's --thresholds refuses it too; here it was silently ignored)
                raise ConfigValueError(f"{key}.{unknown[0]}: not {_one_of(unknown[0], list(INSTRUMENTS))}")
            try:  # the short form {kick: 0.4} made {kick: {threshold: 0.4}}, as transcribe's --thresholds
                return {str(inst): peak_picking_setting(v, f"{key}.{inst}") for inst, v in value.items()}
            except ValueError as exc:
                raise ConfigValueError(str(exc)) from None
        if self.kind == "device":
            return _check_device(key, value)
        if self.kind == "metric":
            return _check_metric(key, value)
        if self.kind == "numbers":
            items = value if isinstance(value, list | tuple) else [value]
            try:
                return [replace(self, kind="float", null=False).check(key, v) for v in items]
            except ConfigValueError:
                raise ConfigValueError(f"{key}={value!r}: expected {self.describe()}") from None
        if self.kind == "weights":
            if not isinstance(value, Mapping):
                raise ConfigValueError(f"{key}={value!r}: expected {self.describe()}")
            try:
                return {k: replace(self, kind="float", null=False).check(key, v) for k, v in value.items()}
            except ConfigValueError:
                raise ConfigValueError(f"{key}={value!r}: expected {self.describe()}") from None
        if self.kind == "settings":
            if not isinstance(value, Mapping):
                hint = (" (braces not quoted? the shell split {a:1,b:2} into several overrides: quote the whole "
                        "override)") if isinstance(value, str) and ":" in value else ""
                raise ConfigValueError(f"{key}={value!r}: expected {self.describe()}{hint}")
            unknown = sorted(set(map(str, value)) - set(self.keys))
            missing = [k for k in self.required if k not in value]
            if unknown or missing:
                what = "unknown " + ", ".join(unknown) if unknown else "missing " + ", ".join(missing)
                raise ConfigValueError(f"{key}={dict(value)!r}: {what}; expected {self.describe()}")
            for a, b in self.ordered:
                if a in value and b in value and isinstance(value[a], int | float) and isinstance(value[b], int | float) \
                        and value[a] > value[b]:
                    raise ConfigValueError(f"{key}={dict(value)!r}: expected {a} <= {b}")
            return value
        if self.kind == "bool":
            if isinstance(value, bool):
                return value
            raise ConfigValueError(f"{key}={value!r}: expected {self.describe()}")
        number = value if isinstance(value, int | float) and not isinstance(value, bool) else None
        if number is None or (isinstance(number, float) and not math.isfinite(number)):
            raise ConfigValueError(f"{key}={value!r}: expected {self.describe()}")
        if self.kind == "int" or (self.kind == "fraction_or_count" and number > 1):
            if isinstance(number, float) and not number.is_integer():
                raise ConfigValueError(f"{key}={value!r}: expected {self.describe()}")
            number = int(number) if self.kind == "int" else number
        too_low = self.low is not None and (number <= self.low if self.low_open else number < self.low)
        too_high = self.high is not None and (number >= self.high if self.high_open else number > self.high)
        if too_low or too_high:
            raise ConfigValueError(f"{key}={value!r}: expected {self.describe()}")
        return number


def _one_of(value: str, options: list[str]) -> str:
    """``one of a, b, c`` naming the closest first where one is close (``did you mean b?``)."""
    import difflib

    close = difflib.get_close_matches(value, options, n=1)
    return f"one of {', '.join(options)}" + (f" (did you mean {close[0]}?)" if close else "")


def _check_device(key: str, value) -> str:
    """``auto`` or a torch device name this machine can use (:func:`drumtx.inference.resolve_device`
    decides); the name itself."""
    from drumtx.inference import resolve_device

    try:
        resolve_device(str(value))
    except ValueError as e:
        hint = f" (use {key}=cpu or auto)" if "no CUDA" in str(e) else ""
        raise ConfigValueError(f"{key}={value!r}: {e}{hint}") from None
    return str(value)


def metric_names() -> list[str]:
    """The metrics :class:`drumtx.models.module.DrumTranscriptionModule` logs and a run may optimise
    or monitor (the losses, ``(train|val)/loss[_<head>]``, are matched apart: they depend on the heads)."""
    from drumtx.vocab import INSTRUMENTS

    frame = ("roc_auc", "pr_auc", "precision", "recall", "f1")
    onset = ("onset_precision", "onset_recall", "onset_f")
    names = [f"val/{p}{s}_mean" for p in ("", "inst_") for s in (*frame, "onset_f")]
    names += [f"val/onset_{s}_micro" for s in ("f", "precision", "recall")]
    names += [f"val/fine/{c}/{s}" for fine in INSTRUMENTS.values() for c in fine for s in (*frame, *onset)]
    names += [f"val/inst/{i}/{s}" for i in INSTRUMENTS for s in (*frame, *onset)]
    return names


def _check_metric(key: str, value) -> str:
    """A metric the training logs (:func:`metric_names`, a loss, ``time/…`` or a learning rate):
    a typo (``val/pr_auc_meen``) failed only after the first epoch, in the checkpoint callback.
    A name close to none of them passes with a warning: a callback of the user's may log it."""
    import re

    if not isinstance(value, str):
        raise ConfigValueError(f"{key}={value!r}: expected a metric name such as val/pr_auc_mean")
    if value in metric_names() or value.startswith(("time/", "lr-")) or re.fullmatch(r"(train|val)/loss(_\w+)?", value):
        return value
    import difflib
    import logging

    close = difflib.get_close_matches(value, [*metric_names(), "val/loss", "train/loss"], n=1, cutoff=0.8)
    if close:
        raise ConfigValueError(f"{key}={value!r}: not a metric the training logs (did you mean {close[0]}?)")
    logging.getLogger(__name__).warning("%s=%r: not a metric drumtx logs; a callback of yours must log it", key, value)
    return value


SPLIT_NAMES = ("train", "validation", "test")
MIN_MAX = ("min", "max")
#: the loss weights a head target or an instrument may take (``loss.shared_weights``, ``loss.flat_weights``)
LOSS_WEIGHT = Value("choice", choices="drumtx.models.losses.WEIGHTS")

INT = Value("int")
COUNT = Value("int", low=1)  # at least one
COUNT0 = Value("int", low=0)
POSITIVE = Value("float", low=0, low_open=True)
NONNEG = Value("float", low=0)
FRACTION_OR_COUNT = Value("fraction_or_count", low=0)

#: key -> allowed value, for ``conf/train.yaml`` as composed. ``*`` stands for every key of that
#: mapping holding a number or a string (the loss weights), so a new head's weight is checked too.
TRAIN: dict[str, Value] = {
    "seed": INT,
    "torch_threads": Value("int", low=1, null=True),
    "csv_log": Value("bool"),
    "tags": Value("names", null=True),
    "trainer.max_epochs": Value("int", low=-1, null=True),
    "trainer.min_epochs": Value("int", low=0, null=True),
    "trainer.max_steps": Value("int", low=-1),
    "trainer.gradient_clip_val": Value("float", low=0, null=True),
    "trainer.accumulate_grad_batches": COUNT,
    "trainer.check_val_every_n_epoch": Value("int", low=1, null=True),
    "trainer.num_sanity_val_steps": Value("int", low=-1),
    "trainer.log_every_n_steps": COUNT,
    "trainer.limit_train_batches": FRACTION_OR_COUNT,
    "trainer.limit_val_batches": FRACTION_OR_COUNT,
    "trainer.deterministic": Value("bool"),
    "trainer.enable_progress_bar": Value("bool"),
    "optimizer.lr": POSITIVE,
    "optimizer.weight_decay": NONNEG,
    "scheduler.warmup_epochs": COUNT0,
    "scheduler.warmup_start_lr": POSITIVE,
    "scheduler.factor": Value("float", low=0, high=1, low_open=True),
    "scheduler.patience": COUNT0,
    "scheduler.min_lr": NONNEG,
    "scheduler.eta_min": NONNEG,
    "branches.velocity": Value("bool"),
    "branches.hit_prior": Value("float", low=0, high=1, low_open=True, high_open=True, null=True),
    "loss.*": NONNEG,
    "loss.crash_pos_weight": POSITIVE,
    "loss.crash_cymbal_negative_weight": POSITIVE,
    "data.batch_size": COUNT,
    "data.num_workers": COUNT0,
    "data.prepare_workers": COUNT0,
    "data.crop_seconds": POSITIVE,
    "data.eval_chunk_seconds": POSITIVE,
    "data.max_tracks": Value("int", low=1, null=True),
    "data.val_max_tracks": Value("int", low=1, null=True),
    "data.fit_kit_names": Value("names", null=True),
    "data.train_kit_weights": Value("weights", low=0, low_open=True, null=True),
    "data.lead_silence_prob": Value("float", low=0, high=1),
    "data.lead_silence_seconds": POSITIVE,
    "augmentation.mixup_alpha": NONNEG,
    "augmentation.gain_db": NONNEG,
    "augmentation.filter_augment": Value("settings", null=True, keys=("gain_db", "min_bands", "max_bands", "min_bandwidth"),
                                         required=("gain_db", "max_bands"), ordered=(("min_bands", "max_bands"),)),
    "augmentation.filter_augment.gain_db": Value("float", low=0, high=24),
    "augmentation.filter_augment.min_bands": COUNT,
    "augmentation.filter_augment.max_bands": COUNT,
    "augmentation.filter_augment.min_bandwidth": COUNT0,
    "augmentation.band_limit": Value("settings", null=True, keys=("prob", "min_hz", "max_hz"),
                                     required=("prob", "min_hz", "max_hz"), ordered=(("min_hz", "max_hz"),)),
    "augmentation.band_limit.prob": Value("float", low=0, high=1),
    "augmentation.band_limit.min_hz": POSITIVE,
    "augmentation.band_limit.max_hz": POSITIVE,
    "distillation.teacher": Value("file", null=True, choices=("default",)),
    "distillation.heads": Value("names"),
    "distillation.weight": POSITIVE,
    "distillation.kits": Value("names", null=True),
    "distillation.skip_kits": Value("names", null=True),
    "evaluation.auc_thresholds": Value("int", low=2, null=True),
    "evaluation.onset_window": POSITIVE,
    "evaluation.onset_metrics": Value("bool"),
    "evaluation.thresholds": Value("peak_picking", null=True),
    "callbacks.early_stopping.patience": COUNT0,
    "callbacks.model_checkpoint.save_top_k": Value("int", low=-1),
    "callbacks.model_checkpoint.last_every_n_steps": Value("int", low=1, null=True),
    "callbacks.step_budget.max_steps": Value("int", low=1, null=True),
    "callbacks.early_stopping.mode": Value("choice", choices=MIN_MAX),
    "callbacks.model_checkpoint.mode": Value("choice", choices=MIN_MAX),
    "scheduler.mode": Value("choice", choices=MIN_MAX),
    "optimized_metric": Value("metric"),
    "callbacks.early_stopping.monitor": Value("metric"),
    "callbacks.model_checkpoint.monitor": Value("metric"),
    "ckpt_path": Value("file", null=True, choices=("last",)),  # Lightning's "last": the run's newest
    "loss.shared_weights.*": LOSS_WEIGHT,
    "loss.flat_weights.*": LOSS_WEIGHT,
    "data.leak_check": Value("choice", choices=("raise", "warn", "off")),
    "data.note_map": Value("choice", choices="drumtx.vocab.NOTE_MAPS"),
    "data.targets.collision": Value("choice", choices="drumtx.targets.COLLISION_MODES"),
    "data.targets.cross_stick": Value("choice", choices="drumtx.targets.CROSS_STICK_MODES"),
}


BOOL = Value("bool")
NAMES = Value("names", null=True)
FRACTION = Value("float", low=0, high=1)

#: the ``data`` keys every command reading a data option shares (``conf/data/base.yaml``).
DATA: dict[str, Value] = {
    **{k: v for k, v in TRAIN.items() if k.startswith("data.")},
    "data.pin_memory": BOOL,
    "data.auto_prepare": BOOL,
}
DATA.update({
    "data.targets.hihat_pedal": BOOL,
    "data.targets.priority.*": Value("names"),
    "data.folder_split.validation": FRACTION,
    "data.folder_split.test": FRACTION,
    "data.folder_split.seed": INT,
})
#: ``conf/augmentation/*.yaml``: what prepare reads is ``audio_variants`` (pre-rendered copies).
AUGMENTATION: dict[str, Value] = {
    **{k: v for k, v in TRAIN.items() if k.startswith("augmentation.")},
    "augmentation.time_mask.*": COUNT0,
    "augmentation.freq_mask.*": COUNT0,
    "augmentation.audio_variants.pitch_shift_semitones": Value("numbers"),
    "augmentation.audio_variants.time_stretch": Value("numbers", low=0, low_open=True),
    "augmentation.audio_variants.copies": COUNT0,
    "augmentation.audio_variants.seed": INT,
}
#: ``conf/features/logmel.yaml``.
FEATURES: dict[str, Value] = {
    "features.sample_rate": COUNT,
    "features.hop_length": COUNT,
    "features.n_fft": COUNT,
    "features.n_mels": COUNT,
    "features.f_min": NONNEG,
    "features.f_max": POSITIVE,
    "features.log_eps": POSITIVE,
    "features.level_db": Value("float", null=True),
    "features.max_gain_db": Value("float", low=0, null=True),
}
#: ``conf/inference/default.yaml``.
INFERENCE: dict[str, Value] = {
    "inference.chunk_seconds": POSITIVE,
    "inference.context_seconds": NONNEG,
    "inference.batch_size": COUNT,
    "inference.gate_db": Value("float", null=True),
    "inference.gate_dilate": COUNT0,
    "inference.presence_confidence": Value("float", low=0, high=1, null=True),
    "inference.presence_seconds": NONNEG,
    "inference.presence_instruments": Value("names"),
    "inference.edge_silence_seconds": Value("float", low=0, null=True),
}
#: ``conf/prepare.yaml`` as composed.
PREPARE: dict[str, Value] = {
    **DATA, **FEATURES, **AUGMENTATION,
    "splits": Value("names", choices=SPLIT_NAMES),
    "verify": Value("choice", choices="drumtx.data.cache.VERIFY_MODES"),
    "num_workers": COUNT0,
    "retry_failed": BOOL,
    "progress": BOOL,
}
#: ``conf/stats.yaml`` as composed.
STATS: dict[str, Value] = {
    **DATA, **FEATURES,
    "splits": Value("names", choices=SPLIT_NAMES),
    "num_workers": COUNT0,
    "progress": BOOL,
}
#: ``conf/evaluate.yaml`` as composed.
EVALUATE: dict[str, Value] = {
    **DATA, **INFERENCE,
    "tags": NAMES,
    "torch_threads": TRAIN["torch_threads"],
    "device": Value("device"),
    "use_checkpoint_targets": BOOL,
    "thresholds": Value("peak_picking", null=True),
    "kit_names": NAMES,
    "exclude_kit_names": NAMES,
    "external.annotation_ext": Value("names"),
    "external.max_files": Value("int", low=1, null=True),
    "prepare_workers": COUNT0,
    "eval.window_s": POSITIVE,
    "eval.ghost_velocity": Value("int", low=0, high=128),
    "eval.simultaneous_s": NONNEG,
    "eval.soft_velocity": Value("float", low=0, high=128),
    "eval.velocity_bins": Value("numbers", low=0, high=128),
    "eval.frame_tolerance": COUNT0,
    "eval.worst_tracks": COUNT0,
    "eval.curve_points": Value("int", low=2),
    "eval.group_by": NAMES,
    "eval.tier1.*": Value("names"),
    "report.figures": BOOL,
    "report.pianorolls": COUNT0,
    "report.pianoroll_seconds": POSITIVE,
    "report.compare_tracks": COUNT0,
}
#: ``conf/tune_thresholds.yaml`` as composed.
TUNE_THRESHOLDS: dict[str, Value] = {
    **DATA, **FEATURES, **INFERENCE, **AUGMENTATION,
    "tags": NAMES,
    "torch_threads": TRAIN["torch_threads"],
    "device": Value("device"),
    "prepare_workers": COUNT0,
    "write": BOOL,
    "progress": BOOL,
    "instruments": NAMES,
    "window_s": POSITIVE,
    "n_trials": COUNT,
    "seed": INT,
    "threshold": Value("settings", keys=("low", "high", "step"), ordered=(("low", "high"),)),
    "min_gap_s": Value("settings", keys=("low", "high"), ordered=(("low", "high"),)),
    "threshold.low": FRACTION,
    "threshold.high": FRACTION,
    "threshold.step": Value("float", low=0, high=1, low_open=True),
    "min_gap_s.low": NONNEG,
    "min_gap_s.high": NONNEG,
    "min_precision.*": FRACTION,
    "floor_confidence": Value("float", low=0, high=1, low_open=True, high_open=True),  # 1: no interval
    "fallback_beta": Value("float", low=0, low_open=True, null=True),
}
#: ``conf/synth.yaml`` as composed (``drumtx.synth`` and ``drumtx.synth.bench``).
SYNTH: dict[str, Value] = {
    **DATA,
    "data.synth.seed": INT,
    "data.synth.heldout_kits": Value("names", null=True),
    "workers": COUNT,
    "overwrite": BOOL,
    "progress": BOOL,
    "limit": Value("int", low=0, null=True),
    "splits": Value("names", null=True, choices=SPLIT_NAMES),
    "bench.tracks": COUNT,
}


def _keys(cfg: DictConfig, pattern: str, lists: bool = False) -> list[str]:
    """The keys ``pattern`` stands for; ``group.*``: its numbers and strings (and lists if ``lists``)."""
    if not pattern.endswith(".*"):
        return [pattern]
    parent = pattern[:-2]
    node = OmegaConf.select(cfg, parent, default=None)
    if not isinstance(node, Mapping | DictConfig):
        return []
    return [f"{parent}.{k}" for k, v in node.items() if not str(k).startswith("_") and
            ((isinstance(v, int | float | str) and not isinstance(v, bool)) or
             (lists and isinstance(v, list | tuple | ListConfig)))]


#: Keys Hydra's instantiate reads itself, never passed to the target.
_INSTANTIATE_KEYS = frozenset({"_target_", "_partial_", "_recursive_", "_convert_", "_args_"})

#: Arguments the commands pass themselves (config path -> {key: where it comes from}): a key set
#: here in the config would be overridden without a word, so it is refused.
SET_BY_CODE: dict[str, dict[str, str]] = {
    "branches": {"in_dim": "the encoder's output width", "hihat_pedal": "data.targets.hihat_pedal"},
    "loss": {"specs": "the heads (branches)"},
    "optimizer": {"params": "the model"},
    "scheduler": {"optimizer": "the optimizer group"},
    "trainer": {"callbacks": "the callbacks group", "logger": "the logger group"},
    "data": {"features": "the features group", "augmentation": "the augmentation group"},
}

#: Sections that are no ``_target_`` but whose keys are fixed (config path, ``*`` for any one
#: key -> the class whose fields they are, or the keys): a typo there is refused as well.
SECTIONS: dict[str, str | tuple[str, ...]] = {
    "data.targets": "drumtx.targets.TargetPolicy",
    "eval": "drumtx.evaluation.scores.EvalSettings",
    "inference": "drumtx.inference.InferenceSettings",
    "evaluation": ("auc_thresholds", "onset_metrics", "onset_window", "thresholds"),
    "distillation": ("teacher", "heads", "weight", "kits", "skip_kits"),
    # conf/paths: +paths.data_dri=… ran on with the default data_dir
    "paths": ("root_dir", "data_dir", "cache_dir", "log_dir", "sweep_dir", "output_dir"),
    "augmentation.time_mask": ("min_width", "max_width", "count"),
    "augmentation.freq_mask": ("min_width", "max_width", "count"),
    "augmentation.audio_variants": ("pitch_shift_semitones", "time_stretch", "copies", "seed"),
    "branches.heads.*": ("target", "hidden", "classes", "parent"),
    "data.synth.sources.*.groove": "drumtx.synth.generator.GrooveConfig",
    "data.splits": ("train", "validation", "test"),
    "data.folder_split": ("validation", "test", "seed"),
    "threshold": ("low", "high", "step"),  # tune_thresholds' search grids
    "min_gap_s": ("low", "high"),
    # name-keyed maps: a key is a head target, an instrument or a slot (a mistyped name was read
    # by nothing: the weight or order it meant stayed the default)
    "loss.shared_weights": "drumtx.targets.HIERARCHY",
    "loss.flat_weights": "drumtx.models.losses.DEFAULT_FLAT",
    "data.targets.priority": "drumtx.targets.SLOTS",
    # peak-picking settings per instrument (evaluate's thresholds, train's evaluation.thresholds)
    "thresholds": "drumtx.vocab.INSTRUMENTS",
    "thresholds.*": ("threshold", "min_gap_s"),
    "evaluation.thresholds": "drumtx.vocab.INSTRUMENTS",
    "evaluation.thresholds.*": ("threshold", "min_gap_s"),
}


#: Another project's classes whose ``**kwargs`` go to a known callable: their keys are checked
#: against both (a typo there failed only when the logger started; TensorBoard's message named
#: no key). The callable's arguments the class sets itself are left out.
FORWARDED_KWARGS: dict[str, tuple[str, tuple[str, ...]]] = {
    "lightning.pytorch.loggers.WandbLogger": ("wandb.init", ()),
    "lightning.pytorch.loggers.TensorBoardLogger": ("torch.utils.tensorboard.SummaryWriter", ("log_dir",)),
}


def _forwarded(obj) -> list[str] | None:
    """The keyword arguments of the callable ``obj``'s ``**kwargs`` go to (:data:`FORWARDED_KWARGS`),
    or None (not known, or not importable here)."""
    from hydra.utils import get_object

    for cls, (callee, set_here) in FORWARDED_KWARGS.items():
        try:
            if get_object(cls) is obj:
                takes = _parameters(callee)
                return None if takes is None else [k for k in takes if k not in set_here]
        except Exception:  # not installed here: not checked
            continue
    return None


#: Sections built into a settings class whose own checks see the values together (the priority
#: orders): built once here, so a bad one is refused before any work (config path -> class).
BUILT_SECTIONS: dict[str, str] = {"data.targets": "drumtx.targets.TargetPolicy"}


def section_settings(path: str) -> list[str]:
    """The keys the :data:`SECTIONS` entry matching ``path`` takes (``loss.shared_weights``: the
    head targets; ``branches.heads.kick``: a head's settings, ``*`` standing for one key); empty
    where none matches or its keys cannot be listed."""
    import re

    for pattern, spec in SECTIONS.items():
        if re.fullmatch(r"[^.]+".join(map(re.escape, pattern.split("*"))), path):
            return list(spec) if isinstance(spec, tuple) else (_parameters(spec) or [])
    return []


def _parameters(target: str) -> list[str] | None:
    """The keyword arguments ``target`` takes; None where any is taken (``**kwargs`` that leave
    drumtx) or it cannot be imported here (instantiate then says why). A drumtx class whose
    ``**kwargs`` go to its base class (:class:`drumtx.models.callbacks.Checkpoints`) takes the
    base's too; a mapping (a :data:`SECTIONS` name-keyed map) takes its keys."""
    import inspect

    from hydra.utils import get_object

    try:
        obj = get_object(target)
    except Exception:  # not importable here: instantiate says why
        return None
    if isinstance(obj, Mapping):
        return [str(k) for k in obj]
    takes: list[str] = []
    for step in obj.__mro__[:-1] if isinstance(obj, type) else (obj,):
        if isinstance(step, type) and "__init__" not in vars(step):
            continue  # inherited: its base's turn
        try:
            params = inspect.signature(step.__init__ if isinstance(step, type) else step).parameters
        except (TypeError, ValueError):
            return None
        takes += [n for n, p in params.items() if n != "self" and n not in takes
                  and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)]
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
            return takes
        if not getattr(step, "__module__", "").startswith("drumtx."):
            more = _forwarded(step)  # another project's **kwargs: followed where known
            return None if more is None else takes + [k for k in more if k not in takes]
    return None


def check_targets(cfg: DictConfig) -> None:
    """Refuse a key nothing would read: ``+data.crop_secs=2``, ``+callbacks.step_budgt.max_steps=5``.

    Hydra's ``+key=value`` adds any key, and a target that takes ``**kwargs`` (or a setting read
    later) would run on without it: the run trains with the default and the typo is never
    heard of. Checked: every config node with a ``_target_`` (outside ``hydra``) against the
    target's parameters (less :data:`SET_BY_CODE`, which are refused: the command sets them);
    the :data:`SECTIONS` against their fields; every ``callbacks`` entry must have a
    ``_target_``, and a ``scheduler`` or ``logger`` with settings a class (not ``none``). Not
    checked: a target that takes another project's ``**kwargs`` not in :data:`FORWARDED_KWARGS`,
    free-form sections (a recipe's ``data.synth``: ``drumtx.synth`` checks
    it). Top-level keys: :func:`check_added_top_level`.

    Args:
        cfg: a composed entry config; not resolved (only keys are read).
    Raises:
        ConfigValueError: one line naming the key, what reads it and the closest key it takes.
    """
    import difflib
    import fnmatch

    def where(path: str, key) -> str:
        return f"{path}.{key}" if path else str(key)

    def check(node: dict, path: str, what: str, takes: list[str] | None) -> None:
        if takes is None:  # not importable here, or another project's **kwargs
            return
        code = SET_BY_CODE.get(path, {})
        takes = [k for k in takes if k not in code]
        for key in node:
            if key in code:
                raise ConfigValueError(f"{where(path, key)}: set by drumtx from {code[key]}, not in the config")
            if key not in _INSTANTIATE_KEYS and key not in takes:
                close = difflib.get_close_matches(str(key), takes, n=1)
                hint = f"did you mean {where(path, close[0])}?" if close else f"it takes {', '.join(takes)}"
                raise ConfigValueError(f"{where(path, key)}: not a setting of {what} ({hint})")

    def walk(node, path: str):
        if isinstance(node, dict):
            target = node.get("_target_")
            if isinstance(target, str):
                check(node, path, target, _parameters(target))
            for pattern, spec in SECTIONS.items():
                if fnmatch.fnmatchcase(path, pattern):
                    check(node, path, f"the {pattern} section", list(spec) if isinstance(spec, tuple) else _parameters(spec))
            if path in ("scheduler", "logger") and target is None:
                settings = [k for k in node if k not in _INSTANTIATE_KEYS]
                if settings:
                    raise ConfigValueError(f"{where(path, settings[0])}: {path}=none has no settings: "
                                           f"choose a {path} option that takes it")
            if path == "callbacks":
                named = [k for k, v in node.items() if isinstance(v, dict) and "_target_" in v]
                for key, value in node.items():
                    if isinstance(value, dict) and "_target_" not in value:
                        close = difflib.get_close_matches(str(key), named, n=1)
                        hint = f"did you mean callbacks.{close[0]}?" if close else (
                            f"this config's callbacks: {', '.join(named) or 'none'}")
                        raise ConfigValueError(f"{where(path, key)}: no such callback here, nothing would run it ({hint})")
            for k, v in node.items():
                if path or k != "hydra":
                    walk(v, f"{path}.{k}" if path else str(k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{path}[{i}]")

    walk(OmegaConf.to_container(cfg, resolve=False), "")


def check_added_top_level(overrides: list[str], cfg: DictConfig, groups: Mapping[str, object]) -> None:
    """Refuse ``+key=value`` that adds a new top-level key: no command reads a key its config
    does not declare (``+torch_thread=2`` ran with the default thread count).

    Args:
        overrides: the command line's overrides as Hydra keeps them (``HydraConfig.overrides.task``).
        cfg: the composed entry config (its other top-level keys are the suggestions).
        groups: the config groups of the run (``HydraConfig.runtime.choices``): ``+group=option``
            adds an option to the defaults list, not a key.
    Raises:
        ConfigValueError: one line naming the key and the closest top-level key.
    """
    import difflib

    from hydra.core.override_parser.overrides_parser import OverridesParser

    for override in OverridesParser.create().parse_overrides(list(overrides)):
        key = override.key_or_group
        if not override.is_add() or "." in key or key in groups or override.package is not None:
            continue
        known = [str(k) for k in cfg if k != key and k != "hydra"]
        close = difflib.get_close_matches(key, known, n=1)
        hint = f"did you mean {close[0]}?" if close else "nothing in this command reads it"
        raise ConfigValueError(f"{key}: not a setting of this command ({hint})")


def monitored_metrics(cfg: DictConfig) -> dict[str, str]:
    """Config key -> metric name of what a training run optimises or monitors:
    ``optimized_metric`` and the ``monitor`` of every configured callback that has one."""
    watched = {"optimized_metric": OmegaConf.select(cfg, "optimized_metric", default=None)}
    for name, node in (OmegaConf.select(cfg, "callbacks", default=None) or {}).items():
        if isinstance(node, DictConfig) and node.get("_target_") and node.get("monitor"):
            watched[f"callbacks.{name}.monitor"] = node.get("monitor")
    return {k: str(v) for k, v in watched.items() if v}


def _check_onset_metrics(cfg: DictConfig) -> None:
    """``evaluation.onset_metrics=false`` logs no onset score: a run optimising or monitoring one
    (``val/onset_f_mean``, ``val/inst/kick/onset_f``) is refused before it trains, not where
    Lightning first needs it (:func:`drumtx.train.unlogged_metric`)."""
    if OmegaConf.select(cfg, "evaluation.onset_metrics", default=True) is not False:
        return
    for key, metric in monitored_metrics(cfg).items():
        if metric in metric_names() and "onset_" in metric:
            raise ConfigValueError(f"{key}={metric!r}: evaluation.onset_metrics=false logs no onset scores "
                                   "(drop it, or monitor e.g. val/pr_auc_mean)")


def _check_trains_something(cfg: DictConfig) -> None:
    """Lightning takes ``trainer.max_epochs=0`` (or ``max_steps=0``, ``limit_train_batches=0``),
    trains nothing and ends without a model; a new user's trial got exit 0 and
    ``val/pr_auc_mean = none``. Refused before anything runs."""
    for key in ("trainer.max_epochs", "trainer.max_steps", "trainer.limit_train_batches"):
        if OmegaConf.select(cfg, key, default=None) == 0:
            unlimited = " (-1: no limit)" if key in ("trainer.max_epochs", "trainer.max_steps") else ""
            raise ConfigValueError(f"{key}=0: trains nothing{unlimited}")


def validate(cfg: DictConfig, schema: Mapping[str, Value] = TRAIN) -> DictConfig:
    """Check (and normalise in place) every key of ``schema`` present in ``cfg``.

    Args:
        cfg: a composed entry config (``conf/train.yaml``); interpolations are resolved to check.
        schema: key -> :class:`Value`; a key ``group.*`` checks every number or string in ``group``
            (and every list, for a ``names`` or ``numbers`` rule).
    Returns:
        ``cfg`` itself, with one-string lists made one-item lists and whole floats made ints.
    Raises:
        ConfigValueError: a key no ``_target_`` takes (:func:`check_targets`), or the first bad
            value; one line naming the key.
    """
    check_targets(cfg)
    explicit = {k for k in schema if not k.endswith(".*")}
    for pattern, rule in schema.items():
        for key in _keys(cfg, pattern, lists=rule.kind in ("names", "numbers")):
            if pattern.endswith(".*") and key in explicit:
                continue  # a key with its own rule
            try:
                value = OmegaConf.select(cfg, key, default=_ABSENT, throw_on_missing=False)
            except Exception as exc:  # a broken interpolation
                raise ConfigValueError(f"{key}: {' '.join(str(exc).split())}") from None
            if value is _ABSENT or value == "???" or (isinstance(value, DictConfig) and rule.kind not in ("weights", "settings", "peak_picking")):
                continue  # another option of the group, or required and reported by Hydra
            if not isinstance(value, str | int | float | bool) and value is not None:
                value = OmegaConf.to_container(value, resolve=True)
            normal = rule.check(key, value)
            if type(normal) is not type(value) or normal != value:
                parent, _, leaf = key.rpartition(".")
                if OmegaConf.is_interpolation(OmegaConf.select(cfg, parent) if parent else cfg, leaf):
                    continue  # it resolves to a good value; keep the link
                with open_dict(cfg):
                    OmegaConf.update(cfg, key, normal, merge=False)
    _check_onset_metrics(cfg)
    _check_trains_something(cfg)
    for path, target in BUILT_SECTIONS.items():
        node = OmegaConf.select(cfg, path, default=None)
        if isinstance(node, DictConfig):
            from hydra.utils import get_object

            try:
                get_object(target)(**OmegaConf.to_container(node, resolve=True))
            except (TypeError, ValueError) as exc:
                raise ConfigValueError(f"{path}: {' '.join(str(exc).split())}") from None
    return cfg
