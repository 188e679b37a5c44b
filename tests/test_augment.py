"""Augmentation: masks, gain, mixup (union targets), pre-rendered pitch/stretch variants."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from conftest import FIXTURE_SPLITS, compose_config
from hydra.utils import instantiate

from drumtx.data.augment import Augmentation, _beta_from_uniform, render_audio_variant
from drumtx.data.datamodule import DrumDataModule, TrainCollate
from drumtx.features import LogMel
from drumtx.targets import TargetPolicy, hierarchical_targets
from drumtx.vocab import Vocabulary

EPS = 1e-5
VOCAB = Vocabulary()
NAMES = ["kick", "snare", "tom_primary", "tom_variation", "cymbal_primary", "hihat_variation", "ride_variation", "crash"]


def _batch(b=4, t=60, n_mels=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    roll = (torch.rand(b, t, 11, generator=g) > 0.97).float()
    return {
        "mel": torch.log(torch.rand(b, n_mels, t, generator=g) * 10 + EPS),
        "roll": roll,
        "velocity": roll * 0.5,
        "targets": {n: torch.zeros(b, t, dtype=torch.int64) for n in NAMES},
        "mask": torch.ones(b, t, dtype=torch.bool),
    }


def test_config_group_options_instantiate():
    for option in ("none", "specaugment", "full"):
        cfg = compose_config("prepare", [f"augmentation={option}", "paths.root_dir=/tmp"])
        aug = instantiate(cfg.augmentation)
        assert isinstance(aug, Augmentation)
        assert aug.active == (option != "none")
        assert (aug.audio_variants is not None) == (option == "full")
    full = instantiate(compose_config("prepare", ["augmentation=full", "paths.root_dir=/tmp"]).augmentation)
    assert full.time_mask == (5, 10, 2) and full.freq_mask == (5, 10, 2) and full.mixup_alpha == 0.2
    assert full.audio_variants["pitch_shift_semitones"] == [-2, 2] and full.audio_variants["time_stretch"] == [0.9, 1.1]


def test_time_and_frequency_masks_have_the_configured_widths():
    aug = Augmentation(time_mask={"min_width": 5, "max_width": 10, "count": 1},
                       freq_mask={"min_width": 5, "max_width": 10, "count": 1})
    for seed in range(20):
        batch = _batch(b=1, seed=seed)
        before = batch["mel"].clone()
        out = aug.mask(batch["mel"], torch.Generator().manual_seed(seed))
        changed = out != before
        cols = torch.nonzero(changed.all(dim=1)[0]).flatten()  # whole columns changed = the time mask
        rows = torch.nonzero(changed.all(dim=2)[0]).flatten()  # whole rows changed = the frequency mask
        assert 5 <= len(cols) <= 10 and 5 <= len(rows) <= 10
        assert cols.tolist() == list(range(cols[0], cols[0] + len(cols)))  # contiguous
        fill = before.mean()
        assert torch.allclose(out[0, :, cols], fill.expand(32, len(cols)))
        # Nothing else changed.
        keep = torch.ones_like(changed[0])
        keep[:, cols] = False
        keep[rows, :] = False
        assert torch.equal(out[0][keep], before[0][keep])
    assert torch.equal(before, batch["mel"])  # masking returns a copy


def test_gain_scales_power_exactly_within_range():
    aug = Augmentation(gain_db=6.0)
    batch = _batch(b=8)
    out = aug.gain(batch["mel"], EPS, torch.Generator().manual_seed(0))
    ratio_db = 10 * torch.log10((out.exp() - EPS) / (batch["mel"].exp() - EPS))
    per_example = ratio_db.flatten(1)
    assert torch.allclose(per_example, per_example[:, :1].expand_as(per_example), atol=1e-3)  # one gain each
    assert per_example[:, 0].abs().max() <= 6.0 + 1e-3 and per_example[:, 0].std() > 0.5


def test_filter_is_a_bounded_piecewise_linear_equaliser_per_example():
    """FilterAugment: each example's bins scaled by one curve in dB (the same in every frame),
    within +-gain_db and reaching it, linear between at most max_bands + 1 points at whole bins
    at least min_bandwidth apart; the labels untouched."""
    aug = Augmentation(filter_augment={"gain_db": 6.0, "min_bands": 2, "max_bands": 4, "min_bandwidth": 6})
    batch = _batch(b=64, n_mels=64)
    before = {k: (v.clone() if torch.is_tensor(v) else v) for k, v in batch.items()}
    out = aug.filter(batch["mel"], EPS, torch.Generator().manual_seed(0))
    ratio_db = 10 * torch.log10((out.exp() - EPS) / (batch["mel"].exp() - EPS))
    curves = ratio_db[:, :, 0].double()
    assert torch.allclose(ratio_db, ratio_db[:, :, :1].expand_as(ratio_db), atol=1e-3)  # one curve a frame
    assert curves.abs().max() <= 6.0 + 1e-3 and curves.abs().max() > 0.9 * 6.0  # dB of power, not half
    assert curves.std(dim=0).mean() > 0.5  # a curve of its own for each example
    bent = 0
    for curve in curves:  # the slope changes only at the splits, whole bins: <= 3 of them, >= 6 bins apart
        kinks = torch.nonzero(curve.diff().diff().abs() > 1e-3).flatten() + 1
        assert len(kinks) <= 3 and (kinks.diff() >= 6).all()
        assert len(kinks) == 0 or (kinks.min() >= 6 and kinks.max() <= 63 - 6)
        bent += len(kinks) > 0
    assert bent >= 0.9 * len(curves)  # (two slopes drawn alike hide a split)
    again = aug.filter(batch["mel"], EPS, torch.Generator().manual_seed(0))
    assert torch.equal(out, again)  # the worker's seeded generator decides it
    whole = aug(batch, EPS, generator=torch.Generator().manual_seed(0))
    assert torch.equal(whole["roll"], before["roll"]) and torch.equal(whole["mask"], before["mask"])
    assert not torch.equal(whole["mel"], before["mel"])


def test_one_band_is_a_straight_tilt():
    aug = Augmentation(filter_augment={"gain_db": 6.0, "min_bands": 1, "max_bands": 1})
    batch = _batch(b=8, n_mels=40)
    out = aug.filter(batch["mel"], EPS, torch.Generator().manual_seed(1))
    curves = (10 * torch.log10((out.exp() - EPS) / (batch["mel"].exp() - EPS)))[:, :, 0].double()
    assert curves.diff().diff().abs().max() < 1e-3  # linear from bin 0 to the last
    assert (curves[:, 0] - curves[:, -1]).abs().max() > 1.0  # a tilt, not a flat gain


@pytest.mark.parametrize("spec", [{"gain_db": -1.0, "max_bands": 3}, {"gain_db": 6.0, "min_bands": 4, "max_bands": 3},
                                  {"gain_db": 6.0, "min_bands": 0, "max_bands": 3}, {"gain_db": float("nan"), "max_bands": 3},
                                  {"gain_db": 6.0, "max_bands": 3, "min_bandwidth": -1}])
def test_filter_settings_out_of_order_are_refused(spec):
    with pytest.raises(ValueError, match="filter_augment"):
        Augmentation(filter_augment=spec)


def test_a_filter_of_zero_db_or_none_is_off():
    assert not Augmentation(filter_augment={"gain_db": 0.0, "max_bands": 3}).active
    assert not Augmentation(filter_augment=None).active
    cfg = compose_config("prepare", ["augmentation=specaugment", "paths.root_dir=/tmp",
                                     "augmentation.filter_augment={gain_db:6,min_bands:3,max_bands:6}"])
    assert instantiate(cfg.augmentation).filter_augment == (6.0, 3, 6, 6)  # min_bandwidth: filt_aug's 6


def test_a_band_limit_is_what_a_file_sampled_at_twice_its_cutoff_gives():
    """The log-mel of noise band-limited in the feature domain at 4 kHz matches the log-mel of the
    same noise resampled to 8 kHz and back (soxr, what a 8 kHz file goes through in transcribe)
    below 3.5 kHz and above 4.5 kHz (between them, the resampler's roll-off against a brick wall)."""
    import soxr

    features = LogMel()
    aug = Augmentation(band_limit={"prob": 1.0, "min_hz": 4000.0, "max_hz": 4000.0}).bind(features)
    sr = features.sample_rate
    noise = (np.random.default_rng(0).standard_normal(sr) * 0.1).astype(np.float32)
    mel = torch.from_numpy(features.compute(noise))[None]
    out = aug(_batch_of(mel), features.log_eps, generator=torch.Generator().manual_seed(0))["mel"][0].mean(1)
    resampled = soxr.resample(soxr.resample(noise, sr, 8000), 8000, sr)[:sr].astype(np.float32)
    ref = torch.from_numpy(features.compute(resampled)).mean(1)
    centres = torch.from_numpy(features.mel.mel_scale.fb.numpy().argmax(0) * (sr / 2) / (features.n_fft // 2))
    low, high = centres < 3500, centres > 4500
    assert (out[low] - mel[0].mean(1)[low]).abs().max() < 1e-4  # untouched below the cut-off
    assert (out[low] - ref[low]).abs().max() < 0.1
    assert (out[high] - ref[high]).abs().max() < 0.5  # both at the floor, log(eps), up there
    assert out[high].max() < math.log(features.log_eps) + 0.5


def _batch_of(mel: torch.Tensor) -> dict:
    b, _, t = mel.shape
    return {"mel": mel, "roll": torch.zeros(b, t, 11), "velocity": torch.zeros(b, t, 11),
            "mask": torch.ones(b, t, dtype=torch.bool), "targets": {}}


def test_a_band_limit_takes_its_share_of_the_examples_and_its_cutoffs_from_the_range():
    features = LogMel(n_mels=64)
    aug = Augmentation(band_limit={"prob": 0.5, "min_hz": 3000.0, "max_hz": 9000.0}).bind(features)
    mel = torch.full((400, 64, 3), 2.0)
    out = aug.band_limit(mel, features.log_eps, torch.Generator().manual_seed(0))
    cut = (out < 1.0).any(dim=2)  # (B, n_mels) bins at the floor
    limited = cut.any(dim=1)
    assert 0.4 < limited.float().mean() < 0.6
    assert torch.equal(out[~limited], mel[~limited])
    top = features.mel.mel_scale.fb.numpy().argmax(0) * (features.sample_rate / 2) / (features.n_fft // 2)
    lowest_cut = [float(top[np.flatnonzero(c.numpy())[0]]) for c in cut[limited]]
    assert 2500 < min(lowest_cut) and max(lowest_cut) < 9500
    assert np.median(lowest_cut) < 6000  # log-uniform: the geometric mean of 3 and 9 kHz is 5.2 kHz
    again = aug.band_limit(mel, features.log_eps, torch.Generator().manual_seed(0))
    assert torch.equal(out, again)  # the worker's seeded generator decides it


@pytest.mark.parametrize("spec", [{"prob": 1.5, "min_hz": 3000, "max_hz": 9000},
                                  {"prob": 0.2, "min_hz": 9000, "max_hz": 3000},
                                  {"prob": 0.2, "min_hz": 0, "max_hz": 3000}])
def test_band_limit_settings_out_of_range_are_refused(spec):
    with pytest.raises(ValueError, match="band_limit"):
        Augmentation(band_limit=spec)


def test_a_band_limit_needs_the_features_mel_scale():
    aug = Augmentation(band_limit={"prob": 0.5, "min_hz": 3000, "max_hz": 9000})
    assert aug.active and not Augmentation(band_limit={"prob": 0.0, "min_hz": 3000, "max_hz": 9000}).active
    with pytest.raises(ValueError, match="bind"):
        aug.band_limit(torch.zeros(2, 128, 5), EPS)
    with pytest.raises(ValueError, match="64 mel bins"):
        aug.bind(LogMel(n_mels=64)).band_limit(torch.zeros(2, 128, 5), EPS)


def test_beta_draws_follow_alpha():
    lam = _beta_from_uniform(torch.rand(20000, generator=torch.Generator().manual_seed(0)), 0.2)
    assert 0 <= lam.min() and lam.max() <= 1
    assert lam.mean() == pytest.approx(0.5, abs=0.02)
    # Beta(0.2, 0.2) has variance 1 / (4 (2 alpha + 1)) = 0.179: mostly near 0 or 1.
    assert lam.var() == pytest.approx(1 / (4 * 1.4), abs=0.01)


def test_mixup_mixes_power_and_takes_the_union_of_targets():
    policy = TargetPolicy()
    t = 20
    roll = torch.zeros(2, t, 11)
    roll[0, 5, VOCAB.index("hihat_closed")] = 1  # a hi-hat in one example ...
    roll[1, 5, VOCAB.index("ride")] = 1  # ... a ride in the other, same frame: a collision once mixed
    roll[1, 9, VOCAB.index("kick")] = 1
    mel = torch.stack([torch.full((8, t), math.log(1.0 + EPS)), torch.full((8, t), math.log(3.0 + EPS))])
    batch = {"mel": mel, "roll": roll, "velocity": roll * 0.7, "mask": torch.tensor([[True] * t, [True] * 15 + [False] * 5]),
             "targets": {n: torch.zeros(2, t, dtype=torch.int64) for n in NAMES}}
    collate = TrainCollate(Augmentation(mixup_alpha=0.2), EPS, math.log(EPS), policy)
    out = Augmentation(mixup_alpha=0.2).mixup(batch, EPS, collate.retarget, torch.Generator().manual_seed(3))
    union = torch.maximum(roll[0], roll[1])
    assert torch.equal(out["roll"][0], union) and torch.equal(out["roll"][1], union)
    assert out["mask"].all()
    assert out["targets"]["cymbal_primary"][0, 5] == 2 and out["targets"]["cymbal_primary"][0, 6] == 1  # shifted hi-hat
    assert out["targets"]["kick"][0, 9] == 1 and out["targets"]["kick"][0].sum() == 1
    expected = hierarchical_targets(union.numpy().astype(np.uint8), VOCAB, policy)
    assert all(np.array_equal(out["targets"][n][0].numpy(), expected[n]) for n in NAMES)
    power = out["mel"].exp() - EPS  # a convex mix of the powers 1 and 3
    assert torch.all(power >= 1 - 1e-4) and torch.all(power <= 3 + 1e-4)
    assert torch.allclose(power[0], power[0, 0, 0].expand_as(power[0]), atol=1e-4)
    assert not torch.allclose(power, torch.tensor([1.0, 3.0]).view(2, 1, 1).expand_as(power))  # mixed


def test_mixup_never_pairs_an_example_with_itself():
    aug = Augmentation(mixup_alpha=1.0)
    for seed in range(10):
        b = 5
        batch = _batch(b=b, t=4, seed=seed)
        batch["roll"] = torch.eye(b)[:, None, :].expand(b, 4, b).contiguous()  # example i holds class i only
        batch["roll"] = torch.nn.functional.pad(batch["roll"], (0, 11 - b))
        out = aug.mixup(batch, EPS, lambda r: {n: np.zeros(len(r), np.int64) for n in NAMES},
                        torch.Generator().manual_seed(seed))
        assert torch.all(out["roll"][:, 0, :b].sum(dim=1) == 2)  # its own class and its partner's


def test_mixup_needs_a_retarget_function():
    with pytest.raises(ValueError, match="retarget"):
        Augmentation(mixup_alpha=0.2)(_batch(), EPS)


def test_render_audio_variant_moves_pitch_and_onsets():
    sr = 24000
    t = np.arange(int(sr * 2.0)) / sr
    tone = 0.3 * np.sin(2 * np.pi * 440 * t).astype(np.float32)
    up = render_audio_variant(tone, sr, semitones=2.0, stretch=1.0)
    assert len(up) == pytest.approx(len(tone), rel=0.01)
    spectrum = np.abs(np.fft.rfft(up[sr // 4: -sr // 4] * np.hanning(len(up) - sr // 2)))
    assert np.argmax(spectrum) * sr / (len(up) - sr // 2) == pytest.approx(440 * 2 ** (2 / 12), rel=0.01)

    # Clicks at known times land at t * stretch, within a frame or two, after shift + stretch.
    clicks = np.zeros(int(sr * 3.0), np.float32)
    times = [0.5, 1.3, 2.2]
    for s in times:
        n = int(s * sr)
        clicks[n:n + 240] = np.random.default_rng(0).standard_normal(240) * np.exp(-np.arange(240) / 40)
    mel = LogMel()
    for stretch, semitones in ((1.1, -2.0), (0.9, 1.5)):
        out = render_audio_variant(clicks, sr, semitones, stretch)
        assert len(out) / sr == pytest.approx(3.0 * stretch, rel=0.01)
        energy = mel.compute(out).mean(axis=0)
        flux = np.diff(energy, prepend=energy[0])
        for s in times:
            frame = round(s * stretch * mel.fps)
            window = flux[frame - 6: frame + 7]
            assert abs(int(np.argmax(window)) - 6) <= 2, (stretch, s)


def test_full_augmentation_prerenders_training_variants_only(egmd_config):
    cfg = egmd_config("augmentation=full", "data.max_tracks=1", "data.crop_seconds=1.0")
    module = DrumDataModule.from_config(cfg)
    module.setup("fit")
    spec = module.variants
    keys = module.track_keys("train")
    train_key = keys[0]
    assert train_key in FIXTURE_SPLITS["train"]
    assert keys == [train_key, spec.key(train_key, 0)]  # the original and one variant
    assert all("#" not in k for s in ("validation", "test") for k in module.track_keys(s))

    original, variant = module.cache.load(train_key), module.cache.load(spec.key(train_key, 0))
    params = variant.meta["params"]
    assert -2 <= params["semitones"] <= 2 and 0.9 <= params["stretch"] <= 1.1
    assert params == spec.params(train_key, 0)  # reproducible from the key
    assert variant.meta["variant_of"] == train_key
    assert variant.n_frames == pytest.approx(original.n_frames * params["stretch"], abs=2)
    # Onset times are scaled by the stretch, and the roll follows them.
    scaled = sorted(round(o.time * params["stretch"], 6) for o in original.onsets())
    assert sorted(round(o.time, 6) for o in variant.onsets()) == pytest.approx(scaled, abs=1e-6)
    frames = {(round(o.time * 100), VOCAB.index(o.fine_class)) for o in variant.onsets()}
    assert frames == set(zip(*np.nonzero(np.asarray(variant.roll)), strict=True))
    report = json.loads((module.cache.directory / "manifest.json").read_text())
    assert report[spec.key(train_key, 0)]["variant_of"] == train_key

    # Training batches are augmented, validation batches are the cached features untouched.
    train = next(iter(module.train_dataloader()))
    assert train["mel"].shape[-1] == 100
    val = next(iter(module.val_dataloader()))
    key = val["track"][0]
    cached = torch.from_numpy(np.asarray(module.cache.load(key).mel, dtype=np.float32))
    assert torch.equal(val["mel"][0][:, val["mask"][0]], cached)


def test_specaugment_serves_no_variants(egmd_config):
    cfg = egmd_config("augmentation=specaugment", "data.max_tracks=1")
    module = DrumDataModule.from_config(cfg)
    module.setup("fit")
    assert module.variants is None and all("#" not in k for k in module.track_keys("train"))
    # The collate of the training loader masks: some whole columns equal the example mean.
    module.batch_size = 1
    batch = next(iter(module.train_dataloader()))
    mel = batch["mel"][0]
    cols = torch.isclose(mel, mel.mean(dim=0, keepdim=True)).all(dim=0)
    assert cols.sum() >= 5


def test_the_training_loader_band_limits_its_crops(egmd_config):
    """augmentation.band_limit through the real training DataLoader (the datamodule binds the
    features' mel scale): the same crops as without it, some cut to the floor above a cut-off."""
    batches = []
    for extra in ([], ["augmentation.band_limit={prob:1,min_hz:3000,max_hz:6000}"]):
        cfg = egmd_config("augmentation=none", "data.max_tracks=2", "data.num_workers=0", *extra)
        module = DrumDataModule.from_config(cfg)
        module.setup("fit")
        torch.manual_seed(0)
        batches.append(next(iter(module.train_dataloader())))
    plain, limited = batches
    assert torch.equal(plain["roll"], limited["roll"])
    floor = module.features.silence
    assert (limited["mel"][:, -10:] < floor + 0.01).all()  # the top bins (above 6 kHz) at the floor
    # below 3 kHz untouched (but for float16 cache values a hair under log(eps), read as silence)
    assert torch.allclose(limited["mel"][:, :20], plain["mel"][:, :20], atol=0.005)


def test_the_training_loader_applies_the_filter_to_its_crops(egmd_config):
    """augmentation.filter_augment through the real training DataLoader: the same crops as
    without it (the same seed), each scaled by one curve over the mel bins."""
    batches = []
    for extra in ([], ["augmentation.filter_augment={gain_db:6,min_bands:3,max_bands:6}"]):
        cfg = egmd_config("augmentation=none", "data.max_tracks=2", "data.num_workers=0", *extra)
        module = DrumDataModule.from_config(cfg)
        module.setup("fit")
        torch.manual_seed(0)
        batches.append(next(iter(module.train_dataloader())))
    plain, eq = batches
    assert torch.equal(plain["roll"], eq["roll"]) and torch.equal(plain["mask"], eq["mask"])
    log_eps = module.features.log_eps
    power = plain["mel"].exp() - log_eps
    ratio_db = 10 * torch.log10((eq["mel"].exp() - log_eps) / power.clamp_min(log_eps))
    loud = power > 1e3 * log_eps  # where the eps floor does not blur the ratio
    curves = []
    for r, keep in zip(ratio_db, loud, strict=True):
        curve = torch.tensor([row[k].median() if k.any() else float("nan") for row, k in zip(r, keep, strict=True)])
        assert (r - curve.unsqueeze(-1))[keep].abs().max() < 0.05  # one gain per bin, every frame
        curves.append(curve[~curve.isnan()])
    assert all(c.abs().max() <= 6.0 + 0.05 for c in curves)
    assert any(c.std() > 0.5 for c in curves)  # a curve, not one gain
