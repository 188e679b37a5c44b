"""Model files: safetensors bundles and Lightning checkpoints load; anything else is refused."""

from __future__ import annotations

import json
import os
import pickle

import pytest
import torch
from omegaconf import OmegaConf

from drumtx import CONF_DIR
from drumtx.checkpoint import CheckpointError, build_meta, load_transcriber, save_bundle
from drumtx.models import build_transcriber


def tiny_cfg(branches: str = "five_branch") -> dict:
    return {
        "features": OmegaConf.to_container(OmegaConf.load(CONF_DIR / "features" / "logmel.yaml")),
        "encoder": {
            "_target_": "drumtx.models.encoder.CRNNEncoder",
            "n_mels": 128,
            "channels": [4, 4, 8, 8],
            "rnn_hidden": 8,
            "rnn_layers": 1,
            "rnn_dropout": 0.0,
        },
        "branches": OmegaConf.to_container(OmegaConf.load(CONF_DIR / "branches" / f"{branches}.yaml")),
        "data": {"targets": {"hihat_pedal": False}},
        "evaluation": {"thresholds": {"crash": {"threshold": 0.7}}},
    }


def outputs(model, mel):
    with torch.no_grad():
        return model.eval()(mel)


@pytest.mark.parametrize("branches", ["five_branch", "flat"])
def test_bundle_round_trip(tmp_path, branches):
    torch.manual_seed(0)
    cfg = tiny_cfg(branches)
    model = build_transcriber(cfg)
    meta = build_meta(cfg)
    weights, sidecar = save_bundle(tmp_path / "m.safetensors", model, meta)
    assert sidecar == tmp_path / "m.json" and weights.is_file()
    assert not list(tmp_path.glob("*.tmp"))  # atomic writes leave nothing behind
    loaded, meta2 = load_transcriber(weights)
    mel = torch.randn(1, 128, 20)
    for k, v in outputs(model, mel).items():
        torch.testing.assert_close(outputs(loaded, mel)[k], v)
    assert meta2["vocab"]["fine_classes"] == model.vocab.fine_classes
    assert meta2["features"]["hop_length"] == 240 and meta2["fps"] == 100.0
    assert meta2["thresholds"]["crash"] == {"threshold": 0.7, "min_gap_s": 0.1}  # config over the defaults
    assert meta2["thresholds"]["kick"]["threshold"] == 0.5
    # A tuned-thresholds sidecar overrides what the bundle stored.
    (tmp_path / "m.thresholds.json").write_text(json.dumps({"thresholds": {"kick": {"threshold": 0.35}}}))
    assert load_transcriber(weights)[1]["thresholds"]["kick"]["threshold"] == 0.35


def lightning_like(model, cfg) -> dict:
    """What drumtx.train's checkpoints hold: plain containers only."""
    return {
        "epoch": 3,
        "global_step": 12,
        "state_dict": {f"model.{k}": v for k, v in model.state_dict().items()},
        "hyper_parameters": {"cfg": cfg, "meta": build_meta(cfg)},
    }


def test_lightning_checkpoint_loads_with_weights_only(tmp_path):
    torch.manual_seed(1)
    cfg = tiny_cfg()
    model = build_transcriber(cfg)
    path = tmp_path / "last.ckpt"
    torch.save(lightning_like(model, cfg), path)
    loaded, meta = load_transcriber(path)
    mel = torch.randn(1, 128, 16)
    torch.testing.assert_close(outputs(loaded, mel)["snare"], outputs(model, mel)["snare"])
    assert meta["config"]["encoder"]["channels"] == [4, 4, 8, 8]
    (tmp_path / "last.thresholds.json").write_text(json.dumps({"snare": {"threshold": 0.4}}))
    assert load_transcriber(path)[1]["thresholds"]["snare"]["threshold"] == 0.4


class _Exploit:
    """Unpickling this runs code (a file appears): what weights_only must refuse."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_pickles_that_run_code_are_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.ckpt"
    with open(path, "wb") as f:
        pickle.dump({"state_dict": {}, "payload": _Exploit(marker)}, f, protocol=2)
    with pytest.raises(CheckpointError, match="would import and run code.*system") as err:
        load_transcriber(path)
    assert not marker.exists()
    assert str(path) in str(err.value) and "\n" not in str(err.value)
    # The same through torch.save (zip format)
    path2 = tmp_path / "evil2.ckpt"
    torch.save({"state_dict": {}, "payload": _Exploit(marker)}, path2)
    with pytest.raises(CheckpointError, match="would import and run code"):
        load_transcriber(path2)
    assert not marker.exists()


def test_omegaconf_hparams_are_refused_which_is_why_train_stores_plain_containers(tmp_path):
    cfg = tiny_cfg()
    ckpt = lightning_like(build_transcriber(cfg), cfg)
    ckpt["hyper_parameters"]["cfg"] = OmegaConf.create(cfg)
    torch.save(ckpt, tmp_path / "omega.ckpt")
    with pytest.raises(CheckpointError, match="would import and run code.*omegaconf"):
        load_transcriber(tmp_path / "omega.ckpt")


def test_other_files_are_refused_with_one_clear_line(tmp_path):
    cases = {}
    cases["missing.ckpt"] = None
    (tmp_path / "garbage.ckpt").write_bytes(b"\x80" + os.urandom(255))  # a pickle's first byte, then noise
    cases["garbage.ckpt"] = "not a loadable torch checkpoint"
    (tmp_path / "notes.ckpt").write_text("hello\n")  # was "not a loadable torch checkpoint (KeyError: 101)"
    cases["notes.ckpt"] = "not a model checkpoint (expected a drumtx .safetensors bundle or a Lightning .ckpt)"
    torch.save({"weight": torch.zeros(3)}, tmp_path / "plain.pt")
    cases["plain.pt"] = "not a drumtx checkpoint"
    torch.save({"state_dict": {}, "hyper_parameters": {"lr": 1}}, tmp_path / "foreign.ckpt")
    cases["foreign.ckpt"] = "not a drumtx checkpoint"
    (tmp_path / "nosidecar.safetensors").write_bytes(b"x")
    cases["nosidecar.safetensors"] = "meta file nosidecar.json is missing"
    (tmp_path / "bad.safetensors").write_bytes(os.urandom(64))
    (tmp_path / "bad.json").write_text("{}")
    cases["bad.safetensors"] = "unreadable safetensors"
    for name, message in cases.items():
        with pytest.raises(CheckpointError) as err:
            load_transcriber(tmp_path / name)
        text = str(err.value)
        assert name in text and "\n" not in text
        assert message is None or message in text, text
    assert "no such checkpoint file" in str(
        pytest.raises(CheckpointError, load_transcriber, tmp_path / "missing.ckpt").value
    )


def test_foreign_safetensors_and_mismatched_weights_are_refused(tmp_path):
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2)}, str(tmp_path / "foreign.safetensors"))
    (tmp_path / "foreign.json").write_text(json.dumps(build_meta(tiny_cfg())))
    with pytest.raises(CheckpointError, match="not a drumtx checkpoint"):
        load_transcriber(tmp_path / "foreign.safetensors")
    # Right format, wrong architecture: the weights do not fit the stored config.
    cfg = tiny_cfg()
    save_bundle(tmp_path / "m.safetensors", build_transcriber(cfg), build_meta(cfg))
    meta = json.loads((tmp_path / "m.json").read_text())
    meta["config"]["encoder"]["rnn_hidden"] = 16
    (tmp_path / "m.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="weights do not fit"):
        load_transcriber(tmp_path / "m.safetensors")
