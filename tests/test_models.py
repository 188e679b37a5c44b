"""Encoders and head sets: shapes, decoding semantics, gradients, masking, parameter counts."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf

from drumtx import CONF_DIR
from drumtx.models import CRNNEncoder, FiveBranchHeads, FlatHead, build_transcriber, parameter_table
from drumtx.models.losses import DrumLoss
from drumtx.targets import HIERARCHY
from drumtx.vocab import Vocabulary

ENCODERS = {"crnn": 512, "crnn_small": None}
BRANCHES = ["five_branch", "flat"]


def model_cfg(encoder: str, branches: str, hihat_pedal: bool = False) -> dict:
    enc = OmegaConf.load(CONF_DIR / "encoder" / f"{encoder}.yaml")
    enc.n_mels = 128
    return {
        "encoder": OmegaConf.to_container(enc),
        "branches": OmegaConf.to_container(OmegaConf.load(CONF_DIR / "branches" / f"{branches}.yaml")),
        "data": {"targets": {"hihat_pedal": hihat_pedal}},
    }


def batch_for(model, b: int = 2, t: int = 24, seed: int = 0) -> dict:
    """A batch in the contract format where every head's target (and every parent) occurs."""
    g = torch.Generator().manual_seed(seed)
    vocab = model.vocab
    targets = {name: torch.randint(0, n, (b, t), generator=g) for name, (n, _) in HIERARCHY.items()}
    if not vocab.hihat_pedal:
        targets.pop("hihat_pedal")
    targets["tom_primary"][:, :4] = 1
    targets["cymbal_primary"][:, 4:8] = 1
    targets["cymbal_primary"][:, 8:12] = 2
    roll = (torch.rand(b, t, len(vocab.fine_classes), generator=g) < 0.3).float()
    return {
        "mel": torch.randn(b, 128, t, generator=g),
        "roll": roll,
        "targets": targets,
        "velocity": roll * torch.randint(1, 128, roll.shape, generator=g) / 127.0,  # at onsets only
        "mask": torch.ones(b, t, dtype=torch.bool),
    }


@pytest.mark.parametrize("encoder", list(ENCODERS))
@pytest.mark.parametrize("branches", BRANCHES)
def test_output_shapes(encoder, branches):
    model = build_transcriber(model_cfg(encoder, branches)).eval()
    vocab = model.vocab
    b, t = 2, 37  # odd length: the encoder must keep every frame
    with torch.no_grad():
        h = model.encoder(torch.randn(b, 128, t))
        logits = model(torch.randn(b, 128, t))
    assert h.shape == (b, t, model.encoder.out_dim)
    if ENCODERS[encoder]:
        assert model.encoder.out_dim == ENCODERS[encoder]
        assert model.encoder.rnn_input == 256 * 8  # the design: flatten 256 channels x 8 bins
    if branches == "five_branch":
        expected = {
            "kick": 1,
            "snare": 3,
            "tom_primary": 2,
            "tom_variation": 3,
            "cymbal_primary": 3,
            "hihat_variation": 2,
            "ride_variation": 2,
            "crash": 1,
        }
    else:
        expected = {"flat": len(vocab.fine_classes)}
    expected["velocity"] = len(vocab.fine_classes)  # the velocity head, on by default (branches.velocity)
    assert model.has_velocity
    assert {k: tuple(v.shape) for k, v in logits.items()} == {k: (b, t, n) for k, n in expected.items()}
    probs = model.instrument_probs(logits)
    assert list(probs) == list(vocab.instruments)
    for inst, (act, var) in probs.items():
        assert act.shape == (b, t)
        assert var.shape == (b, t, len(vocab.instruments[inst]))
        assert bool(((act >= 0) & (act <= 1)).all())
        if len(vocab.instruments[inst]) == 1:
            assert torch.equal(var, torch.ones_like(var))
        else:
            torch.testing.assert_close(var.sum(-1), torch.ones(b, t), atol=1e-5, rtol=0)
    fine = model.fine_probs(logits)
    assert fine.shape == (b, t, len(vocab.fine_classes))
    assert bool(((fine >= 0) & (fine <= 1)).all())
    velocity = model.velocity_probs(logits)
    assert velocity.shape == (b, t, len(vocab.fine_classes))
    assert bool(((velocity >= 0) & (velocity <= 1)).all())


def test_five_branch_decoding_follows_the_hierarchy():
    heads = FiveBranchHeads(
        8, OmegaConf.to_container(OmegaConf.load(CONF_DIR / "branches" / "five_branch.yaml"))["heads"]
    )
    logits = {name: torch.randn(1, 5, spec.classes) for name, spec in heads.specs.items()}
    probs = heads.instrument_probs(logits)
    snare = torch.softmax(logits["snare"], -1)
    torch.testing.assert_close(probs["snare"][0], 1 - snare[..., 0])
    torch.testing.assert_close(probs["snare"][1], snare[..., 1:] / snare[..., 1:].sum(-1, keepdim=True))
    cym = torch.softmax(logits["cymbal_primary"], -1)
    torch.testing.assert_close(probs["hihat"][0], cym[..., 1])
    torch.testing.assert_close(probs["ride"][0], cym[..., 2])
    torch.testing.assert_close(probs["hihat"][1], torch.softmax(logits["hihat_variation"], -1))
    torch.testing.assert_close(probs["ride"][1], torch.softmax(logits["ride_variation"], -1))
    torch.testing.assert_close(probs["tom"][0], torch.softmax(logits["tom_primary"], -1)[..., 1])
    torch.testing.assert_close(probs["tom"][1], torch.softmax(logits["tom_variation"], -1))
    torch.testing.assert_close(probs["kick"][0], torch.sigmoid(logits["kick"][..., 0]))
    # fine_probs = activation x variation in vocabulary order (tom: floor, high, mid)
    fine = heads.fine_probs(logits)
    classes = heads.vocab.fine_classes
    torch.testing.assert_close(fine[..., classes.index("tom_mid")], probs["tom"][0] * probs["tom"][1][..., 2])
    torch.testing.assert_close(
        fine[..., classes.index("ride_bell")], probs["ride"][0] * probs["ride"][1][..., 1]
    )


def test_flat_decoding():
    head = FlatHead(8, hidden=[4])
    logits = {"flat": torch.randn(1, 5, 11)}
    p = torch.sigmoid(logits["flat"])
    probs = head.instrument_probs(logits)
    c = head.vocab.fine_classes
    hh = [c.index("hihat_closed"), c.index("hihat_open")]
    torch.testing.assert_close(probs["hihat"][0], 1 - (1 - p[..., hh[0]]) * (1 - p[..., hh[1]]))
    torch.testing.assert_close(probs["hihat"][1], p[..., hh] / p[..., hh].sum(-1, keepdim=True))
    torch.testing.assert_close(head.fine_probs(logits), p)


def test_hihat_pedal_head_comes_with_the_vocabulary():
    five = build_transcriber(model_cfg("crnn_small", "five_branch", hihat_pedal=True))
    assert "hihat_pedal" in five.heads.heads and five.heads.specs["hihat_pedal"].target == "hihat_pedal"
    assert "hihat_pedal" in five.instrument_probs(five(torch.randn(1, 128, 10)))
    assert "hihat_pedal" not in build_transcriber(model_cfg("crnn_small", "five_branch")).heads.heads
    flat = build_transcriber(model_cfg("crnn_small", "flat", hihat_pedal=True))
    assert (
        flat(torch.randn(1, 128, 10))["flat"].shape[-1]
        == len(Vocabulary(hihat_pedal=True).fine_classes)
        == 12
    )


@pytest.mark.parametrize("branches", BRANCHES)
def test_every_head_receives_gradient(branches):
    model = build_transcriber(model_cfg("crnn_small", branches))
    loss_fn = DrumLoss(model.heads.specs)
    batch = batch_for(model)
    loss, parts = loss_fn(model(batch["mel"], batch["mask"]), batch)
    loss.backward()
    assert torch.isfinite(loss)
    for name, param in model.named_parameters():
        assert param.grad is not None, f"{name} got no gradient"
        assert float(param.grad.abs().sum()) > 0, f"{name} got a zero gradient"
    if branches == "five_branch":
        assert set(parts) == set(model.heads.specs) | {"velocity"}


def test_padding_does_not_leak_into_real_frames():
    """With a mask, the padded tail is packed away: real frames see exactly the unpadded track."""
    torch.manual_seed(0)
    enc = CRNNEncoder(channels=[4, 4, 8, 8], rnn_hidden=8).eval()
    short = torch.randn(1, 128, 20)
    padded = torch.cat([short, torch.full((1, 128, 12), -11.5)], dim=-1)
    other = torch.randn(1, 128, 32)
    mask = torch.zeros(2, 32, dtype=torch.bool)
    mask[0, :20] = True
    mask[1] = True
    with torch.no_grad():
        ref = enc(short)
        out = enc(torch.cat([padded, other]), mask)
        unmasked = enc(torch.cat([padded, other]))
        full_other = enc(other)
    torch.testing.assert_close(out[0, :20], ref[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out[1], full_other[0], atol=1e-5, rtol=1e-5)
    assert not torch.allclose(unmasked[0, :20], ref[0], atol=1e-5)  # without the mask the tail leaks


def _lstm_params(n_in: int, h: int, layers: int) -> int:
    total, d = 0, n_in
    for _ in range(layers):
        total += 2 * (4 * h * (d + h) + 8 * h)  # two directions: W_ih, W_hh, b_ih, b_hh
        d = 2 * h
    return total


@pytest.mark.parametrize("encoder", list(ENCODERS))
@pytest.mark.parametrize("branches", BRANCHES)
def test_parameter_counts(encoder, branches):
    cfg = model_cfg(encoder, branches)
    model = build_transcriber(cfg)
    table = parameter_table(model)
    print(f"\n{encoder} + {branches}: " + ", ".join(f"{k}={v:,}" for k, v in table.items()))
    e = cfg["encoder"]
    ch = [1, *e["channels"]]
    conv = sum(9 * a * b + 2 * b for a, b in zip(ch[:-1], ch[1:], strict=True))  # conv (no bias) + batch norm
    assert table["encoder.cnn"] == conv
    assert table["encoder.rnn"] == _lstm_params(ch[-1] * (128 // 16), e["rnn_hidden"], e["rnn_layers"])
    assert table["encoder"] == conv + table["encoder.rnn"] + 2 * 128  # + input batch norm
    assert table["total"] == table["encoder"] + table["heads"]
    if branches == "five_branch":
        d = model.encoder.out_dim
        assert table["heads.kick"] == d * 256 + 256 + 256 * 128 + 128 + 128 + 1  # 512 -> 256 -> 128 -> 1


def test_head_config_errors_are_clear():
    heads = OmegaConf.to_container(OmegaConf.load(CONF_DIR / "branches" / "five_branch.yaml"))["heads"]
    bad = dict(heads, snare={"target": "snare", "hidden": [8], "classes": 2})
    with pytest.raises(ValueError, match="target 'snare' has 3 classes"):
        FiveBranchHeads(8, bad)
    missing = {k: v for k, v in heads.items() if k != "ride_variation"}
    with pytest.raises(ValueError, match="ride_variation"):
        FiveBranchHeads(8, missing)
    with pytest.raises(ValueError, match="unknown target"):
        FiveBranchHeads(8, dict(heads, extra={"target": "cowbell", "classes": 1}))
    with pytest.raises(ValueError, match="encoder expects mel"):
        CRNNEncoder()(torch.randn(1, 64, 10))


@pytest.mark.parametrize("kind", ["five", "flat"])
def test_hit_prior_starts_every_instrument_at_the_prior(kind):
    """From scratch, each instrument's activation starts at ~hit_prior (not 0.5, whose loss the
    first hundreds of steps only unlearned); bad priors are refused."""
    torch.manual_seed(0)
    if kind == "five":
        cfg = OmegaConf.to_container(OmegaConf.load(CONF_DIR / "branches" / "five_branch.yaml"))
        make = lambda p: FiveBranchHeads(64, cfg["heads"], hit_prior=p)  # noqa: E731
    else:
        make = lambda p: FlatHead(64, hidden=[32], hit_prior=p)  # noqa: E731
    heads = make(0.01).eval()
    with torch.no_grad():  # the output layers' weights zeroed: what is left is their biases
        for m in heads.heads.values() if kind == "five" else [heads.head]:
            m[-1].weight.zero_()
    h = torch.randn(1, 7, 64)
    probs = heads.instrument_probs(heads(h))
    act = {inst: a for inst, (a, _) in probs.items()}
    if kind == "five":  # P(any hit) = prior per target; hi-hat and ride share one (cymbal_primary)
        act = {"cymbal": act.pop("hihat") + act.pop("ride"), **act}
        expected = {inst: 0.01 for inst in act}
    else:  # one sigmoid per fine class: 1 - (1 - p)^n for an instrument of n fine classes
        expected = {inst: 1 - 0.99 ** probs[inst][1].shape[-1] for inst in act}
    for inst, a in act.items():
        torch.testing.assert_close(a, torch.full_like(a, expected[inst]), msg=inst)
    if kind == "five":  # the snare's head/rim split is read off its primary softmax: even
        torch.testing.assert_close(probs["snare"][1], torch.full_like(probs["snare"][1], 0.5))
    torch.manual_seed(0)
    default = make(None)  # PyTorch's own initialisation, untouched
    torch.manual_seed(0)
    reference = make(None)
    out = (lambda m: [x[-1].bias for x in m.heads.values()]) if kind == "five" else (lambda m: [m.head[-1].bias])
    for a, b in zip(out(default), out(reference), strict=True):
        torch.testing.assert_close(a, b)
    assert max(float(b.abs().max()) for b in out(default)) < 1  # not a prior's -4.6 / +5.3
    for bad in (0, 1, 1.5, -0.1):
        with pytest.raises(ValueError, match="hit_prior must be in"):
            make(bad)
