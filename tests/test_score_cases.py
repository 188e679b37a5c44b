"""The scoring core of experiments/cases/score_models.py on tiny synthetic onset lists (no model runs)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from drumtx.vocab import INSTRUMENTS

SCRIPT = Path(__file__).resolve().parents[1] / "experiments" / "cases" / "score_models.py"


@pytest.fixture(scope="module")
def sm():
    spec = importlib.util.spec_from_file_location("score_models", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def row(t: float, variation: str, velocity: int = 80) -> dict:
    inst = next(i for i, fine in INSTRUMENTS.items() if variation in fine)
    return {"time": t, "class": inst, "variation": variation, "velocity": velocity, "confidence": 0.9}


def test_class_mapping_covers_the_vocabulary(sm):
    assert sm.INSTRUMENTS == tuple(INSTRUMENTS)
    for inst, fine in INSTRUMENTS.items():
        assert sm.instrument(inst) == inst
        assert all(sm.instrument(f) == inst for f in fine)
    assert sm.instrument("clap") == "snare"  # C08's clap is the snare
    with pytest.raises(sm.CaseError, match="unknown drum class 'cowbell'"):
        sm.instrument("cowbell")


def test_truth_and_output_grouping(sm):
    truth = sm.truth_by_class([[0.5, "hihat", ""], [0.0, "kick"], [0.2, "hihat_open"], [0.5, "snare", 122]])
    assert sorted(truth) == ["hihat", "kick", "snare"]
    assert truth["hihat"].tolist() == [0.2, 0.5]
    found = sm.output_by_class([row(0.3, "hihat_open"), row(0.1, "hihat_closed"), row(0.1, "snare_rim")])
    assert found["hihat"].tolist() == [0.1, 0.3] and found["snare"].tolist() == [0.1]
    with pytest.raises(sm.CaseError, match="is not a kick"):
        sm.output_by_class([{"time": 1.0, "class": "kick", "variation": "tom_floor"}])


def test_score_counts_and_window(sm):
    s = sm.score(np.array([1.0, 2.0, 3.0]), np.array([1.04, 2.06, 5.0, 6.0]))
    assert (s["truth"], s["found"], s["hit"]) == (3, 4, 1)  # 40 ms in the 50 ms window, 60 ms not
    assert s["p"] == pytest.approx(1 / 4) and s["r"] == pytest.approx(1 / 3)
    assert s["f"] == pytest.approx(2 / 7)
    assert sm.score(np.zeros(0), np.zeros(0))["f"] is None
    assert sm.score(np.array([1.0]), np.zeros(0))["f"] == 0.0


def test_score_all_invented_and_micro(sm):
    truth = {"kick": np.array([0.0, 1.0]), "hihat": np.array([0.0, 0.5])}
    found = {"kick": np.array([0.0, 1.0]), "tom": np.array([0.0, 1.0, 2.0]), "hihat": np.array([0.51])}
    s = sm.score_all(truth, found)
    assert s["invented"] == {"tom": 3}
    assert s["kick"]["f"] == 1.0 and s["hihat"]["hit"] == 1
    assert s["all"]["hit"] == 3 and s["all"]["truth"] == 4 and s["all"]["found"] == 6
    assert s["all"]["f"] == pytest.approx(6 / 10)


def test_onsets_per_10s(sm):
    assert sm.onsets_per_10s(0, 18.5) == 0.0
    assert sm.onsets_per_10s(37, 18.5) == pytest.approx(20.0)
    with pytest.raises(sm.CaseError, match="duration"):
        sm.onsets_per_10s(3, 0.0)


def test_coincident_hats(sm):
    hats = np.arange(8) * 0.3  # 0.0 ... 2.1
    snares = np.array([0.6, 1.8])  # with hats 2 and 6
    assert sm.coincident_found(hats, snares, hats) == (2, 2)
    assert sm.coincident_found(hats, snares, np.delete(hats, [2, 6])) == (0, 2)
    assert sm.coincident_found(hats, snares, np.delete(hats, [6])) == (1, 2)
    assert sm.coincident_found(hats, np.zeros(0), hats) == (0, 0)
    # one found hat between two true hats is credited once (one-to-one matching)
    assert sm.coincident_found(np.array([0.6, 0.62]), np.array([0.6, 0.62]), np.array([0.61])) == (1, 2)


def test_velocity_separation(sm):
    truth = [(0.0, 122), (0.5, 32), (1.0, 122), (1.5, 32), (2.0, 32)]
    found = [(0.0, 80), (0.51, 18), (1.0, 90), (1.5, 20), (3.0, 127)]  # last ghost missed, one extra
    v = sm.velocity_separation(truth, found)
    assert v["soft"] == {"n": 2, "of": 3, "median": 19.0}
    assert v["loud"] == {"n": 2, "of": 2, "median": 85.0}
    assert v["ordered"] == 1.0
    flat = sm.velocity_separation(truth, [(t, 100) for t, _ in truth])
    assert flat["ordered"] == 0.5  # all ties: no separation
    assert sm.velocity_separation(truth, [(0.0, 80)])["ordered"] is None


def test_levels_and_identical_onsets(sm):
    assert sm.level_db("peak-40dBFS_s24") == -40.0 and sm.level_db("peak-20dBFS") == -20.0
    with pytest.raises(sm.CaseError, match="no peak"):
        sm.level_db("loud")
    ref = [row(0.1, "kick", 90), row(0.1, "hihat_closed"), row(0.35, "snare_head", 100)]
    other = [row(0.1, "kick", 90), row(0.1, "hihat_closed", 60), row(0.5, "tom_floor")]
    same = sm.identical_onsets(ref, other)
    assert same == {"same": 1, "same_time_class": 2, "reference": 3, "other": 3}
    assert sm.identical_onsets(ref, ref)["same"] == 3


def test_docstring_command_and_model_argv(sm, tmp_path):
    gen = tmp_path / "make_X.py"
    gen.write_text(
        '"""X.\n\nUsage:  python make_X.py OUTDIR\n'
        "Then:   python -m drumtx.transcribe OUTDIR/dyn.wav -o OUTDIR/out --format midi,json --threads 1\n"
        '"""\n'
    )
    template = sm.docstring_command(gen)
    argv = sm.model_command(template, Path("/w/C13"), Path("/w/C13/out-v2"), "/m/best.safetensors")
    assert argv[0] == sys.executable
    assert argv[1:] == [
        "-m", "drumtx.transcribe", "/w/C13/dyn.wav", "-o", "/w/C13/out-v2",
        "--format", "midi,json", "--threads", "1", "--ckpt", "/m/best.safetensors",
    ]  # fmt: skip
    assert "--ckpt" not in sm.model_command(template, Path("/w"), Path("/w/o"), "default")
    gen.write_text('"""No command."""\n')
    with pytest.raises(sm.CaseError, match="no 'Then:"):
        sm.docstring_command(gen)


def test_parse_models(sm, tmp_path):
    ckpt = tmp_path / "best.safetensors"
    ckpt.write_bytes(b"")
    assert sm.parse_models(["v1=default", f"v2={ckpt}"]) == {"v1": "default", "v2": str(ckpt)}
    for bad, msg in (("v1", "expected NAME=CKPT"), ("v2=/nope.safetensors", "no such file")):
        with pytest.raises(sm.CaseError, match=msg):
            sm.parse_models([bad])
    with pytest.raises(sm.CaseError, match="twice"):
        sm.parse_models(["a=default", "a=default"])
