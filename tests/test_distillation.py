"""Distillation (``distillation.*``): the divergence of the distilled heads from a frozen teacher,
on the chosen kits' crops only, its errors, and a training run with the packaged model as teacher."""

from __future__ import annotations

import copy
import csv
import json

import pytest
import torch

from drumtx import train as train_mod
from drumtx.checkpoint import PACKAGED_MODEL, build_meta, load_transcriber, plain_config
from drumtx.config_schema import ConfigValueError
from drumtx.models.distillation import DistillationError, Teacher
from drumtx.models.module import DrumTranscriptionModule
from tests.test_train import compose_train, data_overrides


def _student(tmp_path, *overrides):
    cfg = compose_train(tmp_path, *overrides)
    plain = plain_config(cfg)
    return cfg, DrumTranscriptionModule(plain, build_meta(plain))


def _batch(tracks, frames=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    mel = torch.randn(len(tracks), 128, frames, generator=g)
    mask = torch.ones(len(tracks), frames, dtype=torch.bool)
    mask[-1, frames // 2:] = False  # padding never counts
    return {"mel": mel, "mask": mask, "track": list(tracks)}


@pytest.fixture(scope="module")
def packaged():
    model, _meta = load_transcriber(PACKAGED_MODEL)
    return model


def test_a_student_equal_to_its_teacher_has_zero_divergence_and_another_has_more(packaged):
    teacher = Teacher(copy.deepcopy(packaged), packaged.heads.specs, ["crash", "snare"], 1.0)
    student = copy.deepcopy(packaged).train(False)
    batch = _batch(["a", "b"])
    parts = teacher.loss(student(batch["mel"], batch["mask"]), batch)
    assert set(parts) == {"distill_crash", "distill_snare"}
    for v in parts.values():
        assert abs(v.item()) < 1e-5
    with torch.no_grad():
        student.heads.heads["crash"][-1].bias.add_(4.0)  # the student now says crash more often
    parts = teacher.loss(student(batch["mel"], batch["mask"]), batch)
    assert parts["distill_crash"].item() > 0.05
    assert abs(float(parts["distill_snare"])) < 1e-5  # the snare head is unchanged
    assert float(teacher.total(parts)) == pytest.approx(float(parts["distill_crash"] + parts["distill_snare"]))


def test_only_the_chosen_kits_crops_count_and_only_the_student_learns(packaged):
    teacher = Teacher(copy.deepcopy(packaged), packaged.heads.specs, ["crash"], 2.0,
                      kits=["fluidr3_*"], skip_kits=["*+music"])
    assert teacher.select_tracks({"a": "fluidr3_standard", "b": "h2_colombo", "c": "fluidr3_jazz+music"}) == 1
    student = copy.deepcopy(packaged).train(False)
    with torch.no_grad():
        student.heads.heads["crash"][-1].bias.add_(2.0)
    only_a = _batch(["a"], seed=1)
    mixed = {**_batch(["b", "a", "c"], seed=1)}
    mixed["mel"][1] = only_a["mel"][0]
    mixed["mask"][1] = only_a["mask"][0]
    # the divergence of the batch is that of its one chosen crop
    alone = teacher.loss(student(only_a["mel"], only_a["mask"]), only_a)["distill_crash"]
    logits = student(mixed["mel"], mixed["mask"])
    part = teacher.loss(logits, mixed)["distill_crash"]
    torch.testing.assert_close(part, alone)
    teacher.total({"distill_crash": part}).backward()
    assert student.heads.heads["crash"][-1].bias.grad is not None
    assert all(p.grad is None and not p.requires_grad for p in teacher.model.parameters())
    # no chosen crop: zero, with the head in the graph (DDP needs a gradient for it)
    none = _batch(["b", "c"])
    zero = teacher.loss(student(none["mel"], none["mask"]), none)["distill_crash"]
    assert float(zero) == 0.0 and zero.requires_grad


@pytest.mark.parametrize(
    ("heads", "weight", "message"),
    [
        (["tom_variation"], 1.0, r"'tom_variation' is a variation head \(it means something only where its parent "
                                 r"tom_primary is 1\); only primary heads can be distilled: \[.*crash"),
        (["crahs"], 1.0, r"'crahs' is not a head of this model \(did you mean crash\?\)"),
        (["crash", "crash"], 1.0, r"distillation.heads names \['crash'\] more than once"),
        ([], 1.0, r"distillation.heads is empty"),
        (["crash"], 0.0, r"distillation.weight must be > 0"),
    ],
)
def test_heads_and_weight_that_cannot_be_distilled_are_refused(packaged, heads, weight, message):
    with pytest.raises(DistillationError, match=message):
        Teacher(packaged, packaged.heads.specs, heads, weight)


def test_kit_patterns_matching_no_training_track_are_refused(packaged):
    kits = {"a": "fluidr3_jazz", "b": "musescore_power", "c": "musescore_power+music", "d": "avl_black_pearl",
            "e": "none+music"}
    teacher = Teacher(packaged, packaged.heads.specs, ["crash"], 1.0, kits=["fluidr3*", "musecore_*"])
    # a new user's trial: the first kits alphabetically were listed, never the one meant
    with pytest.raises(DistillationError, match=r"^distillation.kits: \['musecore_\*'\] match no training track's "
                                                 r"kit_name \(closest: musescore_power \(each also as NAME\+music; "
                                                 r"none\+music: music alone\)\)$"):
        teacher.select_tracks(kits)
    teacher = Teacher(packaged, packaged.heads.specs, ["crash"], 1.0, skip_kits=["*"])
    with pytest.raises(DistillationError, match=r"^distillation: every kit with skip_kits=\['\*'\] leave no training"):
        teacher.select_tracks(kits)


def test_a_teacher_with_other_features_is_refused_before_the_data(tmp_path):
    cfg, module = _student(tmp_path, "distillation.teacher=default", "features.n_mels=64", "encoder=crnn_small")
    with pytest.raises(train_mod.CheckpointError, match=r"distillation.teacher .*default_model.safetensors: trained "
                                                        r"on features.n_mels=128, this run has 64"):
        train_mod.load_teacher(module, cfg)


def test_training_with_the_packaged_model_as_teacher(egmd_fixture, tmp_path, monkeypatch, tmp_path_factory):
    """A short run distils the crash from the packaged model on one kit's crops: the part is logged,
    the teacher is not in the checkpoint, and a kit typo is one line before any training."""
    cache = tmp_path_factory.mktemp("distil_cache")
    common = [*data_overrides(egmd_fixture, cache), "init_weights=default", "distillation.teacher=default",
              "evaluation.onset_metrics=false", "trainer.max_epochs=1", "csv_log=true"]
    cfg = compose_train(tmp_path / "typo", *common, "distillation.kits=[Kit 7]")
    with pytest.raises(DistillationError, match=r"distillation.kits: \['Kit 7'\] match no training track's kit_name"):
        train_mod.train(cfg)
    assert not (tmp_path / "typo" / "checkpoints").exists()

    out = tmp_path / "run"
    # (a bare head name is a one-head list, as the config check makes it)
    cfg = compose_train(out, *common, "distillation.kits=[Kit 1]", "distillation.weight=3",
                        "distillation.heads=crash")
    train_mod.train(cfg)
    with open(next(out.glob("csv/version_*/metrics.csv"))) as f:
        rows = list(csv.DictReader(f))
    part = [float(r["train/loss_distill_crash"]) for r in rows if r.get("train/loss_distill_crash")]
    assert part and all(v > 0 for v in part)  # the student (dropout on) drifts from its teacher
    ckpt = torch.load(out / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert not any("teacher" in k for k in ckpt["state_dict"])
    assert ckpt["hyper_parameters"]["cfg"]["distillation"]["kits"] == ["Kit 1"]
    assert json.loads((out / "metrics.json").read_text())["global_step"] > 0


def test_an_added_mistyped_distillation_key_is_refused(tmp_path):
    """A new user's trial: ``+distillation.kit=[…]`` was accepted and the teacher ran on every kit."""
    from drumtx.config_schema import check_targets

    cfg = compose_train(tmp_path, "distillation.teacher=default", "+distillation.kit=[fluidr3_*]")
    with pytest.raises(ConfigValueError, match=r"^distillation.kit: not a setting of the distillation section \(did you mean distillation.kits\?\)$"):
        check_targets(cfg)


def test_distillation_settings_without_a_teacher_are_named(tmp_path, caplog):
    """A new user's trial: kits and a weight set without a teacher distilled nothing, silently."""
    cfg, module = _student(tmp_path, "distillation.weight=5", "distillation.kits=[fluidr3*_]")
    with caplog.at_level("WARNING"):
        assert train_mod.load_teacher(module, cfg) is None
    assert "distillation.weight, distillation.kits set without distillation.teacher: nothing is distilled" in caplog.text
    caplog.clear()
    cfg, module = _student(tmp_path)
    with caplog.at_level("WARNING"):
        assert train_mod.load_teacher(module, cfg) is None
    assert "distillation" not in caplog.text


def test_a_teacher_that_is_not_a_model_names_the_key(tmp_path):
    """A new user's trial: a log file as the teacher was refused naming the file, not the setting."""
    log = tmp_path / "train.log"
    log.write_text("not a model\n")
    cfg, module = _student(tmp_path, f"distillation.teacher={log}")
    with pytest.raises(train_mod.CheckpointError, match=rf"^distillation.teacher: {log}: not a model checkpoint"):
        train_mod.load_teacher(module, cfg)
