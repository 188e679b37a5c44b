"""Train a drum transcriber: ``python -m drumtx.train [group=option ...] [key=value ...]``.

Everything comes from the Hydra config (``conf/train.yaml``): data, features, encoder,
branches, loss, optimizer, scheduler, trainer, logger, callbacks. Returns the optimized
metric (best ``val/pr_auc_mean`` by default) so that a Hydra sweeper can maximise it.
Writes into the run folder: ``checkpoints/`` (top-k + ``last.ckpt``), ``best.safetensors`` +
``best.json`` (the best checkpoint as a safetensors bundle) and ``metrics.json``.
"""

from __future__ import annotations

import contextlib
import logging
import math
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import lightning as L
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.utils import get_class, instantiate
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf

from drumtx import CONF_DIR
from drumtx.atomic import write_json
from drumtx.checkpoint import (
    CheckpointError,
    build_meta,
    load_transcriber,
    model_path,
    plain_config,
    read_lightning,
    save_bundle,
    sha256_prefix,
)
from drumtx.cli import (
    EXIT_INTERRUPTED,
    EXIT_SOME_FAILED,
    EXIT_USAGE,
    fail,
    hydra_main,
    in_sweep,
    job_failed,
    job_line,
)
from drumtx.config_schema import TRAIN, ConfigValueError, monitored_metrics, validate
from drumtx.data.datasets import DatasetError
from drumtx.features import features_from_meta
from drumtx.models.callbacks import NonFiniteError
from drumtx.models.distillation import DistillationError, Teacher
from drumtx.models.module import DrumTranscriptionModule
from drumtx.models.transcriber import parameter_table
from drumtx.run_logging import (
    build_callbacks,
    build_training_loggers,
    finish_logger,
    make_logger_dir,
    quiet_third_party,
)

log = logging.getLogger(__name__)


def build_datamodule(cfg: DictConfig):
    """The data option's DataModule: its ``from_config(cfg)`` if it has one, else instantiate."""
    cls = get_class(cfg.data._target_)
    if hasattr(cls, "from_config"):
        return cls.from_config(cfg)
    return instantiate(cfg.data, features=cfg.features, augmentation=cfg.augmentation, _recursive_=False)


@rank_zero_only
def print_parameters(module: DrumTranscriptionModule, cfg: DictConfig) -> None:
    table = parameter_table(module.model)
    width = max(len(k) for k in table)
    print(
        f"parameters (encoder={cfg.encoder.get('channels')}/{cfg.encoder.get('rnn_hidden')}, "
        f"branches={cfg.branches._target_.rsplit('.', 1)[-1]}):"
    )
    for k, v in table.items():
        print(f"  {k:<{width}} {v:>12,}")


def _shape_mismatch(state: dict, target: dict, skip: set[str] = frozenset()) -> str | None:
    """``"<key> is <shape> there and <shape> here"`` for the first parameter (sorted, ``skip``
    left out) that one state dict lacks or holds in another shape; None when they fit."""
    for key in sorted((set(state) | set(target)) - skip):
        if key not in state or key not in target or state[key].shape != target[key].shape:
            have = tuple(state[key].shape) if key in state else "absent"
            want = tuple(target[key].shape) if key in target else "absent"
            return f"{key} is {have} there and {want} here"
    return None


def _load_source(key: str, path: Path):
    """:func:`load_transcriber`, its one-line error naming the config key that gave the file."""
    try:
        return load_transcriber(path)
    except CheckpointError as exc:
        raise CheckpointError(f"{key}: {exc}") from None


def _check_features(what: str, meta: Mapping, cfg: DictConfig) -> None:
    """Refuse (one line starting with ``what``) a model whose front end is not this run's."""
    # compared as LogMel settings: keys an older bundle lacks take the defaults (features_from_meta)
    theirs = features_from_meta(meta).config_dict()
    ours = features_from_meta({"features": plain_config(cfg.features)}).config_dict()
    for key in sorted(set(theirs) | set(ours)):
        if theirs.get(key) != ours.get(key):
            raise CheckpointError(
                f"{what}: trained on features.{key}={theirs.get(key)!r}, this run has "
                f"{ours.get(key)!r}; use the same features option"
            )


def load_teacher(module: DrumTranscriptionModule, cfg: DictConfig) -> Teacher | None:
    """The frozen teacher of ``distillation.teacher`` (a bundle, a drumtx .ckpt or ``default``),
    checked against the student (features, the heads of ``distillation.heads``); None when unset.
    Its training tracks are chosen later (:meth:`Teacher.select_tracks`, once the data is set up).
    ``cfg`` is validated (:func:`validate`: ``heads`` and the kit patterns are lists).

    Raises:
        CheckpointError: no such file, not a drumtx model, other features.
        DistillationError: a head the models do not share as a primary head, a weight not > 0.
    """
    dist = cfg.get("distillation") or {}
    if not dist.get("teacher"):
        # the other settings as conf/train.yaml leaves them
        defaults = OmegaConf.load(CONF_DIR / "train.yaml").distillation
        unused = [f"distillation.{k}" for k, v in defaults.items() if k != "teacher" and dist.get(k, v) != v]
        if unused:  # a leftover of another command, or a teacher forgotten: say that nothing is distilled
            log.warning("%s set without distillation.teacher: nothing is distilled", ", ".join(unused))
        return None
    path = model_path(dist.teacher)
    model, meta = _load_source("distillation.teacher", path)
    _check_features(f"distillation.teacher {path}", meta, cfg)
    kits = dist.get("kits")
    return Teacher(model, module.model.heads.specs, list(dist.heads), float(dist.weight),
                   None if kits is None else list(kits), list(dist.skip_kits or []), source=path)


def init_weights(module: DrumTranscriptionModule, source: str, cfg: DictConfig) -> Path:
    """Start from another model's weights (``init_weights=PATH`` or ``default``, the packaged
    model): fine-tuning, not resuming — optimizer, schedule and step count start fresh.

    The source must have this run's features and architecture; anything else is a one-line
    :class:`CheckpointError` naming the first difference. One exception: a source without a
    velocity head (the packaged v1 model, any model saved before the head existed) initialises
    a run that has one (``branches.velocity``); the velocity head then starts fresh.
    """
    path = model_path(source)
    model, meta = _load_source("init_weights", path)  # safetensors bundle or weights_only .ckpt
    _check_features(f"init_weights {path}", meta, cfg)
    state, target = model.state_dict(), module.model.state_dict()
    fresh = (
        {k for k in target if k.startswith("heads.velocity.")}
        if module.model.has_velocity and not model.has_velocity
        else set()
    )
    mismatch = _shape_mismatch(state, target, skip=fresh)
    if mismatch:
        raise CheckpointError(
            f"init_weights {path}: {mismatch}; use the same encoder and branches options as the source model"
        )
    module.model.load_state_dict(state, strict=not fresh)
    if fresh:
        log.info("%s has no velocity head: this run's starts fresh", path)
    log.info("initialised the model from %s (fine-tuning: optimizer and schedule start fresh)", path)
    return path


# Settings a resume may change without a warning: how long to train on, where to write and log,
# how many threads; whatever else differs from the checkpoint's own config is named. (Paths are
# free wherever they sit: a run continued into a new folder, a stash restored in another checkout.)
_RESUME_FREE = (
    "ckpt_path", "init_weights", "tags", "task_name", "torch_threads", "csv_log", "export_best", "paths.",
    "logger.", "data.num_workers", "data.cache_dir", "trainer.max_steps", "trainer.max_epochs", "trainer.max_time",
    "trainer.default_root_dir", "callbacks.model_checkpoint.dirpath", "callbacks.step_budget.",
    "callbacks.early_stopping.patience",
)


def _is_path(value: object) -> bool:
    return isinstance(value, str) and (value.startswith(("/", "~", "./", "../")) or "/" in value.strip("/"))


def _leaves(obj, prefix: str = "") -> dict[str, object]:
    """``{dotted key: value}`` of a plain config's leaves (lists are leaves)."""
    if isinstance(obj, dict):
        out: dict[str, object] = {}
        for k, v in obj.items():
            out.update(_leaves(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: obj}


def check_resume(module: DrumTranscriptionModule, source: str, cfg: DictConfig) -> list[str]:
    """Read ``ckpt_path`` before the data and the Trainer: a file Lightning would fail on minutes
    later with a traceback (an empty or truncated ``.ckpt``, a weights-only ``.safetensors``
    bundle, another model's checkpoint) is one line now.

    Args:
        module: this run's module, built from ``cfg``.
        source: ``cfg.ckpt_path``; ``last`` (Lightning finds the run's newest) is not read here.
        cfg: this run's config.
    Returns:
        ``key=theirs there, ours here`` for each setting of the checkpoint's own config that this run
        changes, beyond those a resume may change (``_RESUME_FREE``); also logged as a warning.
    Raises:
        CheckpointError: one line naming the file and what is wrong with it.
    """
    if source == "last":
        return []
    path = Path(source).expanduser()
    if path.suffix == ".safetensors":
        raise CheckpointError(
            f"ckpt_path={source}: a .safetensors bundle holds the weights only, not the training state to resume "
            f"(optimiser, schedule, step); resume from the run's checkpoints/last.ckpt, or fine-tune from these "
            f"weights with init_weights={source}"
        )
    state, meta = read_lightning(path, "cpu")
    theirs, ours = _leaves(meta.get("config") or {}), _leaves(plain_config(cfg))
    # A key the checkpoint lacks was added to drumtx after it was written, its default keeping the
    # old behaviour: not a change. A path differs with the folder or the checkout, not the run.
    changed = [
        f"{k}={theirs[k]!r} there, {ours.get(k, 'absent')!r} here"
        for k in sorted(theirs)
        if theirs[k] != ours.get(k) and not k.startswith(_RESUME_FREE)
        and not (_is_path(theirs[k]) and _is_path(ours.get(k)))
    ]
    mismatch = _shape_mismatch(state, module.model.state_dict())
    if mismatch:
        model_keys = [c for c in changed if c.startswith(("encoder.", "branches.", "features."))]
        raise CheckpointError(
            f"ckpt_path={source}: another model than this run's ({model_keys[0] if model_keys else mismatch}); "
            "resume with the run's own settings (its .hydra/config.yaml)"
        )
    if changed:
        log.warning(
            "resuming %s with %d setting(s) other than it was trained with (they apply from here on): %s",
            source, len(changed), "; ".join(changed[:5]) + (f"; and {len(changed) - 5} more" if len(changed) > 5 else ""),
        )
    return changed


@contextlib.contextmanager
def held_log_records(name: str) -> Iterator[list[logging.LogRecord]]:
    """Keep back what logger ``name`` logs inside the block; the caller replays the records
    (``logging.getLogger(r.name).handle(r)``) when it chooses.

    Why: the Trainer is built before the data is set up (its bad values are refused before the
    feature cache is built), and Lightning's "GPU available: …" lines would then come before a
    refused data root's one-line error (a new user's trial asked for that line alone).
    """
    held: list[logging.LogRecord] = []

    class _Hold(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            held.append(record)
            return False

    logger, hold = logging.getLogger(name), _Hold()
    logger.addFilter(hold)
    try:
        yield held
    finally:
        logger.removeFilter(hold)


#: Lightning's errors for a monitored metric nothing logged: EarlyStopping, ModelCheckpoint and
#: the ReduceLROnPlateau step (lightning 2.6), each where it first needs the metric
_UNLOGGED = re.compile(r"conditioned on metric `?(?P<a>[^`\s]+?)`? which is not available"
                       r"|ModelCheckpoint\(monitor='(?P<b>[^']+)'\)` could not find the monitored key")


def stops_before_validation(cfg: DictConfig, trainer: L.Trainer, datamodule) -> str | None:
    """Why a fresh run would stop before its first validation, so that the validation metric it
    monitors is never logged and nothing is exported, or None: ``trainer.max_steps`` below one
    epoch's steps where validation runs at an epoch's end (a new user's ``trainer.max_steps=20``
    trained 20 steps, then was refused). Other settings that never validate are left to
    :func:`unlogged_metric`, after Lightning's own error.
    """
    watched = {k: v for k, v in monitored_metrics(cfg).items() if str(v).startswith("val/")}
    if not watched or trainer.max_steps in (None, -1) or trainer.fast_dev_run:
        return None
    if trainer.val_check_interval != 1.0 or trainer.limit_val_batches == 0:
        return None
    try:
        batches = len(datamodule.train_dataloader())
    except TypeError:  # (a loader without a length: nothing to reckon with)
        return None
    limit = trainer.limit_train_batches
    batches = min(batches, limit) if isinstance(limit, int) else int(batches * float(limit))
    steps = math.ceil(batches / max(1, int(trainer.accumulate_grad_batches)))
    if steps == 0 or trainer.max_steps >= steps:
        return None
    key, name = next(iter(watched.items()))
    return (f"trainer.max_steps={trainer.max_steps} ends the run within its first epoch ({steps} steps), before "
            f"the first validation (at an epoch's end), so {key}={name!r} is never logged and nothing would be "
            "exported; to stop after N steps and still validate use callbacks.step_budget.max_steps=N")


def unlogged_metric(exc: BaseException, cfg: DictConfig, logged: Sequence[str], epoch: int) -> ConfigValueError | None:
    """Lightning's error for a metric nothing logged (``optimized_metric=val/foo`` passed the config
    check with a warning, as a user's callback may log it) as one line naming the config key and
    the closest logged metric, instead of a traceback; None for any other error.

    Why here and not in a callback that checks earlier: when Lightning needs a metric depends on
    the callback and the validation interval (EarlyStopping and the plateau step at the end of a
    training epoch, where ``train/loss_epoch`` exists; ModelCheckpoint after validation; not at
    all under ``fast_dev_run``), so its own error is the one moment that is never too early.
    """
    import difflib

    found = _UNLOGGED.search(str(exc))
    if not found:
        return None
    name = found.group("a") or found.group("b")
    key = next((k for k, v in monitored_metrics(cfg).items() if v == name), "monitor")
    if name.startswith("val/") and not any(m.startswith("val/") for m in logged):
        # the run stopped before its first validation (trainer.max_steps ends an epoch midway, and
        # Lightning validates at an epoch's end): the metric is fine, the stop is not
        every, max_epochs = cfg.trainer.get("check_val_every_n_epoch"), cfg.trainer.get("max_epochs")
        off = ("limit_val_batches" if cfg.trainer.get("limit_val_batches") == 0
               else "check_val_every_n_epoch" if every and max_epochs not in (None, -1) and every > max_epochs else None)
        if off:
            return ConfigValueError(f"{key}={name!r}: validation never runs (trainer.{off}={cfg.trainer[off]}); "
                                    "nothing was exported")
        max_steps = cfg.trainer.get("max_steps")
        stop = f"trainer.max_steps={max_steps} stopped the run" if max_steps not in (None, -1) else "the run stopped"
        return ConfigValueError(
            f"{key}={name!r}: no validation ran ({stop} within epoch {epoch}; validation runs at an epoch's end); "
            "to stop after N steps and still validate use callbacks.step_budget.max_steps=N; nothing was exported"
        )
    close = difflib.get_close_matches(name, list(logged), n=1, cutoff=0.6)
    # the means (val/pr_auc_mean) before the per-class metrics (val/fine/crash/f1)
    shown = ", ".join(sorted((m for m in logged if m.startswith("val/")), key=lambda m: (m.count("/"), m))[:3]) \
        or ", ".join(sorted(logged)[:3])
    hint = f"closest logged: {close[0]}" if close else f"{len(logged)} metrics logged, e.g. {shown}"
    return ConfigValueError(f"{key}={name!r}: nothing logged it by the end of epoch {epoch} ({hint}); "
                            "nothing was exported")


class TrainingInterrupted(Exception):
    """Ctrl-C (or SIGTERM) stopped the run; the message says where and how to resume (exit status 130)."""


def _interrupted_message(trainer: L.Trainer, resumed_from: str | None) -> str:
    """Where the run stopped and the checkpoint to resume from: the newest ``last.ckpt`` this run
    wrote, else the one it was resumed from (a continuation stopped before its first save)."""
    callback = next((c for c in trainer.callbacks if isinstance(c, ModelCheckpoint)), None)
    where = f"interrupted at step {trainer.global_step} (epoch {trainer.current_epoch}); nothing was exported"
    if callback is None:
        return f"{where}; this run writes no checkpoints (no model_checkpoint callback), so it cannot be resumed"
    last = next((p for p in (callback.last_model_path, resumed_from) if p and Path(p).is_file()), None)
    if last:
        # in the same folder, so its logs and top-k list carry on (README: "Resume, failed runs")
        here = _run_dir()
        return f"{where}; resume from its last checkpoint with ckpt_path={last}" + (
            f" hydra.run.dir={here}" if here else "")
    return f"{where}, and no checkpoint was written yet (the first comes at the end of epoch 0)"


def _run_dir() -> str | None:
    """This run's folder when it is a single Hydra run (not a sweep's job, not the Python API)."""
    from hydra.types import RunMode

    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.RUN:
        return None
    return str(HydraConfig.get().runtime.output_dir)


def _float(x) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def train(cfg: DictConfig) -> float | None:
    """Fit, export the best checkpoint, return the optimized metric.

    Raises:
        ConfigValueError: a config value of the wrong type or range (before anything runs).
        NonFiniteError: a NaN/inf loss or metric (nothing is exported or reported).
        TrainingInterrupted: Ctrl-C (nothing is exported; the message names the checkpoint to resume from).
    """
    validate(cfg)  # typed, range-checked values; one line naming the key (drumtx.config_schema)
    quiet_third_party()
    # quiet: Lightning's "Seed set to 42" would come before a refused data root's one-line error
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    if cfg.get("torch_threads"):
        torch.set_num_threads(int(cfg.torch_threads))
    datamodule = build_datamodule(cfg)
    # What is refused without the data comes first: the source model of init_weights and the
    # Trainer's own values, before datamodule.setup builds the feature cache (minutes on a large
    # set). Then the data (a missing root, a kit pattern matching nothing), before the parameter
    # table and the loggers write anything: a refused run leaves no folder (drumtx.cli).
    plain = plain_config(cfg)
    meta = build_meta(plain)
    module = DrumTranscriptionModule(plain, meta)
    if cfg.get("ckpt_path"):
        check_resume(module, str(cfg.ckpt_path), cfg)
    elif cfg.get("init_weights"):
        init_weights(module, cfg.init_weights, cfg)
    teacher = load_teacher(module, cfg)
    loggers = build_training_loggers(cfg)  # lazy: nothing is written (or sent to W&B) before a log call
    callbacks = build_callbacks(cfg, has_logger=bool(loggers))
    # callbacks=none means no checkpoints: keep Lightning from adding its default ModelCheckpoint.
    extra = (
        {}
        if "enable_checkpointing" in cfg.trainer
        else {"enable_checkpointing": any(isinstance(c, ModelCheckpoint) for c in callbacks)}
    )
    try:
        with held_log_records("lightning.pytorch.utilities.rank_zero") as trainer_lines:
            trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False, **extra)
    except Exception as exc:  # Lightning refuses a value (precision=16-mixd, devices=abc, no GPU): its reason, one line
        cause = exc.__cause__ or exc  # Hydra wraps it ("Error in call to target …")
        text = " ".join(str(cause).split())
        if not torch.cuda.is_available() and re.search(r"\b(gpu|cuda)\b", text, re.IGNORECASE):
            text += " (this machine has no CUDA GPU: trainer=cpu)"  # Lightning's "No supported gpu backend found!"
        raise ConfigValueError(f"trainer: {text}") from None
    datamodule.setup("fit")
    datamodule.track_keys("train")  # no training track: refused here, one line, not inside the trainer
    too_short = None if cfg.get("ckpt_path") else stops_before_validation(cfg, trainer, datamodule)
    if too_short:  # before the first step, not after them (unlogged_metric catches the other cases)
        raise ConfigValueError(too_short)
    if teacher is not None:
        n = teacher.select_tracks(datamodule.kit_names("train"))
        log.info("distilling %s from %s (sha256 %s…, weight %g) on the crops of %d of %d training tracks",
                 ", ".join(teacher.heads), teacher.source, sha256_prefix(teacher.source), teacher.weight, n,
                 len(datamodule.track_keys("train")))
        module.teacher = teacher
    make_logger_dir(cfg)  # (W&B's run files): once the data has not been refused
    for record in trainer_lines:  # "GPU available: …", once the data has not been refused
        logging.getLogger(record.name).handle(record)
    log.info("seed %d (Python, NumPy, torch and the DataLoader workers)", cfg.seed)
    log.info("augmentation of training batches: %r", datamodule.augmentation)
    print_parameters(module, cfg)
    if loggers:
        for lg in trainer.loggers:
            lg.log_hyperparams({"params": parameter_table(module.model)})
    try:
        fit_start = time.perf_counter()
        try:
            trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"), weights_only=True)
        except SystemExit:
            if not trainer.interrupted:
                raise
            # Lightning catches Ctrl-C (and SIGTERM), shuts down and exits 1, the status of a failed run
            raise TrainingInterrupted(_interrupted_message(trainer, cfg.get("ckpt_path"))) from None
        except Exception as exc:
            unlogged = unlogged_metric(exc, cfg, sorted(trainer.callback_metrics), trainer.current_epoch)
            if unlogged is None:
                raise
            raise unlogged from None
        fit_seconds = time.perf_counter() - fit_start
        ckpt = next((c for c in trainer.callbacks if isinstance(c, ModelCheckpoint)), None)
        name = cfg.optimized_metric
        best = (
            _float(ckpt.best_model_score) if ckpt is not None and ckpt.best_model_score is not None else None
        )
        # the checkpoint's best score is the optimized metric's only where it monitors that metric
        # (a run kept by its training clock reports the metric's last value, not the clock)
        if ckpt is None or ckpt.monitor != name:
            best = None
        value = best if best is not None else _float(trainer.callback_metrics.get(name))
        if trainer.is_global_zero:
            out = Path(cfg.paths.output_dir)
            summary = {
                "optimized_metric": name,
                "value": value,
                "best_checkpoint": ckpt.best_model_path if ckpt is not None else None,
                "last_checkpoint": ckpt.last_model_path if ckpt is not None else None,
                "global_step": trainer.global_step,
                "epoch": trainer.current_epoch,
                "fit_seconds": round(fit_seconds, 1),  # this invocation only (not earlier, resumed ones)
                "final": {k: _float(v) for k, v in sorted(trainer.callback_metrics.items())},
            }
            source = (ckpt.best_model_path or ckpt.last_model_path) if ckpt is not None else ""
            smoke_test = bool(cfg.trainer.get("fast_dev_run"))
            if smoke_test:  # a few batches, never a model: evaluate's newest-model default must not pick it
                log.info("trainer.fast_dev_run: no model exported")
            if cfg.get("export_best", True) and source and not smoke_test:
                model, best_meta = load_transcriber(source)
                broken = [k for k, v in model.state_dict().items() if v.is_floating_point() and not v.isfinite().all()]
                if broken:
                    raise NonFiniteError(f"{source}: non-finite weights ({broken[0]} and {len(broken) - 1} more); "
                                         "not exported")
                best_meta["source_checkpoint"] = str(source)
                paths = save_bundle(out / "best.safetensors", model, best_meta)
                summary["bundle"] = [str(p) for p in paths]
                log.info("exported %s -> %s", source, paths[0])
            write_json(out / "metrics.json", summary)
            log.info("%s = %s (run folder %s)", name, "none" if value is None else f"{value:.4f}", out)
    finally:
        for lg in loggers:  # the Trainer finalized them; one W&B run per job, also after a failure
            finish_logger(lg, status=None)
    return value


def error_message(exc: BaseException) -> str:
    """The error itself: a DataLoader worker re-raises it as "Caught X in DataLoader worker
    process N. Original Traceback ... module.X: message"; keep the message."""
    text = str(exc).strip()
    if "Original Traceback" in text:
        last = text.splitlines()[-1]
        return last.split(": ", 1)[1] if f"{type(exc).__name__}: " in last else last
    return text


def _sweep_check(cfg: DictConfig, swept: set[str]) -> str | None:
    """What every job of a ``-m`` sweep would be refused for before training (drumtx.cli runs it
    on the first job's config; ``swept``: the keys the sweep varies): its data not there, where
    the sweep does not vary the data. None when there is nothing to refuse."""
    from drumtx.data.datasets import check_root

    groups = set(HydraConfig.get().runtime.choices) if HydraConfig.initialized() else set()
    # a key of data or paths, or a config group (experiment=… presets switch the data)
    if any(k.lstrip("+~").split(".")[0] in ("data", "paths") or k.lstrip("+~") in groups for k in swept):
        return None  # another job's data may be there
    try:
        check_root(cfg.data)
    except DatasetError as exc:
        return str(exc)
    return None


@hydra_main("train", TRAIN, sweep_check=_sweep_check)  # (train() validates again: the Python API has no hydra_main)
def main(cfg: DictConfig) -> float | None:
    try:
        return train(cfg)
    except TrainingInterrupted as exc:
        if in_sweep():
            job_line("drumtx.train", exc)  # where this job stopped, and its checkpoint
            raise KeyboardInterrupt from None  # the sweep stops too (the sweeper marks the trial failed)
        fail("drumtx.train", exc, EXIT_INTERRUPTED)
    except (CheckpointError, ConfigValueError, DatasetError, DistillationError, NonFiniteError) as exc:
        # one line, not a traceback; 1: the run failed, 2: bad input (drumtx.cli's contract); in a
        # sweep the job's line, and the sweeper records the job as failed and goes on
        job_failed("drumtx.train", exc, EXIT_SOME_FAILED if isinstance(exc, NonFiniteError) else EXIT_USAGE,
                   error_message(exc))


if __name__ == "__main__":
    main()
