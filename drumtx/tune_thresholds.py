"""Tune each instrument's peak-picking threshold and minimum onset gap on a data split:
``python -m drumtx.tune_thresholds ckpt=outputs/train/<run>/best.safetensors [data=egmd]``.

A model's activations are not calibrated alike across branches (a rare crash head peaks lower
than the kick's), so one global 0.5 costs onsets. The model runs once over the split; the
probabilities are cached (npz) so that a rerun with other search settings needs no model or
audio. Then one Optuna study per instrument searches (threshold, min gap) for the best onset
F-measure (micro over tracks, 50 ms), scored with the same decoder and matching as evaluation
(:func:`drumtx.decode.decode_onsets`, :mod:`drumtx.metrics`). The crash maximises recall
subject to precision >= 0.85 instead: a false crash is jarring in a game.

The result goes into the checkpoint's sidecar, which ``transcribe`` and ``evaluate`` read
(a bundle's ``.json`` ``thresholds`` key; ``<stem>.thresholds.json`` beside a Lightning
``.ckpt``), atomically, with F/P/R-vs-threshold plots in the run folder (and W&B if on).

This module is the command (config in, files and logs out); the search, the model pass, the
probability cache and the sidecar writer are the library :mod:`drumtx.thresholds`.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path

import optuna
from omegaconf import DictConfig, OmegaConf

from drumtx.cli import EXIT_USAGE, hydra_main, job_failed
from drumtx.config_schema import TUNE_THRESHOLDS
from drumtx.decode import DEFAULT_THRESHOLDS
from drumtx.inference import InferenceSettings, resolve_device
from drumtx.thresholds import (
    SplitProbs,
    TuneResult,
    plot_curve,
    run_model,
    score_text,
    tune_instrument,
    write_thresholds,
)
from drumtx.vocab import Vocabulary

log = logging.getLogger(__name__)


def log_to_logger(cfg: DictConfig, results: Mapping[str, TuneResult], plots: Mapping[str, Path]) -> None:
    """Curves, plots and chosen values to the configured logger (W&B gets tables and images)."""
    from drumtx.run_logging import build_logger, finish_logger

    logger = build_logger(cfg)
    if not logger:
        return
    from lightning.pytorch.loggers import WandbLogger

    summary = {}
    for inst, r in results.items():
        summary.update(
            {
                f"thresholds/{inst}/{k}": getattr(r, k)
                for k in ("threshold", "min_gap_s", "precision", "recall", "f_measure")
            }
        )
    if isinstance(logger, WandbLogger):
        import wandb

        run = logger.experiment
        payload = dict(summary)
        for inst, r in results.items():
            c = r.curve
            if c:
                table = wandb.Table(
                    columns=["threshold", "precision", "recall", "f_measure"],
                    data=[
                        list(row)
                        for row in zip(
                            c["threshold"], c["precision"], c["recall"], c["f_measure"], strict=True
                        )
                    ],
                )
                payload[f"thresholds/{inst}/curve"] = wandb.plot.line_series(
                    xs=c["threshold"],
                    ys=[c["precision"], c["recall"], c["f_measure"]],
                    keys=["precision", "recall", "f_measure"],
                    title=f"{inst}: P/R/F vs threshold",
                    xname="threshold",
                )
                payload[f"thresholds/{inst}/table"] = table
            if inst in plots:
                payload[f"thresholds/{inst}/plot"] = wandb.Image(str(plots[inst]))
        run.log(payload)
    else:
        logger.log_metrics(summary)
    finish_logger(logger)


# --------------------------------------------------------------------------- entry point
def _cache_key(ckpt: Path, data_cfg: Mapping, split: str, meta: Mapping, settings: InferenceSettings) -> str:
    st = ckpt.stat()
    ident = {
        "ckpt": str(ckpt.resolve()),
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "split": split,
        "data": {
            k: data_cfg.get(k)
            for k in (
                "name",
                "format",
                "root",
                "csv",
                "splits",
                "max_tracks",
                "val_max_tracks",  # the validation cap (drumtx.thresholds.run_model)
                "fit_kit_names",  # which validation tracks are tuned on (drumtx.thresholds.run_model)
                "note_map",
                "targets",
            )
        },
        "features": meta.get("features"),
        "inference": settings.to_dict(),
    }
    return json.dumps(ident, sort_keys=True, default=str)


def _cache_path(cfg: DictConfig, ckpt: Path, out_dir: Path) -> Path | None:
    if cfg.cache in (None, False, "none"):
        return None
    if cfg.cache != "auto":
        return Path(str(cfg.cache))
    beside = ckpt.with_name(f"{ckpt.stem}.{cfg.split}.probs.npz")
    return beside if os.access(ckpt.parent, os.W_OK) else out_dir / beside.name


def _data_config(cfg: DictConfig, meta: Mapping) -> dict:
    """The data to tune on (``data=...``, else the checkpoint's training data with any
    ``+data.<key>=`` on top), with the model's label policy: the references must be labelled the
    way the model was trained. The whole split unless ``data.val_max_tracks`` is given.

    Raises:
        ValueError: no data config anywhere; ConfigValueError: a ``+data.`` key the data module
            does not take (:func:`drumtx.config_schema.check_targets`).
    """
    from drumtx.config_schema import check_targets

    trained = (meta.get("config") or {}).get("data") or {}
    given = OmegaConf.to_container(cfg.data, resolve=True) if cfg.get("data") is not None else {}
    if given.get("_target_"):  # data=<option>
        data = given
    elif trained:
        from drumtx.package_model import project_paths

        # a packaged model's paths say <project>: this one; +data.<key>= settings go on top
        data = OmegaConf.to_container(OmegaConf.merge(project_paths(dict(trained)), given))
    else:
        raise ValueError("the checkpoint stores no data config: pass data=<option>")
    if trained.get("targets"):
        data["targets"] = trained["targets"]
    if "val_max_tracks" not in given:
        data["val_max_tracks"] = None  # tune on the whole split, whatever training validated on
    check_targets(OmegaConf.create({"data": data}))
    return data


def tune(cfg: DictConfig) -> dict[str, TuneResult]:
    """Everything ``python -m drumtx.tune_thresholds`` does: the model over ``cfg.split`` (or its
    cached probabilities), one :func:`~drumtx.thresholds.tune_instrument` per instrument, the
    results written to ``cfg.paths.output_dir`` (``thresholds.json``, ``curves.json``,
    ``threshold_curves/*.png``) and, with ``cfg.write``, into the checkpoint's sidecar.

    Args:
        cfg: the composed ``tune_thresholds`` config (``ckpt``, ``split``, ``data``, ``inference``,
            ``threshold``, ``min_gap_s``, ``min_precision``, ``n_trials``, ``cache``, ``write``, ...).

    Returns:
        The result per instrument (instrument name -> :class:`~drumtx.thresholds.TuneResult`).

    Raises:
        ValueError: ``split`` is not validation or test, an instrument (``instruments``,
            ``min_precision``) is not the model's, the
            checkpoint stores no data config and none is given, or no track could be prepared.
        drumtx.checkpoint.CheckpointError: the checkpoint cannot be read.
        OSError: a file cannot be read or written.
    """
    from hydra.utils import instantiate

    from drumtx.checkpoint import load_transcriber

    if cfg.get("torch_threads"):
        import torch

        torch.set_num_threads(int(cfg.torch_threads))
    ckpt = Path(str(cfg.ckpt)).expanduser()
    if cfg.split not in ("validation", "test"):
        raise ValueError(f"split must be validation (or test), not {cfg.split!r}")
    progress = bool(cfg.get("progress", True))
    out_dir = Path(str(cfg.paths.output_dir))
    model, meta = load_transcriber(ckpt)
    vocab = Vocabulary(hihat_pedal=bool(meta.get("vocab", {}).get("hihat_pedal", False)))
    # before the model pass: a typo in an instrument name (instruments=, +min_precision.<name>=)
    # would otherwise cost a pass over the split, or silently tune that instrument for F
    if cfg.instruments is not None and not len(cfg.instruments):
        raise ValueError("instruments=[] tunes nothing; leave it out (null) to tune every instrument")
    for what, names in (("instruments", cfg.instruments or []), ("min_precision", cfg.min_precision or {})):
        unknown = [n for n in names if n not in vocab.instruments]
        if unknown:
            raise ValueError(f"{what}: {unknown} not among the model's instruments {list(vocab.instruments)}")
    data_cfg = _data_config(cfg, meta)
    cache = _cache_path(cfg, ckpt, out_dir)
    settings = InferenceSettings.from_config(OmegaConf.to_container(cfg.inference, resolve=True)).for_model(meta)
    key = _cache_key(ckpt, data_cfg, cfg.split, meta, settings)
    split_probs = SplitProbs.load(cache, key) if cache is not None else None
    if split_probs is not None:
        log.info("probabilities from the cache %s", cache)
    else:
        features = meta.get("features") or OmegaConf.to_container(cfg.features, resolve=True)
        datamodule = instantiate(
            data_cfg, features=features, augmentation=cfg.augmentation, _recursive_=False, _convert_="none"
        )
        device = resolve_device(cfg.device)
        split_probs = run_model(
            model.to(device),
            settings,
            datamodule,
            cfg.split,
            vocab,
            device,
            progress=progress,
            prepare_workers=int(cfg.prepare_workers),
        )
        if cache is not None:
            split_probs.save(cache, key)
            log.info("probabilities cached in %s", cache)
    del model

    instruments = list(cfg.instruments or vocab.instruments)
    current = meta.get("thresholds") or {}
    min_precision = dict(cfg.min_precision or {})
    results: dict[str, TuneResult] = {}
    plots: dict[str, Path] = {}
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    for inst in instruments:
        if inst not in split_probs.instruments:
            raise ValueError(f"instrument {inst!r} is not one of the model's {split_probs.instruments}")
        acts, refs = split_probs.for_instrument(inst)
        r = tune_instrument(
            acts,
            refs,
            split_probs.fps,
            instrument=inst,
            vocab=vocab,
            min_precision=min_precision.get(inst),
            floor_confidence=float(cfg.floor_confidence),
            fallback_beta=None if cfg.get("fallback_beta") is None else float(cfg.fallback_beta),
            threshold_range=(cfg.threshold.low, cfg.threshold.high, cfg.threshold.step),
            min_gap_range_s=(cfg.min_gap_s.low, cfg.min_gap_s.high),
            n_trials=int(cfg.n_trials),
            seed=int(cfg.seed),
            window=float(cfg.window_s),
            start=current.get(inst) or DEFAULT_THRESHOLDS.get(inst),
            storage=cfg.get("storage"),
            study_name=f"thresholds/{ckpt.stem}/{cfg.split}/{inst}/{out_dir.name}"
            if cfg.get("storage")
            else None,
            progress=progress,
        )
        results[inst] = r
        line = (
            f"{inst:<12} threshold {r.threshold:.2f}  min gap {r.min_gap_s * 1000:3.0f} ms  "
            f"P {score_text(r.precision, r.n_est)}  R {score_text(r.recall, r.n_ref)}  "
            f"F {score_text(r.f_measure, r.n_est + r.n_ref)}  (refs {r.n_ref}, {r.objective})"
        )
        log.info(line + (f"  NOTE: {r.note}" if r.note else ""))
        if r.curve:
            plots[inst] = plot_curve(r, out_dir / "threshold_curves" / f"{inst}.png")

    thresholds = {inst: r.settings for inst, r in results.items() if r.curve}
    report = {
        "split": cfg.split,
        "inference": settings.to_dict(),  # the activations were the transcriber's, with these settings
        "data": data_cfg.get("name"),
        "window_s": float(cfg.window_s),
        "n_tracks": len(split_probs.tracks),
        "results": {inst: r.summary() for inst, r in results.items()},
    }
    from drumtx.atomic import write_json

    write_json(
        out_dir / "thresholds.json", {"checkpoint": str(ckpt), "thresholds": thresholds, "tuning": report}
    )
    write_json(out_dir / "curves.json", {inst: r.curve for inst, r in results.items()})
    if cfg.write:
        for p in write_thresholds(ckpt, thresholds, report):
            log.info("thresholds written to %s", p)
    else:
        log.info(
            "write=false: the checkpoint's thresholds are unchanged (see %s)", out_dir / "thresholds.json"
        )
    log_to_logger(cfg, results, plots)
    return results


@hydra_main("tune_thresholds", TUNE_THRESHOLDS)
def main(cfg: DictConfig) -> dict:
    from drumtx.checkpoint import CheckpointError

    try:
        results = tune(cfg)
    except (CheckpointError, OSError, ValueError) as exc:  # bad input: one line, not a traceback
        job_failed("drumtx.tune_thresholds", exc, EXIT_USAGE)  # in a sweep: the job's line, and the next job runs
    return {inst: r.summary() for inst, r in results.items()}


if __name__ == "__main__":
    main()
