"""Training callbacks that Lightning does not ship."""

from __future__ import annotations

import logging
import time
import warnings

import lightning.pytorch as pl
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.trainer.states import TrainerFn

log = logging.getLogger(__name__)


class StepBudget(pl.Callback):
    """Stop after ``max_steps`` optimizer steps the way Lightning's wall-clock ``Timer`` stops:
    by setting ``trainer.should_stop``, so the partial last epoch is still validated and
    checkpointed. (``trainer.max_steps`` stops without that last validation.)

    Why: an ablation arm must see exactly the steps of a baseline that was trained under a
    wall-clock budget (``metrics.json`` records its ``global_step``), whatever else the machine
    is doing. ``max_steps=None`` disables it. The budget wins over the trainer's ``min_epochs``
    (1 in ``conf/trainer/default.yaml``): a budget inside the first epoch stops there.
    """

    def __init__(self, max_steps: int | None = None):
        if max_steps is not None and int(max_steps) < 1:
            raise ValueError(f"callbacks.step_budget.max_steps must be a positive step count or null, got {max_steps}")
        self.max_steps = None if max_steps is None else int(max_steps)

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # a run resumed at its budget (rerun with ckpt_path=…/last.ckpt): nothing to train. The
        # check after each batch alone trained one step more and exported other weights.
        if self.max_steps is not None and trainer.global_step >= self.max_steps:
            log.info("resumed at step %d, the step budget (callbacks.step_budget.max_steps=%d): nothing to train",
                     trainer.global_step, self.max_steps)
            self.on_train_batch_end(trainer)

    def on_train_batch_end(self, trainer: pl.Trainer, *args) -> None:
        if self.max_steps is not None and trainer.global_step >= self.max_steps:
            trainer.should_stop = True
            trainer.fit_loop.min_epochs = 0  # (else Lightning trains on to the end of min_epochs)


class EarlyStopping(pl.callbacks.EarlyStopping):
    """Lightning's :class:`~lightning.pytorch.callbacks.EarlyStopping` whose ``patience`` is this
    run's setting, also when the run is resumed from a checkpoint saved with another.

    Why: Lightning's ``load_state_dict`` restores the patience the checkpoint was saved with, so
    ``callbacks.early_stopping.patience=40 ckpt_path=…/last.ckpt`` kept the old 15 without a word,
    and a run early stopping had ended, resumed with a larger patience, stopped again after its
    first validation (tests/test_train.py). The rest of its state (the best score, the validations
    without improvement so far) is restored as Lightning does.
    """

    def load_state_dict(self, state_dict: dict) -> None:
        patience = self.patience
        super().load_state_dict(state_dict)
        if self.patience != patience:
            log.info("early stopping: patience %d (this run's setting; the checkpoint was saved with %d), "
                     "%d validations without improvement so far", patience, self.patience, self.wait_count)
            self.patience = patience


class TrainClock(pl.Callback):
    """Log ``time/train_seconds`` with every validation: wall-clock seconds spent in training so
    far, from fit start (resumed runs included: the clock is kept in the checkpoint, up to the
    step it was written at) with every validation pass (and the sanity check) left out; what
    runs between validation and the next batch (checkpoint writing, early stopping) counts.

    Why: two arms given an equal CPU budget (e.g. two encoder widths, side by side under
    ``trainer.max_time``) are compared on their validation curves at equal training time, and
    their validation passes cost different amounts.
    """

    def __init__(self):
        self.train_seconds = 0.0
        self._since: float | None = None

    def state_dict(self) -> dict:
        # a checkpoint written mid-epoch (last_every_n_steps) holds the time up to that step
        running = time.perf_counter() - self._since if self._since is not None else 0.0
        return {"train_seconds": self.train_seconds + running}

    def load_state_dict(self, state_dict: dict) -> None:
        self.train_seconds = float(state_dict.get("train_seconds", 0.0))

    def _stop(self) -> None:
        if self._since is not None:
            self.train_seconds += time.perf_counter() - self._since
            self._since = None

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._since = time.perf_counter()

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._stop()

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.sanity_checking and trainer.state.fn == TrainerFn.FITTING:
            pl_module.log("time/train_seconds", self.train_seconds, sync_dist=True)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.state.fn == TrainerFn.FITTING:  # validation inside fit: training resumes
            self._since = time.perf_counter()

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._stop()


class Checkpoints(ModelCheckpoint):
    """Lightning's :class:`ModelCheckpoint` (top-k by the monitored metric) whose ``last.ckpt``
    is always the state after the last finished epoch of this run.

    Why: Lightning 2.6 rewrites ``last.ckpt`` only in an epoch where it also saves a top-k
    checkpoint, so after non-improving epochs ``last.ckpt`` is stale and a resume silently
    retrains them (issue 20). Here it is rewritten after every epoch's validation, after the
    top-k bookkeeping of that epoch (so a resume also keeps the top-k list and early-stopping
    state of the same moment).

    A fresh run (no ``ckpt_path``) into a folder that holds another run's checkpoints (a rerun
    with a fixed ``hydra.run.dir``, ``make demo`` twice) overwrites that run's ``last.ckpt``:
    Lightning would write ``last-v1.ckpt`` and leave the old run's ``last.ckpt`` to be resumed
    from. Top-k checkpoints whose names clash still get ``-v1``…; the best checkpoint (and so
    ``best.safetensors``) is only ever one this run saved, as Lightning keeps the top-k list in
    memory. One warning names the folder.

    Args:
        *args, **kwargs: :class:`ModelCheckpoint` arguments (``save_last`` must be true for a
            ``last.ckpt``).
        last_every_n_steps: also rewrite ``last.ckpt`` every this many optimizer steps inside an
            epoch (long epochs); ``None`` = only at epoch ends. A mid-epoch ``last.ckpt`` resumes
            at its step but not exactly (see README "Resume").
    """

    def __init__(self, *args, last_every_n_steps: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if last_every_n_steps is not None and int(last_every_n_steps) < 1:
            raise ValueError(
                f"callbacks.model_checkpoint.last_every_n_steps must be a positive step count or null, "
                f"got {last_every_n_steps}"
            )
        self.last_every_n_steps = None if last_every_n_steps is None else int(last_every_n_steps)

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        with warnings.catch_warnings():  # replaced by the one line of on_train_start
            warnings.filterwarnings("ignore", message=r"Checkpoint directory .* exists and is not empty")
            super().setup(trainer, pl_module, stage)
        self._found = []
        if trainer.is_global_zero and stage == "fit" and self.dirpath and self._fs.isdir(self.dirpath):
            self._found = sorted(str(p) for p in self._fs.ls(self.dirpath, detail=False))

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        super().on_train_start(trainer, pl_module)
        # trainer.ckpt_path is known only once the checkpoint is restored (after setup)
        found = getattr(self, "_found", [])
        if found and not trainer.ckpt_path:
            log.warning(
                "%s already holds another run's checkpoints (%d files): this fresh run overwrites its last.ckpt "
                "and writes its own top-k beside the rest (-v1… where names clash); best.safetensors comes from "
                "this run's checkpoints only. To resume that run instead, pass ckpt_path=%s/last.ckpt",
                self.dirpath, len(found), self.dirpath,
            )

    def load_state_dict(self, state_dict: dict) -> None:
        """Lightning's, for a run folder that moved or lost checkpoints.

        A run carried across checkouts (``experiments/default_model_v2/resume``: ``last.ckpt`` and
        the best checkpoint only) may come back at another absolute path, where Lightning would
        keep only ``best_model_path``, pointing into the old folder, and forget the best score
        (so the next validation would become "best" whatever it scored). Here each stored path
        is moved into this run's checkpoint folder by file name, and top-k entries whose files
        are gone are dropped (the next validations refill the list).
        """
        from pathlib import Path

        state = dict(state_dict)
        old, here = state.get("dirpath"), self.dirpath
        if old and here and old != here:
            def moved(p):
                return str(Path(here) / Path(p).name) if p else p

            for key in ("best_model_path", "kth_best_model_path", "last_model_path"):
                state[key] = moved(state.get(key))
            state["best_k_models"] = {moved(k): v for k, v in (state.get("best_k_models") or {}).items()}
            state["dirpath"] = here
            log.info("checkpoint folder moved from %s to %s: its top-k list follows by file name", old, here)
        top_k = state.get("best_k_models") or {}
        kept = {k: v for k, v in top_k.items() if Path(k).is_file()}
        if len(kept) < len(top_k):
            state["best_k_models"] = kept
            if kept:  # the worst one left is the k-th
                kth = (min if self.mode == "max" else max)(kept, key=lambda k: float(kept[k]))
                state["kth_best_model_path"], state["kth_value"] = kth, kept[kth]
                if state.get("best_model_path") not in kept:
                    best = (max if self.mode == "max" else min)(kept, key=lambda k: float(kept[k]))
                    state["best_model_path"], state["best_model_score"] = best, kept[best]
            else:
                state["kth_best_model_path"], state["best_model_path"] = "", ""
        super().load_state_dict(state)

    def _save_last_checkpoint(self, trainer: pl.Trainer, monitor_candidates) -> None:
        # last.ckpt is this run's, never versioned as last-v1.ckpt beside another run's last.ckpt
        counter, self._enable_version_counter = self._enable_version_counter, False
        try:
            super()._save_last_checkpoint(trainer, monitor_candidates)
        finally:
            self._enable_version_counter = counter

    def _skip(self, trainer: pl.Trainer) -> bool:
        from lightning.pytorch.trainer.states import TrainerFn

        return (not self.save_last or bool(trainer.fast_dev_run) or trainer.sanity_checking
                or trainer.state.fn != TrainerFn.FITTING)

    def _refresh_last(self, trainer: pl.Trainer) -> None:
        # super() saved last.ckpt too when it saved a top-k checkpoint at this step
        if self._skip(trainer) or self._last_global_step_saved == trainer.global_step:
            return
        self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        super().on_train_epoch_end(trainer, pl_module)
        if self._should_save_on_train_epoch_end(trainer):
            self._refresh_last(trainer)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        super().on_validation_end(trainer, pl_module)
        if not self._should_save_on_train_epoch_end(trainer):
            self._refresh_last(trainer)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, *args, **kwargs) -> None:
        super().on_train_batch_end(trainer, pl_module, *args, **kwargs)
        n = self.last_every_n_steps
        if n is None or self._skip(trainer) or trainer.global_step % n or trainer.global_step == 0:
            return
        # Written directly, not through the top-k bookkeeping: that step's epoch-end
        # checkpoints (top-k and last) must still be saved after its validation.
        self.last_model_path = self.format_checkpoint_name(self._monitor_candidates(trainer),
                                                           self.CHECKPOINT_NAME_LAST)
        trainer.save_checkpoint(self.last_model_path, self.save_weights_only)


class NonFiniteError(RuntimeError):
    """Training produced a NaN or infinite loss or metric; one line naming the step and the batch."""


def _batch_tracks(batch) -> str:
    """``key@start`` of each example of a training batch (frame offsets), as far as it carries them."""
    if not isinstance(batch, dict) or "track" not in batch:
        return "(not recorded)"
    starts = batch.get("chunk_start")
    items = [f"{t}@{int(s)}" if starts is not None else str(t)
             for t, s in zip(batch["track"], starts if starts is not None else batch["track"], strict=True)]
    return "[" + ", ".join(items) + "]"


class FiniteGuard(pl.Callback):
    """Stop the run at the first non-finite training loss (before its backward pass, so the
    weights stay finite) or non-finite logged metric (before that epoch's checkpoints).

    Why: NaN losses otherwise train on silently; the run used to exit 0 with a finite
    ``value`` in ``metrics.json`` and a NaN ``best.safetensors``, and a sweep counted it as a
    success (issue 20). :func:`drumtx.train.train` always adds this callback; the
    :class:`NonFiniteError` makes a single run exit non-zero with one line and a sweep record
    the trial as failed.

    Raises:
        NonFiniteError: naming the step, the epoch and the batch's tracks (``key@first frame``
            of each crop) or the metrics.
    """

    def __init__(self):
        self._batch = None

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch, batch_idx: int) -> None:
        self._batch = batch

    def on_before_backward(self, trainer: pl.Trainer, pl_module: pl.LightningModule, loss) -> None:
        import torch

        bad = not bool(torch.isfinite(loss.detach()).all())
        if trainer.world_size > 1:  # every rank stops together (one rank alone would hang the others)
            bad = trainer.strategy.reduce_boolean_decision(bad, all=False)
        if bad:
            value = float(loss.detach().float().reshape(-1)[0]) if loss.numel() else float("nan")
            raise NonFiniteError(
                f"step {trainer.global_step} (epoch {trainer.current_epoch}): training loss is {value}; batch tracks "
                f"{_batch_tracks(self._batch)}; nothing was exported (check these tracks' cached features with "
                "python -m drumtx.prepare, or lower optimizer.lr)"
            )

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        import math

        bad = sorted(k for k, v in trainer.callback_metrics.items() if not math.isfinite(float(v)))
        if bad:
            shown = ", ".join(f"{k}={float(trainer.callback_metrics[k])}" for k in bad[:3])
            raise NonFiniteError(
                f"step {trainer.global_step} (epoch {trainer.current_epoch}): non-finite metric(s) {shown}"
                + (f" and {len(bad) - 3} more" if len(bad) > 3 else "") + "; nothing was exported"
            )
