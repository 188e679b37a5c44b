"""Training end to end on the tiny E-GMD fixture: fast_dev_run per head set, checkpoints,
bundle export, exact resume after a kill, loggers; the CLI and 2-process DDP as slow tests."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import lightning as L
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig

from drumtx import CONF_DIR, PROJECT_ROOT
from drumtx import train as train_mod
from drumtx.checkpoint import (
    PACKAGED_MODEL,
    CheckpointError,
    build_meta,
    load_transcriber,
    plain_config,
    save_bundle,
)
from drumtx.models.module import DrumTranscriptionModule
from drumtx.run_logging import build_callbacks, build_logger, build_training_loggers, wandb_key_configured

# Small and quick: 1 s crops, 2 s evaluation chunks (the fixture's 3 s tracks end in a padded chunk).
SMALL = [
    "data.num_workers=0",
    "data.prepare_workers=0",
    "data.batch_size=2",
    "data.crop_seconds=1.0",
    "data.eval_chunk_seconds=2.0",
    "trainer.enable_progress_bar=false",
    "trainer.num_sanity_val_steps=0",
]


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory) -> Path:
    """One feature cache for every test here (the fixture is prepared once)."""
    return tmp_path_factory.mktemp("train_cache")


def data_overrides(egmd_fixture, cache) -> list[str]:
    return ["data=egmd", f"data.root={egmd_fixture}", f"data.cache_dir={cache}", *SMALL]


def compose_train(out: Path, *overrides: str):
    """conf/train.yaml as ``python -m drumtx.train`` would compose it, outputs under ``out``."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(
            "train",
            overrides=[f"paths.root_dir={out}", f"paths.output_dir={out}", "logger=none", *overrides],
            return_hydra_config=True,
        )
    HydraConfig.instance().set_config(cfg)
    return cfg


@pytest.mark.parametrize(
    ("branches", "extra"),
    [
        ("five_branch", []),
        ("flat", []),
        ("five_branch", ["data.targets.hihat_pedal=true", "trainer.precision=bf16-mixed"]),
    ],
    ids=["five_branch", "flat", "five_branch-pedal-bf16"],
)
def test_fast_dev_run(branches, extra, egmd_fixture, shared_cache, tmp_path, capsys):
    cfg = compose_train(
        tmp_path,
        *data_overrides(egmd_fixture, shared_cache),
        f"branches={branches}",
        "trainer.fast_dev_run=true",
        *extra,
    )
    value = train_mod.train(cfg)
    assert value is not None and 0.0 <= value <= 1.0
    printed = capsys.readouterr().out
    assert "total" in printed and "encoder.rnn" in printed  # parameter counts
    summary = json.loads((tmp_path / "metrics.json").read_text())
    assert summary["optimized_metric"] == "val/pr_auc_mean" and summary["value"] == value
    # a smoke test exports no model, so evaluate's newest-model default never picks it
    assert not (tmp_path / "best.safetensors").exists() and "bundle" not in summary
    final = summary["final"]
    # Per fine class and per instrument frame metrics, onset scores after peak picking, per-head losses.
    assert "val/fine/kick/pr_auc" in final and "val/inst/hihat/roc_auc" in final
    assert "val/fine/snare_head/onset_f" in final and "val/onset_f_mean" in final
    heads = ["kick", "snare", "tom_primary", "tom_variation", "cymbal_primary", "crash"]
    names = heads if branches == "five_branch" else ["kick", "snare", "tom", "hihat", "ride", "crash"]
    for name in names:
        assert f"val/loss_{name}" in final and f"train/loss_{name}" in final
    assert all(v is None or math.isfinite(v) for v in final.values())
    # what optimized_metric / monitor may name (drumtx.config_schema) covers every score logged
    from drumtx.config_schema import metric_names

    logged = {k for k in final if k.startswith("val/") and not k.startswith("val/loss")}
    assert logged and logged <= set(metric_names()), sorted(logged - set(metric_names()))
    if "data.targets.hihat_pedal=true" in extra:  # the pedal head trains and is scored
        assert "train/loss_hihat_pedal" in final and "val/loss_hihat_pedal" in final
        assert "heads.hihat_pedal" in printed


class KillAt(L.Callback):
    """Raise at the start of an epoch, as if the process died after the last checkpoint."""

    def __init__(self, epoch: int):
        self.epoch = epoch

    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch == self.epoch:
            raise RuntimeError("killed")


class Record(L.Callback):
    def __init__(self):
        self.start_step, self.lrs, self.state = None, [], None

    def on_train_start(self, trainer, pl_module):
        self.start_step = trainer.global_step

    def on_train_epoch_start(self, trainer, pl_module):
        self.lrs.append(trainer.optimizers[0].param_groups[0]["lr"])

    def on_train_end(self, trainer, pl_module):
        self.state = {k: v.detach().clone() for k, v in pl_module.state_dict().items()}
        self.train_seconds = float(trainer.callback_metrics["time/train_seconds"])


def run_with(monkeypatch, cfg, *extra_callbacks):
    # train() calls the name it imported from drumtx.run_logging
    monkeypatch.setattr(train_mod, "build_callbacks", lambda c, **kw: build_callbacks(c, **kw) + list(extra_callbacks))
    return train_mod.train(cfg)


@pytest.mark.parametrize("workers", [0, pytest.param(2, marks=pytest.mark.slow)], ids=["in-process", "2-workers"])
def test_checkpoints_bundle_and_exact_resume_after_a_kill(workers, egmd_fixture, shared_cache, tmp_path,
                                                          monkeypatch):
    """Resumed from last.ckpt after a kill, the run ends with the uninterrupted run's exact
    weights, also with DataLoader workers (crops and augmentation are drawn from the epoch's
    seed, not from the workers' RNG)."""
    common = [
        *data_overrides(egmd_fixture, shared_cache),
        f"data.num_workers={workers}",
        "trainer.max_epochs=3",
        "trainer.limit_train_batches=3",
        "trainer.limit_val_batches=2",
        "scheduler.warmup_epochs=2",  # the resume must land mid-warm-up and keep the schedule
        "loss.crash=0.6",
        "evaluation.onset_metrics=false",
    ]
    # Uninterrupted reference run.
    ref = Record()
    value = run_with(monkeypatch, compose_train(tmp_path / "a", *common), ref)
    out = tmp_path / "a"
    ckpts = sorted(p.name for p in (out / "checkpoints").glob("*.ckpt"))
    assert "last.ckpt" in ckpts and len(ckpts) == 4  # top 3 + last
    raw = torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)  # plain containers only
    assert raw["hyper_parameters"]["cfg"]["loss"]["crash"] == 0.6
    model, meta = load_transcriber(out / "best.safetensors")
    assert meta["vocab"]["fine_classes"][0] == "kick" and meta["source_checkpoint"].endswith(".ckpt")
    summary = json.loads((out / "metrics.json").read_text())
    assert summary["value"] == value and Path(summary["best_checkpoint"]).is_file()
    assert value == pytest.approx(
        max(float(p.stem.split("prauc")[1]) for p in (out / "checkpoints").glob("epoch*")), abs=1e-4
    )

    # Killed at the start of epoch 2, then resumed from last.ckpt in the same run folder.
    run_b = tmp_path / "b"
    with pytest.raises(RuntimeError, match="killed"):
        run_with(monkeypatch, compose_train(run_b, *common), KillAt(2))
    saved = torch.load(run_b / "checkpoints" / "last.ckpt", weights_only=True)
    assert saved["epoch"] == 1
    clock = saved["callbacks"]["TrainClock"]["train_seconds"]  # kept for the resumed run's clock
    assert clock > 0
    resumed = Record()
    run_with(
        monkeypatch,
        compose_train(run_b, *common, f"ckpt_path={run_b / 'checkpoints' / 'last.ckpt'}"),
        resumed,
    )
    assert resumed.start_step == saved["global_step"] > 0
    assert resumed.train_seconds > clock  # time/train_seconds goes on from the killed run's
    assert resumed.lrs == ref.lrs[2:]  # the warm-up continues where it stopped
    for k, v in ref.state.items():
        torch.testing.assert_close(resumed.state[k], v, rtol=0, atol=0, msg=f"{k} differs after resume")


def test_a_run_moved_to_another_folder_with_only_last_and_best_resumes_its_bookkeeping(
        egmd_fixture, shared_cache, tmp_path, monkeypatch, caplog):
    """A stashed run (make default-model-v2-stash: last.ckpt and the best checkpoint only) restored
    into a checkout at another absolute path: Lightning would forget the best score and keep a
    best_model_path into the old folder; drumtx's Checkpoints moves the top-k list by file name."""
    import shutil

    common = [*data_overrides(egmd_fixture, shared_cache), "trainer.max_epochs=3", "trainer.limit_train_batches=2",
              "trainer.limit_val_batches=1", "evaluation.onset_metrics=false"]
    first = tmp_path / "checkout_a" / "run"
    with pytest.raises(RuntimeError, match="killed"):
        run_with(monkeypatch, compose_train(first, *common), KillAt(2))
    saved = torch.load(first / "checkpoints" / "last.ckpt", weights_only=True)
    state = next(v for v in saved["callbacks"].values() if isinstance(v, dict) and "best_model_path" in v)
    best_name, best_score = Path(state["best_model_path"]).name, float(state["best_model_score"])
    moved = tmp_path / "checkout_b" / "run"
    (moved / "checkpoints").mkdir(parents=True)
    for name in ("last.ckpt", best_name):
        shutil.copy2(first / "checkpoints" / name, moved / "checkpoints" / name)
    shutil.rmtree(tmp_path / "checkout_a")  # the old checkout is gone
    with caplog.at_level("INFO", logger="drumtx.models.callbacks"):
        run_with(monkeypatch, compose_train(moved, *common, f"ckpt_path={moved / 'checkpoints' / 'last.ckpt'}"))
    assert "checkpoint folder moved" in caplog.text
    summary = json.loads((moved / "metrics.json").read_text())
    best = Path(summary["best_checkpoint"])
    assert best.parent == moved / "checkpoints" and best.is_file()
    scores = [float(p.stem.split("prauc")[1]) for p in (moved / "checkpoints").glob("epoch*")]
    assert summary["value"] == pytest.approx(max(scores), abs=1e-4) and summary["value"] >= best_score - 1e-4
    assert (moved / "best.safetensors").is_file()


def test_checkpoint_bookkeeping_drops_what_is_gone_and_follows_a_moved_folder(tmp_path):
    from drumtx.models.callbacks import Checkpoints

    here = tmp_path / "new" / "checkpoints"
    here.mkdir(parents=True)
    (here / "e9.ckpt").write_text("")
    (here / "last.ckpt").write_text("")
    old = "/gone/run/checkpoints"
    cb = Checkpoints(dirpath=str(here), monitor="m", mode="max", save_top_k=3, save_last=True)
    cb.load_state_dict({
        "dirpath": old, "best_model_path": f"{old}/e9.ckpt", "best_model_score": torch.tensor(0.557),
        "best_k_models": {f"{old}/e9.ckpt": torch.tensor(0.557), f"{old}/e7.ckpt": torch.tensor(0.512),
                          f"{old}/e3.ckpt": torch.tensor(0.41)},
        "kth_best_model_path": f"{old}/e3.ckpt", "kth_value": torch.tensor(0.41),
        "last_model_path": f"{old}/last.ckpt"})
    assert cb.best_model_path == str(here / "e9.ckpt") and float(cb.best_model_score) == pytest.approx(0.557)
    assert list(cb.best_k_models) == [str(here / "e9.ckpt")] and cb.kth_best_model_path == str(here / "e9.ckpt")
    assert cb.last_model_path == str(here / "last.ckpt")


class LogConstant(L.Callback):
    """A monitored metric that never improves after epoch 0 (ties are not improvements)."""

    def on_validation_epoch_end(self, trainer, pl_module):
        pl_module.log("const", 0.0)


def test_last_ckpt_is_the_last_finished_epoch_after_non_improving_epochs(egmd_fixture, shared_cache, tmp_path,
                                                                          monkeypatch):
    """Issue 20: Lightning rewrote last.ckpt only with a new top-k checkpoint, so a kill after
    non-improving epochs resumed from a stale epoch and silently retrained the rest."""
    common = [*data_overrides(egmd_fixture, shared_cache), "trainer.max_epochs=4", "trainer.limit_train_batches=2",
              "trainer.limit_val_batches=1", "evaluation.onset_metrics=false",
              "callbacks.model_checkpoint.monitor=const", "callbacks.model_checkpoint.save_top_k=1",
              "callbacks.model_checkpoint.filename='epoch{epoch:03d}'", "callbacks.early_stopping=null"]
    with pytest.raises(RuntimeError, match="killed"):
        run_with(monkeypatch, compose_train(tmp_path, *common), LogConstant(), KillAt(3))
    top = sorted(p.name for p in (tmp_path / "checkpoints").glob("epoch*.ckpt"))
    assert top == ["epoch000.ckpt"]  # epochs 1 and 2 did not improve
    saved = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert (saved["epoch"], saved["global_step"]) == (2, 6)  # after epoch 2, not epoch 0
    resumed = Record()
    run_with(monkeypatch, compose_train(tmp_path, *common, f"ckpt_path={tmp_path / 'checkpoints' / 'last.ckpt'}"),
             LogConstant(), resumed)
    assert resumed.start_step == 6 and len(resumed.lrs) == 1  # only epoch 3 is trained again


def test_a_resume_with_a_larger_patience_trains_on_with_it(egmd_fixture, shared_cache, tmp_path, monkeypatch):
    """Lightning restores the patience a checkpoint was saved with, so a run early stopping had
    ended, resumed with callbacks.early_stopping.patience raised (a free setting on resume),
    stopped again after its first validation."""
    common = [*data_overrides(egmd_fixture, shared_cache), "trainer.max_epochs=6", "trainer.limit_train_batches=1",
              "trainer.limit_val_batches=1", "evaluation.onset_metrics=false",
              "callbacks.model_checkpoint.monitor=const", "callbacks.model_checkpoint.save_top_k=1",
              "callbacks.model_checkpoint.filename='epoch{epoch:03d}'", "callbacks.early_stopping.monitor=const"]
    run_with(monkeypatch, compose_train(tmp_path, *common, "callbacks.early_stopping.patience=1"), LogConstant())
    last = tmp_path / "checkpoints" / "last.ckpt"
    assert torch.load(last, weights_only=True)["epoch"] == 1  # epoch 1 did not improve on epoch 0: stopped
    resumed = Record()
    run_with(monkeypatch, compose_train(tmp_path, *common, "callbacks.early_stopping.patience=3", f"ckpt_path={last}"),
             LogConstant(), resumed)
    # one validation without improvement so far, three allowed: epochs 2 and 3 are trained, not epoch 2 alone
    assert len(resumed.lrs) == 2 and torch.load(last, weights_only=True)["epoch"] == 3


def test_a_second_fresh_run_into_the_same_folder_owns_last_ckpt_and_best(egmd_fixture, shared_cache, tmp_path,
                                                                         monkeypatch, caplog):
    """Lightning wrote the second run's last state to last-v1.ckpt, leaving the first run's
    last.ckpt to be resumed from (make demo twice, a fixed hydra.run.dir)."""
    common = [*data_overrides(egmd_fixture, shared_cache), "trainer.limit_train_batches=2",
              "trainer.limit_val_batches=1", "evaluation.onset_metrics=false",
              "callbacks.model_checkpoint.monitor=const", "callbacks.model_checkpoint.save_top_k=1",
              "callbacks.model_checkpoint.filename='epoch{epoch:03d}'", "callbacks.early_stopping=null"]
    ckpts = tmp_path / "checkpoints"

    def mine():
        return [r.getMessage() for r in caplog.records if r.name == "drumtx.models.callbacks"]

    with caplog.at_level("WARNING", logger="drumtx.models.callbacks"):
        run_with(monkeypatch, compose_train(tmp_path, *common, "trainer.max_epochs=3"), LogConstant())
        assert not mine()  # a fresh folder: nothing to say
        assert torch.load(ckpts / "last.ckpt", weights_only=True)["global_step"] == 6
        run_with(monkeypatch, compose_train(tmp_path, *common, "trainer.max_epochs=2"), LogConstant())
    assert sorted(p.name for p in ckpts.iterdir()) == ["epoch000-v1.ckpt", "epoch000.ckpt", "last.ckpt"]
    saved = torch.load(ckpts / "last.ckpt", weights_only=True)
    assert (saved["epoch"], saved["global_step"]) == (1, 4)  # the second run's end, not the first's (2, 6)
    summary = json.loads((tmp_path / "metrics.json").read_text())
    assert summary["last_checkpoint"] == str(ckpts / "last.ckpt") and summary["global_step"] == 4
    # kept by another monitor (const): value is the optimized metric's last, not the monitor's best
    assert summary["value"] == summary["final"]["val/pr_auc_mean"] != 0.0
    # the first run's epoch000.ckpt has the same name and score; the best exported is the second run's
    assert summary["best_checkpoint"] == str(ckpts / "epoch000-v1.ckpt")
    _, meta = load_transcriber(tmp_path / "best.safetensors")
    assert meta["source_checkpoint"] == str(ckpts / "epoch000-v1.ckpt")
    [warning] = mine()
    assert f"{ckpts} already holds another run's checkpoints" in warning and "last.ckpt" in warning
    # resuming that run in its own folder is no "other run": no warning
    with caplog.at_level("WARNING", logger="drumtx.models.callbacks"):
        run_with(monkeypatch, compose_train(tmp_path, *common, "trainer.max_epochs=3",
                                            f"ckpt_path={ckpts / 'last.ckpt'}"), LogConstant())
    assert len(mine()) == 1
    assert torch.load(ckpts / "last.ckpt", weights_only=True)["global_step"] == 6


def test_nan_in_a_training_track_stops_the_run_naming_step_and_track(egmd_fixture, tmp_path, monkeypatch):
    """Issue 20: NaN features in one cached training track gave NaN losses from step 0, yet the
    run exited 0 with a finite value in metrics.json and a NaN best.safetensors."""
    import numpy as np

    from drumtx.data.cache import DataSource
    from drumtx.models.callbacks import NonFiniteError

    common = [*data_overrides(egmd_fixture, tmp_path / "cache"), "data.max_tracks=1", "trainer.max_epochs=1",
              "trainer.limit_train_batches=2", "evaluation.onset_metrics=false"]
    cfg = compose_train(tmp_path / "run", *common)
    source = DataSource.from_config(cfg)
    source.prepare(progress=False, num_workers=0)
    key = source.keys("train")[0]
    mel = source.cache.track_dir(key) / "mel.npy"
    data = np.load(mel)
    data[:, :] = np.nan  # same size: only drumtx.prepare's full check would see it
    np.save(mel, data)
    with pytest.raises(NonFiniteError) as err:
        run_with(monkeypatch, cfg)
    message = str(err.value)
    assert message.startswith("step 0 (epoch 0): training loss is nan") and key in message and "\n" not in message
    assert not (tmp_path / "run" / "metrics.json").exists() and not (tmp_path / "run" / "best.safetensors").exists()
    assert not list((tmp_path / "run").glob("checkpoints/*.ckpt"))


def test_an_error_raised_in_a_dataloader_worker_keeps_its_one_line_message():
    from torch._utils import ExceptionWrapper

    from drumtx.data.cache import CacheError

    try:
        raise CacheError("cached track k: /c/mel.npy is unreadable (mmap length is greater than file size)")
    except CacheError:
        wrapped = ExceptionWrapper(where="in DataLoader worker process 0")
    with pytest.raises(CacheError) as err:
        wrapped.reraise()  # what the main process sees
    assert "Original Traceback" in str(err.value)
    assert train_mod.error_message(err.value) == "cached track k: /c/mel.npy is unreadable (mmap length is greater " \
                                                 "than file size)"


@pytest.mark.parametrize(("error", "status"), [("NonFiniteError", 1), ("ConfigValueError", 2), ("TrainingInterrupted", 130)])
def test_the_command_exits_with_one_line_for_a_failed_run_or_a_bad_value(error, status, monkeypatch, tmp_path,
                                                                          capsys):
    """drumtx.train: a NaN run is a failed run (1), a bad config value bad usage (2), Ctrl-C 130; one line each."""
    from drumtx.config_schema import ConfigValueError
    from drumtx.models.callbacks import NonFiniteError

    exc = {"NonFiniteError": NonFiniteError, "ConfigValueError": ConfigValueError,
           "TrainingInterrupted": train_mod.TrainingInterrupted}[error]("step 3: it broke")

    def broken(cfg):
        raise exc

    GlobalHydra.instance().clear()
    monkeypatch.setattr(train_mod, "train", broken)
    monkeypatch.setattr(sys, "argv", ["drumtx-train", "logger=none", f"hydra.run.dir={tmp_path}"])
    with pytest.raises(SystemExit) as out:
        train_mod.main()
    assert out.value.code == status
    assert capsys.readouterr().err.strip().splitlines()[-1] == "drumtx.train: step 3: it broke"


def test_a_non_finite_metric_stops_the_run_naming_it():
    from types import SimpleNamespace

    from drumtx.models.callbacks import FiniteGuard, NonFiniteError

    trainer = SimpleNamespace(global_step=12, current_epoch=3,
                              callback_metrics={"val/loss": torch.tensor(float("nan")), "val/pr_auc_mean": torch.tensor(0.5)})
    with pytest.raises(NonFiniteError, match=r"^step 12 \(epoch 3\): non-finite metric\(s\) val/loss=nan;"):
        FiniteGuard().on_validation_end(trainer, None)
    trainer.callback_metrics["val/loss"] = torch.tensor(0.1)
    FiniteGuard().on_validation_end(trainer, None)  # all finite: goes on


class KillAtStep(L.Callback):
    def __init__(self, step: int):
        self.step = step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == self.step:
            raise RuntimeError("killed")


class Crops(L.Callback):
    def __init__(self):
        self.seen = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.seen.append((trainer.global_step, tuple(batch["track"]), tuple(batch["chunk_start"].tolist())))


@pytest.mark.slow
def test_a_mid_epoch_last_ckpt_resumes_at_its_step_with_the_same_crops(egmd_fixture, shared_cache, tmp_path,
                                                                       monkeypatch):
    """last_every_n_steps: last.ckpt inside an epoch. Lightning resumes its batch count there but
    restarts the loader; the sampler skips what was trained, so no crop is seen twice or missed.
    (Not bit-exact: README "Resume" says what differs.)"""
    common = [*data_overrides(egmd_fixture, shared_cache), "trainer.max_epochs=2", "trainer.limit_train_batches=3",
              "trainer.limit_val_batches=1", "evaluation.onset_metrics=false",
              "callbacks.model_checkpoint.last_every_n_steps=2"]
    ref = Crops()
    run_with(monkeypatch, compose_train(tmp_path / "a", *common), ref)
    run_b = tmp_path / "b"
    with pytest.raises(RuntimeError, match="killed"):
        run_with(monkeypatch, compose_train(run_b, *common), KillAtStep(5))
    saved = torch.load(run_b / "checkpoints" / "last.ckpt", weights_only=True)
    assert saved["global_step"] == 4 and saved["epoch"] == 1  # mid-epoch 1 (3 batches per epoch)
    resumed = Crops()
    run_with(monkeypatch, compose_train(run_b, *common, f"ckpt_path={run_b / 'checkpoints' / 'last.ckpt'}"), resumed)
    assert resumed.seen == ref.seen[4:]


class CountValidations(L.Callback):
    def __init__(self):
        self.steps = []

    def on_validation_end(self, trainer, pl_module):
        self.steps.append(trainer.global_step)


@pytest.mark.parametrize(("batches", "budget", "validated_at"), [(2, "callbacks.step_budget.max_steps=3", [2, 3]),
                                                                 (2, "trainer.max_steps=3", [2]),
                                                                 (4, "callbacks.step_budget.max_steps=3", [3])])
def test_step_budget_validates_the_partial_last_epoch(batches, budget, validated_at, egmd_fixture, shared_cache,
                                                      tmp_path, monkeypatch):
    """2 batches per epoch, stop after step 3: Lightning's max_steps skips the last validation.
    4 batches per epoch: the budget stops inside the first epoch too (the trainer's min_epochs=1
    used to run it on to step 4)."""
    seen = CountValidations()
    cfg = compose_train(tmp_path, *data_overrides(egmd_fixture, shared_cache), f"trainer.limit_train_batches={batches}",
                        "trainer.max_epochs=10", "evaluation.onset_metrics=false", budget)
    run_with(monkeypatch, cfg, seen)
    assert seen.steps == validated_at
    assert json.loads((tmp_path / "metrics.json").read_text())["global_step"] == 3


@pytest.mark.parametrize(("every", "skewed"), [("null", False), (2, False), (2, True)])
def test_a_finished_run_continues_from_its_last_ckpt_with_a_larger_step_budget(every, skewed, egmd_fixture,
                                                                                shared_cache, tmp_path, monkeypatch):
    """A run stopped by its step budget at an epoch's end (its last.ckpt written after that
    epoch's validation, before Lightning counts the epoch complete) continues under a larger
    budget: the hard-negative arm's continuation of the long arm failed here (EarlyStopping found
    no val metric in the restored epoch's end)."""
    common = [*data_overrides(egmd_fixture, shared_cache), "trainer.limit_train_batches=2", "trainer.max_epochs=10",
              "evaluation.onset_metrics=false", f"callbacks.model_checkpoint.last_every_n_steps={every}"]
    run_with(monkeypatch, compose_train(tmp_path / "a", *common, "callbacks.step_budget.max_steps=4"))
    seen = CountValidations()
    last = tmp_path / "a" / "checkpoints" / "last.ckpt"
    if skewed:  # as the long arm's was (written by a run itself resumed mid-epoch): epoch processed
        ckpt = torch.load(last, map_location="cpu", weights_only=True)  # one ahead of ready/started
        progress = ckpt["loops"]["fit_loop"]["epoch_progress"]
        for part in ("total", "current"):
            assert progress[part]["ready"] == progress[part]["started"] == progress[part]["processed"]
            progress[part]["ready"] = progress[part]["started"] = progress[part]["processed"] - 1
        torch.save(ckpt, last)
    cfg = compose_train(tmp_path / "b", *common, "callbacks.step_budget.max_steps=8", f"ckpt_path={last}")
    run_with(monkeypatch, cfg, seen)
    assert seen.steps == [6, 8]
    assert json.loads((tmp_path / "b" / "metrics.json").read_text())["global_step"] == 8


@pytest.mark.parametrize("skewed", [False, True])
def test_a_run_resumed_at_its_step_budget_trains_nothing(skewed, egmd_fixture, shared_cache, tmp_path, monkeypatch):
    """A new user's trial: rerunning a finished run with ckpt_path=…/last.ckpt and the same budget
    trained one step more and exported other weights."""
    common = [*data_overrides(egmd_fixture, shared_cache), "trainer.limit_train_batches=2", "trainer.max_epochs=10",
              "evaluation.onset_metrics=false", "callbacks.step_budget.max_steps=4"]
    run_with(monkeypatch, compose_train(tmp_path, *common))
    last = tmp_path / "checkpoints" / "last.ckpt"
    if skewed:  # epoch processed one ahead of ready/started, as in the test above
        ckpt = torch.load(last, map_location="cpu", weights_only=True)
        for part in ("total", "current"):
            progress = ckpt["loops"]["fit_loop"]["epoch_progress"][part]
            progress["ready"] = progress["started"] = progress["processed"] - 1
        torch.save(ckpt, last)
    before = (tmp_path / "best.safetensors").read_bytes()
    seen = CountValidations()
    run_with(monkeypatch, compose_train(tmp_path, *common, f"ckpt_path={last}"), seen)
    assert seen.steps == []
    assert json.loads((tmp_path / "metrics.json").read_text())["global_step"] == 4
    assert (tmp_path / "best.safetensors").read_bytes() == before


class WeightsAtStart(L.Callback):
    def on_train_start(self, trainer, pl_module):
        self.state = {k: v.detach().clone() for k, v in pl_module.model.state_dict().items()}


def test_init_weights_default_fine_tunes_the_packaged_model(egmd_fixture, shared_cache, tmp_path, monkeypatch):
    """init_weights=default: training starts from the packaged model's weights, step 0."""
    seen = WeightsAtStart()
    cfg = compose_train(tmp_path, *data_overrides(egmd_fixture, shared_cache), "init_weights=default",
                        "trainer.fast_dev_run=true", "evaluation.onset_metrics=false")
    run_with(monkeypatch, cfg, seen)
    packaged, _ = load_transcriber(PACKAGED_MODEL)
    for k, v in packaged.state_dict().items():
        torch.testing.assert_close(seen.state[k], v, rtol=0, atol=0, msg=f"{k} not initialised")
    assert json.loads((tmp_path / "metrics.json").read_text())["global_step"] == 1  # not a resume


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("encoder=crnn", r"init_weights .*default_model.safetensors: encoder\..* use the same encoder and branches"),
        ("branches=flat", r"init_weights .*: heads\..* use the same encoder and branches"),
        ("features.n_mels=64", r"init_weights .*: trained on features.n_mels=128, this run has 64"),
    ],
)
def test_init_weights_refuses_a_model_of_another_shape(override, message, tmp_path):
    cfg = compose_train(tmp_path, override)
    plain = plain_config(cfg)
    module = DrumTranscriptionModule(plain, build_meta(plain))
    with pytest.raises(CheckpointError, match=message) as err:
        train_mod.init_weights(module, "default", cfg)
    assert "\n" not in str(err.value)


def _fake_last_ckpt(path: Path, cfg) -> Path:
    """A checkpoint as Lightning's ModelCheckpoint writes it for ``cfg``'s model (the parts read back)."""
    plain = plain_config(cfg)
    module = DrumTranscriptionModule(plain, build_meta(plain))
    state = {f"model.{k}": v for k, v in module.model.state_dict().items()}
    torch.save({"state_dict": state, "hyper_parameters": {"meta": build_meta(plain)}}, path)
    return path


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("empty", r".*/last.ckpt: an empty file, not a model checkpoint"),
        ("truncated", r".*/last.ckpt: truncated or damaged \(an incomplete zip archive\)"),
        ("bundle", r"ckpt_path=.*best.safetensors: a .safetensors bundle holds the weights only.*init_weights="),
        ("wider", r"ckpt_path=.*last.ckpt: another model than this run's \(encoder\.channels=\[32, 64, 128, 256\] there, "
                  r"\[16, 32, 32, 64\] here\); resume with the run's own settings"),
    ],
)
def test_a_checkpoint_that_cannot_be_resumed_is_one_line_before_the_data(source, message, tmp_path):
    """A new user's trial: an empty or truncated last.ckpt, a best.safetensors given as ckpt_path
    and a resume with another encoder failed inside Lightning with a traceback (exit 1)."""
    cfg = compose_train(tmp_path, "encoder=crnn_small")
    plain = plain_config(cfg)
    module = DrumTranscriptionModule(plain, build_meta(plain))
    last = tmp_path / "last.ckpt"
    if source == "empty":
        last.write_bytes(b"")
    elif source == "truncated":
        data = _fake_last_ckpt(last, cfg).read_bytes()
        last.write_bytes(data[: len(data) // 2])
    elif source == "wider":
        _fake_last_ckpt(last, compose_train(tmp_path, "encoder=crnn"))
    else:
        last = tmp_path / "best.safetensors"
        save_bundle(last, module.model, build_meta(plain))
    with pytest.raises(CheckpointError, match=message) as err:
        train_mod.check_resume(module, str(last), cfg)
    assert "\n" not in str(err.value)


def test_a_resume_names_the_settings_it_changes(tmp_path, caplog):
    """A new user's trial: resuming with another batch size or loss weight was silent. How long to
    train on (step budget, epochs) and where to write are a resume's to change, without a word."""
    trained = compose_train(tmp_path / "a", "encoder=crnn_small")
    theirs = plain_config(trained)
    del theirs["data"]["lead_silence_prob"]  # a key added to drumtx after the checkpoint was written
    last = tmp_path / "a" / "last.ckpt"
    last.parent.mkdir(parents=True, exist_ok=True)
    module = DrumTranscriptionModule(theirs, build_meta(theirs))
    torch.save({"state_dict": {f"model.{k}": v for k, v in module.model.state_dict().items()},
                "hyper_parameters": {"meta": build_meta(theirs)}}, last)
    # continued into another folder (its paths, checkpoint folder and root differ), with a longer budget
    cfg = compose_train(tmp_path / "b", "encoder=crnn_small", "loss.crash=2", "data.batch_size=8",
                        f"data.root={tmp_path / 'elsewhere'}", "callbacks.step_budget.max_steps=99",
                        "trainer.max_epochs=7", f"ckpt_path={last}")
    with caplog.at_level("WARNING", logger="drumtx.train"):
        changed = train_mod.check_resume(module, str(last), cfg)
    assert changed == ["data.batch_size=16 there, 8 here", "loss.crash=0.6 there, 2 here"], changed
    assert "2 setting(s) other than it was trained with" in caplog.text
    same = compose_train(tmp_path / "c", "encoder=crnn_small", f"ckpt_path={last}")
    assert train_mod.check_resume(module, str(last), same) == []


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        (["init_weights=default", "features.n_mels=64"], CheckpointError),  # the source model's features
        (["trainer.precision=16-mixd"], "ConfigValueError"),  # a value Lightning refuses
        pytest.param(["trainer=gpu"], "no CUDA GPU: trainer=cpu", id="gpu-without-one",
                     marks=pytest.mark.skipif(torch.cuda.is_available(), reason="a machine without CUDA")),
    ],
)
def test_what_needs_no_data_is_refused_before_the_feature_cache_is_built(overrides, error, egmd_fixture, tmp_path):
    """A new user's trial: init_weights' feature mismatch and a bad Trainer value were reported
    only after datamodule.setup had built the whole feature cache for the refused settings."""
    from drumtx.config_schema import ConfigValueError

    cache = tmp_path / "cache"
    cfg = compose_train(tmp_path / "run", *data_overrides(egmd_fixture, cache), *overrides)
    with pytest.raises(error if isinstance(error, type) else ConfigValueError,
                       match=None if isinstance(error, type) or error == "ConfigValueError" else error):
        train_mod.train(cfg)
    assert not any(p.is_file() for p in cache.rglob("*")) if cache.exists() else True


@pytest.mark.parametrize(("monitored", "extra"), [
    ("optimized_metric", []),  # the plateau step, early stopping and checkpoints all need it
    ("callbacks.early_stopping.monitor", ["callbacks.model_checkpoint.monitor=val/pr_auc_mean"]),
    ("callbacks.model_checkpoint.monitor", ["callbacks.early_stopping=null"]),
])
def test_a_monitored_metric_nothing_logs_is_one_line_naming_its_key(monitored, extra, egmd_fixture, shared_cache,
                                                                    tmp_path):
    """It passed the config check with a warning (a user's callback may log it); Lightning's
    scheduler, early stopping or checkpoints then failed after the first epoch with a traceback."""
    from drumtx.config_schema import ConfigValueError

    cfg = compose_train(tmp_path, *data_overrides(egmd_fixture, shared_cache), f"{monitored}=val/foo_bar_baz", *extra,
                        "trainer.max_epochs=1", "trainer.limit_train_batches=1", "trainer.limit_val_batches=1",
                        "evaluation.onset_metrics=false")
    with pytest.raises(ConfigValueError, match=rf"^{monitored}='val/foo_bar_baz': nothing logged it by the end of "
                                               r"epoch 0 \(\d+ metrics logged, e.g. val/\w+, val/\w+, val/\w+\); nothing was "
                                               r"exported$"):
        train_mod.train(cfg)
    assert not (tmp_path / "best.safetensors").exists()


def test_a_run_stopped_before_its_first_validation_says_so(egmd_fixture, shared_cache, tmp_path):
    """A new user's trial: trainer.max_steps=3 stopped within the first epoch and the message
    said nothing logged val/pr_auc_mean "(13 metrics logged, e.g. val/pr_auc_mean)"."""
    from drumtx.config_schema import ConfigValueError

    cfg = compose_train(tmp_path, *data_overrides(egmd_fixture, shared_cache), "trainer.max_steps=1",
                        "trainer.limit_train_batches=3", "evaluation.onset_metrics=false")
    # refused before the first step (a second try: it trained those steps first, then said so)
    with pytest.raises(ConfigValueError, match=r"^trainer.max_steps=1 ends the run within its first epoch \(3 steps\), "
                                               r"before the first validation .* so optimized_metric='val/pr_auc_mean' "
                                               r"is never logged .* use callbacks.step_budget.max_steps=N$"):
        train_mod.train(cfg)
    assert not (tmp_path / "best.safetensors").exists() and not (tmp_path / "checkpoints").exists()
    # a whole epoch (or more) validates as before
    assert train_mod.train(compose_train(tmp_path / "b", *data_overrides(egmd_fixture, shared_cache),
                                         "trainer.max_steps=3", "trainer.limit_train_batches=3",
                                         "evaluation.onset_metrics=false")) is not None


@pytest.mark.parametrize(("override", "says"), [
    ("trainer.limit_val_batches=0", "validation never runs (trainer.limit_val_batches=0)"),
    ("trainer.check_val_every_n_epoch=5", "validation never runs (trainer.check_val_every_n_epoch=5)"),
    ("trainer.max_steps=3", "no validation ran (trainer.max_steps=3 stopped the run within epoch 0"),
])
def test_a_metric_missing_because_validation_never_ran_names_the_cause(override, says, tmp_path):
    """Review: validation switched off was reported as a run stopped early."""
    cfg = compose_train(tmp_path, "trainer.max_epochs=2", override)
    error = RuntimeError("ModelCheckpoint(monitor='val/pr_auc_mean')` could not find the monitored key in the "
                         "returned metrics: ['lr-AdamW']")
    message = str(train_mod.unlogged_metric(error, cfg, ["lr-AdamW", "step"], 0))
    assert message.startswith(f"optimized_metric='val/pr_auc_mean': {says}"), message


class CtrlCAt(L.Callback):
    def __init__(self, step: int):
        self.step = step

    def on_train_batch_end(self, trainer, *args):
        if trainer.global_step == self.step:
            raise KeyboardInterrupt


@pytest.mark.parametrize(("override", "step", "says"), [
    ("callbacks.model_checkpoint.last_every_n_steps=1", 3, r"interrupted at step 3 \(epoch 1\); nothing was "
     r"exported; resume from its last checkpoint with ckpt_path=.*/checkpoints/last.ckpt$"),
    ("callbacks.model_checkpoint.last_every_n_steps=null", 1,
     r"interrupted at step 1 \(epoch 0\); nothing was exported, and no checkpoint was written yet"),
    ("callbacks=none", 1, r"interrupted at step 1 \(epoch 0\); nothing was exported; this run writes no checkpoints"),
])
def test_ctrl_c_says_where_the_run_stopped_and_how_to_resume(override, step, says, egmd_fixture, shared_cache,
                                                             tmp_path, monkeypatch):
    """A new user's trial: Ctrl-C printed Lightning's "attempting graceful shutdown" and exited 1,
    the status of a failed run, with no word on resuming."""
    cfg = compose_train(tmp_path, *data_overrides(egmd_fixture, shared_cache), "trainer.limit_train_batches=2",
                        "trainer.max_epochs=5", "evaluation.onset_metrics=false", override)
    with pytest.raises(train_mod.TrainingInterrupted, match=says):
        run_with(monkeypatch, cfg, CtrlCAt(step))
    assert not (tmp_path / "best.safetensors").exists()


def test_a_metric_logged_at_the_training_epochs_end_may_be_monitored(egmd_fixture, shared_cache, tmp_path):
    """A review: a check at the first validation's end would refuse train/loss_epoch, which
    Lightning's early stopping finds at the end of the training epoch."""
    cfg = compose_train(tmp_path, *data_overrides(egmd_fixture, shared_cache), "optimized_metric=train/loss_epoch",
                        "callbacks.model_checkpoint.mode=min", "callbacks.early_stopping.mode=min",
                        "trainer.max_epochs=1", "trainer.limit_train_batches=1", "trainer.limit_val_batches=1",
                        "evaluation.onset_metrics=false", "scheduler=none")
    train_mod.train(cfg)
    assert json.loads((tmp_path / "metrics.json").read_text())["optimized_metric"] == "train/loss_epoch"


def test_an_onset_metric_without_onset_scoring_is_refused_before_training(tmp_path):
    from drumtx.config_schema import ConfigValueError, validate

    for overrides, key in [(["optimized_metric=val/onset_f_mean"], "optimized_metric"),
                           (["callbacks.early_stopping.monitor=val/inst/kick/onset_f"], "callbacks.early_stopping.monitor")]:
        cfg = compose_train(tmp_path, *overrides, "evaluation.onset_metrics=false")
        with pytest.raises(ConfigValueError, match=rf"^{key}='val/\S*onset_f\S*': evaluation.onset_metrics=false logs "
                                                   "no onset scores"):
            validate(cfg)
        validate(compose_train(tmp_path, *overrides))  # with onset scoring on, it is logged


def test_wandb_logger_is_offline_without_a_key_and_named_from_overrides(tmp_path, monkeypatch):
    from lightning.pytorch.loggers import WandbLogger

    cfg = compose_train(tmp_path, "data=egmd", "branches=flat", "loss.crash=0.6", "logger=wandb")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    assert not wandb_key_configured()
    logger = build_logger(cfg)
    assert isinstance(logger, WandbLogger) and logger._offline
    name = logger._wandb_init["name"]  # Hydra's override_dirname: the sorted overrides
    assert name.startswith("branches=flat,data=egmd,") and ",loss.crash=0.6," in name
    (tmp_path / "netrc").write_text("machine api.wandb.ai login user password " + "x" * 40 + "\n")
    (tmp_path / "netrc").chmod(0o600)
    monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))
    assert wandb_key_configured()
    monkeypatch.setenv("WANDB_MODE", "offline")  # an explicit offline mode still wins
    assert build_logger(cfg)._offline
    assert build_logger(compose_train(tmp_path, "data=egmd", "logger=none")) is False


@pytest.mark.parametrize(
    ("overrides", "kinds"),
    [
        (["logger=none"], ["CSVLogger"]),
        (["logger=csv"], ["CSVLogger"]),  # not twice
        (["logger=wandb"], ["WandbLogger", "CSVLogger"]),
        (["logger=none", "csv_log=false"], []),
        (["logger=tensorboard", "csv_log=false"], ["TensorBoardLogger"]),
    ],
)
def test_every_training_run_keeps_a_csv_log_for_its_curves(overrides, kinds, tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    loggers = build_training_loggers(compose_train(tmp_path, "data=egmd", *overrides))
    assert [type(lg).__name__ for lg in loggers] == kinds
    for lg in loggers:
        if type(lg).__name__ == "CSVLogger":
            assert Path(lg.log_dir).parent == tmp_path / "csv"  # where train_curves looks
            assert not (tmp_path / "csv").exists()  # made at its first write: a refused run leaves none
    assert not tmp_path.exists() or not any(tmp_path.iterdir())  # nor the other loggers' save_dir


def test_a_run_refused_for_its_data_leaves_no_logger_folder(tmp_path, monkeypatch, capsys):
    """With TensorBoard or W&B configured, paths.output_dir (their save_dir) was made before the
    data was checked: a refused run left an empty folder behind."""
    from drumtx.data.datasets import DatasetError

    monkeypatch.setenv("WANDB_MODE", "offline")
    out = tmp_path / "run"
    for logger in ("tensorboard", "wandb"):
        cfg = compose_train(tmp_path, "data=synth_default", f"data.root={tmp_path}/missing", f"logger={logger}",
                            f"paths.output_dir={out}")
        with pytest.raises(DatasetError, match="not rendered yet"):
            train_mod.train(cfg)
        assert not out.exists()


def run_cli(*args: str, cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true", "PYTHONPATH": str(PROJECT_ROOT)}
    env.pop("WANDB_API_KEY", None)
    return subprocess.run(
        [sys.executable, "-m", "drumtx.train", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.slow
@pytest.mark.parametrize("branches", ["five_branch", "flat"])
def test_cli_trains_end_to_end_with_wandb_offline(branches, egmd_fixture, shared_cache, tmp_path):
    out = tmp_path / "run"
    proc = run_cli(
        f"branches={branches}",
        "loss.crash=0.6",
        *data_overrides(egmd_fixture, shared_cache),
        "trainer.max_epochs=2",
        f"paths.root_dir={tmp_path}",
        f"hydra.run.dir={out}",
        "logger=wandb",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "total" in proc.stdout  # parameter counts
    assert (out / "checkpoints" / "last.ckpt").is_file() and (out / "best.safetensors").is_file()
    assert json.loads((out / "metrics.json").read_text())["value"] is not None
    runs = list((out / "wandb").glob("offline-run-*"))
    assert len(runs) == 1  # offline: no key in the environment, and finished (synced later)
    assert (out / "csv" / "version_0" / "metrics.csv").is_file()  # beside W&B, for train_curves
    load_transcriber(out / "best.safetensors")


@pytest.mark.slow
def test_ddp_cpu_two_processes(egmd_fixture, shared_cache, tmp_path):
    out = tmp_path / "ddp"
    proc = run_cli(
        "trainer=ddp_cpu",
        *data_overrides(egmd_fixture, shared_cache),
        "trainer.max_epochs=2",
        f"paths.root_dir={tmp_path}",
        f"hydra.run.dir={out}",
        "logger=csv",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "distributed_backend=gloo" in proc.stderr + proc.stdout
    assert "All distributed processes registered. Starting with 2 processes" in proc.stderr + proc.stdout
    assert (out / "checkpoints" / "last.ckpt").is_file() and (out / "best.safetensors").is_file()
    load_transcriber(out / "checkpoints" / "last.ckpt")


def test_training_output_leaves_out_lightning_tips_and_the_leafspec_warning():
    import logging
    import warnings

    from lightning.pytorch.utilities.rank_zero import rank_zero_info
    from torch.utils._pytree import LeafSpec

    from drumtx.run_logging import quiet_third_party

    seen: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record):
            seen.append(record.getMessage())

    handler = Keep(level=logging.INFO)
    target = logging.getLogger("lightning")
    target.addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            quiet_third_party()
            quiet_third_party()  # idempotent: one filter
            rank_zero_info("💡 Tip: For seamless cloud logging, try installing litlogger")
            rank_zero_info("GPU available: False, used: False")
            LeafSpec()
            warnings.warn("another deprecation", FutureWarning, stacklevel=1)
    finally:
        target.removeHandler(handler)
    assert seen == ["GPU available: False, used: False"]
    assert [str(w.message) for w in caught] == ["another deprecation"]
    from drumtx.run_logging import _ADVERTISEMENTS

    names = ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero")
    assert all(logging.getLogger(n).filters.count(_ADVERTISEMENTS) == 1 for n in names)


@pytest.mark.parametrize(
    ("override", "says"),
    [
        ("trainer.precision=16-mixd", "trainer: Precision '16-mixd' is invalid"),
        ("trainer.devices=abc", "trainer: "),
    ],
)
def test_a_value_lightning_refuses_is_one_config_error(override, says, egmd_fixture, shared_cache, tmp_path):
    """A new-user trial: ``trainer.precision=16-mixd`` was Hydra's six-line "Error in call to
    target" block; it is a ConfigValueError (one line, exit 2, from ``drumtx.train``)."""
    from drumtx.config_schema import ConfigValueError

    cfg = compose_train(tmp_path, *data_overrides(egmd_fixture, shared_cache), override)
    with pytest.raises(ConfigValueError) as err:
        train_mod.train(cfg)
    assert str(err.value).startswith(says) and "\n" not in str(err.value) and "Error in call" not in str(err.value)


def test_the_resume_line_names_the_run_folder_of_a_single_run(tmp_path):
    """A new user's try: resuming "with ckpt_path=…" as the line said went into a new folder, its
    logs split over two; the line now gives hydra.run.dir too (not for a sweep's job)."""
    from types import SimpleNamespace

    from hydra.types import RunMode
    from lightning.pytorch.callbacks import ModelCheckpoint
    from omegaconf import OmegaConf, open_dict

    last = tmp_path / "checkpoints" / "last.ckpt"
    last.parent.mkdir()
    last.write_bytes(b"x")
    callback = ModelCheckpoint(dirpath=last.parent)
    callback.last_model_path = str(last)
    trainer = SimpleNamespace(callbacks=[callback], global_step=7, current_epoch=1)
    for mode, tail in ((RunMode.RUN, f" hydra.run.dir={tmp_path}"), (RunMode.MULTIRUN, "")):
        cfg = compose_train(tmp_path)
        OmegaConf.set_readonly(cfg.hydra, False)
        with open_dict(cfg):
            cfg.hydra.mode = mode
            cfg.hydra.runtime.output_dir = str(tmp_path)
        HydraConfig.instance().set_config(cfg)
        assert train_mod._interrupted_message(trainer, None).endswith(f"ckpt_path={last}{tail}")
