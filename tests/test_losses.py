"""The weighted, masked training loss."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.utils import instantiate
from omegaconf import OmegaConf

from drumtx import CONF_DIR
from drumtx.models.heads import FiveBranchHeads, FlatHead
from drumtx.models.losses import DrumLoss
from drumtx.targets import HIERARCHY

HEADS = OmegaConf.to_container(OmegaConf.load(CONF_DIR / "branches" / "five_branch.yaml"))["heads"]


def five_specs():
    return FiveBranchHeads(4, HEADS).specs


def logits_for(specs, b=2, t=10, seed=0, requires_grad=False):
    g = torch.Generator().manual_seed(seed)
    return {
        n: torch.randn(b, t, s.classes, generator=g).requires_grad_(requires_grad) for n, s in specs.items()
    }


def batch(b=2, t=10, seed=1, c=11):
    g = torch.Generator().manual_seed(seed)
    targets = {
        n: torch.randint(0, k, (b, t), generator=g) for n, (k, _) in HIERARCHY.items() if n != "hihat_pedal"
    }
    return {
        "targets": targets,
        "roll": (torch.rand(b, t, c, generator=g) < 0.3).float(),
        "mask": torch.ones(b, t, dtype=torch.bool),
    }


@pytest.mark.parametrize("kind", ["five", "flat"])
def test_empty_mask_gives_zero_not_nan(kind):
    specs = five_specs() if kind == "five" else FlatHead(4, hidden=[]).specs
    loss_fn = DrumLoss(specs, focal_gamma=2.0)
    logits = logits_for(specs, requires_grad=True)
    b = batch()
    b["mask"][:] = False
    total, parts = loss_fn(logits, b)
    assert total.item() == 0.0 and all(p.item() == 0.0 for p in parts.values())
    total.backward()
    for x in logits.values():
        assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() == 0


def test_variation_without_parent_is_zero_and_keeps_the_graph():
    specs = five_specs()
    loss_fn = DrumLoss(specs)
    logits = logits_for(specs, requires_grad=True)
    b = batch()
    b["targets"]["tom_primary"][:] = 0  # no tom anywhere
    b["targets"]["cymbal_primary"][:] = 0  # no hi-hat, no ride
    total, parts = loss_fn(logits, b)
    for name in ("tom_variation", "hihat_variation", "ride_variation"):
        assert parts[name].item() == 0.0
    assert parts["kick"].item() > 0
    total.backward()
    assert logits["tom_variation"].grad is not None  # in the graph (DDP needs every head there)
    assert logits["tom_variation"].grad.abs().sum() == 0


def test_variation_counts_only_where_the_parent_hits():
    specs = five_specs()
    loss_fn = DrumLoss(specs)
    logits = logits_for(specs)
    b = batch()
    b["targets"]["tom_primary"][:] = 0
    b["targets"]["tom_primary"][0, 3] = 1
    b["targets"]["tom_variation"][0, 3] = 2
    _, parts = loss_fn(logits, b)
    expected = F.cross_entropy(logits["tom_variation"][0, 3:4], torch.tensor([2]))
    torch.testing.assert_close(parts["tom_variation"], expected)


@pytest.mark.parametrize("kind", ["five", "flat"])
def test_padding_frames_never_count(kind):
    specs = five_specs() if kind == "five" else FlatHead(4, hidden=[]).specs
    loss_fn = DrumLoss(specs)
    logits = logits_for(specs)
    b = batch()
    b["mask"][:, 6:] = False
    total, _ = loss_fn(logits, b)
    # Anything in the padding, logits or targets (even out-of-range garbage), changes nothing.
    logits2 = {k: v.clone() for k, v in logits.items()}
    for v in logits2.values():
        v[:, 6:] = 100.0
    b2 = {
        "mask": b["mask"],
        "roll": b["roll"].clone(),
        "targets": {k: v.clone() for k, v in b["targets"].items()},
    }
    b2["roll"][:, 6:] = 1.0
    for v in b2["targets"].values():
        v[:, 6:] = -1
    total2, _ = loss_fn(logits2, b2)
    torch.testing.assert_close(total, total2)


def test_weighted_sum_and_overrides():
    specs = five_specs()
    logits, b = logits_for(specs), batch()
    base = DrumLoss(specs)
    total, parts = base(logits, b)
    w = {
        "kick": 1.5,
        "snare": 1.5,
        "tom_primary": 1.0,
        "tom_variation": 0.7,
        "cymbal_primary": 1.0,
        "hihat_variation": 0.5,
        "ride_variation": 0.5,
        "crash": 0.6,
    }
    torch.testing.assert_close(total, sum(w[k] * parts[k] for k in w))
    heavier = DrumLoss(specs, crash=1.6)
    total2, parts2 = heavier(logits, b)
    torch.testing.assert_close(total2 - total, parts["crash"])  # one more unit of the crash loss
    torch.testing.assert_close(parts2["crash"], parts["crash"])


def test_crash_positive_weight_and_focal():
    specs = five_specs()
    logits, b = logits_for(specs), batch()
    b["targets"]["crash"][:] = 1  # all positives: BCE with pos_weight w is w x plain BCE
    plain = DrumLoss(specs, crash_pos_weight=1.0)(logits, b)[1]["crash"]
    weighted = DrumLoss(specs, crash_pos_weight=5.0)(logits, b)[1]["crash"]
    torch.testing.assert_close(weighted, 5.0 * plain)
    expected = F.binary_cross_entropy_with_logits(logits["crash"][..., 0], torch.ones(2, 10))
    torch.testing.assert_close(plain, expected)
    # Focal: confident correct frames are down-weighted, so every part shrinks.
    bce = DrumLoss(specs)(logits, b)[1]
    focal = DrumLoss(specs, focal_gamma=2.0)(logits, b)[1]
    for name in bce:
        assert 0 < focal[name].item() < bce[name].item(), name


def test_crash_hard_negatives_on_hi_hat_and_ride_frames():
    """crash_cymbal_negative_weight multiplies the crash's loss exactly where a hi-hat or ride is
    struck without a crash; nothing else changes (five-branch and flat heads)."""
    specs = five_specs()
    logits, b = logits_for(specs), batch()
    crash, cymbal = b["targets"]["crash"], b["targets"]["cymbal_primary"]
    crash[:, :5] = 0
    cymbal[:, :3], cymbal[:, 3:5] = 1, 0  # frames 0-2: hard negatives; 3-4 plain negatives
    plain = DrumLoss(specs)(logits, b)[1]
    hard = DrumLoss(specs, crash_cymbal_negative_weight=3.0)(logits, b)[1]
    ce = F.binary_cross_entropy_with_logits(logits["crash"][..., 0], (crash > 0).float(), reduction="none")
    w = torch.where((cymbal > 0) & (crash <= 0), 3.0, 1.0)
    torch.testing.assert_close(hard["crash"], (ce * w).mean())
    assert hard["crash"] > plain["crash"]
    assert all(torch.equal(hard[n], plain[n]) for n in plain if n != "crash")
    flat = FlatHead(4, hidden=[]).specs
    fl, fb = logits_for(flat), batch()
    fb["roll"][:, :, 10] = 0  # no crash anywhere: every frame with a hi-hat or ride is a hard negative
    base = DrumLoss(flat, crash_pos_weight=1.0)(fl, fb)[1]
    heavy = DrumLoss(flat, crash_pos_weight=1.0, crash_cymbal_negative_weight=2.0)(fl, fb)[1]
    ce = F.binary_cross_entropy_with_logits(fl["flat"][..., 10], fb["roll"][..., 10], reduction="none")
    w = torch.where(fb["roll"][..., 6:10].sum(-1) > 0, 2.0, 1.0)
    torch.testing.assert_close(heavy["crash"], (ce * w).mean())
    assert all(torch.equal(heavy[n], base[n]) for n in base if n != "crash")
    with pytest.raises(ValueError, match="crash_cymbal_negative_weight must be > 0"):
        DrumLoss(specs, crash_cymbal_negative_weight=0.0)


def test_flat_loss_weighs_each_class_by_its_instrument():
    specs = FlatHead(4, hidden=[]).specs
    logits, b = logits_for(specs), batch()
    total, parts = DrumLoss(specs, crash_pos_weight=1.0)(logits, b)
    assert set(parts) == {"kick", "snare", "tom", "hihat", "ride", "crash"}
    per_class = F.binary_cross_entropy_with_logits(logits["flat"], b["roll"], reduction="none").mean(
        dim=(0, 1)
    )
    # snare: snare_head + snare_rim (classes 1, 2); weights kick 1.5, snare 1.5, tom 1.0, hi-hat/ride 1.0, crash 0.6
    torch.testing.assert_close(parts["snare"], per_class[1:3].sum())
    weights = torch.tensor([1.5, 1.5, 1.5, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.6])
    torch.testing.assert_close(total, (per_class * weights).sum())


def test_loss_group_from_config():
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(
            "train", overrides=["data=egmd", "loss=focal", "loss.crash=0.8", "loss.tom_variation=0.2"]
        )
    loss_fn = instantiate(cfg.loss, _partial_=True)(specs=five_specs())
    assert loss_fn.focal_gamma == 2.0
    assert loss_fn.head_weight["crash"] == 0.8 and loss_fn.head_weight["tom_variation"] == 0.2
    assert loss_fn.head_weight["hihat_variation"] == loss_fn.head_weight["ride_variation"] == 0.5


def test_the_weight_names_the_config_check_offers_are_the_losss_own():
    """``loss.shared_weights`` / ``loss.flat_weights`` values are checked against WEIGHTS
    (drumtx.config_schema): it must name exactly the weights DrumLoss takes."""
    from drumtx.models.losses import WEIGHTS

    assert tuple(DrumLoss(specs={}).weights) == WEIGHTS
