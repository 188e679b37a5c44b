"""Building a synthetic E-GMD folder: plan, splits, unseen kits, resume, bad input, the CLI."""

from __future__ import annotations

import csv
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from drumtx import PROJECT_ROOT
from drumtx.synth.bench import run_bench
from drumtx.synth.dataset import (
    EGMD_COLUMNS,
    SynthError,
    build_dataset,
    kit_differences,
    parse_recipe,
    plan,
    recipe_differences,
)
from drumtx.synth.kits import is_unseen_kit, load_kits
from drumtx.synth.render import Note
from drumtx.synth.sources import GMDSource, MidiFolderSource, to_roland
from drumtx.targets import TargetPolicy
from drumtx.vocab import NOTE_MAPS

KITS = load_kits()
TRAIN = [k for k in ("fluidr3_standard", "musescore_power", "avl_black_pearl") if KITS[k].available]
TEST = [k for k in ("timgm6mb_standard",) if KITS[k].available]
GMD = PROJECT_ROOT.parent / "shared" / "data" / "groove-midi"
pytestmark = pytest.mark.skipif(len(TRAIN) < 2, reason="sound fonts not installed")


def recipe(root: Path, n: int = 6, seed: int = 0, **synth) -> dict:
    base = {
        "seed": seed,
        "train_kits": TRAIN[:2],
        "test_kits": TEST,
        "copies": {"train": [1, 2], "validation": 1, "test": 1},
        "unseen_copies": 1,
        "sources": {"generated": {"_target_": "drumtx.synth.sources.GeneratorSource", "n": n, "seconds": [3, 4],
                                  "split": {"validation": 0.2, "test": 0.2}}},
        "render": {"format": "wav"},
    }
    base.update(synth)
    return {"name": "tiny", "format": "egmd", "root": str(root), "csv": "e-gmd-v1.0.0.csv",
            "note_map": "roland_td17", "synth": base}


def read_rows(root: Path) -> list[dict]:
    with open(root / "e-gmd-v1.0.0.csv", newline="") as f:
        return list(csv.DictReader(f))


def digest(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.suffix in (".wav", ".midi", ".flac")}


def test_plan_splits_and_unseen_kits(tmp_path):
    r = parse_recipe(recipe(tmp_path, n=20))
    tracks = plan(r)
    assert tracks == plan(parse_recipe(recipe(tmp_path, n=20)))  # deterministic
    perf_split = {t.perf.id: t.perf.split for t in tracks}
    assert sorted(perf_split.values()).count("validation") == 4 and sorted(perf_split.values()).count("test") == 4
    for t in tracks:
        assert (t.kit in TEST) == t.unseen
        if t.unseen:
            assert t.perf.split == "test"  # test-only kits never play training or validation data
    per_perf = {}
    for t in tracks:
        if not t.unseen:
            per_perf.setdefault(t.perf.id, []).append(t.kit)
    assert all(1 <= len(k) <= 2 and len(set(k)) == len(k) for k in per_perf.values())
    if TEST:
        assert sum(t.unseen for t in tracks) == 4
    assert len({t.audio for t in tracks}) == len(tracks)
    with pytest.raises(SynthError, match="both training and test-only"):
        parse_recipe(recipe(tmp_path, test_kits=TRAIN[:1]))
    with pytest.raises(Exception, match="unknown kit 'nope'"):
        parse_recipe(recipe(tmp_path, train_kits=["nope"]))


@pytest.mark.skipif(len(TRAIN) < 3, reason="three sound-font kits not installed")
def test_heldout_kits_play_validation_only_and_keep_every_other_track(tmp_path):
    base = recipe(tmp_path, n=30, train_kits=TRAIN, copies={"train": [1, 2], "validation": 1, "test": 1})
    held = recipe(tmp_path, n=30, train_kits=TRAIN, copies={"train": [1, 2], "validation": 1, "test": 1},
                  heldout_kits=[TRAIN[2]], unseen_copies=1)
    before, after = plan(parse_recipe(base)), plan(parse_recipe(held))
    on_held = [t for t in after if t.kit == TRAIN[2]]
    validation = {t.perf.id for t in after if t.perf.split == "validation"}
    # every validation performance plays the held-out kit, as an unseen kit; nothing else does
    assert {t.perf.id for t in on_held} == validation and all(t.unseen for t in on_held)
    assert [t for t in before if t.kit != TRAIN[2] and t not in after] == []  # the rest is kept as it was
    assert [t for t in after if t not in before] == on_held
    assert any(t.kit == TRAIN[2] and t.perf.split == "train" for t in before)  # the draw did land on it
    with pytest.raises(SynthError, match="not in data.synth.train_kits"):
        parse_recipe(recipe(tmp_path, heldout_kits=TEST or ["timgm6mb_standard"]))
    with pytest.raises(SynthError, match="every training kit"):
        parse_recipe(recipe(tmp_path, heldout_kits=TRAIN[:2]))
    with pytest.raises(SynthError, match="must be a list"):
        parse_recipe(recipe(tmp_path, heldout_kits=TRAIN[0]))
    with pytest.raises(SynthError, match="unseen_copies is 0"):
        parse_recipe(recipe(tmp_path, train_kits=TRAIN, heldout_kits=[TRAIN[2]], unseen_copies=0))
    # an empty heldout_kits keeps the fingerprint of a recipe without the key (folders rendered before it)
    assert parse_recipe(recipe(tmp_path, heldout_kits=[])).fingerprint() == parse_recipe(recipe(tmp_path)).fingerprint()


@pytest.mark.skipif(len(TRAIN) < 3, reason="three sound-font kits not installed")
def test_recipe_and_kit_differences_name_the_keys(tmp_path):
    """What a refusal prints: dotted keys, nested ones too, and kits whose sound changed."""
    a = recipe(tmp_path)["synth"]
    b = {**a, "seed": 3, "render": {"format": "flac"}, "workers": 9}
    assert recipe_differences(a, b) == ["render.format", "seed", "workers"]
    assert recipe_differences(a, b, skip=("workers",)) == ["render.format", "seed"]
    assert recipe_differences(a, a) == []
    r = parse_recipe(recipe(tmp_path))
    prints = {k.name: k.fingerprint() for k in r.train_kits + r.test_kits}
    assert kit_differences(prints, r) == []
    changed = dict(prints, **{TRAIN[0]: {"samples": "other"}})
    del changed[TEST[0]]
    assert kit_differences(changed, r) == sorted([TRAIN[0], TEST[0]])


def test_reuse_links_what_another_recipe_rendered_alike(tmp_path):
    kw = {"n": 8, "train_kits": TRAIN, "copies": {"train": 1, "validation": 1, "test": 1}}
    build_dataset(recipe(tmp_path / "base", **kw), workers=1, progress=False)
    held = recipe(tmp_path / "held", heldout_kits=[TRAIN[2]], **kw)
    fresh = build_dataset(recipe(tmp_path / "fresh", heldout_kits=[TRAIN[2]], **kw), workers=1, progress=False)
    before = run_bench(held, tracks=1, workers=1, reuse=str(tmp_path / "base"))  # the bench counts the same
    summary = build_dataset(held, workers=1, progress=False, reuse=str(tmp_path / "base"))
    assert (before["tracks_done"], before["tracks_linkable"], before["tracks_to_render"]) == (
        0, summary["linked"], summary["rendered"])
    assert before["not_linked"] == summary["not_linked"]
    assert run_bench(held, tracks=1, workers=1, reuse=str(tmp_path / "base"), limit=3)["tracks_in_scope"] == 3
    after = run_bench(held, tracks=1, workers=1)
    assert (after["tracks_done"], after["tracks_to_render"], after["hours_to_render"]) == (summary["planned"], 0, 0)
    # only the held-out kit's validation tracks are new; the rest comes from base, byte for byte
    assert summary["linked"] > 0 and summary["rendered"] == fresh["planned"] - summary["linked"]
    assert summary["not_linked"] == {"not_planned_there": summary["rendered"]}  # and says why
    assert summary["rendered"] == sum(r["kit_name"] == f"unseen:{TRAIN[2]}" for r in read_rows(tmp_path / "held"))
    assert digest(tmp_path / "held") == digest(tmp_path / "fresh")
    assert read_rows(tmp_path / "held") == read_rows(tmp_path / "fresh")
    other = recipe(tmp_path / "other", render={"format": "wav", "tail_s": 1.0}, **kw)
    with pytest.raises(SynthError, match=r"renders tracks otherwise \(differ: render\.tail_s\)"):
        build_dataset(other, workers=1, progress=False, reuse=str(tmp_path / "base"))
    # the bench on a folder of another recipe counts nothing there as done (synth would refuse it)
    elsewhere = run_bench(recipe(tmp_path / "base", render={"tail_s": 1.0}, **kw), tracks=1, workers=1)
    assert elsewhere["root_rendered_from_another_recipe"] and elsewhere["tracks_done"] == 0
    with pytest.raises(SynthError, match="no such folder"):
        build_dataset(other, workers=1, progress=False, reuse=str(tmp_path / "nowhere"))
    with pytest.raises(SynthError, match="this recipe's own folder"):
        build_dataset(held, workers=1, progress=False, reuse=str(tmp_path / "held"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(SynthError, match="no synth_recipe.yaml"):
        build_dataset(other, workers=1, progress=False, reuse=str(tmp_path / "empty"))
    with pytest.raises(SynthError, match="must be a folder's path"):
        build_dataset(other, workers=1, progress=False, reuse=True)
    with pytest.raises(SynthError, match="exclude each other"):
        build_dataset(held, workers=1, progress=False, overwrite=True, reuse=str(tmp_path / "base"))
    # a refused reuse writes nothing: the same folder takes its own recipe afterwards
    assert not (tmp_path / "other").exists()
    base_recipe = (tmp_path / "base" / "synth_recipe.yaml").read_text()
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "synth_recipe.yaml").write_text(base_recipe.replace(TRAIN[0], "no_such_kit"))
    with pytest.raises(SynthError, match=r"reuse=.*bad: its recipe \(synth_recipe.yaml\): .*no_such_kit"):
        build_dataset(held, workers=1, progress=False, reuse=str(tmp_path / "bad"))
    # a kit whose samples changed there is not linked, and the count says so
    stored = OmegaConf.load(tmp_path / "base" / "synth_recipe.yaml")
    stored.kits[TRAIN[0]] = "0" * 12
    OmegaConf.save(stored, tmp_path / "base" / "synth_recipe.yaml")
    again = build_dataset(recipe(tmp_path / "again", **kw), workers=1, progress=False, reuse=str(tmp_path / "base"))
    rows = read_rows(tmp_path / "again")
    assert again["not_linked"] == {"kit_differs_there": sum(r["kit_name"] == TRAIN[0] for r in rows)} != {}
    assert again["linked"] == len(rows) - again["rendered"]


def test_build_reads_back_as_egmd_and_resumes(tmp_path):
    from drumtx.data.datasets import egmd_index
    from drumtx.targets import read_midi_onsets

    root = tmp_path / "ds"
    cfg = recipe(root)
    summary = build_dataset(cfg, workers=1, progress=False)
    assert summary["failed"] == 0 and summary["tracks"] == summary["planned"] > 6
    rows = read_rows(root)
    assert list(rows[0]) == list(EGMD_COLUMNS)
    assert not list(root.rglob("*.tmp")) and (root / "README.md").is_file() and (root / "synth_recipe.yaml").is_file()
    for row in rows:
        assert is_unseen_kit(row["kit_name"]) == (row["kit_name"].removeprefix("unseen:") in TEST)
        assert row["split"] == "test" or not is_unseen_kit(row["kit_name"])
        assert (root / row["audio_filename"]).is_file() and (root / row["midi_filename"]).is_file()
    index = egmd_index("tiny", root)  # the project's E-GMD reader, leakage check included
    assert len(index.tracks) == len(rows)
    track = index.tracks[0]
    onsets = read_midi_onsets(track.midi, "roland_td17", TargetPolicy())
    assert onsets and all(o.time <= track.duration for o in onsets)

    before = digest(root)
    again = build_dataset(cfg, workers=1, progress=False)
    assert again["rendered"] == 0 and digest(root) == before and read_rows(root) == rows
    victim = root / rows[0]["audio_filename"]
    victim.unlink()
    # what a render killed mid-write (SIGKILL: no clean-up) leaves beside the track
    stale = [victim.with_name(victim.name + ".99999.tmp"), (root / rows[0]["midi_filename"]).with_name(
        Path(rows[0]["midi_filename"]).name + ".99999.tmp")]
    for p in stale:
        p.write_bytes(b"half a file")
    third = build_dataset(cfg, workers=1, progress=False)
    assert third["rendered"] == 1 and digest(root) == before  # the same bytes again: seeded per track
    assert not list(root.rglob("*.tmp"))  # the killed render's leftovers are gone with it

    # the refusal names what differs, not two hashes
    with pytest.raises(SynthError, match=r"another recipe \(differ: seed\); pass overwrite=true"):
        build_dataset(recipe(root, seed=1), workers=1, progress=False)


def test_splits_renders_only_those_and_the_csv_lists_every_track_on_disk(tmp_path):
    """splits=[test] scores a model before the training audio is rendered; a later full build
    renders the rest and keeps the test tracks' bytes."""
    root = tmp_path / "ds"
    cfg = recipe(root)
    first = build_dataset(cfg, workers=1, progress=False, splits=["test"])
    rows = read_rows(root)
    assert first["failed"] == 0 and rows and {r["split"] for r in rows} == {"test"}
    assert first["rendered"] == len(rows) < first["planned"]
    assert first["splits"] == {"test": len(rows)} and sum(first["planned_splits"].values()) == first["planned"]
    tests = digest(root)
    full = build_dataset(cfg, workers=1, progress=False)
    assert full["rendered"] == full["planned"] - len(rows) and len(read_rows(root)) == full["planned"]
    assert {k: v for k, v in digest(root).items() if k in tests} == tests
    fresh = tmp_path / "fresh"  # refused before anything is written: no dataset folder appears
    with pytest.raises(SynthError, match=r"\['tset'\] not among"):
        build_dataset(recipe(fresh), workers=1, progress=False, splits=["tset"])
    with pytest.raises(SynthError, match="no split to render"):
        build_dataset(recipe(fresh), workers=1, progress=False, splits=[])
    assert not fresh.exists()


def test_parallel_build_is_identical(tmp_path):
    cfg_one, cfg_two = recipe(tmp_path / "one", n=4), recipe(tmp_path / "two", n=4)
    build_dataset(cfg_one, workers=1, progress=False)
    build_dataset(cfg_two, workers=2, progress=False)
    assert digest(tmp_path / "one") == digest(tmp_path / "two")


def test_bad_midi_is_reported_and_the_batch_goes_on(tmp_path, caplog):
    import pretty_midi

    midi_dir = tmp_path / "midi"
    midi_dir.mkdir()
    good = pretty_midi.PrettyMIDI()
    drums = pretty_midi.Instrument(0, is_drum=True)
    drums.notes = [pretty_midi.Note(100, p, 0.2 + 0.25 * i, 0.3 + 0.25 * i) for i, p in enumerate([36, 42, 38, 42, 35, 81])]
    good.instruments.append(drums)
    good.write(str(midi_dir / "good.mid"))
    (midi_dir / "broken.mid").write_bytes(b"MThd not really a midi file")
    source = {"_target_": "drumtx.synth.sources.MidiFolderSource", "root": str(midi_dir), "note_map": "general_midi",
              "split": {"validation": 0.0, "test": 0.0}}
    cfg = recipe(tmp_path / "ds", sources={"folder": source}, copies=1, test_kits=[])
    summary = build_dataset(cfg, workers=1, progress=False)
    assert summary["failed"] == 1 and summary["tracks"] == 1
    assert any("broken.mid" in r.message and "unreadable MIDI" in r.message for r in caplog.records)
    assert summary["dropped_notes"] == {"81": 1}  # GM triangle: not a drum class, counted
    rows = read_rows(tmp_path / "ds")
    from drumtx.synth.render import read_midi_notes

    pitches = [n.pitch for n in read_midi_notes(tmp_path / "ds" / rows[0]["midi_filename"])]
    assert pitches == [36, 42, 38, 42, 36]  # GM 35 (acoustic bass drum) -> Roland kick 36


def test_sources_map_notes_into_the_roland_set():
    notes = [Note(0.0, 0.1, p, 90) for p in (35, 41, 52, 55, 59, 53, 40, 39)]
    roland, dropped = to_roland(notes, "general_midi")
    assert [n.pitch for n in roland] == [36, 43, 49, 49, 51, 53, 38]  # GM 40 electric snare is a head hit
    assert dropped == {39: 1}
    assert all(NOTE_MAPS["roland_td17"][n.pitch] == NOTE_MAPS["general_midi"][o.pitch]
               for n, o in zip(roland, notes[:7], strict=True))
    with pytest.raises(ValueError, match="unknown note map"):
        MidiFolderSource("/tmp", note_map="nope")


@pytest.mark.skipif(not GMD.is_dir(), reason="Groove MIDI Dataset not in shared/data")
def test_gmd_source_keeps_its_splits():
    perfs = GMDSource(GMD).performances(seed=0)
    assert len(perfs) == 1150
    with open(GMD / "info.csv", newline="") as f:
        truth = {r["id"]: r["split"] for r in csv.DictReader(f)}
    assert all(truth[p.id] == p.split for p in perfs)
    notes, dropped = perfs[0].load()
    assert notes and not dropped and all(n.pitch in NOTE_MAPS["roland_td17"] for n in notes)
    capped = GMDSource(GMD, max_tracks=5, beat_types=["beat"]).performances(seed=0)
    assert len(capped) == 15 and {p.beat_type for p in capped} == {"beat"}


def test_recipes_in_conf_parse(tmp_path):
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(version_base="1.3", config_dir=str(PROJECT_ROOT / "conf")):
        for name in ("synth_default", "synth_gmd", "synth_gmd_dry", "synth_songs"):
            cfg = compose(config_name="synth", overrides=[f"data={name}", f"paths.root_dir={tmp_path}"])
            r = parse_recipe(OmegaConf.to_container(cfg.data, resolve=True))
            assert r.root == tmp_path / "data" / name and r.train_kits and r.test_kits
            assert not {k.name for k in r.train_kits} & {k.name for k in r.test_kits}


def test_cli_builds_a_tiny_synth_default(tmp_path):
    root = tmp_path / "cli"
    cmd = [sys.executable, "-m", "drumtx.synth", "data=synth_default", f"data.root={root}",
           "data.synth.sources.generated.n=3", "data.synth.sources.generated.seconds=[2,3]",
           f"data.synth.train_kits=[{TRAIN[0]}]", "workers=1", "progress=false", f"hydra.run.dir={tmp_path / 'run'}"]
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = read_rows(root)
    assert len(rows) >= 3 and {r["split"] for r in rows} <= {"train", "validation", "test"}
    bad = subprocess.run(cmd[:3] + ["data=synth_default", "data.synth.train_kits=[no_such_kit]",
                                    f"data.root={root}", f"hydra.run.dir={tmp_path / 'run2'}"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0 and "unknown kit 'no_such_kit'" in (bad.stderr + bad.stdout)


def _children(pid: int) -> set[int]:
    out = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.add(int(stat.parent.name))
    return out


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_sigterm_stops_the_render_workers_and_keeps_whole_tracks(tmp_path):
    """A terminated build (SIGTERM: a job scheduler, `kill`) stops its spawned render workers
    instead of leaving them rendering on, says how to resume in one line (exit 130), and leaves
    only whole tracks; a second SIGTERM while the workers finish changes nothing."""
    import signal
    import time

    root = tmp_path / "big"
    cmd = [sys.executable, "-m", "drumtx.synth", "data=synth_default", f"data.root={root}",
           "data.synth.sources.generated.n=40", "data.synth.sources.generated.seconds=[3,4]",
           f"data.synth.train_kits=[{TRAIN[0]}]", "workers=2", "progress=false", f"hydra.run.dir={tmp_path / 'run'}"]
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 240
        while not list(root.rglob("*.wav")):  # the pool is up and has written a track
            assert proc.poll() is None and time.monotonic() < deadline, "no track rendered"
            time.sleep(0.2)
        workers = _children(proc.pid)
        assert len(workers) >= 2
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, out[-2000:]
    assert out.rstrip().splitlines()[-1] == "drumtx.synth: interrupted; rerun the same command to resume"
    assert "Traceback" not in out
    deadline = time.monotonic() + 30
    while {p for p in workers if Path(f"/proc/{p}").exists()} and time.monotonic() < deadline:
        time.sleep(0.2)
    alive = {p for p in workers if Path(f"/proc/{p}").exists()}
    assert not alive, f"render workers still running after SIGTERM: {alive}"
    wavs = list(root.rglob("*.wav"))
    assert 0 < len(wavs) < 40 * 3  # stopped before the end
    for wav in wavs:  # every track on disk is whole: its MIDI beside it, no temporary files
        assert wav.with_suffix(".midi").is_file()
    assert not [p for p in root.rglob("*") if p.is_file() and p.suffix not in (".wav", ".midi", ".yaml", ".json", ".csv", ".md")]


def test_limit_counts_within_the_chosen_splits(tmp_path):
    """limit=2 splits=[train] rendered nothing when the plan began with test tracks."""
    cfg = recipe(tmp_path / "ds", n=8)
    summary = build_dataset(cfg, workers=1, progress=False, limit=2, splits=["train"])
    assert summary["rendered"] == 2 and summary["splits"] == {"train": 2}
    bench = run_bench(cfg, tracks=1, workers=1, limit=2, splits=["train"])
    assert (bench["tracks_in_scope"], bench["tracks_done"], bench["tracks_to_render"]) == (2, 2, 0)
    with pytest.raises(SynthError, match="not among"):
        run_bench(cfg, tracks=1, workers=1, splits=["tarin"])


def test_bench_refuses_an_output_folder_before_it_runs(tmp_path):
    r = subprocess.run([sys.executable, "-m", "drumtx.synth.bench", "data=synth_default", f"bench.out={tmp_path}",
                        f"hydra.run.dir={tmp_path / 'run'}"], capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        f"drumtx.synth.bench: bench.out={tmp_path}: not a file path (a folder, or under a file)"]
    assert not list(tmp_path.glob("*.tmp"))


def test_a_sigterm_during_a_build_leaves_sigterm_ignored_until_exit():
    """The in-process half of the test above, without its timing: a SIGTERM inside the render
    loop raises KeyboardInterrupt, and afterwards SIGTERM stays ignored (a second one during the
    shutdown must not kill the process by signal); a block left without SIGTERM restores the
    handler that was there before. Ctrl-C in the loop leaves it ignored too; a failed track
    ignores it only while the workers stop."""
    import signal
    import time

    from drumtx.synth.dataset import _sigterm_as_interrupt

    before = signal.getsignal(signal.SIGTERM)
    try:
        with _sigterm_as_interrupt():
            assert signal.getsignal(signal.SIGTERM) is not before
        assert signal.getsignal(signal.SIGTERM) is before
        with pytest.raises(KeyboardInterrupt):
            with _sigterm_as_interrupt():
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(5)  # the handler raises before this ends
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
        os.kill(os.getpid(), signal.SIGTERM)  # ignored: this test goes on
        for stopping in (True, False):  # Ctrl-C: ignored for good; a failure: put back after
            signal.signal(signal.SIGTERM, before)
            with pytest.raises(KeyboardInterrupt if stopping else ValueError):
                with _sigterm_as_interrupt() as shutting_down:
                    shutting_down(stopping)
                    assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
                    raise KeyboardInterrupt if stopping else ValueError("a track failed")
            assert signal.getsignal(signal.SIGTERM) is (signal.SIG_IGN if stopping else before)
    finally:
        signal.signal(signal.SIGTERM, before)


@pytest.mark.parametrize(
    ("groove", "message"),
    [
        ({"fill": "abc"}, "data.synth.sources.generated: groove.fill is a probability in [0, 1], got 'abc'"),
        ({"crash": 1.5}, "data.synth.sources.generated: groove.crash is a probability in [0, 1], got 1.5"),
        ({"timing_ms": "abc"}, "data.synth.sources.generated: groove.timing_ms must be [low, high] with 0 <= low"),
        ({}, "data.synth.sources.generated: seconds must be [min, max] with 0 < min <= max, got [30, 20]"),
        ({"fil": 0.5}, "data.synth.sources.generated: groove: unknown keys ['fil'] (did you mean 'fill'?)"),
        # these failed every track in the render workers, or were taken silently
        ({"phrase_bars": [0]}, "data.synth.sources.generated: groove.phrase_bars must be whole numbers of bars >= 1"),
        ({"velocity_sd": [-5, -1]}, "data.synth.sources.generated: groove.velocity_sd must be [low, high] with 0 <= low"),
        ({"tempo": {"jaz": [60, 120]}}, "data.synth.sources.generated: unknown groove styles ['jaz']"),
        ({"note_length": -1}, "data.synth.sources.generated: groove.note_length must be > 0 seconds"),
        ({"styles": {"rock": 1, "jazz": -1}}, "data.synth.sources.generated: groove.styles: weights must be numbers >= 0"),
    ],
)
def test_a_bad_groove_setting_is_refused_before_rendering(tmp_path, groove, message):
    """``+data.synth.sources.generated.groove.fill=abc`` was passed to every render worker and
    failed each track ("1 of 1 tracks to render failed"); it is one line before any work."""
    spec = recipe(tmp_path)
    spec["synth"]["sources"]["generated"]["groove"] = groove
    if not groove:  # the source's own length range
        spec["synth"]["sources"]["generated"]["seconds"] = [30, 20]
    with pytest.raises(SynthError) as err:
        parse_recipe(spec)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)
    assert not any(tmp_path.iterdir())
