"""Dataset readers, leakage checks, the feature cache and the prepare / stats commands."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import (
    CORRUPT_PERFORMANCE,
    FIXTURE_SPLITS,
    N_COLLISIONS,
    PATTERN,
    PERFORMANCES,
    audio_name,
    performance_notes,
)
from hydra.utils import instantiate
from omegaconf import OmegaConf

from drumtx import PROJECT_ROOT
from drumtx.data.cache import CacheError, DataSource, FeatureCache, _safe_name, prepare_cache
from drumtx.data.datasets import DataLeakError, DatasetError, build_index, egmd_index, folder_index, gmd_index
from drumtx.targets import TargetPolicy
from drumtx.vocab import NOTE_MAPS

GMD_ROOT = PROJECT_ROOT.parent / "shared" / "data" / "groove-midi"
N_TRACKS = sum(len(k) for _, _, k in PERFORMANCES)


# ---- readers --------------------------------------------------------------------------------------
def test_egmd_reader_keys_splits_and_performances(egmd_fixture):
    index = egmd_index("egmd", egmd_fixture)
    assert len(index.tracks) == N_TRACKS
    assert len({t.key for t in index.tracks}) == N_TRACKS  # audio_filename is the key, id repeats
    assert len({t.performance for t in index.tracks}) == len(PERFORMANCES)
    for split, keys in FIXTURE_SPLITS.items():
        got = [t.key for t in index.split(split) if not t.performance.endswith(f"/{CORRUPT_PERFORMANCE}")]
        assert got == sorted(keys)
    t = index.by_key()[audio_name(1, 2)]
    assert t.audio == egmd_fixture / audio_name(1, 2) and t.midi.suffix == ".mid" and t.duration == 3.0
    assert t.meta["kit_name"] == "Kit 2" and t.performance == "drummer1/session1/1"
    # A cap keeps a fixed subset.
    assert [t.key for t in index.split("train", 2)] == [t.key for t in index.split("train", 2)]
    assert len(index.split("train", 2)) == 2


def test_split_mapping_accepts_lists(egmd_fixture):
    index = egmd_index("egmd", egmd_fixture, splits={"train": ["train", "validation"], "test": "test"})
    assert len(index.split("train")) == 6 and len(index.split("test")) == 1


def test_leaked_performance_raises_or_warns(egmd_builder, tmp_path):
    root = egmd_builder(tmp_path / "leaky", split_override={(1, 2): "validation"})
    cfg = {"format": "egmd", "name": "leaky", "root": str(root), "csv": "e-gmd-v1.0.0.csv"}
    with pytest.raises(DataLeakError, match="drummer1/session1/1"):
        build_index(cfg)
    with pytest.warns(UserWarning, match="more than one split"):
        build_index(cfg | {"leak_check": "warn"})


def test_bad_dataset_descriptions(tmp_path, egmd_fixture):
    with pytest.raises(DatasetError, match="root missing"):
        egmd_index("x", tmp_path / "nope")
    (tmp_path / "e-gmd-v1.0.0.csv").write_text("drummer,session,id\nd,s,1\n")
    with pytest.raises(DatasetError, match="lacks columns"):
        egmd_index("x", tmp_path)
    with pytest.raises(DatasetError, match="format"):
        build_index({"format": "mp3s", "name": "x", "root": str(egmd_fixture)})


@pytest.mark.skipif(not (GMD_ROOT / "info.csv").exists(), reason="no Groove MIDI Dataset copy in shared/")
def test_gmd_reader_on_the_real_groove_midi():
    index = gmd_index("gmd", GMD_ROOT)
    assert len(index.tracks) == 1150
    assert {t.split for t in index.tracks} == {"train", "validation", "test"}
    assert all(t.midi.exists() for t in index.tracks[:50])
    assert len({t.key for t in index.tracks}) == len(index.tracks)


def test_folder_reader_splits_by_stem(tmp_path):
    for kit in ("kitA", "kitB"):
        for stem in [f"song{i}" for i in range(30)]:
            d = tmp_path / kit
            d.mkdir(exist_ok=True)
            sf.write(d / f"{stem}.wav", np.zeros(100, np.float32), 8000)
            (d / f"{stem}.mid").write_bytes(b"")
    (tmp_path / "kitA" / "orphan.wav").write_bytes(b"")
    (tmp_path / "kitB" / "lonely.mid").write_bytes(b"")
    index = folder_index("f", tmp_path, {"validation": 0.2, "test": 0.2, "seed": 1})
    assert len(index.tracks) == 60
    split_of = {}
    for t in index.tracks:
        assert split_of.setdefault(t.performance, t.split) == t.split  # both kits in one split
    assert {t.split for t in index.tracks} == {"train", "validation", "test"}
    assert sorted(p for p, _ in index.problems) == ["kitA/orphan.wav", "kitB/lonely.mid"]
    again = folder_index("f", tmp_path, {"validation": 0.2, "test": 0.2, "seed": 1})
    assert [(t.key, t.split) for t in again.tracks] == [(t.key, t.split) for t in index.tracks]
    other_seed = folder_index("f", tmp_path, {"validation": 0.2, "test": 0.2, "seed": 2})
    assert [t.split for t in other_seed.tracks] != [t.split for t in index.tracks]


# ---- the cache ----------------------------------------------------------------------------------
def _cache(cfg):
    index = build_index(cfg.data)
    policy = TargetPolicy(**OmegaConf.to_container(cfg.data.targets))
    cache = FeatureCache.for_config(cfg.data.cache_dir, index.name, index.identity, instantiate(cfg.features), policy,
                                    cfg.data.note_map)
    return index, cache


def test_prepare_writes_every_track_and_skips_the_corrupt_one(egmd_config, egmd_fixture):
    cfg = egmd_config()
    index, cache = _cache(cfg)
    report = prepare_cache(cache, index.tracks, num_workers=0, progress=False)
    bad = audio_name(CORRUPT_PERFORMANCE, 1)
    assert sorted(report.done) == sorted(k for keys in FIXTURE_SPLITS.values() for k in keys)
    assert list(report.skipped) == [bad]
    reason = report.skipped[bad]["reason"]
    assert str(egmd_fixture / bad) in reason and "unreadable audio" in reason and "\n" not in reason
    assert json.loads((cache.directory / "skipped.json").read_text())[bad]["reason"] == reason
    assert json.loads((cache.directory / "spec.json").read_text())["features"]["n_mels"] == 128
    assert set(cache.manifest()) == set(report.done)
    assert not cache.tmp_dir.exists() or not any(cache.tmp_dir.iterdir())

    key = audio_name(1, 2)  # the 22.05 kHz FLAC
    track = cache.load(key)
    assert isinstance(track.mel, np.memmap) and track.mel.dtype == np.float16 and track.mel.shape == (128, 301)
    assert track.roll.dtype == np.uint8 and track.roll.shape == (301, 11)
    assert track.velocity.dtype == np.float16 and track.velocity.shape == (301, 11)
    assert track.targets.dtype == np.uint8 and track.targets.shape == (301, 8)
    assert track.meta["target_names"][0] == "kick" and track.meta["n_frames"] == 301
    # Exact onset times: the MIDI notes through the note map (pedal dropped, note 60 ignored).
    notes = [(t, p) for t, p, _ in performance_notes(1) if NOTE_MAPS["roland_td17"].get(p) not in (None, "hihat_pedal")]
    onsets = track.onsets()
    assert len(onsets) == len(notes)
    assert sorted(o.time for o in onsets) == pytest.approx(sorted(t for t, _ in notes), abs=2e-3)
    # The roll holds exactly the onset frames; collisions are counted per kind in meta.
    counts = track.meta["counts"]
    assert counts["collisions"] == N_COLLISIONS
    assert counts["ignored_notes"] == {"60": 1} and counts["dropped"] == {"hihat_pedal": 1}
    assert int(track.roll.sum()) == sum(counts["onsets"].values())
    # The audio events are where the targets are: kick frames are loud in the low mel bins.
    kick = np.flatnonzero(track.roll[:, 0])
    low = np.asarray(track.mel[:12], dtype=np.float32).mean(axis=0)
    assert all(low[k] > np.median(low) + 2 for k in kick)


def test_prepare_is_resumable_and_atomic(egmd_config):
    cfg = egmd_config()
    index, cache = _cache(cfg)
    prepare_cache(cache, index.tracks, num_workers=0, progress=False)
    again = prepare_cache(cache, index.tracks, num_workers=0, progress=False, retry_failed=False)
    assert again.done == [] and again.reused == N_TRACKS - 1 and list(again.skipped) == [audio_name(5, 1)]

    # Simulate a kill: one track gone, a stale manifest, a half-written temp dir.
    victim = audio_name(3, 1)
    shutil.rmtree(cache.track_dir(victim))
    (cache.tmp_dir / "half-written").mkdir(parents=True)
    (cache.tmp_dir / "half-written" / "mel.npy").write_bytes(b"\x93NUMPY")
    resumed = prepare_cache(cache, index.tracks, num_workers=0, progress=False)
    assert resumed.done == [victim] and resumed.reused == N_TRACKS - 2
    assert not (cache.tmp_dir / "half-written").exists()
    assert victim in cache.manifest()

    # A manifest lost entirely is rebuilt from the track folders.
    os.remove(cache.directory / "manifest.json")
    rebuilt = prepare_cache(cache, index.tracks, num_workers=0, progress=False, retry_failed=False)
    assert rebuilt.done == [] and len(cache.manifest()) == N_TRACKS - 1


def _copy_fixture(egmd_fixture, tmp_path) -> Path:
    root = tmp_path / "egmd"
    shutil.copytree(egmd_fixture, root)
    return root


def test_truncated_or_corrupt_arrays_are_rebuilt_and_named(egmd_config, egmd_fixture, tmp_path):
    """Issue 20: a truncated mel.npy was counted as reusable and crashed training with
    "mmap length is greater than file size", naming no file."""
    cfg = egmd_config("data.max_tracks=1", "splits=[train]")
    index, cache = _cache(cfg)
    tracks = index.split("train", 1)
    key = tracks[0].key
    prepare_cache(cache, tracks, num_workers=0, progress=False)
    before = np.array(cache.load(key).mel)
    mel = cache.track_dir(key) / "mel.npy"
    with open(mel, "r+b") as f:
        f.truncate(mel.stat().st_size // 2)
    with pytest.raises(CacheError) as err:  # what training reads: one line, naming track and file
        cache.load(key)
    assert key in str(err.value) and str(mel) in str(err.value) and "\n" not in str(err.value)
    report = prepare_cache(cache, tracks, num_workers=0, progress=False)
    assert report.reused == 0 and report.done == [key] and "truncated" in report.rebuilt[key]
    np.testing.assert_array_equal(np.array(cache.load(key).mel), before)

    # Same size, other bytes (bit rot, a NaN written in): only the full check (drumtx.prepare's) sees it.
    data = np.load(mel)
    data[0, 0] = np.nan
    np.save(mel, data)
    assert prepare_cache(cache, tracks, num_workers=0, progress=False).reused == 1  # size check only
    report = prepare_cache(cache, tracks, num_workers=0, progress=False, verify="full")
    assert report.done == [key] and "SHA-1" in report.rebuilt[key]
    assert np.isfinite(cache.load(key).mel).all()


def test_audio_changed_in_place_is_recomputed(egmd_config, egmd_fixture, tmp_path):
    """Issue 20: re-rendering audio into the same folder left the csv, and so the cache hash,
    unchanged, and the old features were reused."""
    root = _copy_fixture(egmd_fixture, tmp_path)
    cfg = egmd_config(f"data.root={root}", "data.max_tracks=1", "splits=[test]")
    index, cache = _cache(cfg)
    tracks = index.split("test", 1)
    key = tracks[0].key
    prepare_cache(cache, tracks, num_workers=0, progress=False)
    before = np.array(cache.load(key).mel)
    wave, sr = sf.read(root / key)
    sf.write(root / key, wave[::-1], sr, subtype="PCM_16")  # re-rendered (other audio), same csv
    index2, cache2 = _cache(cfg)
    assert cache2.directory == cache.directory  # the dataset identity (csv) did not change
    source = DataSource.from_config(cfg)
    assert key in source.stale_keys(["test"])  # what training checks at start
    report = prepare_cache(cache2, index2.split("test", 1), num_workers=0, progress=False)
    assert report.done == [key] and str(root / key) in report.rebuilt[key]
    after = np.array(cache2.load(key).mel, dtype=np.float32)
    stale = before.astype(np.float32)
    assert np.abs(after - stale).mean() > 1  # new features, not the stale ones
    np.testing.assert_allclose(after[:, 10:-10], stale[:, ::-1][:, 10:-10], atol=1.5)  # of the new audio
    assert prepare_cache(cache2, index2.split("test", 1), num_workers=0, progress=False).reused == 1


def test_a_cache_from_before_the_records_is_adopted_unless_a_source_is_newer(egmd_config, egmd_fixture, tmp_path):
    root = _copy_fixture(egmd_fixture, tmp_path)
    cfg = egmd_config(f"data.root={root}", "data.max_tracks=2", "splits=[train]")
    index, cache = _cache(cfg)
    tracks = index.split("train", 2)
    prepare_cache(cache, tracks, num_workers=0, progress=False)

    def forget_records():  # what an older drumtx wrote
        manifest = cache.manifest()
        for key, entry in manifest.items():
            entry.pop("files"), entry.pop("source")
            meta_path = cache.track_dir(key) / "meta.json"
            meta = json.loads(meta_path.read_text())
            meta.pop("files"), meta.pop("source")
            meta_path.write_text(json.dumps(meta))
        cache.save_manifest(manifest)

    forget_records()
    report = prepare_cache(cache, tracks, num_workers=0, progress=False)
    assert report.reused == 2 and not report.rebuilt and not report.done  # read once, not recomputed
    assert all("files" in e and "source" in e for e in cache.manifest().values())
    forget_records()
    time.sleep(0.01)
    os.utime(root / tracks[0].key)  # the audio is newer than its cached features
    report = prepare_cache(cache, tracks, num_workers=0, progress=False)
    assert report.done == [tracks[0].key] and report.reused == 1


def test_non_finite_audio_is_skipped_not_cached(egmd_config, egmd_fixture, tmp_path):
    root = _copy_fixture(egmd_fixture, tmp_path)
    cfg = egmd_config(f"data.root={root}", "data.max_tracks=1", "splits=[test]")
    index, cache = _cache(cfg)
    tracks = index.split("test", 1)
    wave, sr = sf.read(root / tracks[0].key)
    wave[1000] = np.nan
    sf.write(root / tracks[0].key, wave, sr, subtype="FLOAT")  # a float WAV keeps the NaN
    report = prepare_cache(cache, tracks, num_workers=0, progress=False)
    reason = report.skipped[tracks[0].key]["reason"]
    assert report.done == [] and str(root / tracks[0].key) in reason and "non-finite" in reason


def test_the_cache_lock_excludes_another_preparation(tmp_path):
    """One preparation at a time per cache directory (filelock: the same on every platform)."""
    from filelock import FileLock, Timeout

    cache = FeatureCache(tmp_path / "cache", {})
    with cache.lock():
        with pytest.raises(Timeout):
            FileLock(cache.directory / ".lock").acquire(timeout=0.2)
    with FileLock(cache.directory / ".lock").acquire(timeout=0.2):
        pass  # released


def test_cache_key_follows_features_policy_and_data(egmd_config, egmd_builder, tmp_path):
    base = _cache(egmd_config())[1].directory
    assert _cache(egmd_config())[1].directory == base
    assert _cache(egmd_config("data.max_tracks=1", "data.batch_size=2"))[1].directory == base  # serving only
    assert _cache(egmd_config("features.n_mels=64"))[1].directory != base
    assert _cache(egmd_config("features.hop_length=480"))[1].directory != base
    assert _cache(egmd_config("data.targets.collision=priority"))[1].directory != base
    assert _cache(egmd_config("data.targets.hihat_pedal=true"))[1].directory != base
    assert _cache(egmd_config("data.note_map=general_midi"))[1].directory != base
    copy = egmd_builder(tmp_path / "other", performances=PERFORMANCES[:2])  # other csv content
    assert _cache(egmd_config(f"data.root={copy}"))[1].directory != base
    assert base.name.startswith("egmd-")


def test_changed_features_are_recomputed_not_reused(egmd_config):
    small = egmd_config("features.n_mels=32", "data.max_tracks=1", "splits=[test]")
    index, cache = _cache(small)
    report = prepare_cache(cache, index.split("test", 1), num_workers=0, progress=False)
    assert cache.load(report.done[0]).mel.shape[0] == 32


def test_safe_names_are_unique():
    keys = ["a/b.wav", "a_b.wav", "a b.wav", "x" * 300 + ".wav", "x" * 301 + ".wav"]
    names = [_safe_name(k) for k in keys]
    assert len(set(names)) == len(keys) and all(len(n) < 100 and "/" not in n for n in names)


# ---- the commands -----------------------------------------------------------------------------------
def _run(module: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "HYDRA_FULL_ERROR": "1"}
    env.pop("DRUMTX_HOME", None)
    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)


def test_prepare_command_parallel(egmd_fixture, tmp_path):
    args = ["data=egmd", f"data.root={egmd_fixture}", "num_workers=2", f"hydra.run.dir={tmp_path / 'run'}"]
    proc = _run("drumtx.prepare", *args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "skipped" in proc.stdout and audio_name(CORRUPT_PERFORMANCE, 1) in proc.stdout
    report = json.loads((tmp_path / "run" / "prepare_report.json").read_text())
    assert report["prepared"] == N_TRACKS - 1 and report["usable_tracks_per_split"] == {"train": 3, "validation": 2,
                                                                                         "test": 1}
    assert Path(report["cache_dir"]).parent == tmp_path / "cache"  # paths.root_dir = the working directory
    assert report["label_counts_prepared"]["collisions"] == {k: v * (N_TRACKS - 1) for k, v in N_COLLISIONS.items()}
    # A second run (resume) reuses everything: see test_prepare_is_resumable_and_atomic (in-process, faster).


def test_stats_command_accounts_for_every_label(egmd_fixture, tmp_path):
    proc = _run("drumtx.data.stats", "data=egmd", f"data.root={egmd_fixture}", "num_workers=0",
                f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "ledger balanced" in proc.stdout
    report = json.loads((tmp_path / "run" / "label_stats.json").read_text())
    train, val = report["splits"]["train"], report["splits"]["validation"]
    assert train["tracks"] == 4 and list(train["unreadable"]) == [audio_name(CORRUPT_PERFORMANCE, 1)]
    assert val["tracks"] == 2 and val["hours"] == pytest.approx(6.0 / 3600, abs=1e-4)
    assert val["collisions"] == {k: 2 * v for k, v in N_COLLISIONS.items()}
    assert val["ignored_notes"] == {"60": 2} and val["dropped"] == {"hihat_pedal": 2}
    assert val["onsets"]["snare_rim"] == 4  # rim of the head+rim pair, and the cross-stick
    ledger = val["ledger"]
    assert ledger["midi_notes"] == 2 * len(PATTERN)
    assert ledger["roll_onsets"] == ledger["target_onsets"] + ledger["collisions_dropped"]
    assert not any(s["unbalanced"] for s in report["splits"].values())


@pytest.mark.skipif(not (GMD_ROOT / "info.csv").exists(), reason="no Groove MIDI Dataset copy in shared/")
def test_stats_command_on_real_gmd_midi(tmp_path):
    proc = _run("drumtx.data.stats", "data=gmd", "data.max_tracks=15", "num_workers=0", "progress=false",
                f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((tmp_path / "run" / "label_stats.json").read_text())
    train = report["splits"]["train"]
    assert train["tracks"] == 15 and train["duration_from"] == {"csv": 15} and train["onsets"]["kick"] > 0
    assert not any(s["unbalanced"] for s in report["splits"].values())


def test_a_crashing_worker_is_reported_and_the_run_goes_on(monkeypatch):
    """A decoder that kills its process (segfault) costs that file only."""
    from drumtx.data import cache_jobs

    def fake_process(job):
        time.sleep(0.05)  # several jobs in flight when the bad one dies
        if job["key"] == "bad":
            os._exit(11)  # what a segfaulting decoder looks like to the pool
        return {"key": job["key"]}

    monkeypatch.setattr(cache_jobs, "process_track", fake_process)
    results = {}
    keys = ["a", "bad", "b", "c", "d", "e", "f"]
    jobs = [{"key": k, "audio": f"/x/{k}.wav", "midi": f"/x/{k}.mid"} for k in keys]
    cache_jobs.run_jobs(jobs, 2, lambda job, r: results.setdefault(job["key"], r), mp_context="fork")
    assert sorted(results) == sorted(keys)
    assert results["bad"] == {"ok": False, "reason": "/x/bad.wav: worker process crashed on this file"}
    assert all(results[k]["ok"] for k in keys if k != "bad")
