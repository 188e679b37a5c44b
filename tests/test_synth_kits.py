"""Kit tables (conf/kits): every Roland note mapped, every mapped note sounds, classes distinct."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from drumtx.synth.kits import (
    ROLAND_NOTES,
    KitError,
    csv_kit_name,
    is_unseen_kit,
    load_kits,
    select_kits,
)
from drumtx.synth.render import KitRenderer, Note, snap_notes
from drumtx.vocab import NOTE_MAPS

KITS = load_kits()
AVAILABLE = [k for k in KITS.values() if k.available]

# Notes of different default classes that a kit must not play with (nearly) the same sound.
DISTINCT = [(42, 46), (51, 53), (38, 40), (48, 45), (45, 43), (48, 43), (49, 51), (42, 51), (36, 43)]


@pytest.fixture(scope="module")
def renderer():
    r = KitRenderer()
    yield r
    r.close()


def test_tables_cover_every_font_and_roland_note():
    assert {k.family for k in KITS.values()} == {"fluidr3", "musescore", "timgm6mb", "avl", "hydrogen", "sfz", "electronic"}
    assert len(KITS) >= 20
    for kit in KITS.values():
        assert sorted(kit.notes) == sorted(ROLAND_NOTES), kit.name
        for kn in kit.notes.values():
            assert kn.keys and all(0 <= k <= 127 for k in kn.keys)
    # The AVL kits hold one preset at bank 0 and must sit on a melodic channel.
    for name in ("avl_black_pearl", "avl_red_zeppelin"):
        assert (KITS[name].bank, KITS[name].program) == (0, 0) and KITS[name].channel != 9
    # Edge notes a GM kit has no sample for are remapped to the drum they belong to.
    gm = KITS["fluidr3_standard"].notes
    assert gm[58].keys == gm[43].keys and gm[22].keys == gm[42].keys and gm[26].keys == gm[46].keys
    assert gm[55].keys == gm[49].keys and gm[52].keys == gm[57].keys


def test_bad_tables_fail_with_the_kit_named(tmp_path):
    (tmp_path / "maps.yaml").write_text("maps:\n  tiny: {36: 36}\n")
    (tmp_path / "font.yaml").write_text("soundfont: [/nowhere.sf2]\nmap: tiny\nkits:\n  broken: {program: 0}\n")
    # the table file named; only the side that is wrong ("unknown []" was noise)
    with pytest.raises(KitError, match=r"^\S+/font.yaml: kit broken: Roland notes not mapped to any key: \[22, "
                       r"26, .*\] \(each of the TD-17's 22 notes needs one\)$"):
        load_kits(tmp_path)
    (tmp_path / "maps.yaml").write_text("maps:\n  tiny: {36: 36}\n  nokick: {99: 36, kick: 36}\n")
    (tmp_path / "font.yaml").write_text("soundfont: [/nowhere.sf2]\nmap: nokick\nkits:\n  broken: {program: 0}\n")
    with pytest.raises(KitError, match=r"^\S+/font.yaml: kit broken: notes: invalid literal for int"):
        load_kits(tmp_path)
    (tmp_path / "font.yaml").write_text("soundfont: [/nowhere.sf2]\nmap: nope\nkits:\n  broken: {program: 0}\n")
    with pytest.raises(KitError, match="unknown map 'nope'"):
        load_kits(tmp_path)
    with pytest.raises(KitError, match="unknown kit 'no_such_kit'"):
        select_kits(KITS, ["no_such_kit"], "data.synth.train_kits")


def test_missing_sound_font_is_skipped_not_fatal():
    ghost = replace(KITS["fluidr3_standard"], name="ghost", soundfont_candidates=("/nowhere/x.sf2",))
    chosen, missing = select_kits({"ghost": ghost, **KITS}, ["ghost", "fluidr3_standard"], "test")
    assert missing[0] == "ghost" and "ghost" not in [k.name for k in chosen]
    assert len(chosen) + len(missing) == 2


def test_unseen_kit_names():
    assert csv_kit_name("avl_red_zeppelin", True) == "unseen:avl_red_zeppelin"
    assert is_unseen_kit("unseen:avl_red_zeppelin") and not is_unseen_kit("avl_red_zeppelin")


def _logmel(audio: np.ndarray) -> np.ndarray:
    import librosa

    audio = audio / max(1e-9, float(np.max(np.abs(audio))))
    mel = librosa.feature.melspectrogram(y=audio, sr=24000, n_fft=1024, hop_length=240, n_mels=64)
    return np.clip(librosa.power_to_db(mel, ref=1.0, top_db=None), -80, None)


TOMS = (48, 45, 43)


def _pitch_hz(audio: np.ndarray, sample_rate: int) -> float:
    """The strongest partial in 40-1000 Hz of the 0.4 s after the 0.1 s onset (Hann, 2^16-point FFT)."""
    x = audio[int(0.1 * sample_rate):int(0.5 * sample_rate)]
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x)), n=1 << 16))
    freqs = np.fft.rfftfreq(1 << 16, 1 / sample_rate)
    band = (freqs > 40) & (freqs < 1000)
    return float(freqs[band][np.argmax(spectrum[band])])


@pytest.mark.parametrize("kit", AVAILABLE, ids=[k.name for k in AVAILABLE])
def test_every_mapped_note_sounds_on_time_and_classes_differ(kit, renderer):
    at = 0.1
    sounds, audios = {}, {}
    for roland in ROLAND_NOTES:
        audio = renderer.render(kit, snap_notes([Note(at, at + 0.1, roland, 100)]), duration=0.6)
        peak = float(np.max(np.abs(audio)))
        assert peak > 1e-3, f"{kit.name}: Roland note {roland} ({NOTE_MAPS['roland_td17'][roland]}) is silent"
        # Latency compensation: the attack (10% of peak) lands on the label, less the kit's
        # measured residual offset (flux onsets come that much after the 10% point), within 2.5 ms.
        attack = np.argmax(np.abs(audio) >= 0.1 * peak) / renderer.sample_rate
        expected = at - (kit.offset_ms + kit.notes[roland].offset_ms) / 1000
        assert abs(attack - expected) < 0.0025, f"{kit.name}: note {roland} attack at {attack - expected:+.4f} s"
        sounds[roland] = _logmel(audio)
        audios[roland] = audio
    for a, b in DISTINCT:
        diff = float(np.mean(np.abs(sounds[a] - sounds[b])))
        if diff > 2.0:
            continue
        # Two toms differ in pitch above all: a drum machine's swept-sine toms a major third apart
        # (gen_e02's mid and floor, 3.9 semitones) differ by only 1.7 dB of mean log-mel, where
        # a drummer's toms are tuned 2-5 semitones apart. Two toms that share a sample or a pitch
        # still fail here (0 semitones).
        if a in TOMS and b in TOMS:
            gap = abs(12 * np.log2(_pitch_hz(audios[a], renderer.sample_rate) / _pitch_hz(audios[b], renderer.sample_rate)))
            if gap >= 2.0:
                continue
            pytest.fail(f"{kit.name}: toms {a} and {b} sound the same (mean log-mel difference {diff:.2f} dB, "
                        f"{gap:.1f} semitones apart)")
        pytest.fail(f"{kit.name}: notes {a} and {b} sound the same (mean log-mel difference {diff:.2f} dB)")


def test_pitch_shifted_high_tom_is_higher(renderer):
    """AVL kits have one rack tom; the high tom is it, bent up 5 semitones."""
    kit = KITS["avl_black_pearl"]
    if not kit.available:
        pytest.skip("AVL Black Pearl sound font not installed")

    def f0(roland):
        audio = renderer.render(kit, snap_notes([Note(0.05, 0.15, roland, 100)]), duration=0.6)
        spec = np.abs(np.fft.rfft(audio[:12000] * np.hanning(12000)))
        freqs = np.fft.rfftfreq(12000, 1 / 24000)
        band = (freqs > 40) & (freqs < 1000)
        return freqs[band][np.argmax(spec[band])]

    ratio = f0(48) / f0(45)
    assert 2 ** (3.5 / 12) < ratio < 2 ** (6.5 / 12), ratio


def test_latency_table_is_current(renderer):
    """conf/kits/latency.yaml still matches what this FluidSynth renders (re-measure one kit)."""
    from drumtx.synth.check import measure_latency

    kit = KITS["fluidr3_standard"]
    if not kit.available:
        pytest.skip("FluidR3 not installed")
    fresh = measure_latency(renderer, kit)
    assert fresh.keys() == kit.latency_ms.keys()
    for key, ms in fresh.items():
        assert abs(ms - kit.latency_ms[key]) <= 0.2, (key, ms, kit.latency_ms[key])


def test_a_kit_that_cannot_be_checked_or_measured_exits_1(monkeypatch, capsys):
    """Exit contract (drumtx.cli): a named kit skipped as not installed is an input that failed."""
    import drumtx.synth.kits.__main__ as kits_cli

    monkeypatch.setattr(kits_cli, "kit_problem", lambda kit: "sound font not installed (test)")
    name = next(iter(kits_cli.load_kits()))
    assert kits_cli.main(["--check-onsets", "--kits", name]) == 1
    assert f"{name}: not checked: sound font not installed (test)" in capsys.readouterr().out
    assert kits_cli.main(["--measure-latency", "--kits", name]) == 1
    assert f"# {name}: not measured" in capsys.readouterr().out
