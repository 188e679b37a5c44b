"""Threshold tuning: the per-instrument search on synthetic activations with known optima, the
sidecar writing, and (with the tiny E-GMD fixture) the command end to end."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from drumtx.decode import pick_peaks
from drumtx.metrics import OnsetCounts, precision_lower_bound
from drumtx.thresholds import TuneResult, instrument_counts, plot_curve, tune_instrument, write_thresholds
from drumtx.vocab import Vocabulary

FPS = 100.0


def bump(n: int, frame: int, height: float) -> np.ndarray:
    """A peak of ``height`` at ``frame``, about 3 frames wide."""
    x = np.arange(n) - frame
    return height * np.exp(-0.5 * x.astype(float) ** 2)


def kick_like_tracks(seed: int = 0, n_tracks: int = 4, seconds: float = 20.0):
    """True onsets every 0.5 s (peak 0.6-0.95), each with an echo peak 40 ms later (90 % of its
    height), and false peaks (0.1-0.45) at least 0.15 s from any onset.

    Known optimum (F = 1): threshold in (0.45, 0.6] and a minimum gap of at least 5 frames
    (50 ms), which suppresses the echoes; with a smaller gap every echo above the threshold is
    a false positive."""
    rng = np.random.default_rng(seed)
    n = int(seconds * FPS)
    probs, refs = [], []
    for _ in range(n_tracks):
        act = np.zeros(n)
        frames = np.arange(50, n - 50, 50) + rng.integers(-5, 6, size=len(np.arange(50, n - 50, 50)))
        for f in frames:
            h = rng.uniform(0.6, 0.95)
            act = np.maximum(act, bump(n, f, h))
            act = np.maximum(act, bump(n, f + 4, 0.9 * h))
        false = [f + 25 for f in frames[:-1]]  # midway between onsets: 0.2 s or more from each
        for f in false:
            act = np.maximum(act, bump(n, f, rng.uniform(0.1, 0.45)))
        probs.append(act.astype(np.float32))
        refs.append(frames / FPS)
    return probs, refs


def test_f_measure_search_finds_the_known_optimum():
    probs, refs = kick_like_tracks()
    r = tune_instrument(probs, refs, FPS, instrument="kick", n_trials=40, seed=0)
    assert isinstance(r, TuneResult)
    assert r.f_measure == pytest.approx(1.0)
    assert 0.45 < r.threshold <= 0.6
    assert r.min_gap_s >= 0.05 - 1e-9
    assert r.n_ref == sum(len(x) for x in refs) == r.tp == r.n_est
    # The plateau of F = 1 at the chosen gap is (0.45, 0.6]: its middle is taken.
    assert r.threshold == pytest.approx(0.53, abs=0.03)
    # The default settings (0.5, 30 ms) keep the echoes: clearly worse, so tuning matters here.
    default_counts = sum(len(pick_peaks(p, 0.5, 3)) for p in probs)
    assert default_counts > r.n_est
    # Curve at the chosen gap: F/P/R per grid threshold, consistent with the result.
    c = r.curve
    i = c["threshold"].index(r.threshold)
    assert c["f_measure"][i] == pytest.approx(r.f_measure)
    assert min(c["recall"]) < 0.5 and max(c["f_measure"]) == pytest.approx(1.0)


def test_instrument_counts_scores_a_setting_as_the_tuner_does():
    probs, refs = kick_like_tracks()
    r = tune_instrument(probs, refs, FPS, instrument="kick", n_trials=40, seed=0)
    c = instrument_counts(probs, refs, FPS, "kick", r.settings, vocab=Vocabulary())
    assert (c.tp, c.n_est, c.n_ref) == (r.tp, r.n_est, r.n_ref)
    # The default settings (0.5, 30 ms) keep the echoes: every one a false positive.
    d = instrument_counts(probs, refs, FPS, "kick", {"threshold": 0.5, "min_gap_s": 0.03}, vocab=Vocabulary())
    assert d.tp == r.tp and d.n_est > r.n_est


def crash_tracks(true_heights, false_heights, seconds: float = 60.0):
    """One track: true crash peaks and false peaks at the given heights, 0.5 s apart."""
    n = int(seconds * FPS)
    act = np.zeros(n)
    frames = 50 + 50 * np.arange(len(true_heights) + len(false_heights))
    assert frames[-1] < n - 10
    true_frames = frames[: len(true_heights)]
    for f, h in zip(true_frames, true_heights, strict=True):
        act = np.maximum(act, bump(n, f, h))
    for f, h in zip(frames[len(true_heights) :], false_heights, strict=True):
        act = np.maximum(act, bump(n, f, h))
    return [act.astype(np.float32)], [true_frames / FPS]


def wilson_low(tp: int, n: int, z: float = 1.959964) -> float:
    """The Wilson score interval's lower end, from its textbook formula."""
    p = tp / n
    centre = p + z * z / (2 * n)
    margin = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (centre - margin) / (1 + z * z / n)


def best_recall_at_precision(true_h, false_h, grid, floor):
    """Brute force straight from the peak heights: (best recall, thresholds achieving it), the
    floor held by the precision's 95 % Wilson lower bound."""
    best, where = -1.0, []
    for t in grid:
        tp, fp = int((true_h >= t).sum()), int((false_h >= t).sum())
        if tp + fp == 0 or wilson_low(tp, tp + fp) < floor:
            continue
        rec = tp / len(true_h)
        if rec > best + 1e-12:
            best, where = rec, [t]
        elif abs(rec - best) <= 1e-12:
            where.append(t)
    return best, where


def test_crash_maximises_recall_under_the_precision_floor():
    # Enough crashes (120 true, 60 false) for the floor to be held by the 95 % Wilson interval.
    true_h = np.round(np.linspace(0.305, 0.895, 120), 3)
    false_h = np.round(np.linspace(0.205, 0.695, 60), 3)
    probs, refs = crash_tracks(true_h, false_h, seconds=100.0)
    r = tune_instrument(probs, refs, FPS, instrument="crash", min_precision=0.8, n_trials=60, seed=1)
    grid = np.round(0.02 + 0.01 * np.arange(97), 6)
    recall, where = best_recall_at_precision(true_h, false_h, grid, 0.8)
    assert recall > 0.35  # the construction has a non-trivial optimum (0.38)
    assert r.constraint_met is True and r.note == ""
    assert wilson_low(r.tp, r.n_est) >= 0.8
    assert r.recall == pytest.approx(recall)
    assert any(abs(r.threshold - t) < 1e-6 for t in where)
    # Plain F-measure would pick a lower threshold with worse precision: the floor matters.
    f = tune_instrument(probs, refs, FPS, instrument="crash", n_trials=60, seed=1)
    assert f.precision < 0.8 <= r.precision


def test_crash_floor_out_of_reach_takes_the_surest_setting_and_says_so():
    # Every true crash is outshone by false peaks: precision never reaches 0.8.
    true_h = np.full(10, 0.5)
    false_h = np.concatenate([np.full(10, 0.9), np.full(10, 0.4)])
    probs, refs = crash_tracks(true_h, false_h)
    r = tune_instrument(probs, refs, FPS, instrument="crash", min_precision=0.8, n_trials=30, seed=0)
    assert r.constraint_met is False
    assert "no threshold holds precision >= 0.8" in r.note and "surest setting" in r.note
    # Precision's lower end: 0.19 at thresholds <= 0.4 (10 of 30), 0.30 in (0.4, 0.5] (10 of 20), 0 above.
    assert r.precision == pytest.approx(0.5)
    assert 0.4 < r.threshold <= 0.5
    assert f"10 of 20 estimates right, lower end {wilson_low(10, 20):.3f}" in r.note and r.fallback == "surest"
    # 10 crashes in all: even every one found and none false (lower end 0.72) could not hold 0.8.
    assert f"nor could it: 10 reference onsets, all found and none false, give a lower end of {wilson_low(10, 10):.3f}" in r.note
    # fallback_beta=0.5, the rule before: the best F0.5 (here the same setting: 0.56 against 0.38).
    f = tune_instrument(probs, refs, FPS, instrument="crash", min_precision=0.8, fallback_beta=0.5, n_trials=30, seed=0)
    assert "F0.5" in f.note and f.fallback == "F0.5" and 0.4 < f.threshold <= 0.5


def test_a_floor_just_missed_gives_nearly_the_setting_of_one_just_held():
    # Two "seeds" alike: 100 sure crashes at 0.95 among a few false ones (4 in A, 10 in B), and
    # below, 100 more crashes at 0.5 among 40 false. At the top A's precision (100 of 104) holds
    # the 0.85 floor by its Wilson lower end (0.905), B's (100 of 110) just misses it (0.841).
    def seed(n_false_top):
        true_h = np.concatenate([np.full(100, 0.95), np.full(100, 0.5)])
        false_h = np.concatenate([np.full(n_false_top, 0.95), np.full(40, 0.5)])
        return crash_tracks(true_h, false_h, seconds=130.0)

    assert wilson_low(100, 104) >= 0.85 > wilson_low(100, 110) > wilson_low(200, 250)
    a = tune_instrument(*seed(4), FPS, instrument="crash", min_precision=0.85, n_trials=30, seed=0)
    b = tune_instrument(*seed(10), FPS, instrument="crash", min_precision=0.85, n_trials=30, seed=0)
    assert a.constraint_met is True and b.constraint_met is False
    assert a.fallback is None and b.fallback == "surest" and "nor could it" not in b.note
    assert a.threshold > 0.5 and b.threshold > 0.5  # both keep only the sure crashes
    assert a.recall == b.recall == pytest.approx(0.5) and b.precision == pytest.approx(100 / 110)
    # The F0.5 rule jumped: B took every peak (precision 0.80, recall 1: F0.5 0.83 against 0.78).
    old = tune_instrument(*seed(10), FPS, instrument="crash", min_precision=0.85, fallback_beta=0.5, n_trials=30, seed=0)
    assert old.threshold <= 0.5 and old.recall == pytest.approx(1.0) and old.precision == pytest.approx(0.8)


def test_crash_floor_is_not_met_by_a_handful_of_confident_crashes():
    # v2's first tuning: only the top threshold "met" the floor, on 1 crash of 729. Here 3 true
    # crashes peak at 0.97 (P 1 above 0.96, recall 3 %); the rest sit at 0.6 among as many false.
    true_h = np.concatenate([np.full(3, 0.97), np.full(60, 0.6)])
    false_h = np.full(40, 0.6)
    probs, refs = crash_tracks(true_h, false_h)
    r = tune_instrument(probs, refs, FPS, instrument="crash", min_precision=0.85, n_trials=30, seed=0)
    assert r.constraint_met is False and "95% Wilson interval" in r.note
    at = r.curve["threshold"].index(0.9)  # only the 3 confident crashes: P 1, its lower bound 0.44
    assert r.curve["precision_lower_bound"][at] < 0.85 <= r.curve["precision"][at]
    # The surest setting: precision's lower end 0.52 at <= 0.6 (63 of 103), 0.44 above (3 of 3).
    assert r.threshold <= 0.6 and r.recall == pytest.approx(1.0)
    assert precision_lower_bound(OnsetCounts(tp=3, n_ref=63, n_est=3)) == pytest.approx(wilson_low(3, 3))
    # floor_confidence is the knob: at 50 % the 3 confident crashes' bound is 0.87, and the floor holds.
    loose = tune_instrument(
        probs, refs, FPS, instrument="crash", min_precision=0.85, floor_confidence=0.5, n_trials=30, seed=0
    )
    assert loose.constraint_met is True and loose.threshold > 0.6 and loose.tp == 3
    assert loose.objective == "recall_at_precision>=0.85_wilson0.5"


def test_no_references_keeps_current_settings():
    probs = [np.full(500, 0.01, dtype=np.float32)]
    r = tune_instrument(probs, [[]], FPS, instrument="ride", start={"threshold": 0.42, "min_gap_s": 0.05})
    assert (r.threshold, r.min_gap_s, r.n_trials) == (0.42, 0.05, 0)
    assert "no reference onsets" in r.note and r.curve == {}


def test_mismatched_inputs_fail_clearly():
    with pytest.raises(ValueError, match="probability tracks"):
        tune_instrument([np.zeros(10)], [[], []], FPS)
    with pytest.raises(ValueError, match="unknown instrument"):
        tune_instrument([np.zeros(10)], [[]], FPS, instrument="cowbell")


def test_write_thresholds_bundle_and_ckpt_sidecars(tmp_path: Path):
    tuned = {"kick": {"threshold": 0.37, "min_gap_s": 0.04}, "crash": {"threshold": 0.71, "min_gap_s": 0.08}}
    report = {"split": "validation"}
    # bundle: the thresholds key of its .json, the rest of the meta kept
    bundle = tmp_path / "best.safetensors"
    bundle.write_bytes(b"weights")
    meta = {
        "format": "drumtx",
        "config": {"a": 1},
        "thresholds": {
            "kick": {"threshold": 0.5, "min_gap_s": 0.03},
            "snare": {"threshold": 0.5, "min_gap_s": 0.03},
        },
    }
    (tmp_path / "best.json").write_text(json.dumps(meta))
    written = write_thresholds(bundle, tuned, report)
    assert written == [tmp_path / "best.json"]
    new = json.loads((tmp_path / "best.json").read_text())
    assert new["config"] == {"a": 1} and new["threshold_tuning"] == report
    assert new["thresholds"]["kick"] == tuned["kick"] and new["thresholds"]["crash"] == tuned["crash"]
    assert new["thresholds"]["snare"] == {"threshold": 0.5, "min_gap_s": 0.03}
    # Lightning checkpoint: <stem>.thresholds.json, merged with an existing one
    ckpt = tmp_path / "last.ckpt"
    ckpt.write_bytes(b"ckpt")
    side = tmp_path / "last.thresholds.json"
    side.write_text(json.dumps({"thresholds": {"tom": {"threshold": 0.3, "min_gap_s": 0.02}}}))
    assert write_thresholds(ckpt, tuned, report) == [side]
    data = json.loads(side.read_text())
    assert data["thresholds"]["tom"] == {"threshold": 0.3, "min_gap_s": 0.02}
    assert data["thresholds"]["kick"] == tuned["kick"] and data["tuning"] == report
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temporaries


def test_plot_is_a_png(tmp_path: Path):
    probs, refs = kick_like_tracks(n_tracks=1, seconds=5.0)
    r = tune_instrument(probs, refs, FPS, instrument="kick", n_trials=8)
    path = plot_curve(r, tmp_path / "curves" / "kick.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_tune_thresholds_command_on_the_tiny_dataset(egmd_fixture, tmp_path, monkeypatch):
    """Model pass over the fixture's validation split, probabilities cached beside the bundle, one
    study per instrument, thresholds in the bundle's sidecar (what load_transcriber returns),
    plots in the run folder; a rerun reads the cache instead of running the model."""
    import torch
    from conftest import compose_config

    import drumtx.tune_thresholds as tt
    from drumtx.checkpoint import build_meta, load_transcriber, plain_config, save_bundle
    from drumtx.models.transcriber import build_transcriber
    from drumtx.thresholds import SplitProbs

    common = [f"paths.root_dir={tmp_path}", f"paths.output_dir={tmp_path / 'run'}"]
    train_cfg = compose_config(
        "train",
        [
            *common,
            "data=egmd",
            f"data.root={egmd_fixture}",
            "data.prepare_workers=0",
            "data.num_workers=0",
            "encoder.channels=[4,4,4,8]",
            "encoder.rnn_hidden=8",
            "encoder.rnn_layers=1",
        ],
    )
    torch.manual_seed(0)
    plain = plain_config(train_cfg)
    bundle = tmp_path / "model" / "best.safetensors"
    save_bundle(bundle, build_transcriber(plain), build_meta(plain))

    cfg = compose_config(
        "tune_thresholds",
        [
            *common,
            f"ckpt={bundle}",
            "n_trials=6",
            "prepare_workers=0",
            "device=cpu",
            "progress=false",
        ],
    )
    results = tt.tune(cfg)
    assert set(results) == {"kick", "snare", "tom", "hihat", "ride", "crash"}
    _, meta = load_transcriber(bundle)
    for inst, r in results.items():
        assert r.n_ref > 0 and r.n_trials == 6
        assert meta["thresholds"][inst] == {"threshold": r.threshold, "min_gap_s": r.min_gap_s}
        assert (tmp_path / "run" / "threshold_curves" / f"{inst}.png").is_file()
    assert results["crash"].min_precision == 0.85 and results["kick"].min_precision is None
    cache = bundle.with_name("best.validation.probs.npz")
    assert cache.is_file()
    n_validation = len(SplitProbs.load(cache, None).tracks)
    sidecar = json.loads(bundle.with_suffix(".json").read_text())
    assert sidecar["threshold_tuning"]["split"] == "validation"
    assert (
        json.loads((tmp_path / "run" / "thresholds.json").read_text())["thresholds"]["kick"]
        == results["kick"].settings
    )

    # data.val_max_tracks caps the tracks tuned on (it was ignored: the whole split was run),
    # and its probabilities do not replace the whole split's in the cache
    seen = []

    def spy(*args, **kwargs):
        seen.append(real_run_model(*args, **kwargs))
        return seen[-1]

    real_run_model = tt.run_model
    monkeypatch.setattr(tt, "run_model", spy)
    capped = tt.tune(compose_config("tune_thresholds", [*common, f"ckpt={bundle}", "n_trials=2", "write=false",
                                                        "prepare_workers=0", "progress=false", "cache=none",
                                                        "+data.val_max_tracks=1"]))
    assert len(seen) == 1 and len(seen[0].tracks) == 1 < n_validation
    assert all(r.n_ref <= results[inst].n_ref for inst, r in capped.items())

    # a rerun with other search settings needs no model pass; logger=csv gets the chosen values
    def no_model(*args, **kwargs):
        raise AssertionError("the cached probabilities should have been used")

    monkeypatch.setattr(tt, "run_model", no_model)
    cfg2 = compose_config(
        "tune_thresholds",
        [
            *common,
            f"ckpt={bundle}",
            "n_trials=3",
            "write=false",
            "logger=csv",
            "instruments=[kick]",
        ],
    )
    again = tt.tune(cfg2)
    assert list(again) == ["kick"] and again["kick"].n_trials == 3
    assert json.loads(bundle.with_suffix(".json").read_text())["thresholds"] == sidecar["thresholds"]
    assert "thresholds/kick/threshold" in next((tmp_path / "run" / "csv").rglob("metrics.csv")).read_text()


def test_bad_checkpoint_or_split_is_one_clear_error(tmp_path: Path):
    from conftest import compose_config

    import drumtx.tune_thresholds as tt
    from drumtx.checkpoint import CheckpointError

    bad = tmp_path / "x.safetensors"
    bad.write_bytes(b"not a model")
    common = [f"paths.root_dir={tmp_path}", f"paths.output_dir={tmp_path / 'run'}", f"ckpt={bad}"]
    with pytest.raises(CheckpointError, match="x.safetensors"):
        tt.tune(compose_config("tune_thresholds", common))
    with pytest.raises(ValueError, match="split must be validation"):
        tt.tune(compose_config("tune_thresholds", [*common, "split=train"]))


def test_unknown_instrument_names_fail_before_the_model_pass(tmp_path: Path):
    """A typo in ``instruments`` or a ``+min_precision.<name>`` key is one line naming it, not a
    silent F-measure tuning of the instrument meant (nor a pass over the split first); an empty
    ``instruments`` list is refused rather than read as every instrument."""
    from conftest import compose_config

    import drumtx.tune_thresholds as tt
    from drumtx.checkpoint import PACKAGED_MODEL

    common = [f"paths.root_dir={tmp_path}", f"paths.output_dir={tmp_path / 'run'}", f"ckpt={PACKAGED_MODEL}"]
    with pytest.raises(ValueError, match=r"min_precision: \['crsh'\] not among the model's instruments"):
        tt.tune(compose_config("tune_thresholds", [*common, "+min_precision.crsh=0.9"]))
    with pytest.raises(ValueError, match=r"instruments: \['hat'\] not among"):
        tt.tune(compose_config("tune_thresholds", [*common, "instruments=[kick,hat]"]))
    with pytest.raises(ValueError, match=r"instruments=\[\] tunes nothing; leave it out"):  # not "all of them"
        tt.tune(compose_config("tune_thresholds", [*common, "instruments=[]"]))


def test_the_packaged_models_own_data_is_looked_for_in_this_project(tmp_path: Path):
    """The package stores its training data's root as <project>/data/...; without data= the
    tuning looks there in this project, not in a folder literally named <project>."""
    from conftest import compose_config

    import drumtx.tune_thresholds as tt
    from drumtx import PROJECT_ROOT
    from drumtx.checkpoint import PACKAGED_MODEL, load_transcriber

    _, meta = load_transcriber(PACKAGED_MODEL)
    assert str(meta["config"]["data"]["root"]).startswith("<project>/")
    cfg = compose_config("tune_thresholds", [f"paths.root_dir={tmp_path}", f"paths.output_dir={tmp_path / 'run'}"])
    data = tt._data_config(cfg, meta)
    assert data["root"] == str(PROJECT_ROOT) + meta["config"]["data"]["root"].removeprefix("<project>")


def test_added_data_keys_go_on_top_of_the_checkpoints_data(tmp_path: Path):
    """A new-user trial: ``+data.val_max_tracks=2`` without ``data=`` replaced the checkpoint's
    whole data config with that one key (a traceback, ``Missing key split_tracks``); a mistyped
    one must be one line naming the key."""
    from conftest import compose_config

    import drumtx.tune_thresholds as tt
    from drumtx.checkpoint import PACKAGED_MODEL, load_transcriber
    from drumtx.config_schema import ConfigValueError

    _, meta = load_transcriber(PACKAGED_MODEL)
    common = [f"paths.root_dir={tmp_path}", f"paths.output_dir={tmp_path / 'run'}"]
    data = tt._data_config(compose_config("tune_thresholds", [*common, "+data.val_max_tracks=2"]), meta)
    assert data["val_max_tracks"] == 2 and data["_target_"] == meta["config"]["data"]["_target_"]
    assert data["crop_seconds"] == meta["config"]["data"]["crop_seconds"]
    assert tt._data_config(compose_config("tune_thresholds", common), meta)["val_max_tracks"] is None
    with pytest.raises(ConfigValueError, match=r"^data.crop_secnds: not a setting of .*DrumDataModule "
                                                r"\(did you mean data.crop_seconds\?\)$"):
        tt._data_config(compose_config("tune_thresholds", [*common, "+data.crop_secnds=2"]), meta)


def test_probability_cache_key_names_the_tracks_tuned_on(tmp_path: Path):
    """Tuning on a subset of the validation kits (data.fit_kit_names) must not reuse the
    probabilities cached for another subset (or for the whole split), nor the other way round."""
    from drumtx.inference import InferenceSettings
    from drumtx.tune_thresholds import _cache_key

    ckpt = tmp_path / "best.safetensors"
    ckpt.write_bytes(b"x")
    settings = InferenceSettings(chunk_seconds=30.0, context_seconds=3.0, batch_size=1, gate_db=None, gate_dilate=0)
    data = {"name": "synth_songs", "root": "/d", "fit_kit_names": None}
    keys = {
        _cache_key(ckpt, {**data, "fit_kit_names": kits}, "validation", {}, settings)
        for kits in (None, ["h2_*", "sfz_*", "none+music"], ["fluidr3_*"])
    }
    keys |= {_cache_key(ckpt, {**data, "val_max_tracks": 2}, "validation", {}, settings)}
    assert len(keys) == 4
    assert _cache_key(ckpt, data, "validation", {}, settings) == _cache_key(ckpt, dict(data), "validation", {}, settings)
