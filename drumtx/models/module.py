"""Training and validation of a :class:`DrumTranscriber` with Lightning.

The module is built from the plain resolved config alone (``hparams['cfg']``), so a
``.ckpt`` rebuilds its model without Hydra and loads with ``torch.load(weights_only=True)``.

Validation reports, per fine class and per instrument: frame-level ROC-AUC and PR-AUC
(torchmetrics, over the whole validation set), precision/recall/F1 at 0.5, and onset-level
P/R/F (50 ms) after peak picking the stitched per-track activations with the same decoder
transcription uses. Means are over classes that have positives in the validation set, so
a class absent from it never makes a mean NaN.

Validation does not run :func:`drumtx.inference.activations` (the one inference path of
transcribe, evaluate and threshold tuning), on purpose: it runs the data module's back-to-back
``data.eval_chunk_seconds`` chunks in DataLoader batches (workers, DDP sharding, one forward
pass per batch) and accumulates the frame metrics batch by batch, which per-track inference
would forgo; and it picks the best epoch, where every epoch is measured the same way, so what
it leaves out does not change the ranking: context at chunk edges (a few per cent of frames
near the edges of 30 s chunks), levelling (validation tracks are at the training data's own
levels) and the silence gate (it only touches frames ~55 dB under a track's loudest). The
numbers that are reported, and the thresholds, are measured on the inference path:
``drumtx.evaluate`` and ``drumtx.tune_thresholds``.
"""

from __future__ import annotations

import random
import warnings
from collections import defaultdict
from collections.abc import Mapping

import lightning as L
import numpy as np
import torch
from hydra.utils import instantiate
from lightning.pytorch.utilities import rank_zero_info
from torch import nn
from torch.optim.lr_scheduler import ReduceLROnPlateau
from torchmetrics.classification import MultilabelStatScores

from drumtx.checkpoint import FORMAT, build_meta, plain_config
from drumtx.decode import decode_onsets
from drumtx.metrics import DEFAULT_WINDOW_S, OnsetCounts, per_class_counts, sum_counts
from drumtx.models.curves import CountedMultilabelAUROC, CountedMultilabelAveragePrecision
from drumtx.models.transcriber import build_transcriber
from drumtx.targets import Onset


def _metric_set(n: int, thresholds: int | None) -> nn.ModuleDict:
    # Binned curves (``thresholds`` bins) keep constant memory on a 40-hour validation set;
    # ``None`` keeps every frame for exact curves (small sets only). The binned state is counted
    # by drumtx.models.curves (torchmetrics' own update costs frames x classes x bins).
    return nn.ModuleDict(
        {
            "roc_auc": CountedMultilabelAUROC(n, average=None, thresholds=thresholds),
            "pr_auc": CountedMultilabelAveragePrecision(n, average=None, thresholds=thresholds),
            "stats": MultilabelStatScores(n, average=None, threshold=0.5),
        }
    )


def _ratio(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    return torch.where(den > 0, num / den.clamp_min(1), torch.zeros_like(num))


def rng_state() -> dict:
    """Global RNG states as tensors and tuples only (weights_only-loadable)."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "python": random.getstate(),
        "numpy": {
            "name": name,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached": float(cached),
        },
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def settle_finished_epoch(checkpoint: dict) -> bool:
    """Count a checkpoint's finished epoch as Lightning counts a cleanly finished one, in place.

    A last.ckpt written at the end of an epoch whose training batches and validation were all
    done can hold the fit loop's epoch progress with ``processed`` one ahead of ``ready`` and
    ``started`` (seen in a 7,000-step run that had itself been resumed from a mid-epoch
    checkpoint; Lightning 2.6). Lightning then resumes *inside* that epoch's end, without its
    validation metrics, and EarlyStopping stops the run ("conditioned on metric ... which is not
    available"), so such a run could not be continued. When the epoch's batches and its
    validation are complete, ``ready`` and ``started`` are set to ``processed`` (what a clean
    end-of-epoch checkpoint holds), and the next epoch starts. Other states are left alone.

    Returns:
        whether the checkpoint was changed.
    """
    loop = (checkpoint.get("loops") or {}).get("fit_loop") or {}
    epochs = loop.get("epoch_progress")
    batches, val = loop.get("epoch_loop.batch_progress"), loop.get("epoch_loop.val_loop.batch_progress")
    if not (epochs and batches and val and batches.get("is_last_batch") and val.get("is_last_batch")):
        return False
    done = batches["current"]["completed"] == batches["current"]["ready"] > 0 and \
        val["current"]["completed"] == val["current"]["ready"] > 0
    skewed = all(p["ready"] == p["started"] == p["processed"] - 1 == p["completed"]
                 for p in (epochs["total"], epochs["current"]))
    if not (done and skewed):
        return False
    for p in (epochs["total"], epochs["current"]):
        p["ready"] = p["started"] = p["processed"]
    return True


def set_rng_state(state: Mapping) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(tuple(state["python"][:1]) + (tuple(state["python"][1]),) + tuple(state["python"][2:]))
    n = state["numpy"]
    np.random.set_state(
        (n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"])
    )
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])


class DrumTranscriptionModule(L.LightningModule):
    """LightningModule around a :class:`DrumTranscriber` built from ``cfg`` (the resolved train config)."""

    def __init__(self, cfg: Mapping, meta: Mapping | None = None):
        super().__init__()
        cfg = plain_config(cfg)
        meta = dict(meta) if meta is not None else build_meta(cfg)
        self.save_hyperparameters({"cfg": cfg, "meta": meta})
        self.cfg, self.meta = cfg, meta
        self.model = build_transcriber(cfg)
        self.loss_fn = instantiate(cfg["loss"], _partial_=True)(specs=self.model.heads.specs)
        self.vocab = self.model.vocab
        self.fps = float(meta["fps"])
        ev = cfg.get("evaluation") or {}
        self.onset_window = float(ev.get("onset_window", DEFAULT_WINDOW_S))
        self.onset_metrics = bool(ev.get("onset_metrics", True))
        self.thresholds = meta["thresholds"]
        k = ev.get("auc_thresholds", 201)
        self.instruments = list(self.vocab.instruments)
        self.fine_classes = self.vocab.fine_classes
        self._inst_idx = [[self.fine_classes.index(c) for c in f] for f in self.vocab.instruments.values()]
        self.fine_metrics = _metric_set(len(self.fine_classes), k)
        self.inst_metrics = _metric_set(len(self.instruments), k)
        self._chunks: dict[str, list] = defaultdict(list)
        self._references: dict[str, dict] = {}
        self._stepped_epoch = -1  # last epoch whose epoch-interval LR schedulers have stepped
        self._pending_step: dict | None = None
        self._pending_generators: list | None = None
        # a drumtx.models.distillation.Teacher set by drumtx.train (distillation.teacher): not a
        # submodule, so never in the state_dict or a checkpoint
        self.teacher = None

    # ------------------------------------------------------------------ training
    def forward(self, mel: torch.Tensor, mask: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        return self.model(mel, mask)

    def training_step(self, batch, batch_idx):
        logits = self.model(batch["mel"], batch["mask"])
        loss, parts = self.loss_fn(logits, batch)
        if self.teacher is not None:  # distillation.teacher (drumtx.models.distillation)
            taught = self.teacher.loss(logits, batch)
            loss = loss + self.teacher.total(taught)
            parts = {**parts, **taught}
        b = batch["mel"].shape[0]
        self.log("train/loss", loss, on_step=True, on_epoch=True, prog_bar=True, sync_dist=True, batch_size=b)
        self.log_dict(
            {f"train/loss_{k}": v for k, v in parts.items()},
            on_step=False,
            on_epoch=True,
            sync_dist=True,
            batch_size=b,
        )
        return loss

    def configure_optimizers(self):
        opt = instantiate(self.cfg["optimizer"])(params=self.parameters())
        sched_cfg = self.cfg.get("scheduler") or {}
        if sched_cfg.get("_target_") is None:
            return opt
        sched = instantiate(sched_cfg)(optimizer=opt)
        conf = {"scheduler": sched, "interval": "epoch", "frequency": 1}
        if isinstance(sched, ReduceLROnPlateau):
            conf["monitor"] = self.cfg.get("optimized_metric", "val/pr_auc_mean")
        return {"optimizer": opt, "lr_scheduler": conf}

    def lr_scheduler_step(self, scheduler, metric) -> None:
        super().lr_scheduler_step(scheduler, metric)
        self._stepped_epoch = self.current_epoch

    # ---------------------------------------------------------------- evaluation
    def on_validation_epoch_start(self) -> None:
        self._chunks = defaultdict(list)

    on_test_epoch_start = on_validation_epoch_start

    def validation_step(self, batch, batch_idx):
        self._eval_step(batch, "val")

    def test_step(self, batch, batch_idx):
        self._eval_step(batch, "test")

    def _eval_step(self, batch, stage: str) -> None:
        mask = batch["mask"].bool()
        logits = self.model(batch["mel"], mask)
        loss, parts = self.loss_fn(logits, batch)
        b = batch["mel"].shape[0]
        self.log(f"{stage}/loss", loss, on_epoch=True, sync_dist=True, batch_size=b)
        self.log_dict(
            {f"{stage}/loss_{k}": v for k, v in parts.items()}, on_epoch=True, sync_dist=True, batch_size=b
        )

        probs = self.model.instrument_probs(logits)
        fine = self.model.fine_probs(logits)
        roll = (batch["roll"] > 0.5).to(torch.int64)
        act = torch.stack([probs[i][0] for i in self.instruments], dim=-1)
        inst_target = torch.stack([roll[..., idx].amax(-1) for idx in self._inst_idx], dim=-1)
        for metrics, p, t in ((self.fine_metrics, fine, roll), (self.inst_metrics, act, inst_target)):
            p, t = p[mask].float().clamp(0, 1), t[mask]
            for m in metrics.values():
                m.update(p, t)

        if self.onset_metrics and "track" in batch and not self.trainer.sanity_checking:
            var = torch.cat([probs[i][1] for i in self.instruments], dim=-1)
            starts = batch.get("chunk_start")
            for i, track in enumerate(batch["track"]):
                n = int(mask[i].sum())
                start = int(starts[i]) if starts is not None else 0
                self._chunks[str(track)].append(
                    (
                        start,
                        act[i, :n].detach().to(torch.float16).cpu().numpy(),
                        var[i, :n].detach().to(torch.float16).cpu().numpy(),
                        roll[i, :n].to(torch.uint8).cpu().numpy(),
                    )
                )

    def on_validation_epoch_end(self) -> None:
        self._eval_epoch_end("val")

    def on_test_epoch_end(self) -> None:
        self._eval_epoch_end("test")

    def _eval_epoch_end(self, stage: str) -> None:
        values: dict[str, float] = {}
        for prefix, names, metrics in (
            ("fine", self.fine_classes, self.fine_metrics),
            ("inst", self.instruments, self.inst_metrics),
        ):
            with warnings.catch_warnings():  # "no positive samples": such classes are left out below
                warnings.simplefilter("ignore")
                roc = metrics["roc_auc"].compute().float()
                pr = metrics["pr_auc"].compute().float()
                tp, fp, _tn, fn, support = metrics["stats"].compute().float().unbind(-1)
            for m in metrics.values():
                m.reset()
            scores = {
                "roc_auc": roc,
                "pr_auc": pr,
                "precision": _ratio(tp, tp + fp),
                "recall": _ratio(tp, tp + fn),
                "f1": _ratio(2 * tp, 2 * tp + fp + fn),
            }
            has = support > 0
            mean_prefix = "" if prefix == "fine" else "inst_"
            for key, v in scores.items():
                for j, name in enumerate(names):
                    if has[j]:
                        values[f"{stage}/{prefix}/{name}/{key}"] = float(v[j])
                values[f"{stage}/{mean_prefix}{key}_mean"] = float(v[has].mean()) if bool(has.any()) else 0.0
        if self._chunks:
            values.update(self._onset_scores(stage))
        self._chunks = defaultdict(list)
        if not self.trainer.sanity_checking:
            summary = {
                k: values[f"{stage}/{k}"]
                for k in ("pr_auc_mean", "roc_auc_mean", "f1_mean", "onset_f_mean")
                if f"{stage}/{k}" in values
            }
            rank_zero_info(
                f"epoch {self.current_epoch} {stage}: "
                + ", ".join(f"{k} {v:.4f}" for k, v in summary.items())
            )
        # Every rank computed the same numbers (torchmetrics and the gathered chunks are synced);
        # sync_dist averages identical values, and keeps Lightning from warning under DDP.
        self.log_dict(values, sync_dist=True)

    # ------------------------------------------------------------ onset scoring
    def _gathered_chunks(self) -> dict[str, list]:
        chunks = dict(self._chunks)
        if (
            self.trainer.world_size > 1
            and torch.distributed.is_available()
            and torch.distributed.is_initialized()
        ):
            everyone: list = [None] * self.trainer.world_size
            torch.distributed.all_gather_object(everyone, chunks)
            chunks = defaultdict(list)
            for part in everyone:
                for track, items in part.items():
                    chunks[track].extend(items)
        return chunks

    def _references_for(self, stage: str) -> dict[str, list[Onset]]:
        split = {"val": "validation", "test": "test"}[stage]
        if split not in self._references:
            dm = getattr(self.trainer, "datamodule", None)
            refs = None
            if dm is not None and hasattr(dm, "reference_onsets"):
                try:
                    refs = dm.reference_onsets(split)
                except Exception as exc:  # scoring then falls back on the frame targets
                    warnings.warn(
                        f"reference_onsets({split!r}) failed, using frame targets: {exc}", stacklevel=1
                    )
            self._references[split] = refs or {}
        return self._references[split]

    def _onset_scores(self, stage: str) -> dict[str, float]:
        """Stitch each track's chunks by ``chunk_start``, decode, score against the references."""
        refs = self._references_for(stage)
        n_var = [len(self.vocab.instruments[i]) for i in self.instruments]
        bounds = np.cumsum([0] + n_var)
        fine_counts, inst_counts = [], []
        for track, items in sorted(self._gathered_chunks().items()):
            length = max(start + a.shape[0] for start, a, _, _ in items)
            act = np.zeros((length, len(self.instruments)), dtype=np.float32)
            var = np.zeros((length, int(bounds[-1])), dtype=np.float32)
            roll = np.zeros((length, len(self.fine_classes)), dtype=np.uint8)
            for start, a, v, r in items:
                act[start : start + len(a)], var[start : start + len(a)], roll[start : start + len(a)] = (
                    a,
                    v,
                    r,
                )
            probs = {
                inst: (act[:, k], var[:, bounds[k] : bounds[k + 1]])
                for k, inst in enumerate(self.instruments)
            }
            est = decode_onsets(probs, self.fps, self.vocab, self.thresholds)
            if track in refs:
                ref = [o for o in refs[track] if o.fine_class in self.fine_classes]
            else:
                t, c = np.nonzero(roll)
                ref = [Onset(float(f) / self.fps, self.fine_classes[k]) for f, k in zip(t, c, strict=True)]
            fine_counts.append(per_class_counts(ref, est, self.fine_classes, window=self.onset_window))
            inst_counts.append(
                per_class_counts(
                    ref,
                    est,
                    self.instruments,
                    key=lambda o: self.vocab.instrument_of(o.fine_class),
                    window=self.onset_window,
                )
            )
        values: dict[str, float] = {}
        for prefix, counts in (("fine", sum_counts(fine_counts)), ("inst", sum_counts(inst_counts))):
            present = {c: n for c, n in counts.items() if n.n_ref > 0}
            for c, n in present.items():
                values[f"{stage}/{prefix}/{c}/onset_precision"] = n.precision
                values[f"{stage}/{prefix}/{c}/onset_recall"] = n.recall
                values[f"{stage}/{prefix}/{c}/onset_f"] = n.f_measure
            mean_prefix = "" if prefix == "fine" else "inst_"
            values[f"{stage}/{mean_prefix}onset_f_mean"] = (
                float(np.mean([n.f_measure for n in present.values()])) if present else 0.0
            )
            if prefix == "fine":
                total = sum(counts.values(), start=OnsetCounts())
                values[f"{stage}/onset_f_micro"] = total.f_measure
                values[f"{stage}/onset_precision_micro"] = total.precision
                values[f"{stage}/onset_recall_micro"] = total.recall
        return values

    # ------------------------------------------------------------- checkpoints
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        """Mark the file as drumtx, keep every entry a plain container, save the RNG for exact resume."""
        checkpoint["drumtx"] = {"format": FORMAT, "version": self.meta.get("drumtx_version")}
        checkpoint["hyper_parameters"] = {"cfg": self.cfg, "meta": self.meta}
        if "datamodule_hyper_parameters" in checkpoint:
            checkpoint["datamodule_hyper_parameters"] = plain_config(
                checkpoint["datamodule_hyper_parameters"]
            )
        checkpoint.pop("hparams_type", None)
        checkpoint.pop("datamodule_hparams_type", None)
        checkpoint["rng_state"] = rng_state()
        # Lightning saves end-of-epoch checkpoints *before* that epoch's LR-scheduler step and
        # skips the step on resume, so a resumed run would lag one epoch behind in its schedule
        # (a warm-up epoch lost). Record the step still owed, with the metric it needs.
        if self._trainer is not None and self._stepped_epoch != self.current_epoch:
            monitor = self.cfg.get("optimized_metric", "val/pr_auc_mean")
            metric = self.trainer.callback_metrics.get(monitor)
            checkpoint["pending_lr_step"] = {
                "epoch": int(self.current_epoch),
                "metric": None if metric is None else float(metric),
            }
        gens = self._train_generators()
        if gens:
            checkpoint["loader_generators"] = [g.get_state() for g in gens]

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        settle_finished_epoch(checkpoint)  # (called before Lightning restores its loops)
        if "rng_state" in checkpoint:
            set_rng_state(checkpoint["rng_state"])
        self._pending_generators = checkpoint.get("loader_generators")
        self._pending_step = checkpoint.get("pending_lr_step")

    def on_train_start(self) -> None:
        """Resume exactly: take the LR-scheduler step the checkpoint still owed, and put the
        training DataLoader's own generator (shuffle order, worker seeds) back where the
        checkpoint left it, so that a resumed run sees the batches an uninterrupted one would."""
        pending, self._pending_step = self._pending_step, None
        if pending is not None:
            for config in self.trainer.lr_scheduler_configs:
                if config.interval != "epoch":
                    continue
                if config.reduce_on_plateau:
                    if pending["metric"] is None:
                        continue  # no metric was logged that epoch: Lightning would not have stepped either
                    config.scheduler.step(pending["metric"])
                else:
                    config.scheduler.step()
            self._stepped_epoch = int(pending["epoch"])
        states, self._pending_generators = self._pending_generators, None
        gens = self._train_generators()
        if not states or len(states) != len(gens):
            return
        for gen, state in zip(gens, states, strict=True):
            gen.set_state(state)
            # Lightning created this epoch's iterator before this hook, and that drew the worker
            # base seed from the fresh generator; an uninterrupted run draws it from the saved
            # state at the start of the epoch, so draw it again (torch DataLoader's exact call).
            torch.empty((), dtype=torch.int64).random_(generator=gen)

    def _train_generators(self) -> list[torch.Generator]:
        trainer = self._trainer
        loaders = getattr(trainer, "train_dataloader", None) if trainer is not None else None
        if loaders is None:
            return []
        loaders = loaders if isinstance(loaders, (list, tuple)) else [loaders]
        return [g for dl in loaders if isinstance(g := getattr(dl, "generator", None), torch.Generator)]
