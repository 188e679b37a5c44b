"""Songs and production: the accompaniment generator, the production chain, the songs recipe.

Labels must stay the drums' own: the accompaniment never reaches a MIDI file, music-only
tracks have empty targets, and no production stage (room, compressor, limiter, codec) moves
an onset more than a few ms. Older recipes must render exactly as before.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import compose_config

from drumtx.synth import accompaniment as acc
from drumtx.synth import production as prod
from drumtx.synth.dataset import (
    SONG_COLUMNS,
    SynthError,
    arrangement,
    build_dataset,
    distractor_plan,
    parse_recipe,
    plan,
)
from drumtx.synth.generator import GrooveGenerator
from drumtx.synth.kits import load_kits
from drumtx.synth.render import Note, read_midi_notes

KITS = load_kits()
TRAIN = [k for k in ("fluidr3_standard", "musescore_power") if KITS[k].available]
SAMPLED = [k for k in ("h2_gmrockkit",) if k in KITS and KITS[k].available]  # the sample player too
TEST = [k for k in ("timgm6mb_standard",) if KITS[k].available]
SR = 24000
FLUID = "/usr/share/sounds/sf2/FluidR3_GM.sf2"  # one training music font keeps the tests quick
fonts_missing = pytest.mark.skipif(len(TRAIN) < 2 or not TEST or not acc.AccompanimentConfig().fonts(True),
                                   reason="sound fonts not installed")


def songs_recipe(root: Path, n: int = 4, **synth) -> dict:
    base = {
        "seed": 0, "train_kits": TRAIN + SAMPLED, "test_kits": TEST,
        "copies": {"train": 1, "validation": 1, "test": 1}, "unseen_copies": 1,
        "sources": {"generated": {"_target_": "drumtx.synth.sources.GeneratorSource", "n": n, "seconds": [3, 4],
                                  "split": {"validation": 0.25, "test": 0.25}}},
        "render": {"format": "wav"},
        "production": {"codec_prob": 0.5},
        "accompaniment": {"prob": 0.5, "music_only_prob": 1.0, "soundfonts": [FLUID], "distractor_prob": 0.5},
    }
    base.update(synth)
    return {"name": "songs", "format": "egmd", "root": str(root), "csv": "e-gmd-v1.0.0.csv",
            "note_map": "roland_td17", "synth": base}


def digest(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.suffix in (".wav", ".midi", ".flac", ".csv")}


def build_plain_and_compare(r: dict, off: dict, switch: str, section: str, tmp_path: Path) -> None:
    """Render recipe ``r`` again under tmp_path/plain with ``switch`` (a production key) at 0, then:
    its README lacks the ``section`` the other has, the same tracks and labels, other audio."""
    root = Path(r["root"])
    assert f"## {section}" in (root / "README.md").read_text()
    plain = {**r, "root": str(tmp_path / "plain"), "synth": {**r["synth"], "production": {**off, switch: 0.0}}}
    build_dataset(plain, workers=1, progress=False)
    assert section not in (tmp_path / "plain" / "README.md").read_text()
    changed, whole = digest(root), digest(tmp_path / "plain")
    assert changed.keys() == whole.keys()
    assert all(changed[k] == whole[k] for k in changed if k.endswith(".midi"))  # the same labels
    assert any(changed[k] != whole[k] for k in changed if k.endswith(".wav"))


# ------------------------------------------------------------------------ production chain
def bursts(seconds: float = 12.0, every: int = 7001, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Decaying noise bursts (drum-like onsets) and their onset samples."""
    rng = np.random.default_rng(seed)
    x = np.zeros(int(seconds * SR), np.float32)
    onsets = np.arange(6000, x.size - 6000, every)
    for o in onsets:
        n = 2400
        x[o:o + n] += (rng.standard_normal(n) * np.exp(-np.arange(n) / 300)).astype(np.float32)
    return x, onsets


def onset_errors_ms(y: np.ndarray, onsets: np.ndarray) -> np.ndarray:
    """Per burst: where the output first reaches 20 % of its local peak, re the true onset (ms)."""
    out = []
    for o in onsets:
        w = np.abs(y[o - 240:o + 600])
        out.append((int(np.argmax(w > 0.2 * w.max())) - 240) / SR * 1000)
    return np.array(out)


@pytest.mark.parametrize("fmt", ["mp3", "ogg"])
def test_every_production_stage_keeps_onsets_on_their_labels(fmt):
    x, onsets = bursts()
    every_stage = prod.ProductionConfig(room_prob=1, compress_prob=1, eq_prob=1, highpass_prob=1, saturation_prob=1,
                                        clip_prob=1, limit_prob=1, codec_prob=1, codecs=[fmt], quiet_prob=0)
    for seed in range(3):
        params = prod.draw(every_stage, np.random.default_rng(seed))
        assert {"room", "compressor", "eq", "drive_db", "clip_db", "limiter", "codec"} <= set(params)
        y = prod.master(prod.drum_bus(x, SR, params), SR, params)
        assert y.shape == x.shape and y.dtype == np.float32
        err = onset_errors_ms(y, onsets)
        assert np.all(np.abs(err) <= 3.0), (prod.summary(params), err)


@pytest.mark.parametrize("dims,rt60", [([4.0, 5.0, 3.0], 0.6), ([16.0, 12.0, 6.0], 0.2)])
def test_room_puts_the_close_mics_direct_sound_on_the_label(dims, rt60):
    # a big room cannot be as dry as 0.2 s: it takes the driest it can be instead of failing
    close, over, lag = prod.room_irs(SR, dims, rt60, 0.3, 1.5, [0.5, 0.5], 0.7)
    assert close.shape == over.shape and abs(int(np.argmax(np.abs(close))) - lag) <= 1
    assert np.argmax(np.abs(over)) > lag  # the overhead hears the kit later (a longer path)


def test_codec_delay_is_measured_and_removed():
    x, onsets = bursts(seconds=6.0)
    up = np.repeat(x, 2)  # 48 kHz stand-in: the lag search itself is what is tested
    delayed = np.concatenate([np.zeros(1105, np.float32), up])
    assert prod.codec_lag(up, delayed, 4800) == 1105  # LAME's encoder + decoder delay at 48 kHz
    y = prod.codec(x, SR, "mp3", 64, 48000)
    assert np.all(np.abs(onset_errors_ms(y, onsets)) <= 3.0)  # uncompensated: 23 ms late; MP3 pre-echo: ~2 ms early


def test_final_level_spans_quiet_and_loud_takes():
    x, _ = bursts(seconds=3.0)
    cfg = prod.ProductionConfig(quiet_prob=0.5, codec_prob=0.0)
    peaks = []
    for seed in range(40):
        params = prod.draw(cfg, np.random.default_rng(seed))
        y = prod.master(x, SR, params)
        peak_db = 20 * np.log10(np.max(np.abs(y)))
        assert abs(peak_db - params["peak_db"]) < 0.01
        peaks.append(peak_db)
    assert min(peaks) < -20 and max(peaks) > -3 and all(-40 <= p <= 0 for p in peaks)


def test_production_config_is_checked():
    with pytest.raises(prod.ProductionError, match="unknown keys"):
        prod.ProductionConfig.from_config({"reverb": 1})
    with pytest.raises(prod.ProductionError, match="room_prob"):
        prod.ProductionConfig.from_config({"room_prob": 2})
    with pytest.raises(prod.ProductionError, match="bitrates_kbps"):
        prod.ProductionConfig.from_config({"bitrates_kbps": [65]})
    with pytest.raises(prod.ProductionError, match="<= 0 dBFS"):
        prod.ProductionConfig.from_config({"peak_db": [-3, 3]})


def test_tuning_is_drawn_last_in_steps_and_only_when_on():
    plain, tuned = prod.ProductionConfig(), prod.ProductionConfig(tuning_prob=1.0)
    kits, toms = set(), set()
    for seed in range(40):
        a = prod.draw(plain, np.random.default_rng(seed))
        b = prod.draw(tuned, np.random.default_rng(seed))
        assert "tuning" not in a  # recipes without tuning draw exactly what they drew before
        assert {k: v for k, v in b.items() if k != "tuning"} == a
        t = b["tuning"]
        assert -1.0 <= t["kit_semitones"] <= 1.0 and -4.0 <= t["tom_semitones"] <= 4.0
        assert (2 * t["kit_semitones"]).is_integer() and (2 * t["tom_semitones"]).is_integer()
        kits.add(t["kit_semitones"])
        toms.add(t["tom_semitones"])
        assert "toms" in prod.summary(b) and "toms" not in prod.summary(a)
    assert len(kits) >= 4 and len(toms) >= 10
    with pytest.raises(prod.ProductionError, match="at most 12"):
        prod.ProductionConfig.from_config({"kit_semitones": [-3, 3], "tom_semitones": [-10, 10]})
    with pytest.raises(prod.ProductionError, match="tuning_step"):
        prod.ProductionConfig.from_config({"tuning_step": 0})


def test_each_cymbal_draws_its_own_shift_and_only_when_asked():
    from drumtx.synth.kits import CYMBAL_PIECES

    tuned = prod.ProductionConfig(tuning_prob=1.0)
    cymbals = prod.ProductionConfig(tuning_prob=1.0, cymbal_semitones=[-3.0, 3.0])
    seen = set()
    for seed in range(30):
        a = prod.draw(tuned, np.random.default_rng(seed))
        b = prod.draw(cymbals, np.random.default_rng(seed))
        assert "cymbal_semitones" not in a["tuning"]  # tuned recipes without it draw what they drew before
        assert {k: v for k, v in b["tuning"].items() if k != "cymbal_semitones"} == a["tuning"]
        assert {k: v for k, v in b.items() if k != "tuning"} == {k: v for k, v in a.items() if k != "tuning"}
        shifts = b["tuning"]["cymbal_semitones"]
        assert list(shifts) == list(CYMBAL_PIECES) and all(-3 <= v <= 3 and (2 * v).is_integer() for v in shifts.values())
        seen.add(tuple(shifts.values()))
        assert "/hihat" in prod.summary(b) and "/hihat" not in prod.summary(a)
    assert len(seen) == 30 and sum(len(set(v)) > 1 for v in seen) >= 25  # each piece its own draw
    with pytest.raises(prod.ProductionError, match="kit_semitones and cymbal_semitones reach 14"):
        prod.ProductionConfig.from_config({"kit_semitones": [-2, 2], "cymbal_semitones": [-12, 12]})


# ------------------------------------------------------------------------- accompaniment
def groove(seconds=16.0, seed=3):
    return GrooveGenerator().generate([seed], seconds, style="rock", bpm=100).notes


def rock_beat(bars: int = 8, bpm: float = 100.0, shift: float = 0.0, seed: int = 0) -> list[Note]:
    """Kick on 1, 3 and the and of 3, snare on 2 and 4, closed hi-hat 8ths; 5 ms jitter."""
    rng = np.random.default_rng(seed)
    beat, out = 60 / bpm, []
    for b in range(bars):
        for e in range(8):
            t = shift + (b * 4 + e / 2) * beat
            hits = [42] + ([36] if e in (0, 4, 5) else []) + ([38] if e in (2, 6) else [])
            out += [Note(t + rng.normal(0, 0.005), t + 0.1, p, 100) for p in hits]
    return sorted(out, key=lambda n: n.start)


def test_grid_is_found_from_the_drums():
    bar = 4 * 60 / 100
    for shift in (0.0, 0.37, 1.1, 2.0):
        got = acc.estimate_grid(rock_beat(shift=shift), 100, 4)
        assert abs(((got - shift + bar / 2) % bar) - bar / 2) < 0.01, (shift, got)


def test_arrangement_is_seeded_and_the_bass_locks_to_the_kick():
    cfg = acc.AccompanimentConfig()
    if not cfg.fonts(False):
        pytest.skip("sound fonts not installed")
    notes = groove()
    a1 = acc.arrange(acc.draw(7, cfg), notes, 100, "4-4", 17.0, cfg)
    a2 = acc.arrange(acc.draw(7, cfg), notes, 100, "4-4", 17.0, cfg)
    assert a1 == a2 and a1 != acc.arrange(acc.draw(8, cfg), notes, 100, "4-4", 17.0, cfg)
    for part in a1.parts:
        assert part.notes and all(0 <= n.start < n.end <= 17.0 and 1 <= n.velocity <= 127 for n in part.notes)
    kicks = np.array([n.start for n in notes if n.pitch == 36])
    for seed in range(60):  # find a kick-locked bass among the draws
        arr = acc.draw(seed, cfg)
        if arr.parts and arr.parts[0].style == "kick":
            bass = acc.arrange(arr, notes, 100, "4-4", 17.0, cfg).parts[0].notes
            near = [np.min(np.abs(kicks - n.start)) < 0.03 for n in bass]
            assert np.mean(near) > 0.9
            break
    else:
        pytest.fail("no kick-locked bass in 60 draws")
    test_font = acc.draw(7, cfg, test=True).soundfont
    assert test_font in cfg.fonts(True) and test_font not in cfg.fonts(False)


@fonts_missing
def test_music_renders_deterministically_whatever_came_before():
    cfg = acc.AccompanimentConfig()
    notes = groove(6.0)
    arr = acc.arrange(acc.draw(3, cfg), notes, 100, "4-4", 7.0, cfg)
    other = acc.arrange(acc.draw(4, cfg), notes, 100, "4-4", 7.0, cfg)
    fresh = acc.MusicRenderer().render(arr, 7.0)
    used = acc.MusicRenderer()
    used.render(other, 7.0)
    assert fresh.size == 7 * SR and np.max(np.abs(fresh)) > 1e-3
    assert np.array_equal(used.render(arr, 7.0), fresh)


# ------------------------------------------------------------------------ the songs recipe
@fonts_missing
def test_songs_labels_are_the_drums_only_and_renders_are_byte_identical(tmp_path):
    import soundfile as sf

    from drumtx.data.datasets import egmd_index
    from drumtx.targets import TargetPolicy, read_midi_onsets

    root = tmp_path / "one"
    summary = build_dataset(songs_recipe(root), workers=1, progress=False)
    assert summary["failed"] == 0 and summary["music_only_tracks"] == 4 and summary["music_tracks"] > 4
    with open(root / "e-gmd-v1.0.0.csv", newline="") as f:
        rows = {r["audio_filename"]: r for r in csv.DictReader(f)}
    assert set(SONG_COLUMNS) <= set(next(iter(rows.values())))
    recipe = parse_recipe(songs_recipe(root))
    by_audio = {t.audio: t for t in plan(recipe)}
    index = {t.key: t for t in egmd_index("songs", root).tracks}
    assert len(index) == len(rows)
    for audio, row in rows.items():
        track = by_audio[audio.removesuffix(".wav")]
        notes = read_midi_notes(root / row["midi_filename"])
        if not track.drums:  # music alone: an empty target, audible music
            assert row["kit_name"].endswith("none+music") and notes == []
            assert row["accompaniment_programs"] and np.max(np.abs(sf.read(root / audio)[0])) > 1e-3
            assert read_midi_onsets(root / row["midi_filename"], "roland_td17", TargetPolicy()) == []
            continue
        drums, _ = track.perf.load()
        assert len(notes) == len(drums)  # the MIDI holds the drums, whatever music was mixed in
        if track.music:
            assert row["kit_name"].endswith("+music") and row["accompaniment_seed"] == str(track.music_seed)
            assert -9.0 <= float(row["drum_to_music_db"]) <= 9.0
            twin = root / row["midi_filename"].replace("_music.midi", ".midi")
            if twin.is_file():  # a test-only kit's track and its music twin: the same labels, byte for byte
                assert twin.read_bytes() == (root / row["midi_filename"]).read_bytes()
                assert row["kit_name"].startswith("unseen:") and row["accompaniment_font"] == "TimGM6mb.sf2"
        else:
            assert row["accompaniment_programs"] == "" and not row["kit_name"].endswith("+music")
    assert any(r["distractor"] for r in rows.values())  # unlabelled percussion was mixed in somewhere
    assert not any(r["distractor"] for r in rows.values() if r["kit_name"].startswith("unseen:"))
    other = tmp_path / "two"
    build_dataset(songs_recipe(other), workers=2, progress=False)
    assert digest(root) == digest(other)


@fonts_missing
def test_a_retuned_recipe_changes_the_drums_sound_not_their_labels(tmp_path):
    kw = {"accompaniment": None, "production": {"codec_prob": 0.0, "room_prob": 0.0}}
    build_dataset(songs_recipe(tmp_path / "plain", n=2, **kw), workers=1, progress=False)
    kw["production"]["tuning_prob"] = 1.0
    build_dataset(songs_recipe(tmp_path / "tuned", n=2, **kw), workers=1, progress=False)
    plain, tuned = digest(tmp_path / "plain"), digest(tmp_path / "tuned")
    assert plain.keys() == tuned.keys()
    assert all(plain[k] == tuned[k] for k in plain if k.endswith(".midi"))  # the same labels
    assert all(plain[k] != tuned[k] for k in plain if k.endswith(".wav"))  # every kit retuned
    with open(tmp_path / "tuned" / "e-gmd-v1.0.0.csv", newline="") as f:
        assert all("toms" in r["production"] for r in csv.DictReader(f))  # the csv says how


@pytest.mark.skipif(not KITS["avl_red_zeppelin"].available or not TEST, reason="sound fonts not installed")
def test_test_kit_groups_give_each_rung_its_tracks(tmp_path):
    cfg = songs_recipe(tmp_path, n=20, test_kits={"soundfont": TEST, "other": ["avl_red_zeppelin"]},
                       accompaniment={"prob": 0.0, "music_only_prob": 0.0, "test_twins": True})
    tracks = plan(parse_recipe(cfg))
    tests = {t.perf.id for t in tracks if t.perf.split == "test"}
    for pid in tests:  # one kit of each group per test performance, each with its music twin
        unseen = sorted((t.kit, t.music) for t in tracks if t.perf.id == pid and t.unseen)
        assert unseen == sorted([(TEST[0], False), (TEST[0], True), ("avl_red_zeppelin", False),
                                 ("avl_red_zeppelin", True)])
    assert not any(t.music for t in tracks if not t.unseen)


@fonts_missing
def test_heldout_kit_tracks_get_training_music_and_no_distractors(tmp_path):
    cfg = songs_recipe(tmp_path, n=20, heldout_kits=[TRAIN[1]],
                       accompaniment={"soundfonts": [FLUID], "distractor_prob": 1.0, "music_only_prob": 0.0})
    r = parse_recipe(cfg)
    held = [t for t in plan(r) if t.kit == TRAIN[1]]
    assert held and all(t.unseen and t.perf.split == "validation" for t in held)
    assert {t.music for t in held} == {False, True}  # each with its music twin
    for t in held:  # the test music stays unheard until the test; validation is not the test rung
        assert distractor_plan(t, r.accompaniment, r.kits_dir) is None
        if t.music:
            assert arrangement(t, r.accompaniment).soundfont == FLUID


def test_songs_recipe_errors(tmp_path):
    with pytest.raises(SynthError, match="either variety"):
        parse_recipe(songs_recipe(tmp_path, variety={"eq_prob": 0.0}))
    with pytest.raises(SynthError, match="needs a data.synth.production"):
        parse_recipe(songs_recipe(tmp_path, production=None))
    with pytest.raises(SynthError, match="accompaniment: unknown keys"):
        parse_recipe(songs_recipe(tmp_path, accompaniment={"drums_db": [0, 1]}))
    with pytest.raises(SynthError, match="test_soundfonts: none of"):
        parse_recipe(songs_recipe(tmp_path, accompaniment={"test_soundfonts": ["/nope.sf2"]}))


@pytest.mark.skipif(not TRAIN or not TEST, reason="sound fonts not installed")
def test_an_older_recipe_renders_exactly_as_before(tmp_path):
    """synth_default / synth_gmd(_dry) keep the ``variety`` chain: a tiny render, every effect
    on, must hash as it did before the production chain existed (commit 6f49a4f)."""
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from test_synth_dataset import recipe

    cfg = recipe(tmp_path / "old", n=3)
    cfg["synth"].update(train_kits=["fluidr3_standard"], test_kits=["timgm6mb_standard"],
                        variety={"eq_prob": 1.0, "reverb_prob": 1.0})
    build_dataset(cfg, workers=1, progress=False)
    media = {k: v for k, v in digest(tmp_path / "old").items() if not k.endswith(".csv")}
    assert hashlib.sha1(repr(sorted(media.items())).encode()).hexdigest() == "b2415fbb502be7d2205d38a7d126fbcb5be4d4d0"


def test_roman_numeral_chords():
    from drumtx.synth.accompaniment import PROGRESSIONS, roman_chord

    assert [roman_chord(c) for c in "I V vi IV".split()] == [(0, "maj"), (7, "maj"), (9, "min"), (5, "maj")]
    assert [roman_chord(c) for c in "i bVI bIII bVII".split()] == [(0, "min"), (8, "maj"), (3, "maj"), (10, "maj")]
    assert [roman_chord(c) for c in "ii7 V7 Imaj7 viidim".split()] == [(2, "min7"), (7, "7"), (0, "maj7"), (11, "dim")]
    assert len(PROGRESSIONS["major"][-1]) == 12  # the 12-bar blues
    for bad in ("X", "Iv", "bb", ""):
        with pytest.raises(ValueError, match="Roman-numeral"):
            roman_chord(bad)


def test_every_kit_of_the_tuned_recipe_takes_its_widest_draws():
    """A draw the recipe allows must render on every kit it plays: h2_hard_electro's toms are its
    kick tuned up 12 semitones, beyond a sound font's bend when a tom shift is added (a third of
    its tuned tracks failed); sampled kits are resampled and may go further."""
    from omegaconf import OmegaConf

    from drumtx import CONF_DIR
    from drumtx.synth.kits import CYMBAL_PIECES, retuned

    recipe = OmegaConf.load(CONF_DIR / "data" / "synth_songs_tuned.yaml").synth.production
    base = OmegaConf.load(CONF_DIR / "data" / "synth_songs.yaml").synth
    kits = load_kits()
    names = [n for n in base.train_kits if n in kits]
    assert "h2_hard_electro" in names
    for sign in (1, -1):
        k, t, c = (sign * max(map(abs, recipe[key])) for key in ("kit_semitones", "tom_semitones", "cymbal_semitones"))
        for name in names:
            retuned(kits[name], k, t, dict.fromkeys(CYMBAL_PIECES, c))  # raises beyond its bound


@pytest.mark.parametrize("block, msg", [
    ({"cymbal_semitones": ["a", "b"]}, r"cymbal_semitones must be \[low, high\], got \['a', 'b'\]"),
    ({"cymbal_semitones": [float("nan"), 1.0]}, r"cymbal_semitones must be \[low, high\], got \[nan, 1.0\]"),
    ({"tuning_prob": "abc"}, "tuning_prob must be a finite number"),
    ({"tuning_step": "abc"}, "tuning_step must be a finite number"),
    ({"peak_db": ["a", -1]}, r"peak_db must be \[low, high\]"),
    ({"bitrates_kbps": [128, "x"]}, "bitrates_kbps must be a list of finite numbers"),
])
def test_a_value_of_the_wrong_type_is_one_line_before_anything_runs(block, msg):
    """A string or NaN where a number belongs gave a traceback, or failed every track at render time."""
    with pytest.raises(prod.ProductionError, match=msg):
        prod.ProductionConfig.from_config(block)


def test_a_coarse_tuning_step_stays_within_the_ranges():
    """Draws rounded to the step left their range (tune -1.5 from [-1, 1] at step 1.5), beyond what
    the reach check allowed."""
    cfg = prod.ProductionConfig(tuning_prob=1.0, tuning_step=1.5, cymbal_semitones=[-2.0, 2.0])
    for seed in range(60):
        t = prod.draw(cfg, np.random.default_rng(seed))["tuning"]
        assert -1 <= t["kit_semitones"] <= 1 and -4 <= t["tom_semitones"] <= 4
        assert all(-2 <= v <= 2 for v in t["cymbal_semitones"].values())


def test_a_music_only_track_carries_no_tuning(tmp_path):
    """Its csv row named a kit tuning, though no kit plays in it."""
    from drumtx.synth.dataset import production_params

    r = songs_recipe(tmp_path, n=8)
    r["synth"]["production"] = {"tuning_prob": 1.0, "cymbal_semitones": [-3.0, 3.0]}
    recipe = parse_recipe(r)
    tracks = plan(recipe)
    alone = [t for t in tracks if not t.drums]
    drums = [t for t in tracks if t.drums]
    assert alone and drums
    assert not any("tuning" in production_params(t, recipe.production) for t in alone)
    assert all("cymbal_semitones" in production_params(t, recipe.production)["tuning"] for t in drums)


# ------------------------------------------------------------------------ hybrid kits
def test_a_hybrid_kit_draws_its_cymbal_kit_per_track_and_never_for_a_test_track(tmp_path):
    """cymbal_kit_prob: a training or validation drum track on a training kit may take its cymbals
    from another training kit (never a held-out one); test tracks, unseen kits and music alone never;
    every other draw of the chain is what the recipe without it draws."""
    from drumtx.synth.dataset import cymbal_kits, production_params

    r = songs_recipe(tmp_path, n=12)
    plain = parse_recipe(r)
    r["synth"]["production"] = {**r["synth"]["production"], "cymbal_kit_prob": 1.0}
    recipe = parse_recipe(r)
    kits = cymbal_kits(recipe)
    assert kits == tuple(TRAIN + SAMPLED)
    tracks = plan(recipe)
    assert tracks == plan(plain)  # the plan is the same
    eligible = [t for t in tracks if t.drums and not t.unseen and t.perf.split != "test"]
    assert eligible and len(eligible) < len(tracks)
    for t in tracks:
        params = production_params(t, recipe.production, kits)
        donor = params.pop("cymbal_kit", None)
        assert params == production_params(t, plain.production, kits)
        assert "cymbal_kit" not in production_params(t, plain.production, kits)  # off by default
        if t in eligible:
            assert donor in kits and donor != t.kit
            assert f"cymbals:{donor}" in prod.summary({**params, "cymbal_kit": donor})
        else:
            assert donor is None
    half = parse_recipe({**r, "synth": {**r["synth"], "production": {"cymbal_kit_prob": 0.5}}})
    drawn = [production_params(t, half.production, kits).get("cymbal_kit") for t in eligible]
    assert any(drawn) and not all(drawn)
    if len(TRAIN) == 2:  # a held-out kit lends no cymbals
        held = parse_recipe({**r, "synth": {**r["synth"], "heldout_kits": [TRAIN[0]]}})
        assert TRAIN[0] not in cymbal_kits(held)
    with pytest.raises(prod.ProductionError, match="cymbal_kit_prob"):
        prod.ProductionConfig.from_config({"cymbal_kit_prob": 1.5})


@fonts_missing
def test_a_hybrid_kit_plays_the_cymbals_on_its_cymbal_kit_and_keeps_the_labels(tmp_path):
    """The track's audio is its own kit's render of every note but the cymbals plus the drawn kit's
    render of the cymbals (the chain switched off: only its final level scales the sum)."""
    from drumtx.synth import dataset as ds
    from drumtx.synth.render import KitRenderer, snap_notes

    off = {"room_prob": 0.0, "compress_prob": 0.0, "eq_prob": 0.0, "saturation_prob": 0.0, "clip_prob": 0.0,
           "limit_prob": 0.0, "codec_prob": 0.0, "quiet_prob": 0.0, "cymbal_kit_prob": 1.0}
    r = songs_recipe(tmp_path / "hybrid", n=4, accompaniment=None, production=off)
    r["synth"]["train_kits"] = TRAIN
    recipe = parse_recipe(r)
    track = next(t for t in plan(recipe) if t.perf.split != "test" and not t.unseen)
    ds._init_worker(*ds._worker_args(recipe))
    notes = snap_notes(track.perf.load()[0], recipe.render.render_rate)
    cymbals = [n for n in notes if n.pitch in ds.CYMBAL_NOTES]
    rest = [n for n in notes if n.pitch not in ds.CYMBAL_NOTES]
    assert cymbals and rest
    params = ds.production_params(track, recipe.production, ds.cymbal_kits(recipe))
    donor = params["cymbal_kit"]
    assert donor != track.kit
    y = ds._song_audio(track, notes, recipe.render, recipe.production, None)
    rr = recipe.render
    renderer = KitRenderer(rr.render_rate, rr.sample_rate, rr.hold_s, rr.tail_s)
    seconds = max(n.start for n in notes) + rr.tail_s
    vc = params["velocity_curve"]
    want = (renderer.render(KITS[donor], cymbals, duration=seconds, velocity_curve=vc)
            + renderer.render(KITS[track.kit], rest, duration=seconds, velocity_curve=vc))
    whole = renderer.render(KITS[track.kit], notes, duration=seconds, velocity_curve=vc)
    assert y.shape == want.shape
    scale = np.dot(y, want) / np.dot(want, want)
    assert np.abs(y - scale * want).max() < 1e-3 * np.abs(y).max()
    assert np.abs(y / np.abs(y).max() - whole / np.abs(whole).max()).max() > 0.05  # not its own kit's cymbals
    summary = build_dataset(r, workers=1, progress=False)
    assert summary["failed"] == 0
    with open(tmp_path / "hybrid" / "e-gmd-v1.0.0.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        assert ("cymbals:" in row["production"]) == (row["split"] != "test" and not row["kit_name"].startswith("unseen:"))
    readme = (tmp_path / "hybrid" / "README.md").read_text()
    assert "`cymbals:<kit>`" in readme and "own level" in readme
    build_plain_and_compare(r, off, "cymbal_kit_prob", "Hybrid kits", tmp_path)


# ------------------------------------------------------------------------ ringing cymbals
def test_a_cymbal_ring_is_drawn_per_track_and_never_for_a_test_track(tmp_path):
    """cymbal_ring_prob: a training or validation drum track on a training kit may draw a ring;
    test tracks, unseen kits and music alone never; every other draw is the plain recipe's; the
    reuse of a plain render links exactly the tracks that drew none."""
    from drumtx.synth.dataset import cymbal_kits, cymbal_ring, production_params

    r = songs_recipe(tmp_path, n=12)
    plain = parse_recipe(r)
    r["synth"]["production"] = {**r["synth"]["production"], "cymbal_ring_prob": 0.5}
    recipe = parse_recipe(r)
    tracks = plan(recipe)
    assert tracks == plan(plain)
    kits = cymbal_kits(recipe)
    drawn = []
    for t in tracks:
        params = production_params(t, recipe.production, kits)
        ring = params.pop("cymbal_ring", None)
        assert params == production_params(t, plain.production, kits)
        assert cymbal_ring(t, plain.production) is None  # off by default
        if ring is not None:
            assert t.drums and not t.unseen and t.perf.split != "test"
            assert 2.0 <= ring["rt60_s"] <= 12.0 and -12.0 <= ring["ring_db"] <= 0.0
            assert -12.0 <= ring["treble_db"] <= 0.0 and 2500.0 <= ring["treble_hz"] <= 6000.0
            assert "ring" in prod.summary({**params, "cymbal_ring": ring})
            assert ring == cymbal_ring(t, recipe.production)  # a pure function of the track
        drawn.append(ring is not None)
    eligible = [t.drums and not t.unseen and t.perf.split != "test" for t in tracks]
    assert any(drawn) and any(e and not d for e, d in zip(eligible, drawn, strict=True))
    with pytest.raises(prod.ProductionError, match="cymbal_ring_prob"):
        prod.ProductionConfig.from_config({"cymbal_ring_prob": 1.5})
    with pytest.raises(prod.ProductionError, match="cymbal_ring_rt60_s"):
        prod.ProductionConfig.from_config({"cymbal_ring_rt60_s": [12.0, 2.0]})
    # cymbal_ring_pieces: the same tracks ring with the same draws, and say which pieces ring
    r["synth"]["production"] = {**r["synth"]["production"], "cymbal_ring_pieces": ["ride", "hihat_open"]}
    some = parse_recipe(r)
    for t in tracks:
        ring = cymbal_ring(t, recipe.production)
        want = None if ring is None else {**ring, "pieces": ["hihat_open", "ride"]}
        assert cymbal_ring(t, some.production) == want
        if want:
            assert prod.summary({**production_params(t, some.production, kits)}).count("/hihat_open&ride+") == 1
    for bad in (["crash", "splash"], [], ["hihat_closed"]):
        with pytest.raises(prod.ProductionError, match="cymbal_ring_pieces must be some of"):
            prod.ProductionConfig.from_config({"cymbal_ring_pieces": bad})
    assert compose_config("synth", ["data=synth_songs_ring_nocrash"]).data.synth.production.cymbal_ring_pieces \
        == ["hihat_open", "ride"]


def test_ring_cymbals_rings_longer_and_darker_and_keeps_the_attack():
    """ring_cymbals on a decaying noise burst (a short bright cymbal): the sound stays above -40 dB
    re its peak for longer, the shelf takes treble off, the dry stem is still there at its onset,
    and the same params give the same audio."""
    rng = np.random.default_rng(0)
    n = SR * 6
    burst = np.zeros(n, np.float32)
    hit = rng.standard_normal(SR).astype(np.float32) * np.exp(-np.arange(SR) / (0.15 * SR)).astype(np.float32)
    burst[SR // 2:SR // 2 + SR] = hit

    def ring_s(x):
        loud = np.flatnonzero(np.abs(x) > np.abs(x).max() * 0.01)
        return (loud[-1] - loud[0]) / SR

    def treble_share(x):
        spec = np.abs(np.fft.rfft(x)) ** 2
        return spec[np.fft.rfftfreq(x.size, 1 / SR) > 5000].sum() / spec.sum()

    params = {"rt60_s": 6.0, "ring_db": 0.0, "treble_db": 0.0, "treble_hz": 4000.0, "seed": 3}
    y = prod.ring_cymbals(burst, SR, params)
    assert y.dtype == np.float32 and y.size == burst.size + 6 * SR - 1  # the full convolution
    assert ring_s(y) > 2 * ring_s(burst)
    np.testing.assert_array_equal(y, prod.ring_cymbals(burst, SR, params))
    onset = slice(SR // 2, SR // 2 + SR // 100)  # the first 10 ms: the dry hit dominates
    assert np.corrcoef(y[onset], burst[onset])[0, 1] > 0.9
    dark = prod.ring_cymbals(burst, SR, {**params, "treble_db": -12.0})
    assert treble_share(dark) < 0.5 * treble_share(y)
    quiet = prod.ring_cymbals(burst, SR, {**params, "ring_db": -20.0})
    assert ring_s(burst) < ring_s(quiet) < ring_s(y)
    silence = np.zeros(SR, np.float32)
    assert not prod.ring_cymbals(silence, SR, params).any()


@pytest.mark.skipif(not SAMPLED, reason="Hydrogen kits not installed")
@pytest.mark.parametrize("pieces", [None, ["hihat_open", "ride"]])
def test_a_ringing_track_rings_its_cymbal_stem_only_and_keeps_the_labels(tmp_path, pieces):
    """The track's audio is the kit's render of every note but the cymbals, plus the closed and
    pedal hi-hat's render as it is, plus ring_cymbals of the rest of the cymbals' render (the
    cymbals' render less the closed hats', so that they still choke the open hat); the chain
    switched off, only its final level scales the sum. The MIDI is the plain render's. With
    cymbal_ring_pieces, the pieces left out (here the crashes) stay dry beside the closed hat."""
    from drumtx.synth import dataset as ds
    from drumtx.synth.render import KitRenderer, snap_notes

    off = {"room_prob": 0.0, "compress_prob": 0.0, "eq_prob": 0.0, "saturation_prob": 0.0, "clip_prob": 0.0,
           "limit_prob": 0.0, "codec_prob": 0.0, "quiet_prob": 0.0, "cymbal_ring_prob": 1.0}
    if pieces:
        off["cymbal_ring_pieces"] = pieces
    r = songs_recipe(tmp_path / "ring", n=4, accompaniment=None, production=off)
    r["synth"]["train_kits"] = SAMPLED
    recipe = parse_recipe(r)
    ds._init_worker(*ds._worker_args(recipe))
    rr = recipe.render
    renderer = KitRenderer(rr.render_rate, rr.sample_rate, rr.hold_s, rr.tail_s)
    checked = with_crashes = 0
    for track in [t for t in plan(recipe) if t.perf.split != "test" and not t.unseen and t.drums]:
        notes = snap_notes(track.perf.load()[0], rr.render_rate)
        cymbals = [n for n in notes if n.pitch in ds.CYMBAL_NOTES]
        rest = [n for n in notes if n.pitch not in ds.CYMBAL_NOTES]
        if not (cymbals and rest):
            continue
        params = ds.production_params(track, recipe.production, ())
        vc, seconds = params["velocity_curve"], max(n.start for n in notes) + rr.tail_s
        seed = renderer.player.default_seed(KITS[track.kit], notes)
        crashes = [n for n in cymbals if n.pitch in ds.RING_NOTES["crash"]]
        closed = [n for n in cymbals if n.pitch in ds.CLOSED_HAT_NOTES or (pieces and n in crashes)]
        assert closed and len(closed) < len(cymbals)
        with_crashes += bool(crashes)
        stem = renderer.render(KITS[track.kit], cymbals, duration=seconds, velocity_curve=vc, seed=seed)
        dry = renderer.render(KITS[track.kit], closed, duration=seconds, velocity_curve=vc, seed=seed)
        shells = renderer.render(KITS[track.kit], rest, duration=seconds, velocity_curve=vc, seed=seed)
        want = prod.ring_cymbals(stem - dry, rr.sample_rate, params["cymbal_ring"])[: stem.size] + dry + shells
        y = ds._song_audio(track, notes, rr, recipe.production, None)
        assert y.shape == want.shape
        scale = np.dot(y, want) / np.dot(want, want)
        assert np.abs(y - scale * want).max() < 1e-3 * np.abs(y).max()
        checked += 1
    assert checked and with_crashes
    if pieces:  # (the build below is the same code either way)
        return
    summary = build_dataset(r, workers=1, progress=False)
    assert summary["failed"] == 0
    build_plain_and_compare(r, off, "cymbal_ring_prob", "Ringing cymbals", tmp_path)


def test_a_level_matched_hybrid_kit_keeps_its_own_kits_cymbal_balance(tmp_path):
    """cymbal_kit_level_match: the drawn kit's cymbals are scaled to the RMS of the own kit's
    render of the same notes, the rest of the kit untouched; off, each kit plays at its own level."""
    from drumtx.synth import dataset as ds
    from drumtx.synth.render import KitRenderer, snap_notes

    off = {"room_prob": 0.0, "compress_prob": 0.0, "eq_prob": 0.0, "saturation_prob": 0.0, "clip_prob": 0.0,
           "limit_prob": 0.0, "codec_prob": 0.0, "quiet_prob": 0.0, "cymbal_kit_prob": 1.0,
           "cymbal_kit_level_match": True}
    r = songs_recipe(tmp_path / "hybrid", n=4, accompaniment=None, production=off)
    r["synth"]["train_kits"] = TRAIN
    recipe = parse_recipe(r)
    ds._init_worker(*ds._worker_args(recipe))
    rr = recipe.render
    renderer = KitRenderer(rr.render_rate, rr.sample_rate, rr.hold_s, rr.tail_s)

    def rms(x):
        return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))

    gains = []
    for track in [t for t in plan(recipe) if t.perf.split != "test" and not t.unseen][:3]:
        notes = snap_notes(track.perf.load()[0], rr.render_rate)
        cymbals = [n for n in notes if n.pitch in ds.CYMBAL_NOTES]
        rest = [n for n in notes if n.pitch not in ds.CYMBAL_NOTES]
        if not (cymbals and rest):
            continue
        params = ds.production_params(track, recipe.production, ds.cymbal_kits(recipe))
        donor, vc = params["cymbal_kit"], params["velocity_curve"]
        seconds = max(n.start for n in notes) + rr.tail_s
        theirs = renderer.render(KITS[donor], cymbals, duration=seconds, velocity_curve=vc)
        own = renderer.render(KITS[track.kit], cymbals, duration=seconds, velocity_curve=vc)
        shells = renderer.render(KITS[track.kit], rest, duration=seconds, velocity_curve=vc)
        gain = rms(own) / rms(theirs)
        gains.append(gain)
        want = gain * theirs + shells
        y = ds._song_audio(track, notes, rr, recipe.production, None)
        scale = np.dot(y, want) / np.dot(want, want)  # the chain's final level scales the sum
        assert np.abs(y - scale * want).max() < 1e-3 * np.abs(y).max()
        plain = ds._song_audio(track, notes, rr, replace(recipe.production, cymbal_kit_level_match=False), None)
        want = theirs + shells
        assert np.abs(plain - (np.dot(plain, want) / np.dot(want, want)) * want).max() < 1e-3 * np.abs(plain).max()
    assert gains and any(abs(20 * np.log10(g)) > 1 for g in gains)  # the match moved a level
    with pytest.raises(prod.ProductionError, match="cymbal_kit_level_match must be true or false"):
        prod.ProductionConfig.from_config({"cymbal_kit_level_match": "yes"})


@pytest.mark.skipif(not SAMPLED, reason="Hydrogen kits not installed")
def test_a_hybrid_kits_sampled_drums_choose_their_samples_as_on_the_whole_kit():
    """A sampled kit picks its layers and alternates from a seed of the notes it plays: rendering
    the drums without the cymbals used to pick other samples (a second change in the hybrid
    track); seeded with the whole performance, the two parts sum to the whole kit's render."""
    from drumtx.synth import dataset as ds
    from drumtx.synth.render import snap_notes

    recipe = parse_recipe(songs_recipe(Path("unused"), n=4, accompaniment=None))
    ds._init_worker(*ds._worker_args(recipe))
    kit = KITS[SAMPLED[0]]
    track = next(t for t in plan(recipe) if t.drums)
    notes = snap_notes(track.perf.load()[0], recipe.render.render_rate)
    cymbals = [n for n in notes if n.pitch in ds.CYMBAL_NOTES]
    rest = [n for n in notes if n.pitch not in ds.CYMBAL_NOTES]
    assert cymbals and rest
    seconds = max(n.start for n in notes) + recipe.render.tail_s
    whole = ds._drum_audio(kit, notes, 0.7, seconds)
    parts = ds._drum_audio(kit, rest, 0.7, seconds, notes) + ds._drum_audio(kit, cymbals, 0.7, seconds, notes)
    assert np.abs(whole - parts).max() < 1e-5 * np.abs(whole).max()


@fonts_missing
def test_reuse_links_only_the_tracks_whose_cymbals_come_from_the_same_kit(tmp_path):
    """A plain folder lends a hybrid recipe its tracks that drew no cymbal kit (the share itself
    is compared per track); a track whose cymbal kit differs (here: its kit is held out in the
    new recipe) is rendered, never linked with another kit's cymbals."""
    from drumtx.synth.dataset import cymbal_kit, cymbal_kits

    off = {"room_prob": 0.0, "codec_prob": 0.0}
    kw = {"accompaniment": None, "train_kits": TRAIN}
    plain = songs_recipe(tmp_path / "plain", n=6, production=off, **kw)
    build_dataset(plain, workers=1, progress=False, splits=["train"])
    hybrid = songs_recipe(tmp_path / "hybrid", n=6, production={**off, "cymbal_kit_prob": 0.5}, **kw)
    summary = build_dataset(hybrid, workers=1, progress=False, splits=["train"], reuse=str(tmp_path / "plain"))
    recipe = parse_recipe(hybrid)
    train = [t for t in plan(recipe) if t.perf.split == "train"]
    drawn = [cymbal_kit(t, recipe.production, cymbal_kits(recipe)) for t in train]
    assert summary["linked"] == drawn.count(None) > 0 and summary["failed"] == 0
    assert summary["not_linked"] == {"kit_differs_there": len(drawn) - drawn.count(None)} != {}
    fresh = songs_recipe(tmp_path / "fresh", n=6, production={**off, "cymbal_kit_prob": 0.5}, **kw)
    build_dataset(fresh, workers=1, progress=False, splits=["train"])
    assert digest(tmp_path / "hybrid") == digest(tmp_path / "fresh")  # linked or rendered, the same bytes
    if len(TRAIN) == 2:  # the lender's cymbal kit held out here: those tracks are not linked
        every = songs_recipe(tmp_path / "every", n=6, production={**off, "cymbal_kit_prob": 1.0}, **kw)
        build_dataset(every, workers=1, progress=False, splits=["train"])
        held = songs_recipe(tmp_path / "held", n=6, production={**off, "cymbal_kit_prob": 1.0},
                            heldout_kits=[TRAIN[1]], **kw)
        summary = build_dataset(held, workers=1, progress=False, splits=["train"], reuse=str(tmp_path / "every"))
        assert summary["linked"] == 0  # each track's only other kit is held out: no cymbal kit any more
    # the same cymbal kits at the drawn kit's level (the lender) and matched to the own kit's: the
    # tracks drawn no cymbal kit are linked, the others rendered
    matched = songs_recipe(tmp_path / "matched", n=6, production={**off, "cymbal_kit_prob": 0.5,
                                                                   "cymbal_kit_level_match": True}, **kw)
    summary = build_dataset(matched, workers=1, progress=False, splits=["train"], reuse=str(tmp_path / "hybrid"))
    assert summary["linked"] == drawn.count(None)
    assert summary["not_linked"] == {"kit_differs_there": len(drawn) - drawn.count(None)}


def test_reuse_links_only_the_tracks_that_ring_alike(tmp_path):
    """A plain folder lends a ringing recipe its tracks that drew no ring; the ringing ones are
    rendered, and the result is byte for byte a fresh render's."""
    from drumtx.synth.dataset import cymbal_ring

    off = {"room_prob": 0.0, "codec_prob": 0.0}
    kw = {"accompaniment": None, "train_kits": TRAIN}
    plain = songs_recipe(tmp_path / "plain", n=8, production=off, **kw)
    build_dataset(plain, workers=1, progress=False, splits=["train"])
    ring = songs_recipe(tmp_path / "ring", n=8, production={**off, "cymbal_ring_prob": 0.7}, **kw)
    summary = build_dataset(ring, workers=1, progress=False, splits=["train"], reuse=str(tmp_path / "plain"))
    recipe = parse_recipe(ring)
    drawn = [cymbal_ring(t, recipe.production) for t in plan(recipe) if t.perf.split == "train"]
    assert summary["linked"] == drawn.count(None) > 0 and summary["failed"] == 0
    assert summary["not_linked"] == {"kit_differs_there": len(drawn) - drawn.count(None)} != {}
    fresh = songs_recipe(tmp_path / "fresh", n=8, production={**off, "cymbal_ring_prob": 0.7}, **kw)
    build_dataset(fresh, workers=1, progress=False, splits=["train"])
    assert digest(tmp_path / "ring") == digest(tmp_path / "fresh")


def test_synth_sampled_is_synth_songs_hydrogen_kits_drum_only_with_rung_b_as_its_test(tmp_path):
    """data=synth_sampled (what the GPU machine rendered, experiments/gpu_design_encoder) keeps
    synth_songs' Hydrogen training kits and chain, no music, and rung (b)'s kits as its only test
    kits: if synth_songs' kit lists change, this config must follow."""
    songs, sampled = (compose_config("synth", [f"data={name}"]).data for name in ("synth_songs", "synth_sampled"))
    assert list(sampled.synth.train_kits) == [k for k in songs.synth.train_kits if k.startswith("h2_")]
    assert list(sampled.synth.test_kits.sampled) == list(songs.synth.test_kits.sampled)
    assert not sampled.synth.test_kits.soundfont and sampled.synth.accompaniment is None
    assert sampled.synth.production == songs.synth.production
    if not all(KITS[k].available for k in sampled.synth.train_kits + sampled.synth.test_kits.sampled):
        pytest.skip("Hydrogen kits not installed")
    sampled.synth.sources = {"generated": {"_target_": "drumtx.synth.sources.GeneratorSource", "n": 20,
                                           "seconds": [3, 4], "split": {"validation": 0.25, "test": 0.25}}}
    sampled.root = str(tmp_path)
    tracks = plan(parse_recipe(sampled))
    assert tracks and not any(t.music or not t.drums for t in tracks)
    assert {t.kit for t in tracks if t.perf.split == "test"} <= set(songs.synth.test_kits.sampled)
    assert all(t.unseen for t in tracks if t.perf.split == "test")
    assert {t.kit for t in tracks if t.perf.split != "test"} <= set(sampled.synth.train_kits)
