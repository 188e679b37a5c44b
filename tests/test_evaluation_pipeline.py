"""``python -m drumtx.evaluate`` end to end on tiny, randomly initialised checkpoints.

The models are untrained, so their scores are arbitrary; what is pinned is the pipeline:
references with exact MIDI times, the report files, the comparison table's arithmetic and
its agreement with each model's own report, track selection, external folders, stitching.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import FIXTURE_SPLITS, compose_config

from drumtx import PROJECT_ROOT
from drumtx.evaluate import EvaluationSetupError, find_default_checkpoint, run
from drumtx.targets import TargetPolicy, read_midi_onsets


@pytest.fixture(scope="module")
def bundles(tmp_path_factory, egmd_fixture) -> dict[str, Path]:
    """Two tiny checkpoints (five-branch and flat) saved with drumtx.checkpoint.save_bundle."""
    from drumtx.checkpoint import build_meta, save_bundle
    from drumtx.models.transcriber import build_transcriber

    tmp = tmp_path_factory.mktemp("bundles")
    out = {}
    for branches, seed in (("five_branch", 0), ("flat", 1)):
        cfg = compose_config("train", [
            "data=egmd", f"data.root={egmd_fixture}", f"branches={branches}", "encoder=crnn_small",
            "encoder.channels=[4,4]", "encoder.rnn_hidden=8", "encoder.rnn_layers=1", "logger=none",
            f"paths.root_dir={tmp}", f"paths.output_dir={tmp / branches}",
        ])
        torch.manual_seed(seed)
        path = tmp / "outputs" / "train" / branches / "best.safetensors"
        save_bundle(path, build_transcriber(cfg), build_meta(cfg))
        out[branches] = path
    return out


def eval_config(tmp_path, egmd_fixture, *overrides):
    return compose_config("evaluate", [
        "data=egmd", f"data.root={egmd_fixture}", f"paths.root_dir={tmp_path}", f"out_dir={tmp_path / 'eval'}",
        "data.prepare_workers=0", "report.pianorolls=1", *overrides,
    ])


def n_reference_onsets(root: Path, keys) -> int:
    """Onsets of the fixture's MIDI files after the note map and the default policy."""
    return sum(len(read_midi_onsets(root / Path(k).with_suffix(".mid"), "roland_td17", TargetPolicy())) for k in keys)


def test_comparison_of_two_tiny_checkpoints(tmp_path, egmd_fixture, bundles):
    cfg = eval_config(tmp_path, egmd_fixture, f"ckpt={bundles['five_branch']}", f"compare_ckpt={bundles['flat']}",
                      "split=validation")
    result = run(cfg)
    out = tmp_path / "eval"
    for rel in ("report.md", "metrics.json", "curves.json", "tracks.csv", "baseline/report.md",
                "baseline/metrics.json", "compare/compare.md", "compare/compare.json"):
        assert (out / rel).is_file(), rel
    metrics = json.loads((out / "metrics.json").read_text())
    base = json.loads((out / "baseline/metrics.json").read_text())
    cmp = json.loads((out / "compare/compare.json").read_text())

    # Exact references: every onset of the validation MIDI files, collisions included.
    keys = FIXTURE_SPLITS["validation"]
    assert metrics["n_tracks"] == len(keys) == 2
    assert metrics["n_reference_onsets"] == n_reference_onsets(egmd_fixture, keys)
    assert set(metrics["levels"]) == {"fine", "instrument", "branch"}
    assert metrics["info"]["model"] == "five_branch" and base["info"]["model"] == "flat"
    # the inference settings as applied: these bundles carry no presence gate, so none (0)
    assert metrics["info"]["inference"]["presence_confidence"] == 0.0
    assert "- **drum presence gate**: none" in (out / "report.md").read_text()

    # The table: baseline = compare_ckpt (flat), candidate = ckpt (five-branch), deltas = candidate - baseline.
    assert (cmp["baseline"], cmp["candidate"]) == ("flat", "five_branch")
    labels = [r["label"] for r in cmp["table"]]
    assert labels[:6] == ["Kick", "Snare", "Tom", "Hi-hat", "Ride", "Crash"]
    assert "Hi-hat open" in labels and "Ride bell" in labels and labels[-2:] == ["Overall (instrument)", "Overall (fine)"]
    for r in cmp["table"]:
        level = metrics["levels"][r["level"]]
        mine = level["overall"]["micro"] if r["class"] == "overall" else level["classes"][r["class"]]
        theirs = (base["levels"][r["level"]]["overall"]["micro"] if r["class"] == "overall"
                  else base["levels"][r["level"]]["classes"][r["class"]])
        for k in ("recall", "precision", "f_measure"):
            assert r["candidate"][k] == pytest.approx(mine[k]) and r["baseline"][k] == pytest.approx(theirs[k])
            undefined = mine[k] is None or theirs[k] is None  # an undefined score has no delta
            assert r["delta"][k] == (None if undefined else pytest.approx(mine[k] - theirs[k]))
    md = (out / "compare/compare.md").read_text()
    assert "ΔRec" in md and "ΔF1" in md and "Overall (fine)" in md
    # Every figure a report links exists.
    for report in (out / "report.md", out / "compare/compare.md"):
        for link in re.findall(r"\]\(([^)]+\.png)\)", report.read_text()):
            assert (report.parent / link).is_file(), link
    assert any(p.name.startswith("pianoroll_1") for p in (out / "compare/figures").iterdir())
    assert result["summary"]["tier1"]["kick"]["n_ref"] == metrics["levels"]["instrument"]["classes"]["kick"]["n_ref"]


def test_track_selection(tmp_path, egmd_fixture, bundles, monkeypatch):
    thread_settings = []
    monkeypatch.setattr(torch, "set_num_threads", thread_settings.append)  # do not change this process's
    result = run(eval_config(tmp_path, egmd_fixture, f"ckpt={bundles['flat']}", "split=validation", "kit_names=[Kit 2]",
                             "report.figures=false", "torch_threads=1"))
    # evaluate's torch_threads first; then drumtx.inference's block pool sets 1 and puts back what
    # get_num_threads says around each track
    assert thread_settings[0] == 1
    s = result["summary"]
    assert s["n_tracks"] == 1 and s["tracks"][0]["kit_name"] == "Kit 2" and s["tracks"][0]["kit_set"] == "seen"
    with pytest.raises(EvaluationSetupError, match=r"splits there: \['test', 'train', 'validation'\]"):
        run(eval_config(tmp_path, egmd_fixture, f"ckpt={bundles['flat']}", "split=unseen"))
    with pytest.raises(EvaluationSetupError, match="Kit 1"):
        run(eval_config(tmp_path, egmd_fixture, f"ckpt={bundles['flat']}", "split=test", "exclude_kit_names=[Kit*]"))


def test_default_checkpoint_is_the_newest_then_the_packaged_one(tmp_path):
    import os

    for i, run_dir in enumerate(("a", "b")):
        p = tmp_path / "outputs" / run_dir / "best.safetensors"
        p.parent.mkdir(parents=True)
        p.write_bytes(b"x")
        p.with_suffix(".json").write_text("{}")
        os.utime(p, (1000 + i, 1000 + i))
    path, why = find_default_checkpoint([tmp_path / "outputs", tmp_path / "multirun"], tmp_path / "none.safetensors")
    assert path.parent.name == "b" and "newest" in why
    packaged = tmp_path / "pkg.safetensors"
    packaged.write_bytes(b"x")
    path, why = find_default_checkpoint([tmp_path / "nothing"], packaged)
    assert path == packaged and "packaged" in why
    with pytest.raises(EvaluationSetupError, match="pass ckpt="):
        find_default_checkpoint([tmp_path / "nothing"], tmp_path / "none.safetensors")


def _external_folder(tmp_path, egmd_fixture, annotate) -> Path:
    """Two good audio files with annotations, one corrupt file with one, one without any."""
    audio = tmp_path / "ext"
    audio.mkdir()
    for i, key in enumerate(FIXTURE_SPLITS["validation"]):
        src = egmd_fixture / key
        shutil.copy(src, audio / f"song{i}{src.suffix}")
        annotate(egmd_fixture / Path(key).with_suffix(".mid"), audio / f"song{i}")
    (audio / "broken.wav").write_bytes(b"RIFF0000WAVEfmt garbage")
    annotate(egmd_fixture / Path(FIXTURE_SPLITS["test"][0]).with_suffix(".mid"), audio / "broken")
    shutil.copy(egmd_fixture / FIXTURE_SPLITS["test"][0], audio / "unannotated.wav")
    return audio


def test_text_folder_with_a_label_map(tmp_path, egmd_fixture, bundles):
    numeric = {"kick": "0", "snare": "1", "hihat": "2"}

    def annotate(midi: Path, stem: Path) -> None:
        onsets = read_midi_onsets(midi, "roland_td17", TargetPolicy())
        lines = [f"{o.time:.4f}\t{numeric[inst]}" for o in onsets
                 if (inst := o.fine_class.split("_")[0]) in numeric]
        lines.append("1.5\t9")  # a label the map does not know
        stem.with_suffix(".txt").write_text("\n".join(lines) + "\n")

    audio = _external_folder(tmp_path, egmd_fixture, annotate)
    result = run(eval_config(tmp_path, egmd_fixture, f"ckpt={bundles['five_branch']}", "source=text_folder",
                             f"external.audio_dir={audio}", "external.label_map=kd_sd_hh_numeric",
                             "report.figures=false"))
    s = result["summary"]
    assert s["n_tracks"] == 2 and set(s["levels"]) == {"coarse"}
    coarse = s["levels"]["coarse"]
    assert list(coarse["classes"]) == ["kick", "snare", "hihat"]
    assert set(coarse["left_out"]) == {"tom", "ride", "crash"}
    assert not s["slices"]["ghost_notes"]["available"]
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    problems = metrics["info"]["problems"]
    assert len(problems) == 2 and any("broken.wav" in p for p in problems) and any("unannotated" in p for p in problems)
    assert metrics["info"]["annotation_counts"]["unknown"] == {"9": 2}
    assert "Left out: Tom (not annotated in kd_sd_hh_numeric)" in (tmp_path / "eval" / "report.md").read_text()


def test_midi_folder(tmp_path, egmd_fixture, bundles):
    import soundfile as sf

    audio = _external_folder(tmp_path, egmd_fixture, lambda midi, stem: shutil.copy(midi, stem.with_suffix(".mid")))
    # a cut-off download: what decodes is not scored against annotations of the whole file
    key = FIXTURE_SPLITS["test"][0]
    wave, sr = sf.read(egmd_fixture / key, dtype="float32")
    sf.write(tmp_path / "whole.flac", wave, sr)
    data = (tmp_path / "whole.flac").read_bytes()
    (audio / "cut.flac").write_bytes(data[: len(data) // 2])
    shutil.copy(egmd_fixture / Path(key).with_suffix(".mid"), audio / "cut.mid")
    # a whole file shorter than its MIDI: the onsets after its end would be misses no model avoids
    sf.write(audio / "short.wav", wave[: int(0.4 * len(wave))], sr)
    shutil.copy(egmd_fixture / Path(key).with_suffix(".mid"), audio / "short.mid")
    # an empty MIDI file (mido's EOFError says nothing)
    sf.write(audio / "empty.wav", wave, sr)
    (audio / "empty.mid").write_bytes(b"")
    result = run(eval_config(tmp_path, egmd_fixture, f"ckpt={bundles['flat']}", "source=midi_folder",
                             f"external.audio_dir={audio}", "external.note_map=roland_td17", "report.figures=false"))
    s = result["summary"]
    assert s["n_tracks"] == 2 and set(s["levels"]) == {"fine", "instrument", "branch"}
    assert s["n_reference_onsets"] == n_reference_onsets(egmd_fixture, FIXTURE_SPLITS["validation"])
    problems = json.loads((tmp_path / "eval" / "metrics.json").read_text())["info"]["problems"]
    assert any("cut.flac" in p and "decode" in p and "not scored" in p for p in problems), problems
    late = [p for p in problems if "short.mid" in p]
    assert len(late) == 1 and "onsets fall after its audio ends" in late[0] and "not scored" in late[0], problems
    assert any("empty.mid" in p and "EOFError: the file ends too early" in p for p in problems), problems


def test_cli_reports_a_bad_checkpoint_in_one_line(tmp_path, egmd_fixture):
    proc = subprocess.run(
        [sys.executable, "-m", "drumtx.evaluate", f"ckpt={tmp_path / 'missing.safetensors'}", "data=egmd",
         f"data.root={egmd_fixture}",  # the data is checked first
         f"paths.root_dir={tmp_path}", f"out_dir={tmp_path / 'out'}", f"hydra.run.dir={tmp_path / 'hydra'}"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == f"drumtx.evaluate: {tmp_path / 'missing.safetensors'}: no such checkpoint file"
