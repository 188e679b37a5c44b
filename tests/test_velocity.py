"""The velocity output (issue 16, "Velocity"; issue 18, dynamics): the velocity head on both head
sets, its masked loss, velocity at inference through drumtx.dynamics, the old bundle without it,
and the velocity scores (drumtx.evaluation.velocity)."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from test_models import batch_for, model_cfg
from test_transcribe import render_groove

from drumtx import dynamics
from drumtx.chart import GHOST_VELOCITY, RESOLUTION, chart_midi
from drumtx.checkpoint import build_meta, load_transcriber, save_bundle
from drumtx.evaluation.velocity import estimated_velocities, markdown, track_velocity_scores, velocity_scores
from drumtx.inference import InferenceSettings, activations
from drumtx.midi_out import TempoMap
from drumtx.models.heads import VELOCITY, FiveBranchHeads, FlatHead
from drumtx.models.losses import DrumLoss, velocity_loss
from drumtx.models.transcriber import build_transcriber
from drumtx.targets import Onset
from drumtx.transcriber import (
    VELOCITY_FROM_MODEL,
    VELOCITY_MEASURED,
    Transcriber,
    Transcription,
    with_measured_velocities,
)

TINY = Path(__file__).parent / "fixtures" / "tiny_model.safetensors"  # saved before velocity existed
#: MIDI velocity the fixed velocity head gives each fine class (see ``fixed_velocity_bundle``).
FIXED = {
    "kick": 110, "snare_head": 35, "snare_rim": 50, "tom_floor": 90, "tom_high": 91, "tom_mid": 92,
    "hihat_closed": 70, "hihat_open": 75, "ride": 60, "ride_bell": 65, "crash": 120,
}
pytestmark = pytest.mark.usefixtures("one_torch_thread")


# ------------------------------------------------------------------------------------------ model
@pytest.mark.parametrize("branches", ["five_branch", "flat"])
def test_velocity_head_shapes_and_the_switch(branches):
    cfg = model_cfg("crnn_small", branches)
    assert cfg["branches"]["velocity"] is True  # on by default for new models
    b, t = 2, 29
    mel = torch.randn(b, 128, t)
    model = build_transcriber(cfg).eval()
    with torch.no_grad():
        logits = model(mel)
    c = len(model.vocab.fine_classes)
    assert model.has_velocity and logits[VELOCITY].shape == (b, t, c)
    v = model.velocity_probs(logits)
    assert v.shape == (b, t, c) and bool(((v > 0) & (v < 1)).all())
    torch.testing.assert_close(v, torch.sigmoid(logits[VELOCITY]))

    cfg["branches"]["velocity"] = False
    off = build_transcriber(cfg).eval()
    with torch.no_grad():
        logits_off = off(mel)
    assert not off.has_velocity and VELOCITY not in logits_off and off.velocity_probs(logits_off) is None
    assert not any("velocity" in k for k in off.state_dict())
    assert set(logits_off) == set(logits) - {VELOCITY}
    with pytest.raises(ValueError, match="branches.velocity must be true or false"):
        FlatHead(8, hidden=[], velocity="yes")


def test_velocity_head_name_is_reserved():
    heads = model_cfg("crnn_small", "five_branch")["branches"]["heads"]
    with pytest.raises(ValueError, match="velocity head's name"):
        FiveBranchHeads(8, dict(heads, velocity={"target": "kick", "classes": 1}))


def test_build_meta_says_whether_the_model_has_velocity():
    cfg = {**model_cfg("crnn_small", "flat"), "features": {"sample_rate": 24000, "hop_length": 240}}
    assert build_meta(cfg)["velocity_output"] is True
    cfg["branches"] = {k: v for k, v in cfg["branches"].items() if k != "velocity"}  # an old config
    assert build_meta(cfg)["velocity_output"] is False


# ------------------------------------------------------------------------------------------- loss
def _velocity_batch(c: int = 11, b: int = 2, t: int = 12):
    g = torch.Generator().manual_seed(3)
    roll = (torch.rand(b, t, c, generator=g) < 0.25).float()
    velocity = roll * torch.randint(1, 128, (b, t, c), generator=g) / 127.0
    return {"roll": roll, "velocity": velocity, "mask": torch.ones(b, t, dtype=torch.bool)}


def test_velocity_loss_counts_only_onset_frames_of_the_class():
    batch = _velocity_batch()
    logits = torch.randn(*batch["roll"].shape, generator=torch.Generator().manual_seed(0)).requires_grad_(True)
    batch["mask"][1, 8:] = False  # padding
    loss = velocity_loss(logits, batch, batch["mask"])
    onset = (batch["roll"] > 0.5) & batch["mask"].unsqueeze(-1)
    expected = ((torch.sigmoid(logits) - batch["velocity"]) ** 2)[onset].mean()
    torch.testing.assert_close(loss, expected)
    loss.backward()
    assert float(logits.grad[~onset].abs().sum()) == 0.0  # a frame without onset contributes nothing
    assert float(logits.grad[onset].abs().min()) > 0.0

    # what the loss does not look at: targets off onsets, padded onsets, other logits
    changed = dict(batch, velocity=batch["velocity"].clone())
    changed["velocity"][~onset] = 0.77
    other = logits.detach().clone()
    other[~onset] = 5.0
    torch.testing.assert_close(velocity_loss(other, changed, batch["mask"]), expected.detach())
    none = dict(batch, roll=torch.zeros_like(batch["roll"]))
    zero = velocity_loss(logits, none, batch["mask"])
    assert zero.item() == 0.0 and zero.requires_grad  # no onset: zero, not NaN, still in the graph


@pytest.mark.parametrize("branches", ["five_branch", "flat"])
def test_velocity_weight_adds_its_part_and_zero_gives_the_old_total(branches):
    model = build_transcriber(model_cfg("crnn_small", branches))
    batch = batch_for(model)
    with torch.no_grad():
        logits = model(batch["mel"], batch["mask"])
    without = {k: v for k, v in logits.items() if k != VELOCITY}
    old_total, old_parts = DrumLoss(model.heads.specs)(without, batch)
    assert VELOCITY not in old_parts
    total0, parts0 = DrumLoss(model.heads.specs, velocity=0.0)(logits, batch)
    assert total0.item() == old_total.item()  # loss.velocity=0: the old total, bit for bit
    assert parts0[VELOCITY].item() > 0  # still reported
    total, parts = DrumLoss(model.heads.specs, velocity=0.5)(logits, batch)
    torch.testing.assert_close(total, old_total + 0.5 * parts[VELOCITY])
    torch.testing.assert_close(parts[VELOCITY], velocity_loss(logits[VELOCITY], batch, batch["mask"]))
    with pytest.raises(KeyError, match="no 'velocity' targets"):
        DrumLoss(model.heads.specs)(logits, {k: v for k, v in batch.items() if k != "velocity"})


def test_loss_config_has_the_velocity_weight():
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.utils import instantiate

    from drumtx import CONF_DIR

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("train", overrides=["data=egmd", "loss=swept", "loss.velocity=0.25"])
    assert cfg.branches.velocity is True
    loss_fn = instantiate(cfg.loss, _partial_=True)(specs=FlatHead(4, hidden=[]).specs)
    assert loss_fn.velocity_weight == 0.25


def test_a_tiny_model_learns_velocity_on_the_fixture(egmd_config):
    """A few optimiser steps on one training batch of the E-GMD fixture (its MIDI velocities
    at the onset frames) lower the velocity loss a lot; the detection loss trains alongside."""
    from hydra.utils import instantiate

    cfg = egmd_config("data.crop_seconds=1.0", "data.batch_size=4")
    dm = instantiate(cfg.data, features=cfg.features, augmentation=cfg.augmentation, _recursive_=False)
    dm.prepare_data()
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert float((batch["roll"] > 0.5).sum()) >= 10 and float(batch["velocity"].max()) > 0.5
    torch.manual_seed(0)
    mcfg = model_cfg("crnn_small", "five_branch")
    mcfg["encoder"].update(channels=[8, 8, 16, 16], rnn_hidden=16)
    mcfg["branches"]["dropout"] = 0.0
    model = build_transcriber(mcfg)
    loss_fn = DrumLoss(model.heads.specs)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    history = []
    for _ in range(40):
        opt.zero_grad()
        total, parts = loss_fn(model(batch["mel"], batch["mask"]), batch)
        total.backward()
        assert float(model.heads.velocity[-1].weight.grad.abs().sum()) > 0  # gradient reaches the head
        opt.step()
        history.append(parts[VELOCITY].item())
    assert history[-1] < 0.3 * history[0], history


# ----------------------------------------------------------------------------------- inference
def test_stitched_velocity_equals_one_pass_and_is_gated():
    from torch import nn

    from drumtx.features import LogMel
    from drumtx.models.transcriber import DrumTranscriber

    class PerFrame(nn.Module):
        def forward(self, mel, mask=None):
            return mel.transpose(1, 2)

    torch.manual_seed(0)
    model = DrumTranscriber(PerFrame(), FlatHead(in_dim=16, hidden=[8], dropout=0.0, velocity=True)).eval()
    mel = np.random.default_rng(0).standard_normal((16, 537)).astype(np.float32) - 5.0
    features = LogMel()
    plain = dict(gate_db=None, gate_dilate=2)
    whole = activations(model, features, mel, InferenceSettings(100.0, 0.0, 1, **plain))
    parts = activations(model, features, mel, InferenceSettings(0.5, 0.1, 3, **plain))
    assert whole.velocity.shape == (537, len(model.vocab.fine_classes)) and whole.velocity.dtype == np.float32
    np.testing.assert_allclose(parts.velocity, whole.velocity, rtol=1e-5, atol=1e-6)
    with torch.no_grad():
        direct = torch.sigmoid(model(torch.from_numpy(mel.astype(np.float16).astype(np.float32))[None])[VELOCITY])
    np.testing.assert_allclose(whole.velocity, direct[0].numpy(), rtol=1e-5, atol=1e-6)
    from drumtx.features import db_to_mel
    from drumtx.inference import loud_frames

    silent = mel.copy()
    silent[:, 200:300] = features.silence  # digital silence: gated
    gated = activations(model, features, silent, InferenceSettings(100.0, 0.0, 1, gate_db=-60.0, gate_dilate=2))
    ungated = activations(model, features, silent, InferenceSettings(100.0, 0.0, 1, **plain))
    loud = loud_frames(silent.astype(np.float16), db_to_mel(-60.0, features), 2)
    assert not loud[205:295].any() and loud[:190].sum() > 100
    np.testing.assert_array_equal(gated.velocity, np.where(loud[:, None], ungated.velocity, 0.0))


def _fixed_velocity_bundle(path: Path) -> Path:
    """The tiny fixture model plus a velocity head whose output is :data:`FIXED` everywhere
    (zero weights, bias = logit(velocity / 127)): detection exactly the fixture's."""
    old, meta = load_transcriber(TINY)
    cfg = json.loads(json.dumps(meta["config"]))
    cfg["branches"]["velocity"] = True
    model = build_transcriber(cfg)
    missing, unexpected = model.load_state_dict(old.state_dict(), strict=False)
    assert not unexpected and missing and all(k.startswith("heads.velocity.") for k in missing)
    last = model.heads.velocity[-1]
    p = torch.tensor([FIXED[c] / 127.0 for c in model.vocab.fine_classes], dtype=torch.float64)
    with torch.no_grad():
        last.weight.zero_()
        last.bias.copy_(torch.log(p / (1 - p)).float())
    save_bundle(path, model, {**meta, "config": cfg, "velocity_output": True})
    return path


@pytest.fixture(scope="module")
def groove(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("velocity") / "groove.wav"
    audio, _ = render_groove(8.0, 24000)
    sf.write(path, audio, 24000)
    return path


def test_old_bundle_without_velocity_loads_and_transcribes_with_measured_velocity(groove):
    model, meta = load_transcriber(TINY)
    assert "velocity" not in json.loads(TINY.with_suffix(".json").read_text())["config"]["branches"]
    assert not model.has_velocity and meta["velocity_output"] is False
    out = Transcriber(model, meta).transcribe(groove)  # the API: velocities measured, as the command's
    assert out.velocity is None and out.onsets
    assert out.velocity_source == VELOCITY_MEASURED
    assert [o.velocity for o in out.onsets] == list(dynamics.onset_velocities(groove, out.onsets))


def test_a_model_with_velocity_gives_midi_velocities_from_its_head(groove, tmp_path, monkeypatch, capsys):
    bundle = _fixed_velocity_bundle(tmp_path / "v.safetensors")
    tx = Transcriber.from_checkpoint(bundle)
    assert tx.model.has_velocity and tx.meta["velocity_output"] is True
    result = tx.transcribe(groove)
    assert result.velocity.shape == (result.onset_envelope.shape[0], len(FIXED))
    old = Transcriber.from_checkpoint(TINY).transcribe(groove)
    assert [(o.time, o.fine_class) for o in result.onsets] == [(o.time, o.fine_class) for o in old.onsets]
    assert {o.fine_class for o in result.onsets} >= {"kick", "hihat_closed"}

    def no_audio(*args, **kwargs):
        raise AssertionError("a model with a velocity output must not measure the audio")

    monkeypatch.setattr(dynamics, "measure_levels", no_audio)
    for out in (tx.transcribe(groove), with_measured_velocities(result)):  # the API, and applied again
        assert out.velocity_source == VELOCITY_FROM_MODEL
        assert [o.velocity for o in out.onsets] == [FIXED[o.fine_class] for o in out.onsets]

    # the command: MIDI and JSON carry the head's velocities and say where they come from
    from drumtx import transcribe as tx_cli

    rc = tx_cli.main([str(groove), "-o", str(tmp_path / "out"), "--ckpt", str(bundle), "--format", "midi,json", "-q"])
    assert rc == 0, capsys.readouterr().err
    doc = json.loads((tmp_path / "out" / "groove.json").read_text())
    assert doc["velocity_source"] == VELOCITY_FROM_MODEL
    assert [o["velocity"] for o in doc["onsets"]] == [FIXED[o["variation"]] for o in doc["onsets"]]
    api = Transcriber.from_checkpoint(bundle).transcribe(groove)  # the API gives what the command wrote
    assert [(round(o.time, 3), o.velocity) for o in api.onsets] == [
        (round(o["time"], 3), o["velocity"]) for o in doc["onsets"]
    ]
    import mido

    notes = [m.velocity for t in mido.MidiFile(tmp_path / "out" / "groove.mid").tracks for m in t
             if m.type == "note_on" and m.velocity > 0]
    assert sorted(notes) == sorted(FIXED[o["variation"]] for o in doc["onsets"])


def test_chart_ghosts_follow_the_model_velocity():
    """Velocities from the head at each onset's frame (not confidence, not loudness) decide the
    chart's ghosts: a groove whose head says 25 on the offbeat snares gets ghosts exactly there."""
    fps, classes = 100.0, ("kick", "snare_head", "hihat_closed")
    onsets, want, ghosts = [], [], set()
    velocity = np.full((1300, 3), 0.5, np.float32)  # elsewhere: anything
    for k in range(64):  # 4 bars of sixteenths at 96 bpm
        t, s = round(0.3 + k * 60 / 96 / 4, 2), k % 16
        hits = [("hihat_closed", 80)] if s % 2 == 0 else []
        hits += [("kick", 100)] if s in (0, 10) else []
        hits += [("snare_head", 110)] if s in (4, 12) else []
        hits += [("snare_head", 25)] if s in (7, 9, 15) else []
        for name, v in hits:
            onsets.append(Onset(t, name, 127))  # what confidence would have said
            velocity[int(round(t * fps)), classes.index(name)] = v / 127.0
            want.append(v)
            if v == 25:
                ghosts.add(t)
    result = Transcription(Path("none.wav"), 12.0, onsets, [1.0] * len(onsets), np.zeros(0), {}, np.zeros(10),
                           velocity=velocity, fps=fps, fine_classes=classes)
    out = with_measured_velocities(result)  # none.wav does not exist: the audio is not read
    assert [o.velocity for o in out.onsets] == want
    tempo = TempoMap.constant(96.0, RESOLUTION)
    midi = chart_midi(out.onsets, tempo, 12.0, "x", divisions=())  # exact ticks: read back by time
    drums = next(t for t in midi.tracks if t.name == "PART DRUMS")
    tick, snare = 0, {}
    for m in drums:
        tick += m.time
        if m.type == "note_on" and m.velocity > 0 and m.note == 97:  # the red (snare) lane
            snare[round(float(tempo.ticks_to_seconds([tick])[0]), 2)] = m.velocity
    assert len(ghosts) == 12 and {t for t, v in snare.items() if v == GHOST_VELOCITY} == ghosts


def test_model_velocities_read_the_onset_frame_and_refuse_a_wrong_shape():
    v = np.zeros((10, 2), np.float32)
    v[3, 1], v[9, 0] = 0.5, 1.0
    onsets = [Onset(0.031, "b"), Onset(0.2, "a"), Onset(0.5, "a")]  # frame 3, 20 -> 9, 50 -> 9
    got = dynamics.onset_velocities(None, onsets, velocity=v, fps=100.0, fine_classes=("a", "b"))
    assert list(got) == [64, 127, 127]
    assert list(dynamics.velocities_from_model([Onset(0.0, "a")], v, 100.0, ("a", "b"))) == [1]  # clipped to 1
    with pytest.raises(ValueError, match=r"velocity must be \(T, 3\)"):
        dynamics.velocities_from_model(onsets, v, 100.0, ("a", "b", "c"))
    with pytest.raises(ValueError, match="needs its fps"):
        dynamics.onset_velocities(None, onsets, velocity=v)
    with pytest.raises(ValueError, match="not one of the model's"):
        dynamics.velocities_from_model([Onset(0.0, "z")], v, 100.0, ("a", "b"))


# ------------------------------------------------------------------------------------------ scores
CLASSES = ("kick", "snare_head", "hihat_closed", "crash")


def test_velocity_scores_on_hand_made_onsets():
    # Track 1: three matched (one of them 30 off), one reference missed, one false estimate.
    ref1 = [Onset(1.0, "kick", 100), Onset(2.0, "snare_head", 40), Onset(3.0, "hihat_closed", 70),
            Onset(4.0, "crash", 90)]
    est1 = [Onset(1.01, "kick", 100), Onset(2.02, "snare_head", 40), Onset(2.98, "hihat_closed", 100),
            Onset(4.2, "crash", 90),  # 200 ms late: unmatched
            Onset(5.0, "kick", 64)]
    # MAE: (0 + 0 + 30) / 3. mir_eval: reference velocities normalised over 40..100 -> 1, 0, 0.5
    # (0.833 for the missed crash); the matched estimates (100, 40, 100) rescaled by least squares
    # -> 0.75, 0, 0.75: only the snare is within 0.1, so P = 1/5, R = 1/4, F = 2/9.
    s1 = track_velocity_scores("t1", ref1, est1, CLASSES)
    assert (s1.n_ref, s1.n_est, s1.abs_error.size) == (4, 5, 3)
    assert s1.mae == pytest.approx(10.0) and s1.n_velocity_matched == 1
    assert (s1.precision, s1.recall, s1.f_measure) == pytest.approx((1 / 5, 1 / 4, 2 / 9))
    # Track 2: velocities off by a constant scale: rescaling makes all count; MAE is what it is.
    ref2 = [Onset(0.5, "kick", 50), Onset(1.0, "kick", 100)]
    est2 = [Onset(0.5, "kick", 25), Onset(1.0, "kick", 50)]
    s2 = track_velocity_scores("t2", ref2, est2, CLASSES)
    assert s2.mae == pytest.approx(37.5) and s2.f_measure == pytest.approx(1.0)
    # A class the model does not have is left out; a wrong class never matches.
    ref3, est3 = [Onset(1.0, "ride", 80), Onset(2.0, "kick", 80)], [Onset(2.0, "snare_head", 80)]
    s3 = track_velocity_scores("t3", ref3, est3, CLASSES)
    assert (s3.n_ref, s3.n_est, s3.abs_error.size, s3.f_measure) == (1, 1, 0, 0.0)
    # No estimate at all.
    s4 = track_velocity_scores("t4", ref2, [], CLASSES)
    assert (s4.mae, s4.f_measure) == (None, 0.0)

    scores = velocity_scores([("t1", ref1, est1), ("t2", ref2, est2), ("t3", ref3, est3), ("t4", ref2, [])],
                             CLASSES)
    assert scores["n_matched"] == 5 and scores["mae"] == pytest.approx((30 + 25 + 50) / 5)
    assert scores["mae_by_class"] == {"kick": {"mae": pytest.approx(75 / 3), "n": 3},
                                      "snare_head": {"mae": 0.0, "n": 1},
                                      "hihat_closed": {"mae": 30.0, "n": 1}}
    assert scores["f_measure_mean"] == pytest.approx((2 / 9 + 1 + 0 + 0) / 4)
    micro = scores["micro"]
    assert (micro["tp"], micro["n_ref"], micro["n_est"]) == (3, 4 + 2 + 1 + 2, 5 + 2 + 1 + 0)
    assert micro["f_measure"] == pytest.approx(2 * (3 / 8) * (3 / 9) / (3 / 8 + 3 / 9))
    assert [t["key"] for t in scores["tracks"]] == ["t1", "t2", "t3", "t4"]
    json.dumps(scores, allow_nan=False)
    text = "\n".join(markdown(scores, "the model's velocity output"))
    assert "21.0" in text and "| kick | 3 | 25.0 |" in text
    empty = velocity_scores([], CLASSES)
    assert empty["mae"] is None and empty["f_measure_mean"] is None and empty["micro"]["f_measure"] == 0.0


def test_estimated_velocities_come_from_the_supplier_not_the_confidence(tmp_path):
    onsets = [Onset(0.1, "kick", 127), Onset(0.2, "snare_head", 127)]
    v = np.zeros((30, len(CLASSES)), np.float32)
    v[10, 0], v[20, 1] = 90 / 127, 30 / 127
    got = estimated_velocities(onsets, velocity=v, fps=100.0, fine_classes=CLASSES)
    assert [o.velocity for o in got] == [90, 30] and [o.time for o in got] == [0.1, 0.2]
    audio, truth = render_groove(3.0, 24000, channels=1)
    sf.write(tmp_path / "g.wav", audio, 24000)
    measured = estimated_velocities(truth, audio=tmp_path / "g.wav")
    assert [o.velocity for o in measured] == list(dynamics.onset_velocities(tmp_path / "g.wav", truth))
    with pytest.raises(ValueError, match="velocity output or the audio"):
        estimated_velocities(onsets)
    assert math.isfinite(track_velocity_scores("g", truth, measured, CLASSES).mae)


def test_init_weights_from_a_model_without_velocity_keeps_a_fresh_velocity_head(tmp_path):
    """``init_weights=<a model without a velocity head>`` (v1, the first packaged model, any
    bundle saved before the head existed) into a run with one: every other weight is the source's,
    the velocity head keeps its fresh initialisation."""
    from test_train import compose_train

    from drumtx import train as train_mod
    from drumtx.checkpoint import plain_config
    from drumtx.models.module import DrumTranscriptionModule

    old_cfg = plain_config(compose_train(tmp_path / "old", "branches.velocity=false"))
    torch.manual_seed(1)
    old = build_transcriber(old_cfg).eval()
    assert not old.has_velocity
    source, _ = save_bundle(tmp_path / "v1.safetensors", old, build_meta(old_cfg))

    cfg = compose_train(tmp_path)
    plain = plain_config(cfg)
    module = DrumTranscriptionModule(plain, build_meta(plain))
    fresh = {k: v.clone() for k, v in module.model.state_dict().items() if k.startswith("heads.velocity.")}
    assert fresh
    train_mod.init_weights(module, str(source), cfg)
    state = module.model.state_dict()
    for k, v in old.state_dict().items():
        torch.testing.assert_close(state[k], v, rtol=0, atol=0)
    for k, v in fresh.items():
        torch.testing.assert_close(state[k], v, rtol=0, atol=0)


def test_evaluate_scores_velocity_on_the_test_split(tmp_path, egmd_fixture):
    """``python -m drumtx.evaluate`` on the fixture's test split: the report and metrics.json carry
    the velocity scores of the velocities transcription gives (here the fixed head's: the
    fixture's hi-hats are all velocity 70 like the head's, its snares 90-100 against the head's 35)."""
    from conftest import compose_config

    from drumtx.evaluate import run

    bundle = _fixed_velocity_bundle(tmp_path / "v.safetensors")
    for ckpt, source in ((bundle, "the model's velocity output"), (TINY, "measured loudness (drumtx.dynamics)")):
        out = tmp_path / ckpt.stem
        run(compose_config("evaluate", [
            "data=egmd", f"data.root={egmd_fixture}", f"paths.root_dir={tmp_path}", f"out_dir={out}",
            "data.prepare_workers=0", "report.pianorolls=0", "report.figures=false", "split=test", f"ckpt={ckpt}",
        ]))
        vel = json.loads((out / "metrics.json").read_text())["info"]["velocity"]
        assert vel["source"] == source and vel["n_tracks"] == 1 and vel["n_matched"] > 10
        assert "mir_eval transcription-with-velocity F" in (out / "report.md").read_text()
        if ckpt == bundle:
            by_class = vel["mae_by_class"]
            assert by_class["hihat_closed"]["mae"] == 0.0 and by_class["hihat_closed"]["n"] >= 8
            assert 55.0 <= by_class["snare_head"]["mae"] <= 65.0


def test_from_checkpoint_without_a_path_is_the_packaged_model():
    from drumtx.checkpoint import PACKAGED_MODEL

    tx = Transcriber.from_checkpoint()
    assert tx.meta == load_transcriber(PACKAGED_MODEL)[1]


def test_the_readme_python_example_runs_and_writes_what_the_command_writes(groove, tmp_path, monkeypatch, capsys):
    """The README's "From Python" block, run as written on a groove: its MIDI is the command's."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = readme.split("From Python, the command's own path", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    assert 'tx.transcribe("song.wav")' in block
    shutil.copy(groove, tmp_path / "song.wav")
    monkeypatch.chdir(tmp_path)
    exec(compile(block, "README.md", "exec"), {})
    printed = capsys.readouterr().out
    assert "velocity" in printed and (tmp_path / "out" / "song.mid").is_file()
    from drumtx import transcribe as tx_cli

    assert tx_cli.main(["song.wav", "-o", "cli", "--format", "midi,json", "-q"]) == 0
    assert (tmp_path / "out" / "song.mid").read_bytes() == (tmp_path / "cli" / "song.mid").read_bytes()
    api, cli = (json.loads((tmp_path / d / "song.json").read_text())["onsets"] for d in ("out", "cli"))
    assert api == cli and api
